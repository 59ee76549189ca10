// The only gateway between the UI and the Tauri backend. Nothing outside src/ipc/ may
// import @tauri-apps/* (checked by architecture.test.ts and ESLint); everything else
// calls these functions, which return a value or throw a LakedropError.
import { Channel } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import type {
  BucketChoice,
  Check,
  ResolvedDestination,
  ConnectionStatus,
  DatastoreChoice,
  Destination,
  Finished,
  ImportProgress,
  ImportRequest,
  ImportStarted,
  Job,
  ImportResult,
  JobResult,
  KeyChoice,
  Policies,
  ProfileChoice,
  SignInProgress,
  UploadsCleaned,
  ValidateProgress,
  ValidationReport,
} from "./bindings";
import { toLakedropError } from "./errors";

export type * from "./bindings";
export { LakedropError, describeError, isErrorCode, toLakedropError } from "./errors";
export type { ErrorSentence } from "./errors";
export { onFileDrop, onMenu, pickFiles, pickFolder } from "./files";
export type { FileDropHandlers, MenuChoice } from "./files";

// Structural, so that it matches what both the old and the new tauri-specta emit.
type CommandResult<T> = { status: "ok"; data: T } | { status: "error"; error: unknown };

async function unwrap<T>(call: () => Promise<CommandResult<T>>): Promise<T> {
  let result: CommandResult<T>;
  try {
    result = await call();
  } catch (e) {
    // The generated wrapper rethrows JS Errors (for example a failed serialization).
    throw toLakedropError(e);
  }
  if (result.status === "ok") return result.data;
  throw toLakedropError(result.error);
}

async function plain<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw toLakedropError(e);
  }
}

function channel<T>(onMessage: (message: T) => void): Channel<T> {
  const c = new Channel<T>();
  c.onmessage = onMessage;
  return c;
}

/** The destination imports go to. */
export function connection(): Promise<ResolvedDestination> {
  return unwrap(() => commands.connection());
}

/** Where the app is connected (sandbox or an AWS profile) and the destination, if chosen. */
export function connectionStatus(): Promise<ConnectionStatus> {
  return unwrap(() => commands.connectionStatus());
}

/** The AWS profiles in the user's config: names, kinds and Regions, never credentials. */
export function profiles(): Promise<ProfileChoice[]> {
  return plain(() => commands.profiles());
}

/**
 * Connects to an AWS profile (and Region), or back to the sandbox with `profile` null. A profile
 * whose role asks for an MFA code fails with `mfa-required` until the code is given.
 */
export function useConnection(
  profile: string | null,
  region: string | null,
  mfaCode: string | null = null,
): Promise<ConnectionStatus> {
  return unwrap(() => commands.useConnection(profile, region, mfaCode));
}

/**
 * Signs in to IAM Identity Center for an SSO profile (the browser opens on AWS's page, which
 * should show the code passed to `onProgress`), then connects with it.
 */
export function ssoSignIn(
  opId: string,
  profile: string,
  region: string | null,
  onProgress: (progress: SignInProgress) => void,
): Promise<ConnectionStatus> {
  return unwrap(() => commands.ssoSignIn(opId, profile, region, channel(onProgress)));
}

export function datastores(): Promise<DatastoreChoice[]> {
  return unwrap(() => commands.datastores());
}

export function kmsKeys(): Promise<KeyChoice[]> {
  return unwrap(() => commands.kmsKeys());
}

export function buckets(): Promise<BucketChoice[]> {
  return unwrap(() => commands.buckets());
}

/** Sets where imports go; the role is remembered for the data store. */
export function setDestination(destination: Destination): Promise<ResolvedDestination> {
  return unwrap(() => commands.setDestination(destination));
}

/** The IAM role last used with a data store, if any. */
export function rememberedRole(datastoreId: string): Promise<string | null> {
  return plain(() => commands.rememberedRole(datastoreId));
}

/** Checks the AWS setup for importing `fileCount` files into the chosen destination. */
export function preflight(fileCount: number): Promise<Check[]> {
  return unwrap(() => commands.preflight(fileCount));
}

/** The role's trust and permissions policies (and the caller's PassRole), filled in, to copy. */
export function policies(): Promise<Policies> {
  return unwrap(() => commands.policies());
}

/** A desktop notification that long work ended; false when the desktop has no notification service. */
export function notifyFinished(finished: Finished): Promise<boolean> {
  return unwrap(() => commands.notifyFinished(finished));
}

/** Paths given on the command line ("Open with"); treated as dropped at startup. */
export function initialPaths(): Promise<string[]> {
  return plain(() => commands.initialPaths());
}

/** Validates files and folders locally; never uploads anything. Cancel with `cancel(opId)`. */
export function validateFiles(
  opId: string,
  paths: string[],
  keepBundles: boolean,
  onProgress: (progress: ValidateProgress) => void,
): Promise<ValidationReport> {
  return unwrap(() => commands.validateFiles(opId, paths, keepBundles, channel(onProgress)));
}

/** The bundled sample (10 synthetic patients), for a first import. */
export function samplePaths(): Promise<string[]> {
  return unwrap(() => commands.samplePaths());
}

/** One line (1-based) of a local file, to show an issue beside its resource; null past the end. */
export function lineText(path: string, line: number, keepBundles = false): Promise<string | null> {
  return unwrap(() => commands.lineText(path, line, keepBundles));
}

/**
 * Saves the lines of a file that HealthLake would reject where the person picks; null when the
 * save dialog was cancelled, else how many lines were saved.
 */
export function exportRejected(path: string): Promise<number | null> {
  return unwrap(() => commands.exportRejected(path));
}

/** A fresh operation id, so that a long-running command can be cancelled. */
export function newOperationId(): string {
  return crypto.randomUUID();
}

export function startImport(
  opId: string,
  request: ImportRequest,
  onProgress: (progress: ImportProgress) => void,
): Promise<ImportStarted> {
  return unwrap(() => commands.startImport(opId, request, channel(onProgress)));
}

export async function cancel(opId: string): Promise<void> {
  await plain(() => commands.cancel(opId));
}

/** Import jobs of the active data store, newest first. */
export function listJobs(): Promise<Job[]> {
  return unwrap(() => commands.listJobs());
}

export function jobResult(jobId: string): Promise<JobResult> {
  return unwrap(() => commands.jobResult(jobId));
}

/** The jobs of one import (more than 10,000 files), each with its manifest, and their sum. */
export function importResult(jobIds: string[]): Promise<ImportResult> {
  return unwrap(() => commands.importResult(jobIds));
}

/**
 * Aborts the multipart uploads Lakedrop started and abandoned (file changed or gone, or older than
 * a week), keeps interrupted uploads of unchanged files for their rerun and leaves others alone.
 */
export function cleanUploads(): Promise<UploadsCleaned> {
  return unwrap(() => commands.cleanUploads());
}

// Results of a finished job: its failures joined back to the source lines (issue 7).
import type { Cause, FailurePage, FailureSummary, Level, Retry } from "./bindings";

/**
 * The failures of a finished job, or of the jobs of one import together, grouped by cause (loaded
 * once by the backend, then from memory).
 */
export function failureSummary(jobIds: string[]): Promise<FailureSummary> {
  return unwrap(() => commands.failureSummary(jobIds));
}

/** One page of a job's failures (`limit` at most 500), filtered, each beside its original line. */
export function failureRows(
  jobIds: string[],
  offset: number,
  limit: number,
  filter: { cause?: Cause | null; resourceType?: string | null; file?: string | null } = {},
): Promise<FailurePage> {
  return unwrap(() =>
    commands.failureRows(
      jobIds,
      offset,
      Math.min(limit, 500),
      filter.cause ?? null,
      filter.resourceType ?? null,
      filter.file ?? null,
    ),
  );
}

/**
 * Saves the failed original lines (all, or one cause's) as NDJSON where the person picks in the
 * native save dialog; null when the dialog was cancelled, else how many lines were saved.
 */
export function exportFailures(jobIds: string[], cause: Cause | null): Promise<number | null> {
  return unwrap(() => commands.exportFailures(jobIds, cause));
}

/**
 * Imports only the failed lines again (all, or one cause's) as a new job linked to this one; with
 * a repair plan (its JSON text) or lines kept with `keepRepair`, only the repaired lines that pass.
 */
export function retryFailures(
  jobIds: string[],
  cause: Cause | null,
  level: Level | null = null,
  plan: string | null = null,
): Promise<Retry> {
  return unwrap(() => commands.retryFailures(jobIds, cause, level, plan));
}

// Fixing rejected lines (issue 18).
import type {
  ChangeRecordView,
  FileFix,
  KeptRepair,
  RepairPreview,
  ResourceCheck,
} from "./bindings";

/** Checks a resource as the editor holds it, as HealthLake would at `level`, with quick fixes. */
export function checkResource(text: string, level: Level | null = null): Promise<ResourceCheck> {
  return unwrap(() => commands.checkResource(text, level));
}

/**
 * Keeps a failed line repaired by hand (in memory, for the job's re-import of fixed lines), or
 * forgets the repair when `text` is null.
 */
export function keepRepair(
  jobIds: string[],
  file: string,
  lineId: number,
  text: string | null,
): Promise<KeptRepair> {
  return unwrap(() => commands.keepRepair(jobIds, file, lineId, text, null));
}

/** What a plan (with the repairs kept by hand) would do to a job's failed lines; nothing is sent. */
export function previewRepair(
  jobIds: string[],
  cause: Cause | null,
  plan: string,
): Promise<RepairPreview> {
  return unwrap(() => commands.previewRepair(jobIds, cause, plan, null));
}

/** The change record of a job that re-imported repaired lines. */
export function changeRecord(jobId: string): Promise<ChangeRecordView> {
  return unwrap(() => commands.changeRecord(jobId));
}

/** Saves a job's change record where the person picks (CSV, or NDJSON); null when cancelled. */
export function saveChangeRecord(jobId: string, csv: boolean): Promise<number | null> {
  return unwrap(() => commands.saveChangeRecord(jobId, csv));
}

/** Saves a repair plan where the person picks, for the CLI; the file's name, null when cancelled. */
export function saveRepairPlan(plan: string): Promise<string | null> {
  return unwrap(() => commands.saveRepairPlan(plan));
}

/**
 * Repairs a dropped or picked file before import, with a plan (JSON text, or null) and lines
 * repaired by hand: a preview (`save` false) or a fixed copy saved where the person picks.
 */
export function fixFile(
  path: string,
  plan: string | null,
  byHand: { line: number; text: string }[],
  save: boolean,
): Promise<FileFix> {
  return unwrap(() => commands.fixFile(path, plan, byHand, save, null));
}

/** Opens a repair plan the person picks; its JSON text, null when cancelled. */
export function openRepairPlan(): Promise<string | null> {
  return unwrap(() => commands.openRepairPlan());
}

// Reading imported resources back from the data store's FHIR API (issue 22).
import type { LookupAnswer, LookupPage, SampleReport } from "./bindings";

/**
 * Answers `Patient/123` (a read) or `Observation?subject=Patient/123` (the first page of a
 * search) on the chosen data store, or on `datastoreId`.
 */
export function fhirLookup(text: string, datastoreId: string | null = null): Promise<LookupAnswer> {
  return unwrap(() => commands.fhirLookup(text, datastoreId));
}

/** The next page of a look-up's search, by the link the previous page gave. */
export function fhirPage(url: string, datastoreId: string | null = null): Promise<LookupPage> {
  return unwrap(() => commands.fhirPage(url, datastoreId));
}

/** Reads back `perType` imported resources of each type of a finished job and compares them. */
export function verifySample(jobId: string, perType: number): Promise<SampleReport> {
  return unwrap(() => commands.verifySample(jobId, perType));
}
