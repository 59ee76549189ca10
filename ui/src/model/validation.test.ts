import { describe, expect, it } from "vitest";
import { fileReport, sampleReport } from "../test/fixtures";
import {
  fileVerdict,
  importBlocker,
  mergeReports,
  issueCountText,
  skipReason,
  summaryText,
  verdictLabel,
  willUpload,
} from "./validation";

describe("summaryText", () => {
  it("describes the Synthea sample with its log file", () => {
    expect(summaryText(sampleReport().files)).toBe(
      "7,160 resources in 13 files ready to import · 1 file skipped (not FHIR)",
    );
  });

  it("uses singulars and counts lines HealthLake will reject", () => {
    const files = [fileReport({ name: "Patient.ndjson", lines: 3, valid: 1, invalid: 2 })];
    expect(summaryText(files)).toBe(
      "1 resource in 1 file ready to import · 2 lines will be rejected",
    );
  });

  it("names both reasons when files are skipped for different reasons", () => {
    const files = [
      fileReport({ name: "a.ndjson", valid: 5, lines: 5 }),
      fileReport({ name: "log.ndjson", valid: 0, notFhir: true }),
      fileReport({ name: "broken.ndjson", valid: 0, invalid: 3, lines: 3 }),
    ];
    expect(summaryText(files)).toBe(
      "5 resources in 1 file ready to import · " +
        "2 files skipped (1 not FHIR, 1 without valid resources)",
    );
  });

  it("says plainly when nothing can be imported", () => {
    const files = [fileReport({ name: "log.ndjson", valid: 0, notFhir: true })];
    expect(summaryText(files)).toBe(
      "No valid FHIR resources to import · 1 file skipped (not FHIR)",
    );
  });
});

describe("file verdicts", () => {
  it("label each kind of file", () => {
    const label = (f: Parameters<typeof fileVerdict>[0]) => verdictLabel(fileVerdict(f));
    expect(label(fileReport({ name: "a" }))).toBe("Ready");
    expect(label(fileReport({ name: "b", valid: 8, invalid: 2 }))).toBe("2 lines will be rejected");
    expect(label(fileReport({ name: "c", valid: 0, notFhir: true }))).toBe(
      "Not FHIR — will be skipped",
    );
  });
});

describe("importBlocker", () => {
  it("blocks while checking, with no files, or with nothing valid", () => {
    const ok = sampleReport().files;
    expect(importBlocker(ok, true)).toMatch(/Wait/);
    expect(importBlocker([], false)).toMatch(/Add files/);
    expect(importBlocker([fileReport({ name: "x", valid: 0, notFhir: true })], false)).toMatch(
      /valid FHIR/,
    );
    expect(importBlocker(ok, false)).toBeNull();
  });
});

describe("mergeReports", () => {
  it("replaces a re-checked file in place and appends new ones", () => {
    const a = fileReport({ name: "a.ndjson" });
    const b = fileReport({ name: "b.ndjson" });
    const a2 = { ...a, valid: 3, invalid: 7 };
    const c = fileReport({ name: "c.ndjson" });
    const merged = mergeReports([a, b], { files: [c, a2], valid: 0, invalid: 0, issues: [] });
    expect(merged.map((f) => f.name)).toEqual(["a.ndjson", "b.ndjson", "c.ndjson"]);
    expect(merged[0]?.invalid).toBe(7);
  });
});

describe("issueCountText", () => {
  it("counts every issue from byCode, even past the listed examples", () => {
    const file = fileReport({
      name: "Encounter.000.ndjson",
      byCode: { "conditional-reference": 1215 },
      issuesTruncated: true,
    });
    expect(issueCountText(file)).toBe("1,215 warnings");
  });
  it("says issues when some line is blocked", () => {
    const file = fileReport({
      name: "x.ndjson",
      invalid: 2,
      byCode: { "missing-id": 2, "blank-line": 1 },
    });
    expect(issueCountText(file)).toBe("3 issues");
  });
});

describe("skipReason", () => {
  it("puts each reason the backend gives into words", () => {
    expect(skipReason("not-fhir")).toBe("not FHIR, not uploaded");
    expect(skipReason("no-valid-lines")).toBe("no valid resources, not uploaded");
  });
});

describe("compressed files", () => {
  it("are checked, then left out of the upload with what to do", () => {
    const gz = fileReport({ name: "Patient.ndjson.gz", compressed: true });
    expect(verdictLabel(fileVerdict(gz))).toBe("Compressed — decompress to import");
    expect(willUpload(gz)).toBe(false);
    expect(summaryText([fileReport({ name: "a.ndjson" }), gz])).toBe(
      "10 resources in 1 file ready to import · 1 file skipped (1 compressed: decompress to import)",
    );
  });
});
