import { describe, expect, it } from "vitest";
import type { CauseGroup, Cause, Joined } from "../ipc";
import { highlight } from "./highlight";
import {
  causeTypeCounts,
  failurePath,
  filterChoices,
  MAX_SCROLL_HEIGHT,
  PageCache,
  rowWindow,
  scrollTopFor,
  sourceNote,
  summarizeCauses,
} from "./results";

function group(cause: Cause, resourceType: string, file: string, count: number): CauseGroup {
  return {
    group: { cause, resourceType, file, count, exampleLineIds: [1], diagnostics: `${cause} text` },
    explanation: `${cause} means`,
    fix: `${cause} fix`,
  };
}

function joined(original: string | null, diagnostics: string[], resourceType = "Patient"): Joined {
  return {
    failure: {
      file: "Patient.ndjson",
      lineId: 3,
      resourceType,
      resourceId: "p1",
      statusCode: 400,
      diagnostics,
      cause: "other",
    },
    original,
    mismatch: false,
  };
}

const marked = (line: string, path: string | null): string =>
  highlight(line, path)
    .filter((s) => s.mark)
    .map((s) => s.text)
    .join("");

describe("cause summaries", () => {
  const groups = [
    group("unknown-property", "Patient", "a.ndjson", 3),
    group("bad-date", "Observation", "b.ndjson", 10),
    group("unknown-property", "Observation", "b.ndjson", 4),
    group("unknown-property", "Patient", "b.ndjson", 2),
  ];

  it("folds groups per cause, most frequent first, with counts per type", () => {
    const s = summarizeCauses(groups);
    expect(s.map((c) => [c.cause, c.count])).toEqual([
      ["bad-date", 10],
      ["unknown-property", 9],
    ]);
    expect(s[1]?.types).toEqual([
      { resourceType: "Patient", count: 5 },
      { resourceType: "Observation", count: 4 },
    ]);
    expect(s[1]?.files).toEqual(["a.ndjson", "b.ndjson"]);
    expect(s[1]?.label).toBe("Unknown element");
    expect(s[1]?.fix).toBe("unknown-property fix");
  });

  it("counts cause × type for the chart and lists filter choices", () => {
    expect(causeTypeCounts(groups).map((r) => `${r.cause}:${r.resourceType}=${r.count}`)).toEqual([
      "bad-date:Observation=10",
      "unknown-property:Patient=5",
      "unknown-property:Observation=4",
    ]);
    expect(filterChoices(groups)).toEqual({
      types: ["Observation", "Patient"],
      files: ["a.ndjson", "b.ndjson"],
    });
  });

  it("says how lineId was read", () => {
    expect(
      sourceNote({
        file: "a.ndjson",
        origin: "local",
        decision: { base: "one-based", oneBasedMatches: 12, zeroBasedMatches: 0, compared: 12 },
      }),
    ).toBe(
      "Original lines from the local file; lineId counts from 1 (12 of 12 failures with a type or id matched).",
    );
  });
});

describe("failurePath", () => {
  const patient = JSON.stringify({
    resourceType: "Patient",
    id: "p1",
    name: [{ family: "Doe", nickname: "J" }],
    birthDate: "1999-13-01",
    gender: "male",
  });

  it("finds an unknown property wherever it is", () => {
    const path = failurePath(joined(patient, ["Unrecognised property '@nickname'"]));
    expect(path).toBe("Patient.name[0].nickname");
    expect(marked(patient, path)).toBe('"nickname": "J"');
  });

  it("reads a FHIR path from the diagnostics", () => {
    expect(failurePath(joined(patient, ["Wrong type at Patient.gender: found a number"]))).toBe(
      "Patient.gender",
    );
    expect(
      failurePath(
        joined(patient, [
          "Profile http://hl7.org/fhir/StructureDefinition/Patient, Element 'Patient.active': minimum required = 1, but only found 0",
        ]),
      ),
    ).toBe("Patient.active");
  });

  it("finds a quoted bad value by its value", () => {
    const path = failurePath(
      joined(patient, ['Not a valid date/time: "1999-13-01" is not a FHIR date (month 13)']),
    );
    expect(path).toBe("Patient.birthDate");
    expect(marked(patient, path)).toBe('"birthDate": "1999-13-01"');
  });

  it("prefers the issue's own location when the failure carries one", () => {
    const row = joined(patient, ["anything"]);
    (row.failure as unknown as { location: string[] }).location = ["Patient.gender"];
    expect(failurePath(row)).toBe("Patient.gender");
  });

  it("names resourceType and id for HealthLake's own checks", () => {
    expect(
      failurePath(
        joined('{"resourceType":"Patient123","id":"x"}', [
          "1 validation error detected: Value 'Patient123' at 'resourceType' failed to satisfy constraint",
        ]),
      ),
    ).toBe("Patient123.resourceType");
    expect(
      failurePath(joined(patient, ["Value at 'resourceId' failed to satisfy constraint"])),
    ).toBe("Patient.id");
  });

  it("gives null when nothing points anywhere, and survives a line that is not JSON", () => {
    expect(failurePath(joined(patient, ["Invalid resource"]))).toBeNull();
    expect(failurePath(joined("{not json", ["Invalid JSON found in input file"]))).toBeNull();
    expect(failurePath(joined(null, ["Unrecognised property '@x'"]))).toBe("Patient.x");
  });
});

describe("rowWindow", () => {
  it("renders the rows in view plus overscan", () => {
    const w = rowWindow({
      scrollTop: 3200,
      viewport: 320,
      rowHeight: 32,
      total: 1000,
      overscan: 2,
    });
    expect(w).toEqual({ start: 98, end: 113, offset: 98 * 32, height: 32_000 });
  });

  it("scales the scroll range past the browser's height limit and reaches the last row", () => {
    const input = { viewport: 320, rowHeight: 32, total: 1_000_000, overscan: 0 };
    const top = rowWindow({ ...input, scrollTop: 0 });
    expect(top.height).toBe(MAX_SCROLL_HEIGHT);
    expect(top.start).toBe(0);
    const bottom = rowWindow({ ...input, scrollTop: MAX_SCROLL_HEIGHT - 320 });
    expect(bottom.end).toBe(1_000_000);
    expect(bottom.end - bottom.start).toBeLessThanOrEqual(11);
    // The last row ends exactly at the bottom of the viewport.
    expect(bottom.offset + (bottom.end - bottom.start) * 32).toBeCloseTo(MAX_SCROLL_HEIGHT, 5);
    const middle = rowWindow({ ...input, scrollTop: (MAX_SCROLL_HEIGHT - 320) / 2 });
    expect(Math.abs(middle.start - 500_000)).toBeLessThan(10);
  });

  it("scrolls just enough to reveal a row, scaled or not", () => {
    const input = { scrollTop: 0, viewport: 320, rowHeight: 32, total: 1000 };
    expect(scrollTopFor(5, input)).toBe(0);
    expect(scrollTopFor(10, input)).toBe(32);
    expect(scrollTopFor(2, { ...input, scrollTop: 320 })).toBe(64);
    const big = { ...input, total: 1_000_000 };
    const top = scrollTopFor(999_999, big);
    const w = rowWindow({ ...big, scrollTop: top, overscan: 0 });
    expect(w.end).toBe(1_000_000);
  });
});

describe("PageCache", () => {
  it("fetches each page once, reads rows by index and keeps a bounded number of pages", async () => {
    const asked: number[] = [];
    let changes = 0;
    const cache = new PageCache<number>(
      async (offset, limit) => {
        asked.push(offset);
        return {
          total: 1_000_000,
          rows: Array.from({ length: limit }, (_, i) => offset + i),
        };
      },
      () => (changes += 1),
      100,
      3,
    );
    await Promise.all([cache.ensure(0, 50), cache.ensure(10, 60)]);
    expect(asked).toEqual([0]);
    expect(cache.total).toBe(1_000_000);
    expect(cache.get(42)).toBe(42);
    expect(cache.get(150)).toBeUndefined();
    await cache.ensure(150, 260);
    expect(asked).toEqual([0, 100, 200]);
    await cache.ensure(999_950, 1_000_000);
    expect(cache.size).toBeLessThanOrEqual(3);
    expect(cache.get(999_999)).toBe(999_999);
    expect(changes).toBe(4);
  });

  it("drops the answers of a disposed cache", async () => {
    let release: () => void = () => {};
    let changes = 0;
    const cache = new PageCache<number>(
      () =>
        new Promise((resolve) => {
          release = () => resolve({ total: 1, rows: [1] });
        }),
      () => (changes += 1),
    );
    const pending = cache.ensure(0, 1);
    cache.dispose();
    release();
    await pending;
    expect(changes).toBe(0);
    expect(cache.get(0)).toBeUndefined();
  });
});
