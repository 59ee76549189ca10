// Fixing rejected lines in the real app (issue 18): real Synthea lines broken three ways (a code written wrongly
// ×50, an element R4 does not have ×30, a date in another pattern ×20) and one more (a code no plan maps) are
// imported into the sandbox and rejected; one repair per cause makes a plan, previewed; the last line is fixed by
// hand in the editor with a quick fix, by keyboard; the fixed lines are re-imported and all 101 go in; the new
// job's change record lists them. axe checks each view on the way.
//
// Environment: as app.test.mjs (LAKEDROP_APP, LAKEDROP_SAMPLE, LAKEDROP_E2E_SKIP_MISSING, LAKEDROP_E2E_KEEP,
// DISPLAY, LAKEDROP_E2E_THEME).

import assert from "node:assert/strict";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DRIVER } from "./driver.mjs";
import { Harness, byTestId } from "./harness.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const APP = resolve(process.env.LAKEDROP_APP ?? join(REPO, "target/debug/lakedrop-desktop"));
const SAMPLE = resolve(process.env.LAKEDROP_SAMPLE ?? join(REPO, "samples/synthea-10-patients"));
const ARTIFACTS = join(HERE, "artifacts", process.env.LAKEDROP_E2E_THEME ?? "light", "repair");

const WATCHDOG = 300_000;
const SESSION_TIMEOUT = 60_000;
const JOB_TIMEOUT = 120_000;
const RESULT_TIMEOUT = 30_000;

const h = new Harness(ARTIFACTS, WATCHDOG);
let dir = "";
let dataDir = "";
let missing = "";
const files = [];

/** The sample's first `n` lines of a file, each changed by `breaks`, with ids of their own. */
function broken(file, n, tag, breaks) {
  const lines = readFileSync(join(SAMPLE, file), "utf8").split("\n").filter(Boolean);
  return Array.from({ length: n }, (_, i) => {
    const resource = JSON.parse(lines[i % lines.length]);
    return JSON.stringify({ ...breaks(resource), id: `${tag}${i}-${resource.id}`.slice(0, 64) });
  });
}

before(async () => {
  try {
    accessSync(APP, constants.X_OK);
  } catch {
    missing = `app binary ${APP} not found or not executable (build it, or set LAKEDROP_APP)`;
  }
  if (missing) {
    if (process.env.LAKEDROP_E2E_SKIP_MISSING === "1") return;
    throw new Error(missing);
  }
  assert.ok(existsSync(DRIVER), `${DRIVER} missing: apt-get install webkit2gtk-driver`);
  dir = mkdtempSync(join(tmpdir(), "lakedrop-e2e-repair-"));
  // Each file has good lines too: a file with none is left out of the import altogether.
  const good = (file, n) => readFileSync(join(SAMPLE, file), "utf8").split("\n").filter(Boolean).slice(0, n);
  const patients = [
    ...good("Patient.000.ndjson", 5),
    ...broken("Patient.000.ndjson", 50, "g", (r) => ({ ...r, gender: "M" })),
    ...broken("Patient.000.ndjson", 20, "d", (r) => {
      const [y, m, d] = r.birthDate.split("-");
      return { ...r, birthDate: `${m}/${d}/${y}` };
    }),
    // The one a plan does not fix: fixed by hand.
    ...broken("Patient.000.ndjson", 1, "h", (r) => ({ ...r, gender: "dude" })),
  ];
  const encounters = [
    ...good("Encounter.000.ndjson", 5),
    ...broken("Encounter.000.ndjson", 30, "u", (r) => ({ legacyCode: "A1", ...r })),
  ];
  for (const [name, lines] of [
    ["Patient.broken.ndjson", patients],
    ["Encounter.broken.ndjson", encounters],
  ]) {
    const path = join(dir, name);
    writeFileSync(path, lines.join("\n") + "\n");
    files.push(path);
  }

  dataDir = mkdtempSync(join(tmpdir(), "lakedrop-e2e-repair-data-"));
  await h.launch(APP, files, dataDir, SESSION_TIMEOUT);
});

after(async () => {
  await h.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (dataDir && process.env.LAKEDROP_E2E_KEEP !== "1") rmSync(dataDir, { recursive: true, force: true });
});

test("rejected lines are repaired by cause and by hand, re-imported, and recorded", { timeout: 280_000 }, async (t) => {
  if (missing) {
    t.skip(missing);
    return;
  }
  const b = h.browser;
  assert.ok(b);
  const step = h.steps(t);

  const ended = () => h.jobEnded(JOB_TIMEOUT);
  const setField = async (testid, value) => {
    const field = await b.$(`${byTestId("repair-planner")} ${byTestId(testid)}`);
    await field.waitForDisplayed({ timeout: 10_000 });
    await field.setValue(value);
  };

  await step("before upload, a rejected line opens in the editor from its issue and is repaired there", async () => {
    const summary = await b.$(byTestId("validation-summary"));
    await summary.waitForExist({ timeout: 60_000, timeoutMsg: "the files were not checked" });
    assert.match(await summary.getText(), /^10 resources in 2 files ready to import · 101 lines will be rejected/);
    const row = await b.$(`[data-testid="file-row"][data-path="${files[0]}"]`);
    await row.$("button*=Show").click();
    const group = await row.$(`${byTestId("issue-group")}[data-code="invalid-value"]`);
    await group.waitForDisplayed({ timeout: 5_000 });
    await group.$(byTestId("issue-example")).click();
    await row.$(byTestId("issue-repair")).waitForDisplayed({ timeout: 10_000 });
    await row.$(byTestId("issue-repair")).click();
    const issue = await row.$(`${byTestId("repair-issue")}[data-path="Patient.gender"]`);
    await issue.waitForDisplayed({ timeout: 15_000, timeoutMsg: "the editor's check named no issue at gender" });
    assert.equal(await issue.$(byTestId("fix-code")).getValue(), "male", "M: male is the likeliest code");
    await issue.$(byTestId("fix-apply")).click();
    await row.$(byTestId("repair-valid")).waitForDisplayed({ timeout: 15_000 });
    await row.$(byTestId("repair-keep")).click();
    const kept = await row.$(byTestId("repair-kept"));
    await kept.waitForDisplayed({ timeout: 10_000, timeoutMsg: "the repair was not kept" });
    assert.match(await kept.getText(), /gender: "M" → "male"/);
    assert.match(await row.$(byTestId("local-repairs")).getText(), /^1 line repaired by hand\./);
    assert.equal(await row.$(byTestId("local-fix-save")).isEnabled(), true);
    await kept.scrollIntoView({ block: "center" });
    await b.pause(300);
    await h.screenshot("r0-repaired-before-upload");
    await h.axeCheck("files, a line repaired before upload");
  });

  await step("the broken lines are imported and rejected, 101 of them in three causes", async () => {
    await h.startImport();
    assert.equal(await ended(), "COMPLETED_WITH_ERRORS");
    const lead = await b.$(byTestId("failures-lead"));
    await lead.waitForDisplayed({ timeout: RESULT_TIMEOUT, timeoutMsg: "no failures shown" });
    assert.match(await lead.getText(), /^101 resources failed, for 3 causes/);
  });

  await step("one repair per cause makes a plan; the preview holds back only the line no rule fixes", async () => {
    const planner = await b.$(byTestId("repair-planner"));
    await planner.scrollIntoView({ block: "start" });
    // The form starts at the largest cause, filled from its first failure.
    const cause = await planner.$(byTestId("rule-cause"));
    await b.waitUntil(async () => (await planner.$(byTestId("rule-path")).getValue()) === "gender", {
      timeout: 10_000,
      timeoutMsg: "the form was not filled from the first failure",
    });
    assert.equal(await cause.getValue(), "invalid-code");
    assert.equal(await planner.$(byTestId("map-from")).getValue(), "M");
    await setField("map-to", "male");
    await planner.$(byTestId("rule-add")).click();
    // Then the next cause, an element R4 does not have.
    await b.waitUntil(async () => (await planner.$(byTestId("rule-path")).getValue()) === "legacyCode", {
      timeout: 10_000,
      timeoutMsg: "the form did not move on to the unknown element",
    });
    assert.equal(await planner.$(byTestId("rule-action")).getValue(), "remove");
    assert.equal(await planner.$(byTestId("rule-type")).getValue(), "Encounter");
    await planner.$(byTestId("rule-add")).click();
    // Then the dates, read as they were written.
    await b.waitUntil(async () => (await planner.$(byTestId("rule-path")).getValue()) === "birthDate", {
      timeout: 10_000,
      timeoutMsg: "the form did not move on to the dates",
    });
    assert.equal(await planner.$(byTestId("rule-pattern")).getValue(), "MM/DD/YYYY");
    await planner.$(byTestId("rule-add")).click();
    assert.equal((await planner.$$(byTestId("plan-rule"))).length, 3);

    const counts = await planner.$(byTestId("preview-counts"));
    await b.waitUntil(async () => /100 would be re-imported/.test(await counts.getText().catch(() => "")), {
      timeout: RESULT_TIMEOUT,
      timeoutMsg: "the preview did not count the repaired lines",
    });
    assert.match(await counts.getText(), /Of 101 failed lines, 100 would be re-imported: 100 repaired by the plan and 0 by hand\. 1 held back/);
    const rules = await planner.$$(byTestId("plan-rule")).map((r) => r.getText());
    assert.match(rules[0], /Patient gender: M → male.*50 lines/);
    assert.match(rules[1], /Encounter legacyCode: remove.*30 lines/);
    assert.match(rules[2], /Patient birthDate: dates read as MM\/DD\/YYYY.*20 lines/);
    assert.match(await planner.$(byTestId("preview-held-back")).getText(), /"dude" is not an allowed code/);
    assert.match(await planner.$(byTestId("preview-samples")).getText(), /gender "M" → "male"/);
    await h.screenshot("r1-plan-previewed");
    await h.axeCheck("job, a repair plan previewed");
  });

  await step("the last line is fixed by hand with a quick fix, by keyboard alone", async () => {
    // Its failure, found by its value in the table.
    await b.$(`${byTestId("cause-group")}[data-cause="invalid-code"] ${byTestId("cause-filter")}`).click();
    // It is the last of the cause's 51 rows: the table is scrolled to its end, as a person would.
    await b.waitUntil(async () => (await b.$$(byTestId("virtual-row"))).length > 0, { timeout: 10_000 });
    await b.execute((sel) => {
      const table = document.querySelector(sel);
      table.scrollTop = table.scrollHeight;
    }, byTestId("failure-table"));
    const dude = await b.$(`${byTestId("virtual-row")}*=dude`);
    await dude.waitForExist({ timeout: 10_000, timeoutMsg: "the failure that no rule fixes is not listed" });
    await dude.scrollIntoView({ block: "center" });
    await b.execute((el) => el.click(), dude);
    await b.$(byTestId("repair-open")).waitForDisplayed({ timeout: 10_000 });
    await h.tabToAndPress(byTestId("repair-open"));
    const issue = await b.$(`${byTestId("repair-issue")}[data-path="Patient.gender"]`);
    await issue.waitForDisplayed({ timeout: 15_000, timeoutMsg: "the editor's check named no issue at gender" });
    // The issue shows inline in the editor too, at its element, which its "go to" brings into view.
    await h.tabToAndPress(`${byTestId("repair-issue")}[data-path="Patient.gender"] ${byTestId("repair-goto")}`);
    const inline = await b.$(`${byTestId("resource-editor")} .cm-lintRange-error`);
    await inline.waitForExist({ timeout: 5_000, timeoutMsg: "no inline mark in the editor" });
    assert.match(await inline.getText(), /"gender": "dude"/);
    await h.tabTo(`${byTestId("repair-issue")}[data-path="Patient.gender"] ${byTestId("fix-code")}`);
    // The likeliest code first; "male" is picked from the list by keyboard.
    const select = await issue.$(byTestId("fix-code"));
    let guard = 0;
    while ((await select.getValue()) !== "male" && guard++ < 6) await b.keys("ArrowDown");
    assert.equal(await select.getValue(), "male");
    await h.tabToAndPress(`${byTestId("repair-issue")}[data-path="Patient.gender"] ${byTestId("fix-apply")}`);
    const valid = await b.$(byTestId("repair-valid"));
    await valid.waitForDisplayed({ timeout: 15_000, timeoutMsg: "the repaired resource was not checked valid" });
    // The diff against the original, then kept.
    await h.tabToAndPress(byTestId("repair-diff-toggle"));
    await b.$(`${byTestId("repair-diff")} .cm-mergeView`).waitForExist({ timeout: 5_000 });
    await b.$(byTestId("repair-editor")).scrollIntoView({ block: "start" });
    await b.pause(300);
    await h.screenshot("r2-fixed-by-hand");
    await h.axeCheck("job, a resource repaired by hand");
    await h.tabToAndPress(byTestId("repair-keep"));
    const kept = await b.$(byTestId("repair-kept"));
    await kept.waitForDisplayed({ timeout: 10_000, timeoutMsg: "the repair was not kept" });
    assert.match(await kept.getText(), /gender: "dude" → "male"/);
  });

  await step("the fixed lines are re-imported as a new job, and all 101 go in", async () => {
    const planner = await b.$(byTestId("repair-planner"));
    await planner.$(byTestId("plan-preview")).click();
    const counts = await planner.$(byTestId("preview-counts"));
    await b.waitUntil(async () => /101 would be re-imported/.test(await counts.getText()), {
      timeout: RESULT_TIMEOUT,
      timeoutMsg: "the preview did not count the line fixed by hand",
    });
    assert.match(await counts.getText(), /100 repaired by the plan and 1 by hand\. 0 held back/);
    await planner.$(byTestId("plan-reimport")).click();
    await b.waitUntil(async () => /lakedrop-retry-of-/.test(await b.$(byTestId("job-name")).getText()), {
      timeout: 60_000,
      timeoutMsg: "the view did not move to the new job",
    });
    assert.equal(await ended(), "COMPLETED", "every fixed line is imported");
    const imported = await b.$(`${byTestId("manifest-table")} ${byTestId("count-resourcesImported")} td`);
    await imported.waitForExist({ timeout: RESULT_TIMEOUT, timeoutMsg: "no manifest" });
    assert.equal(await imported.getText(), "101");
  });

  await step("the new job's change record lists the 101 repaired lines", async () => {
    const summary = await b.$(byTestId("change-record-summary"));
    await summary.waitForDisplayed({ timeout: RESULT_TIMEOUT, timeoutMsg: "no change record" });
    assert.match(await summary.getText(), /^This job re-imported 101 repaired lines, with 101 changed elements\./);
    const rows = await b.$$(byTestId("change-row")).map((r) => r.getText());
    assert.equal(rows.length, 101);
    assert.equal(rows.filter((r) => /\bhand$/.test(r)).length, 1);
    assert.ok(rows.some((r) => /legacyCode\s*"A1"\s*\(removed\)\s*rule 2/.test(r)), rows.slice(50, 52).join("\n"));
    await summary.scrollIntoView({ block: "start" });
    await b.pause(300);
    await h.screenshot("r3-change-record");
    await h.axeCheck("job, its change record");
  });
});
