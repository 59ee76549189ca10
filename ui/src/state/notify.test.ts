import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeBackend, resetBackend } from "../ipc/testing";
import { NOTIFY_AFTER_MS, notifyIfAway } from "./notify";

afterEach(() => {
  vi.restoreAllMocks();
  resetBackend();
});

describe("notifyIfAway", () => {
  it("notifies of long work that ended while the window was in the background, and only then", async () => {
    const sent: unknown[] = [];
    fakeBackend((cmd, args) => {
      if (cmd === "notify_finished") sent.push(args.finished);
      return true;
    });
    const focus = vi.spyOn(document, "hasFocus");
    const check = { kind: "check", files: 3, rejectedLines: 2 } as const;

    focus.mockReturnValue(true);
    notifyIfAway(check, 0, NOTIFY_AFTER_MS * 10);
    focus.mockReturnValue(false);
    notifyIfAway(check, 0, NOTIFY_AFTER_MS - 1);
    await vi.waitFor(() => expect(sent).toEqual([]));

    notifyIfAway(check, 0, NOTIFY_AFTER_MS);
    await vi.waitFor(() => expect(sent).toEqual([check]));
  });

  it("is quiet when the desktop has no notification service", async () => {
    fakeBackend(() => {
      throw { code: "internal", message: "no D-Bus" };
    });
    vi.spyOn(document, "hasFocus").mockReturnValue(false);
    expect(() =>
      notifyIfAway({ kind: "upload", files: 1, jobStarted: false }, 0, 60_000),
    ).not.toThrow();
    await new Promise((r) => setTimeout(r, 10));
  });
});
