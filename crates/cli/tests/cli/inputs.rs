//! Exports as analysts hold them (issue 20), through the CLI against a served sandbox: a folder of per-patient
//! transaction Bundles, a folder of `.ndjson.gz` files, and more than 10,000 files, each imported with
//! `import --wait` as one import.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::{BIN, sample_dir, serve};

#[path = "../../../core/tests/support/synthea_bundles.rs"]
mod synthea_bundles;

fn lakedrop(server: &super::Server, client: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(server.env.iter().map(|(k, v)| (k, v)))
        .env("LAKEDROP_DATA_DIR", client)
        .output()
        .expect("runs")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

fn first_line(file: &str) -> Value {
    let text = std::fs::read_to_string(sample_dir().join(file)).expect("sample");
    serde_json::from_str(text.lines().next().expect("a line")).expect("json")
}

#[test]
fn a_folder_of_bundles_validates_imports_as_the_sample_and_its_references_resolve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"));
    let client = dir.path().join("client");
    let bundles = dir.path().join("bundles");
    std::fs::create_dir(&bundles).expect("mkdir");
    synthea_bundles::write_bundles(&bundles);
    let folder = bundles.to_str().expect("utf-8");

    let checked = json(&lakedrop(&server, &client, &["validate", folder, "--output", "json"]));
    let files = checked["files"].as_array().expect("files");
    assert_eq!(files.len(), 14);
    assert_eq!(checked["summary"]["valid"], 7160, "{}", checked["summary"]);
    for file in files {
        assert_eq!(file["content"], "bundle", "{}", file["name"]);
        let unbundled = &file["unbundled"];
        assert_eq!(unbundled["entries"], unbundled["resources"], "{}", file["name"]);
        assert_eq!(unbundled["unresolved"], 0, "{}", file["name"]);
        assert!(file["ndjsonBytes"].as_u64() < file["bytes"].as_u64(), "{file}");
    }

    let imported = json(&lakedrop(&server, &client, &["import", folder, "--wait", "--output", "json"]));
    assert_eq!(imported["job"]["status"], "COMPLETED", "{imported}");
    assert_eq!(imported["manifest"]["resourcesImported"], 7160);
    assert_eq!(imported["manifest"]["resourcesWithCustomerError"], 0);

    // An Encounter's subject was a urn:uuid in its Bundle; read back, it names the Patient, which is there.
    let encounter = first_line("Encounter.000.ndjson");
    let id = encounter["id"].as_str().expect("id");
    let got = json(&lakedrop(&server, &client, &["fhir", "get", &format!("Encounter/{id}")]));
    let subject = got["subject"]["reference"].as_str().expect("subject").to_string();
    assert_eq!(Some(subject.as_str()), encounter["subject"]["reference"].as_str());
    let patient = json(&lakedrop(&server, &client, &["fhir", "get", &subject]));
    assert_eq!(patient["resourceType"], "Patient", "{patient}");
}

#[test]
fn bundles_kept_whole_are_imported_as_bundle_resources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"));
    let client = dir.path().join("client");
    let patient = first_line("Patient.000.ndjson");
    let pretty = serde_json::to_string_pretty(&serde_json::json!({
        "resourceType": "Bundle", "id": "kept-1", "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:p", "resource": patient}]
    }))
    .expect("json");
    let path = dir.path().join("kept.json");
    std::fs::write(&path, &pretty).expect("write");
    let file = path.to_str().expect("utf-8");

    let checked =
        json(&lakedrop(&server, &client, &["validate", file, "--keep-bundles", "--output", "json"]));
    assert_eq!(checked["files"][0]["content"], "bundleKept", "{checked}");
    assert_eq!(checked["summary"]["valid"], 1, "{checked}");
    let imported =
        json(&lakedrop(&server, &client, &["import", file, "--keep-bundles", "--wait", "--output", "json"]));
    assert_eq!(imported["manifest"]["resourcesImported"], 1, "{imported}");
    let got = json(&lakedrop(&server, &client, &["fhir", "get", "Bundle/kept-1"]));
    assert_eq!(got["entry"][0]["resource"]["id"], patient["id"], "the Bundle as it was, its entry inside");
    // Without the flag, the same file is its entry.
    let unbundled = json(&lakedrop(&server, &client, &["validate", file, "--output", "json"]));
    assert_eq!(unbundled["files"][0]["content"], "bundle");
}

#[test]
fn a_folder_of_gzip_files_imports_decompressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"));
    let client = dir.path().join("client");
    let gz = dir.path().join("gz");
    std::fs::create_dir(&gz).expect("mkdir");
    for entry in std::fs::read_dir(sample_dir()).expect("sample") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_string();
        if !name.ends_with(".ndjson") {
            continue;
        }
        let file = std::fs::File::create(gz.join(format!("{name}.gz"))).expect("create");
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        encoder.write_all(&std::fs::read(&path).expect("read")).expect("write");
        encoder.finish().expect("finish");
    }
    let imported = json(&lakedrop(
        &server,
        &client,
        &["import", gz.to_str().expect("utf-8"), "--wait", "--output", "json"],
    ));
    assert_eq!(imported["job"]["status"], "COMPLETED", "{imported}");
    assert_eq!(imported["manifest"]["resourcesImported"], 7160);
    assert_eq!(imported["manifest"]["scannedFiles"], 13, "the log is left out, the rest decompressed");
    assert_eq!(imported["import"]["filesSkipped"][0]["name"], "log.ndjson.gz");
}

#[test]
fn more_than_ten_thousand_files_are_two_jobs_waited_for_as_one_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"));
    let client = dir.path().join("client");
    let many = dir.path().join("many");
    std::fs::create_dir(&many).expect("mkdir");
    let template = first_line("Patient.000.ndjson");
    for n in 0..10_050 {
        let mut patient = template.clone();
        patient["id"] = Value::String(format!("split-{n:05}"));
        std::fs::write(many.join(format!("p{n:05}.ndjson")), format!("{patient}\n")).expect("write");
    }
    let folder = many.to_str().expect("utf-8");
    let imported = json(&lakedrop(&server, &client, &["import", folder, "--wait", "--output", "json"]));
    let jobs = imported["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 2, "{}", imported["import"]["jobs"]);
    let files: Vec<&Value> =
        imported["import"]["jobs"].as_array().expect("jobs").iter().map(|j| &j["files"]).collect();
    assert_eq!(files, [10_000, 50]);
    for job in jobs {
        assert_eq!(job["job"]["status"], "COMPLETED", "{job}");
    }
    assert_eq!(jobs[0]["manifest"]["resourcesImported"], 10_000);
    assert_eq!(jobs[1]["manifest"]["resourcesImported"], 50);
    assert_eq!(imported["manifest"]["resourcesImported"], 10_050, "the counts of both jobs together");
    assert_eq!(imported["manifest"]["scannedFiles"], 10_050);

    // The text says so too, for a person at a terminal: the rerun finds both jobs and follows them.
    let out = lakedrop(&server, &client, &["import", folder, "--wait"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("all 2 jobs together:") && text.contains("resources imported       10,050"),
        "{text}"
    );
}
