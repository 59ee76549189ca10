import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ImportStarted } from "../ipc";
import { fakeBackend, resetBackend } from "../ipc/testing";
import { sampleReport } from "../test/fixtures";
import { live } from "./announcer.svelte";
import {
  importAgain,
  importer,
  resetImporter,
  startImport,
  uploadRateText,
} from "./importer.svelte";
import { nav } from "./navigation.svelte";
import { resetWatcher } from "./watcher.svelte";

describe("uploadRateText", () => {
  it("gives the rate of what was sent here, the time left and the part", () => {
    const u = {
      file: "Patient.ndjson",
      bytesDone: 60_000_000,
      bytesTotal: 100_000_000,
      partsDone: 6,
      partsTotal: 12,
      startedAt: 0,
      // A resumed upload: 20 MB were already in S3, so 40 MB went in 4 s.
      bytesAtStart: 20_000_000,
    };
    expect(uploadRateText(u, 4000)).toBe("10 MB/s · about 4 s left · part 6 of 12 of this file");
  });

  it("says nothing about rate before a second has passed", () => {
    const u = {
      file: "a",
      bytesDone: 1,
      bytesTotal: 2,
      partsDone: 0,
      partsTotal: 1,
      startedAt: 0,
      bytesAtStart: 0,
    };
    expect(uploadRateText(u, 500)).toBe("");
  });
});

describe("an import of files already imported", () => {
  const files = sampleReport().files.slice(0, 2);
  const started = (jobId: string, alreadyStarted: boolean): ImportStarted => ({
    jobId,
    batchId: "b1",
    datastoreId: "ds-1",
    inputUri: "s3://in/lakedrop/b1/",
    outputUri: "s3://out/x/",
    filesUploaded: alreadyStarted ? 0 : 2,
    filesSkipped: [],
    encryption: null,
    alreadyStarted,
  });

  /** A backend that answers the first import with the job that imported these files before. */
  function backend(requests: Record<string, unknown>[]): void {
    fakeBackend((cmd, args) => {
      if (cmd !== "start_import") return [];
      requests.push(args.request as Record<string, unknown>);
      return requests.length === 1 ? started("job-old", true) : started("job-new", false);
    });
  }

  beforeEach(() => {
    resetImporter();
    resetWatcher();
  });
  afterEach(() => resetBackend());

  it("asks not to import again by default, follows the earlier job and says why", async () => {
    const requests: Record<string, unknown>[] = [];
    backend(requests);
    await startImport(files, { jobName: "weekly", level: "minimal" });
    expect(requests[0]).toMatchObject({ validationLevel: "minimal", again: false });
    expect(importer.last?.started.alreadyStarted).toBe(true);
    expect(nav.view).toEqual({ name: "job", jobId: "job-old" });
    expect(live.message).toBe(
      "These files were already imported by job job-old, so nothing was uploaded again.",
    );
  });

  it("imports them again on request, asked the same way, and follows the new job", async () => {
    const requests: Record<string, unknown>[] = [];
    backend(requests);
    await startImport(files, { jobName: "weekly", level: "minimal" });
    await importAgain();
    expect(requests[1]).toEqual({
      paths: files.map((f) => f.path),
      jobName: "weekly",
      validationLevel: "minimal",
      again: true,
      keepBundles: false,
    });
    expect(importer.last?.started).toMatchObject({ jobId: "job-new", alreadyStarted: false });
    expect(nav.view).toEqual({ name: "job", jobId: "job-new" });
    expect(live.message).toBe("Import job job-new started.");
  });
});
