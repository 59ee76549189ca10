// The only gateway between the UI and the Tauri backend. Nothing outside src/ipc/ may
// import @tauri-apps/* (checked by architecture.test.ts and ESLint); everything else
// calls these functions, which return a value or throw a LakedropError.
import { Channel } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import type {
  Connection,
  ImportProgress,
  ImportRequest,
  ImportStarted,
  Job,
  JobResult,
  ValidateProgress,
  ValidationReport,
} from "./bindings";
import { toLakedropError } from "./errors";

export type * from "./bindings";
export { LakedropError, describeError, isErrorCode, toLakedropError } from "./errors";
export type { ErrorSentence } from "./errors";
export { onFileDrop, pickFiles, pickFolder } from "./files";
export type { FileDropHandlers } from "./files";

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
export function connection(): Promise<Connection> {
  return unwrap(() => commands.connection());
}

/** Paths given on the command line ("Open with"); treated as dropped at startup. */
export function initialPaths(): Promise<string[]> {
  return plain(() => commands.initialPaths());
}

/** Validates files and folders locally; never uploads anything. Cancel with `cancel(opId)`. */
export function validateFiles(
  opId: string,
  paths: string[],
  onProgress: (progress: ValidateProgress) => void,
): Promise<ValidationReport> {
  return unwrap(() => commands.validateFiles(opId, paths, channel(onProgress)));
}

/** One line (1-based) of a local file, to show an issue beside its resource; null past the end. */
export function lineText(path: string, line: number): Promise<string | null> {
  return unwrap(() => commands.lineText(path, line));
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
