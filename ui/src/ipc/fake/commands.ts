// The generated `commands` object, answered by the in-memory World instead of Rust. The fake
// build (vite --mode fake) puts this module where ipc/index.ts and ipc/files.ts import
// ./bindings, so the UI above them is the production code, unchanged, and the compiler checks
// that every command is here with the generated signature.
import type { Channel } from "@tauri-apps/api/core";
import type { commands as generated, IpcError } from "../bindings";
import { BackendError, World, settingsFrom } from "./world";

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: IpcError };

export const world = new World(settingsFrom(globalThis.location?.search ?? ""));

/** Runs a world call the way typedError wraps a Tauri command: an `Err` becomes `{status: "error"}`. */
async function typed<T>(call: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return { status: "ok", data: await call() };
  } catch (e) {
    if (e instanceof BackendError) return { status: "error", error: e.error };
    throw e;
  }
}

/** A plain (infallible) command rejects with the message, as Tauri's invoke does. */
async function plain<T>(call: () => T | Promise<T>): Promise<T> {
  return call();
}

function send<T>(channel: Channel<T>): (message: T) => void {
  return (message) => channel.onmessage(message);
}

export const commands: typeof generated = {
  connection: () => typed(() => world.connection()),
  connectionStatus: () => typed(() => world.status()),
  profiles: () => plain(() => world.profiles()),
  useConnection: (profile, _region, mfaCode) => typed(() => world.useConnection(profile, mfaCode)),
  ssoSignIn: (opId, profile, _region, onProgress) =>
    typed(() => world.ssoSignIn(opId, profile, send(onProgress))),
  datastores: () => typed(() => world.datastores()),
  kmsKeys: () => typed(() => world.kmsKeys()),
  buckets: () => typed(() => world.buckets()),
  setDestination: (choices) => typed(() => world.setDestination(choices)),
  rememberedRole: (datastoreId) => plain(() => world.rememberedRole(datastoreId)),
  preflight: (fileCount) => typed(() => world.preflight(fileCount)),
  policies: () => typed(() => world.policies()),
  initialPaths: () => plain(() => []),
  pickFiles: () => typed(() => world.samplePaths()),
  samplePaths: () => typed(() => world.samplePaths()),
  validateFiles: (opId, paths, _keepBundles, onProgress) =>
    typed(() => world.validate(opId, paths, send(onProgress))),
  lineText: (path, line) => typed(() => world.lineText(path, line)),
  exportRejected: () => typed(() => 3),
  startImport: (opId, request, onProgress) =>
    typed(() => world.startImport(opId, request, send(onProgress))),
  cancel: (opId) => plain(() => world.cancel(opId)),
  listJobs: () => typed(() => world.listJobs()),
  jobResult: (jobId) => typed(() => world.jobResult(jobId)),
  notifyFinished: () => typed(() => false),
  importResult: (jobIds) => typed(() => world.importResult(jobIds)),
  failureSummary: (jobIds) => typed(() => world.failureSummaryOf(jobIds)),
  failureRows: (jobIds, offset, limit, cause, resourceType, file) =>
    typed(() => world.failureRowsOf(jobIds, offset, limit, cause, resourceType, file)),
  exportFailures: (jobIds) => typed(() => world.exportFailures(jobIds)),
  retryFailures: (jobIds, cause, _level, plan) =>
    typed(() => world.retryFailures(jobIds, cause, plan)),
  checkResource: (text) => typed(() => world.checkResource(text)),
  keepRepair: (jobIds, _file, _lineId, text) => typed(() => world.keepRepair(jobIds.join(), text)),
  previewRepair: (jobIds, cause, plan) => typed(() => world.previewRepair(jobIds, cause, plan)),
  changeRecord: () => typed(() => world.changeRecord()),
  saveChangeRecord: () => typed(() => 0),
  saveRepairPlan: () => typed(() => "repair-plan.json"),
  openRepairPlan: () => typed(() => null),
  fixFile: (_path, plan, byHand, save) => typed(() => world.fixFile(plan, byHand.length, save)),
  cleanUploads: () => typed(() => world.cleanUploads()),
  fhirLookup: (text) => typed(() => world.fhirLookup(text)),
  fhirPage: (url) => typed(() => world.fhirPage(url)),
  verifySample: (jobId, perType) => typed(() => world.verifySample(jobId, perType)),
};
