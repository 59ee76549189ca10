// Where paths come from: the native drag and drop of the webview and the native pickers.
// The backend honours only paths that came through the OS this way.
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { listen } from "@tauri-apps/api/event";
import { commands } from "./bindings";
import { toLakedropError } from "./errors";

export interface FileDropHandlers {
  /** Paths of files and folders dropped on the window. */
  onDrop: (paths: string[]) => void;
  /** True while something is dragged over the window. */
  onHover: (hovering: boolean) => void;
}

/**
 * Subscribes to native file drops on this webview. Tauri delivers them as the events
 * `tauri://drag-enter|over|drop|leave`, with payload `{ paths, position }`; the browser's
 * own drop events never carry file system paths. Resolves once listening, to an
 * unsubscribe function.
 */
export async function onFileDrop(handlers: FileDropHandlers): Promise<() => void> {
  try {
    const unlisten = await getCurrentWebview().onDragDropEvent((event) => {
      const payload = event.payload;
      switch (payload.type) {
        case "enter":
        case "over":
          handlers.onHover(true);
          break;
        case "leave":
          handlers.onHover(false);
          break;
        case "drop":
          handlers.onHover(false);
          if (payload.paths.length > 0) handlers.onDrop(payload.paths);
          break;
      }
    });
    return () => void unlisten();
  } catch (e) {
    throw toLakedropError(e);
  }
}

/**
 * Opens the native file picker (from Rust, which records the choice: commands read only what
 * the person dropped or picked); an empty list means the person cancelled.
 */
export async function pickFiles(): Promise<string[]> {
  return pick(false);
}

/** Opens the native folder picker; the backend expands folders to their NDJSON files. */
export async function pickFolder(): Promise<string[]> {
  return pick(true);
}

async function pick(folder: boolean): Promise<string[]> {
  let result: Awaited<ReturnType<typeof commands.pickFiles>>;
  try {
    result = await commands.pickFiles(folder);
  } catch (e) {
    throw toLakedropError(e);
  }
  if (result.status === "ok") return result.data;
  throw toLakedropError(result.error);
}

/** What the app menu can ask the window to do. */
export type MenuChoice = "open-files" | "open-folder" | "view-files" | "view-jobs" | "shortcuts";
const MENU_CHOICES: readonly string[] = [
  "open-files",
  "open-folder",
  "view-files",
  "view-jobs",
  "shortcuts",
] satisfies MenuChoice[];

/** Calls `onChoice` for each choice made in the app's menu; resolves to an unsubscribe function. */
export async function onMenu(onChoice: (choice: MenuChoice) => void): Promise<() => void> {
  try {
    const unlisten = await listen<string>("menu", (event) => {
      const choice = event.payload;
      if (MENU_CHOICES.includes(choice)) {
        onChoice(choice as MenuChoice);
      }
    });
    return () => void unlisten();
  } catch (e) {
    throw toLakedropError(e);
  }
}
