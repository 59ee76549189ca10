import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, describe, expect, it } from "vitest";
import { resetWatcher } from "../state/watcher.svelte";
import { fakeBackend, resetBackend } from "../ipc/testing";
import { live } from "../state/announcer.svelte";
import { nav } from "../state/navigation.svelte";
import { completedJob } from "../test/fixtures";
import JobsView from "./JobsView.svelte";

let component: ReturnType<typeof mount> | null = null;

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 0));
    await tick();
  }
}

async function render(): Promise<HTMLElement> {
  const target = document.createElement("div");
  document.body.append(target);
  component = mount(JobsView, { target });
  flushSync();
  await settle();
  return target;
}

afterEach(() => {
  resetWatcher();
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  resetBackend();
});

describe("JobsView", () => {
  it("lists jobs with their status and opens one", async () => {
    const partial = completedJob("COMPLETED_WITH_ERRORS").job;
    fakeBackend(() => [{ ...partial, jobId: "job-2", jobName: null }, completedJob().job]);
    const root = await render();

    const badges = [...root.querySelectorAll('[data-testid="job-list-status"]')];
    expect(badges.map((b) => b.textContent)).toEqual(["Completed with errors", "Completed"]);
    root.querySelector<HTMLButtonElement>("li button")?.click();
    expect(nav.view).toEqual({ name: "job", jobId: "job-2" });
  });

  it("filters jobs by status and by name", async () => {
    const partial = completedJob("COMPLETED_WITH_ERRORS").job;
    fakeBackend(() => [{ ...partial, jobId: "job-2", jobName: "weekly" }, completedJob().job]);
    const root = await render();
    const rows = (): number => root.querySelectorAll('[data-testid="job-list-status"]').length;
    expect(rows()).toBe(2);
    const status = root.querySelector<HTMLSelectElement>('[data-testid="job-filter-status"]');
    if (!status) throw new Error("no status filter");
    status.value = "partial";
    status.dispatchEvent(new Event("change"));
    flushSync();
    expect(rows()).toBe(1);
    status.value = "";
    status.dispatchEvent(new Event("change"));
    const name = root.querySelector<HTMLInputElement>('[data-testid="job-filter-name"]');
    if (!name) throw new Error("no name filter");
    name.value = "nothing-like-it";
    name.dispatchEvent(new Event("input"));
    flushSync();
    expect(rows()).toBe(0);
    expect(root.textContent).toContain("No job matches these filters.");
  });

  it("says so when there are no jobs yet", async () => {
    fakeBackend(() => []);
    const root = await render();
    expect(root.textContent).toContain("No import jobs yet");
  });

  it("cleans up abandoned uploads on request and says what it did, beside the button and aloud", async () => {
    const calls: string[] = [];
    fakeBackend((cmd) => {
      calls.push(cmd);
      if (cmd === "clean_uploads") return { aborted: 2, resumable: 1, others: 0 };
      return [];
    });
    const root = await render();
    const button = root.querySelector<HTMLButtonElement>('[data-testid="clean-uploads"]');
    expect(button?.textContent?.trim()).toBe("Clean up abandoned uploads");
    button?.click();
    await settle();
    const said =
      "2 abandoned uploads aborted. 1 interrupted upload kept: importing the same files again resumes it.";
    expect(root.querySelector('[data-testid="clean-result"]')?.textContent).toBe(said);
    expect(live.message).toBe(said);
    expect(calls.filter((c) => c === "clean_uploads")).toHaveLength(1);
  });

  it("shows why cleaning up failed, as the view shows its other errors", async () => {
    fakeBackend((cmd) => {
      if (cmd === "clean_uploads")
        throw { code: "access-denied", message: "access denied to ListMultipartUploads: no" };
      return [];
    });
    const root = await render();
    root.querySelector<HTMLButtonElement>('[data-testid="clean-uploads"]')?.click();
    await settle();
    const alert = root.querySelector('[role="alert"]');
    expect(alert?.textContent).toContain(
      "AWS refused the request: the role in use is not allowed to do this.",
    );
    expect(alert?.textContent).toContain("access denied to ListMultipartUploads: no");
    expect(root.querySelector('[data-testid="clean-result"]')).toBeNull();
    expect(live.message).toMatch(/^Could not clean up abandoned uploads\./);
  });
});
