import { svelte } from "@sveltejs/vite-plugin-svelte";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

const GATEWAY = ["/src/ipc/index.ts", "/src/ipc/files.ts"];

/**
 * The fake build: the UI over an in-memory backend, for a plain browser (tests/e2e/ui.test.mjs).
 * Where the gateway imports the generated bindings' `commands`, it gets the fake's instead;
 * the fake itself still imports the real module for its types.
 */
function fakeBackend(): Plugin {
  return {
    name: "lakedrop-fake-backend",
    enforce: "pre",
    resolveId(source, importer) {
      if (source !== "./bindings" || !importer) return null;
      const from = importer.replaceAll("\\", "/");
      const gateway = GATEWAY.find((g) => from.endsWith(g));
      return gateway ? from.slice(0, -gateway.length) + "/src/ipc/fake/commands.ts" : null;
    },
  };
}

// Tauri loads the dev server from a fixed port (tauri.conf.json devUrl) and builds from
// dist/ (frontendDist). `vite build --mode fake` builds fake.html into dist-fake/.
export default defineConfig(({ mode }) => ({
  plugins: mode === "fake" ? [fakeBackend(), svelte()] : [svelte()],
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    watch: { ignored: ["**/src-tauri/**", "**/target/**"] },
  },
  envPrefix: ["VITE_", "TAURI_ENV_"],
  build:
    mode === "fake"
      ? { outDir: "dist-fake", emptyOutDir: true, rollupOptions: { input: "fake.html" } }
      : { outDir: "dist", emptyOutDir: true },
  // Svelte's package exports a server build by default; mount() needs the browser one.
  resolve: mode === "test" ? { conditions: ["browser"] } : undefined,
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    restoreMocks: true,
  },
}));
