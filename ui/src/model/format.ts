// Numbers are formatted the same way everywhere (en-US grouping), so what the table
// shows, what the summary says and what the end-to-end test reads agree.

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** "1 file", "13 files". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

const UNITS = ["bytes", "KB", "MB", "GB", "TB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return plural(bytes, "byte");
  return `${value.toLocaleString("en-US", { maximumFractionDigits: 1 })} ${UNITS[unit]}`;
}

export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return "0%";
  return `${Math.floor((part / whole) * 100)}%`;
}

export function formatTime(epochMs: number): string {
  return new Date(epochMs).toLocaleString("en-US", {
    dateStyle: "medium",
    timeStyle: "medium",
  });
}

/**
 * A backend phrase ("role Typo does not exist", in the CLI's style) as a sentence: a first plain
 * word capitalized, a full stop at the end. Names keep their case ("lakedrop-output is in …").
 */
export function sentence(phrase: string): string {
  const text = phrase.trim();
  const capital = /^[a-z]+ /.test(text) ? text[0]?.toUpperCase() + text.slice(1) : text;
  return /[.!?:]$/.test(capital) || capital === "" ? capital : `${capital}.`;
}

/** The last segment of a path, for either separator. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? path;
}

/** Axis ticks for a count axis up to `max`: every whole number when there are few, else the chart's own. */
export function countTicks(max: number): number[] | undefined {
  return max <= 10
    ? Array.from({ length: Math.max(1, Math.ceil(max)) + 1 }, (_, i) => i)
    : undefined;
}
