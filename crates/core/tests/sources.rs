//! What `source` makes of each kind of input (issue 20), through `files::validate_files` as the Files step and
//! `lakedrop validate` run it: a gzip Bundle, NDJSON lines holding Bundles, and a Bundle that breaks off.

use std::io::Write;
use std::path::Path;

use lakedrop_core::CancellationToken;
use lakedrop_core::files::validate_files;
use lakedrop_core::source::sniff;
use lakedrop_validate::{Code, Content, Options};
use serde_json::json;

fn bundle(patient: &str) -> serde_json::Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": format!("urn:uuid:{patient}"),
         "resource": {"resourceType": "Patient", "gender": "female"},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:e1", "resource": {"resourceType": "Encounter", "status": "finished",
          "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
          "subject": {"reference": format!("urn:uuid:{patient}")}},
         "request": {"method": "POST", "url": "Encounter"}},
        {"fullUrl": "urn:uuid:e2", "resource": {"resourceType": "Encounter", "status": "not-a-status",
          "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
          "subject": {"reference": "urn:uuid:nobody"}},
         "request": {"method": "POST", "url": "Encounter"}}
    ]})
}

fn check(path: &Path) -> lakedrop_validate::FileReport {
    let report =
        validate_files(&[path.to_path_buf()], &Options::default(), &mut |_| {}, &CancellationToken::new())
            .expect("validated");
    report.files.into_iter().next().expect("one file")
}

#[test]
fn a_gzip_bundle_is_unbundled_with_issues_at_their_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.json.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::default(),
    );
    gz.write_all(bundle("a1b2c3d4-0000-4000-8000-000000000001").to_string().as_bytes()).expect("write");
    gz.finish().expect("finish");
    let input = sniff(&path).expect("sniff");
    assert!(input.compressed && input.content == Content::Bundle, "{input:?}");

    let file = check(&path);
    assert_eq!((file.lines, file.valid, file.invalid), (3, 2, 1));
    assert!(file.compressed);
    assert_eq!(file.content, Content::Bundle);
    assert_eq!(file.bytes, std::fs::metadata(&path).expect("size").len(), "its size on disk");
    assert!(file.ndjson_bytes > file.bytes, "and as NDJSON, larger than compressed");
    let unbundled = file.unbundled.expect("a summary");
    assert_eq!(
        (unbundled.entries, unbundled.resources, unbundled.rewritten, unbundled.unresolved),
        (3, 3, 1, 1)
    );
    assert_eq!(unbundled.unresolved_examples[0].line, 3, "the third entry");
    assert_eq!(unbundled.unresolved_examples[0].reference, "urn:uuid:nobody");
    let status =
        file.issues.iter().find(|i| i.path.as_deref() == Some("Encounter.status")).expect("status issue");
    assert_eq!(status.line, 3, "the issue points at the entry");
    let text = lakedrop_core::files::read_line(&path, 3, 10_000, false).expect("read").expect("entry 3");
    assert!(text.contains("not-a-status") && text.starts_with('{'), "entry 3 as its NDJSON line: {text}");
}

#[test]
fn ndjson_lines_holding_bundles_are_imported_as_their_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("Bundle.ndjson");
    let lines = [bundle("p-1").to_string(), bundle("p-2").to_string()];
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    assert_eq!(sniff(&path).expect("sniff").content, Content::BundleLines);
    let file = check(&path);
    assert_eq!(file.content, Content::BundleLines);
    assert_eq!((file.lines, file.invalid), (6, 2), "three entries of each line");
    let unbundled = file.unbundled.expect("a summary");
    assert_eq!((unbundled.bundles, unbundled.resources), (2, 6));
    let lines: Vec<u64> = file
        .issues
        .iter()
        .filter(|i| i.path.as_deref() == Some("Encounter.status"))
        .map(|i| i.line)
        .collect();
    assert_eq!(lines, [1, 2], "each issue points at the line its Bundle was on");
}

#[test]
fn a_bundle_that_breaks_off_is_left_out_whole_with_where_it_broke() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cut.json");
    // As Synthea writes it, resourceType first; cut off inside its entries.
    let entries = bundle("p-1")["entry"].to_string();
    let whole = format!(r#"{{"resourceType":"Bundle","type":"transaction","entry":{entries}}}"#);
    std::fs::write(&path, &whole[..whole.len() / 2]).expect("write");
    assert_eq!(sniff(&path).expect("sniff").content, Content::Bundle);
    let file = check(&path);
    assert!(file.not_fhir, "refused whole: {file:?}");
    assert_eq!(file.issues.len(), 1);
    assert_eq!(file.issues[0].code, Code::NotFhir);
    assert!(
        file.issues[0].message.contains("nothing of this file is imported"),
        "{}",
        file.issues[0].message
    );
    assert!(file.issues[0].message.contains("EOF while parsing"), "{}", file.issues[0].message);
    // Other JSON in a folder is not taken for data.
    std::fs::write(dir.path().join("package.json"), r#"{"name": "x"}"#).expect("write");
    let found = lakedrop_core::files::expand_paths(&[dir.path().to_path_buf()]).expect("found");
    assert_eq!(found, vec![path]);
}

#[test]
fn a_bundle_kept_whole_is_one_bundle_resource_on_one_line_with_its_own_numbers_and_strings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kept.json");
    // Pretty-printed by hand: a decimal with a trailing zero and a string with two spaces must come through as
    // they are (a JSON parser and printer would make 1.50 into 1.5).
    let text = "\u{feff}{\n  \"resourceType\" : \"Bundle\", \"id\": \"b-1\",\n  \"type\": \"collection\",\n  \"entry\": [\n    {\n      \"fullUrl\": \"urn:uuid:p-1\",\n      \"resource\": {\"resourceType\": \"Patient\", \"id\": \"p-1\", \"name\": [{\"text\": \"Ann  Marie\"}]}\n    },\n    {\n      \"fullUrl\": \"urn:uuid:o-1\",\n      \"resource\": {\n        \"resourceType\": \"Observation\", \"id\": \"o-1\", \"status\": \"final\",\n        \"code\": {\"text\": \"weight\"},\n        \"valueQuantity\": {\"value\": 1.50, \"unit\": \"kg\"}\n      }\n    }\n  ]\n}\n";
    std::fs::write(&path, text).expect("write");
    let keep = Options { keep_bundles: true, ..Options::default() };
    let report = validate_files(std::slice::from_ref(&path), &keep, &mut |_| {}, &CancellationToken::new())
        .expect("checked");
    let file = &report.files[0];
    assert_eq!(file.content, Content::BundleKept);
    assert_eq!((file.lines, file.valid, file.invalid), (1, 1, 0), "{:?}", file.issues);
    assert!(file.unbundled.is_none(), "nothing was unbundled");
    assert_eq!(file.bytes, text.len() as u64);
    let line = lakedrop_core::files::read_line(&path, 1, 100_000, true).expect("read").expect("line 1");
    assert!(
        line.starts_with(r#"{"resourceType":"Bundle","id":"b-1","type":"collection","entry":[{"fullUrl""#),
        "{line}"
    );
    assert!(line.contains(r#""valueQuantity":{"value":1.50,"unit":"kg"}"#), "{line}");
    assert!(line.contains(r#""text":"Ann  Marie""#), "{line}");
    assert_eq!(file.ndjson_bytes, line.len() as u64 + 1, "the one line and its newline");
    // Unbundled, the same file is its two entries.
    let unbundled = check(&path);
    assert_eq!(unbundled.lines, 2, "{:?}", unbundled.issues);
}

#[test]
fn lines_holding_bundles_kept_go_as_they_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("Bundle.ndjson");
    std::fs::write(&path, format!("{}\n{}\n", bundle("p-1"), bundle("p-2"))).expect("write");
    let keep = Options { keep_bundles: true, ..Options::default() };
    let report = validate_files(std::slice::from_ref(&path), &keep, &mut |_| {}, &CancellationToken::new())
        .expect("checked");
    let file = &report.files[0];
    assert_eq!(file.content, Content::Ndjson, "the file as it is");
    assert_eq!(file.lines, 2, "one Bundle resource a line");
    assert!(file.unbundled.is_none());
}
