// Architecture invariant: only src/ipc/ imports @tauri-apps/*. Everything else reaches
// the backend through src/ipc, so it can be tested with a fake and the Tauri API can
// change in one place.
import { describe, expect, it } from "vitest";

const sources = import.meta.glob<string>(["./**/*.ts", "./**/*.svelte", "./**/*.js"], {
  query: "?raw",
  import: "default",
  eager: true,
});

// Static imports, re-exports, side-effect imports and dynamic import() of @tauri-apps.
const TAURI_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["'`]@tauri-apps\//;

export function importsTauri(source: string): boolean {
  return TAURI_IMPORT.test(source);
}

describe("architecture", () => {
  it("recognizes every form of import", () => {
    expect(importsTauri(`import { invoke } from "@tauri-apps/api/core";`)).toBe(true);
    expect(importsTauri(`export * from '@tauri-apps/api/event'`)).toBe(true);
    expect(importsTauri(`import "@tauri-apps/plugin-dialog";`)).toBe(true);
    expect(importsTauri(`const m = await import("@tauri-apps/api/webview");`)).toBe(true);
    expect(importsTauri(`import type { Event } from\n  "@tauri-apps/api/event";`)).toBe(true);
    expect(importsTauri(`// talks to Tauri through src/ipc`)).toBe(false);
    expect(importsTauri(`import * as ipc from "./ipc";`)).toBe(false);
  });

  it("reads the whole source tree", () => {
    const paths = Object.keys(sources);
    expect(paths).toContain("./App.svelte");
    expect(paths).toContain("./ipc/index.ts");
    expect(paths.length).toBeGreaterThan(20);
    // The gateway itself does import Tauri, which shows the check can see an import.
    expect(importsTauri(sources["./ipc/index.ts"] ?? "")).toBe(true);
  });

  it("has no @tauri-apps import outside src/ipc/", () => {
    const offenders = Object.entries(sources)
      .filter(([path]) => !path.startsWith("./ipc/") && path !== "./architecture.test.ts")
      .filter(([, source]) => importsTauri(source))
      .map(([path]) => path);
    expect(offenders).toEqual([]);
  });
});
