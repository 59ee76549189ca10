// Words for reading an import back: what a verification by sample found, per sample and in all.
import type { Outcome, SampleReport, UnmatchedSample } from "../ipc";
import { formatCount, plural } from "./format";

const OUTCOME: Record<Outcome, string> = {
  matched: "matches what was sent",
  differing: "differs from what was sent",
  missing: "is not in the data store",
  unverifiable: "has no source line to compare with",
};

export function outcomeText(outcome: Outcome): string {
  return OUTCOME[outcome];
}

/** One sentence for the whole sample: "All 208 sampled resources match what was sent." */
export function verifySummary(report: SampleReport): string {
  const sum = (key: "sampled" | "matched" | "differing" | "missing" | "unverifiable"): number =>
    report.types.reduce((n, t) => n + t[key], 0);
  const sampled = sum("sampled");
  if (sampled === 0) return "The job reported no imported resources to read back.";
  if (sum("matched") === sampled)
    return `All ${plural(sampled, "sampled resource")} match what was sent.`;
  const parts = [`${formatCount(sum("matched"))} match`];
  if (sum("differing") > 0) parts.push(`${formatCount(sum("differing"))} differ`);
  if (sum("missing") > 0) parts.push(`${formatCount(sum("missing"))} missing`);
  if (sum("unverifiable") > 0)
    parts.push(`${formatCount(sum("unverifiable"))} without a source line`);
  const last = parts.pop() ?? "";
  return `Of ${plural(sampled, "sampled resource")}, ${parts.length > 0 ? `${parts.join(", ")} and ${last}` : last}.`;
}

/** The element path to mark in both panes: the first difference, as the validator writes paths. */
export function differencePath(sample: UnmatchedSample): string | null {
  const first = sample.differences[0];
  return first ? `${sample.resourceType}.${first.path}` : null;
}
