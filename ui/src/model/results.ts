// The results review of a finished job: failures grouped by cause, a windowed table over pages of
// failures fetched on demand, and the element of the original resource a failure is about.
import type { Cause, CauseGroup, Failure, Joined, JoinSource } from "../ipc";
import { formatCount } from "./format";

const CAUSE_LABELS: Record<Cause, string> = {
  "invalid-json": "Invalid JSON",
  "invalid-resource-type": "Invalid resource type",
  "missing-id": "Missing id",
  "invalid-id": "Invalid id",
  "unknown-property": "Unknown element",
  "missing-required": "Missing required element",
  "wrong-type": "Wrong JSON type",
  "bad-date": "Bad date or time",
  "invalid-code": "Code not allowed",
  "profile-not-supported": "Profile not supported",
  "invalid-reference": "Invalid reference",
  other: "Other",
};

export function causeLabel(cause: Cause): string {
  return CAUSE_LABELS[cause] ?? cause;
}

/** Every cause, in the order the backend declares them (for filter choices). */
export const CAUSES = Object.keys(CAUSE_LABELS) as Cause[];

export interface TypeCount {
  resourceType: string;
  count: number;
}

/** One cause with its failures counted per resource type, what it means and what to do. */
export interface CauseSummary {
  cause: Cause;
  label: string;
  count: number;
  explanation: string;
  fix: string;
  /** A representative diagnostics text from HealthLake. */
  diagnostics: string;
  /** Most frequent first. */
  types: TypeCount[];
  files: string[];
}

/** The backend's groups (cause × type × file) folded per cause, most frequent cause first. */
export function summarizeCauses(groups: readonly CauseGroup[]): CauseSummary[] {
  const byCause = new Map<Cause, CauseSummary & { typeMap: Map<string, number> }>();
  for (const { group, explanation, fix } of groups) {
    let s = byCause.get(group.cause);
    if (!s) {
      s = {
        cause: group.cause,
        label: causeLabel(group.cause),
        count: 0,
        explanation,
        fix,
        diagnostics: group.diagnostics,
        types: [],
        files: [],
        typeMap: new Map(),
      };
      byCause.set(group.cause, s);
    }
    s.count += group.count;
    s.typeMap.set(group.resourceType, (s.typeMap.get(group.resourceType) ?? 0) + group.count);
    if (!s.files.includes(group.file)) s.files.push(group.file);
  }
  return [...byCause.values()]
    .map(({ typeMap, ...s }) => ({
      ...s,
      types: [...typeMap]
        .map(([resourceType, count]) => ({ resourceType, count }))
        .sort((a, b) => b.count - a.count || a.resourceType.localeCompare(b.resourceType)),
    }))
    .sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
}

export interface CauseTypeRow {
  key: string;
  cause: Cause;
  label: string;
  resourceType: string;
  count: number;
}

/** Failures per cause × resource type (files summed), in the order of `summarizeCauses`. */
export function causeTypeCounts(groups: readonly CauseGroup[]): CauseTypeRow[] {
  return summarizeCauses(groups).flatMap((s) =>
    s.types.map((t) => ({
      key: `${s.cause}:${t.resourceType}`,
      cause: s.cause,
      label: s.label,
      resourceType: t.resourceType,
      count: t.count,
    })),
  );
}

/** The resource types and files that failures came from, sorted, for the filters. */
export function filterChoices(groups: readonly CauseGroup[]): { types: string[]; files: string[] } {
  const types = new Set<string>();
  const files = new Set<string>();
  for (const { group } of groups) {
    types.add(group.resourceType);
    files.add(group.file);
  }
  return { types: [...types].sort(), files: [...files].sort() };
}

export interface FailureFilter {
  cause: Cause | null;
  resourceType: string | null;
  file: string | null;
}

export const NO_FILTER: FailureFilter = { cause: null, resourceType: null, file: null };

export function filterKey(f: FailureFilter): string {
  return JSON.stringify([f.cause, f.resourceType, f.file]);
}

/** "local file, lineId read as 1-based (12 of 12 compared matched)". */
export function sourceNote(source: JoinSource): string {
  const origin =
    source.origin === "local"
      ? "the local file"
      : source.origin === "s3"
        ? "the input object in S3"
        : "nowhere (the source is gone)";
  const d = source.decision;
  if (!d) return `Original lines from ${origin}.`;
  if (d.base === "undecided") {
    return `Original lines from ${origin}; no failure carried a type or id to tell whether lineId counts from 0 or 1, so 1 was used.`;
  }
  const matched = d.base === "one-based" ? d.oneBasedMatches : d.zeroBasedMatches;
  const base = d.base === "one-based" ? "1" : "0";
  return `Original lines from ${origin}; lineId counts from ${base} (${formatCount(matched)} of ${formatCount(d.compared)} failures with a type or id matched).`;
}

// ---------------------------------------------------------------------------------------------
// The element a failure is about.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function parse(line: string | null): Json | undefined {
  if (line === null) return undefined;
  try {
    return JSON.parse(line) as Json;
  } catch {
    return undefined;
  }
}

function pathText(steps: (string | number)[]): string {
  return steps.map((s) => (typeof s === "number" ? `[${s}]` : `.${s}`)).join("");
}

/** The first element (depth first, in document order) that `found` accepts, as steps. */
function findPath(
  value: Json,
  found: (key: string | number, node: Json) => boolean,
): (string | number)[] | null {
  const walk = (node: Json, at: (string | number)[]): (string | number)[] | null => {
    if (node === null || typeof node !== "object") return null;
    const entries: [string | number, Json][] = Array.isArray(node)
      ? node.map((v, i) => [i, v])
      : Object.entries(node);
    for (const [key, child] of entries) {
      const here = [...at, key];
      if (found(key, child)) return here;
      const deeper = walk(child, here);
      if (deeper) return deeper;
    }
    return null;
  };
  return walk(value, []);
}

/** The FHIR path an OperationOutcome issue names, if the failure carries one (`location`/`expression`). */
function statedLocation(failure: Failure): string | null {
  const extra = failure as Failure & { location?: unknown; expression?: unknown };
  for (const candidate of [extra.expression, extra.location]) {
    const first = Array.isArray(candidate) ? candidate[0] : candidate;
    if (typeof first === "string" && first.length > 0) return first;
  }
  return null;
}

/**
 * The path (as `highlight` takes it, e.g. "Patient.gender") of the element a failure is about: the
 * issue's location when the failure carries it, else read from HealthLake's diagnostics text and the
 * original line ("Unrecognised property '@foo'" is found wherever foo is; a quoted bad value is found
 * by its value). Null when nothing points anywhere; the resource is then shown without a mark.
 */
export function failurePath(joined: Joined): string | null {
  const { failure, original } = joined;
  const stated = statedLocation(failure);
  if (stated) return stated;
  const value = parse(original);
  const type =
    (value &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    typeof value.resourceType === "string"
      ? value.resourceType
      : null) ??
    failure.resourceType ??
    "Resource";
  const text = failure.diagnostics.join("\n");

  // A FHIR path in the text: "Wrong type at Patient.name[0].given", "Element 'Patient.gender'".
  const named = /\b([A-Z][A-Za-z]+(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])*)+)/.exec(
    text.replace(/https?:\/\/\S+/g, ""),
  );
  const namedPath = named?.[1];
  if (namedPath && (namedPath.split(".")[0] === type || failure.resourceType === null)) {
    return namedPath;
  }

  if (/at 'resourceType'/i.test(text)) return `${type}.resourceType`;
  if (/'resourceId'|invalid id/i.test(text)) return `${type}.id`;

  const property = /propert(?:y|ies) '@?([^']+)'/i.exec(text) ?? /element '@?([^'.]+)'/i.exec(text);
  const name = property?.[1];
  if (name) {
    const at = value !== undefined ? findPath(value, (key) => key === name) : null;
    return `${type}${pathText(at ?? [name])}`;
  }

  if (failure.cause === "profile-not-supported") return `${type}.meta.profile`;

  // A quoted value ("'1999-13-01' is not a FHIR date"): the element holding it.
  if (value !== undefined) {
    for (const quoted of text.matchAll(/"([^"]+)"|'([^']+)'/g)) {
      const wanted = quoted[1] ?? quoted[2];
      const at = findPath(value, (key, node) => key !== "resourceType" && node === wanted);
      if (at) return `${type}${pathText(at)}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Windowing: which rows of a long list are on screen.

/**
 * Browsers cap an element's height (about 17.9 million px in Firefox, 33.5 million in WebKit and
 * Chromium); past this the scroll range is scaled so that a million rows still fit.
 */
export const MAX_SCROLL_HEIGHT = 15_000_000;

export interface WindowInput {
  scrollTop: number;
  /** Height of the scrolled area the rows show in, px. */
  viewport: number;
  rowHeight: number;
  total: number;
  /** Rows rendered beyond each edge. */
  overscan?: number;
  maxHeight?: number;
}

export interface RowWindow {
  /** First rendered row. */
  start: number;
  /** One past the last rendered row. */
  end: number;
  /** Where row `start` goes, in px from the top of the spacer. */
  offset: number;
  /** Height of the spacer that gives the scrollbar its range, px. */
  height: number;
}

function scale(i: WindowInput): { height: number; ratio: number } {
  const content = i.total * i.rowHeight;
  const height = Math.min(content, i.maxHeight ?? MAX_SCROLL_HEIGHT);
  const scrollable = height - i.viewport;
  const ratio = content > height && scrollable > 0 ? (content - i.viewport) / scrollable : 1;
  return { height, ratio };
}

export function rowWindow(i: WindowInput): RowWindow {
  const overscan = i.overscan ?? 6;
  const { height, ratio } = scale(i);
  const scrollTop = Math.max(0, Math.min(i.scrollTop, Math.max(0, height - i.viewport)));
  const virtualTop = scrollTop * ratio;
  const first = Math.min(Math.floor(virtualTop / i.rowHeight), Math.max(0, i.total - 1));
  const shown = Math.ceil(i.viewport / i.rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(i.total, first + shown + overscan);
  return { start, end, offset: scrollTop - (virtualTop - start * i.rowHeight), height };
}

/** The scrollTop that brings row `index` fully into view, changing as little as possible. */
export function scrollTopFor(index: number, i: WindowInput): number {
  const { height, ratio } = scale(i);
  const virtualTop = Math.max(0, i.scrollTop) * ratio;
  const top = index * i.rowHeight;
  let target = virtualTop;
  if (top < virtualTop) target = top;
  else if (top + i.rowHeight > virtualTop + i.viewport) target = top + i.rowHeight - i.viewport;
  return Math.max(0, Math.min(target / ratio, Math.max(0, height - i.viewport)));
}

// ---------------------------------------------------------------------------------------------
// Pages of rows, fetched when they come into view and forgotten when far away.

export type FetchPage<T> = (offset: number, limit: number) => Promise<{ total: number; rows: T[] }>;

export class PageCache<T> {
  /** Rows in all, once the first page has answered. */
  total: number | null = null;
  private readonly pages = new Map<number, T[]>();
  private readonly pending = new Map<number, Promise<void>>();
  private disposed = false;

  constructor(
    private readonly fetchPage: FetchPage<T>,
    private readonly onChange: () => void = () => {},
    readonly pageSize = 200,
    /** Pages kept; the least recently wanted are dropped past this. */
    private readonly maxPages = 30,
  ) {}

  get(index: number): T | undefined {
    return this.pages.get(Math.floor(index / this.pageSize))?.[index % this.pageSize];
  }

  /** How many pages are held (memory stays bounded however far one scrolls). */
  get size(): number {
    return this.pages.size;
  }

  /** Fetches the pages rows [start, end) fall in that are not held yet. */
  async ensure(start: number, end: number): Promise<void> {
    const first = Math.floor(Math.max(0, start) / this.pageSize);
    const last = Math.floor(Math.max(start, end - 1) / this.pageSize);
    const wanted: Promise<void>[] = [];
    for (let p = first; p <= last; p += 1) {
      const held = this.pages.get(p);
      if (held) {
        // Most recently wanted last, so eviction drops the page wanted longest ago.
        this.pages.delete(p);
        this.pages.set(p, held);
        continue;
      }
      if (this.total !== null && p * this.pageSize >= this.total) continue;
      let fetching = this.pending.get(p);
      if (!fetching) {
        fetching = this.load(p, first, last);
        this.pending.set(p, fetching);
      }
      wanted.push(fetching);
    }
    await Promise.all(wanted);
  }

  /** Stops notifying: the answers of a cache replaced by another filter are dropped. */
  dispose(): void {
    this.disposed = true;
  }

  private async load(page: number, first: number, last: number): Promise<void> {
    try {
      const answer = await this.fetchPage(page * this.pageSize, this.pageSize);
      if (this.disposed) return;
      this.total = answer.total;
      this.pages.set(page, answer.rows);
      for (const held of this.pages.keys()) {
        if (this.pages.size <= this.maxPages) break;
        if (held < first || held > last) this.pages.delete(held);
      }
      this.onChange();
    } finally {
      this.pending.delete(page);
    }
  }
}
