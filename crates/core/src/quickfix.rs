//! Quick fixes (issue 18): for an issue the validator found in one resource, a structured repair the app can
//! offer (pick an allowed code, remove an unknown element, reformat a date, add a missing element), and the
//! change record of a resource repaired by hand.
//!
//! Paths are the validator's: the resource type, then members and array indices (`Patient.name[0].use`).

use lakedrop_validate::{Code, Issue, element_at};
use serde::Serialize;
use serde_json::Value;

use crate::repair::{ChangeRecord, reformat_date};

/// A repair the app can apply to the element an issue is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum QuickFix {
    /// Replace the value by one of the codes the element's required binding allows, likeliest first.
    #[serde(rename_all = "camelCase")]
    ChooseCode { choices: Vec<String> },
    /// Replace the codings of a CodeableConcept (or a Coding) by one of the (system, code) pairs its required
    /// binding allows; a CodeableConcept keeps its `text`.
    #[serde(rename_all = "camelCase")]
    ChooseCoding { choices: Vec<CodingChoice>, concept: bool },
    /// Remove the element: R4 has no such element here.
    Remove,
    /// Rewrite the value in FHIR's form: each way of reading it that gives a real date, with its pattern.
    #[serde(rename_all = "camelCase")]
    ReformatDate { candidates: Vec<DateReading> },
    /// Add the missing element `name`, of type `typeName` (a primitive, or a data type given as JSON), for a
    /// code from `choices` when its binding is a closed list.
    #[serde(rename_all = "camelCase")]
    Add { name: String, type_name: String, primitive: bool, choices: Vec<String> },
}

/// A coding a required binding allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CodingChoice {
    pub system: String,
    pub code: String,
}

/// One way of reading a date written in another format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DateReading {
    /// The pattern it was read with, as a repair plan's `reformat-date` takes it (`MM/DD/YYYY`).
    pub pattern: String,
    /// The zone assumed, when the value has a time and no zone.
    pub zone: Option<String>,
    /// The value in FHIR's form.
    pub value: String,
}

/// The formats exports write dates in, tried in this order; both day-month orders are offered when both read.
const DATE_PATTERNS: &[&str] = &[
    "MM/DD/YYYY",
    "DD/MM/YYYY",
    "YYYY/MM/DD",
    "DD.MM.YYYY",
    "MM-DD-YYYY",
    "DD-MM-YYYY",
    "YYYYMMDD",
    "MM/DD/YYYY hh:mm:ss",
    "DD/MM/YYYY hh:mm:ss",
    "MM/DD/YYYY hh:mm",
    "YYYY-MM-DD hh:mm:ss",
    "YYYY-MM-DDThh:mm:ss",
    "YYYY-MM-DDThh:mm",
    "YYYYMMDDhhmmss",
];

/// The quick fix for `issue` in `resource`, when its cause allows one.
pub fn suggest(resource: &Value, issue: &Issue) -> Option<QuickFix> {
    let path = issue.path.as_deref()?;
    match issue.code {
        Code::UnknownElement => value_at(resource, path).map(|_| QuickFix::Remove),
        Code::MissingRequired => {
            let info = element_at(path)?;
            let name = path.rsplit('.').next()?.to_string();
            Some(QuickFix::Add {
                name,
                type_name: info.type_name.to_string(),
                primitive: info.primitive,
                choices: info.codes.iter().map(|c| (*c).to_string()).collect(),
            })
        }
        Code::InvalidValue => {
            let info = element_at(path)?;
            if !info.codings.is_empty() {
                let written = value_at(resource, path)?;
                let code = written.get("code").or_else(|| written.pointer("/coding/0/code"));
                let codes: Vec<&str> = info.codings.iter().map(|(_, c)| *c).collect();
                let order = likeliest_first(code.and_then(Value::as_str).unwrap_or(""), &codes);
                let choices = order
                    .iter()
                    .filter_map(|code| info.codings.iter().find(|(_, c)| c == code))
                    .map(|(system, code)| CodingChoice { system: (*system).into(), code: (*code).into() })
                    .collect();
                return Some(QuickFix::ChooseCoding {
                    choices,
                    concept: info.type_name == "CodeableConcept",
                });
            }
            let value = value_at(resource, path)?.as_str()?;
            if !info.codes.is_empty() && !info.codes.contains(&value) {
                return Some(QuickFix::ChooseCode { choices: likeliest_first(value, info.codes) });
            }
            let candidates = date_readings(value, info.type_name);
            (!candidates.is_empty()).then_some(QuickFix::ReformatDate { candidates })
        }
        _ => None,
    }
}

/// The codes, those that begin like `value` (ignoring case: `M` for `male`) first, then the rest in order.
fn likeliest_first(value: &str, codes: &[&str]) -> Vec<String> {
    let value = value.to_lowercase();
    let starts = |c: &&&str| !value.is_empty() && c.to_lowercase().starts_with(&value[..1]);
    let (first, rest): (Vec<&&str>, Vec<&&str>) = codes.iter().partition(starts);
    first.into_iter().chain(rest).map(|c| (*c).to_string()).collect()
}

/// Every reading of `value` as a date of `type_name` (`date`, `dateTime`, `instant`) by the known patterns.
fn date_readings(value: &str, type_name: &str) -> Vec<DateReading> {
    let with_time = match type_name {
        "date" => false,
        "dateTime" | "instant" => true,
        _ => return Vec::new(),
    };
    let mut readings: Vec<DateReading> = Vec::new();
    for pattern in DATE_PATTERNS {
        let timed = pattern.contains("hh");
        if timed && !with_time || !timed && type_name == "instant" {
            continue;
        }
        let zone = timed.then(|| "Z".to_string());
        if let Some(fixed) = reformat_date(value, pattern, zone.as_deref())
            && readings.iter().all(|r| r.value != fixed)
        {
            readings.push(DateReading { pattern: (*pattern).to_string(), zone, value: fixed });
        }
    }
    readings
}

/// The value at a validator path (`Patient.name[0].use`), if the resource has one there.
pub fn value_at<'a>(resource: &'a Value, path: &str) -> Option<&'a Value> {
    let mut steps = path.split('.');
    steps.next()?;
    let mut at = resource;
    for step in steps {
        let (name, indices) = step.split_once('[').map_or((step, ""), |(n, rest)| (n, rest));
        at = at.get(name)?;
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            at = at.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(at)
}

/// The path a change record gives a line replaced whole, because it was not JSON: its text is the value before.
pub const WHOLE_LINE: &str = "(whole line)";

/// The change record of a resource repaired by hand: one record per element that differs between `before` and
/// `after` (members added, removed or changed; an array of another length counts as one change), `rule` `None`.
pub fn changes_by_hand(file: &str, line: u64, before: &Value, after: &Value) -> Vec<ChangeRecord> {
    let mut edits = Vec::new();
    diff(before, after, "", &mut edits);
    let text =
        |key: &str| after.get(key).or_else(|| before.get(key)).and_then(Value::as_str).map(str::to_string);
    edits
        .into_iter()
        .map(|(path, before, after)| ChangeRecord {
            file: file.to_string(),
            line,
            resource_type: text("resourceType"),
            resource_id: text("id"),
            path,
            before,
            after,
            rule: None,
        })
        .collect()
}

/// JSON text (a resource as an editor holds it, over many lines) as one NDJSON line: white space outside strings
/// removed, members and their order kept as written.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// The change record of a line replaced by hand, from its bytes before and after: element by element when both
/// are JSON ([`changes_by_hand`]); one record of the whole line ([`WHOLE_LINE`], its text the value before, the
/// type and id given) when the original was not JSON at all.
pub fn record_line_by_hand(
    file: &str,
    line: u64,
    original: &[u8],
    edited: &[u8],
    named: (Option<String>, Option<String>),
) -> Vec<ChangeRecord> {
    let parse = |b: &[u8]| serde_json::from_slice::<Value>(b).ok();
    match (parse(original), parse(edited)) {
        (Some(before), Some(after)) => changes_by_hand(file, line, &before, &after),
        (None, after) => vec![ChangeRecord {
            file: file.to_string(),
            line,
            resource_type: named.0,
            resource_id: named.1,
            path: WHOLE_LINE.into(),
            before: Some(Value::String(String::from_utf8_lossy(original).into_owned())),
            after,
            rule: None,
        }],
        (Some(_), None) => Vec::new(),
    }
}

type Edit = (String, Option<Value>, Option<Value>);

fn diff(before: &Value, after: &Value, path: &str, edits: &mut Vec<Edit>) {
    let member = |name: &str| if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (name, old) in b {
                match a.get(name) {
                    Some(new) => diff(old, new, &member(name), edits),
                    None => edits.push((member(name), Some(old.clone()), None)),
                }
            }
            for (name, new) in a.iter().filter(|(name, _)| !b.contains_key(*name)) {
                edits.push((member(name), None, Some(new.clone())));
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (old, new)) in b.iter().zip(a).enumerate() {
                diff(old, new, &format!("{path}[{i}]"), edits);
            }
        }
        _ if before != after => edits.push((path.to_string(), Some(before.clone()), Some(after.clone()))),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use lakedrop_validate::{Options, Severity, check_line};
    use serde_json::json;

    use super::*;

    /// The quick fix of each error the validator finds in `resource`, by path.
    fn fixes(resource: &Value) -> Vec<(String, Option<QuickFix>)> {
        let line = resource.to_string();
        check_line(1, line.as_bytes(), &Options::default())
            .issues
            .into_iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| (i.path.clone().unwrap_or_default(), suggest(resource, &i)))
            .collect()
    }

    #[test]
    fn a_code_outside_its_binding_offers_the_allowed_codes_likeliest_first() {
        let found = fixes(&json!({"resourceType": "Patient", "id": "a", "gender": "M"}));
        let [(path, Some(QuickFix::ChooseCode { choices }))] = found.as_slice() else { panic!("{found:?}") };
        assert_eq!(path, "Patient.gender");
        assert_eq!(choices, &["male", "female", "other", "unknown"]);
    }

    #[test]
    fn a_coding_outside_its_binding_offers_the_allowed_codings() {
        let found = fixes(
            &json!({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "bogus"}], "text": "x"}}),
        );
        let fix = found.iter().find(|(p, _)| p == "Condition.clinicalStatus").and_then(|(_, f)| f.clone());
        let Some(QuickFix::ChooseCoding { choices, concept: true }) = fix else { panic!("{found:?}") };
        assert!(
            choices.iter().any(|c| c.code == "active"
                && c.system == "http://terminology.hl7.org/CodeSystem/condition-clinical"),
            "{choices:?}"
        );
    }

    #[test]
    fn an_unknown_element_can_be_removed_and_a_missing_one_added() {
        let found =
            fixes(&json!({"resourceType": "Encounter", "id": "e", "class": {"code": "AMB"}, "project": "x"}));
        assert!(found.contains(&("Encounter.project".into(), Some(QuickFix::Remove))), "{found:?}");
        let add = found.iter().find(|(p, _)| p == "Encounter.status").and_then(|(_, f)| f.clone());
        let Some(QuickFix::Add { name, type_name, primitive: true, choices }) = add else {
            panic!("{found:?}")
        };
        assert_eq!((name.as_str(), type_name.as_str()), ("status", "code"));
        assert!(choices.contains(&"finished".to_string()));
    }

    #[test]
    fn a_date_in_another_format_is_read_every_way_that_gives_a_real_date() {
        let found = fixes(&json!({"resourceType": "Patient", "id": "a", "birthDate": "03/07/1965"}));
        let [(_, Some(QuickFix::ReformatDate { candidates }))] = found.as_slice() else {
            panic!("{found:?}")
        };
        let values: Vec<&str> = candidates.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(values, ["1965-03-07", "1965-07-03"], "month first, then day first");
        let found = fixes(&json!({"resourceType": "Patient", "id": "a", "birthDate": "12/31/1965"}));
        let [(_, Some(QuickFix::ReformatDate { candidates }))] = found.as_slice() else {
            panic!("{found:?}")
        };
        assert_eq!(candidates.len(), 1, "there is no 31st month");
        let timed = json!({"resourceType": "Encounter", "id": "e", "status": "finished", "class": {"code": "AMB"},
                           "period": {"start": "2020-05-01 10:30:00"}});
        let found = fixes(&timed);
        let [(_, Some(QuickFix::ReformatDate { candidates }))] = found.as_slice() else {
            panic!("{found:?}")
        };
        assert_eq!(candidates[0].value, "2020-05-01T10:30:00Z");
        assert_eq!(candidates[0].zone.as_deref(), Some("Z"));
    }

    #[test]
    fn a_repair_by_hand_is_recorded_element_by_element() {
        let before = json!({"resourceType": "Patient", "id": "p", "gender": "M", "name": [{"given": ["A"]}],
                            "project": "x"});
        let after = json!({"resourceType": "Patient", "id": "p", "gender": "male", "name": [{"given": ["A", "B"]}],
                           "birthDate": "1965-03-07"});
        let records = changes_by_hand("f.ndjson", 7, &before, &after);
        let edits: Vec<(&str, Option<&Value>, Option<&Value>)> =
            records.iter().map(|r| (r.path.as_str(), r.before.as_ref(), r.after.as_ref())).collect();
        assert_eq!(
            edits,
            [
                ("gender", Some(&json!("M")), Some(&json!("male"))),
                ("name[0].given", Some(&json!(["A"])), Some(&json!(["A", "B"]))),
                ("project", Some(&json!("x")), None),
                ("birthDate", None, Some(&json!("1965-03-07"))),
            ]
        );
        assert!(
            records.iter().all(|r| r.rule.is_none() && r.resource_id.as_deref() == Some("p") && r.line == 7)
        );
        assert!(changes_by_hand("f", 1, &before, &before).is_empty());
    }

    #[test]
    fn an_edited_resource_becomes_one_line_with_its_strings_and_order_kept() {
        let text = "{\n  \"resourceType\": \"Patient\",\n  \"name\": [ { \"text\": \"A  \\\" B\" } ],\n  \"id\": \"x\"\r\n}\n";
        assert_eq!(one_line(text), r#"{"resourceType":"Patient","name":[{"text":"A  \" B"}],"id":"x"}"#);
    }

    #[test]
    fn values_are_found_through_arrays_by_the_validators_path() {
        let r = json!({"resourceType": "Patient", "name": [{"given": ["A", "B"]}]});
        assert_eq!(value_at(&r, "Patient.name[0].given[1]"), Some(&json!("B")));
        assert_eq!(value_at(&r, "Patient.name[1]"), None);
    }
}
