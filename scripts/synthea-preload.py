#!/usr/bin/env python3
"""Writes crates/sandbox/data/synthea-preload.ndjson, what the sandbox loads for CreateFHIRDatastore's SYNTHEA
preload: the patient of samples/synthea-10-patients with the smallest record, every resource that refers to them,
and the organizations, locations, practitioners and roles those refer to. Run it again when the sample changes."""
import json
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
sample = root / "samples" / "synthea-10-patients"
files = sorted(p for p in sample.glob("*.ndjson") if p.name != "log.ndjson")
resources = [json.loads(line) for p in files for line in p.read_text().splitlines() if line.strip()]
texts = [json.dumps(r) for r in resources]


def record(patient):
    ref = f'"Patient/{patient["id"]}"'
    return [r for r, t in zip(resources, texts) if r is patient or ref in t]


patients = [r for r in resources if r["resourceType"] == "Patient"]
mine = min((record(p) for p in patients), key=len)
text = json.dumps(mine)
shared = {"Organization", "Location", "Practitioner", "PractitionerRole"}


def referred(r):
    if r["resourceType"] not in shared:
        return False
    if f'{r["resourceType"]}/{r["id"]}"' in text:
        return True
    # Synthea's bulk exports refer to shared resources conditionally, by identifier.
    return any(i.get("value") and f'|{i["value"]}"' in text for i in r.get("identifier", []))


out = mine + [r for r in resources if referred(r)]
target = root / "crates" / "sandbox" / "data" / "synthea-preload.ndjson"
target.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in out))
print(f"{target.relative_to(root)}: {len(out)} resources, {target.stat().st_size} bytes")
