// Waiting in component tests for what an effect or a poll will show.
import { tick } from "svelte";

/** Resolves once `check` holds, letting timers and Svelte's updates run; throws after `ms`. */
export async function waitFor(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
    await tick();
  }
}
