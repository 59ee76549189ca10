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
    let text = lakedrop_core::files::read_line(&path, 3, 10_000).expect("read").expect("entry 3");
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
