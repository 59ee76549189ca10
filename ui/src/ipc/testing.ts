// Test doubles for the backend, for Vitest only. They live here because only src/ipc/
// may import @tauri-apps/*, tests included.
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";

export type CommandHandler = (cmd: string, args: Record<string, unknown>) => unknown;

interface ChannelRef {
  id: number;
}

interface TauriInternals {
  invoke: (cmd: string, args?: unknown) => Promise<unknown>;
  runCallback: (id: number, data: unknown) => void;
}

function internals(): TauriInternals {
  return (window as unknown as { __TAURI_INTERNALS__: TauriInternals }).__TAURI_INTERNALS__;
}

/**
 * Installs a fake backend: `handler` answers every command; throwing (or returning a
 * rejected promise) from it is what an `Err` looks like from Rust. Events (listen/emit)
 * are handled by Tauri's own mock, so drag and drop can be simulated with emitDrop().
 */
export function fakeBackend(handler: CommandHandler): void {
  mockWindows("main");
  mockIPC((cmd, args) => handler(cmd, (args ?? {}) as Record<string, unknown>), {
    shouldMockEvents: true,
  });
}

export function resetBackend(): void {
  clearMocks();
}

/** Sends messages down a Channel that the UI passed as a command argument. */
export function sendOnChannel(channel: unknown, messages: unknown[]): void {
  const { id } = channel as ChannelRef;
  messages.forEach((message, index) => internals().runCallback(id, { index, message }));
}

/**
 * Emits a native-style file drop, the same way the end-to-end test does inside the real
 * app: through the event plugin, with the payload Tauri's runtime sends.
 */
export async function emitDrop(paths: string[]): Promise<void> {
  await internals().invoke("plugin:event|emit", {
    event: "tauri://drag-drop",
    payload: { paths, position: { x: 10, y: 10 } },
  });
}

export async function emitDragOver(): Promise<void> {
  await internals().invoke("plugin:event|emit", {
    event: "tauri://drag-over",
    payload: { position: { x: 10, y: 10 } },
  });
}

/** A choice in the app menu, as the Rust side emits it. */
export async function emitMenu(choice: string): Promise<void> {
  await internals().invoke("plugin:event|emit", { event: "menu", payload: choice });
}
