//! The conformance suite (`tests/conformance/`, Python): boto3 from the pinned PyPI set drives the sandbox
//! through every operation it implements and every case its issue named, and runs the S3 and KMS cases against
//! moto's server too, checking each difference against the written list of where moto is known wrong. It prints
//! one line (operations covered, cases, differences from AWS's documented behaviour), which this test requires
//! to report no difference and writes to `target/tmp/conformance-summary.txt` for `scripts/test.sh`.
//!
//! `make test` installs boto3 and moto into `target/awscli`; under CI a missing one fails, elsewhere it skips.

#[path = "support/aws_cli.rs"]
mod aws_cli;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use lakedrop_sandbox::{Pacing, Sandbox, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_finds_no_difference_from_aws() {
    let Some(aws) = aws_cli::find() else { return };
    let bin = aws.parent().expect("bin").to_path_buf();
    let python = bin.join("python3");
    let moto = bin.join("moto_server");
    assert!(
        python.exists() && moto.exists(),
        "scripts/deps.sh --test installs boto3 and moto beside the AWS CLI"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(dir.path().join("sandbox"));
    config.pacing = Pacing {
        datastore_creation: Duration::from_millis(300),
        job_start_delay: Duration::from_millis(10),
        ..Pacing::default()
    };
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let supported: serde_json::Map<String, serde_json::Value> = lakedrop_sandbox::supported_operations()
        .into_iter()
        .map(|(service, ops)| (service.to_string(), serde_json::json!(ops)))
        .collect();
    let supported = serde_json::Value::Object(supported);
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/run.py");
    let out = tokio::task::block_in_place(|| {
        Command::new(&python)
            .arg(&suite)
            .args(["--endpoint", sandbox.endpoint(), "--moto"])
            .arg(&moto)
            .env("LAKEDROP_SEED", serde_json::to_string(sandbox.seed()).expect("seed"))
            .env("LAKEDROP_SUPPORTED", supported.to_string())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
    })
    .expect("the suite runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    let summary =
        stdout.lines().rev().find(|l| l.starts_with("conformance:")).unwrap_or_default().to_string();
    let tmp = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp");
    std::fs::create_dir_all(&tmp).expect("target/tmp");
    std::fs::write(tmp.join("conformance-summary.txt"), format!("{summary}\n")).expect("summary");
    assert!(out.status.success(), "the conformance suite found differences:\n{stdout}\n{stderr}");
    assert!(summary.ends_with(" 0 differences from AWS's documented behaviour"), "{summary}");
    sandbox.stop().await;
}
