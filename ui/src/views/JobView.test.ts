import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fakeBackend, resetBackend } from "../ipc/testing";
import { importer, resetImporter } from "../state/importer.svelte";
import { completedJob, sampleReport } from "../test/fixtures";
import type { JobResult } from "../ipc";
import JobView from "./JobView.svelte";

let component: ReturnType<typeof mount> | null = null;

function render(pollMs = 5): HTMLElement {
  const target = document.createElement("div");
  document.body.append(target);
  component = mount(JobView, { target, props: { jobId: "job-1", pollMs } });
  flushSync();
  return target;
}

async function waitFor(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
    await tick();
  }
}

function inProgress(): JobResult {
  const r = completedJob();
  return { job: { ...r.job, status: "IN_PROGRESS", endTime: null }, manifest: null };
}

beforeEach(() => resetImporter());

afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  resetBackend();
});

describe("JobView", () => {
  it("polls until the job is final, then shows the manifest counts in a table", async () => {
    const answers = [inProgress(), inProgress(), completedJob()];
    let polls = 0;
    fakeBackend((cmd, args) => {
      expect(cmd).toBe("job_result");
      expect(args.jobId).toBe("job-1");
      const answer = answers[Math.min(polls, answers.length - 1)];
      polls += 1;
      return answer;
    });
    const root = render();

    const status = () => root.querySelector('[data-testid="job-status"]');
    await waitFor(() => status()?.getAttribute("data-status") === "COMPLETED");
    expect(status()?.textContent).toBe("Completed");

    const imported = root.querySelector(
      '[data-testid="manifest-table"] [data-testid="count-resourcesImported"] td',
    );
    expect(imported?.textContent).toBe("7,160");
    const pollsAtEnd = polls;
    await new Promise((r) => setTimeout(r, 50));
    expect(polls).toBe(pollsAtEnd); // no polling after a final status
    expect(pollsAtEnd).toBe(3);
  });

  it("shows COMPLETED_WITH_ERRORS as a warning, not a failure", async () => {
    fakeBackend(() => completedJob("COMPLETED_WITH_ERRORS"));
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="manifest-table"]') !== null);
    expect(root.querySelector('[data-testid="job-status"]')?.textContent).toBe(
      "Completed with errors",
    );
    expect(root.querySelector('[role="alert"]')).toBeNull();
    expect(root.textContent).toContain("Most resources were imported");
  });

  it("lists the files the import skipped, with the reason", async () => {
    importer.last = {
      started: {
        jobId: "job-1",
        batchId: "20261122T083400Z-000000ab",
        datastoreId: "ds-1",
        inputUri: "s3://in/x/",
        outputUri: "s3://out/x/",
        filesUploaded: 13,
        filesSkipped: [
          { path: "/data/10-patients/log.ndjson", name: "log.ndjson", reason: "not-fhir" },
        ],
      },
      files: sampleReport().files,
    };
    fakeBackend(() => completedJob());
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="skipped-files"]') !== null);
    expect(root.querySelector('[data-testid="skipped-files"] li')?.textContent).toBe(
      "log.ndjson — not FHIR, not uploaded",
    );
  });
});
