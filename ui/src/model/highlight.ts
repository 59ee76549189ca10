// Shows a resource's JSON, indented, with the element an issue is about marked, so that the
// analyst sees the problem in place. Paths are the validator's: "Patient.name[0].given".

export interface Segment {
  text: string;
  /** Part of the element the issue is about. */
  mark: boolean;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Splits "Patient.name[0].given" into ["name", 0, "given"] (the resource type is dropped). */
export function pathSteps(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  const parts = path.split(".");
  parts.forEach((part, i) => {
    const match = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    const name = match ? match[1] : part;
    if (i > 0 && name) steps.push(name);
    for (const index of (match?.[2] ?? "").matchAll(/\[(\d+)\]/g)) steps.push(Number(index[1]));
  });
  return steps;
}

/** The longest prefix of `steps` that exists in `value`: a missing element marks its parent. */
function existing(value: Json, steps: (string | number)[]): (string | number)[] {
  const found: (string | number)[] = [];
  let node: Json = value;
  for (const step of steps) {
    if (typeof step === "number" && Array.isArray(node) && step < node.length) {
      node = node[step] as Json;
    } else if (
      typeof step === "string" &&
      node !== null &&
      typeof node === "object" &&
      !Array.isArray(node) &&
      Object.hasOwn(node, step)
    ) {
      node = node[step] as Json;
    } else {
      break;
    }
    found.push(step);
  }
  return found;
}

/**
 * The line as indented JSON split into segments, the element at `path` marked. A line that is
 * not JSON comes back as one unmarked segment, as it is.
 */
export function highlight(line: string, path: string | null): Segment[] {
  let value: Json;
  try {
    value = JSON.parse(line) as Json;
  } catch {
    return [{ text: line, mark: false }];
  }
  const target = path ? existing(value, pathSteps(path)) : null;
  const out: Segment[] = [];
  const push = (text: string, mark: boolean): void => {
    const last = out.at(-1);
    if (last && last.mark === mark) last.text += text;
    else out.push({ text, mark });
  };
  const same = (a: (string | number)[], b: (string | number)[] | null): boolean =>
    b !== null && a.length === b.length && a.every((s, i) => s === b[i]);

  const write = (node: Json, at: (string | number)[], indent: string, mark: boolean): void => {
    if (node === null || typeof node !== "object") {
      push(JSON.stringify(node), mark);
      return;
    }
    const inner = indent + "  ";
    const entries: [string | number, Json][] = Array.isArray(node)
      ? node.map((v, i) => [i, v])
      : Object.entries(node);
    if (entries.length === 0) {
      push(Array.isArray(node) ? "[]" : "{}", mark);
      return;
    }
    push(Array.isArray(node) ? "[\n" : "{\n", mark);
    entries.forEach(([key, child], i) => {
      const childAt = [...at, key];
      const childMark = mark || same(childAt, target);
      push(inner, mark);
      if (typeof key === "string") push(`${JSON.stringify(key)}: `, childMark);
      write(child, childAt, inner, childMark);
      push(i < entries.length - 1 ? ",\n" : "\n", mark);
    });
    push(indent + (Array.isArray(node) ? "]" : "}"), mark);
  };
  write(value, [], "", false);
  return out;
}
