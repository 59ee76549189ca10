import { describe, expect, it } from "vitest";
import { highlight, pathSteps } from "./highlight";

const marked = (line: string, path: string | null): string =>
  highlight(line, path)
    .filter((s) => s.mark)
    .map((s) => s.text)
    .join("");

describe("highlight", () => {
  const patient = JSON.stringify({
    resourceType: "Patient",
    id: "p1",
    name: [{ family: "Doe", given: ["Jane", "Q"] }],
    birthDate: "01/02/1965",
  });

  it("splits validator paths into steps", () => {
    expect(pathSteps("Patient.name[0].given[1]")).toEqual(["name", 0, "given", 1]);
    expect(pathSteps("Patient.contained[0].nmae")).toEqual(["contained", 0, "nmae"]);
  });

  it("marks exactly the element the issue names", () => {
    expect(marked(patient, "Patient.birthDate")).toBe('"birthDate": "01/02/1965"');
    expect(marked(patient, "Patient.name[0].given[1]")).toBe('"Q"');
  });

  it("marks the nearest parent of a missing element", () => {
    expect(marked(patient, "Patient.name[0].use")).toContain('"family": "Doe"');
  });

  it("keeps every character of the resource, indented", () => {
    const text = highlight(patient, "Patient.birthDate")
      .map((s) => s.text)
      .join("");
    expect(JSON.parse(text)).toEqual(JSON.parse(patient));
    expect(text).toContain('\n  "id": "p1"');
  });

  it("shows a line that is not JSON as it is", () => {
    expect(highlight("{not json", "Patient.id")).toEqual([{ text: "{not json", mark: false }]);
  });
});
