import { flushSync, mount, unmount } from "svelte";
import { afterEach, describe, expect, it } from "vitest";
import { fakeBackend, resetBackend } from "../ipc/testing";
import { nav } from "../state/navigation.svelte";
import { completedJob } from "../test/fixtures";
import type { ImportResult, JobResult } from "../ipc";
import JobGroupView from "./JobGroupView.svelte";
import { waitFor } from "../test/wait";

let component: ReturnType<typeof mount> | null = null;

function render(jobIds: string[]): HTMLElement {
  const target = document.createElement("div");
  document.body.append(target);
  component = mount(JobGroupView, { target, props: { jobIds, pollMs: 5 } });
  flushSync();
  return target;
}

/** Job `jobId`: ended with `imported` of `scanned` resources, or still running. */
function job(jobId: string, status: string, scanned: number, imported: number): JobResult {
  const r = completedJob(status);
  const ended = status.startsWith("COMPLETED") || status === "FAILED";
  return {
    job: {
      ...r.job,
      jobId,
      endTime: ended ? r.job.endTime : null,
      message: status === "FAILED" ? "KMS key k1 is disabled" : null,
      progress: ended
        ? null
        : {
            scannedMb: 1,
            scannedFiles: 3,
            resourcesScanned: scanned,
            resourcesImported: imported,
            resourcesWithCustomerError: 0,
            filesReadWithCustomerError: 0,
          },
    },
    manifest:
      ended && status !== "FAILED"
        ? {
            ...r.manifest!,
            scannedFiles: jobId === "job-1" ? 10_000 : 50,
            resourcesScanned: scanned,
            resourcesImported: imported,
            resourcesWithCustomerError: scanned - imported,
          }
        : null,
  };
}

function text(el: Element | null | undefined): string {
  return el?.textContent?.replace(/\s+/g, " ").trim() ?? "";
}

afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  resetBackend();
  nav.resultsShown = false;
});

describe("JobGroupView", () => {
  it("follows the jobs of one import as one: one progress, their sum, their failures together", async () => {
    const answers: ImportResult[] = [
      {
        jobs: [
          job("job-1", "COMPLETED_WITH_ERRORS", 7_000, 6_990),
          job("job-2", "IN_PROGRESS", 20, 18),
        ],
        manifest: null,
      },
    ];
    const last = [
      job("job-1", "COMPLETED_WITH_ERRORS", 7_000, 6_990),
      job("job-2", "COMPLETED_WITH_ERRORS", 50, 45),
    ];
    answers.push({
      jobs: last,
      manifest: {
        ...last[0]!.manifest!,
        scannedFiles: 10_050,
        resourcesScanned: 7_050,
        resourcesImported: 7_035,
        resourcesWithCustomerError: 15,
      },
    });
    const asked: { importResult: unknown[]; summary: unknown[] } = {
      importResult: [],
      summary: [],
    };
    let polls = 0;
    fakeBackend((cmd, args) => {
      if (cmd === "import_result") {
        asked.importResult.push(args.jobIds);
        const answer = answers[Math.min(polls, answers.length - 1)];
        polls += 1;
        return answer;
      }
      if (cmd === "failure_summary") {
        asked.summary.push(args.jobIds);
        return { total: 15, groups: [], unreadable: { lines: 0, examples: [] }, sources: [] };
      }
      if (cmd === "failure_rows") return { total: 15, rows: [] };
      throw new Error(`unexpected command ${cmd}`);
    });
    const root = render(["job-1", "job-2"]);
    const progress = () => root.querySelector('[data-testid="group-progress"]');

    await waitFor(() => progress() !== null);
    expect(text(progress())).toBe(
      "1 of 2 jobs ended · job 2 in progress · 7,008 resources imported so far",
    );
    expect(root.querySelector('[data-testid="group-status"]')?.getAttribute("data-status")).toBe(
      "IN_PROGRESS",
    );
    expect(root.querySelector("progress")?.value).toBe(1);

    await waitFor(() => root.querySelector('[data-testid="manifest-table"]') !== null);
    expect(text(progress())).toBe("2 of 2 jobs ended · 7,035 resources imported so far");
    expect(text(root.querySelector("#results-title"))).toBe("Results of all 2 jobs together");
    const imported = root.querySelector(
      '[data-testid="manifest-table"] [data-testid="count-resourcesImported"] td',
    );
    expect(imported?.textContent).toBe("7,035");
    expect(root.querySelector('[data-testid="group-status"]')?.getAttribute("data-status")).toBe(
      "COMPLETED_WITH_ERRORS",
    );
    const rows = [...root.querySelectorAll('[data-testid="group-jobs"] tbody tr')].map((tr) =>
      [...tr.children].map(text).join(" | "),
    );
    expect(rows).toEqual([
      "Job 1 job-1 | Completed with errors | 10,000 | 6,990 | Open job 1",
      "Job 2 job-2 | Completed with errors | 50 | 45 | Open job 2",
    ]);
    // Both jobs had failures: they are read together, in one request.
    await waitFor(() => asked.summary.length > 0);
    expect(asked.summary.at(-1)).toEqual(["job-1", "job-2"]);
    expect(asked.importResult.every((ids) => JSON.stringify(ids) === '["job-1","job-2"]')).toBe(
      true,
    );
    expect(nav.resultsShown).toBe(true);
    const pollsAtEnd = polls;
    await new Promise((r) => setTimeout(r, 50));
    expect(polls).toBe(pollsAtEnd);
  });

  it("says which job failed and why, and reviews only the others' failures", async () => {
    const jobs = [job("job-1", "COMPLETED_WITH_ERRORS", 100, 90), job("job-2", "FAILED", 0, 0)];
    const summaries: unknown[] = [];
    fakeBackend((cmd, args) => {
      if (cmd === "import_result") return { jobs, manifest: jobs[0]!.manifest };
      if (cmd === "failure_summary") {
        summaries.push(args.jobIds);
        return { total: 10, groups: [], unreadable: { lines: 0, examples: [] }, sources: [] };
      }
      if (cmd === "failure_rows") return { total: 10, rows: [] };
      throw new Error(`unexpected command ${cmd}`);
    });
    const root = render(["job-1", "job-2"]);
    await waitFor(() => root.querySelector('[data-testid="group-failed-job"]') !== null);
    expect(text(root.querySelector('[data-testid="group-failed-job"]'))).toContain(
      "Job 2: KMS key k1 is disabled.",
    );
    expect(root.querySelector('[data-testid="group-status"]')?.getAttribute("data-status")).toBe(
      "COMPLETED_WITH_ERRORS",
    );
    await waitFor(() => summaries.length > 0);
    expect(summaries[0]).toEqual(["job-1"]);
    // The failed job imported nothing: what the import did is the other job's.
    await waitFor(() => root.querySelector('[data-testid="manifest-table"]') !== null);
    const imported = root.querySelector(
      '[data-testid="manifest-table"] [data-testid="count-resourcesImported"] td',
    );
    expect(imported?.textContent).toBe("90");
  });
});
