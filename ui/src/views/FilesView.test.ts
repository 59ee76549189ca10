import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fakeBackend, resetBackend, sendOnChannel } from "../ipc/testing";
import { destination } from "../state/connection.svelte";
import { checked, resetFiles } from "../state/files.svelte";
import { resetImporter } from "../state/importer.svelte";
import { nav } from "../state/navigation.svelte";
import { fileReport, sampleReport, sandboxConnection } from "../test/fixtures";
import type { ValidationReport } from "../ipc";
import FilesView from "./FilesView.svelte";

let component: ReturnType<typeof mount> | null = null;

function render(): HTMLElement {
  const target = document.createElement("div");
  document.body.append(target);
  component = mount(FilesView, { target });
  flushSync();
  return target;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 0));
    await tick();
  }
}

function button(root: HTMLElement, text: string): HTMLButtonElement {
  const found = [...root.querySelectorAll("button")].find((b) =>
    b.textContent?.replace(/\s+/g, " ").includes(text),
  );
  if (!found) throw new Error(`no button "${text}"`);
  return found;
}

/** A backend whose file picker returns `picked` and whose validator returns `report`. */
function backendWith(picked: string[], report: ValidationReport) {
  const validated: unknown[] = [];
  fakeBackend((cmd, args) => {
    switch (cmd) {
      case "pick_files":
        return picked;
      case "validate_files":
        validated.push(args.paths);
        sendOnChannel(args.onProgress, [
          { event: "fileStarted", path: picked[0] },
          { event: "progress", bytesDone: 10, bytesTotal: 20, linesDone: 3 },
        ]);
        return report;
      default:
        throw { code: "internal", message: `unexpected ${cmd}` };
    }
  });
  return validated;
}

beforeEach(() => {
  resetFiles();
  resetImporter();
  destination.connection = sandboxConnection();
});

afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
  resetBackend();
});

describe("FilesView", () => {
  it("shows a drop zone and no import button before any file is added", () => {
    const root = render();
    expect(root.querySelector('[data-testid="drop-zone"]')?.textContent).toContain(
      "Drop .ndjson files, Bundles or folders here",
    );
    expect(root.querySelector('[data-testid="import-button"]')).toBeNull();
  });

  it("offers the bundled sample on a first run on the sandbox, and checks it", async () => {
    expect(destination.connection?.kind).toBe("sandbox");
    let checkedPaths: unknown = null;
    fakeBackend((cmd, args) => {
      if (cmd === "sample_paths") return ["/opt/lakedrop/samples/synthea-10-patients"];
      if (cmd === "validate_files") {
        checkedPaths = args.paths;
        return sampleReport();
      }
      return null;
    });
    const root = render();
    button(root, "Check the sample").click();
    await settle();
    expect(checkedPaths).toEqual(["/opt/lakedrop/samples/synthea-10-patients"]);
    expect(root.querySelector('[data-testid="first-run"]')).toBeNull();
    expect(root.querySelector('[data-testid="validation-summary"]')?.textContent).toContain(
      "7,160 resources",
    );
  });

  it("validates picked files and summarizes the report, with import enabled", async () => {
    const validated = backendWith(["/data/10-patients"], sampleReport());
    const root = render();

    button(root, "Choose files…").click();
    await settle();

    expect(validated).toEqual([["/data/10-patients"]]);
    const rows = root.querySelectorAll('[data-testid="file-row"]');
    expect(rows).toHaveLength(14);
    const log = [...rows].find((r) => r.textContent?.includes("log.ndjson"));
    expect(log?.querySelector('[data-testid="file-status"]')?.textContent).toBe(
      "Not FHIR — will be skipped",
    );
    expect(root.querySelector('[data-testid="validation-summary"]')?.textContent).toBe(
      "7,160 resources in 13 files ready to import · 1 file skipped (not FHIR)",
    );
    const importButton = root.querySelector<HTMLButtonElement>('[data-testid="import-button"]');
    expect(importButton?.textContent?.trim()).toBe("Next: where to import");
    expect(importButton?.disabled).toBe(false);
  });

  it("cancels a running check with the same operation id and shows no error", async () => {
    let cancelled: (() => void) | null = null;
    const calls: { cmd: string; opId: unknown }[] = [];
    fakeBackend((cmd, args) => {
      calls.push({ cmd, opId: args.opId });
      switch (cmd) {
        case "pick_files":
          return ["/data/huge.ndjson"];
        case "validate_files":
          // The backend answers only when cancelled, as a long check would.
          return new Promise((_, reject) => {
            cancelled = () => reject({ code: "cancelled", message: "cancelled" });
          });
        case "cancel":
          cancelled?.();
          return null;
        default:
          throw { code: "internal", message: `unexpected ${cmd}` };
      }
    });
    const root = render();
    button(root, "Choose files…").click();
    await settle();
    expect(checked.checking).toBe(true);

    root.querySelector<HTMLButtonElement>('[data-testid="cancel-check"]')?.click();
    await settle();

    const validate = calls.find((c) => c.cmd === "validate_files");
    const cancel = calls.find((c) => c.cmd === "cancel");
    expect(typeof validate?.opId).toBe("string");
    expect(cancel?.opId).toBe(validate?.opId);
    expect(checked.checking).toBe(false);
    expect(checked.error).toBeNull();
    expect(root.querySelector('[data-testid="file-row"]')).toBeNull();
  });

  it("disables import, with the reason, when nothing is valid", async () => {
    backendWith(["/data/log.ndjson"], {
      files: [fileReport({ name: "log.ndjson", valid: 0, notFhir: true })],
      valid: 0,
      invalid: 0,
      issues: [],
    });
    const root = render();

    button(root, "Choose files…").click();
    await settle();

    const importButton = root.querySelector<HTMLButtonElement>('[data-testid="import-button"]');
    expect(importButton?.disabled).toBe(true);
    const reasonId = importButton?.getAttribute("aria-describedby");
    expect(reasonId).toBeTruthy();
    expect(root.querySelector(`#${reasonId}`)?.textContent).toMatch(
      /none of these files has a valid FHIR resource/i,
    );
  });

  it("expands a file's issues on demand", async () => {
    backendWith(["/data/10-patients"], sampleReport());
    const root = render();
    button(root, "Choose files…").click();
    await settle();

    const toggle = button(root, "Show 1 issue");
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    toggle.click();
    flushSync();
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    const issues = document.getElementById(toggle.getAttribute("aria-controls") ?? "");
    expect(issues?.textContent).toContain("not a FHIR resource");
    expect(issues?.querySelector('[data-testid="issue-group"]')?.textContent).toContain("Not FHIR");
  });

  it("lists only the files that need attention when asked, and all of them again", async () => {
    backendWith(["/data/10-patients"], sampleReport());
    const root = render();
    button(root, "Choose files…").click();
    await settle();
    const names = () =>
      [...root.querySelectorAll('[data-testid="file-row"]')].map((r) =>
        r.getAttribute("data-path")?.split("/").pop(),
      );
    expect(names()).toHaveLength(14);
    const options = [
      ...root.querySelectorAll<HTMLInputElement>('[data-testid="file-filter"] input'),
    ];
    expect(options.map((o) => o.parentElement?.textContent?.trim())).toEqual([
      "All 14 files",
      "1 needing attention",
    ]);
    options[1]?.click();
    flushSync();
    expect(names()).toEqual(["log.ndjson"]);
    options[0]?.click();
    flushSync();
    expect(names()).toHaveLength(14);
  });

  it("shows an example beside its line with the element marked, and saves the rejected lines", async () => {
    const line = JSON.stringify({ resourceType: "Patient", id: "p1", gender: "dude" });
    const issue = {
      line: 7,
      code: "invalid-value" as const,
      severity: "error" as const,
      path: "Patient.gender",
      message: '"dude" is not an allowed code for gender',
    };
    const report = {
      files: [
        fileReport({ name: "Patient.ndjson", lines: 9, valid: 8, invalid: 1, issues: [issue] }),
      ],
      valid: 8,
      invalid: 1,
      issues: [],
    };
    const calls: [string, Record<string, unknown>][] = [];
    fakeBackend((cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "pick_files") return ["/data/Patient.ndjson"];
      if (cmd === "validate_files") return report;
      if (cmd === "line_text") return line;
      if (cmd === "export_rejected") return 1;
      return null;
    });
    const root = render();
    button(root, "Choose files…").click();
    await settle();
    button(root, "Show 1 issue").click();
    flushSync();
    const group = root.querySelector('[data-testid="issue-group"]');
    expect(group?.textContent).toContain("Invalid value");
    expect(group?.textContent).toContain("1 line");

    (root.querySelector('[data-testid="issue-example"]') as HTMLButtonElement).click();
    await settle();
    expect(calls).toContainEqual([
      "line_text",
      { path: "/data/10-patients/Patient.ndjson", line: 7, keepBundles: false },
    ]);
    const shown = root.querySelector('[data-testid="issue-line"]');
    expect(shown?.querySelector("mark")?.textContent).toBe('"gender": "dude"');

    button(root, "Save the 1 rejected line…").click();
    await settle();
    expect(calls.some(([cmd]) => cmd === "export_rejected")).toBe(true);
    expect(root.textContent).toContain("Saved 1 rejected line.");

    button(root, "Leave this file out").click();
    flushSync();
    expect(checked.files).toHaveLength(0);
  });

  it("explains a failed check in plain words, with the raw message behind Details", async () => {
    fakeBackend((cmd) => {
      if (cmd === "pick_files") return ["/nope"];
      throw { code: "not-found", message: "/nope: No such file or directory (os error 2)" };
    });
    const root = render();
    button(root, "Choose files…").click();
    await settle();

    const alert = root.querySelector('[role="alert"]');
    expect(alert?.textContent).toContain("could not be found");
    expect(alert?.querySelector("details pre")?.textContent).toContain("os error 2");
    expect(checked.files).toHaveLength(0);
  });

  it("offers to keep Bundles whole, and checks the Bundle files again as they will then go", async () => {
    const unbundled = {
      bundles: 1,
      bundleType: "transaction",
      entries: 3,
      resources: 3,
      rewritten: 2,
      unresolved: 0,
      unresolvedExamples: [],
    };
    const asBundle = fileReport({
      name: "p1.json",
      lines: 3,
      valid: 3,
      content: "bundle",
      unbundled,
    });
    const kept = {
      ...asBundle,
      lines: 1,
      valid: 1,
      content: "bundleKept" as const,
      unbundled: null,
    };
    const plain = fileReport({ name: "Patient.ndjson", lines: 2, valid: 2 });
    const asked: { paths: unknown; keepBundles: unknown }[] = [];
    fakeBackend((cmd, args) => {
      if (cmd === "pick_files") return [asBundle.path, plain.path];
      if (cmd === "validate_files") {
        asked.push({ paths: args.paths, keepBundles: args.keepBundles });
        const files = args.keepBundles ? [kept] : [asBundle, plain];
        return { files, valid: 0, invalid: 0, issues: [] };
      }
      throw { code: "internal", message: `unexpected ${cmd}` };
    });
    const root = render();
    expect(root.querySelector('[data-testid="bundle-choice"]')).toBeNull();
    button(root, "Choose files").click();
    await settle();
    const box = root.querySelector<HTMLInputElement>('[data-testid="unbundle"]');
    expect(box?.checked).toBe(true);
    const note = () =>
      root.querySelector(`[data-path="${asBundle.path}"] [data-testid="file-input"]`)?.textContent;
    expect(note()).toContain("unbundled into 3 resources");

    box!.click();
    await settle();
    expect(asked.at(-1)).toEqual({ paths: [asBundle.path], keepBundles: true });
    expect(checked.keepBundles).toBe(true);
    expect(note()).toContain("Bundle kept whole: imported as one Bundle resource");
    expect(checked.files.map((f) => f.path)).toEqual([asBundle.path, plain.path]);

    root.querySelector<HTMLInputElement>('[data-testid="unbundle"]')!.click();
    await settle();
    expect(asked.at(-1)).toEqual({ paths: [asBundle.path], keepBundles: false });
    expect(note()).toContain("unbundled into 3 resources");
  });

  it("goes on to choosing where to import", async () => {
    backendWith(["/data/10-patients"], sampleReport());
    const root = render();
    button(root, "Choose files…").click();
    await settle();
    root.querySelector<HTMLButtonElement>('[data-testid="import-button"]')?.click();
    flushSync();
    expect(nav.view.name).toBe("destination");
  });
});
