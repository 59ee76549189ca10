//! Patient data never reaches a log: the sample is imported with every crate's debug logging on, through a
//! served sandbox and the CLI, and no patient name, identifier or birth date from it may appear in what either
//! process logged.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_lakedrop");

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients")
}

/// Names, identifier values and birth dates of every patient in the sample.
fn patient_secrets() -> BTreeSet<String> {
    let text = std::fs::read_to_string(sample_dir().join("Patient.000.ndjson")).expect("sample");
    let mut secrets = BTreeSet::new();
    for line in text.lines() {
        let p: serde_json::Value = serde_json::from_str(line).expect("json");
        for name in p["name"].as_array().into_iter().flatten() {
            if let Some(family) = name["family"].as_str() {
                secrets.insert(family.to_string());
            }
            for given in name["given"].as_array().into_iter().flatten().filter_map(|g| g.as_str()) {
                secrets.insert(given.to_string());
            }
        }
        for identifier in p["identifier"].as_array().into_iter().flatten() {
            if let Some(value) = identifier["value"].as_str() {
                secrets.insert(value.to_string());
            }
        }
        if let Some(birth) = p["birthDate"].as_str() {
            secrets.insert(birth.to_string());
        }
    }
    // Very short strings (a one-letter given name) would match anywhere; they identify no one on their own.
    secrets.retain(|s| s.len() >= 4);
    assert!(secrets.len() > 30, "the sample has names, identifiers and birth dates: {secrets:?}");
    secrets
}

#[test]
fn an_import_with_debug_logging_logs_no_patient_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Command::new(BIN)
        .args(["sandbox", "serve", "--port", "0", "--data"])
        .arg(dir.path().join("sandbox"))
        .env("LAKEDROP_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let stdout = server.stdout.take().expect("stdout");
    let mut server_log = server.stderr.take().expect("stderr");
    let log_reader = std::thread::spawn(move || {
        let mut log = String::new();
        let _ = server_log.read_to_string(&mut log);
        log
    });
    let mut env = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|kv| kv.split_once('=')) {
            env.push((k.to_string(), v.to_string()));
        }
        if line.starts_with("role") {
            break;
        }
    }
    let out = Command::new(BIN)
        .args(["import", "--wait"])
        .arg(sample_dir())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("LAKEDROP_DATA_DIR", dir.path().join("client"))
        .env("LAKEDROP_LOG", "trace")
        .output()
        .expect("import");
    assert!(out.status.success(), "the import itself works");
    let _ = server.kill();
    let _ = server.wait();
    let server_log = log_reader.join().expect("log");
    let client_log = String::from_utf8_lossy(&out.stderr).into_owned();
    for (name, log) in [("sandbox", &server_log), ("CLI", &client_log)] {
        let detailed = log.lines().filter(|l| l.contains("DEBUG") || l.contains("TRACE")).count();
        assert!(detailed > 0, "the {name} logged at debug and trace level");
    }

    let secrets = patient_secrets();
    for (name, log) in [("sandbox", &server_log), ("CLI", &client_log)] {
        let leaked: Vec<&String> = secrets.iter().filter(|s| log.contains(s.as_str())).collect();
        assert!(leaked.is_empty(), "the {name} log contains patient data: {leaked:?}");
    }
}
