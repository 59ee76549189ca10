import type { ManifestSummary as Manifest } from "../../ipc";

export type CountKey =
  | "resourcesScanned"
  | "resourcesImported"
  | "resourcesWithCustomerError"
  | "resourcesWithServerError";

export interface CountRow {
  key: CountKey;
  label: string;
  /** For the chart's axis, where the long labels would collide. */
  short: string;
  value: number;
  tone: "neutral" | "ok" | "warn" | "bad";
}

/** The four resource counts of a manifest, in the order they are charted. */
export function manifestCounts(m: Manifest): CountRow[] {
  return [
    {
      key: "resourcesScanned",
      label: "Scanned",
      short: "Scanned",
      value: m.resourcesScanned,
      tone: "neutral",
    },
    {
      key: "resourcesImported",
      label: "Imported",
      short: "Imported",
      value: m.resourcesImported,
      tone: "ok",
    },
    {
      key: "resourcesWithCustomerError",
      label: "Rejected (data errors)",
      short: "Rejected",
      value: m.resourcesWithCustomerError,
      tone: "warn",
    },
    {
      key: "resourcesWithServerError",
      label: "Failed (service errors)",
      short: "Service errors",
      value: m.resourcesWithServerError,
      tone: "bad",
    },
  ];
}
