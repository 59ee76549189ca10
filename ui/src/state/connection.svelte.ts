import * as ipc from "../ipc";
import type { ConnectionStatus, LakedropError, ResolvedDestination } from "../ipc";

/** Where a connection is, before a destination is chosen on it. */
export type Connected = Pick<ConnectionStatus, "kind" | "label" | "region">;

export const destination = $state<{
  /** The destination chosen on the connection, once one is. */
  connection: ResolvedDestination | null;
  /** The connection itself (an AWS profile just connected to has no destination yet). */
  connected: Connected | null;
  error: LakedropError | null;
}>({ connection: null, connected: null, error: null });

export async function loadConnection(): Promise<void> {
  const status = await ipc.connectionStatus().catch(() => null);
  if (status)
    destination.connected = { kind: status.kind, label: status.label, region: status.region };
  try {
    destination.connection = await ipc.connection();
    destination.error = null;
  } catch (e) {
    destination.error = ipc.toLakedropError(e);
  }
}
