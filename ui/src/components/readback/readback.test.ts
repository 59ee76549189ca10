import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, describe, expect, it } from "vitest";
import type { LookupAnswer, SampleReport, UnmatchedSample } from "../../ipc";
import { fakeBackend, resetBackend } from "../../ipc/testing";
import { differencePath, verifySummary } from "../../model/readback";
import LookupBox from "./LookupBox.svelte";
import VerifySample from "./VerifySample.svelte";
import { waitFor } from "../../test/wait";

let component: ReturnType<typeof mount> | null = null;

afterEach(() => {
  if (component) void unmount(component);
  component = null;
  document.body.innerHTML = "";
  resetBackend();
});

function byTestId(root: ParentNode, id: string): HTMLElement {
  const el = root.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`no ${id}`);
  return el;
}

const patient = { resourceType: "Patient", id: "p1", gender: "female" };
const changed: UnmatchedSample = {
  resourceType: "Patient",
  id: "p1",
  file: "Patient.000.ndjson",
  line: 3,
  outcome: "differing",
  differences: [{ path: "gender", expected: '"female"', found: '"male"' }],
  source: JSON.stringify(patient, null, 2),
  found: JSON.stringify({ ...patient, gender: "male" }, null, 2),
};
const gone: UnmatchedSample = {
  ...changed,
  resourceType: "Procedure",
  id: "x1",
  file: "Procedure.000.ndjson",
  line: 9,
  outcome: "missing",
  differences: [],
  source: null,
  found: null,
};
const counts = (resourceType: string, sampled: number, differing = 0, missing = 0) => ({
  resourceType,
  imported: 100,
  sampled,
  matched: sampled - differing - missing,
  differing,
  missing,
  unverifiable: 0,
});

describe("verifySummary", () => {
  it("says all matched, or which did not, in one sentence", () => {
    const clean: SampleReport = {
      endpoint: "e",
      perType: 20,
      types: [counts("Patient", 13)],
      unmatched: [],
    };
    expect(verifySummary(clean)).toBe("All 13 sampled resources match what was sent.");
    const mixed: SampleReport = {
      ...clean,
      types: [counts("Patient", 13, 1), counts("Procedure", 20, 0, 1)],
    };
    expect(verifySummary(mixed)).toBe("Of 33 sampled resources, 31 match, 1 differ and 1 missing.");
    expect(verifySummary({ ...clean, types: [] })).toMatch(/no imported resources/);
  });

  it("marks the first differing element under its resource type", () => {
    expect(differencePath(changed)).toBe("Patient.gender");
    expect(differencePath(gone)).toBeNull();
  });
});

describe("VerifySample", () => {
  it("reads a sample back, counts it per type and shows a difference side by side", async () => {
    const asked: unknown[] = [];
    fakeBackend((cmd, args) => {
      if (cmd !== "verify_sample") throw new Error(`unexpected ${cmd}`);
      asked.push(args);
      return {
        endpoint: "http://127.0.0.1:1/datastore/d/r4/",
        perType: 5,
        types: [counts("Patient", 5, 1), counts("Procedure", 5, 0, 1)],
        unmatched: [changed, gone],
      } satisfies SampleReport;
    });
    const target = document.createElement("div");
    document.body.append(target);
    component = mount(VerifySample, { target, props: { jobId: "job-1" } });
    flushSync();
    const input = byTestId(target, "verify-per-type") as HTMLInputElement;
    input.value = "5";
    input.dispatchEvent(new Event("input"));
    byTestId(target, "verify-button").click();
    await waitFor(() => target.querySelector('[data-testid="verify-summary"]') !== null);
    expect(asked).toEqual([{ jobId: "job-1", perType: 5 }]);
    expect(byTestId(target, "verify-summary").textContent).toBe(
      "Of 10 sampled resources, 8 match, 1 differ and 1 missing.",
    );
    const row = byTestId(target, "verify-type-Patient");
    expect([...row.children].map((c) => c.textContent)).toEqual([
      "Patient",
      "100",
      "5",
      "4",
      "1",
      "0",
    ]);
    const items = target.querySelectorAll('[data-testid="verify-unmatched"]');
    expect([...items].map((i) => i.getAttribute("data-outcome"))).toEqual(["differing", "missing"]);
    expect(items[1]?.textContent).toMatch(
      /Procedure\/x1\s+is not in the data store \(line 9 of Procedure\.000\.ndjson\)/,
    );
    const open = byTestId(target, "verify-open");
    expect(open.getAttribute("aria-expanded")).toBe("false");
    open.click();
    flushSync();
    expect(open.getAttribute("aria-expanded")).toBe("true");
    expect(byTestId(target, "verify-sent").querySelector("mark")?.textContent).toBe(
      '"gender": "female"',
    );
    expect(byTestId(target, "verify-found").querySelector("mark")?.textContent).toBe(
      '"gender": "male"',
    );
    expect(byTestId(target, "verify-difference-row").textContent).toContain('"female"');
    expect(byTestId(target, "verify-button").textContent?.trim()).toBe("Verify again");
  });

  it("says why when the data store cannot be read", async () => {
    fakeBackend(() => {
      throw {
        code: "access-denied",
        message: "access denied to ReadResource: needs healthlake:ReadResource",
      };
    });
    const target = document.createElement("div");
    document.body.append(target);
    component = mount(VerifySample, { target, props: { jobId: "job-1" } });
    flushSync();
    byTestId(target, "verify-button").click();
    await waitFor(() => target.querySelector('[role="alert"]') !== null);
    expect(target.querySelector('[role="alert"]')?.textContent).toContain(
      "healthlake:ReadResource",
    );
  });
});

describe("LookupBox", () => {
  function render(answers: Record<string, LookupAnswer>): HTMLElement {
    fakeBackend((cmd, args) => {
      if (cmd === "fhir_lookup") {
        const answer = answers[String(args.text)];
        if (!answer) throw { code: "invalid-input", message: "not a resource type" };
        return answer;
      }
      if (cmd === "fhir_page")
        return { total: 3, entries: [{ reference: "Encounter/e3", text: "{}" }], next: null };
      throw new Error(`unexpected ${cmd}`);
    });
    const target = document.createElement("div");
    document.body.append(target);
    component = mount(LookupBox, { target, props: {} });
    flushSync();
    return target;
  }

  async function ask(target: HTMLElement, text: string): Promise<void> {
    const input = byTestId(target, "lookup-input") as HTMLInputElement;
    input.value = text;
    input.dispatchEvent(new Event("input"));
    flushSync();
    byTestId(target, "lookup-submit").click();
    await waitFor(
      () => !(byTestId(target, "lookup-submit") as HTMLButtonElement).textContent?.includes("…"),
    );
    await tick();
  }

  it("answers a read with the resource, and an absent one in words", async () => {
    const target = render({
      "Patient/p1": {
        kind: "resource",
        reference: "Patient/p1",
        text: JSON.stringify(patient, null, 2),
      },
      "Patient/none": { kind: "absent", reference: "Patient/none" },
    });
    await ask(target, "Patient/p1");
    await waitFor(() => target.querySelector('[data-testid="lookup-resource"]') !== null);
    expect(byTestId(target, "lookup-resource").textContent).toContain('"gender": "female"');
    await ask(target, "Patient/none");
    await waitFor(() => target.querySelector('[data-testid="lookup-absent"]') !== null);
    expect(byTestId(target, "lookup-absent").textContent).toMatch(
      /Patient\/none is not in the data store/,
    );
  });

  it("pages a search and opens an entry", async () => {
    const target = render({
      "Encounter?subject=Patient/p1": {
        kind: "page",
        total: 3,
        entries: [
          { reference: "Encounter/e1", text: '{\n  "id": "e1"\n}' },
          { reference: "Encounter/e2", text: "{}" },
        ],
        next: "http://x/datastore/d/r4/Encounter?page=e2",
      },
    });
    await ask(target, "Encounter?subject=Patient/p1");
    await waitFor(() => target.querySelector('[data-testid="lookup-total"]') !== null);
    expect(byTestId(target, "lookup-total").textContent?.trim()).toBe("3 matches, 2 shown.");
    byTestId(target, "lookup-more").click();
    await waitFor(() => target.querySelectorAll('[data-testid="lookup-entry"]').length === 3);
    expect(target.querySelector('[data-testid="lookup-more"]')).toBeNull();
    const first = byTestId(target, "lookup-entry");
    first.click();
    flushSync();
    expect(first.getAttribute("aria-expanded")).toBe("true");
    expect(target.querySelector('[aria-label="Encounter/e1"]')?.textContent).toContain(
      '"id": "e1"',
    );
  });

  it("shows what is wrong with what was typed", async () => {
    const target = render({});
    await ask(target, "patient/1");
    await waitFor(() => target.querySelector('[role="alert"]') !== null);
    expect(target.querySelector('[role="alert"]')?.textContent).toContain("not a resource type");
  });
});
