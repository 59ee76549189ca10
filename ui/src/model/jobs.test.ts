import { describe, expect, it } from "vitest";
import { completedJob } from "../test/fixtures";
import {
  importStatus,
  backgroundActivity,
  isSuccess,
  isTerminal,
  statusKind,
  statusLabel,
  timeline,
} from "./jobs";

describe("job status", () => {
  it("stops polling only on final statuses", () => {
    for (const s of ["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCEL_COMPLETED"]) {
      expect(isTerminal(s), s).toBe(true);
    }
    for (const s of ["SUBMITTED", "QUEUED", "IN_PROGRESS", "CANCEL_IN_PROGRESS", "NEW_STATE"]) {
      expect(isTerminal(s), s).toBe(false);
    }
  });

  it("shows COMPLETED_WITH_ERRORS as a partial success, never a failure", () => {
    expect(statusKind("COMPLETED_WITH_ERRORS")).toBe("partial");
    expect(statusLabel("COMPLETED_WITH_ERRORS")).toBe("Completed with errors");
    expect(isSuccess("COMPLETED_WITH_ERRORS")).toBe(true);
    expect(isSuccess("FAILED")).toBe(false);
    expect(statusKind("FAILED")).toBe("failed");
  });

  it("shows an unknown status as it is", () => {
    expect(statusLabel("NEW_STATE")).toBe("NEW_STATE");
  });

  it("places the job on the timeline", () => {
    expect(timeline("QUEUED").map((s) => s.state)).toEqual([
      "done",
      "current",
      "upcoming",
      "upcoming",
    ]);
    const done = timeline("COMPLETED_WITH_ERRORS");
    expect(done.map((s) => s.state)).toEqual(["done", "done", "done", "current"]);
    expect(done[3]?.label).toBe("Completed with errors");
  });
});

describe("the status of an import of several jobs", () => {
  it("is the running job's until all end, then what they did together", () => {
    expect(importStatus(["COMPLETED", "IN_PROGRESS", "SUBMITTED"])).toBe("IN_PROGRESS");
    expect(importStatus(["COMPLETED", "QUEUED"])).toBe("QUEUED");
    expect(importStatus(["COMPLETED", "COMPLETED"])).toBe("COMPLETED");
    expect(importStatus(["COMPLETED", "COMPLETED_WITH_ERRORS"])).toBe("COMPLETED_WITH_ERRORS");
    expect(importStatus(["COMPLETED", "FAILED"])).toBe("COMPLETED_WITH_ERRORS");
    expect(importStatus(["FAILED", "FAILED"])).toBe("FAILED");
  });
});

describe("background activity", () => {
  it("says what runs while the person looks elsewhere", () => {
    const job = completedJob().job;
    const jobs = [
      { ...job, jobId: "a", status: "IN_PROGRESS" },
      { ...job, jobId: "b", status: "QUEUED" },
      { ...job, jobId: "c", status: "SUBMITTED" },
      job,
    ];
    expect(backgroundActivity("uploading", jobs)).toBe("Uploading · 1 job running, 2 waiting");
    expect(backgroundActivity("idle", [job])).toBe("");
  });
});
