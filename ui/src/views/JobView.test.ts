import { flushSync, mount, unmount } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fakeBackend, resetBackend } from "../ipc/testing";
import { destination } from "../state/connection.svelte";
import { importer, resetImporter } from "../state/importer.svelte";
import { go, nav } from "../state/navigation.svelte";
import { completedJob, sampleReport, sandboxConnection } from "../test/fixtures";
import type { CauseGroup, FailureSummary, JobResult, Joined } from "../ipc";
import JobView from "./JobView.svelte";
import { waitFor } from "../test/wait";

let component: ReturnType<typeof mount> | null = null;

function render(pollMs = 5): HTMLElement {
  const target = document.createElement("div");
  document.body.append(target);
  component = mount(JobView, { target, props: { jobId: "job-1", pollMs } });
  flushSync();
  return target;
}

function inProgress(): JobResult {
  const r = completedJob();
  return { job: { ...r.job, status: "IN_PROGRESS", endTime: null }, manifest: null };
}

function causeGroup(
  cause: CauseGroup["group"]["cause"],
  resourceType: string,
  count: number,
  diagnostics: string,
): CauseGroup {
  return {
    group: {
      cause,
      resourceType,
      file: `${resourceType}.000.ndjson`,
      count,
      exampleLineIds: [1],
      diagnostics,
    },
    explanation: `What ${cause} means.`,
    fix: `How to fix ${cause}.`,
  };
}

const WRONG_TYPE = "Wrong type at Patient.gender: found a number, expected a JSON string";
const BAD_DATE = 'Not a valid date/time: "2020-02-31" is not a FHIR date';

/** The failure at `index` of a job whose failures alternate wrong-type Patients and bad-date Observations. */
function failureAt(index: number, cause: string | null): Joined {
  const wrongType = cause === "wrong-type" || (cause === null && index % 2 === 0);
  const lineId = index + 1;
  return wrongType
    ? {
        failure: {
          file: "Patient.000.ndjson",
          lineId,
          resourceType: "Patient",
          resourceId: `p${lineId}`,
          statusCode: 400,
          diagnostics: [WRONG_TYPE],
          cause: "wrong-type",
        },
        original: JSON.stringify({ resourceType: "Patient", id: `p${lineId}`, gender: 42 }),
        mismatch: false,
      }
    : {
        failure: {
          file: "Observation.000.ndjson",
          lineId,
          resourceType: "Observation",
          resourceId: `o${lineId}`,
          statusCode: 400,
          diagnostics: [BAD_DATE],
          cause: "bad-date",
        },
        original: JSON.stringify({
          resourceType: "Observation",
          id: `o${lineId}`,
          status: "final",
          effectiveDateTime: "2020-02-31",
        }),
        mismatch: false,
      };
}

interface Calls {
  rows: Record<string, unknown>[];
  exports: Record<string, unknown>[];
  retries: Record<string, unknown>[];
}

/** A backend whose job-1 completed with errors; `total` failures in all. */
function failures(total = 6): {
  calls: Calls;
  handler: (cmd: string, args: Record<string, unknown>) => unknown;
} {
  const calls: Calls = { rows: [], exports: [], retries: [] };
  const summary: FailureSummary = {
    total,
    groups: [
      causeGroup("wrong-type", "Patient", Math.ceil(total / 2), WRONG_TYPE),
      causeGroup("bad-date", "Observation", Math.floor(total / 2), BAD_DATE),
    ],
    unreadable: { lines: 0, examples: [] },
    sources: [
      {
        file: "Patient.000.ndjson",
        origin: "local",
        decision: { base: "one-based", oneBasedMatches: 3, zeroBasedMatches: 0, compared: 3 },
      },
    ],
  };
  const handler = (cmd: string, args: Record<string, unknown>): unknown => {
    switch (cmd) {
      case "job_result":
        return completedJob("COMPLETED_WITH_ERRORS");
      case "failure_summary":
        expect(args.jobIds).toEqual(["job-1"]);
        return summary;
      case "failure_rows": {
        calls.rows.push(args);
        const cause = (args.cause as string | null) ?? null;
        const matching =
          cause === null
            ? total
            : cause === "wrong-type"
              ? Math.ceil(total / 2)
              : Math.floor(total / 2);
        const offset = args.offset as number;
        const end = Math.min(matching, offset + (args.limit as number));
        const rows = [];
        for (let i = offset; i < end; i += 1) rows.push(failureAt(i, cause));
        return { total: matching, rows };
      }
      case "export_failures":
        calls.exports.push(args);
        return 3;
      case "retry_failures":
        calls.retries.push(args);
        return { jobId: "job-2", inputUri: "s3://in/retry/", lines: 3, missing: 0 };
      default:
        throw new Error(`unexpected command ${cmd}`);
    }
  };
  return { calls, handler };
}

function rows(root: HTMLElement): HTMLElement[] {
  return [
    ...root.querySelectorAll<HTMLElement>(
      '[data-testid="failure-table"] [data-testid="virtual-row"]',
    ),
  ];
}

function click(el: Element | null | undefined): void {
  if (!el) throw new Error("nothing to click");
  (el as HTMLElement).click();
  flushSync();
}

beforeEach(() => {
  resetImporter();
  go({ name: "job", jobId: "job-1" });
});

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
    fakeBackend(failures().handler);
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="manifest-table"]') !== null);
    expect(root.querySelector('[data-testid="job-status"]')?.textContent).toBe(
      "Completed with errors",
    );
    expect(root.querySelector('[role="alert"]')).toBeNull();
    expect(root.textContent).toContain("Most resources were imported");
  });

  it("says so when HealthLake rejected every resource", async () => {
    const { handler } = failures(6);
    fakeBackend((cmd, args) => {
      if (cmd !== "job_result") return handler(cmd, args);
      const result = completedJob("COMPLETED_WITH_ERRORS");
      if (result.manifest)
        Object.assign(result.manifest, {
          resourcesScanned: 6,
          resourcesImported: 0,
          resourcesWithCustomerError: 6,
        });
      return result;
    });
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="manifest-table"]') !== null);
    expect(root.textContent).toContain("HealthLake rejected every resource");
    expect(root.textContent).not.toContain("Most resources were imported");
  });

  it("after a sandbox import, says where the real one is chosen; not on AWS", async () => {
    fakeBackend((cmd) => {
      if (cmd === "job_result") return completedJob();
      throw new Error(`unexpected command ${cmd}`);
    });
    destination.connection = sandboxConnection();
    let root = render();
    await waitFor(() => root.querySelector('[data-testid="manifest-table"]') !== null);
    expect(root.querySelector('[data-testid="sandbox-next"]')?.textContent).toMatch(
      /choose your AWS profile/,
    );
    if (component) unmount(component);
    destination.connection = { ...sandboxConnection(), kind: "aws" };
    root = render();
    await waitFor(() => root.querySelector('[data-testid="manifest-table"]') !== null);
    expect(root.querySelector('[data-testid="sandbox-next"]')).toBeNull();
    destination.connection = null;
  });

  it("says what to do about a failed job, with HealthLake's message one click away", async () => {
    const message = "Number of input files 10001 exceeds the limit of 10000 files per import job";
    fakeBackend((cmd) => {
      if (cmd !== "job_result") throw new Error(`unexpected command ${cmd}`);
      const { job } = completedJob("FAILED");
      return {
        job: { ...job, message, advice: "Import the files in batches of 10,000 or fewer." },
        manifest: null,
      };
    });
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="job-advice"]') !== null);
    expect(root.querySelector('[data-testid="job-advice"]')?.textContent).toContain(
      "batches of 10,000 or fewer",
    );
    const details = root.querySelector("details");
    expect(details?.open).toBe(false);
    expect(details?.textContent).toContain(message);
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
        encryption: "aws:kms (arn:aws:kms:us-east-1:000000000000:key/k1)",
        alreadyStarted: false,
      },
      files: sampleReport().files,
      options: { jobName: null, level: "structure-only" },
    };
    fakeBackend(() => completedJob());
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="skipped-files"]') !== null);
    expect(root.querySelector('[data-testid="upload-encryption"]')?.textContent).toContain(
      "aws:kms (arn:aws:kms:us-east-1:000000000000:key/k1)",
    );
    expect(root.querySelector('[data-testid="skipped-files"] li')?.textContent).toBe(
      "log.ndjson — not FHIR, not uploaded",
    );
  });

  it("names every job of an import of more than 10,000 files, each one click away", async () => {
    const job = (jobId: string, files: number) => ({
      jobId,
      batchId: `b-${jobId}`,
      inputUri: `s3://in/${jobId}/`,
      files,
      alreadyStarted: false,
    });
    importer.last = {
      started: {
        jobId: "job-1",
        batchId: "b-job-1",
        datastoreId: "ds-1",
        inputUri: "s3://in/job-1/",
        outputUri: "s3://out/x/",
        filesUploaded: 10_050,
        filesSkipped: [],
        encryption: null,
        alreadyStarted: false,
        jobs: [job("job-1", 10_000), job("job-2", 50)],
      },
      files: sampleReport().files,
      options: { jobName: null, level: "structure-only" },
    };
    fakeBackend(() => completedJob());
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="import-jobs"]') !== null);
    const section = root.querySelector('[data-testid="import-jobs"]');
    expect(section?.querySelector("h2")?.textContent?.trim()).toBe(
      "This import is 2 jobs, run one after the other",
    );
    const items = [...(section?.querySelectorAll("li") ?? [])].map((li) =>
      li.textContent?.replace(/\s+/g, " ").trim(),
    );
    expect(items).toEqual(["Job 1: job-1 · 10,000 files", "Job 2: job-2 · 50 files"]);
    expect(section?.querySelector('[aria-current="page"]')?.textContent).toBe("Job 1: job-1");
    expect(section?.querySelector("li button")?.textContent?.trim()).toBe("Job 2: job-2");
    // The jobs are followed as one import a click away.
    click(section?.querySelector('[data-testid="follow-group"]'));
    expect(nav.view).toEqual({ name: "jobGroup", jobIds: ["job-1", "job-2"] });
  });

  it("says when the files were already imported by this job, and imports them again on request", async () => {
    const files = sampleReport().files.slice(0, 3);
    importer.last = {
      started: {
        jobId: "job-1",
        batchId: "b1",
        datastoreId: "ds-1",
        inputUri: "s3://in/lakedrop/b1/",
        outputUri: "s3://out/x/",
        filesUploaded: 0,
        filesSkipped: [],
        encryption: null,
        alreadyStarted: true,
      },
      files,
      options: { jobName: "weekly", level: "minimal" },
    };
    const requests: unknown[] = [];
    fakeBackend((cmd, args) => {
      if (cmd === "job_result") return completedJob();
      if (cmd === "start_import") {
        requests.push(args.request);
        return {
          ...importer.last?.started,
          jobId: "job-2",
          filesUploaded: 3,
          alreadyStarted: false,
        };
      }
      return [];
    });
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="already-imported"]') !== null);
    expect(root.querySelector('[data-testid="already-imported"]')?.textContent?.trim()).toBe(
      "These files were already imported by this job, so nothing was uploaded again.",
    );
    const again = root.querySelector<HTMLButtonElement>('[data-testid="import-again"]');
    expect(again?.textContent?.trim()).toBe("Import them again");
    again?.click();
    await waitFor(() => "jobId" in nav.view && nav.view.jobId === "job-2");
    expect(requests).toEqual([
      {
        paths: files.map((f) => f.path),
        jobName: "weekly",
        validationLevel: "minimal",
        again: true,
        keepBundles: false,
      },
    ]);
    expect(nav.view).toEqual({ name: "job", jobId: "job-2" });
  });

  it("groups failures by cause with the explanation, the fix and counts per type", async () => {
    fakeBackend(failures(7).handler);
    const root = render();
    await waitFor(() => root.querySelectorAll('[data-testid="cause-group"]').length === 2);
    const groups = [...root.querySelectorAll('[data-testid="cause-group"]')];
    expect(groups.map((g) => g.getAttribute("data-cause"))).toEqual(["wrong-type", "bad-date"]);
    expect(groups[0]?.textContent).toContain("Wrong JSON type");
    expect(groups[0]?.textContent).toContain("4 failures");
    expect(groups[0]?.textContent).toContain("What wrong-type means.");
    expect(groups[0]?.textContent).toContain("How to fix wrong-type.");
    expect(groups[0]?.querySelector('[data-testid="cause-type"]')?.textContent?.trim()).toBe(
      "Patient 4",
    );
    const chartRow = root.querySelector(
      '[data-testid="failure-chart-table"] [data-testid="failures-bad-date:Observation"]',
    );
    expect(chartRow?.textContent).toContain("Bad date or time");
    expect(chartRow?.querySelector("td:last-child")?.textContent).toBe("3");
    expect(root.querySelector('[data-testid="failure-sources"]')?.textContent).toContain(
      "lineId counts from 1",
    );
  });

  it("filters the failure table by the cause of the group chosen, and by type and file", async () => {
    const backend = failures(6);
    fakeBackend(backend.handler);
    const root = render();
    await waitFor(() => rows(root).length === 6);
    expect(backend.calls.rows[0]).toMatchObject({ jobIds: ["job-1"], offset: 0, cause: null });

    click(root.querySelector('[data-cause="bad-date"] [data-testid="cause-filter"]'));
    await waitFor(() => backend.calls.rows.some((a) => a.cause === "bad-date"));
    await waitFor(() => rows(root).length === 3);
    expect(rows(root)[0]?.textContent).toContain("Bad date or time");
    expect(root.querySelector('[data-testid="failure-scope"]')?.textContent).toContain(
      "the 3 failed lines of “Bad date or time”",
    );

    const type = root.querySelector<HTMLSelectElement>('[data-testid="filter-type"]');
    if (!type) throw new Error("no type filter");
    type.value = "Observation";
    type.dispatchEvent(new Event("change", { bubbles: true }));
    flushSync();
    await waitFor(() =>
      backend.calls.rows.some((a) => a.cause === "bad-date" && a.resourceType === "Observation"),
    );
    const file = root.querySelector<HTMLSelectElement>('[data-testid="filter-file"]');
    if (!file) throw new Error("no file filter");
    file.value = "Observation.000.ndjson";
    file.dispatchEvent(new Event("change", { bubbles: true }));
    flushSync();
    await waitFor(() => backend.calls.rows.some((a) => a.file === "Observation.000.ndjson"));
  });

  it("shows the selected failure's original resource with the offending element marked", async () => {
    fakeBackend(failures(6).handler);
    const root = render();
    await waitFor(() => rows(root).length === 6);
    click(rows(root)[0]);
    await waitFor(() => root.querySelector('[data-testid="failure-detail"]') !== null);
    const original = root.querySelector('[data-testid="failure-original"]');
    expect(original?.querySelector("mark")?.textContent).toBe('"gender": 42');
    expect(original?.textContent).toContain('"resourceType": "Patient"');
    const outcome = root.querySelector('[data-testid="failure-outcome"]');
    expect(outcome?.textContent).toContain(WRONG_TYPE);
    expect(outcome?.textContent).toContain("400");
    expect(rows(root)[0]?.getAttribute("aria-selected")).toBe("true");

    // The keyboard moves the selection: the next row is a bad date.
    const grid = root.querySelector('[data-testid="failure-table"]');
    grid?.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    flushSync();
    await waitFor(
      () =>
        root.querySelector('[data-testid="failure-original"] mark')?.textContent ===
        '"effectiveDateTime": "2020-02-31"',
    );
  });

  it("exports the failed lines of the chosen cause", async () => {
    const backend = failures(6);
    fakeBackend(backend.handler);
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="export-failures"]') !== null);
    click(root.querySelector('[data-testid="export-failures"]'));
    await waitFor(() => backend.calls.exports.length === 1);
    expect(backend.calls.exports[0]).toEqual({ jobIds: ["job-1"], cause: null });
    await waitFor(
      () =>
        root.querySelector('[data-testid="failure-action-message"]')?.textContent ===
        "Saved 3 lines.",
    );

    click(root.querySelector('[data-cause="wrong-type"] [data-testid="cause-filter"]'));
    click(root.querySelector('[data-testid="export-failures"]'));
    await waitFor(() => backend.calls.exports.length === 2);
    expect(backend.calls.exports[1]).toEqual({ jobIds: ["job-1"], cause: "wrong-type" });
  });

  it("re-imports the chosen cause's failed lines and opens the new job", async () => {
    const backend = failures(6);
    fakeBackend(backend.handler);
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="retry-failures"]') !== null);
    click(root.querySelector('[data-cause="bad-date"] [data-testid="cause-filter"]'));
    click(root.querySelector('[data-testid="retry-failures"]'));
    await waitFor(() => nav.view.name === "job" && nav.view.jobId === "job-2");
    expect(backend.calls.retries).toEqual([
      { jobIds: ["job-1"], cause: "bad-date", level: null, plan: null },
    ]);
  });

  it("renders a window of rows, not a million, and fetches the page scrolled to", async () => {
    const backend = failures(1_000_000);
    fakeBackend(backend.handler);
    const root = render();
    await waitFor(() => rows(root).length > 0);
    const grid = root.querySelector<HTMLElement>('[data-testid="failure-table"]');
    if (!grid) throw new Error("no table");
    expect(grid.getAttribute("aria-rowcount")).toBe("1000001");
    expect(root.querySelector('[data-testid="failure-count"]')?.textContent).toContain(
      "1,000,000 failures",
    );
    expect(rows(root).length).toBeLessThan(60);
    expect(backend.calls.rows.every((a) => (a.limit as number) <= 500)).toBe(true);

    // Halfway down the scroll range is about row 500,000.
    const spacer = grid.querySelector<HTMLElement>(".spacer");
    const height = Number.parseFloat(spacer?.style.height ?? "0");
    grid.scrollTop = height / 2;
    grid.dispatchEvent(new Event("scroll"));
    flushSync();
    await waitFor(() => backend.calls.rows.some((a) => (a.offset as number) >= 499_000));
    await waitFor(() => !rows(root).some((r) => r.textContent?.includes("…")));
    const shown = rows(root);
    expect(shown.length).toBeLessThan(60);
    const first = Number(shown[0]?.getAttribute("aria-rowindex")) - 2;
    expect(Math.abs(first - 500_000)).toBeLessThan(100);
    expect(shown[0]?.textContent).toContain((first + 1).toLocaleString("en-US"));
  });

  it("offers to try again when a page of failures cannot be read", async () => {
    const backend = failures(6);
    let refuse = true;
    fakeBackend((cmd, args) => {
      if (cmd === "failure_rows" && refuse) {
        refuse = false;
        throw { code: "io", message: "FAILURE file: connection reset" };
      }
      return backend.handler(cmd, args);
    });
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="failures"] [role="alert"]') !== null);
    const again = [
      ...root.querySelectorAll<HTMLButtonElement>('[data-testid="failures"] button'),
    ].find((b) => b.textContent?.trim() === "Try again");
    click(again);
    await waitFor(() => rows(root).length === 6);
    expect(root.querySelector('[data-testid="failures"] [role="alert"]')).toBeNull();
  });
});
