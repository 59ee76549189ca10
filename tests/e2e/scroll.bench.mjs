// Frame smoothness of the failure table: the built UI over its fake backend (ui/dist-fake) in
// headless Chromium, a job with a million failures against a baseline job with a thousand, the
// same scripted scroll in both, in the same run. Prints the frame times and their ratios.
//
//   node scroll.bench.mjs [rounds]      (make bench-ui builds ui/dist-fake first)
//
// The script: a steady fling from the top of the table to the bottom over 240 frames (the
// scrollTop set once per frame, as a trackpad does), then 60 jumps to random places, one per frame
// (the scrollbar thumb dragged about), then the wait until the rows at the last place show data.
// The fake backend answers on the page's own thread (the real one answers from Rust, off it), so
// the page fetches during the scroll cost these frames more than they cost the app.
import { launch, missing, serve } from "./fake-ui.mjs";

const BASELINE = 1_000;
const MEASURED = 1_000_000;
const rounds = Number(process.argv[2] ?? 3);

const why = missing();
if (why) {
  console.error(why);
  process.exit(1);
}

const server = await serve();
const browser = await launch();

/** One scripted scroll over a table of `failures` rows, in a fresh page. */
async function run(failures) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${server.origin}/?failures=${failures}&pace=0`);
  await page.locator('[data-testid="nav-jobs"]').click();
  await page.locator("button.job").first().click();
  const grid = page.locator(`[role="grid"][data-total="${failures}"]`);
  await grid.waitFor({ timeout: 30_000 });
  await grid.scrollIntoViewIfNeeded();
  await page.locator('[data-testid="virtual-row"]').first().waitFor();

  const stats = await page.evaluate(async () => {
    const grid = /** @type {HTMLElement} */ (document.querySelector('[role="grid"][data-total]'));
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const long = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) long.push(e.duration);
    });
    try {
      observer.observe({ type: "long-animation-frame", buffered: false });
    } catch {
      // Not in this browser: the frame deltas still tell.
    }
    const deltas = [];
    let last = (await frame(), performance.now());
    const tick = async () => {
      await frame();
      const now = performance.now();
      deltas.push(now - last);
      last = now;
    };
    const range = () => grid.scrollHeight - grid.clientHeight;
    for (let k = 1; k <= 240; k++) {
      grid.scrollTop = (k / 240) * range();
      await tick();
    }
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let k = 0; k < 60; k++) {
      grid.scrollTop = random() * range();
      await tick();
    }
    // Until the rows in view carry data (a row without a failure's line number is a placeholder).
    const settleStart = performance.now();
    for (let k = 0; k < 600; k++) {
      const rows = [...grid.querySelectorAll('[data-testid="virtual-row"]')];
      if (rows.length > 0 && rows.every((r) => /\d/.test(r.textContent ?? ""))) break;
      await tick();
    }
    const settle = performance.now() - settleStart;
    observer.disconnect();
    const sorted = [...deltas].sort((a, b) => a - b);
    const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return {
      frames: deltas.length,
      mean: deltas.reduce((s, d) => s + d, 0) / deltas.length,
      p95: pick(0.95),
      longest: sorted[sorted.length - 1],
      over50: deltas.filter((d) => d > 50).length,
      longFrames: long.length,
      settle,
      rendered: grid.querySelectorAll('[data-testid="virtual-row"]').length,
    };
  });
  await context.close();
  return stats;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { [BASELINE]: [], [MEASURED]: [] };
await run(BASELINE); // warm-up: the first page of a fresh browser pays for compiling the bundle
for (let r = 0; r < rounds; r++) {
  results[BASELINE].push(await run(BASELINE));
  results[MEASURED].push(await run(MEASURED));
}
await browser.close();
await server.close();

const summary = (rs) => ({
  mean: median(rs.map((r) => r.mean)),
  p95: median(rs.map((r) => r.p95)),
  longest: Math.max(...rs.map((r) => r.longest)),
  over50: Math.max(...rs.map((r) => r.over50)),
  settle: median(rs.map((r) => r.settle)),
  rendered: Math.max(...rs.map((r) => r.rendered)),
});
const base = summary(results[BASELINE]);
const big = summary(results[MEASURED]);
const ms = (v) => `${v.toFixed(1)} ms`;
console.log(`failure table, scripted scroll (${results[MEASURED][0].frames} frames, ${rounds} rounds; medians, longest of all)`);
console.log(`${"".padEnd(26)}${"1,000 rows".padStart(14)}${"1,000,000 rows".padStart(16)}${"ratio".padStart(8)}`);
for (const [label, key, fmt] of [
  ["mean frame", "mean", ms],
  ["95th percentile frame", "p95", ms],
  ["longest frame", "longest", ms],
  ["frames over 50 ms", "over50", String],
  ["rows in view show data", "settle", ms],
  ["rows in the DOM", "rendered", String],
]) {
  const ratio = base[key] > 0 ? (big[key] / base[key]).toFixed(2) : "-";
  console.log(`${label.padEnd(26)}${fmt(base[key]).padStart(14)}${fmt(big[key]).padStart(16)}${ratio.padStart(8)}`);
}
