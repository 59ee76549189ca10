// Big inputs in the real app (release build) under Xvfb, driven by WebKitWebDriver: for each scenario, the
// folder is opened on the command line and the benchmark prints the time from the interactive window to the
// validation summary against `lakedrop validate` on the same folder in this script (the engine alone, so the
// ratio is what the window adds), and the longest frame the page saw while the check ran against the longest
// frame of the same page idle afterwards (a frozen window shows as a long frame). Asserts nothing.
//
// Run with `make bench-big` (builds the release binaries and the inputs) or, with DISPLAY set:
//   LAKEDROP_APP=target/release/lakedrop-desktop LAKEDROP_CLI=target/release/lakedrop \
//     node tests/e2e/bigdata.bench.mjs name=/path/to/folder ...
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openApp, startDriver, stopDriver, waitForDriver } from "./driver.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const APP = resolve(process.env.LAKEDROP_APP ?? join(REPO, "target/release/lakedrop-desktop"));
const CLI = resolve(process.env.LAKEDROP_CLI ?? join(REPO, "target/release/lakedrop"));
const IDLE_MS = 2000;

const scenarios = process.argv.slice(2).map((arg) => {
  const at = arg.indexOf("=");
  return { name: arg.slice(0, at), dir: arg.slice(at + 1) };
});
if (scenarios.length === 0) {
  console.error("usage: node bigdata.bench.mjs name=/folder [name=/folder ...]");
  process.exit(2);
}

/** Records the gaps between animation frames from now on, in the page. */
const RECORD_FRAMES = () => {
  const w = /** @type {any} */ (window);
  w.frameGaps = [];
  let last = performance.now();
  const tick = (now) => {
    w.frameGaps.push(now - last);
    last = now;
    w.frameTimer = requestAnimationFrame(tick);
  };
  w.frameTimer = requestAnimationFrame(tick);
};

/** The longest gap recorded, how many exceeded 100 ms, and starts over. */
const TAKE_FRAMES = () => {
  const w = /** @type {any} */ (window);
  const gaps = w.frameGaps ?? [];
  w.frameGaps = [];
  return { longest: Math.max(0, ...gaps), over100: gaps.filter((g) => g > 100).length, frames: gaps.length };
};

/** `lakedrop validate` on the folder: wall time in ms (its exit code says only whether lines are rejected). */
function cliMs(dir) {
  const t0 = performance.now();
  try {
    execFileSync(CLI, ["validate", dir, "--output", "json"], { stdio: "ignore", maxBuffer: 1 << 30 });
  } catch (e) {
    if (/** @type {any} */ (e).status !== 1) throw e;
  }
  return performance.now() - t0;
}

const dataDir = mkdtempSync(join(tmpdir(), "lakedrop-bench-"));
const { child: driver, port } = await startDriver({ LAKEDROP_DATA_DIR: dataDir });
try {
  await waitForDriver(port);
  console.log(`app: ${APP}; engine baseline: ${CLI} validate`);
  for (const { name, dir } of scenarios) {
    const browser = await openApp(port, APP, [dir]);
    try {
      const zone = await browser.$('[data-testid="drop-zone"][data-drop-ready="true"]');
      await zone.waitForExist({ timeout: 60_000, interval: 20 });
      const t0 = performance.now();
      await browser.execute(RECORD_FRAMES);
      const summary = await browser.$('[data-testid="validation-summary"]');
      await summary.waitForExist({ timeout: 600_000, interval: 50 });
      const appMs = performance.now() - t0;
      const busy = await browser.execute(TAKE_FRAMES);
      const text = await summary.getText();
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const idle = await browser.execute(TAKE_FRAMES);
      const engineMs = cliMs(dir);
      console.log(`${name}: "${text}"`);
      console.log(
        `  window → summary ${appMs.toFixed(0)} ms; lakedrop validate ${engineMs.toFixed(0)} ms; ratio ${(appMs / engineMs).toFixed(2)}`,
      );
      console.log(
        `  longest frame while checking ${busy.longest.toFixed(0)} ms (${busy.over100} of ${busy.frames} over 100 ms); idle ${idle.longest.toFixed(0)} ms; ratio ${(busy.longest / Math.max(idle.longest, 1)).toFixed(1)}`,
      );
    } finally {
      await browser.deleteSession();
      await new Promise((r) => setTimeout(r, 500));
    }
  }
} finally {
  stopDriver(driver);
  rmSync(dataDir, { recursive: true, force: true });
}
