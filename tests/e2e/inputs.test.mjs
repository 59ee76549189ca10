// Bringing an export as it is (issue 20), in the real app: a folder of Synthea-style transaction Bundles, one per
// patient (`urn:uuid:` references between a patient's resources, POST entries without ids), made from the sample
// by `cargo run -p lakedrop-core --example synthea-bundles` (scripts/e2e.sh passes the folder as
// LAKEDROP_E2E_BUNDLES). The Files step says what it will do to each Bundle; the import brings in the sample's
// 7,160 resources; a look-up of an Encounter's subject, by the reference the Bundle's urn:uuid became, finds its
// Patient. axe checks each view on the way.
//
// Environment: as app.test.mjs (LAKEDROP_APP, LAKEDROP_SAMPLE, LAKEDROP_E2E_SKIP_MISSING, LAKEDROP_E2E_KEEP,
// DISPLAY, LAKEDROP_E2E_THEME), and LAKEDROP_E2E_BUNDLES.

import assert from "node:assert/strict";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
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
const BUNDLES = process.env.LAKEDROP_E2E_BUNDLES ?? "";
const ARTIFACTS = join(HERE, "artifacts", process.env.LAKEDROP_E2E_THEME ?? "light", "inputs");

const WATCHDOG = 240_000;
const SESSION_TIMEOUT = 60_000;
const JOB_TIMEOUT = 120_000;
const RESULT_TIMEOUT = 30_000;

const h = new Harness(ARTIFACTS, WATCHDOG);
let dataDir = "";
let missing = "";

before(async () => {
  try {
    accessSync(APP, constants.X_OK);
  } catch {
    missing = `app binary ${APP} not found or not executable (build it, or set LAKEDROP_APP)`;
  }
  if (!missing && !(BUNDLES && existsSync(BUNDLES))) {
    missing = "no Bundles folder: set LAKEDROP_E2E_BUNDLES (scripts/e2e.sh makes one)";
  }
  if (missing) {
    if (process.env.LAKEDROP_E2E_SKIP_MISSING === "1") return;
    throw new Error(missing);
  }
  assert.ok(existsSync(DRIVER), `${DRIVER} missing: apt-get install webkit2gtk-driver`);
  assert.equal(readdirSync(BUNDLES).filter((n) => n.endsWith(".json")).length, 14, "13 patients and the shared");
  dataDir = mkdtempSync(join(tmpdir(), "lakedrop-e2e-inputs-data-"));
  await h.launch(APP, [BUNDLES], dataDir, SESSION_TIMEOUT);
});

after(async () => {
  await h.close();
  if (dataDir && process.env.LAKEDROP_E2E_KEEP !== "1") rmSync(dataDir, { recursive: true, force: true });
});

test("a folder of transaction Bundles imports as the sample, references resolved", { timeout: 220_000 }, async (t) => {
  if (missing) {
    t.skip(missing);
    return;
  }
  const b = h.browser;
  assert.ok(b);
  const step = h.steps(t);

  await step("the Files step says each Bundle is unbundled, with its entries and sizes both ways", async () => {
    const summary = await b.$(byTestId("validation-summary"));
    await summary.waitForExist({ timeout: 60_000, timeoutMsg: "the Bundles were not checked" });
    assert.match(await summary.getText(), /^7,160 resources in 14 files ready to import/);
    const texts = await b.execute(
      (sel) => [...document.querySelectorAll(sel)].map((n) => n.textContent.trim()),
      byTestId("file-input"),
    );
    assert.equal(texts.length, 14, "every Bundle says what is done to it");
    assert.equal(texts.filter((s) => /^transaction Bundle: /.test(s)).length, 13, texts.join("\n"));
    assert.equal(texts.filter((s) => /^collection Bundle: /.test(s)).length, 1, texts.join("\n"));
    for (const text of texts) {
      assert.match(text, /entries unbundled into [\d,]+ resources?, [\d,]+ references? between them rewritten/);
      assert.match(text, /on disk, [\d.]+ [kKM]B of NDJSON, made as it is uploaded$/);
      assert.doesNotMatch(text, /to no entry/, "every reference resolves within its Bundle");
    }
    await h.screenshot("20-bundles-in-files");
    await h.axeCheck("files, a folder of Bundles");
  });

  await step("the import brings in the sample's 7,160 resources", async () => {
    await h.startImport();
    assert.equal(await h.jobEnded(JOB_TIMEOUT), "COMPLETED");
    const imported = await b.$(`${byTestId("manifest-table")} ${byTestId("count-resourcesImported")} td`);
    await imported.waitForExist({ timeout: RESULT_TIMEOUT, timeoutMsg: "no manifest table" });
    assert.equal(await imported.getText(), "7,160");
    await h.screenshot("21-bundles-imported");
    await h.axeCheck("job, Bundles imported");
  });

  await step("an Encounter's subject, once a urn:uuid, reads back as its Patient", async () => {
    const encounter = JSON.parse(readFileSync(join(SAMPLE, "Encounter.000.ndjson"), "utf8").split("\n")[0]);
    const input = await b.$(byTestId("lookup-input"));
    await input.scrollIntoView({ block: "center" });
    await input.setValue(`Encounter/${encounter.id}`);
    await b.$(byTestId("lookup-submit")).click();
    const found = await b.$(byTestId("lookup-resource"));
    await found.waitForExist({ timeout: RESULT_TIMEOUT, timeoutMsg: "the encounter was not read back" });
    const subject = encounter.subject.reference;
    assert.match(subject, /^Patient\//);
    assert.match(await found.getText(), new RegExp(`"reference": "${subject}"`), "the subject is Type/id");
    await input.setValue(subject);
    await b.$(byTestId("lookup-submit")).click();
    const read = async () => {
      const shown = await b.$(byTestId("lookup-resource"));
      return (await shown.isExisting()) ? shown.getText() : "";
    };
    await b.waitUntil(async () => (await read()).includes(`"resourceType": "Patient"`), {
      timeout: RESULT_TIMEOUT,
      timeoutMsg: `${subject} did not resolve to a Patient`,
    });
    assert.match(await read(), new RegExp(`"id": "${subject.split("/")[1]}"`));
    await b.$(byTestId("lookup-resource")).scrollIntoView({ block: "start" });
    await b.pause(300);
    await h.screenshot("22-subject-resolves");
    await h.axeCheck("job, the subject read back");
  });
});
