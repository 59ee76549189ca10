// Entry of the fake build (fake.html): Tauri's own mocks stand in for the runtime (windows,
// events, Channel callbacks), the commands are answered by ./commands, and then the app
// starts exactly as in the desktop window. window.lakedropFake lets a test do what only the
// desktop can: drop files from the file manager, or choose an entry of the app menu; and what
// only time can: end the jobs still running.
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { world } from "./commands";

mockWindows("main");
mockIPC(
  (cmd) => {
    // Every command goes through ./commands; only the event plugin reaches the IPC.
    throw new Error(`the fake backend has no IPC command ${cmd}`);
  },
  { shouldMockEvents: true },
);

const controls = {
  world,
  /** A drop from the file manager: the sample's paths, or `count` generated ones. */
  drop: (paths?: string[]) =>
    emit("tauri://drag-drop", {
      paths: paths ?? world.samplePaths(),
      position: { x: 10, y: 10 },
    }),
  menu: (choice: string) => emit("menu", choice),
  endJobs: () => world.endJobs(),
};
(window as unknown as { lakedropFake: typeof controls }).lakedropFake = controls;

await import("../../main");
