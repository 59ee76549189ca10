//! Validation specified through real Synthea lines, each with one defect, and the real sample files.

use std::path::PathBuf;

use lakedrop_validate::{Code, Options, Severity, check_line, validate_path, validate_reader};

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients")
}

/// The sample's NDJSON files, sorted: the folder also holds its LICENSE and README.md.
fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sample_dir())
        .expect("sample dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    files
}

fn first_patient_line() -> String {
    let text = std::fs::read_to_string(sample_dir().join("Patient.000.ndjson")).expect("sample Patient file");
    text.lines().next().expect("one line").to_string()
}

/// Checks `line` and returns the codes of its error-severity issues.
fn errors(line: &str) -> Vec<Code> {
    check_line(1, line.as_bytes(), &Options::default())
        .issues
        .into_iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| i.code)
        .collect()
}

#[test]
fn an_unmodified_synthea_patient_passes() {
    let verdict = check_line(1, first_patient_line().as_bytes(), &Options::default());
    assert!(!verdict.rejected, "{:?}", verdict.issues);
    assert_eq!(verdict.resource_type.as_deref(), Some("Patient"));
    assert!(verdict.id.is_some());
}

#[test]
fn each_foundation_defect_has_its_code() {
    let good = first_patient_line();
    let mut value: serde_json::Value = serde_json::from_str(&good).expect("json");
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = value.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(String, Code)> = vec![
        (good[..good.len() / 2].to_string(), Code::InvalidJson),
        (format!("{good} {good}"), Code::InvalidJson),
        (format!("[{good}]"), Code::NotAnObject),
        (format!("\u{feff}{good}"), Code::ByteOrderMark),
        (with(&|v| _ = v.as_object_mut().map(|o| o.remove("resourceType"))), Code::MissingResourceType),
        (with(&|v| v["resourceType"] = "Patient123".into()), Code::InvalidResourceType),
        (with(&|v| v["resourceType"] = "Patiennt".into()), Code::UnknownResourceType),
        (with(&|v| _ = v.as_object_mut().map(|o| o.remove("id"))), Code::MissingId),
        (with(&|v| v["id"] = "has space".into()), Code::InvalidId),
        (with(&|v| v["id"] = "x".repeat(65).into()), Code::InvalidId),
    ];
    for (line, code) in cases {
        assert!(errors(&line).contains(&code), "expected {code} for a line, got {:?}", errors(&line));
    }
    value["id"] = "ok-id.1".into();
    assert!(errors(&value.to_string()).is_empty());
}

#[test]
fn a_conditional_reference_is_a_warning_with_its_path() {
    let mut value: serde_json::Value = serde_json::from_str(&first_patient_line()).expect("json");
    value["managingOrganization"] = serde_json::json!({"reference": "Organization?identifier=x|1"});
    let verdict = check_line(1, value.to_string().as_bytes(), &Options::default());
    assert!(!verdict.rejected);
    let issue = verdict.issues.iter().find(|i| i.code == Code::ConditionalReference).expect("flagged");
    assert_eq!(issue.severity, Severity::Warning);
    assert_eq!(issue.path.as_deref(), Some("Patient.managingOrganization.reference"));
}

#[test]
fn invalid_utf8_and_blank_lines_are_reported_not_fatal() {
    let mut bytes = first_patient_line().into_bytes();
    bytes[20] = 0xff;
    let verdict = check_line(3, &bytes, &Options::default());
    assert_eq!(verdict.issues[0].code, Code::InvalidUtf8);
    assert_eq!(verdict.issues[0].line, 3);
    let blank = check_line(4, b"  \r", &Options::default());
    assert!(blank.blank && !blank.rejected);
    assert_eq!(blank.issues[0].code, Code::BlankLine);
}

#[test]
fn crlf_line_endings_are_fine() {
    let text = format!("{}\r\n{}\r\n", first_patient_line(), first_patient_line());
    let report =
        validate_reader("Patient.crlf.ndjson", &mut text.as_bytes(), &Options::default(), &mut |_| true)
            .expect("read");
    assert_eq!((report.lines, report.valid, report.invalid), (2, 2, 0), "{:?}", report.issues);
}

#[test]
fn an_over_long_line_is_cut_reported_and_the_next_line_still_read() {
    let options = Options { max_line_bytes: 100, ..Options::default() };
    let short = r#"{"resourceType":"Basic","id":"b1","code":{"text":"x"}}"#;
    let text = format!("{{\"resourceType\":\"Basic\",\"id\":\"{}\"}}\n{short}\n", "a".repeat(500));
    let report = validate_reader("x.ndjson", &mut text.as_bytes(), &options, &mut |_| true).expect("read");
    assert_eq!(report.issues[0].code, Code::LineTooLong);
    assert_eq!((report.lines, report.valid, report.invalid), (2, 1, 1));
}

#[test]
fn a_resource_of_another_type_in_a_typed_file_is_a_warning() {
    let line = first_patient_line();
    let report =
        validate_reader("Observation.000.ndjson", &mut line.as_bytes(), &Options::default(), &mut |_| true)
            .expect("read");
    assert_eq!(report.valid, 1);
    assert_eq!(report.issues[0].code, Code::TypeMismatchInFile);
    assert_eq!(report.issues[0].severity, Severity::Warning);
}

#[test]
fn the_whole_ten_patient_sample_passes_and_the_log_is_not_fhir() {
    let mut total = 0;
    for path in sample_files() {
        let report = validate_path(&path, &Options::default(), &mut |_| true).expect("read");
        if report.name == "log.ndjson" {
            assert!(report.not_fhir);
            assert_eq!(report.issues.len(), 1);
            assert_eq!(report.issues[0].code, Code::NotFhir);
            assert_eq!(report.valid, 0);
        } else {
            assert_eq!(report.invalid, 0, "{}: {:?}", report.name, report.issues.first());
            assert!(!report.not_fhir);
            total += report.valid;
        }
    }
    assert_eq!(total, 7160);
}

#[test]
fn returning_false_from_progress_cancels() {
    let line = format!("{}\n", first_patient_line());
    let text = line.repeat(5000);
    let err = validate_reader("Patient.ndjson", &mut text.as_bytes(), &Options::default(), &mut |_| false)
        .expect_err("cancelled");
    assert_eq!(err.kind(), std::io::ErrorKind::Interrupted);
}

/// Checks `line` and returns its issues as (code, path) pairs, errors only.
fn error_paths(line: &str) -> Vec<(Code, String)> {
    check_line(1, line.as_bytes(), &Options::default())
        .issues
        .into_iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| (i.code, i.path.unwrap_or_default()))
        .collect()
}

fn patient() -> serde_json::Value {
    serde_json::from_str(&first_patient_line()).expect("json")
}

fn first_medication_request() -> serde_json::Value {
    let text =
        std::fs::read_to_string(sample_dir().join("MedicationRequest.000.ndjson")).expect("sample file");
    let v: serde_json::Value = serde_json::from_str(text.lines().next().expect("a line")).expect("json");
    assert!(
        v.get("medicationCodeableConcept").is_some()
            && v["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"].is_object()
    );
    v
}

#[test]
fn choice_types_and_required_choices_on_a_medication_request() {
    let good = first_medication_request();
    assert!(error_paths(&good.to_string()).is_empty(), "{:?}", error_paths(&good.to_string()));
    let mut two = good.clone();
    two["medicationReference"] = serde_json::json!({"reference": "Medication/1"});
    assert!(
        error_paths(&two.to_string())
            .iter()
            .any(|(c, p)| *c == Code::InvalidChoice && p.starts_with("MedicationRequest.medication"))
    );
    let mut bare = good.clone();
    bare["medication"] = bare["medicationCodeableConcept"].clone();
    bare.as_object_mut().expect("object").remove("medicationCodeableConcept");
    let found = error_paths(&bare.to_string());
    assert!(found.contains(&(Code::InvalidChoice, "MedicationRequest.medication".into())), "{found:?}");
    assert!(found.contains(&(Code::MissingRequired, "MedicationRequest.medication[x]".into())), "{found:?}");
    let mut no_status = good.clone();
    no_status.as_object_mut().expect("object").remove("status");
    assert!(
        error_paths(&no_status.to_string())
            .contains(&(Code::MissingRequired, "MedicationRequest.status".into()))
    );
    let mut bad_decimal = good.clone();
    bad_decimal["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = "12.5".into();
    let path = "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.value";
    assert!(error_paths(&bad_decimal.to_string()).contains(&(Code::WrongType, path.into())));
    let mut fractional = good;
    fractional["dosageInstruction"][0]["sequence"] = 1.5.into();
    let path = "MedicationRequest.dosageInstruction[0].sequence";
    assert!(error_paths(&fractional.to_string()).contains(&(Code::InvalidValue, path.into())));
}

#[test]
fn a_duplicate_key_is_found_in_the_raw_text() {
    let line = first_patient_line().replacen("\"gender\":", "\"gender\":\"other\",\"gender\":", 1);
    assert!(error_paths(&line).contains(&(Code::DuplicateKey, "Patient.gender".into())));
}

#[test]
fn resource_type_need_not_come_first() {
    let mut value = patient();
    let resource_type = value.as_object_mut().expect("object").remove("resourceType").expect("typed");
    value["resourceType"] = resource_type; // serde_json's map keeps keys sorted: resourceType is no longer first
    let line = value.to_string();
    assert!(!line.starts_with("{\"resourceType\""));
    assert!(error_paths(&line).is_empty(), "{:?}", error_paths(&line));
    value["gender"] = "dude".into();
    assert!(error_paths(&value.to_string()).contains(&(Code::InvalidValue, "Patient.gender".into())));
}

#[test]
fn the_message_says_what_to_do() {
    let mut value = patient();
    value["birthDate"] = "01/02/1965".into();
    let verdict = check_line(17, value.to_string().as_bytes(), &Options::default());
    let issue = verdict.issues.iter().find(|i| i.code == Code::InvalidValue).expect("found");
    assert_eq!(issue.line, 17);
    assert!(issue.message.starts_with("\"01/02/1965\" is not a FHIR date (use YYYY"), "{}", issue.message);
}

#[test]
fn at_minimal_structure_problems_are_warnings_but_identity_problems_still_block() {
    let minimal = Options { level: lakedrop_validate::Level::Minimal, ..Options::default() };
    let mut value = patient();
    value["gender"] = "dude".into();
    let verdict = check_line(1, value.to_string().as_bytes(), &minimal);
    assert!(!verdict.rejected);
    assert_eq!(verdict.issues[0].severity, Severity::Warning);
    value.as_object_mut().expect("object").remove("id");
    assert!(check_line(1, value.to_string().as_bytes(), &minimal).rejected);
}

#[test]
fn the_sample_checked_as_one_batch_is_valid_r4_and_its_log_is_not_fhir() {
    let report =
        lakedrop_validate::validate_batch(&sample_files(), &Options::default(), &mut |_| true).expect("read");
    let mut valid = 0;
    for file in &report.files {
        if file.name == "log.ndjson" {
            assert!(file.not_fhir, "{}", file.path);
        } else {
            assert_eq!(file.invalid, 0, "{}: {:?}", file.path, file.issues.first());
            assert!(file.issues.iter().all(|i| i.code != Code::DuplicateId), "{}", file.path);
            valid += file.valid;
        }
    }
    assert_eq!(valid, 7160);
}

/// `count` Patients made from the sample's, each with an id of its own, one per line.
fn many_patients(count: usize) -> String {
    let text = std::fs::read_to_string(sample_dir().join("Patient.000.ndjson")).expect("sample Patient file");
    let patients: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let mut out = String::new();
    for (n, patient) in patients.iter().cycle().take(count).enumerate() {
        let mut patient = patient.clone();
        patient["id"] = format!("p{n}-{}", patient["id"].as_str().expect("id")).into();
        out.push_str(&patient.to_string());
        out.push('\n');
    }
    out
}

#[test]
fn threads_do_not_change_the_report() {
    // Enough lines for many 256 KiB blocks, so both threads get work and verdicts are merged across blocks.
    let mut text = many_patients(1200);
    assert!(text.len() > 8 * 256 * 1024, "{} bytes", text.len());
    text.push_str("{\"resourceType\":\"Patient\",\"id\":\"x\",\"gender\":\"dude\"}\n");
    let one = Options { threads: 1, ..Options::default() };
    let two = Options { threads: 2, ..Options::default() };
    let a = validate_reader("Patient.ndjson", &mut text.as_bytes(), &one, &mut |_| true).expect("read");
    let b = validate_reader("Patient.ndjson", &mut text.as_bytes(), &two, &mut |_| true).expect("read");
    assert!(a.lines > 1000 && a.invalid == 1);
    assert_eq!(a, b);
}

#[test]
fn gzip_files_are_read_through() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("Patient.000.ndjson.gz");
    let mut gz =
        flate2::write::GzEncoder::new(std::fs::File::create(&path).expect("create"), Default::default());
    for _ in 0..3 {
        writeln!(gz, "{}", first_patient_line()).expect("write");
    }
    gz.finish().expect("finish");
    let mut last = None;
    let report = validate_path(&path, &Options::default(), &mut |p| {
        last = Some(p);
        true
    })
    .expect("read");
    assert_eq!(report.lines, 3);
    assert!(report.compressed);
    assert_eq!(report.bytes, std::fs::metadata(&path).expect("meta").len());
    assert_eq!(last.expect("progress").bytes_done, report.bytes, "progress counts compressed bytes");
    // The same id three times in one batch: the later two are duplicates.
    assert_eq!(report.by_code.get(&Code::DuplicateId), Some(&2));
}

#[test]
fn duplicate_ids_are_found_across_the_files_of_a_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("Patient.000.ndjson");
    let b = dir.path().join("Patient.001.ndjson");
    std::fs::write(&a, format!("{}\n", first_patient_line())).expect("write");
    std::fs::write(&b, format!("{}\n", first_patient_line())).expect("write");
    let report =
        lakedrop_validate::validate_batch(&[a, b], &Options::default(), &mut |_| true).expect("read");
    assert!(report.files[0].issues.is_empty());
    let issue = &report.files[1].issues[0];
    assert_eq!((issue.code, issue.severity, issue.line), (Code::DuplicateId, Severity::Warning, 1));
    assert!(issue.message.contains("Patient.000.ndjson:1"), "{}", issue.message);
    assert_eq!(report.files[1].valid, 1, "a duplicate is imported (the later one wins), not rejected");
}

#[test]
fn issues_are_grouped_by_code_and_type_with_examples() {
    let mut value = patient();
    let mut lines = String::new();
    for i in 0..8 {
        value["id"] = format!("p{i}").into();
        value["gender"] = if i < 6 { "dude".into() } else { "male".into() };
        lines.push_str(&value.to_string());
        lines.push('\n');
    }
    lines.push_str("{\"resourceType\":\"Patient\"}\n");
    let report = validate_reader("Patient.ndjson", &mut lines.as_bytes(), &Options::default(), &mut |_| true)
        .expect("read");
    let top = &report.groups[0];
    assert_eq!((top.code, top.resource_type.as_deref(), top.count), (Code::InvalidValue, Some("Patient"), 6));
    assert_eq!(top.examples.len(), 5);
    assert_eq!(top.examples[0].line, 1);
    assert!(report.groups.iter().any(|g| g.code == Code::MissingId && g.count == 1));
}

#[test]
fn more_than_ten_thousand_files_is_one_batch_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("Patient.ndjson");
    std::fs::write(&path, format!("{}\n", first_patient_line())).expect("write");
    let paths = vec![path; lakedrop_validate::MAX_FILES_PER_IMPORT + 1];
    let report =
        lakedrop_validate::validate_batch(&paths[..], &Options::default(), &mut |_| true).expect("read");
    assert_eq!(report.issues[0].code, Code::TooManyFiles);
    assert_eq!(report.files.len(), paths.len());
}

#[test]
fn at_strict_a_claimed_profile_is_a_warning_lakedrop_cannot_check() {
    let line = first_patient_line();
    assert!(line.contains("\"profile\""), "Synthea claims US Core profiles");
    let strict = Options { level: lakedrop_validate::Level::Strict, ..Options::default() };
    let verdict = check_line(1, line.as_bytes(), &strict);
    let issue = verdict.issues.iter().find(|i| i.code == Code::UncheckedProfile).expect("flagged");
    assert_eq!((issue.severity, issue.path.as_deref()), (Severity::Warning, Some("Patient.meta.profile[0]")));
    assert!(
        !check_line(1, line.as_bytes(), &Options::default())
            .issues
            .iter()
            .any(|i| i.code == Code::UncheckedProfile)
    );
}

#[test]
fn small_files_checked_together_report_as_each_alone() {
    let paths = sample_files();
    let small = paths.iter().filter(|p| std::fs::metadata(p).expect("meta").len() <= 1024 * 1024).count();
    assert!(small >= 4, "the sample has a run of small files");
    let batch = lakedrop_validate::validate_batch(&paths, &Options::default(), &mut |_| true).expect("read");
    for (path, together) in paths.iter().zip(&batch.files) {
        let alone = validate_path(path, &Options::default(), &mut |_| true).expect("read");
        assert_eq!(together, &alone, "{}", path.display());
    }
}

#[test]
fn a_report_carries_the_crc32c_of_exactly_the_bytes_it_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let line = br#"{"resourceType":"Patient","id":"p1","gender":"female"}"#;
    let mut small = Vec::new();
    let mut big = Vec::new();
    while small.len() < 10_000 {
        small.extend_from_slice(line);
        small.push(b'\n');
    }
    while big.len() < 3 * 1024 * 1024 {
        big.extend_from_slice(line);
        big.push(b'\n');
    }
    let paths: Vec<std::path::PathBuf> = [("a.ndjson", &small), ("b.ndjson", &small), ("c.ndjson", &big)]
        .iter()
        .map(|(name, bytes)| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            path
        })
        .collect();
    let report =
        lakedrop_validate::validate_batch(&paths, &lakedrop_validate::Options::default(), &mut |_| true)
            .expect("read");
    let crcs: Vec<Option<u32>> = report.files.iter().map(|f| f.crc32c).collect();
    let small_crc = crc_fast::crc32_iscsi(&small);
    assert_eq!(crcs, [Some(small_crc), Some(small_crc), Some(crc_fast::crc32_iscsi(&big))]);
}
