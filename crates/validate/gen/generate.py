#!/usr/bin/env python3
"""Generates crates/validate/src/r4/model.rs, the FHIR R4 (4.0.1) structure tables the validator walks.

The source is the official R4 package `hl7.fhir.r4.examples@4.0.1` (CC0), pinned in package.json beside this
script: its base StructureDefinitions (derivation `specialization`; profiles are left out), ValueSets and
CodeSystems, one JSON file each. Run it with `make fhir-model`; the output is committed, so builds never need npm
or this script.

What it keeps, per complex type, resource and inline (backbone) element: every JSON member name (choice types
expanded to `valueQuantity`, `valueString`, ...), what it holds (a primitive, a complex type, any resource),
minimum cardinality, whether it is an array, its choice group, and for `code` elements with a *required* binding
whose value set expands to a closed list here, that list. Bindings that cannot be expanded from these files
(BCP-47 languages, MIME types, UCUM, filters) are left out so that they can never reject a valid value.
"""

import json
import sys
from pathlib import Path

from fhirpath import Unsupported, compile_invariant

# Invariants walk.rs checks by hand, because they reach across levels: ele-1 (an element has a value or
# children), dom-2..dom-5 (contained resources), ref-1 (a local reference names a contained resource), rng-2 (a
# range's low is not above its high) and txt-1 (the narrative's XHTML, in narrative.rs). txt-2 is left out on
# purpose; narrative.rs says why.
HAND_WRITTEN = {"ele-1", "dom-2", "dom-3", "dom-4", "dom-5", "ref-1", "rng-2", "txt-1", "txt-2"}

PRIMITIVES = [
    "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant", "integer",
    "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid", "xhtml",
]
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"


def resources(folder, resource_type):
    """Every resource of one type in the package, one JSON file each (`StructureDefinition-Patient.json`)."""
    for path in sorted(folder.glob(f"{resource_type}-*.json")):
        resource = json.loads(path.read_text())
        if resource.get("resourceType") == resource_type:
            yield resource


def upper_first(s):
    return s[0].upper() + s[1:]


def type_code(t):
    code = t["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in t.get("extension", []):
            if ext["url"] == FHIR_TYPE_EXT:
                return ext["valueUrl"]
        return "string"
    return code


class ValueSets:
    def __init__(self, folder):
        self.value_sets = {}
        self.code_systems = {}
        for r in resources(folder, "ValueSet"):
            self.value_sets[r["url"]] = r
        for r in resources(folder, "CodeSystem"):
            self.code_systems[r["url"]] = r

    def codes_of_system(self, url):
        cs = self.code_systems.get(url)
        if cs is None or cs.get("content") != "complete" or "concept" not in cs:
            return None
        out = []

        def walk(concepts):
            for c in concepts:
                out.append(c["code"])
                walk(c.get("concept", []))

        walk(cs["concept"])
        return out

    def expand(self, canonical):
        """The closed list of codes of a value set, or None when it cannot be expanded here."""
        codings = self.expand_codings(canonical)
        return None if codings is None else sorted({code for _, code in codings}) or None

    def expand_codings(self, canonical):
        """The closed list of (system, code) of a value set, or None when it cannot be expanded here."""
        vs = self.value_sets.get(canonical.split("|")[0])
        if vs is None or "compose" not in vs or vs["compose"].get("exclude"):
            return None
        codes = []
        for include in vs["compose"]["include"]:
            if include.get("filter") or include.get("valueSet") or "system" not in include:
                return None
            if "concept" in include:
                codes.extend((include["system"], c["code"]) for c in include["concept"])
            else:
                listed = self.codes_of_system(include["system"])
                if listed is None:
                    return None
                codes.extend((include["system"], code) for code in listed)
        return sorted(set(codes)) or None


class Model:
    def __init__(self, folder):
        self.types = []  # (name, is_resource, [element dicts])
        self.index = {}
        self.code_sets = []  # (canonical, [codes])
        self.code_set_index = {}
        self.coding_sets = []  # (canonical, [(system, code)])
        self.coding_set_index = {}
        self.value_sets = ValueSets(folder)
        self.invariants = {}  # type name -> [(key, human, rust expr)]
        self.not_evaluated = []  # (key, context path, reason)
        # The base definitions only: profiles (derivation "constraint") and logical models are not types.
        definitions = [sd for sd in resources(folder, "StructureDefinition") if sd.get("derivation") != "constraint"]
        complex_defs = [
            sd for sd in definitions if sd["kind"] == "complex-type" and sd["id"] not in ("BackboneElement",)
        ]
        complex_defs.sort(key=lambda sd: (sd["id"] != "Element", sd["id"]))
        resource_defs = sorted(
            (sd for sd in definitions if sd["kind"] == "resource" and not sd.get("abstract")),
            key=lambda sd: sd["id"],
        )
        r4_types = set(self.value_sets.expand("http://hl7.org/fhir/ValueSet/resource-types"))
        assert {sd["id"] for sd in resource_defs} <= r4_types
        self.resources = sorted(sd["id"] for sd in resource_defs)
        # Reserve indexes first so that element kinds can point forward.
        for sd in complex_defs + resource_defs:
            self.reserve_tree(sd)
        for sd in complex_defs + resource_defs:
            self.fill(sd)

    def reserve(self, name, is_resource):
        if name not in self.index:
            self.index[name] = len(self.types)
            self.types.append([name, is_resource, None])

    def reserve_tree(self, sd):
        self.reserve(sd["id"], sd["kind"] == "resource")
        elements = sd["snapshot"]["element"]
        paths = {e["path"] for e in elements}
        for e in elements:
            if "." in e["path"] and any(p.startswith(e["path"] + ".") for p in paths):
                self.reserve(e["path"], False)

    def code_set(self, binding):
        """For a `code` with a required binding: the index of its closed list of codes (0 for none)."""
        return self.closed_set(binding, self.code_sets, self.code_set_index, self.value_sets.expand)

    def coding_set(self, binding):
        """For a Coding or CodeableConcept with a required binding: the index of its closed (system, code) list."""
        return self.closed_set(binding, self.coding_sets, self.coding_set_index, self.value_sets.expand_codings)

    @staticmethod
    def closed_set(binding, sets, index, expand):
        if not binding or binding.get("strength") != "required" or "valueSet" not in binding:
            return 0
        canonical = binding["valueSet"].split("|")[0]
        if canonical not in index:
            values = expand(canonical)
            if values is None:
                index[canonical] = 0
            else:
                sets.append((canonical, values))
                index[canonical] = len(sets)
        return index[canonical]

    def fill(self, sd):
        elements = sd["snapshot"]["element"]
        root = elements[0]["path"]
        by_path = {e["path"]: e for e in elements}
        children = {}
        for e in elements[1:]:
            if e.get("max") == "0":
                continue
            parent, _, name = e["path"].rpartition(".")
            children.setdefault(parent, []).append(e)
        for parent, members in children.items():
            out = []
            groups = []
            for e in members:
                name = e["path"].rpartition(".")[2]
                many = e["max"] != "1"
                minimum = 1 if e["min"] > 0 else 0
                if "contentReference" in e:
                    target = e["contentReference"].lstrip("#")
                    out.append(dict(name=name, kind=("complex", target), min=minimum, many=many, choice=0, codes=0))
                    continue
                if e["path"] in self.index:  # inline (backbone) element
                    out.append(dict(name=name, kind=("complex", e["path"]), min=minimum, many=many, choice=0,
                                    codes=0))
                    continue
                codes = [type_code(t) for t in e["type"]]
                if name.endswith("[x]"):
                    base = name[:-3]
                    groups.append(base)
                    group = len(groups)
                    for code in codes:
                        out.append(dict(name=base + upper_first(code), kind=self.kind(code), min=minimum, many=many,
                                        choice=group, codes=0))
                else:
                    assert len(codes) == 1, e["path"]
                    if codes[0] == "code":
                        binding = self.code_set(e.get("binding"))
                    elif codes[0] in ("Coding", "CodeableConcept"):
                        binding = self.coding_set(e.get("binding"))
                    else:
                        binding = 0
                    out.append(dict(name=name, kind=self.kind(codes[0]), min=minimum, many=many, choice=0,
                                    codes=binding))
            # By length, then name: a lookup compares lengths first and rarely needs to compare bytes.
            out.sort(key=lambda el: (len(el["name"].encode()), el["name"].encode()))
            self.types[self.index[parent]][2] = (out, groups)
            self.compile_invariants(sd, by_path[parent], parent, out, groups)
        for e in elements[1:]:
            # A contentReference repeats the rules of the element it names, which are checked there.
            if e["path"] not in children and "contentReference" not in e:
                for c in self.own_constraints(sd, e):
                    self.not_evaluated.append((c["key"], e["path"], "it constrains a member's value, not an object"))
        del root

    @staticmethod
    def own_constraints(sd, element):
        """The error-severity invariants this definition itself states on an element (not inherited ones)."""
        for c in element.get("constraint", []):
            if c.get("source") in (None, sd["url"]) and c["severity"] == "error" and c["key"] not in HAND_WRITTEN:
                yield c

    def compile_invariants(self, sd, element, path, members, groups):
        compiled = []
        for c in self.own_constraints(sd, element):
            try:
                rust, watched = compile_invariant(path, members, groups, c["expression"])
            except Unsupported as reason:
                self.not_evaluated.append((c["key"], path, str(reason)))
                continue
            for i in watched:
                members[i]["watch"] = True
            compiled.append((c["key"], c["human"], rust))
        if compiled:
            self.invariants[path] = compiled

    def kind(self, code):
        if code in PRIMITIVES:
            return ("prim", code)
        if code == "Resource":
            return ("resource", None)
        return ("complex", code)


def rust_str(s):
    return json.dumps(s)


def emit(model, source_version):
    lines = []
    w = lines.append
    w(f"// @generated by crates/validate/gen/generate.py from the FHIR {source_version} definitions. Do not edit.")
    w("")
    w("use super::schema::{Element, Expr, Invariant, Kind, Prim, Type};")
    w("")
    elements = []
    type_rows = []
    max_members = 0
    for name, is_resource, body in model.types:
        assert body is not None, name
        members, groups = body
        max_members = max(max_members, len(members))
        start = len(elements)
        for m in members:
            kind = m["kind"]
            if kind[0] == "prim":
                k = f"Kind::Prim(Prim::{upper_first(kind[1])})"
            elif kind[0] == "resource":
                k = "Kind::Resource"
            else:
                k = f"Kind::Complex({model.index[kind[1]]})"
            elements.append(
                f"    Element {{ name: {rust_str(m['name'])}, kind: {k}, min: {m['min']}, many: {str(m['many']).lower()}, "
                f"choice: {m['choice']}, codes: {m['codes']}, watch: {str(m.get('watch', False)).lower()} }},"
            )
        groups_lit = ", ".join(rust_str(g) for g in groups)
        invariants = "".join(
            f"\n        Invariant {{ key: {rust_str(key)}, human: {rust_str(human)}, expr: {rust} }},"
            for key, human, rust in model.invariants.get(name, [])
        )
        if invariants:
            invariants += "\n    "
        type_rows.append(
            f"    Type {{ name: {rust_str(name)}, resource: {str(is_resource).lower()}, start: {start}, "
            f"len: {len(members)}, choices: &[{groups_lit}], invariants: &[{invariants}] }},"
        )
    w(f"/// The most members any type has (sizes the per-object \"seen\" bit sets).")
    w(f"pub(crate) const MAX_MEMBERS: usize = {max_members};")
    w(f"pub(crate) const ELEMENT_TYPE: u16 = {model.index['Element']};")
    w(f"pub(crate) const REFERENCE_TYPE: u16 = {model.index['Reference']};")
    w(f"pub(crate) const META_TYPE: u16 = {model.index['Meta']};")
    w(f"pub(crate) const CODING_TYPE: u16 = {model.index['Coding']};")
    w(f"pub(crate) const CODEABLE_CONCEPT_TYPE: u16 = {model.index['CodeableConcept']};")
    w(f"pub(crate) const RANGE_TYPE: u16 = {model.index['Range']};")
    w("")
    w(f"pub(crate) static TYPES: [Type; {len(type_rows)}] = [")
    lines.extend(type_rows)
    w("];")
    w("")
    w(f"pub(crate) static ELEMENTS: [Element; {len(elements)}] = [")
    lines.extend(elements)
    w("];")
    w("")
    w("/// Every R4 resource type, sorted, with the index of its definition in `TYPES`.")
    w(f"pub(crate) static RESOURCES: [(&str, u16); {len(model.resources)}] = [")
    for r in model.resources:
        w(f"    ({rust_str(r)}, {model.index[r]}),")
    w("];")
    w("")
    w("/// Closed code lists of required bindings (index 0 means none), each sorted, with the value set's URL.")
    w(f"pub(crate) static CODE_SETS: [(&str, &[&str]); {len(model.code_sets) + 1}] = [")
    w('    ("", &[]),')
    for canonical, codes in model.code_sets:
        w(f"    ({rust_str(canonical)}, &[{', '.join(rust_str(c) for c in codes)}]),")
    w("];")
    w("")
    w("/// Closed (system, code) lists of required bindings on Coding and CodeableConcept elements (index 0 means")
    w("/// none), each sorted, with the value set's URL.")
    w(f"pub(crate) static CODING_SETS: [(&str, &[(&str, &str)]); {len(model.coding_sets) + 1}] = [")
    w('    ("", &[]),')
    for canonical, codings in model.coding_sets:
        pairs = ", ".join(f"({rust_str(system)}, {rust_str(code)})" for system, code in codings)
        w(f"    ({rust_str(canonical)}, &[{pairs}]),")
    w("];")
    w("")
    w("// Error-severity invariants of R4 not evaluated here, and why (the rest are compiled into `TYPES` above, or")
    w("// checked by hand in walk.rs: ele-1, dom-2, dom-3, dom-4, dom-5, ref-1, rng-2, txt-1; txt-2 is left out, as")
    w("// narrative.rs says):")
    compiled = {key for rows in model.invariants.values() for key, _, _ in rows}
    for key, path, reason in sorted({row for row in model.not_evaluated if row[0] not in compiled}):
        w(f"// - {key} on {path}: {reason}")
    return "\n".join(lines) + "\n"


def main():
    folder = Path(sys.argv[1])
    out = Path(sys.argv[2])
    package = json.loads((folder / "package.json").read_text())
    assert package["name"] == "hl7.fhir.r4.examples" and package["version"] == "4.0.1", package
    version = package["version"]
    model = Model(folder)
    out.write_text(emit(model, version))
    compiled = sum(len(v) for v in model.invariants.values())
    keys = {key for rows in model.invariants.values() for key, _, _ in rows}
    not_evaluated = {row for row in model.not_evaluated if row[0] not in keys}
    print(f"{out}: {len(model.types)} types, {len(model.resources)} resources, {len(model.code_sets)} code sets, "
          f"{compiled} invariants compiled, {len(not_evaluated)} not evaluated")


if __name__ == "__main__":
    main()
