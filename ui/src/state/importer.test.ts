import { describe, expect, it } from "vitest";
import { uploadRateText } from "./importer.svelte";

describe("uploadRateText", () => {
  it("gives the rate of what was sent here, the time left and the part", () => {
    const u = {
      file: "Patient.ndjson",
      bytesDone: 60_000_000,
      bytesTotal: 100_000_000,
      partsDone: 6,
      partsTotal: 12,
      startedAt: 0,
      // A resumed upload: 20 MB were already in S3, so 40 MB went in 4 s.
      bytesAtStart: 20_000_000,
    };
    expect(uploadRateText(u, 4000)).toBe("10 MB/s · about 4 s left · part 6 of 12 of this file");
  });

  it("says nothing about rate before a second has passed", () => {
    const u = {
      file: "a",
      bytesDone: 1,
      bytesTotal: 2,
      partsDone: 0,
      partsTotal: 1,
      startedAt: 0,
      bytesAtStart: 0,
    };
    expect(uploadRateText(u, 500)).toBe("");
  });
});
