// Startup benchmark of the real app (release build) under Xvfb, driven by WebKitWebDriver:
// launch → interactive window (the drop zone listening), launch → validation summary of the
// 10-patient sample given on the command line, and the memory of the idle app (the app process
// and its WebKit children). Prints the median of RUNS runs beside the targets; asserts nothing.
//
// Run with `make bench-app` (builds the release binary) or, with DISPLAY set:
//   LAKEDROP_APP=target/release/lakedrop-desktop node tests/e2e/startup.bench.mjs
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openApp, startDriver, stopDriver, waitForDriver } from "./driver.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const APP = resolve(process.env.LAKEDROP_APP ?? join(REPO, "target/release/lakedrop-desktop"));
const SAMPLE = resolve(process.env.LAKEDROP_SAMPLE ?? join(REPO, "samples/synthea-10-patients"));
const RUNS = Number(process.env.RUNS ?? 5);
const READY_TARGET_MS = 1000;

/** Resident memory (MiB) of a process and all its descendants. */
function treeRssMiB(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // gone
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    try {
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      total += rss ? Number(rss[1]) : 0;
    } catch {
      // gone
    }
    stack.push(...(children.get(p) ?? []));
  }
  return total / 1024;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dataDir = mkdtempSync(join(tmpdir(), "lakedrop-bench-"));
const { child: driver, port } = await startDriver({ LAKEDROP_DATA_DIR: dataDir });
const ready = [];
const summary = [];
const memory = [];
try {
  await waitForDriver(port);
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    const browser = await openApp(port, APP, [SAMPLE]);
    const zone = await browser.$('[data-testid="drop-zone"][data-drop-ready="true"]');
    await zone.waitForExist({ timeout: 60_000, interval: 20 });
    ready.push(performance.now() - t0);
    await browser.$('[data-testid="validation-summary"]').waitForExist({ timeout: 60_000, interval: 20 });
    summary.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 5000));
    const pid = Number(execFileSync("pgrep", ["-n", "-f", APP]).toString().trim());
    memory.push(treeRssMiB(pid));
    await browser.deleteSession();
    await new Promise((r) => setTimeout(r, 500));
  }
} finally {
  stopDriver(driver);
  rmSync(dataDir, { recursive: true, force: true });
}

const r = median(ready);
console.log(`app: ${APP} (${RUNS} runs, medians; each includes WebDriver's session start)`);
console.log(
  `launch → interactive window: ${r.toFixed(0)} ms (target ${READY_TARGET_MS} ms, ratio ${(r / READY_TARGET_MS).toFixed(2)}); runs ${ready.map((x) => x.toFixed(0)).join(", ")}`,
);
console.log(
  `launch → validation summary of ${SAMPLE.split("/").pop()}: ${median(summary).toFixed(0)} ms; validation alone ≈ ${(median(summary) - r).toFixed(0)} ms`,
);
console.log(`idle memory (app + WebKit processes, 5 s after the summary): ${median(memory).toFixed(0)} MiB`);
