// One import at a time: validate again, upload, submit. The view only renders this state.
import * as ipc from "../ipc";
import type { FileReport, ImportStarted, LakedropError, Level } from "../ipc";
import { baseName, formatBytes, formatPercent } from "../model/format";
import { announce } from "./announcer.svelte";
import { checked } from "./files.svelte";
import { go, nav } from "./navigation.svelte";
import { notifyIfAway } from "./notify";
import { jobSubmitted } from "./watcher.svelte";

export type ImportPhase =
  "idle" | "validating" | "uploading" | "submitting" | "submitted" | "failed" | "cancelled";

export interface LastImport {
  started: ImportStarted;
  /** The validation report the import started from, to explain skipped files. */
  files: FileReport[];
  /** How it was asked for, so that "Import them again" asks the same way. */
  options: ImportOptions;
}

export interface UploadState {
  file: string;
  bytesDone: number;
  bytesTotal: number;
  partsDone: number;
  partsTotal: number;
  /** When the upload started (ms), and how many bytes were already done then (a resumed upload). */
  startedAt: number;
  bytesAtStart: number;
}

interface Importer {
  phase: ImportPhase;
  opId: string | null;
  /** How far the check before upload has come, over the batch. */
  check: { bytesDone: number; bytesTotal: number } | null;
  upload: UploadState | null;
  error: LakedropError | null;
  cancelling: boolean;
  last: LastImport | null;
}

function idle(): Importer {
  return {
    phase: "idle",
    opId: null,
    check: null,
    upload: null,
    error: null,
    cancelling: false,
    last: null,
  };
}

export const importer = $state<Importer>(idle());

let lastQuarter = -1;

function onProgress(p: ipc.ImportProgress): void {
  switch (p.event) {
    case "validating":
      if (importer.phase !== "validating") announce("Checking files again before upload…");
      importer.phase = "validating";
      importer.check = { bytesDone: p.bytesDone, bytesTotal: p.bytesTotal };
      break;
    case "uploading": {
      const firstOfFile = importer.upload?.file !== p.file;
      importer.phase = "uploading";
      importer.check = null;
      const previous = importer.upload;
      importer.upload = {
        file: p.file,
        bytesDone: p.bytesDone,
        bytesTotal: p.bytesTotal,
        partsDone: p.partsDone,
        partsTotal: p.partsTotal,
        startedAt: previous?.startedAt ?? Date.now(),
        bytesAtStart: previous?.bytesAtStart ?? p.bytesDone,
      };
      const quarter = p.bytesTotal > 0 ? Math.floor((p.bytesDone / p.bytesTotal) * 4) : 0;
      if (firstOfFile || quarter !== lastQuarter) {
        lastQuarter = quarter;
        announce(`Uploading ${baseName(p.file)}, ${formatPercent(p.bytesDone, p.bytesTotal)}`);
      }
      break;
    }
    case "submitting":
      importer.phase = "submitting";
      importer.upload = null;
      announce("Upload finished. Starting the HealthLake import job…");
      break;
    case "submitted":
      importer.phase = "submitted";
      break;
  }
}

export interface ImportOptions {
  jobName: string | null;
  level: Level;
  /**
   * Import files already imported to this data store once more. Without it the backend follows
   * the job that imported them (`alreadyStarted`) instead of uploading them and starting another.
   */
  again?: boolean;
}

export async function startImport(
  files: FileReport[],
  options: ImportOptions = { jobName: null, level: "structure-only" },
): Promise<void> {
  if (importer.opId !== null) return;
  const opId = ipc.newOperationId();
  Object.assign(importer, {
    phase: "validating",
    opId,
    check: null,
    upload: null,
    error: null,
    cancelling: false,
  });
  lastQuarter = -1;
  go({ name: "import" });
  const startedAt = Date.now();
  try {
    const started = await ipc.startImport(
      opId,
      {
        paths: files.map((f) => f.path),
        jobName: options.jobName,
        validationLevel: options.level,
        again: options.again ?? false,
        keepBundles: checked.keepBundles,
      },
      onProgress,
    );
    importer.phase = "submitted";
    importer.last = { started, files, options };
    const jobIds = (started.jobs ?? []).map((j) => j.jobId);
    if (started.alreadyStarted) {
      // Nothing was uploaded and no job started, so there is no upload to notify about, and the
      // job is an old one the watcher lists already: it is followed like any other.
      announce(
        `These files were already imported by job ${started.jobId}, so nothing was uploaded again.`,
      );
    } else {
      announce(
        jobIds.length > 1
          ? `Import started as ${jobIds.length} jobs, run one after the other.`
          : `Import job ${started.jobId} started.`,
      );
      notifyIfAway({ kind: "upload", files: started.filesUploaded, jobStarted: true }, startedAt);
      for (const job of started.jobs ?? []) if (!job.alreadyStarted) jobSubmitted(job.jobId);
      if (!started.jobs?.length) jobSubmitted(started.jobId);
    }
    // The job's view follows the upload's (an import of several jobs is followed as one); a person
    // who went to look elsewhere stays there, and finds the job in the status area.
    if (nav.view.name === "import")
      go(jobIds.length > 1 ? { name: "jobGroup", jobIds } : { name: "job", jobId: started.jobId });
  } catch (e) {
    const error = ipc.toLakedropError(e);
    importer.phase = error.code === "cancelled" ? "cancelled" : "failed";
    importer.error = error;
    announce(error.code === "cancelled" ? "Import cancelled." : `Import failed. ${error.what}`);
    if (error.code !== "cancelled")
      notifyIfAway({ kind: "upload", files: files.length, jobStarted: false }, startedAt);
  } finally {
    importer.opId = null;
    importer.cancelling = false;
  }
}

/**
 * Imports the files of the last import once more, on purpose, asked for the same way: used when
 * they had been imported before and the backend followed that job instead.
 */
export async function importAgain(): Promise<void> {
  const last = importer.last;
  if (last === null) return;
  await startImport(last.files, { ...last.options, again: true });
}

export async function cancelImport(): Promise<void> {
  const opId = importer.opId;
  if (opId === null || importer.cancelling) return;
  importer.cancelling = true;
  announce("Cancelling…");
  try {
    await ipc.cancel(opId);
  } catch (e) {
    importer.cancelling = false;
    importer.error = ipc.toLakedropError(e);
  }
}

export function uploadText(u: { bytesDone: number; bytesTotal: number }): string {
  return `${formatBytes(u.bytesDone)} of ${formatBytes(u.bytesTotal)}`;
}

/** "12.5 MB/s · about 2 min left · part 3 of 12", from the bytes sent since the upload started. */
export function uploadRateText(u: UploadState, now: number): string {
  const seconds = (now - u.startedAt) / 1000;
  const sent = u.bytesDone - u.bytesAtStart;
  const parts: string[] = [];
  if (seconds >= 1 && sent > 0) {
    const rate = sent / seconds;
    parts.push(`${formatBytes(rate)}/s`);
    const left = (u.bytesTotal - u.bytesDone) / rate;
    if (left >= 1)
      parts.push(
        left < 90 ? `about ${Math.ceil(left)} s left` : `about ${Math.ceil(left / 60)} min left`,
      );
  }
  if (u.partsTotal > 1) parts.push(`part ${u.partsDone} of ${u.partsTotal} of this file`);
  return parts.join(" · ");
}

/** For tests. */
export function resetImporter(): void {
  Object.assign(importer, idle());
}
