//! The `lakedrop` binary as users run it: `sandbox serve` in one process, `import` and `validate` in others.

mod fix;
mod inputs;
mod json_output;
mod readback;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_lakedrop");

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients")
}

/// A `lakedrop sandbox serve` child, killed on drop.
struct Server {
    child: Child,
    env: Vec<(String, String)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &std::path::Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["sandbox", "serve", "--port", "0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let env = exported_env(child.stdout.take().expect("stdout"));
    Server { child, env }
}

/// The `export NAME=value` lines `sandbox serve` prints, read up to its last line (the role's).
fn exported_env(stdout: ChildStdout) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(kv) = line.strip_prefix("export ") {
            let (k, v) = kv.split_once('=').expect("k=v");
            env.push((k.to_string(), v.to_string()));
        }
        if line.starts_with("role") {
            break;
        }
    }
    assert_eq!(env.len(), 5, "endpoint, two keys and both Region variables are printed: {env:?}");
    env
}

/// Served on every interface, the sandbox prints an endpoint a client can use (loopback, not 0.0.0.0) and warns
/// on stderr that others can reach it; the AWS CLI v1 and older boto3 get AWS_DEFAULT_REGION.
#[test]
fn serving_on_every_interface_warns_and_prints_a_usable_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .args(["sandbox", "serve", "--bind", "0.0.0.0", "--port", "0", "--data"])
        .arg(dir.path().join("sandbox"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let env = exported_env(child.stdout.take().expect("stdout"));
    let _ = child.kill();
    let out = child.wait_with_output().expect("stderr");
    let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert!(get("AWS_ENDPOINT_URL").starts_with("http://127.0.0.1:"), "{env:?}");
    assert_eq!(get("AWS_DEFAULT_REGION"), get("AWS_REGION"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: listening on 0.0.0.0, not loopback"), "{stderr}");
}

#[test]
fn serve_help_lists_the_operations_it_answers() {
    let out = Command::new(BIN).args(["sandbox", "serve", "--help"]).output().expect("help");
    let help = String::from_utf8_lossy(&out.stdout);
    for op in ["StartFHIRImportJob", "RestoreFHIRDatastore", "ScheduleKeyDeletion", "CompleteMultipartUpload"]
    {
        assert!(help.contains(op), "{op} missing from:\n{help}");
    }
}

#[test]
fn import_against_a_served_sandbox_reports_the_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"));
    let out = Command::new(BIN)
        .args(["import", "--wait", "--output", "json"])
        .arg(sample_dir())
        .envs(server.env.iter().map(|(k, v)| (k, v)))
        .env("LAKEDROP_DATA_DIR", dir.path().join("client"))
        .output()
        .expect("import runs");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(json["job"]["status"], "COMPLETED");
    assert_eq!(json["manifest"]["resourcesImported"], 7160);
    assert_eq!(json["manifest"]["scannedFiles"], 13);
    assert_eq!(json["import"]["filesSkipped"][0]["name"], "log.ndjson");
    assert_eq!(json["import"]["filesSkipped"][0]["reason"], "not-fhir");
    let job_id = json["job"]["jobId"].as_str().expect("job id").to_string();

    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .envs(server.env.iter().map(|(k, v)| (k, v)))
            .env("LAKEDROP_DATA_DIR", dir.path().join("client"))
            .output()
            .expect("runs")
    };
    let out = run(&["jobs", "list", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed["jobs"][0]["jobId"], job_id.as_str());
    assert_eq!(
        listed["jobs"][0]["queuePosition"],
        serde_json::Value::Null,
        "a finished job has no queue place"
    );

    let out = run(&["jobs", "show", &job_id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("COMPLETED") && text.contains("imported 7,160"), "{text}");

    let out = run(&["preflight", "--files", "13"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok    datastore-active"), "{text}");
    assert!(text.contains("ok    role-trust"), "{text}");

    let out = run(&["preflight", "--files", "10001"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "more than 10,000 files are split into jobs: {text}");
    assert!(text.contains("imported as 2 jobs"), "{text}");
}

#[test]
fn policy_prints_the_trust_and_permissions_policies() {
    let out = Command::new(BIN)
        .args(["policy", "--account", "111122223333", "--region", "us-east-1", "--datastore", "abc"])
        .args([
            "--input-bucket",
            "in-b",
            "--output-bucket",
            "out-b",
            "--kms-key",
            "arn:aws:kms:us-east-1:111122223333:key/k",
        ])
        .args(["--role", "arn:aws:iam::111122223333:role/HL", "--output", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        json["trustPolicy"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        "arn:aws:healthlake:us-east-1:111122223333:datastore/fhir/abc"
    );
    assert_eq!(json["permissionsPolicy"]["Statement"][1]["Resource"][0], "arn:aws:s3:::in-b/*");
    assert_eq!(json["callerPassRolePolicy"]["Statement"][0]["Resource"], "arn:aws:iam::111122223333:role/HL");
}

#[test]
fn validate_exits_1_on_a_folder_with_a_non_fhir_file_and_prints_a_json_report() {
    let out =
        Command::new(BIN).args(["validate", "--output", "json"]).arg(sample_dir()).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["summary"]["valid"], 7160);
    assert_eq!(json["summary"]["byCode"]["not-fhir"], 1);
    let log = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with("log.ndjson")))
        .expect("log");
    assert_eq!(log["issues"][0]["code"], "not-fhir");
}

#[test]
fn validate_text_reads_like_a_compiler_and_exit_0_when_clean() {
    let out = Command::new(BIN)
        .arg("validate")
        .arg(sample_dir().join("Patient.000.ndjson"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("13 resources valid, 0 lines would be rejected, in 1 files"), "{text}");

    let out = Command::new(BIN).arg("validate").arg(sample_dir().join("log.ndjson")).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("log.ndjson:1: not FHIR:"), "{text}");
    assert!(text.contains("[not-fhir]"), "{text}");
}

#[test]
fn validate_names_file_line_element_and_fix_and_counts_levels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = std::fs::read_to_string(sample_dir().join("Patient.000.ndjson")).expect("sample");
    let lines: Vec<&str> = sample.lines().collect();
    let mut flawed: serde_json::Value = serde_json::from_str(lines[0]).expect("json");
    flawed["id"] = "flawed".into();
    flawed["birthDate"] = "01/02/1965".into();
    let mut text: String = lines.iter().take(13).map(|l| format!("{l}\n")).collect();
    text.push_str(&"{\"resourceType\":\"Basic\",\"id\":\"b\",\"code\":{\"text\":\"x\"}}\n".repeat(3));
    text.push_str(&format!("{flawed}\n"));
    let path = dir.path().join("Patient.000.ndjson");
    std::fs::write(&path, text).expect("write");

    let out = Command::new(BIN).arg("validate").arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = format!(
        "{}:17: Patient.birthDate: \"01/02/1965\" is not a FHIR date (use YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date) [invalid-value]",
        path.display()
    );
    assert!(stdout.lines().any(|l| l == expected), "{stdout}");
    assert!(stdout.contains("[type-mismatch-in-file] (3 lines like it)"), "warnings come grouped: {stdout}");

    let out = Command::new(BIN)
        .args(["validate", "--level", "minimal", "--output", "json"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "at minimal a structure problem does not block");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["summary"]["invalid"], 0);
    assert_eq!(
        json["files"][0]["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .find(|i| i["code"] == "invalid-value")
            .expect("kept")["severity"],
        "warning"
    );
}

#[test]
fn validate_lists_every_error_even_after_thousands_of_warnings() {
    // The real Synthea Encounter file: 3,645 conditional-reference warnings, then nine rejected lines.
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = std::fs::read_to_string(sample_dir().join("Encounter.000.ndjson")).expect("sample");
    let mut text = sample.clone();
    let first: serde_json::Value =
        serde_json::from_str(sample.lines().next().expect("a line")).expect("json");
    for i in 0..9 {
        let mut flawed = first.clone();
        flawed["id"] = format!("flawed-{i}").into();
        flawed["status"] = "bogus".into();
        text.push_str(&format!("{flawed}\n"));
    }
    let path = dir.path().join("Encounter.000.ndjson");
    std::fs::write(&path, text).expect("write");
    let lines = sample.lines().count();

    let out = Command::new(BIN).args(["validate", "--output", "json"]).arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let file = &json["files"][0];
    let issues = file["issues"].as_array().expect("issues");
    let errors: Vec<u64> = issues
        .iter()
        .filter(|i| i["severity"] == "error")
        .map(|i| i["line"].as_u64().expect("line"))
        .collect();
    let expected: Vec<u64> = (lines as u64 + 1..=lines as u64 + 9).collect();
    assert_eq!(errors, expected, "every rejected line is listed");
    assert_eq!(issues.iter().filter(|i| i["severity"] == "warning").count(), 1000, "warnings are capped");
    assert_eq!(file["issuesTruncated"], true);
    assert_eq!(file["byCode"]["conditional-reference"].as_u64(), Some(3645 + 9 * 3));

    let out = Command::new(BIN).arg("validate").arg(&path).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let listed = stdout.lines().filter(|l| l.ends_with("[invalid-value]") && l.contains("\"bogus\"")).count();
    assert_eq!(listed, 9, "{stdout}");
}

#[test]
fn validate_exits_2_when_a_path_cannot_be_read() {
    let out = Command::new(BIN).args(["validate", "/nonexistent/file.ndjson"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.ndjson"));
}

#[test]
fn results_join_export_fix_and_retry_add_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"));
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .envs(server.env.iter().map(|(k, v)| (k, v)))
            .env("LAKEDROP_DATA_DIR", dir.path().join("client"))
            .output()
            .expect("runs")
    };
    let patients = std::fs::read_to_string(sample_dir().join("Patient.000.ndjson")).expect("sample");
    let good: Vec<&str> = patients.lines().take(4).collect();
    let no_id = good[1].replacen("\"id\":", "\"x-id\":", 1);
    let batch = dir.path().join("batch");
    std::fs::create_dir(&batch).expect("mkdir");
    // The broken line is not even UTF-8: exported, it must come back byte for byte.
    let mut mixed = format!("{}\n{no_id}\n{}\n{{broken ", good[0], good[2]).into_bytes();
    mixed.extend_from_slice(b"\xff\xfe\n");
    std::fs::write(batch.join("Patient.mixed.ndjson"), mixed).expect("write");

    let out = run(&["import", batch.to_str().expect("utf-8"), "--wait", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "a job with errors exits 1");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let job_id = json["job"]["jobId"].as_str().expect("id").to_string();
    assert_eq!(json["manifest"]["resourcesImported"], 2);

    let out = run(&["results", &job_id, "--join", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let causes: Vec<&str> =
        results["groups"].as_array().expect("groups").iter().filter_map(|g| g["cause"].as_str()).collect();
    assert_eq!(causes.len(), 2);
    assert!(causes.contains(&"missing-id") && causes.contains(&"invalid-json"), "{causes:?}");
    let originals: Vec<&str> =
        results["joined"].as_array().expect("joined").iter().filter_map(|r| r["original"].as_str()).collect();
    assert!(
        originals.contains(&no_id.as_str()) && originals.contains(&"{broken \u{FFFD}\u{FFFD}"),
        "shown with its invalid bytes replaced: {originals:?}"
    );

    let exported = dir.path().join("failed.ndjson");
    let out =
        run(&["results", &job_id, "--cause", "missing-id", "--export", exported.to_str().expect("utf-8")]);
    assert!(out.status.success());
    let lines = std::fs::read_to_string(&exported).expect("export");
    assert_eq!(lines.trim_end(), no_id, "only the missing-id line");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&exported).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "patient data for the owner only: {mode:o}");
    }
    let broken = dir.path().join("broken.ndjson");
    let out =
        run(&["results", &job_id, "--cause", "invalid-json", "--export", broken.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&broken).expect("export"), b"{broken \xff\xfe\n", "byte for byte");
    let out = run(&["results", &job_id, "--export", "/nonexistent-folder/failed.ndjson"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent-folder/failed.ndjson"),
        "the path is named"
    );

    // Fixed by hand (the id restored), imported again: every good resource is in, the totals add up.
    std::fs::write(&exported, format!("{}\n", good[1])).expect("fix");
    let out = run(&["import", exported.to_str().expect("utf-8"), "--wait", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fixed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(fixed["manifest"]["resourcesImported"], 1);

    // A retry imports exactly the failed lines again, in a job named after the first.
    let out = run(&["retry", &job_id, "--wait", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let retried: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(retried["retry"]["lines"], 2);
    assert_eq!(retried["manifest"]["resourcesScanned"], 2);
    assert!(retried["job"]["jobName"].as_str().is_some_and(|n| n.starts_with("lakedrop-retry-of-")));
}

#[test]
fn upload_killed_mid_way_resumes_sending_only_what_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"));
    let path = dir.path().join("big.ndjson");
    let size = 60 * 1024 * 1024;
    let mut bytes = vec![0u8; size];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&path, &bytes).expect("write");
    let upload = || {
        let mut command = Command::new(BIN);
        command
            .args(["upload", "--to", "s3://lakedrop-input/killed/", "--part-size", "5", "--concurrency", "2"])
            .args(["--kms-key", "alias/lakedrop-sandbox"])
            .arg(&path)
            .envs(server.env.iter().map(|(k, v)| (k, v)))
            .env("LAKEDROP_DATA_DIR", dir.path().join("client"));
        command
    };
    // With --output json, progress goes to stderr as one JSON object per acknowledged part; kill -9 once four of
    // the twelve parts are in.
    let mut child = upload()
        .args(["--output", "json"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("upload starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut acknowledged = 0;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        acknowledged = event["progress"]["partsDone"].as_u64().expect("partsDone");
        assert_eq!(event["progress"]["partsTotal"], 12, "{event}");
        if acknowledged >= 4 {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let out = upload().args(["--output", "json"]).output().expect("runs again");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let file = &json["files"][0];
    assert_eq!(file["result"], "resumed", "{file}");
    let reused = file["partsReused"].as_u64().expect("parts reused");
    assert!(reused >= acknowledged, "every acknowledged part is kept: {reused} of {acknowledged}");
    let sent = file["bytesSent"].as_u64().expect("bytes sent");
    assert_eq!(sent, size as u64 - reused * 5 * 1024 * 1024, "only the missing parts were sent again");
    assert_eq!(file["bytes"], size);
    assert_eq!(file["serverSideEncryption"], "aws:kms", "encrypted under the key asked for");
}
