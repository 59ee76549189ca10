//! The AWS CLI (from PyPI, an implementation nobody here wrote) against the sandbox, unchanged, through
//! `AWS_ENDPOINT_URL`: the whole import flow a user would type, checked by the numbers.
//!
//! `make test` installs the CLI into `target/awscli`; under CI a missing CLI fails the test, elsewhere it skips.

#[path = "support/aws_cli.rs"]
mod aws_cli;

use std::path::PathBuf;
use std::process::Command;

use lakedrop_sandbox::{Pacing, Sandbox, SandboxConfig};
use serde_json::Value;

struct Cli {
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl Cli {
    /// Runs `aws ARGS...`, failing the test with the CLI's stderr when it fails.
    fn run(&self, args: &[&str]) -> String {
        let out = tokio::task::block_in_place(|| {
            Command::new(&self.bin).args(args).envs(self.env.iter().map(|(k, v)| (k, v))).output()
        })
        .expect("aws runs");
        assert!(out.status.success(), "aws {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.run(args)).expect("json output")
    }
}

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_imports_the_sample_and_reads_the_results() {
    let Some(bin) = aws_cli::find() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(dir.path().join("sandbox"));
    config.pacing = Pacing { job_start_delay: std::time::Duration::from_millis(10), ..Pacing::default() };
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let seed = sandbox.seed().clone();
    let config_file = dir.path().join("aws-config");
    std::fs::write(&config_file, "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
        .expect("config");
    let cli = Cli {
        bin,
        env: vec![
            ("AWS_ENDPOINT_URL".into(), sandbox.endpoint().into()),
            ("AWS_ACCESS_KEY_ID".into(), seed.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), seed.secret_access_key.clone()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_CONFIG_FILE".into(), config_file.display().to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ],
    };

    // A batch with known bad lines: the sample's NDJSON files (with its non-FHIR log; not its LICENSE and README),
    // plus a Patient file with two bad lines.
    let batch = dir.path().join("batch");
    std::fs::create_dir(&batch).expect("mkdir");
    for entry in std::fs::read_dir(sample_dir()).expect("sample") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "ndjson") {
            continue;
        }
        std::fs::copy(&path, batch.join(path.file_name().expect("name"))).expect("copy");
    }
    let patients = std::fs::read_to_string(sample_dir().join("Patient.000.ndjson")).expect("patients");
    let first = patients.lines().next().expect("a patient");
    let no_id = first.replacen("\"id\":", "\"x-id\":", 1);
    std::fs::write(batch.join("Patient.bad.ndjson"), format!("{first}\n{no_id}\n{{not json\n"))
        .expect("bad file");

    cli.run(&["s3", "mb", "s3://cli-input"]);
    cli.run(&["s3", "mb", "s3://cli-output"]);
    cli.run(&[
        "s3",
        "cp",
        "--recursive",
        "--quiet",
        batch.to_str().expect("utf-8"),
        "s3://cli-input/batch-1/",
    ]);
    let listed = cli.json(&["s3api", "list-objects-v2", "--bucket", "cli-input", "--prefix", "batch-1/"]);
    assert_eq!(listed["Contents"].as_array().map(Vec::len), Some(15), "{listed}");

    let key = cli.json(&["kms", "create-key", "--description", "cli test"]);
    let key_arn = key["KeyMetadata"]["Arn"].as_str().expect("arn").to_string();
    let stores = cli.json(&["healthlake", "list-fhir-datastores"]);
    assert_eq!(stores["DatastorePropertiesList"][0]["DatastoreId"], seed.datastore_id.as_str());

    let started = cli.json(&[
        "healthlake",
        "start-fhir-import-job",
        "--datastore-id",
        &seed.datastore_id,
        "--input-data-config",
        "S3Uri=s3://cli-input/batch-1/",
        "--job-output-data-config",
        &format!("S3Configuration={{S3Uri=s3://cli-output/out/,KmsKeyId={key_arn}}}"),
        "--data-access-role-arn",
        &seed.role_arn,
        "--validation-level",
        "structure-only",
    ]);
    assert_eq!(started["JobStatus"], "SUBMITTED");
    let job_id = started["JobId"].as_str().expect("job id").to_string();

    let mut job = Value::Null;
    for _ in 0..120 {
        job = cli.json(&[
            "healthlake",
            "describe-fhir-import-job",
            "--datastore-id",
            &seed.datastore_id,
            "--job-id",
            &job_id,
        ]);
        let status = job["ImportJobProperties"]["JobStatus"].as_str().unwrap_or("");
        if ["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"].contains(&status) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let props = &job["ImportJobProperties"];
    assert_eq!(props["JobStatus"], "COMPLETED_WITH_ERRORS", "{job}");
    assert!(props["EndTime"].is_number(), "timestamps are epoch seconds: {job}");
    let folder =
        props["JobOutputDataConfig"]["S3Configuration"]["S3Uri"].as_str().expect("folder").to_string();
    assert_eq!(folder, format!("s3://cli-output/out/{}-FHIR_IMPORT-{job_id}/", seed.datastore_id));

    let manifest_path = dir.path().join("Manifest.json");
    cli.run(&[
        "s3",
        "cp",
        "--quiet",
        &format!("{folder}Manifest.json"),
        manifest_path.to_str().expect("utf-8"),
    ]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("json");
    // 7,160 sample resources + 4 log lines + 3 lines of the bad file.
    assert_eq!(manifest["numberOfScannedFiles"], 15);
    assert_eq!(manifest["numberOfResourcesScanned"], 7167);
    assert_eq!(manifest["numberOfResourcesImportedSuccessfully"], 7161);
    assert_eq!(manifest["numberOfResourcesWithCustomerError"], 6);

    let failure = cli.run(&["s3", "cp", &format!("{folder}FAILURE/Patient.bad.ndjson"), "-"]);
    let lines: Vec<Value> = failure.lines().map(|l| serde_json::from_str(l).expect("failure line")).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["lineId"], 2);
    assert_eq!(lines[0]["UpdateResourceResponse"]["statusCode"], 400);
    assert_eq!(
        lines[0]["UpdateResourceResponse"]["jsonBlob"]["issue"][0]["diagnostics"],
        "Missing required id field in resource json"
    );
    assert_eq!(
        lines[1]["UpdateResourceResponse"]["jsonBlob"]["issue"][0]["diagnostics"],
        "Invalid JSON found in input file"
    );
    let head = cli.json(&[
        "s3api",
        "head-object",
        "--bucket",
        "cli-output",
        "--key",
        &format!("out/{}-FHIR_IMPORT-{job_id}/Manifest.json", seed.datastore_id),
    ]);
    assert_eq!(head["ServerSideEncryption"], "aws:kms");
    assert_eq!(head["SSEKMSKeyId"], key_arn.as_str());
    sandbox.stop().await;
}
