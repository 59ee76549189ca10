import { flushSync, mount, unmount } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { emitDrop, emitMenu, fakeBackend, resetBackend } from "./ipc/testing";
import { go, nav } from "./state/navigation.svelte";
import { checked, resetFiles } from "./state/files.svelte";
import { importer, resetImporter, startImport } from "./state/importer.svelte";
import { sampleReport } from "./test/fixtures";
import App from "./App.svelte";
import { waitFor } from "./test/wait";

let component: ReturnType<typeof mount> | null = null;

beforeEach(() => {
  resetFiles();
  resetImporter();
  go({ name: "files" });
});

afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  resetBackend();
});

function backend(
  initial: string[],
  more: (cmd: string, args: Record<string, unknown>) => unknown = () => undefined,
) {
  const validated: unknown[] = [];
  fakeBackend((cmd, args) => {
    const answer = more(cmd, args);
    if (answer !== undefined) return answer;
    switch (cmd) {
      case "connection":
        return {
          kind: "sandbox",
          label: "Sandbox",
          region: "us-east-1",
          endpoint: "http://127.0.0.1:1",
          datastoreId: "ds-1",
          datastoreName: "demo",
          inputBucket: "in",
          outputBucket: "out",
          kmsKeyId: "k",
          kmsKeyAlias: null,
          roleArn: "arn:aws:iam::0:role/r",
        };
      case "initial_paths":
        return initial;
      case "validate_files":
        validated.push(args.paths);
        return sampleReport();
      default:
        throw { code: "internal", message: `unexpected ${cmd}` };
    }
  });
  return validated;
}

function render(): HTMLElement {
  const target = document.createElement("div");
  document.body.append(target);
  component = mount(App, { target });
  flushSync();
  return target;
}

describe("App", () => {
  it("shows the active connection in the header", async () => {
    backend([]);
    const root = render();
    await waitFor(
      () =>
        root.querySelector('[data-testid="connection"]')?.textContent?.includes("demo") ?? false,
    );
    const text = root
      .querySelector('[data-testid="connection"]')
      ?.textContent?.replace(/\s+/g, " ")
      .trim();
    expect(text).toBe("Sandbox · us-east-1 · data store demo");
  });

  it("validates a native drop once it listens, as the e2e test drives it", async () => {
    const validated = backend([]);
    const root = render();
    const zone = () => root.querySelector('[data-testid="drop-zone"]');
    await waitFor(() => zone()?.getAttribute("data-drop-ready") === "true");

    await emitDrop(["/data/10-patients"]);
    await waitFor(() => root.querySelectorAll('[data-testid="file-row"]').length === 14);
    expect(validated).toEqual([["/data/10-patients"]]);
    expect(root.querySelector('[data-testid="live-region"]')?.textContent).toContain(
      "Check finished",
    );
  });

  it("checks paths given on the command line at startup", async () => {
    const validated = backend(["/data/10-patients"]);
    const root = render();
    await waitFor(() => root.querySelector('[data-testid="validation-summary"]') !== null);
    expect(validated).toEqual([["/data/10-patients"]]);
  });

  it("follows the app menu between views", async () => {
    backend([]);
    const target = document.createElement("div");
    document.body.append(target);
    component = mount(App, { target });
    flushSync();
    await waitFor(() => document.querySelector('[data-drop-ready="true"]') !== null);
    await new Promise((r) => setTimeout(r, 20));
    await emitMenu("view-jobs");
    await waitFor(() => nav.view.name === "jobs");
    await emitMenu("view-files");
    await waitFor(() => nav.view.name === "files");
  });

  it("lets the person look elsewhere while an upload runs, and leaves them there when its job starts", async () => {
    let finish: (value: unknown) => void = () => {};
    backend([], (cmd) => {
      switch (cmd) {
        case "start_import":
          return new Promise((resolve) => (finish = resolve));
        case "list_jobs":
          return [];
        case "notify_finished":
          return false;
        default:
          return undefined;
      }
    });
    const root = render();
    await waitFor(() => document.querySelector('[data-drop-ready="true"]') !== null);
    checked.files = sampleReport().files;
    const importing = startImport(checked.files);
    await waitFor(() => nav.view.name === "import");

    root.querySelector<HTMLButtonElement>('[data-testid="nav-jobs"]')?.click();
    await waitFor(() => nav.view.name === "jobs");
    expect(root.querySelector('[data-testid="activity"] summary')?.textContent).toContain(
      "Uploading",
    );
    root.querySelector<HTMLButtonElement>('[data-testid="nav-files"]')?.click();
    await waitFor(() => nav.view.name === "files");
    expect(root.querySelector("#import-blocker")?.textContent).toMatch(
      /An import is uploading now/,
    );

    // The upload's own view is one step away, from the status area.
    root.querySelector<HTMLButtonElement>('[data-testid="activity-upload"] button')?.click();
    await waitFor(() => nav.view.name === "import");
    root.querySelector<HTMLButtonElement>('[data-testid="nav-jobs"]')?.click();
    await waitFor(() => nav.view.name === "jobs");

    finish({
      jobId: "job-9",
      datastoreId: "ds-1",
      inputUri: "s3://in/lakedrop/b/",
      filesUploaded: 13,
      filesSkipped: [],
      encryption: null,
    });
    await importing;
    expect(importer.phase).toBe("submitted");
    expect(nav.view.name).toBe("jobs");
  });

  it("says where the person is that an import stopped, with a way to it", async () => {
    backend([], (cmd) => {
      if (cmd === "start_import")
        return Promise.reject({ code: "offline", message: "connection refused" });
      if (cmd === "list_jobs") return [];
      if (cmd === "notify_finished") return false;
      return undefined;
    });
    const root = render();
    await waitFor(() => document.querySelector('[data-drop-ready="true"]') !== null);
    nav.view = { name: "jobs" };
    await startImport(sampleReport().files);
    expect(importer.phase).toBe("failed");
    expect(nav.view.name).toBe("import");
    // The failed import took the Upload view; the person goes to the jobs list and is still told.
    root.querySelector<HTMLButtonElement>('[data-testid="nav-jobs"]')?.click();
    await waitFor(() => root.querySelector('[data-testid="import-stopped"]') !== null);
    expect(root.querySelector('[data-testid="import-stopped"]')?.textContent).toContain(
      "The import stopped: Lakedrop could not reach AWS.",
    );
    root.querySelector<HTMLButtonElement>('[data-testid="import-stopped"] button.primary')?.click();
    await waitFor(() => nav.view.name === "import");
    expect(root.querySelector('[data-testid="import-stopped"]')).toBeNull();
  });
});
