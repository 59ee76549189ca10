// The fake backend answers as the real one does where the UI's flow depends on it.
import { describe, expect, it } from "vitest";
import { World, settingsFrom } from "./world";

describe("the fake backend", () => {
  it("follows the job that imported the same files instead of starting another, unless asked again", async () => {
    const world = new World(settingsFrom("?pace=0"));
    const paths = world.samplePaths();
    const request = { paths, jobName: null, validationLevel: "structure-only" as const };
    const first = await world.startImport("op-1", request, () => {});
    expect(first.alreadyStarted).toBe(false);

    const events: string[] = [];
    const twice = await world.startImport("op-2", request, (p) => events.push(p.event));
    expect(twice).toMatchObject({ jobId: first.jobId, alreadyStarted: true, filesUploaded: 0 });
    expect(events).not.toContain("uploading");

    const again = await world.startImport("op-3", { ...request, again: true }, () => {});
    expect(again.alreadyStarted).toBe(false);
    expect(again.jobId).not.toBe(first.jobId);
    expect(world.listJobs().map((j) => j.jobId)).toContain(again.jobId);
  });

  it("aborts Lakedrop's abandoned uploads once and leaves the others", () => {
    const world = new World(settingsFrom("?pace=0"));
    expect(world.cleanUploads()).toEqual({ aborted: 1, resumable: 0, others: 1 });
    expect(world.cleanUploads()).toEqual({ aborted: 0, resumable: 0, others: 1 });
  });

  it("splits an import of more files than a job takes into jobs followed as one", async () => {
    const world = new World(settingsFrom("?pace=0&split=10"));
    const paths = world.samplePaths();
    const request = { paths, jobName: null, validationLevel: "structure-only" as const };
    const started = await world.startImport("op-1", request, () => {});
    const jobs = started.jobs ?? [];
    expect(jobs.map((j) => j.files)).toEqual([10, started.filesUploaded - 10]);
    expect(started.jobId).toBe(jobs[0]?.jobId);
    const ids = jobs.map((j) => j.jobId);
    world.endJobs();
    // A job ended "now" has ended a millisecond on.
    await new Promise((r) => setTimeout(r, 5));
    const together = world.importResult(ids);
    const each = together.jobs.map((r) => r.manifest?.resourcesImported ?? 0);
    expect(together.manifest?.resourcesImported).toBe(each[0]! + each[1]!);
    expect(together.manifest?.scannedFiles).toBe(started.filesUploaded);
  });
});
