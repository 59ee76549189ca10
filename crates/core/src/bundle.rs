//! Bundles as HealthLake wants them (issue 20): a Bundle (`transaction`, `batch`, `collection`, `searchset`) read
//! entry by entry, streaming, so a 500 MB Bundle is never held whole, and written as NDJSON lines of its entries.
//!
//! References between entries are rewritten: a `urn:uuid:` or `urn:oid:` (or any) `fullUrl` an entry is known by
//! becomes `Type/id`. Ids are kept or assigned as the entries say: a `transaction` entry with `request.method`
//! PUT `Type/id` takes that id; an entry with an id keeps it; any other gets a stable id derived from its
//! `fullUrl` (the UUID itself for `urn:uuid:`). Conditional references (`Patient?identifier=…`) are left as they
//! are. A `urn:` reference that names no entry of the Bundle is reported, not dropped in silence.
//!
//! Two passes over the input: the first learns each entry's `Type/id` (only that map is kept), the second writes.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Why a file could not be unbundled.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read the Bundle: {0}")]
    Io(#[from] std::io::Error),
    /// Not JSON, not a Bundle, or an entry that is not an object.
    #[error("{0}")]
    Invalid(String),
}

/// One entry, as the reader sees it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    full_url: Option<String>,
    resource: Option<Map<String, Value>>,
    request: Option<Request>,
}

#[derive(Debug, Deserialize)]
struct Request {
    method: Option<String>,
    url: Option<String>,
}

/// A resource of a Bundle, as one NDJSON line.
#[derive(Debug, Clone, PartialEq)]
pub struct Unbundled {
    /// The entry's 0-based index in `Bundle.entry`, for issues that point back to it.
    pub entry: u64,
    pub resource_type: String,
    pub id: String,
    /// The resource as one line of JSON, references rewritten.
    pub line: String,
}

/// A reference to a `urn:` that no entry of the Bundle has as its `fullUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub entry: u64,
    /// Where in the resource, e.g. `Encounter.subject.reference`.
    pub path: String,
    pub reference: String,
}

/// What unbundling a Bundle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnbundleReport {
    /// `transaction`, `batch`, `collection`, `searchset`, … as the Bundle says.
    pub bundle_type: Option<String>,
    /// Entries read, and of those the ones with a resource (written).
    pub entries: u64,
    pub resources: u64,
    /// References rewritten from a `fullUrl` to `Type/id`.
    pub rewritten: u64,
    pub unresolved: Vec<Unresolved>,
}

/// Whether a JSON text starts as a Bundle resource (`"resourceType": "Bundle"` among the first members): a quick
/// look at its first bytes, for telling Bundle files from others.
pub fn looks_like_bundle(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.starts_with('{') && compact.contains("\"resourceType\":\"Bundle\"")
}

/// The `resourceType` of the JSON object `reader` holds, read streaming (every other member skipped, never
/// held): for a file whose first bytes do not say, as when its members are in alphabetical order and a long
/// `entry` comes first. `None` when it is not a JSON object with a string `resourceType`.
pub fn resource_type_of(reader: impl Read) -> Option<String> {
    struct TypeOnly;
    impl<'de> Visitor<'de> for TypeOnly {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "resourceType" && found.is_none() {
                    found = map.next_value::<Option<String>>().ok().flatten();
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(256 * 1024, reader));
    de.deserialize_map(TypeOnly).ok().flatten()
}

/// Unbundles the Bundle `open` reads (opened twice: once to learn the entries' ids, once to write), calling
/// `emit` with each resource in entry order.
pub fn unbundle<R: Read>(
    mut open: impl FnMut() -> std::io::Result<R>,
    mut emit: impl FnMut(Unbundled) -> std::io::Result<()>,
) -> Result<UnbundleReport, BundleError> {
    // Pass 1: each entry's fullUrl and Type/id.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut report = UnbundleReport::default();
    let bundle_type = read_entries(open()?, &mut |index, entry| {
        if let (Some(url), Some((ty, id))) = (&entry.full_url, identity(index, &entry)) {
            names.insert(url.clone(), format!("{ty}/{id}"));
        }
        Ok(())
    })?;
    report.bundle_type = bundle_type;
    // Pass 2: rewrite and write.
    read_entries(open()?, &mut |index, entry| {
        report.entries += 1;
        let Some((ty, id)) = identity(index, &entry) else { return Ok(()) };
        let Some(mut resource) = entry.resource else { return Ok(()) };
        resource.insert("id".into(), Value::String(id.clone()));
        let mut path = ty.clone();
        let mut value = Value::Object(resource);
        rewrite(&mut value, &mut path, &names, index, &mut report);
        let line = serde_json::to_string(&value).map_err(std::io::Error::other)?;
        report.resources += 1;
        emit(Unbundled { entry: index, resource_type: ty, id, line })
    })?;
    Ok(report)
}

/// An entry's resource type and id: PUT `Type/id` of a transaction, else the resource's own id, else one derived
/// from the fullUrl. `None` for an entry without a resource (or one without a type).
fn identity(index: u64, entry: &RawEntry) -> Option<(String, String)> {
    let resource = entry.resource.as_ref()?;
    let ty = resource.get("resourceType")?.as_str()?.to_string();
    let put =
        entry.request.as_ref().filter(|r| r.method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("PUT")));
    let from_put = put
        .and_then(|r| r.url.as_deref())
        .and_then(|url| url.split_once('/'))
        .filter(|(t, id)| *t == ty && !id.is_empty() && !id.contains(['/', '?']))
        .map(|(_, id)| id.to_string());
    let own = resource.get("id").and_then(Value::as_str).map(str::to_string);
    let derived = || match entry.full_url.as_deref() {
        Some(url) if url.starts_with("urn:uuid:") && valid_id(&url[9..]) => url[9..].to_string(),
        Some(url) => Sha256::digest(url.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect(),
        None => format!("entry-{index}"),
    };
    Some((ty, from_put.or(own).unwrap_or_else(derived)))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Rewrites every `reference` naming a known fullUrl; notes `urn:` ones that name nothing here.
fn rewrite(
    value: &mut Value,
    path: &mut String,
    names: &HashMap<String, String>,
    entry: u64,
    report: &mut UnbundleReport,
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                if key == "reference"
                    && let Value::String(reference) = child
                {
                    if let Some(name) = names.get(reference.as_str()) {
                        *reference = name.clone();
                        report.rewritten += 1;
                    } else if reference.starts_with("urn:") {
                        report.unresolved.push(Unresolved {
                            entry,
                            path: path.clone(),
                            reference: reference.clone(),
                        });
                    }
                } else {
                    rewrite(child, path, names, entry, report);
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite(item, path, names, entry, report);
            }
        }
        _ => {}
    }
}

type OnEntry<'a> = dyn FnMut(u64, RawEntry) -> std::io::Result<()> + 'a;

/// Streams `Bundle.entry`, one entry at a time; the Bundle's `type`.
fn read_entries(reader: impl Read, on_entry: &mut OnEntry<'_>) -> Result<Option<String>, BundleError> {
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(256 * 1024, reader));
    let mut failure: Option<std::io::Error> = None;
    let found = BundleSeed { on_entry, failure: &mut failure }.deserialize(&mut de);
    if let Some(e) = failure {
        return Err(BundleError::Io(e));
    }
    let (resource_type, bundle_type) =
        found.map_err(|e| BundleError::Invalid(format!("not a FHIR Bundle: {e}")))?;
    de.end().map_err(|e| BundleError::Invalid(format!("text after the Bundle: {e}")))?;
    if resource_type.as_deref() != Some("Bundle") {
        return Err(BundleError::Invalid(format!(
            "the file holds a {} resource, not a Bundle",
            resource_type.as_deref().unwrap_or("JSON object without a resourceType, not")
        )));
    }
    Ok(bundle_type)
}

struct BundleSeed<'a, 'b> {
    on_entry: &'a mut OnEntry<'b>,
    failure: &'a mut Option<std::io::Error>,
}

impl<'de> DeserializeSeed<'de> for BundleSeed<'_, '_> {
    type Value = (Option<String>, Option<String>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BundleSeed<'_, '_> {
    type Value = (Option<String>, Option<String>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Bundle resource (a JSON object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut resource_type, mut bundle_type) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resourceType" => resource_type = map.next_value::<Option<String>>()?,
                "type" => bundle_type = map.next_value::<Option<String>>()?,
                "entry" => map.next_value_seed(EntrySeq {
                    on_entry: &mut *self.on_entry,
                    failure: &mut *self.failure,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((resource_type, bundle_type))
    }
}

struct EntrySeq<'a, 'b> {
    on_entry: &'a mut OnEntry<'b>,
    failure: &'a mut Option<std::io::Error>,
}

impl<'de> DeserializeSeed<'de> for EntrySeq<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntrySeq<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Bundle.entry, an array of entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0u64;
        while let Some(entry) = seq.next_element::<RawEntry>()? {
            if let Err(e) = (self.on_entry)(index, entry) {
                *self.failure = Some(e);
                return Err(serde::de::Error::custom("stopped"));
            }
            index += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(bundle: &Value) -> (UnbundleReport, Vec<Unbundled>) {
        let text = bundle.to_string();
        let mut out = Vec::new();
        let report = unbundle(
            || Ok(std::io::Cursor::new(text.clone().into_bytes())),
            |line| {
                out.push(line);
                Ok(())
            },
        )
        .expect("unbundled");
        (report, out)
    }

    #[test]
    fn entries_keep_or_get_ids_and_references_between_them_are_rewritten() {
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:0b1c-patient", "resource": {"resourceType": "Patient"},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:oid:1.2.3", "resource": {"resourceType": "Practitioner", "id": "old"},
             "request": {"method": "PUT", "url": "Practitioner/dr-1"}},
            {"fullUrl": "http://example.org/Organization/9", "resource": {"resourceType": "Organization"}},
            {"fullUrl": "urn:uuid:enc", "resource": {"resourceType": "Encounter", "id": "e1",
              "subject": {"reference": "urn:uuid:0b1c-patient"},
              "participant": [{"individual": {"reference": "urn:oid:1.2.3"}}],
              "serviceProvider": {"reference": "Organization?identifier=x"},
              "location": [{"location": {"reference": "urn:uuid:nowhere"}}]}},
            {"request": {"method": "DELETE", "url": "Patient/gone"}}
        ]});
        let (report, lines) = run(&bundle);
        assert_eq!(report.bundle_type.as_deref(), Some("transaction"));
        assert_eq!((report.entries, report.resources, report.rewritten), (5, 4, 2));
        let ids: Vec<(&str, &str)> =
            lines.iter().map(|l| (l.resource_type.as_str(), l.id.as_str())).collect();
        let derived: String = Sha256::digest(b"http://example.org/Organization/9")
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            ids,
            [
                ("Patient", "0b1c-patient"),
                ("Practitioner", "dr-1"),
                ("Organization", derived.as_str()),
                ("Encounter", "e1")
            ]
        );
        let encounter: Value = serde_json::from_str(&lines[3].line).expect("json");
        assert_eq!(encounter["subject"]["reference"], "Patient/0b1c-patient");
        assert_eq!(encounter["participant"][0]["individual"]["reference"], "Practitioner/dr-1");
        assert_eq!(
            encounter["serviceProvider"]["reference"], "Organization?identifier=x",
            "conditional: as it is"
        );
        assert_eq!(
            report.unresolved,
            [Unresolved {
                entry: 3,
                path: "Encounter.location.location.reference".into(),
                reference: "urn:uuid:nowhere".into()
            }]
        );
        assert_eq!(lines[3].entry, 3);
    }

    #[test]
    fn what_is_not_a_bundle_is_said_so() {
        let text = json!({"resourceType": "Patient", "id": "p"}).to_string();
        let err = unbundle(|| Ok(std::io::Cursor::new(text.clone())), |_| Ok(())).expect_err("not a Bundle");
        assert!(err.to_string().contains("a Patient resource, not a Bundle"), "{err}");
        let err =
            unbundle(|| Ok(std::io::Cursor::new("{\"entry\": [1]}")), |_| Ok(())).expect_err("bad entry");
        assert!(err.to_string().starts_with("not a FHIR Bundle"), "{err}");
        assert!(looks_like_bundle(b"{\n  \"resourceType\" : \"Bundle\", \"type\": \"collection\""));
        assert!(!looks_like_bundle(b"{\"resourceType\":\"Patient\"}"));
        let late = json!({"entry": [{"resource": {"resourceType": "Patient"}}], "resourceType": "Bundle"});
        assert_eq!(resource_type_of(late.to_string().as_bytes()).as_deref(), Some("Bundle"));
        assert_eq!(resource_type_of(&b"[1, 2]"[..]), None);
        assert_eq!(resource_type_of(&b"{\"resourceType\": 7}"[..]), None);
    }
}
