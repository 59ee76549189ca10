//! Reading imported resources back: what a look-up box or `lakedrop fhir` asks for, and how a resource read from
//! the data store is compared with the line it was imported from. Pure functions; the AWS side sends the requests.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a person asked to look up: `Patient/123`, or a search such as `Observation?subject=Patient/123`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Read {
        resource_type: String,
        id: String,
    },
    /// A search of one type; `query` is the text after `?`, as given (it may be empty).
    Search {
        resource_type: String,
        query: String,
    },
}

/// Parses what a person typed: `Type/id`, `Type?params`, or `Type` (every resource of the type, one page at a
/// time). A leading `/` or a full URL up to `/r4/` is tolerated, since people paste links.
pub fn parse_lookup(text: &str) -> Result<Lookup, String> {
    let text = text.trim();
    let text = match text.find("/r4/") {
        Some(at) => &text[at + 4..],
        None => text.trim_start_matches('/'),
    };
    if text.is_empty() {
        return Err("type a resource (Patient/123) or a search (Observation?subject=Patient/123)".into());
    }
    let (path, query) = match text.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (text, None),
    };
    let mut segments = path.trim_end_matches('/').split('/');
    let resource_type = segments.next().unwrap_or_default();
    if !is_type_name(resource_type) {
        return Err(format!(
            "`{resource_type}` is not a resource type: start with one, as in Patient/123 or Observation?code=…"
        ));
    }
    let id = segments.next();
    if segments.next().is_some() {
        return Err("a look-up is Type/id or Type?search; history and operations are not offered".into());
    }
    match (id, query) {
        (Some(id), None) => {
            if !is_id(id) {
                return Err(format!(
                    "`{id}` is not a FHIR id (letters, digits, `-` and `.`, at most 64 characters)"
                ));
            }
            Ok(Lookup::Read { resource_type: resource_type.to_string(), id: id.to_string() })
        }
        (Some(_), Some(_)) => {
            Err("a read (Type/id) takes no search parameters; use Type?_id=… to search".into())
        }
        (None, query) => Ok(Lookup::Search {
            resource_type: resource_type.to_string(),
            query: query.unwrap_or_default().to_string(),
        }),
    }
}

fn is_type_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphabetic())
}

fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// One place where the resource read back is not what was sent: a path (`name[0].given[1]`), the value in the
/// source line, and the value read (`None` where the element is absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    pub path: String,
    pub expected: Option<Value>,
    pub found: Option<Value>,
}

/// Where a resource read back differs from its source line, ignoring what the service sets on every write
/// (`meta.versionId`, `meta.lastUpdated`) and, when `appended_extensions` (a line HealthLake stored despite
/// structure problems at the `minimal` level), the extensions it appends after the line's own.
pub fn differences(source: &Value, found: &Value, appended_extensions: bool) -> Vec<Difference> {
    let (mut source, mut found) = (source.clone(), found.clone());
    for value in [&mut source, &mut found] {
        strip_service_meta(value);
    }
    if appended_extensions
        && let (Some(sent), Some(Value::Array(read))) = (source.get("extension"), found.get_mut("extension"))
    {
        let sent = sent.as_array().map_or(0, Vec::len);
        if read.len() > sent {
            read.truncate(sent);
        }
        if read.is_empty() {
            found.as_object_mut().map(|o| o.remove("extension"));
        }
    } else if appended_extensions && source.get("extension").is_none() {
        found.as_object_mut().map(|o| o.remove("extension"));
    }
    let mut out = Vec::new();
    compare(&source, &found, &mut String::new(), &mut out);
    out
}

fn strip_service_meta(resource: &mut Value) {
    let Some(object) = resource.as_object_mut() else { return };
    if let Some(Value::Object(meta)) = object.get_mut("meta") {
        meta.remove("versionId");
        meta.remove("lastUpdated");
        if meta.is_empty() {
            object.remove("meta");
        }
    }
}

fn compare(expected: &Value, found: &Value, path: &mut String, out: &mut Vec<Difference>) {
    match (expected, found) {
        (Value::Object(a), Value::Object(b)) => compare_objects(a, b, path, out),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                compare(x, y, path, out);
                path.truncate(len);
            }
        }
        // 1.0 and 1 are the same decimal, and a server may write either.
        (Value::Number(a), Value::Number(b)) if a.as_f64().is_some() && a.as_f64() == b.as_f64() => {}
        (a, b) if a == b => {}
        _ => out.push(difference(path, Some(expected), Some(found))),
    }
}

fn compare_objects(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    path: &mut String,
    out: &mut Vec<Difference>,
) {
    let mut keys: Vec<&String> = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))).collect();
    keys.sort();
    for key in keys {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) => compare(x, y, path, out),
            (x, y) => out.push(difference(path, x, y)),
        }
        path.truncate(len);
    }
}

fn difference(path: &str, expected: Option<&Value>, found: Option<&Value>) -> Difference {
    Difference { path: path.to_string(), expected: expected.cloned(), found: found.cloned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn look_ups_are_reads_or_searches() {
        assert_eq!(
            parse_lookup(" Patient/123 "),
            Ok(Lookup::Read { resource_type: "Patient".into(), id: "123".into() })
        );
        assert_eq!(
            parse_lookup("Observation?subject=Patient/1&_count=5"),
            Ok(Lookup::Search {
                resource_type: "Observation".into(),
                query: "subject=Patient/1&_count=5".into()
            })
        );
        assert_eq!(
            parse_lookup("https://healthlake.us-east-1.amazonaws.com/datastore/abc/r4/Patient/9"),
            Ok(Lookup::Read { resource_type: "Patient".into(), id: "9".into() })
        );
        assert_eq!(
            parse_lookup("Patient"),
            Ok(Lookup::Search { resource_type: "Patient".into(), query: "".into() })
        );
        assert!(parse_lookup("patient/1").expect_err("lowercase type").contains("not a resource type"));
        assert!(parse_lookup("Patient/a b").expect_err("space in id").contains("not a FHIR id"));
        assert!(parse_lookup("Patient/1/_history/2").is_err());
        assert!(parse_lookup("").is_err());
    }

    #[test]
    fn what_the_service_sets_is_not_a_difference() {
        let sent =
            json!({"resourceType": "Patient", "id": "a", "gender": "male", "meta": {"versionId": "9"}});
        let read = json!({"resourceType": "Patient", "id": "a", "gender": "male",
                          "meta": {"versionId": "1", "lastUpdated": "2026-01-01T00:00:00.000Z"}});
        assert_eq!(differences(&sent, &read, false), vec![]);
        let profiled = json!({"resourceType": "Patient", "id": "a", "meta": {"profile": ["x"]}});
        let read =
            json!({"resourceType": "Patient", "id": "a", "meta": {"profile": ["x"], "versionId": "2"}});
        assert_eq!(differences(&profiled, &read, false), vec![]);
    }

    #[test]
    fn changed_added_and_removed_elements_are_named_by_path() {
        let sent = json!({"resourceType": "Patient", "id": "a", "name": [{"given": ["Ann", "B"]}], "gender": "female"});
        let read = json!({"resourceType": "Patient", "id": "a", "name": [{"given": ["Ann", "C"]}], "birthDate": "2000-01-01"});
        let found = differences(&sent, &read, false);
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["birthDate", "gender", "name[0].given[1]"]);
        assert_eq!(found[0].expected, None);
        assert_eq!(found[1].found, None);
        assert_eq!(found[2].expected, Some(json!("B")));
        assert_eq!(found[2].found, Some(json!("C")));
        let shorter =
            json!({"resourceType": "Patient", "id": "a", "name": [{"given": ["Ann"]}], "gender": "female"});
        assert_eq!(differences(&sent, &shorter, false)[0].path, "name[0].given");
    }

    #[test]
    fn numbers_compare_as_decimals() {
        let sent = json!({"resourceType": "Observation", "id": "o", "valueQuantity": {"value": 1.0}});
        let read = json!({"resourceType": "Observation", "id": "o", "valueQuantity": {"value": 1}});
        assert_eq!(differences(&sent, &read, false), vec![]);
        let other = json!({"resourceType": "Observation", "id": "o", "valueQuantity": {"value": 1.5}});
        assert_eq!(differences(&sent, &other, false).len(), 1);
    }

    #[test]
    fn extensions_appended_at_minimal_are_allowed_only_there() {
        let sent =
            json!({"resourceType": "Patient", "id": "a", "extension": [{"url": "u", "valueString": "x"}]});
        let read = json!({"resourceType": "Patient", "id": "a",
                          "extension": [{"url": "u", "valueString": "x"}, {"url": "warn", "valueString": "w"}]});
        assert_eq!(differences(&sent, &read, true), vec![]);
        assert_eq!(differences(&sent, &read, false)[0].path, "extension");
        let bare = json!({"resourceType": "Patient", "id": "a"});
        let marked = json!({"resourceType": "Patient", "id": "a", "extension": [{"url": "warn"}]});
        assert_eq!(differences(&bare, &marked, true), vec![]);
        assert_eq!(differences(&bare, &marked, false)[0].path, "extension");
    }
}
