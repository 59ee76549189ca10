// Following something that changes on the backend (a job, the jobs of one import) by asking again and again.
import * as ipc from "../ipc";

/** Consecutive failed polls before giving up (the view then offers "Try again"). */
export const MAX_POLL_ERRORS = 5;

export interface Poll<T> {
  fetch: () => Promise<T>;
  everyMs: number;
  /** Each answer, in order. */
  onResult: (next: T) => void;
  onError: (error: ipc.LakedropError) => void;
  /** Whether to ask again, after each answer or error. */
  more: () => boolean;
  /** Polling ended by itself: nothing more to learn, or too many errors in a row. */
  onEnd: () => void;
}

/**
 * Asks at once and then every `everyMs` while `more()` says so and fewer than `MAX_POLL_ERRORS`
 * polls in a row failed. Returns the function that stops it (an effect's cleanup): an answer that
 * arrives after that is dropped.
 */
export function poll<T>(p: Poll<T>): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let errors = 0;

  async function tick(): Promise<void> {
    try {
      const next = await p.fetch();
      if (stopped) return;
      errors = 0;
      p.onResult(next);
    } catch (e) {
      if (stopped) return;
      errors += 1;
      p.onError(ipc.toLakedropError(e));
    }
    if (errors < MAX_POLL_ERRORS && p.more()) {
      timer = setTimeout(() => void tick(), p.everyMs);
    } else {
      p.onEnd();
    }
  }

  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
