// Where an element is in the JSON text an editor holds, and the edits the quick fixes make there:
// replace a value, remove a member, add one. Read from the JSON syntax tree, so the rest of the
// text (its layout, the person's own edits) is left as it is and each fix is one undoable change.
// Paths are the validator's: "Patient.name[0].given".
import { ensureSyntaxTree } from "@codemirror/language";
import type { ChangeSpec, EditorState } from "@codemirror/state";
import type { SyntaxNode } from "@lezer/common";
import { pathSteps } from "./highlight";

const VALUES = new Set(["Object", "Array", "String", "Number", "True", "False", "Null"]);

interface Found {
  /** The element's value. */
  value: SyntaxNode;
  /** The member holding it (name and value), or null for an array item or the resource itself. */
  property: SyntaxNode | null;
}

function root(state: EditorState): SyntaxNode | null {
  const tree = ensureSyntaxTree(state, state.doc.length, 1000);
  if (!tree) return null;
  let node = tree.topNode.firstChild;
  while (node && !VALUES.has(node.name)) node = node.nextSibling;
  return node;
}

function children(node: SyntaxNode, names: (name: string) => boolean): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) {
    if (names(child.name)) out.push(child);
  }
  return out;
}

function memberName(state: EditorState, property: SyntaxNode): string | null {
  const name = property.getChild("PropertyName");
  if (!name) return null;
  try {
    return JSON.parse(state.sliceDoc(name.from, name.to)) as string;
  } catch {
    return null;
  }
}

function propertyValue(property: SyntaxNode): SyntaxNode | null {
  return children(property, (n) => VALUES.has(n)).at(-1) ?? null;
}

/** The deepest node on the way to `steps`, and how many steps it got through. */
function walk(
  state: EditorState,
  steps: (string | number)[],
): { found: Found; depth: number } | null {
  const top = root(state);
  if (!top) return null;
  let found: Found = { value: top, property: null };
  let depth = 0;
  for (const step of steps) {
    const node = found.value;
    let next: Found | null = null;
    if (typeof step === "number" && node.name === "Array") {
      const item = children(node, (n) => VALUES.has(n))[step];
      if (item) next = { value: item, property: null };
    } else if (typeof step === "string" && node.name === "Object") {
      const property = children(node, (n) => n === "Property").find(
        (p) => memberName(state, p) === step,
      );
      const value = property ? propertyValue(property) : null;
      if (property && value) next = { value, property };
    }
    if (!next) break;
    found = next;
    depth += 1;
  }
  return { found, depth };
}

function locate(state: EditorState, path: string): Found | null {
  const steps = pathSteps(path);
  const reached = walk(state, steps);
  return reached && reached.depth === steps.length ? reached.found : null;
}

/**
 * The stretch of text an issue at `path` is about: the member (name and value) when it is there;
 * for a missing one, the name of the deepest member on its way (or the resource's first brace).
 */
export function elementRange(state: EditorState, path: string): { from: number; to: number } {
  const reached = walk(state, pathSteps(path));
  if (!reached) return { from: 0, to: Math.min(1, state.doc.length) };
  const { value, property } = reached.found;
  if (reached.depth === pathSteps(path).length) {
    const node = property ?? value;
    return { from: node.from, to: node.to };
  }
  const name = property?.getChild("PropertyName");
  if (name) return { from: name.from, to: name.to };
  return { from: value.from, to: value.from + 1 };
}

/** Replaces the element's value by `json` (a JSON value). */
export function replaceValue(state: EditorState, path: string, json: unknown): ChangeSpec | null {
  const found = locate(state, path);
  if (!found) return null;
  return { from: found.value.from, to: found.value.to, insert: JSON.stringify(json) };
}

/** Removes the member at `path`, with the comma that joined it to its neighbour. */
export function removeElement(state: EditorState, path: string): ChangeSpec | null {
  const found = locate(state, path);
  const node = found?.property ?? (found && pathSteps(path).length > 0 ? found.value : null);
  if (!node) return null;
  const text = state.doc.toString();
  let after = node.to;
  while (after < text.length && /\s/.test(text[after] ?? "")) after += 1;
  if (text[after] === ",") {
    let next = after + 1;
    while (next < text.length && /\s/.test(text[next] ?? "")) next += 1;
    // From this member to the next one: the next takes this one's place and indentation.
    return { from: node.from, to: next };
  }
  let before = node.from - 1;
  while (before >= 0 && /\s/.test(text[before] ?? "")) before -= 1;
  if (text[before] === ",") return { from: before, to: node.to };
  return { from: node.from, to: node.to };
}

/** Adds the member `name` with `json` as the last one of the object at `parentPath`. */
export function addMember(
  state: EditorState,
  parentPath: string,
  name: string,
  json: unknown,
): ChangeSpec | null {
  const parent = locate(state, parentPath);
  if (!parent || parent.value.name !== "Object") return null;
  const members = children(parent.value, (n) => n === "Property");
  const member = `${JSON.stringify(name)}: ${JSON.stringify(json)}`;
  const last = members.at(-1);
  if (!last) {
    return { from: parent.value.from + 1, to: parent.value.to - 1, insert: member };
  }
  const line = state.doc.lineAt(last.from);
  const indent = /^\s*/.exec(line.text)?.[0] ?? "";
  const sameLine = state.doc.lineAt(parent.value.from).number === line.number;
  return { from: last.to, insert: sameLine ? `, ${member}` : `,\n${indent}${member}` };
}

/** The path of the object holding the element at `path` ("Patient.contact[0].name" → "Patient.contact[0]"). */
export function parentPath(path: string): string {
  const dot = path.lastIndexOf(".");
  return dot < 0 ? path : path.slice(0, dot);
}
