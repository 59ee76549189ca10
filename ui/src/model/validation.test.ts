import { describe, expect, it } from "vitest";
import { fileReport, sampleReport } from "../test/fixtures";
import {
  fileVerdict,
  inputNote,
  placeNoun,
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

describe("compressed files and Bundles", () => {
  it("are ready to import, with what is done to them and their sizes both ways", () => {
    const gz = fileReport({
      name: "Patient.ndjson.gz",
      compressed: true,
      bytes: 1_200_000,
      ndjsonBytes: 10_400_000,
    });
    expect(verdictLabel(fileVerdict(gz))).toBe("Ready");
    expect(willUpload(gz)).toBe(true);
    expect(inputNote(gz)).toBe(
      "gzip: 1.2 MB on disk, 10.4 MB of NDJSON, decompressed as it is uploaded",
    );
    expect(summaryText([fileReport({ name: "a.ndjson" }), gz])).toBe(
      "20 resources in 2 files ready to import",
    );
    const bundle = fileReport({
      name: "patient.json",
      content: "bundle",
      bytes: 2_000_000,
      ndjsonBytes: 1_500_000,
      unbundled: {
        bundles: 1,
        bundleType: "transaction",
        entries: 812,
        resources: 812,
        rewritten: 1204,
        unresolved: 1,
        unresolvedExamples: [],
      },
    });
    expect(inputNote(bundle)).toBe(
      "transaction Bundle: 812 entries unbundled into 812 resources, 1,204 references between them " +
        "rewritten to Type/id; 1 reference to no entry of the Bundle · 2 MB on disk, 1.5 MB of NDJSON, " +
        "made as it is uploaded",
    );
    expect(placeNoun(bundle)).toBe("Entry");
    expect(placeNoun(gz)).toBe("Line");
    expect(inputNote(fileReport({ name: "a.ndjson" }))).toBeNull();
  });
});
