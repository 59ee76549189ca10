//! The bundled Synthea sample as Synthea writes it by default, made from `samples/synthea-10-patients` for tests:
//! one transaction Bundle per patient (the patient's resources, `urn:uuid:` fullUrls, references between them as
//! `urn:uuid:`, POST entries without ids) and one collection of the shared ones (organizations, practitioners,
//! locations). Included by the tests that need it (`#[path]`) and by `examples/synthea-bundles.rs`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients")
}

/// Every resource of the sample, in file then line order.
pub fn sample() -> Vec<Value> {
    let dir = sample_dir();
    let mut all = Vec::new();
    let mut names: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("sample").map(|e| e.expect("entry").path()).collect();
    names.sort();
    for path in names {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !name.ends_with(".ndjson") || name == "log.ndjson" {
            continue;
        }
        for line in std::fs::read_to_string(&path).expect("read").lines().filter(|l| !l.trim().is_empty()) {
            all.push(serde_json::from_str(line).expect("json"));
        }
    }
    all
}

/// A resource's `Type/id`.
pub fn key(r: &Value) -> String {
    format!("{}/{}", text(r, "resourceType"), text(r, "id"))
}

pub fn text(r: &Value, member: &str) -> String {
    r[member].as_str().unwrap_or_else(|| panic!("no {member} in {r}")).to_string()
}

/// The patient a resource belongs to: the first `Patient/<id>` reference in it, or its own id for a Patient.
fn owner(resource: &Value) -> Option<String> {
    if resource["resourceType"] == "Patient" {
        return resource["id"].as_str().map(str::to_string);
    }
    let text = resource.to_string();
    let at = text.find("\"reference\":\"Patient/")? + 21;
    Some(text[at..at + text[at..].find('"')?].to_string())
}

/// `Type/id` references to resources in `members` become `urn:uuid:id`.
fn to_urns(value: &mut Value, members: &HashSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(reference)
                        if key == "reference" && members.contains(reference.as_str()) =>
                    {
                        let id = reference.split_once('/').map(|(_, id)| id.to_string()).unwrap_or_default();
                        *reference = format!("urn:uuid:{id}");
                    }
                    _ => to_urns(child, members),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| to_urns(item, members)),
        _ => {}
    }
}

/// The sample as Bundles: `(file name, Bundle JSON)`, 13 per-patient transactions and one collection.
pub fn bundles() -> Vec<(String, String)> {
    let resources = sample();
    let mut groups: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
    for r in &resources {
        groups.entry(owner(r)).or_default().push(r.clone());
    }
    assert_eq!(groups.keys().filter(|k| k.is_some()).count(), 13, "13 patients in the sample");
    let mut bundles = Vec::new();
    for (patient, members) in &groups {
        let name = match patient {
            Some(id) => format!("patient-{id}.json"),
            None => "shared.json".to_string(),
        };
        let names: HashSet<String> = members.iter().map(key).collect();
        let entries: Vec<Value> = members
            .iter()
            .map(|r| {
                let mut resource = r.clone();
                let (id, ty) = (text(&resource, "id"), text(&resource, "resourceType"));
                to_urns(&mut resource, &names);
                // Synthea's POST entries carry no id: the fullUrl names them.
                if let Some(map) = resource.as_object_mut() {
                    map.remove("id");
                }
                json!({"fullUrl": format!("urn:uuid:{id}"), "resource": resource,
                       "request": {"method": "POST", "url": ty}})
            })
            .collect();
        let kind = if patient.is_some() { "transaction" } else { "collection" };
        bundles.push((name, json!({"resourceType": "Bundle", "type": kind, "entry": entries}).to_string()));
    }

    bundles
}

/// Writes the Bundles into `dir` as `.json` files; returns their paths.
pub fn write_bundles(dir: &Path) -> Vec<PathBuf> {
    bundles()
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a Bundle");
            path
        })
        .collect()
}
