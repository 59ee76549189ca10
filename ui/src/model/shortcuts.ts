// The keyboard shortcuts, in one place: the menu's accelerators (handled by the native menu in the
// desktop app) and the window's own keys, shown in the shortcuts dialog.

export interface Shortcut {
  /** Keys pressed together, with "Mod" for Ctrl (⌘ on macOS). */
  keys: string[];
  what: string;
}

export interface ShortcutGroup {
  title: string;
  shortcuts: Shortcut[];
}

export const SHORTCUTS: ShortcutGroup[] = [
  {
    title: "Anywhere",
    shortcuts: [
      { keys: ["Mod", "O"], what: "Choose files to check" },
      { keys: ["Mod", "Shift", "O"], what: "Choose a folder to check" },
      { keys: ["Mod", "1"], what: "Files" },
      { keys: ["Mod", "2"], what: "Import jobs" },
      { keys: ["?"], what: "This list" },
      { keys: ["Mod", "/"], what: "This list, from a text field too" },
      { keys: ["Tab"], what: "Next control; Shift + Tab goes back" },
    ],
  },
  {
    title: "In a table of failures",
    shortcuts: [
      { keys: ["↑"], what: "Previous failure" },
      { keys: ["↓"], what: "Next failure" },
      { keys: ["Page Up"], what: "A page up" },
      { keys: ["Page Down"], what: "A page down" },
      { keys: ["Home"], what: "First failure" },
      { keys: ["End"], what: "Last failure" },
    ],
  },
  {
    title: "In a dialog or an open list",
    shortcuts: [{ keys: ["Esc"], what: "Close it" }],
  },
];

/** "Mod" as the platform says it. */
export function keyLabel(key: string, mac: boolean): string {
  return key === "Mod" ? (mac ? "⌘" : "Ctrl") : key;
}

/** Whether a key press is meant for a text field (where "?" is a character, not a shortcut). */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return (
    target.isContentEditable ||
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  );
}

/** Whether `event` asks for the shortcuts list: "?" outside a text field, or Mod + /. */
export function wantsShortcuts(event: KeyboardEvent): boolean {
  if ((event.ctrlKey || event.metaKey) && event.key === "/") return true;
  return (
    event.key === "?" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target)
  );
}
