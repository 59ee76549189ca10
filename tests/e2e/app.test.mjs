// The whole app in a real window: open the Synthea sample (and one flawed file), review the
// flaw, choose and check the destination, import into the seeded sandbox, and read the result.
//
// Files arrive as paths on the command line ("Open with"), which the app treats like a drop.
// A drop cannot be faked from inside the webview any more: the backend honours only paths
// that reached it through the OS (a real drop, its own dialog, or the command line).
//
// Runs the built desktop binary under WebKitWebDriver (Debian's webkit2gtk-driver), with
// webdriverio's standalone remote() and node's test runner. Every wait is bounded and a
// watchdog kills what this file started, so a broken app fails the run instead of hanging it.
//
// Environment:
//   LAKEDROP_APP        the app binary   (default: <repo>/target/debug/lakedrop-desktop,
//                       built with the custom-protocol feature so it embeds ui/dist)
//   LAKEDROP_SAMPLE     folder to open   (default: <repo>/samples/synthea-10-patients)
//   LAKEDROP_E2E_SKIP_MISSING=1   skip, rather than fail, when the binary is not built
//   LAKEDROP_E2E_KEEP=1           keep the sandbox data dir for inspection
//   DISPLAY             used when set; otherwise the test starts its own Xvfb

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DRIVER } from "./driver.mjs";
import { Harness, byTestId } from "./harness.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const APP = resolve(process.env.LAKEDROP_APP ?? join(REPO, "target/debug/lakedrop-desktop"));
const SAMPLE = resolve(
  process.env.LAKEDROP_SAMPLE ?? join(REPO, "samples/synthea-10-patients"),
);
const SANDBOX_ROLE = "arn:aws:iam::000000000000:role/LakedropSandboxImport";
// Screenshots and logs, per theme: the run is repeated in dark (see scripts/e2e.sh).
const ARTIFACTS = join(HERE, "artifacts", process.env.LAKEDROP_E2E_THEME ?? "light");

// Bounds, in milliseconds. The whole file must finish within WATCHDOG.
const WATCHDOG = 400_000;
const SESSION_TIMEOUT = 60_000;
const APP_READY_TIMEOUT = 60_000;
const VALIDATION_TIMEOUT = 60_000;
const JOB_TIMEOUT = 120_000;
const RESULT_TIMEOUT = 30_000;

const TERMINAL = [
  "COMPLETED",
  "COMPLETED_WITH_ERRORS",
  "FAILED",
  "CANCEL_COMPLETED",
  "CANCEL_FAILED",
];

const h = new Harness(ARTIFACTS, WATCHDOG);
let flawedDir = "";
let flawed = "";
let extra = "";
let dataDir = "";
let missing = "";

const screenshot = (name) => h.screenshot(name);
const axeCheck = (view) => h.axeCheck(view);

/**
 * Sends one SigV4-signed request to the embedded sandbox's FHIR API with botocore (from the AWS CLI's
 * environment that `scripts/deps.sh --test` installs), as an analyst's own client would; returns the status.
 */
function signedRequest(method, url, body) {
  const python = join(REPO, "target/awscli/bin/python");
  assert.ok(existsSync(python), `${python} missing: scripts/deps.sh --test installs it`);
  const seed = JSON.parse(readFileSync(join(dataDir, "sandbox", "seed.json"), "utf8"));
  const script = [
    "import os, sys, urllib.request, urllib.error",
    "from botocore.auth import SigV4Auth",
    "from botocore.awsrequest import AWSRequest",
    "from botocore.credentials import Credentials",
    "method, url, region = sys.argv[1], sys.argv[2], sys.argv[3]",
    "body = sys.stdin.buffer.read() or None",
    'request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/fhir+json"})',
    'SigV4Auth(Credentials(os.environ["KEY"], os.environ["SECRET"]), "healthlake", region).add_auth(request)',
    "try:",
    "    print(urllib.request.urlopen(urllib.request.Request(url, data=body, headers=dict(request.headers), method=method)).status)",
    "except urllib.error.HTTPError as e:",
    "    print(e.code)",
  ].join("\n");
  const out = spawnSync(python, ["-c", script, method, url, seed.region], {
    input: body,
    env: { PATH: process.env.PATH ?? "", KEY: seed.access_key_id, SECRET: seed.secret_access_key },
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim();
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
  assert.ok(existsSync(SAMPLE), `sample folder ${SAMPLE} missing (set LAKEDROP_SAMPLE)`);
  // A flawed copy of the sample's first patient: its review is part of the flow.
  flawedDir = mkdtempSync(join(tmpdir(), "lakedrop-e2e-flawed-"));
  // One good line and one the sandbox rejects, so that the job has a failure to review.
  const patient = JSON.parse(readFileSync(join(SAMPLE, "Patient.000.ndjson"), "utf8").split("\n")[0]);
  const good = { ...patient, id: "copy-1" };
  const bad = { ...patient, id: "flawed-1", gender: "dude" };
  flawed = join(flawedDir, "Patient.flawed.ndjson");
  writeFileSync(flawed, JSON.stringify(good) + "\n" + JSON.stringify(bad) + "\n");
  // A file to leave out.
  extra = join(flawedDir, "Basic.extra.ndjson");
  writeFileSync(extra, JSON.stringify({ resourceType: "Basic", id: "extra-1", code: { text: "x" } }) + "\n");

  dataDir = mkdtempSync(join(tmpdir(), "lakedrop-e2e-"));
  await h.launch(APP, [SAMPLE, flawed, extra], dataDir, SESSION_TIMEOUT);
});

after(async () => {
  await h.close();
  if (flawedDir) rmSync(flawedDir, { recursive: true, force: true });
  if (dataDir && process.env.LAKEDROP_E2E_KEEP !== "1")
    rmSync(dataDir, { recursive: true, force: true });
});

test("drop the sample, import it, read the manifest", { timeout: 380_000 }, async (t) => {
  if (missing) {
    t.skip(missing);
    return;
  }
  assert.ok(h.browser);
  const b = h.browser;
  const step = h.steps(t);
  const tabTo = (selector) => h.tabTo(selector);
  const tabToAndPress = (selector) => h.tabToAndPress(selector);

  await step("the app starts and listens for drops", async () => {
    const zone = await b.$(byTestId("drop-zone"));
    await zone.waitForExist({ timeout: APP_READY_TIMEOUT, timeoutMsg: "drop zone never appeared" });
    await b.waitUntil(async () => (await zone.getAttribute("data-drop-ready")) === "true", {
      timeout: 15_000,
      timeoutMsg: "the UI never subscribed to native drops",
    });
    await screenshot("01-start");
  });

  await step("a flawed file shows its issues grouped, each beside its line, and can be left out", async () => {
    const row = await b.$(`[data-testid="file-row"][data-path="${flawed}"]`);
    await row.waitForExist({ timeout: VALIDATION_TIMEOUT, timeoutMsg: "the flawed file never showed" });
    assert.match(await row.$(byTestId("file-status")).getText(), /1 line will be rejected/);
    await row.$("button*=Show").click();
    const group = await row.$(`${byTestId("issue-group")}[data-code="invalid-value"]`);
    await group.waitForDisplayed({ timeout: 5_000 });
    await group.$(byTestId("issue-example")).click();
    const mark = await row.$(`${byTestId("issue-line")} mark`);
    await mark.waitForDisplayed({ timeout: 10_000, timeoutMsg: "the line was not shown" });
    assert.equal(await mark.getText(), '"gender": "dude"');
    await mark.scrollIntoView({ block: "center" });
    await screenshot("02b-issue-beside-its-line");
    await axeCheck("files, with a file's issues open");
    // A file without issues can be left out from its row.
    const extraRow = await b.$(`[data-testid="file-row"][data-path="${extra}"]`);
    await extraRow.$(byTestId("leave-out")).click();
    await b.waitUntil(async () => (await b.$$(byTestId("file-row"))).length === 15, {
      timeout: 5_000,
      timeoutMsg: "the flawed file was not left out",
    });
  });

  await step("the sample is validated: 13 FHIR files, the log is skipped", async () => {
    const summary = await b.$(byTestId("validation-summary"));
    await summary.waitForExist({
      timeout: VALIDATION_TIMEOUT,
      timeoutMsg: "no validation summary",
    });
    const rows = await b.$$(byTestId("file-row"));
    assert.equal(rows.length, 15, "13 FHIR files, log.ndjson and the flawed file");
    assert.equal(
      await summary.getText(),
      "7,161 resources in 14 files ready to import · 1 line will be rejected · 1 file skipped (not FHIR)",
    );
    await screenshot("02-validated");
    await axeCheck("files");
  });

  await step("the destination is checked: a wrong role fails with its fix, the right one passes", async () => {
    const next = await b.$(byTestId("import-button"));
    await next.waitForClickable({ timeout: 10_000 });
    await next.click();
    const role = await b.$(byTestId("role-arn"));
    await role.waitForDisplayed({ timeout: 15_000, timeoutMsg: "no destination view" });
    await b.waitUntil(async () => (await b.$(byTestId("datastore")).getValue()) !== "", {
      timeout: 15_000,
      timeoutMsg: "no data store was offered",
    });
    await role.setValue("arn:aws:iam::000000000000:role/LakedropTypo");
    await b.$(byTestId("run-checks")).click();
    const trust = await b.$(`${byTestId("check")}[data-check="role-trust"]`);
    await trust.waitForExist({ timeout: 30_000, timeoutMsg: "no role check shown" });
    assert.equal(await trust.getAttribute("data-status"), "fail");
    assert.match(await trust.getText(), /does not exist/);
    assert.equal(await b.$(byTestId("start-import")).isEnabled(), false);
    await trust.scrollIntoView({ block: "center" });
    await screenshot("03-preflight-failed");

    await role.setValue(SANDBOX_ROLE);
    await b.$(byTestId("run-checks")).click();
    await b.waitUntil(
      async () =>
        (await b.$(`${byTestId("check")}[data-check="role-trust"]`).getAttribute("data-status")) ===
        "pass",
      { timeout: 30_000, timeoutMsg: "the right role did not pass" },
    );
    const statuses = await b.$$(byTestId("check")).map((c) => c.getAttribute("data-status"));
    assert.ok(!statuses.includes("fail"), `a check still fails: ${statuses}`);
    await screenshot("04-preflight-passed");
    await axeCheck("destination");
  });

  await step("import starts and a job is submitted", async () => {
    const button = await b.$(byTestId("start-import"));
    await button.waitForClickable({ timeout: 10_000 });
    await button.click();
    await screenshot("05-importing");
    const status = await b.$(byTestId("job-status"));
    await status.waitForExist({ timeout: 60_000, timeoutMsg: "never reached the job view" });
  });

  await step("the job finishes and the manifest counts every resource", async () => {
    const status = await b.$(byTestId("job-status"));
    let last = "";
    await b.waitUntil(
      async () => {
        last = (await status.getAttribute("data-status")) ?? "";
        return TERMINAL.includes(last);
      },
      {
        timeout: JOB_TIMEOUT,
        interval: 1000,
        timeoutMsg: `job not finished in time (status ${last})`,
      },
    );
    await screenshot("06-job-finished");
    assert.notEqual(last, "FAILED", `the import job failed: ${await b.$("main").getText()}`);

    const imported = await b.$(
      `${byTestId("manifest-table")} ${byTestId("count-resourcesImported")} td`,
    );
    await imported.waitForExist({ timeout: RESULT_TIMEOUT, timeoutMsg: "no manifest table" });
    assert.equal(await imported.getText(), "7,161");

    const skipped = await b.$(byTestId("skipped-files"));
    assert.match(await skipped.getText(), /log\.ndjson/);
    // The chart is loaded lazily; give it a moment so the screenshot shows it. The numbers
    // were asserted from the table, so a missing chart alone does not fail the test.
    await b
      .$(`${byTestId("manifest-chart")} svg`)
      .waitForExist({ timeout: 10_000 })
      .catch(() => console.error("the manifest chart did not render within 10 s"));
    await screenshot("07-results");
    await axeCheck("job");
  });

  await step("the failure is reviewed beside its line, filtered, and re-imported", async () => {
    assert.equal(await b.$(byTestId("job-status")).getAttribute("data-status"), "COMPLETED_WITH_ERRORS");
    const group = await b.$(`${byTestId("cause-group")}`);
    await group.waitForDisplayed({ timeout: RESULT_TIMEOUT, timeoutMsg: "no failure groups" });
    assert.match(await group.getText(), /1 failure/);
    assert.equal(await group.getAttribute("data-cause"), "invalid-code");
    const chartTable = await b.$(byTestId("failure-chart-table"));
    await chartTable.waitForExist({ timeout: 10_000, timeoutMsg: "no failure chart table" });
    assert.match(await chartTable.getText(), /Patient/);
    await group.$(byTestId("cause-filter")).click();
    const row = await b.$(byTestId("virtual-row"));
    await row.waitForDisplayed({ timeout: 10_000, timeoutMsg: "no failure rows" });
    assert.equal((await b.$$(byTestId("virtual-row"))).length, 1);
    await row.scrollIntoView({ block: "center" });
    // WebKitWebDriver refuses to click a row of the virtual grid (it is positioned inside a scroller); a
    // click event on it is what a pointer sends.
    await b.execute((el) => el.click(), row);
    const original = await b.$(byTestId("failure-original"));
    await original.waitForDisplayed({ timeout: 10_000, timeoutMsg: "the original line was not shown" });
    assert.match(await original.getText(), /"id": "flawed-1"/);
    const mark = await original.$("mark");
    assert.equal(await mark.getText(), '"gender": "dude"');
    await mark.scrollIntoView({ block: "center" });
    await screenshot("07b-failure-beside-its-line");
    await axeCheck("job, reviewing a failure");
    assert.equal(await b.$(byTestId("export-failures")).isEnabled(), true);

    await b.$(byTestId("retry-failures")).click();
    // The view moves to the new job; once it has ended, its manifest says it read one line: only the failed
    // one was sent (still flawed, so rejected again).
    let scanned = "";
    await b.waitUntil(
      async () => {
        const cell = await b.$(`${byTestId("manifest-table")} ${byTestId("count-resourcesScanned")} td`);
        scanned = (await cell.isExisting()) ? await cell.getText() : "";
        return scanned === "1";
      },
      { timeout: JOB_TIMEOUT, interval: 500, timeoutMsg: `the retry job's manifest never said 1 (last: ${scanned})` },
    );
    await screenshot("07c-retry-job");
  });

  await step("the jobs list has both jobs; a job that ended in view gets no banner", async () => {
    // The watcher has listed the retry job as ended once the header no longer shows it running.
    await b.waitUntil(async () => !(await b.$(byTestId("activity")).isExisting()), {
      timeout: 20_000,
      timeoutMsg: "the header still shows a job running",
    });
    assert.equal((await b.$$(byTestId("job-ended"))).length, 0, "a banner repeats the job's own view");
    await b.$("button=Jobs").click();
    const standing = await b.$(byTestId("job-list-status"));
    await standing.waitForExist({ timeout: 10_000 });
    assert.equal((await b.$$(byTestId("job-list-status"))).length, 2);
    assert.equal((await b.$$(byTestId("job-ended"))).length, 0, "a job seen ending has a banner elsewhere");
    await screenshot("08-jobs");
    await axeCheck("jobs");
  });

  await step("the bundled sample takes a first-time user to a chart, by keyboard alone", async () => {
    await b.$("button=Files").click();
    await b.$("button=Clear list").click();
    await b.$(byTestId("try-sample")).waitForDisplayed({ timeout: 10_000, timeoutMsg: "no first-run offer" });
    await screenshot("09-first-run");
    await tabToAndPress(byTestId("try-sample"));
    const summary = await b.$(byTestId("validation-summary"));
    await b.waitUntil(
      async () => (await summary.isExisting()) && /7,160 resources in 13 files/.test(await summary.getText()),
      { timeout: VALIDATION_TIMEOUT, timeoutMsg: "the bundled sample was not checked" },
    );
    await tabToAndPress(byTestId("import-button"));
    await b.$(byTestId("run-checks")).waitForDisplayed({ timeout: 15_000 });
    await tabToAndPress(byTestId("run-checks"));
    const start = await b.$(byTestId("start-import"));
    await start.waitForEnabled({ timeout: 30_000, timeoutMsg: "the sandbox's checks did not pass" });
    await tabToAndPress(byTestId("start-import"));
    await b.$(`${byTestId("manifest-chart")} svg`).waitForExist({
      timeout: JOB_TIMEOUT,
      timeoutMsg: "no chart at the end of the first import",
    });
    const imported = await b.$(`${byTestId("manifest-table")} ${byTestId("count-resourcesImported")} td`);
    assert.equal(await imported.getText(), "7,160");
    await screenshot("10-first-run-chart");
  });
  await step("the import is verified by sample, a change shows side by side, a look-up answers", async () => {
    // By keyboard: the view's verify button, as for the other views.
    await tabToAndPress(byTestId("verify-button"));
    const summary = await b.$(byTestId("verify-summary"));
    const verifyError = await b.$(byTestId("verify-error"));
    await b.waitUntil(async () => (await summary.isExisting()) || (await verifyError.isExisting()), {
      timeout: RESULT_TIMEOUT,
      timeoutMsg: "the sample was not verified",
    });
    assert.equal(await verifyError.isExisting(), false, await verifyError.getText().catch(() => ""));
    // 20 per type, or all of a smaller type: 11+20+16+20+20+20+20+20+20+13+20+20+20.
    assert.equal(await summary.getText(), "All 240 sampled resources match what was sent.");
    const patients = await b.execute(
      (sel) => [...document.querySelector(sel).querySelectorAll("th, td")].map((c) => c.textContent.trim()),
      byTestId("verify-type-Patient"),
    );
    assert.deepEqual(patients, ["Patient", "13", "13", "13", "0", "0"]);
    await screenshot("11-verified");
    await axeCheck("job, verified by sample");

    // Someone edits a patient through the data store's FHIR API (botocore signs it, as any client would).
    const endpoint = (await b.$(`${byTestId("verify-endpoint")} code`).getText()).trim();
    const patient = JSON.parse(readFileSync(join(SAMPLE, "Patient.000.ndjson"), "utf8").split("\n")[0]);
    const edited = { ...patient, gender: patient.gender === "male" ? "female" : "male" };
    assert.equal(signedRequest("PUT", `${endpoint}Patient/${patient.id}`, JSON.stringify(edited)), "200");

    await tabToAndPress(byTestId("verify-button"));
    await b.waitUntil(async () => /1 differ/.test(await summary.getText()), {
      timeout: RESULT_TIMEOUT,
      timeoutMsg: "the edited patient was not found to differ",
    });
    const item = await b.$(`${byTestId("verify-unmatched")}[data-outcome="differing"]`);
    assert.match(await item.getText(), new RegExp(`Patient/${patient.id}`));
    await item.$(byTestId("verify-open")).click();
    const sent = await b.$(`${byTestId("verify-sent")} mark`);
    await sent.waitForDisplayed({ timeout: 5_000, timeoutMsg: "the difference was not shown" });
    assert.equal(await sent.getText(), `"gender": "${patient.gender}"`);
    assert.equal(await b.$(`${byTestId("verify-found")} mark`).getText(), `"gender": "${edited.gender}"`);
    // Each pane scrolls itself to its mark: the read-back one is not touched here.
    const markInView = await b.execute((sel) => {
      const pre = document.querySelector(sel);
      const box = pre.getBoundingClientRect();
      const mark = pre.querySelector("mark").getBoundingClientRect();
      return mark.top >= box.top && mark.bottom <= box.bottom;
    }, byTestId("verify-found"));
    assert.ok(markInView, "the read-back pane does not show its marked element");
    await b.execute((sel) => document.querySelector(sel).scrollIntoView({ block: "start" }), byTestId("verify-difference"));
    await b.pause(300); // the compositor draws the scrolled page before the screenshot
    await screenshot("12-difference-side-by-side");
    await axeCheck("job, a difference side by side");

    // A look-up, typed: a search by reference, answered with the patient's encounters.
    await tabTo(byTestId("lookup-input"));
    await b.keys([...`Encounter?subject=Patient/${patient.id}`]);
    await b.keys("Enter");
    const total = await b.$(byTestId("lookup-total"));
    await total.waitForExist({ timeout: RESULT_TIMEOUT, timeoutMsg: "the look-up was not answered" });
    assert.match(await total.getText(), /^\d+ match(es)?/);
    const entry = await b.$(byTestId("lookup-entry"));
    assert.match(await entry.getText(), /^Encounter\//);
    await entry.click();
    await total.scrollIntoView({ block: "start" });
    await screenshot("13-lookup");
    await axeCheck("job, a look-up answered");
  });
});
