// Where paths come from: the native drag and drop of the webview and the native pickers.
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { open } from "@tauri-apps/plugin-dialog";
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

function asList(picked: string | string[] | null): string[] {
  if (picked === null) return [];
  return Array.isArray(picked) ? picked : [picked];
}

/** Opens the native file picker; an empty list means the person cancelled. */
export async function pickFiles(): Promise<string[]> {
  try {
    return asList(
      await open({
        multiple: true,
        directory: false,
        filters: [{ name: "FHIR NDJSON", extensions: ["ndjson", "gz"] }],
      }),
    );
  } catch (e) {
    throw toLakedropError(e);
  }
}

/** Opens the native folder picker; the backend expands folders to their NDJSON files. */
export async function pickFolder(): Promise<string[]> {
  try {
    return asList(await open({ multiple: true, directory: true }));
  } catch (e) {
    throw toLakedropError(e);
  }
}
