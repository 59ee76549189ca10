// Repair plans as the app builds them: one rule per cause group (replace a code, remove an
// element, reformat dates, set a missing element), in the JSON format `lakedrop fix --plan` and
// `lakedrop retry --plan` read (see docs/guide.md, "Fixing rejected lines").
import type { Cause } from "../ipc";
import { pathSteps } from "./highlight";

export type Action = "replace-code" | "remove" | "reformat-date" | "set";

export type Rule =
  | { resourceType: string; path: string; action: "replace-code"; map: Record<string, string> }
  | { resourceType: string; path: string; action: "remove" }
  | { resourceType: string; path: string; action: "reformat-date"; from: string; zone?: string }
  | { resourceType: string; path: string; action: "set"; value: unknown };

export interface Plan {
  version: 1;
  rules: readonly Rule[];
}

export const ACTION_LABELS: Record<Action, string> = {
  "replace-code": "Replace codes",
  remove: "Remove the element",
  "reformat-date": "Reformat dates",
  set: "Set a missing element",
};

/** The plan's JSON text, as the backend and the CLI read it. */
export function planText(rules: readonly Rule[]): string {
  return JSON.stringify({ version: 1, rules } satisfies Plan);
}

/** A plan's rules from its JSON text (as opened from a file); throws on anything else. */
export function planRules(text: string): Rule[] {
  const plan = JSON.parse(text) as Partial<Plan>;
  if (plan.version !== 1 || !Array.isArray(plan.rules))
    throw new Error("not a version 1 repair plan");
  return [...plan.rules];
}

/** "Patient.name[0].given" → "name.given": a rule's path steps through every array. */
export function rulePath(validatorPath: string): string {
  return pathSteps(validatorPath)
    .filter((s): s is string => typeof s === "string")
    .join(".");
}

/** The action a cause calls for, when one of the four fits it. */
export function actionFor(cause: Cause): Action | null {
  switch (cause) {
    case "invalid-code":
      return "replace-code";
    case "unknown-property":
      return "remove";
    case "bad-date":
      return "reformat-date";
    case "missing-required":
      return "set";
    default:
      return null;
  }
}

/** One line that says what a rule does: "Patient gender: M → male, F → female". */
export function ruleSummary(rule: Rule): string {
  const where = `${rule.resourceType === "*" ? "any type" : rule.resourceType} ${rule.path}`;
  switch (rule.action) {
    case "replace-code":
      return `${where}: ${Object.entries(rule.map)
        .map(([from, to]) => `${from} → ${to}`)
        .join(", ")}`;
    case "remove":
      return `${where}: remove`;
    case "reformat-date":
      return `${where}: dates read as ${rule.from}${rule.zone ? ` (zone ${rule.zone})` : ""}`;
    case "set":
      return `${where}: set to ${JSON.stringify(rule.value)} where missing`;
  }
}

/** The value text of a `set` rule as typed: JSON when it reads as JSON, else the text as a string. */
export function typedValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Why a rule, as filled in, cannot be used yet; null when it can. */
export function ruleProblem(rule: Rule): string | null {
  if (!/^(\*|[A-Za-z]+)$/.test(rule.resourceType)) return "Choose a resource type, or * for any.";
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(rule.path)) {
    return "Write the element's path as names separated by dots, e.g. name.given.";
  }
  switch (rule.action) {
    case "replace-code":
      if (Object.keys(rule.map).length === 0) return "Add at least one code to replace.";
      if (Object.entries(rule.map).some(([from, to]) => from === "" || to === "")) {
        return "Fill in both codes of each row.";
      }
      return null;
    case "reformat-date":
      if (!/YYYY/.test(rule.from) || !/MM/.test(rule.from) || !/DD/.test(rule.from)) {
        return "The pattern needs YYYY, MM and DD, e.g. MM/DD/YYYY.";
      }
      if (/hh/.test(rule.from) && !rule.zone) return "A pattern with a time needs a zone, e.g. Z.";
      return null;
    case "set":
      return rule.value === "" ? "Give the value to set." : null;
    case "remove":
      return null;
  }
}
