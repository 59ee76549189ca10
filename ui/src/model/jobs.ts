// HealthLake's JobStatus, as the UI classifies it.
import type { Job } from "../ipc";
import { formatCount, plural } from "./format";

export type JobStatusKind =
  "waiting" | "running" | "succeeded" | "partial" | "failed" | "cancelled";

interface StatusInfo {
  kind: JobStatusKind;
  label: string;
  terminal: boolean;
}

const STATUSES: Record<string, StatusInfo> = {
  SUBMITTED: { kind: "waiting", label: "Submitted", terminal: false },
  QUEUED: { kind: "waiting", label: "Queued", terminal: false },
  IN_PROGRESS: { kind: "running", label: "In progress", terminal: false },
  COMPLETED: { kind: "succeeded", label: "Completed", terminal: true },
  // A partial success: most resources are in; some lines were rejected. Never a failure.
  COMPLETED_WITH_ERRORS: { kind: "partial", label: "Completed with errors", terminal: true },
  FAILED: { kind: "failed", label: "Failed", terminal: true },
  CANCEL_SUBMITTED: { kind: "running", label: "Cancelling", terminal: false },
  CANCEL_IN_PROGRESS: { kind: "running", label: "Cancelling", terminal: false },
  CANCEL_COMPLETED: { kind: "cancelled", label: "Cancelled", terminal: true },
  CANCEL_FAILED: { kind: "failed", label: "Cancel failed", terminal: true },
};

function info(status: string): StatusInfo {
  // An unknown status is shown as it is and polled on: a newer service may add states.
  return STATUSES[status] ?? { kind: "running", label: status, terminal: false };
}

export function statusKind(status: string): JobStatusKind {
  return info(status).kind;
}

export function statusLabel(status: string): string {
  return info(status).label;
}

/** Whether the job will not change any more, so polling can stop. */
export function isTerminal(status: string): boolean {
  return info(status).terminal;
}

/** Completed, fully or partly: the manifest has numbers worth charting. */
export function isSuccess(status: string): boolean {
  const kind = info(status).kind;
  return kind === "succeeded" || kind === "partial";
}

/**
 * One status for the jobs of one import, run one after the other: the first unfinished job's while
 * any runs; once all have ended, completed only if every one completed, failed only if every one
 * failed, and otherwise completed with errors (some resources, not all, were imported).
 */
export function importStatus(statuses: readonly string[]): string {
  const running = statuses.find((s) => !isTerminal(s));
  if (running !== undefined) return running;
  if (statuses.every((s) => s === "COMPLETED")) return "COMPLETED";
  if (statuses.every((s) => !isSuccess(s))) return statuses[0] ?? "COMPLETED";
  return "COMPLETED_WITH_ERRORS";
}

export interface TimelineStep {
  label: string;
  state: "done" | "current" | "upcoming";
}

const ORDER = ["SUBMITTED", "QUEUED", "IN_PROGRESS"];

/** Submitted → Queued → In progress → (outcome), with where the job is now. */
export function timeline(status: string): TimelineStep[] {
  const terminal = isTerminal(status);
  const reached = terminal ? ORDER.length : Math.max(ORDER.indexOf(status), 0);
  const steps: TimelineStep[] = ORDER.map((s, i) => ({
    label: statusLabel(s),
    state: i < reached ? "done" : i === reached ? "current" : "upcoming",
  }));
  steps.push({
    label: terminal ? statusLabel(status) : "Finished",
    state: terminal ? "current" : "upcoming",
  });
  return steps;
}

/** Where a job stands, in words: "2 jobs ahead", "running: 4,120 of 7,160 resources", "about 3 min left". */
export function standing(job: Job, now: number): string {
  const parts: string[] = [];
  const kind = statusKind(job.status);
  if (kind === "waiting" && job.queuePosition !== null) {
    parts.push(
      job.queuePosition === 0 ? "next in line" : `${plural(job.queuePosition, "job")} ahead`,
    );
  }
  if (kind === "running" && job.progress) {
    const p = job.progress;
    parts.push(
      `${formatCount(p.resourcesImported)} imported of ${formatCount(p.resourcesScanned)} read` +
        (p.resourcesWithCustomerError > 0
          ? `, ${formatCount(p.resourcesWithCustomerError)} rejected`
          : ""),
    );
  }
  if (isSuccess(job.status) && job.progress) {
    const p = job.progress;
    parts.push(
      `${formatCount(p.resourcesImported)} imported` +
        (p.resourcesWithCustomerError > 0
          ? `, ${formatCount(p.resourcesWithCustomerError)} rejected`
          : ""),
    );
  }
  if (!isTerminal(job.status) && job.eta !== null) {
    const minutes = Math.max(1, Math.round((job.eta - now) / 60_000));
    parts.push(job.eta <= now ? "finishing" : `about ${plural(minutes, "min")} left`);
  }
  return parts.join(" · ");
}

/** The jobs that ended between two listings: were not terminal (or not listed) before, are now. */
export function newlyEnded(before: readonly Job[], after: readonly Job[]): Job[] {
  const was = new Map(before.map((j) => [j.jobId, j.status]));
  return after.filter((j) => {
    const previous = was.get(j.jobId);
    return previous !== undefined && !isTerminal(previous) && isTerminal(j.status);
  });
}

/** "Uploading · 2 jobs running, 1 waiting": what goes on in the background, or "" when nothing does. */
export function backgroundActivity(importPhase: string, jobs: readonly Job[]): string {
  const parts: string[] = [];
  if (importPhase === "validating" || importPhase === "uploading") parts.push("Uploading");
  if (importPhase === "submitting") parts.push("Starting a job");
  const running = jobs.filter((j) => statusKind(j.status) === "running").length;
  const waiting = jobs.filter((j) => statusKind(j.status) === "waiting").length;
  const jobsText = [
    running > 0 ? `${plural(running, "job")} running` : "",
    waiting > 0 ? `${formatCount(waiting)} waiting` : "",
  ].filter(Boolean);
  if (jobsText.length > 0) parts.push(jobsText.join(", "));
  return parts.join(" · ");
}
