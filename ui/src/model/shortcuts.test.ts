import { describe, expect, it } from "vitest";
import { keyLabel, wantsShortcuts } from "./shortcuts";

function key(init: KeyboardEventInit, target?: HTMLElement): KeyboardEvent {
  const event = new KeyboardEvent("keydown", init);
  if (target) Object.defineProperty(event, "target", { value: target });
  return event;
}

describe("wantsShortcuts", () => {
  it("opens on ? and on Mod + /, but not while typing ? into a field", () => {
    expect(wantsShortcuts(key({ key: "?" }, document.createElement("button")))).toBe(true);
    expect(wantsShortcuts(key({ key: "/", ctrlKey: true }))).toBe(true);
    expect(wantsShortcuts(key({ key: "/", metaKey: true }))).toBe(true);
    expect(wantsShortcuts(key({ key: "?" }, document.createElement("input")))).toBe(false);
    expect(wantsShortcuts(key({ key: "?" }, document.createElement("textarea")))).toBe(false);
    expect(wantsShortcuts(key({ key: "/" }))).toBe(false);
    expect(wantsShortcuts(key({ key: "o", ctrlKey: true }))).toBe(false);
  });

  it("names the modifier as the platform does", () => {
    expect(keyLabel("Mod", true)).toBe("⌘");
    expect(keyLabel("Mod", false)).toBe("Ctrl");
    expect(keyLabel("Home", false)).toBe("Home");
  });
});
