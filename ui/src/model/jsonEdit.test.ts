import { json } from "@codemirror/lang-json";
import { EditorState } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import { addMember, elementRange, parentPath, removeElement, replaceValue } from "./jsonEdit";

const resource = {
  resourceType: "Patient",
  id: "p1",
  gender: "M",
  name: [{ family: "Doe", given: ["A", "B"] }],
  legacyCode: "A1",
};

function state(text: string): EditorState {
  return EditorState.create({ doc: text, extensions: [json()] });
}

function applied(s: EditorState, change: ReturnType<typeof replaceValue>): unknown {
  expect(change).not.toBeNull();
  return JSON.parse(s.update({ changes: change ?? [] }).state.doc.toString());
}

describe("JSON edits at a validator path", () => {
  const text = JSON.stringify(resource, null, 2);

  it("finds a member, an array item inside one, and the way to a missing one", () => {
    const s = state(text);
    const at = (path: string) => {
      const r = elementRange(s, path);
      return text.slice(r.from, r.to);
    };
    expect(at("Patient.gender")).toBe('"gender": "M"');
    expect(at("Patient.name[0].given[1]")).toBe('"B"');
    expect(at("Patient.name[0].prefix")).toBe("{");
    expect(at("Patient.contact[0].name")).toBe("{");
    expect(at("Patient.name[0].family.x")).toBe('"family"');
  });

  it("replaces a value and leaves the rest of the text as it was", () => {
    const s = state(text);
    const change = replaceValue(s, "Patient.gender", "male");
    const after = s.update({ changes: change ?? [] }).state.doc.toString();
    expect(after).toBe(text.replace('"gender": "M"', '"gender": "male"'));
    expect(replaceValue(s, "Patient.birthDate", "x")).toBeNull();
  });

  it("removes a member with its comma, wherever it stands", () => {
    const s = state(text);
    const { legacyCode: _gone, ...rest } = resource;
    expect(applied(s, removeElement(s, "Patient.legacyCode"))).toEqual(rest);
    const { id: _id, ...noId } = resource;
    expect(applied(s, removeElement(s, "Patient.id"))).toEqual(noId);
    const one = state('{"resourceType": "Patient"}');
    expect(applied(one, removeElement(one, "Patient.resourceType"))).toEqual({});
  });

  it("adds a member at the end of its object, indented as its neighbours", () => {
    const s = state(text);
    const change = addMember(s, "Patient", "birthDate", "1965-03-07");
    const after = s.update({ changes: change ?? [] }).state.doc.toString();
    expect(JSON.parse(after)).toEqual({ ...resource, birthDate: "1965-03-07" });
    expect(after).toContain('  "legacyCode": "A1",\n  "birthDate": "1965-03-07"\n}');
    const empty = state('{"resourceType": "Encounter", "class": {}}');
    expect(applied(empty, addMember(empty, "Encounter.class", "code", "AMB"))).toEqual({
      resourceType: "Encounter",
      class: { code: "AMB" },
    });
    expect(parentPath("Patient.contact[0].name")).toBe("Patient.contact[0]");
  });
});

describe("a CodeableConcept's codings replaced", () => {
  it("keeps its text", () => {
    const s = state(
      JSON.stringify({
        resourceType: "Condition",
        clinicalStatus: { coding: [{ code: "bogus" }], text: "x" },
      }),
    );
    const coding = {
      system: "http://terminology.hl7.org/CodeSystem/condition-clinical",
      code: "active",
    };
    expect(applied(s, replaceValue(s, "Condition.clinicalStatus.coding", [coding]))).toEqual({
      resourceType: "Condition",
      clinicalStatus: { coding: [coding], text: "x" },
    });
  });
});
