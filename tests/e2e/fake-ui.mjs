// The built UI over its in-memory backend (ui/dist-fake, `npm run build:fake` in ui/), served on
// loopback and opened in Debian's Chromium through playwright-core. Shared by ui.test.mjs and
// scroll.bench.mjs.
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

const ROOT = new URL("../../ui/dist-fake/", import.meta.url).pathname;
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** Why the UI cannot be opened here, or null when it can. */
export function missing() {
  if (!existsSync(join(ROOT, "fake.html"))) return "ui/dist-fake is not built: run npm run build:fake in ui/";
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}: install Debian's chromium package`;
  return null;
}

/** Serves ui/dist-fake on a free loopback port; resolves to its origin and a close function. */
export async function serve() {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const file = normalize(join(ROOT, path === "/" ? "fake.html" : path));
    if (!file.startsWith(ROOT) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Headless Chromium with the flags this closed network needs (no background connections). */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
