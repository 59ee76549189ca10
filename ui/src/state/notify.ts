// Desktop notifications for long work that ends while the person looks elsewhere. The words are
// made in Rust from what is sent here (counts and statuses, never names).
import * as ipc from "../ipc";
import type { Finished } from "../ipc";

/** Work shorter than this ends while the person still watches: no notification. */
export const NOTIFY_AFTER_MS = 5_000;

/** Notifies that `finished` ended, if it took long enough and the window is not in front. */
export function notifyIfAway(finished: Finished, startedAt: number, now = Date.now()): void {
  if (document.hasFocus() || now - startedAt < NOTIFY_AFTER_MS) return;
  void ipc.notifyFinished(finished).catch(() => false);
}

/** Notifies that a job ended, whether or not the window is in front (unless `onlyIfAway`). */
export function notifyJobEnded(job: { jobId: string; status: string }, onlyIfAway = false): void {
  if (onlyIfAway && document.hasFocus()) return;
  void ipc.notifyFinished({ kind: "job", jobId: job.jobId, status: job.status }).catch(() => false);
}
