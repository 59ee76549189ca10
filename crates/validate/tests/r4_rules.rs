//! R4 as the official 4.0.1 definitions state it: elements, bindings, invariants and limits, each case a real
//! Synthea line (or a minimal resource) with one defect, or valid R4 that must pass.

use std::path::PathBuf;

use lakedrop_validate::{Code, Options, Severity, check_line};
use serde_json::{Value, json};

fn synthea_line(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients").join(file);
    let text = std::fs::read_to_string(path).expect("sample file");
    serde_json::from_str(text.lines().next().expect("a line")).expect("json")
}

/// The error-severity issues of a resource checked as one line: (code, path, message).
fn errors(resource: &Value) -> Vec<(Code, String, String)> {
    let line = serde_json::to_string(resource).expect("json");
    check_line(1, line.as_bytes(), &Options::default())
        .issues
        .into_iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| (i.code, i.path.unwrap_or_default(), i.message))
        .collect()
}

fn assert_valid(resource: &Value) {
    let found = errors(resource);
    assert!(found.is_empty(), "valid R4 rejected: {found:?}");
}

/// Asserts exactly one error, with this code at this path, and returns its message.
fn the_error(resource: &Value, code: Code, path: &str) -> String {
    let found = errors(resource);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1.as_str()), (code, path), "{found:?}");
    found[0].2.clone()
}

#[test]
fn elements_are_r4s_own_not_a_later_versions() {
    // R4 types Bundle.entry.response.outcome as any Resource, not only OperationOutcome.
    assert_valid(
        &json!({"resourceType": "Bundle", "id": "b1", "type": "batch-response", "entry": [{"response": {
        "status": "201 Created",
        "outcome": {"resourceType": "Patient", "id": "p1"}}}]}),
    );
    // R4 binds DetectedIssue.status to observation-status.
    assert_valid(&json!({"resourceType": "DetectedIssue", "id": "d1", "status": "registered"}));
    // EvidenceVariable in its R4 shape.
    assert_valid(
        &json!({"resourceType": "EvidenceVariable", "id": "e1", "status": "draft", "characteristic": [{
        "definitionDataRequirement": {"type": "Observation"}, "exclude": false,
        "participantEffectiveDateTime": "2020-01-01"}]}),
    );
    // Elements of later versions are not R4.
    let mut patient = synthea_line("Patient.000.ndjson");
    patient["meta"] = json!({"project": "http://example.org/p"});
    the_error(&patient, Code::UnknownElement, "Patient.meta.project");
}
