//! Reading an import back: `verify` by sample, `fhir get` and `fhir search`, against a served sandbox, with the
//! data store changed in between by an independent client (botocore's SigV4 signer, from the AWS CLI's
//! environment), as a person editing resources through HealthLake's FHIR API would.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use super::{BIN, sample_dir, serve};

#[path = "../../../sandbox/tests/support/aws_cli.rs"]
mod aws_cli;

/// Sends one SigV4-signed FHIR request with botocore; returns the HTTP status.
const SIGNED_REQUEST: &str = r#"
import os, sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
method, url = sys.argv[1], sys.argv[2]
body = sys.stdin.buffer.read() or None
request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/fhir+json"})
SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]), "healthlake", os.environ["AWS_REGION"]).add_auth(request)
try:
    print(urllib.request.urlopen(urllib.request.Request(url, data=body, headers=dict(request.headers), method=method)).status)
except urllib.error.HTTPError as e:
    print(e.code)
"#;

/// The Python of the AWS CLI's environment (it carries botocore).
fn python() -> Option<PathBuf> {
    let python = aws_cli::find()?.parent()?.join("python");
    python.exists().then_some(python)
}

#[test]
fn an_import_reads_back_as_sent_until_the_data_store_changes() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"));
    let client = dir.path().join("client");
    let run = |args: &[&str]| -> Output {
        Command::new(BIN)
            .args(args)
            .envs(server.env.iter().map(|(k, v)| (k, v)))
            .env("LAKEDROP_DATA_DIR", &client)
            .output()
            .expect("runs")
    };
    let json = |out: &Output| -> Value {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    let sample = sample_dir();
    let imported = run(&["import", "--wait", "--output", "json", sample.to_str().expect("utf-8")]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let job_id = json(&imported)["job"]["jobId"].as_str().expect("job id").to_string();

    let verified = run(&["verify", &job_id, "--sample", "50", "--output", "json"]);
    assert!(verified.status.success(), "all matched: {}", String::from_utf8_lossy(&verified.stdout));
    let report = json(&verified);
    assert_eq!(report["allMatched"], true);
    let types = report["types"].as_array().expect("types");
    assert_eq!(types.len(), 13, "one per resource type of the sample: {types:?}");
    let imported_total: u64 = types.iter().map(|t| t["imported"].as_u64().expect("imported")).sum();
    assert_eq!(imported_total, 7160);
    for t in types {
        let expected = t["imported"].as_u64().expect("n").min(50);
        assert_eq!((t["sampled"].as_u64(), t["matched"].as_u64()), (Some(expected), Some(expected)), "{t}");
    }
    let samples = report["samples"].as_array().expect("samples");
    assert_eq!(report["counts"]["sampled"].as_u64(), Some(samples.len() as u64));
    let procedures: Vec<&Value> = samples.iter().filter(|s| s["resourceType"] == "Procedure").collect();
    let files: std::collections::BTreeSet<&str> = samples.iter().filter_map(|s| s["file"].as_str()).collect();
    assert_eq!(files.len(), 13, "the sample spans every file");
    let patient_id = samples
        .iter()
        .find(|s| s["resourceType"] == "Patient")
        .and_then(|s| s["id"].as_str())
        .expect("a patient");
    let procedure_id = procedures[0]["id"].as_str().expect("a procedure");

    // `fhir get` prints the resource as the data store holds it; `fhir search` follows references.
    let got = run(&["fhir", "get", &format!("Patient/{patient_id}")]);
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    let mut patient = json(&got);
    assert_eq!(
        (patient["resourceType"].as_str(), patient["id"].as_str()),
        (Some("Patient"), Some(patient_id))
    );
    let found = run(&["fhir", "search", &format!("Encounter?subject=Patient/{patient_id}"), "--count", "3"]);
    assert!(found.status.success(), "{}", String::from_utf8_lossy(&found.stderr));
    let bundle = json(&found);
    let entries = bundle["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), 3, "--count bounds the matches: {bundle}");
    assert!(bundle["total"].as_u64().is_some_and(|t| t >= 3));
    for e in entries {
        assert_eq!(e["resource"]["subject"]["reference"], format!("Patient/{patient_id}").as_str());
    }
    let many = run(&["fhir", "search", "Procedure", "--count", "150"]);
    assert_eq!(json(&many)["entry"].as_array().map(Vec::len), Some(150), "pages are followed past 100");

    // Someone changes the patient and deletes a procedure through the FHIR API.
    let endpoint = server.env.iter().find(|(k, _)| k == "AWS_ENDPOINT_URL").expect("endpoint").1.clone();
    let base = format!("{endpoint}/datastore/{}/r4/", report["datastoreId"].as_str().expect("datastore"));
    patient["gender"] = if patient["gender"] == "male" { "female".into() } else { "male".into() };
    patient.as_object_mut().expect("object").remove("meta");
    let signed = |method: &str, path: &str, body: &[u8]| -> String {
        let mut child = Command::new(&python)
            .args(["-c", SIGNED_REQUEST, method, &format!("{base}{path}")])
            .envs(server.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python runs");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), body).expect("body");
        let out = child.wait_with_output().expect("python ends");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(signed("PUT", &format!("Patient/{patient_id}"), patient.to_string().as_bytes()), "200");
    assert_eq!(signed("DELETE", &format!("Procedure/{procedure_id}"), b""), "204");
    let gone = run(&["fhir", "get", &format!("Procedure/{procedure_id}")]);
    assert_eq!(gone.status.code(), Some(1), "a resource not held exits 1");

    let again = run(&["verify", &job_id, "--sample", "50", "--output", "json"]);
    assert_eq!(again.status.code(), Some(1), "a difference exits 1");
    let report = json(&again);
    assert_eq!(report["allMatched"], false);
    assert_eq!(
        (report["counts"]["differing"].as_u64(), report["counts"]["missing"].as_u64()),
        (Some(1), Some(1))
    );
    let outcome = |id: &str| {
        report["samples"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == id))
            .cloned()
            .expect("sampled again")
    };
    let changed = outcome(patient_id);
    assert_eq!(changed["outcome"], "differing");
    assert_eq!(changed["differences"][0]["path"], "gender", "{changed}");
    assert_ne!(changed["differences"][0]["expected"], changed["differences"][0]["found"]);
    assert_eq!(outcome(procedure_id)["outcome"], "missing");

    let text = run(&["verify", &job_id, "--sample", "50"]);
    let words = String::from_utf8_lossy(&text.stdout);
    assert!(
        words.contains(&format!("Patient/{patient_id}")) && words.contains("differs from its line"),
        "{words}"
    );
    assert!(words.contains("    gender: sent "), "{words}");
    assert!(words.contains("is not in the data store"), "{words}");
}
