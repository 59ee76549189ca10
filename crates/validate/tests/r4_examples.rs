//! The FHIR R4 specification's own examples (the npm package `hl7.fhir.r4.examples@4.0.1`, pinned in
//! `crates/validate/gen/package.json` and installed by `scripts/deps.sh --test`): every example resource, written
//! as one NDJSON line, must pass at `structure-only`, except the few below that break R4 themselves.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lakedrop_validate::{Options, Severity, check_line};

/// Examples in the package that are not valid R4, each with what is wrong with it. A name here that passes
/// fails the test too, so the list cannot go stale.
const INVALID_EXAMPLES: &[(&str, &str)] = &[
    (
        "StructureDefinition-Definition.json",
        "a pattern (logical model) with abstract false and no baseDefinition, which breaks sdf-4",
    ),
    (
        "StructureDefinition-Event.json",
        "a pattern (logical model) with abstract false and no baseDefinition, which breaks sdf-4",
    ),
    (
        "StructureDefinition-FiveWs.json",
        "a pattern (logical model) with abstract false and no baseDefinition, which breaks sdf-4",
    ),
    (
        "StructureDefinition-Request.json",
        "a pattern (logical model) with abstract false and no baseDefinition, which breaks sdf-4",
    ),
    (
        "ImplementationGuide-fhir.json",
        "ImplementationGuide.name and .status are required; the spec's own build guide omits both",
    ),
    (
        "Questionnaire-qs1.json",
        "Questionnaire.item.linkId is required (1..1); the nested items of this example have none",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-author.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-effective.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-end.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-keyword.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-codesystem-extensions-CodeSystem-workflow.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
        "its id has 67 characters; an id has at most 64",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-author.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-effective.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-end.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-keyword.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "SearchParameter-valueset-extensions-ValueSet-workflow.json",
        "SearchParameter.base is required (1..*); the extension search parameters of the core package leave it out",
    ),
    (
        "ig-r4.json",
        "ImplementationGuide.name and .status are required; the spec's own build guide omits both",
    ),
];

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("gen/node_modules/hl7.fhir.r4.examples")
}

#[test]
fn every_official_r4_example_passes_except_the_listed_invalid_ones() {
    let dir = package_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!("{}: {e}; install the official R4 package with `scripts/deps.sh --test`", dir.display())
    });
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != "package.json" && n != ".index.json"))
        .collect();
    files.sort();
    let expected: BTreeMap<&str, &str> = INVALID_EXAMPLES.iter().copied().collect();
    let options = Options::default();
    let (mut passed, mut expected_invalid) = (0usize, 0usize);
    let mut unexplained = Vec::new();
    let mut stale = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name");
        let text = std::fs::read_to_string(path).expect("readable example");
        let value: serde_json::Value = serde_json::from_str(&text).expect("the example is JSON");
        let line = serde_json::to_string(&value).expect("serializable");
        let verdict = check_line(1, line.as_bytes(), &options);
        let errors: Vec<String> = verdict
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| format!("{} at {}: {}", i.code, i.path.as_deref().unwrap_or("-"), i.message))
            .collect();
        match (errors.is_empty(), expected.contains_key(name)) {
            (true, false) => passed += 1,
            (false, true) => expected_invalid += 1,
            (true, true) => stale.push(name.to_string()),
            (false, false) => unexplained.push(format!("{name}: {}", errors.join("; "))),
        }
    }
    let summary = format!(
        "official R4 examples: {} files, {passed} passed, {expected_invalid} expected invalid, {} unexplained",
        files.len(),
        unexplained.len()
    );
    println!("{summary}");
    // scripts/test.sh prints it after the test run.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("r4-examples-summary.txt");
    std::fs::write(&out, format!("{summary}\n")).expect("write the summary");
    assert!(files.len() > 5000, "the package holds 5,306 resources, found {}", files.len());
    assert!(stale.is_empty(), "listed as invalid but they pass: {stale:?}");
    assert!(unexplained.is_empty(), "{} rejected:\n{}", unexplained.len(), unexplained.join("\n"));
}
