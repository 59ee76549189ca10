// The files the person has dropped or picked, and their validation reports.
import { SvelteSet } from "svelte/reactivity";
import * as ipc from "../ipc";
import type { FileReport, LakedropError } from "../ipc";
import { formatBytes, plural } from "../model/format";
import { mergeReports, summaryText } from "../model/validation";
import { announce } from "./announcer.svelte";
import { notifyIfAway } from "./notify";

export interface CheckProgress {
  file: string | null;
  bytesDone: number;
  bytesTotal: number;
  linesDone: number;
}

export const checked = $state<{
  files: FileReport[];
  /** True while validateFiles runs. */
  checking: boolean;
  progress: CheckProgress | null;
  error: LakedropError | null;
  /** Whether native drops are being listened to (the e2e test waits for it). */
  dropReady: boolean;
  /** Something is being dragged over the window. */
  hovering: boolean;
  /** Bundles are imported whole, as Bundle resources, instead of as their entries (the default). */
  keepBundles: boolean;
}>({
  files: [],
  checking: false,
  progress: null,
  error: null,
  dropReady: false,
  hovering: false,
  keepBundles: false,
});

/** The files that hold Bundles (a Bundle file, or lines holding Bundles), by path, however they are imported. */
export const bundleFiles = new SvelteSet<string>();

/**
 * The files whose issue list is open, by path. Kept here rather than in the row, since a long list renders
 * only the rows near the view: a row scrolled away and back is a new component, and keeps what was open.
 */
export const openIssues = new SvelteSet<string>();

let pending: string[] = [];
let running: Promise<void> | null = null;
/** The operation id of the check that is running, so it can be cancelled. */
let currentOp: string | null = null;

/**
 * Validates the given paths and merges them into the list. Paths that arrive while a
 * check runs are queued and checked right after, so a second drop is never lost.
 */
export function addPaths(paths: string[]): Promise<void> {
  if (paths.length === 0) return running ?? Promise.resolve();
  pending.push(...paths);
  running ??= drain().finally(() => {
    running = null;
  });
  return running;
}

async function drain(): Promise<void> {
  while (pending.length > 0) {
    const batch = [...new Set(pending)];
    pending = [];
    await check(batch);
  }
}

async function check(paths: string[]): Promise<void> {
  checked.checking = true;
  checked.error = null;
  checked.progress = { file: null, bytesDone: 0, bytesTotal: 0, linesDone: 0 };
  announce(`Checking ${plural(paths.length, "item")}…`);
  const startedAt = Date.now();
  const opId = ipc.newOperationId();
  currentOp = opId;
  try {
    const report = await ipc.validateFiles(opId, paths, checked.keepBundles, (p) => {
      const progress = checked.progress;
      if (!progress) return;
      switch (p.event) {
        case "fileStarted":
          progress.file = p.path;
          break;
        case "progress":
          progress.bytesDone = p.bytesDone;
          progress.bytesTotal = p.bytesTotal;
          progress.linesDone = p.linesDone;
          break;
        case "fileDone":
          break;
      }
    });
    for (const f of report.files)
      if (f.content !== "ndjson" || (checked.keepBundles && bundleFiles.has(f.path)))
        bundleFiles.add(f.path);
    checked.files = mergeReports(checked.files, report);
    announce(`Check finished. ${summaryText(checked.files)}.`);
    notifyIfAway(
      {
        kind: "check",
        files: report.files.length,
        rejectedLines: Math.min(report.invalid, 2 ** 32 - 1),
      },
      startedAt,
    );
  } catch (e) {
    const error = ipc.toLakedropError(e);
    if (error.code === "cancelled") {
      announce("Check cancelled. Nothing was added.");
    } else {
      checked.error = error;
      announce(`Checking failed. ${error.what}`);
    }
  } finally {
    currentOp = null;
    checked.checking = false;
    checked.progress = null;
  }
}

/**
 * Imports Bundles whole (`keep`) or as their entries, and checks the files holding Bundles again, as they
 * will now be imported.
 */
export function setKeepBundles(keep: boolean): Promise<void> {
  if (checked.keepBundles === keep) return running ?? Promise.resolve();
  checked.keepBundles = keep;
  announce(keep ? "Bundles will be imported whole." : "Bundles will be imported as their entries.");
  return addPaths([...bundleFiles].filter((p) => checked.files.some((f) => f.path === p)));
}

/** Stops the running check; files waiting to be checked are dropped too. */
export async function cancelCheck(): Promise<void> {
  pending = [];
  if (currentOp) await ipc.cancel(currentOp);
}

export function clearFiles(): void {
  checked.files = [];
  openIssues.clear();
  bundleFiles.clear();
  checked.error = null;
  announce("File list cleared.");
}

/** Leaves one file out of the list (and so out of the import). */
export function removeFile(path: string): void {
  const file = checked.files.find((f) => f.path === path);
  checked.files = checked.files.filter((f) => f.path !== path);
  openIssues.delete(path);
  if (file) announce(`${file.name} left out of the import.`);
}

export function progressText(p: CheckProgress): string {
  if (p.bytesTotal <= 0) return "Starting…";
  return `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`;
}

/** For tests: back to an empty list. */
export function resetFiles(): void {
  pending = [];
  openIssues.clear();
  bundleFiles.clear();
  running = null;
  Object.assign(checked, {
    files: [],
    checking: false,
    progress: null,
    error: null,
    dropReady: false,
    hovering: false,
    keepBundles: false,
  });
}
