// Follows every import job of the connection: lists them now and then (often while one runs,
// rarely when none does, backing off after errors such as throttling), and tells the person
// when a job ends, in the window and as a desktop notification, unless they are looking at
// that job's view, which says so itself.
import * as ipc from "../ipc";
import type { Job, LakedropError } from "../ipc";
import { isTerminal, newlyEnded, statusLabel } from "../model/jobs";
import { announce } from "./announcer.svelte";
import { notifyJobEnded } from "./notify";
import { nav } from "./navigation.svelte";

export const ACTIVE_POLL_MS = 3_000;
export const IDLE_POLL_MS = 30_000;
export const MAX_BACKOFF_MS = 120_000;

export const watcher = $state<{
  jobs: Job[] | null;
  error: LakedropError | null;
  /** Jobs that ended while the app was open, newest first, until dismissed. */
  ended: Job[];
  loading: boolean;
}>({ jobs: null, error: null, ended: [], loading: false });

let timer: ReturnType<typeof setTimeout> | null = null;
/** Jobs submitted from this window and not yet seen ended: a fast job may end before it is first listed. */
// eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
const submitted = new Set<string>();
let failures = 0;
let running = false;

/** Lists the jobs once; returns the delay until the next listing. */
export async function refresh(): Promise<number> {
  watcher.loading = true;
  try {
    const jobs = await ipc.listJobs();
    const ended = watcher.jobs ? newlyEnded(watcher.jobs, jobs) : [];
    for (const job of jobs) {
      if (submitted.has(job.jobId) && isTerminal(job.status)) {
        submitted.delete(job.jobId);
        if (!ended.some((j) => j.jobId === job.jobId)) ended.push(job);
      }
    }
    watcher.jobs = jobs;
    watcher.error = null;
    failures = 0;
    for (const job of ended) {
      if (inView(job.jobId)) {
        // The job's own view shows and announces its end; a second message would talk over it.
        // Only a person in another window still needs the desktop notification.
        notifyJobEnded(job, true);
        continue;
      }
      watcher.ended = [job, ...watcher.ended.filter((j) => j.jobId !== job.jobId)];
      announce(`Import job ${job.jobName ?? job.jobId} ${statusLabel(job.status).toLowerCase()}.`);
      notifyJobEnded(job);
    }
    return jobs.some((j) => !isTerminal(j.status)) ? ACTIVE_POLL_MS : IDLE_POLL_MS;
  } catch (e) {
    watcher.error = ipc.toLakedropError(e);
    failures += 1;
    return Math.min(ACTIVE_POLL_MS * 2 ** failures, MAX_BACKOFF_MS);
  } finally {
    watcher.loading = false;
  }
}

/** Whether the window shows this job's view now. */
function inView(jobId: string): boolean {
  const view = nav.view;
  return (
    (view.name === "job" && view.jobId === jobId) ||
    (view.name === "jobGroup" && view.jobIds.includes(jobId))
  );
}

function schedule(delay: number): void {
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    void refresh().then((next) => {
      if (running && timer === null) schedule(next);
    });
  }, delay);
}

/** Starts following jobs; returns the function that stops it. */
export function startWatching(): () => void {
  running = true;
  schedule(0);
  return () => {
    running = false;
    if (timer) clearTimeout(timer);
    timer = null;
  };
}

/** A job was just submitted here: list again soon, so it shows and is followed, and say when it ends. */
export function jobSubmitted(jobId: string): void {
  submitted.add(jobId);
  if (running) schedule(500);
}

/**
 * A view read `job` on its own (the job view polls its job): when the list has an older status for
 * it, list again now, so that the header and the ended banners agree with what the view shows.
 */
export function jobSeen(job: Job): void {
  const listed = watcher.jobs?.find((j) => j.jobId === job.jobId);
  if (running && listed && listed.status !== job.status) schedule(0);
}

export function dismissEnded(jobId: string): void {
  if (watcher.ended.some((j) => j.jobId === jobId)) {
    watcher.ended = watcher.ended.filter((j) => j.jobId !== jobId);
  }
}

/** For tests. */
export function resetWatcher(): void {
  running = false;
  if (timer) clearTimeout(timer);
  timer = null;
  failures = 0;
  submitted.clear();
  Object.assign(watcher, { jobs: null, error: null, ended: [], loading: false });
}
