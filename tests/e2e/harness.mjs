// What the tests that drive the real app in a window share: bounded waits, the processes they started (killed
// on the way out, or by a watchdog), an Xvfb of their own, screenshots, an axe scan of the view, steps that skip
// the rest after a failure, and moving the focus by Tab alone.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openApp, startDriver, waitForDriver } from "./driver.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const AXE_SOURCE = readFileSync(join(HERE, "node_modules/axe-core/axe.min.js"), "utf8");

export const byTestId = (id) => `[data-testid="${id}"]`;
/** A job's statuses once it has ended. */
export const TERMINAL = ["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCEL_COMPLETED", "CANCEL_FAILED"];

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class Harness {
  /** Screenshots and logs go to `artifacts`; after `watchdogMs` everything started is killed and the run fails. */
  constructor(artifacts, watchdogMs) {
    this.artifacts = artifacts;
    /** @type {import("node:child_process").ChildProcess[]} */
    this.started = [];
    /** @type {WebdriverIO.Browser | null} */
    this.browser = null;
    mkdirSync(artifacts, { recursive: true });
    this.watchdog = setTimeout(() => {
      console.error(`e2e watchdog: still running after ${watchdogMs / 1000} s; killing everything`);
      this.killAll("SIGKILL");
      process.exit(1);
    }, watchdogMs);
    this.watchdog.unref();
  }

  /** Kills a process we started, and its process group (WebKitWebDriver's app child). */
  kill(child, signal = "SIGTERM") {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  killAll(signal) {
    for (const child of this.started) this.kill(child, signal);
  }

  /** Closes the session, stops what was started, and the watchdog. */
  async close() {
    try {
      if (this.browser) await withTimeout(this.browser.deleteSession(), 10_000, "closing the session");
    } catch (e) {
      console.error(e.message);
    }
    this.killAll("SIGTERM");
    await new Promise((r) => setTimeout(r, 1500));
    this.killAll("SIGKILL");
    clearTimeout(this.watchdog);
  }

  logTo(child, name) {
    const log = createWriteStream(join(this.artifacts, name));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  }

  /** Starts Xvfb on a display it picks itself; resolves to ":N". */
  startXvfb() {
    return withTimeout(
      new Promise((res, rej) => {
        const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {
          stdio: ["ignore", "ignore", "pipe", "pipe"],
          detached: true,
        });
        this.started.push(xvfb);
        xvfb.on("error", (e) => rej(new Error(`cannot start Xvfb (apt-get install xvfb): ${e.message}`)));
        xvfb.on("exit", (code) => rej(new Error(`Xvfb exited with ${code}`)));
        let out = "";
        xvfb.stdio[3].on("data", (chunk) => {
          out += chunk.toString();
          if (out.includes("\n")) res(`:${out.trim()}`);
        });
      }),
      10_000,
      "Xvfb",
    );
  }

  /**
   * Starts the app `binary` with `args` on its command line (as "Open with" does) under WebKitWebDriver, on
   * `DISPLAY` or an Xvfb of its own, with its data in `dataDir`, and opens the session (`this.browser`).
   */
  async launch(binary, args, dataDir, sessionTimeout = 60_000) {
    const display = process.env.DISPLAY || (await this.startXvfb());
    // The app is started by WebKitWebDriver, so it inherits this environment.
    const { child: driver, port } = await startDriver(
      { DISPLAY: display, LAKEDROP_DATA_DIR: dataDir },
      ["ignore", "pipe", "pipe"],
    );
    this.started.push(driver);
    this.logTo(driver, "webkitwebdriver.log");
    await waitForDriver(port);
    this.browser = await withTimeout(
      openApp(port, binary, args, {
        logLevel: "warn",
        connectionRetryTimeout: sessionTimeout,
        connectionRetryCount: 0,
        waitforTimeout: 10_000,
      }),
      sessionTimeout + 5_000,
      "creating the WebDriver session (is TAURI_WEBVIEW_AUTOMATION reaching the app?)",
    );
    await this.browser.setTimeout({ script: 15_000, pageLoad: 30_000 });
  }

  async screenshot(name) {
    if (!this.browser) return;
    try {
      await withTimeout(this.browser.saveScreenshot(join(this.artifacts, `${name}.png`)), 10_000, "screenshot");
    } catch (e) {
      console.error(`screenshot ${name} failed: ${e.message}`);
    }
  }

  /**
   * Runs axe-core (WCAG 2.1 A and AA rules) on the view as it is now, inside the real webview, and fails on any
   * violation, naming the rule and the elements.
   */
  async axeCheck(view) {
    const browser = this.browser;
    if (!browser) return;
    await browser.execute(AXE_SOURCE);
    const violations = await browser.executeAsync((done) => {
      /** @type {any} */ (window).axe
        .run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] })
        .then(
          (r) =>
            done(
              r.violations.map((v) => ({
                id: v.id,
                help: v.help,
                nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
              })),
            ),
          (e) => done([{ id: "axe-failed", help: String(e), nodes: [] }]),
        );
    });
    assert.deepEqual(violations, [], `accessibility violations in the ${view} view`);
  }

  /**
   * From the Files step, on to the destination (the sandbox's, once it is filled in), its checks passed, and
   * the import started.
   */
  async startImport() {
    const b = this.browser;
    assert.ok(b);
    await b.$(byTestId("import-button")).click();
    await b.$(byTestId("run-checks")).waitForDisplayed({ timeout: 15_000 });
    await b.waitUntil(async () => (await b.$(byTestId("datastore")).getValue()) !== "", {
      timeout: 15_000,
      timeoutMsg: "no data store was offered",
    });
    await b.$(byTestId("run-checks")).click();
    const start = await b.$(byTestId("start-import"));
    await start.waitForEnabled({ timeout: 30_000, timeoutMsg: "the sandbox's checks did not pass" });
    await start.click();
  }

  /** Waits, up to `timeout` ms, for the job in view to end; its status. */
  async jobEnded(timeout) {
    const b = this.browser;
    assert.ok(b);
    const status = await b.$(byTestId("job-status"));
    await status.waitForExist({ timeout: 90_000, timeoutMsg: "never reached the job view" });
    let last = "";
    await b.waitUntil(
      async () => {
        last = (await status.getAttribute("data-status")) ?? "";
        return TERMINAL.includes(last);
      },
      { timeout, interval: 1000, timeoutMsg: `the job did not end (status ${last})` },
    );
    return last;
  }

  /**
   * A step runner for test `t`: steps run in order; after a failure the rest are skipped rather than each
   * waiting out its own timeout, and the screen at the failure is saved.
   */
  steps(t) {
    let failed = "";
    let n = 0;
    return (name, fn) => {
      n += 1;
      const shot = `${String(n).padStart(2, "0")}-failed`;
      return t.test(name, { skip: failed ? `skipped: "${failed}" failed` : false }, async () => {
        try {
          await fn();
        } catch (e) {
          failed = name;
          await this.screenshot(shot);
          throw e;
        }
      });
    };
  }

  /**
   * Presses Tab until the element matching `selector` has the focus (it must be reachable by keyboard) and
   * checks the focus is visible.
   */
  async tabTo(selector) {
    const b = this.browser;
    assert.ok(b);
    for (let i = 0; i < 160; i++) {
      await b.keys("Tab");
      const focus = await b.execute((sel) => {
        const el = document.activeElement;
        if (!el || !el.matches(sel)) return null;
        const style = getComputedStyle(el);
        return { outline: style.outlineStyle, shadow: style.boxShadow };
      }, selector);
      if (focus) {
        assert.ok(focus.outline !== "none" || focus.shadow !== "none", `no visible focus on ${selector}`);
        return;
      }
    }
    assert.fail(`${selector} cannot be reached with Tab`);
  }

  /** Tabs to the element matching `selector`, then presses Enter on it. */
  async tabToAndPress(selector) {
    await this.tabTo(selector);
    await this.browser.keys("Enter");
  }
}
