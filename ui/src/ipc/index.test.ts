import { afterEach, describe, expect, it } from "vitest";
import * as ipc from "./index";
import { LakedropError, describeError, isErrorCode, toLakedropError } from "./errors";
import type { ErrorCode } from "./bindings";
import { emitDragOver, emitDrop, fakeBackend, resetBackend, sendOnChannel } from "./testing";

const CONNECTION: ipc.ResolvedDestination = {
  kind: "sandbox",
  label: "Sandbox",
  region: "us-east-1",
  endpoint: "http://127.0.0.1:4566",
  datastoreId: "ds-1",
  datastoreName: "demo",
  inputBucket: "in",
  outputBucket: "out",
  outputUri: "s3://out/lakedrop-output/",
  kmsKeyId: "key-1",
  kmsKeyAlias: null,
  roleArn: "arn:aws:iam::000000000000:role/import",
};

// A Record over ErrorCode, so a code added in Rust fails to type-check here until it is listed.
const CODES: Record<ErrorCode, true> = {
  "invalid-input": true,
  rejected: true,
  "not-found": true,
  io: true,
  "file-changed": true,
  credentials: true,
  config: true,
  "sign-in": true,
  "mfa-required": true,
  clock: true,
  "wrong-region": true,
  "access-denied": true,
  throttled: true,
  dependency: true,
  conflict: true,
  offline: true,
  unavailable: true,
  aws: true,
  cancelled: true,
  sandbox: true,
  "local-state": true,
  internal: true,
};
const ALL_CODES = Object.keys(CODES) as ErrorCode[];

afterEach(() => resetBackend());

describe("command wrappers", () => {
  it("return the data of an Ok and call the snake_case command with camelCase args", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    fakeBackend((cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "connection") return CONNECTION;
      if (cmd === "job_result") return { job: { jobId: args.jobId }, manifest: null };
      throw new Error(`unexpected ${cmd}`);
    });

    await expect(ipc.connection()).resolves.toEqual(CONNECTION);
    await expect(ipc.jobResult("job-7")).resolves.toMatchObject({ job: { jobId: "job-7" } });
    expect(calls.map(([cmd]) => cmd)).toEqual(["connection", "job_result"]);
    expect(calls[1]?.[1]).toEqual({ jobId: "job-7" });
  });

  it("throw a LakedropError carrying the backend's code and raw message", async () => {
    fakeBackend(() => {
      throw {
        code: "access-denied",
        message: "User: x is not authorized to perform: s3:PutObject",
      };
    });

    const error = await ipc.listJobs().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakedropError);
    expect((error as LakedropError).code).toBe("access-denied");
    expect((error as LakedropError).message).toContain("s3:PutObject");
    expect((error as LakedropError).what).toMatch(/refused/);
  });

  it("map Tauri's own string rejections (e.g. a missing command) to internal", async () => {
    fakeBackend(() => Promise.reject("command list_jobs not found"));

    await expect(ipc.listJobs()).rejects.toMatchObject({
      code: "internal",
      message: "command list_jobs not found",
    });
  });

  it("wrap commands without a Result too", async () => {
    fakeBackend((cmd) => {
      if (cmd === "initial_paths") return ["/data/a.ndjson"];
      throw { code: "not-found", message: "no such operation" };
    });

    await expect(ipc.initialPaths()).resolves.toEqual(["/data/a.ndjson"]);
    await expect(ipc.cancel("op-1")).rejects.toMatchObject({ code: "not-found" });
  });

  it("stream progress from a Channel argument to the callback", async () => {
    fakeBackend((cmd, args) => {
      expect(cmd).toBe("validate_files");
      expect(args.paths).toEqual(["/data"]);
      expect(args.opId).toBe("op-1");
      expect(args.keepBundles).toBe(true);
      sendOnChannel(args.onProgress, [
        { event: "fileStarted", path: "/data/a.ndjson" },
        { event: "progress", bytesDone: 5, bytesTotal: 10, linesDone: 2 },
      ]);
      return { files: [], valid: 0, invalid: 0 };
    });

    const seen: ipc.ValidateProgress[] = [];
    await ipc.validateFiles("op-1", ["/data"], true, (p) => seen.push(p));
    expect(seen).toEqual([
      { event: "fileStarted", path: "/data/a.ndjson" },
      { event: "progress", bytesDone: 5, bytesTotal: 10, linesDone: 2 },
    ]);
  });

  it("pass opId, request and channel to start_import", async () => {
    let received: Record<string, unknown> = {};
    fakeBackend((_cmd, args) => {
      received = args;
      return {
        jobId: "j1",
        batchId: "b1",
        datastoreId: "ds-1",
        inputUri: "s3://in/x/",
        outputUri: "s3://out/x/",
        filesUploaded: 1,
        filesSkipped: [],
      };
    });

    const started = await ipc.startImport("op-9", { paths: ["/a"], jobName: null }, () => {});
    expect(started.jobId).toBe("j1");
    expect(received.opId).toBe("op-9");
    expect(received.request).toEqual({ paths: ["/a"], jobName: null });
    expect(received.onProgress).toHaveProperty("id");
  });
});

describe("error sentences", () => {
  it("exist for every error code, saying what happened and what to do", () => {
    const seen = new Set<string>();
    for (const code of ALL_CODES) {
      const { what, next } = describeError(code);
      expect(what.length, code).toBeGreaterThan(10);
      expect(next.length, code).toBeGreaterThan(10);
      expect(what.endsWith("."), code).toBe(true);
      seen.add(what);
    }
    // No two codes share a sentence: each tells the person something different.
    expect(seen.size).toBe(ALL_CODES.length);
  });

  it("tell credentials problems to sign in again", () => {
    expect(describeError("credentials").next).toMatch(/sign in/i);
  });

  it("tell apart what waiting fixes from what a change of setting fixes", () => {
    expect(describeError("throttled").next).toMatch(/wait a minute/i);
    expect(describeError("unavailable").next).toMatch(/wait a few minutes/i);
    expect(describeError("offline").next).toMatch(/network/i);
    expect(describeError("rejected").next).toMatch(/destination/i);
    expect(describeError("dependency").next).toMatch(/KMS key/);
    for (const code of ["rejected", "dependency", "access-denied"] as const)
      expect(describeError(code).next, code).not.toMatch(/wait/i);
  });

  it("treat an unknown code from a newer backend as internal, keeping the raw text", () => {
    const error = toLakedropError({ code: "quota-exceeded", message: "Too many jobs" });
    expect(error.code).toBe("internal");
    expect(error.message).toBe("quota-exceeded: Too many jobs");
    expect(isErrorCode("quota-exceeded")).toBe(false);
    expect(isErrorCode("sandbox")).toBe(true);
  });
});

describe("file drops", () => {
  it("deliver dropped paths and the hover state", async () => {
    fakeBackend(() => null);
    const dropped: string[][] = [];
    const hover: boolean[] = [];
    const stop = await ipc.onFileDrop({
      onDrop: (paths) => dropped.push(paths),
      onHover: (h) => hover.push(h),
    });

    await emitDragOver();
    await emitDrop(["/data/10-patients"]);
    expect(dropped).toEqual([["/data/10-patients"]]);
    expect(hover).toEqual([true, false]);

    stop();
  });

  it("open the native pickers through the backend, which records the choice", async () => {
    const asked: unknown[] = [];
    fakeBackend((cmd, args) => {
      expect(cmd).toBe("pick_files");
      asked.push(args.folder);
      return asked.length === 1 ? ["/a.ndjson", "/b.ndjson.gz"] : [];
    });

    await expect(ipc.pickFiles()).resolves.toEqual(["/a.ndjson", "/b.ndjson.gz"]);
    await expect(ipc.pickFolder()).resolves.toEqual([]);
    expect(asked).toEqual([false, true]);
  });
});
