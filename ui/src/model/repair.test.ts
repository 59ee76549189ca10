import { describe, expect, it } from "vitest";
import { actionFor, planRules, planText, ruleProblem, rulePath, ruleSummary } from "./repair";

describe("repair plans", () => {
  it("write the JSON the CLI reads and read it back", () => {
    const rules = [
      {
        resourceType: "Patient",
        path: "gender",
        action: "replace-code" as const,
        map: { M: "male", F: "female" },
      },
      { resourceType: "*", path: "meta.project", action: "remove" as const },
    ];
    const text = planText(rules);
    expect(JSON.parse(text)).toEqual({ version: 1, rules });
    expect(planRules(text)).toEqual(rules);
    expect(() => planRules('{"version": 2, "rules": []}')).toThrow(/version 1/);
    expect(ruleSummary(rules[0]!)).toBe("Patient gender: M → male, F → female");
    expect(ruleSummary(rules[1]!)).toBe("any type meta.project: remove");
  });

  it("take a rule's path from the validator's, through every array", () => {
    expect(rulePath("Patient.name[0].given[1]")).toBe("name.given");
    expect(rulePath("Encounter.period.start")).toBe("period.start");
  });

  it("say what is missing before a rule can be added", () => {
    const base = { resourceType: "Patient", path: "birthDate" };
    expect(ruleProblem({ ...base, action: "reformat-date", from: "MM/YYYY" })).toMatch(/DD/);
    expect(ruleProblem({ ...base, action: "reformat-date", from: "MM/DD/YYYY hh:mm" })).toMatch(
      /zone/,
    );
    expect(ruleProblem({ ...base, action: "reformat-date", from: "MM/DD/YYYY" })).toBeNull();
    expect(ruleProblem({ ...base, action: "replace-code", map: { M: "" } })).toMatch(/both/);
    expect(ruleProblem({ ...base, path: "name..given", action: "remove" })).toMatch(/dots/);
    expect(actionFor("unknown-property")).toBe("remove");
    expect(actionFor("invalid-json")).toBeNull();
  });
});
