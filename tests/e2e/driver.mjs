// What every script that drives the real app needs: a free port, Debian's WebKitWebDriver started on it (with
// TAURI_WEBVIEW_AUTOMATION, without which session creation hangs), and the wait until it answers.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { remote } from "webdriverio";

export const DRIVER = "/usr/bin/WebKitWebDriver";

/** A TCP port nobody listens on, on loopback. */
export function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.on("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => res(port));
    });
  });
}

/** Resolves once the driver on `port` answers its status endpoint; rejects after `ms`. */
export async function waitForDriver(port, ms = 15_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`WebKitWebDriver did not answer on port ${port} within ${ms / 1000} s`);
}

/**
 * Starts WebKitWebDriver on a free port, in its own process group (the app it starts is its child, and inherits
 * this environment with `env` added); `waitForDriver(port)` says when it answers.
 */
export async function startDriver(env, stdio = "ignore") {
  const port = await freePort();
  const child = spawn(DRIVER, [`--port=${port}`, "--host=127.0.0.1"], {
    env: { ...process.env, TAURI_WEBVIEW_AUTOMATION: "true", ...env },
    stdio,
    detached: true,
  });
  return { child, port };
}

/** Stops a driver started by `startDriver`, with the app it started (its process group). */
export function stopDriver(child) {
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // gone
  }
}

/**
 * Opens a WebDriver session on the driver at `port` that launches the app `binary` with `args` on its command
 * line (as "Open with" does); `options` go to webdriverio as they are.
 */
export function openApp(port, binary, args, options = {}) {
  return remote({
    hostname: "127.0.0.1",
    port,
    path: "/",
    logLevel: "error",
    ...options,
    capabilities: {
      // What tauri-driver forwards to WebKitWebDriver on Linux; no browserName.
      "webkitgtk:browserOptions": { binary, args },
      // WebKitWebDriver speaks classic WebDriver only; do not ask for BiDi.
      "wdio:enforceWebDriverClassic": true,
    },
  });
}
