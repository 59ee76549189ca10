// What a validation report means for the import: which files go, which are skipped,
// and the one-line summary the Files view shows.
import type { Code, FileReport, IssueGroup, SkipReason, ValidationReport } from "../ipc";
import { formatBytes, formatCount, plural } from "./format";

export type FileVerdict =
  /** Every line is a valid resource. */
  | { kind: "ready" }
  /** Uploaded; HealthLake will reject the invalid lines. */
  | { kind: "partial"; rejected: number }
  /** Not a FHIR file at all (e.g. a bulk-export log): skipped. */
  | { kind: "not-fhir" }
  /** FHIR, but no line is valid: skipped. */
  | { kind: "no-valid" };

export function fileVerdict(file: FileReport): FileVerdict {
  if (file.notFhir) return { kind: "not-fhir" };
  if (file.valid === 0) return { kind: "no-valid" };
  if (file.invalid > 0) return { kind: "partial", rejected: file.invalid };
  return { kind: "ready" };
}

export function verdictLabel(verdict: FileVerdict): string {
  switch (verdict.kind) {
    case "ready":
      return "Ready";
    case "partial":
      return `${plural(verdict.rejected, "line")} will be rejected`;
    case "not-fhir":
      return "Not FHIR — will be skipped";
    case "no-valid":
      return "No valid resources — will be skipped";
  }
}

/** What a file's issues point at: an entry of a Bundle file, else a line. */
export function placeNoun(file: FileReport): "Entry" | "Line" {
  return file.content === "bundle" ? "Entry" : "Line";
}

/**
 * What Lakedrop does to the file to import it, or null for plain NDJSON, which goes as it is:
 * "gzip: 1.2 MB on disk, 10.4 MB of NDJSON, decompressed as it is uploaded".
 */
export function inputNote(file: FileReport): string | null {
  const sizes = `${formatBytes(file.bytes)} on disk, ${formatBytes(file.ndjsonBytes)} of NDJSON`;
  const u = file.unbundled;
  if (file.content === "bundle" && u) {
    const kind = u.bundleType ? `${u.bundleType} Bundle` : "Bundle";
    const unresolved =
      u.unresolved > 0 ? `; ${plural(u.unresolved, "reference")} to no entry of the Bundle` : "";
    return (
      `${file.compressed ? "gzip " : ""}${kind}: ${plural(u.entries, "entry", "entries")} unbundled into ` +
      `${plural(u.resources, "resource")}, ${plural(u.rewritten, "reference")} between them ` +
      `rewritten to Type/id${unresolved} · ${sizes}, made as it is uploaded`
    );
  }
  if (file.content === "bundleKept") {
    return `${file.compressed ? "gzip " : ""}Bundle kept whole: imported as one Bundle resource, not as its entries · ${sizes}`;
  }
  if (file.content === "bundleLines" && u) {
    return (
      `${plural(u.bundles, "line")} ${u.bundles === 1 ? "holds a Bundle" : "hold Bundles"}, ` +
      `each imported as its entries (${plural(u.resources, "resource")}) · ${sizes}`
    );
  }
  if (file.compressed) return `gzip: ${sizes}, decompressed as it is uploaded`;
  return null;
}

/** The file will not go in whole: lines will be rejected, or it will be skipped. */
export function needsAttention(file: FileReport): boolean {
  return fileVerdict(file).kind !== "ready";
}

export function willUpload(file: FileReport): boolean {
  const kind = fileVerdict(file).kind;
  return kind === "ready" || kind === "partial";
}

export interface ValidationTotals {
  resources: number;
  readyFiles: number;
  rejectedLines: number;
  notFhirFiles: number;
  noValidFiles: number;
}

export function totals(files: readonly FileReport[]): ValidationTotals {
  const t: ValidationTotals = {
    resources: 0,
    readyFiles: 0,
    rejectedLines: 0,
    notFhirFiles: 0,
    noValidFiles: 0,
  };
  for (const file of files) {
    const verdict = fileVerdict(file);
    switch (verdict.kind) {
      case "ready":
      case "partial":
        t.resources += file.valid;
        t.readyFiles += 1;
        t.rejectedLines += file.invalid;
        break;
      case "not-fhir":
        t.notFhirFiles += 1;
        break;
      case "no-valid":
        t.noValidFiles += 1;
        break;
    }
  }
  return t;
}

/** "7,160 resources in 13 files ready to import · 1 file skipped (not FHIR)". */
export function summaryText(files: readonly FileReport[]): string {
  const t = totals(files);
  const parts: string[] = [];
  parts.push(
    t.readyFiles > 0
      ? `${plural(t.resources, "resource")} in ${plural(t.readyFiles, "file")} ready to import`
      : "No valid FHIR resources to import",
  );
  if (t.rejectedLines > 0) {
    parts.push(`${plural(t.rejectedLines, "line")} will be rejected`);
  }
  const skipped = t.notFhirFiles + t.noValidFiles;
  if (skipped > 0) {
    const reasons: string[] = [];
    if (t.notFhirFiles > 0) {
      reasons.push(t.noValidFiles > 0 ? `${formatCount(t.notFhirFiles)} not FHIR` : "not FHIR");
    }
    if (t.noValidFiles > 0) {
      reasons.push(
        t.notFhirFiles > 0
          ? `${formatCount(t.noValidFiles)} without valid resources`
          : "no valid resources",
      );
    }
    parts.push(`${plural(skipped, "file")} skipped (${reasons.join(", ")})`);
  }
  return parts.join(" · ");
}

/** Why the import button is disabled, or null when it is not. */
export function importBlocker(files: readonly FileReport[], busy: boolean): string | null {
  if (busy) return "Wait until the files have been checked.";
  if (files.length === 0) return "Add files first.";
  if (totals(files).readyFiles === 0) return "None of these files has a valid FHIR resource.";
  return null;
}

/**
 * Merges a new report into the files already checked: a file checked again replaces
 * its old row, in place; new files are appended in the order the backend returned them.
 */
export function mergeReports(
  existing: readonly FileReport[],
  incoming: ValidationReport,
): FileReport[] {
  const byPath = new Map(incoming.files.map((f) => [f.path, f]));
  const merged = existing.map((f) => {
    const replacement = byPath.get(f.path);
    if (replacement) byPath.delete(f.path);
    return replacement ?? f;
  });
  return [...merged, ...byPath.values()];
}

/**
 * "1,215 warnings" or "3 issues": counted from `byCode`, which is complete even when the example
 * list was cut; "warnings" when no line of the file is blocked.
 */
export function issueCountText(file: FileReport): string {
  const counts = Object.values(file.byCode) as number[];
  const total = counts.reduce((a, b) => a + b, 0);
  const blocked = file.invalid > 0 || file.notFhir;
  return plural(total, blocked ? "issue" : "warning");
}

/** Why a skipped file was not uploaded, for the job view. */
export function skipReason(reason: SkipReason): string {
  switch (reason) {
    case "not-fhir":
      return "not FHIR, not uploaded";
    case "no-valid-lines":
      return "no valid resources, not uploaded";
    case "compressed":
      return "gzip-compressed, not uploaded (by a version of Lakedrop that did not decompress files)";
  }
}

const CODE_LABELS: Record<Code, string> = {
  "invalid-json": "Invalid JSON",
  "not-an-object": "Not a JSON object",
  "blank-line": "Blank line",
  "byte-order-mark": "Byte-order mark",
  "invalid-utf8": "Not UTF-8",
  "line-too-long": "Line too long",
  "missing-resource-type": "No resourceType",
  "invalid-resource-type": "Malformed resourceType",
  "unknown-resource-type": "Unknown resource type",
  "missing-id": "No id",
  "invalid-id": "Malformed id",
  "duplicate-id": "Same id twice",
  "duplicate-key": "Duplicate key",
  "unknown-element": "Unknown element",
  "wrong-type": "Wrong JSON type",
  "invalid-value": "Invalid value",
  "missing-required": "Required element missing",
  cardinality: "Array or single value",
  "invalid-choice": "Choice type ([x]) problem",
  "type-mismatch-in-file": "Other type than the file name says",
  "not-fhir": "Not FHIR",
  "conditional-reference": "Conditional reference",
  "too-many-files": "Too many files",
  "unchecked-profile": "Profile not checked",
  invariant: "R4 rule broken",
};

/** A short, plain name for an issue code ("Invalid value" for invalid-value). */
export function codeLabel(code: Code): string {
  return CODE_LABELS[code];
}

/** "12 Patient lines" / "3 lines": how many lines a group covers. */
export function groupCountText(group: IssueGroup): string {
  return plural(group.count, group.resourceType ? `${group.resourceType} line` : "line");
}
