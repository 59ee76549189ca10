import * as ipc from "../ipc";
import type { ResolvedDestination, LakedropError } from "../ipc";

export const destination = $state<{
  connection: ResolvedDestination | null;
  error: LakedropError | null;
}>({ connection: null, error: null });

export async function loadConnection(): Promise<void> {
  try {
    destination.connection = await ipc.connection();
    destination.error = null;
  } catch (e) {
    destination.error = ipc.toLakedropError(e);
  }
}
