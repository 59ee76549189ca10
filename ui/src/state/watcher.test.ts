import { afterEach, describe, expect, it, vi } from "vitest";
import type { Job } from "../ipc";
import { fakeBackend, resetBackend } from "../ipc/testing";
import { live } from "./announcer.svelte";
import { go } from "./navigation.svelte";
import { standing } from "../model/jobs";
import {
  ACTIVE_POLL_MS,
  IDLE_POLL_MS,
  dismissEnded,
  jobSeen,
  jobSubmitted,
  refresh,
  startWatching,
  resetWatcher,
  watcher,
} from "./watcher.svelte";

function job(id: string, status: string, extra: Partial<Job> = {}): Job {
  return {
    jobId: id,
    jobName: `load-${id}`,
    datastoreId: "8a4077553e9a485ad889c1a89c7541f0",
    status,
    submitTime: 1_700_000_000_000,
    endTime: null,
    message: null,
    inputUri: null,
    outputUri: null,
    progress: null,
    queuePosition: null,
    eta: null,
    advice: null,
    ...extra,
  };
}

describe("watcher", () => {
  afterEach(() => {
    go({ name: "files" });
    resetWatcher();
    resetBackend();
  });

  it("lists again at once when a view saw a job's status change, and only then", async () => {
    let listing = [job("a", "IN_PROGRESS")];
    let listings = 0;
    fakeBackend((cmd) => {
      if (cmd === "list_jobs") {
        listings += 1;
        return listing;
      }
      return true;
    });
    const stop = startWatching();
    await vi.waitFor(() => expect(watcher.jobs).not.toBeNull());
    const before = listings;
    jobSeen(job("a", "IN_PROGRESS"));
    await new Promise((r) => setTimeout(r, 20));
    expect(listings).toBe(before);

    listing = [job("a", "COMPLETED")];
    jobSeen(job("a", "COMPLETED"));
    await vi.waitFor(() => expect(watcher.jobs?.[0]?.status).toBe("COMPLETED"));
    expect(listings).toBe(before + 1);
    expect(watcher.ended.map((j) => j.jobId)).toEqual(["a"]);
    stop();
  });

  it("notifies once when a job it saw running ends, and polls slower when nothing runs", async () => {
    let listing = [job("a", "IN_PROGRESS"), job("b", "QUEUED", { queuePosition: 1 })];
    const notified: unknown[] = [];
    fakeBackend((cmd, args) => {
      if (cmd === "list_jobs") return listing;
      if (cmd === "notify_finished") {
        notified.push(args.finished);
        return true;
      }
      return null;
    });
    expect(await refresh()).toBe(ACTIVE_POLL_MS);
    expect(watcher.ended).toEqual([]);

    listing = [job("a", "COMPLETED_WITH_ERRORS"), job("b", "COMPLETED")];
    expect(await refresh()).toBe(IDLE_POLL_MS);
    expect(watcher.ended.map((j) => j.jobId).sort()).toEqual(["a", "b"]);
    expect(notified).toContainEqual({ kind: "job", jobId: "a", status: "COMPLETED_WITH_ERRORS" });

    await refresh();
    expect(notified).toHaveLength(2);
  });

  it("says a job submitted here ended even when it ends before it is first listed", async () => {
    fakeBackend((cmd) => (cmd === "list_jobs" ? [job("fast", "COMPLETED")] : true));
    jobSubmitted("fast");
    await refresh();
    expect(watcher.ended.map((j) => j.jobId)).toEqual(["fast"]);
  });

  it("leaves the end of the job in view to its view: no banner, no second announcement", async () => {
    let listing = [
      job("seen", "IN_PROGRESS"),
      job("other", "IN_PROGRESS"),
      job("away", "IN_PROGRESS"),
    ];
    const notified: unknown[] = [];
    fakeBackend((cmd, args) => {
      if (cmd === "list_jobs") return listing;
      if (cmd === "notify_finished") notified.push(args.finished);
      return true;
    });
    const focus = vi.spyOn(document, "hasFocus").mockReturnValue(true);
    await refresh();
    go({ name: "job", jobId: "seen" });
    live.message = "";
    listing = [job("seen", "COMPLETED"), job("other", "FAILED"), job("away", "IN_PROGRESS")];
    await refresh();
    expect(watcher.ended.map((j) => j.jobId)).toEqual(["other"]);
    expect(live.message).toMatch(/load-other failed/);
    expect(live.message).not.toMatch(/load-seen/);
    // The person is looking at the window: only the job out of view is notified.
    expect(notified).toEqual([{ kind: "job", jobId: "other", status: "FAILED" }]);

    // In another window, the job in view is notified too, but still gets no banner.
    focus.mockReturnValue(false);
    go({ name: "job", jobId: "away" });
    listing = [job("seen", "COMPLETED"), job("other", "FAILED"), job("away", "COMPLETED")];
    await refresh();
    expect(watcher.ended.map((j) => j.jobId)).toEqual(["other"]);
    expect(notified).toContainEqual({ kind: "job", jobId: "away", status: "COMPLETED" });
    focus.mockRestore();

    dismissEnded("other");
    dismissEnded("other");
    expect(watcher.ended).toEqual([]);
  });

  it("backs off after errors such as throttling", async () => {
    fakeBackend(() => {
      throw { code: "aws", message: "ThrottlingException: Rate exceeded" };
    });
    const first = await refresh();
    const second = await refresh();
    expect(second).toBeGreaterThan(first);
    expect(watcher.error?.code).toBe("aws");
  });

  it("says where a waiting or running job stands", () => {
    const now = 1_700_000_000_000;
    expect(standing(job("q", "QUEUED", { queuePosition: 2 }), now)).toBe("2 jobs ahead");
    expect(standing(job("q", "SUBMITTED", { queuePosition: 0 }), now)).toBe("next in line");
    const running = job("r", "IN_PROGRESS", {
      progress: {
        scannedMb: 1,
        scannedFiles: 1,
        resourcesScanned: 500,
        resourcesImported: 480,
        resourcesWithCustomerError: 20,
        filesReadWithCustomerError: 1,
      },
      eta: now + 3 * 60_000,
    });
    expect(standing(running, now)).toBe(
      "480 imported of 500 read, 20 rejected · about 3 mins left",
    );
    // A finished job says what came of it; a failed one says nothing the badge does not.
    expect(standing({ ...running, status: "COMPLETED_WITH_ERRORS", eta: null }, now)).toBe(
      "480 imported, 20 rejected",
    );
    expect(standing({ ...running, status: "FAILED", eta: null }, now)).toBe("");
  });
});
