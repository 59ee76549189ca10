// The built UI in Chromium over its typed fake backend (ui/src/ipc/fake): the whole flow by
// keyboard alone, an axe-core scan of every view, and a screenshot of every view in the light
// and the dark theme (tests/e2e/artifacts/ui/{light,dark}/). Run by scripts/e2e.sh.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { launch, missing, serve } from "./fake-ui.mjs";

const ARTIFACTS = new URL("./artifacts/ui/", import.meta.url).pathname;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const TERMINAL = ["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCEL_COMPLETED"];
const ROLE = "arn:aws:iam::000000000000:role/LakedropSandboxImport";
/** The fake's sample file with three rejected lines (ui/src/ipc/fake/world.ts). */
const FLAWED = "/home/analyst/Lakedrop samples/synthea-10-patients/Patient.from-clinic.ndjson";
const byTestId = (id) => `[data-testid="${id}"]`;

const why = missing();
/** @type {import("playwright-core").Browser | undefined} */
let browser;
/** @type {{ origin: string, close: () => Promise<unknown> } | undefined} */
let server;

before(async () => {
  if (why) return;
  server = await serve();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens the app in a new page with the system theme `scheme`; `query` sets up the fake backend. */
async function open(scheme, query = "") {
  assert.ok(browser && server);
  const context = await browser.newContext({
    colorScheme: scheme,
    viewport: { width: 1280, height: 800 },
    reducedMotion: "reduce",
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${server.origin}/${query}`);
  // Everything the live region says, in order (it holds only the latest sentence).
  await page.evaluate(() => {
    const said = [];
    /** @type {any} */ (window).announced = said;
    new MutationObserver(() => {
      const text = document.querySelector('[data-testid="live-region"]')?.textContent?.trim();
      if (text && said[said.length - 1] !== text) said.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  return { page, errors };
}

/** axe-core over the whole page, WCAG 2.1 A and AA: zero violations. */
async function axeCheck(page, view) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const r = await /** @type {any} */ (window).axe.run(document, {
      runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"],
    });
    return r.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  assert.deepEqual(violations, [], `accessibility violations in ${view}`);
}

/**
 * Presses Tab (or Shift+Tab) until the element matching `selector` has the focus, so it is
 * reachable by keyboard, and checks the focus is visible.
 */
async function tabTo(page, selector, { back = false } = {}) {
  for (let i = 0; i < 150; i++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    const focus = await page.evaluate((sel) => {
      const el = document.activeElement;
      if (!el || !el.matches(sel)) return null;
      const style = getComputedStyle(el);
      return { visible: el.matches(":focus-visible"), outline: style.outlineStyle, shadow: style.boxShadow };
    }, selector);
    if (focus) {
      assert.ok(focus.visible, `${selector} has the focus but not :focus-visible`);
      assert.ok(focus.outline !== "none" || focus.shadow !== "none", `no visible focus ring on ${selector}`);
      return;
    }
  }
  assert.fail(`${selector} cannot be reached with ${back ? "Shift+Tab" : "Tab"}`);
}

async function press(page, selector, key = "Enter") {
  await tabTo(page, selector);
  await page.keyboard.press(key);
}

for (const scheme of /** @type {const} */ (["light", "dark"])) {
  test(`the whole flow by keyboard alone, ${scheme} theme`, { skip: why ?? false, timeout: 120_000 }, async (t) => {
    const { page, errors } = await open(scheme, "?pace=0.4");
    const dir = `${ARTIFACTS}${scheme}/`;
    mkdirSync(dir, { recursive: true });
    const shot = (name) => page.screenshot({ path: `${dir}${name}.png`, fullPage: true });
    /** Waits until the live region has said something matching `pattern`. */
    const announced = (pattern) =>
      page.waitForFunction(
        (source) => /** @type {any} */ (window).announced.some((t) => new RegExp(source).test(t)),
        pattern.source,
      );
    // Steps run in order; after a failure the rest are skipped rather than each waiting out its
    // own timeout, and the page at the failure is saved.
    let failed = "";
    const step = (name, fn) =>
      t.test(name, { skip: failed ? `skipped: "${failed}" failed` : false }, async () => {
        try {
          await fn();
        } catch (e) {
          failed = name;
          await shot("failed");
          throw e;
        }
      });

    await step("the theme follows the system setting", async () => {
      const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
      const [r, g, b] = (background.match(/\d+/g) ?? []).map(Number);
      const luminance = (r + g + b) / 3;
      assert.ok(scheme === "dark" ? luminance < 80 : luminance > 200, `page background ${background} in ${scheme}`);
    });

    await step("first run: the sample is offered and checked", async () => {
      await page.locator(byTestId("try-sample")).waitFor();
      await shot("01-first-run");
      await axeCheck(page, "the first-run files view");
      await press(page, byTestId("try-sample"));
      const summary = page.locator(byTestId("validation-summary"));
      await summary.waitFor();
      assert.equal(
        await summary.innerText(),
        "7,197 resources in 14 files ready to import · 3 lines will be rejected · 1 file skipped (not FHIR)",
      );
      assert.equal(await page.locator(byTestId("file-row")).count(), 15);
      await shot("02-files-checked");
      await axeCheck(page, "the checked files");
    });

    await step("a flawed file's issues open beside their lines", async () => {
      const flawed = '[data-testid="file-row"][data-path$="Patient.from-clinic.ndjson"]';
      await press(page, `${flawed} button[aria-expanded]`);
      const example = `${flawed} [data-testid="issue-group"][data-code="unknown-element"] [data-testid="issue-example"]`;
      await press(page, example);
      const mark = page.locator(`${flawed} [data-testid="issue-line"] mark`);
      await mark.waitFor();
      assert.equal(await mark.innerText(), '"nickname": "Annie"');
      await shot("03-issue-beside-its-line");
      await axeCheck(page, "a file's issues");
    });

    await step("the destination: a wrong role fails with its fix, the right one passes", async () => {
      await press(page, byTestId("import-button"));
      await page.locator("#main-heading", { hasText: "Where to import" }).waitFor();
      await page.waitForFunction(() => document.querySelector('[data-testid="datastore"]')?.value);
      await tabTo(page, byTestId("role-arn"));
      await page.keyboard.press("Control+A");
      await page.keyboard.type("arn:aws:iam::000000000000:role/LakedropTypo");
      await press(page, byTestId("run-checks"));
      const trust = page.locator('[data-testid="check"][data-check="role-trust"]');
      await trust.waitFor();
      assert.equal(await trust.getAttribute("data-status"), "fail");
      assert.match(await trust.innerText(), /does not exist/);
      assert.equal(await page.locator(byTestId("start-import")).isDisabled(), true);
      await announced(/1 of 7 checks failed/);
      await shot("04-preflight-failed");
      await axeCheck(page, "the destination with a failed check");

      await tabTo(page, byTestId("role-arn"), { back: true });
      await page.keyboard.press("Control+A");
      await page.keyboard.type(ROLE);
      await press(page, byTestId("run-checks"));
      await page.locator('[data-testid="check"][data-check="role-trust"][data-status="pass"]').waitFor();
      await announced(/All 7 checks passed, 1 with warnings/);
      await shot("05-preflight-passed");
      await axeCheck(page, "the destination");
    });

    await step("the upload runs, and the job follows", async () => {
      await press(page, byTestId("start-import"));
      await page.locator(byTestId("upload-rate")).waitFor();
      await shot("06-uploading");
      await axeCheck(page, "the upload");
      const status = page.locator(byTestId("job-status"));
      await status.waitFor({ timeout: 30_000 });
      await page.waitForFunction(
        (terminal) => terminal.includes(document.querySelector('[data-testid="job-status"]')?.getAttribute("data-status")),
        TERMINAL,
        { timeout: 30_000 },
      );
      assert.equal(await status.getAttribute("data-status"), "COMPLETED_WITH_ERRORS");
      await page.locator(`${byTestId("manifest-chart")} svg`).waitFor();
      const imported = page.locator(`${byTestId("manifest-table")} ${byTestId("count-resourcesImported")} td`);
      assert.equal(await imported.innerText(), "7,197");
      // The job ended in view: the view says so, and no banner above it repeats it.
      await page.locator(byTestId("activity")).waitFor({ state: "detached" });
      assert.equal(await page.locator(byTestId("job-ended")).count(), 0, "a banner repeats the view");
      await announced(/Import job .* started/);
      await announced(/Job completed with errors\. 7,197 resources imported/);
      await announced(/3 failures read, in 3 causes/);
      await shot("07-job-results");
      await axeCheck(page, "the job's results");
    });

    await step("a failure is reviewed beside its original line", async () => {
      await press(page, '[data-testid="cause-group"][data-cause="invalid-code"] [data-testid="cause-filter"]');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="virtual-row"]').length === 1);
      await press(page, '[role="grid"]', "ArrowDown");
      const original = page.locator(byTestId("failure-original"));
      await original.waitFor();
      assert.equal(await original.locator("mark").innerText(), '"gender": "dude"');
      await shot("08-failure-beside-its-line");
      await axeCheck(page, "a failure under review");
    });

    await step("only the failed line of that cause is imported again, as a new job", async () => {
      await press(page, byTestId("retry-failures"));
      const scanned = page.locator(`${byTestId("manifest-table")} ${byTestId("count-resourcesScanned")} td`);
      await page.waitForFunction(
        () =>
          document.querySelector('[data-testid="manifest-table"] [data-testid="count-resourcesScanned"] td')
            ?.textContent === "1",
        undefined,
        { timeout: 30_000 },
      );
      assert.equal(await scanned.innerText(), "1");
      assert.match(await page.locator("main").innerText(), /retry-[\s\S]*HealthLake rejected every resource/);
      await shot("09-retry-job");
    });

    await step("the jobs list, reached from the header", async () => {
      await tabTo(page, byTestId("nav-jobs"), { back: true });
      await page.keyboard.press("Enter");
      await page.locator(byTestId("job-list-status")).first().waitFor();
      assert.equal(await page.locator(byTestId("job-list-status")).count(), 3);
      await shot("10-jobs");
      await axeCheck(page, "the jobs list");
    });

    assert.deepEqual(errors, [], "errors in the page's console");
  });
}

test("a thousand dropped files are listed without rendering a thousand rows", { skip: why ?? false, timeout: 60_000 }, async () => {
  const { page, errors } = await open("light", "?files=1000&pace=0");
  await page.locator(byTestId("drop-zone")).waitFor();
  // A thousand valid files after one with rejected lines, whose issues stay open while it scrolls away.
  await page.evaluate((flawed) => {
    const fake = /** @type {any} */ (window).lakedropFake;
    return fake.drop([flawed, ...fake.world.samplePaths()]);
  }, FLAWED);
  const summary = page.locator(byTestId("validation-summary"));
  await summary.waitFor();
  assert.match(await summary.innerText(), /^25,037 resources in 1,001 files ready to import · 3 lines will be rejected/);
  const rendered = await page.locator(byTestId("file-row")).count();
  assert.ok(rendered > 0 && rendered < 100, `${rendered} rows rendered for 1,001 files`);
  const flawed = page.locator(`[data-testid="file-row"][data-path="${FLAWED}"]`);
  await flawed.getByRole("button", { name: "Show 3 issues" }).click();
  await flawed.locator(byTestId("issue-group")).first().waitFor();
  // The last file is there at the end of the page.
  await page.mouse.move(640, 400);
  for (let i = 0; i < 40 && !(await page.locator('[data-path$="Observation.0999.ndjson"]').count()); i++)
    await page.mouse.wheel(0, 20_000);
  const last = page.locator('[data-testid="file-row"][data-path$="Observation.0999.ndjson"]');
  await last.waitFor();
  assert.equal(await flawed.count(), 0, "the first row is still rendered at the end of the list");
  // Once settled, rows fill the view from its top to the last file: no gap where rows are missing.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const box = await last.boundingBox();
  assert.ok(box && box.y + box.height <= 800, `the last file is not in view: ${JSON.stringify(box)}`);
  const covered = await page.evaluate(() =>
    [5, 200, 400, 600].map((y) => Boolean(document.elementFromPoint(640, y)?.closest('[data-testid="file-row"]'))),
  );
  assert.deepEqual(covered, [true, true, true, true], "rows missing from the view");
  mkdirSync(`${ARTIFACTS}light/`, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}light/13-thousand-files.png` });
  await axeCheck(page, "a thousand files");
  // Back at the top, the flawed file's issues are still open.
  await page.keyboard.press("Home");
  await flawed.locator(byTestId("issue-group")).first().waitFor();
  assert.equal(await flawed.getByRole("button", { name: "Hide 3 issues" }).getAttribute("aria-expanded"), "true");
  // The one file that needs attention, alone, by keyboard: the filter is a radio group.
  await tabTo(page, `${byTestId("file-filter")} input:checked`, { back: true });
  await page.keyboard.press("ArrowRight");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="file-row"]').length === 1);
  assert.equal(await flawed.count(), 1);
  await page.screenshot({ path: `${ARTIFACTS}light/14-needing-attention.png` });
  await axeCheck(page, "the files needing attention");
  assert.deepEqual(errors, []);
});

for (const scheme of /** @type {const} */ (["light", "dark"])) {
  test(`the status area lists running jobs and opens one, by keyboard, ${scheme} theme`, { skip: why ?? false, timeout: 60_000 }, async () => {
    const { page, errors } = await open(scheme, "?running=2&pace=0");
    const activity = page.locator(byTestId("activity"));
    await activity.waitFor();
    assert.equal(await activity.locator("summary").innerText(), "1 job running, 1 waiting");
    await press(page, `${byTestId("activity")} summary`);
    const jobs = page.locator(byTestId("activity-job"));
    await jobs.first().waitFor();
    assert.equal(await jobs.count(), 2);
    assert.match(await jobs.nth(1).innerText(), /nightly-load-2[\s\S]*Queued[\s\S]*1 job ahead/i);
    assert.match(await jobs.nth(0).innerText(), /nightly-load-1[\s\S]*In progress/i);
    await page.screenshot({ path: `${ARTIFACTS}${scheme}/11-status-area.png` });
    await axeCheck(page, "the status area, open");
    await press(page, `${byTestId("activity-job")}[data-job^="01"] button`);
    await page.locator("#main-heading", { hasText: "Import job" }).waitFor();
    assert.match(await page.locator("main").innerText(), /nightly-load-1/);
    assert.equal(await page.locator(`${byTestId("activity")}[open]`).count(), 0, "the list stays open");
    assert.deepEqual(errors, []);
  });

  test(`the keyboard shortcuts open with ?, in a dialog that Escape closes, ${scheme} theme`, { skip: why ?? false, timeout: 60_000 }, async () => {
    const { page, errors } = await open(scheme, "?pace=0");
    await page.locator(byTestId("try-sample")).waitFor();
    await tabTo(page, byTestId("try-sample"));
    await page.keyboard.press("?");
    const dialog = page.locator(`dialog${byTestId("shortcuts")}`);
    await dialog.waitFor();
    assert.equal(await dialog.evaluate((d) => d.open && d.matches(":modal")), true);
    assert.match(await dialog.innerText(), /Choose files to check/);
    assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest("dialog"))), true, "focus is not in the dialog");
    await page.screenshot({ path: `${ARTIFACTS}${scheme}/12-shortcuts.png` });
    await axeCheck(page, "the shortcuts dialog");
    await page.keyboard.press("Escape");
    await page.waitForFunction(() => !document.querySelector("dialog[open]"));
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "try-sample", "focus did not come back");
    // Mod + / opens it too (the Help menu's accelerator in the desktop app).
    await page.locator(byTestId("nav-files")).focus();
    await page.keyboard.press("Control+/");
    await dialog.waitFor();
    await page.keyboard.press("Escape");
    assert.deepEqual(errors, []);
  });
}

test("a job that ends while the person looks elsewhere gets a banner, until its view is opened", { skip: why ?? false, timeout: 60_000 }, async () => {
  const { page, errors } = await open("light", "?running=1&pace=0");
  await page.locator(byTestId("activity")).waitFor();
  await page.evaluate(() => /** @type {any} */ (window).lakedropFake.endJobs());
  // The watcher lists every 3 s while a job runs.
  const banner = page.locator(byTestId("job-ended"));
  await banner.waitFor({ timeout: 10_000 });
  assert.match(await banner.innerText(), /Import job nightly-load-1: completed/);
  await page.waitForFunction(() =>
    /** @type {any} */ (window).announced.some((t) => /^Import job nightly-load-1 completed\./.test(t)),
  );
  await axeCheck(page, "the ended banner");
  await press(page, `${byTestId("job-ended")} button`);
  await page.locator("#main-heading", { hasText: "Import job" }).waitFor();
  assert.match(await page.locator("main").innerText(), /nightly-load-1/);
  assert.equal(await banner.count(), 0, "the banner stays over the job's own view");
  await tabTo(page, byTestId("nav-files"), { back: true });
  await page.keyboard.press("Enter");
  await page.locator(byTestId("drop-zone")).waitFor();
  assert.equal(await banner.count(), 0, "the banner came back after the job was seen");
  assert.deepEqual(errors, []);
});

test("an import split into jobs is followed as one, its failures reviewed together", { skip: why ?? false, timeout: 90_000 }, async () => {
  // The fake takes at most 10 files a job, so the sample's 14 are two jobs, the flawed file in the second.
  const { page, errors } = await open("light", "?pace=0.2&split=10");
  const dir = `${ARTIFACTS}light/`;
  mkdirSync(dir, { recursive: true });
  await press(page, byTestId("try-sample"));
  await page.locator(byTestId("validation-summary")).waitFor();
  await press(page, byTestId("import-button"));
  await page.waitForFunction(() => document.querySelector('[data-testid="datastore"]')?.value);
  await tabTo(page, byTestId("role-arn"));
  await page.keyboard.press("Control+A");
  await page.keyboard.type(ROLE);
  await press(page, byTestId("run-checks"));
  await page.locator('[data-testid="check"][data-check="role-trust"][data-status="pass"]').waitFor();
  await press(page, byTestId("start-import"));
  await page.locator("#main-heading", { hasText: "Import of 2 jobs" }).waitFor({ timeout: 30_000 });
  await page.locator(byTestId("group-progress")).waitFor();
  await page.screenshot({ path: `${dir}15-import-of-jobs-running.png`, fullPage: true });
  await page.waitForFunction(() => /^2 of 2 jobs ended/.test(document.querySelector('[data-testid="group-progress"]')?.textContent?.trim() ?? ""), null, { timeout: 30_000 });
  await page.locator(byTestId("manifest-table")).waitFor();
  assert.equal(await page.locator("#results-title").innerText(), "Results of all 2 jobs together");
  assert.equal(await page.locator(`${byTestId("group-jobs")} tbody tr`).count(), 2);
  assert.equal(await page.locator(byTestId("group-status")).getAttribute("data-status"), "COMPLETED_WITH_ERRORS");
  await page.locator(byTestId("failure-scope")).waitFor();
  await page.screenshot({ path: `${dir}16-import-of-jobs-ended.png`, fullPage: true });
  await axeCheck(page, "an import of two jobs");
  // Each job is one click away, and back.
  await press(page, `${byTestId("group-jobs")} tbody tr:first-child button`);
  await page.locator("#main-heading", { hasText: "Import job" }).waitFor();
  await press(page, byTestId("follow-group"));
  await page.locator("#main-heading", { hasText: "Import of 2 jobs" }).waitFor();
  assert.deepEqual(errors, []);
});

test("the production bundle holds none of the fake backend", () => {
  const dist = new URL("../../ui/dist/assets/", import.meta.url);
  const scripts = readdirSync(dist).filter((f) => f.endsWith(".js"));
  assert.ok(scripts.length > 0, "ui/dist is not built");
  for (const f of scripts) {
    const source = readFileSync(new URL(f, dist), "utf8");
    assert.ok(!source.includes("lakedropFake") && !source.includes("the fake backend"), `${f} carries the fake`);
    assert.ok(!source.includes("LakedropSandboxImport"), `${f} carries the fake's data`);
  }
});
