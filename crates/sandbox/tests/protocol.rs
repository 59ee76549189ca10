//! The sandbox as a protocol peer: signatures required on every service, state that survives a restart, a job
//! interrupted by a restart finished afterwards, and the errors a real account gives.

use std::time::Duration;

use aws_sdk_healthlake::types::{InputDataConfig, JobStatus, OutputDataConfig, S3Configuration};
use lakedrop_sandbox::{Faults, Pacing, Sandbox, SandboxConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

async fn sdk(sandbox: &Sandbox) -> aws_config::SdkConfig {
    support::sdk(sandbox, None).await
}

/// Sends a raw, unsigned HTTP/1.1 request and returns the status line and body.
async fn unsigned(endpoint: &str, request: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.replace('\n', "\r\n").as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn unsigned_requests_are_refused_by_every_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::start(SandboxConfig::new(dir.path())).await.expect("starts");
    let body = "{}";
    for target in ["HealthLake.ListFHIRDatastores", "TrentService.ListKeys"] {
        let response = unsigned(
            sandbox.endpoint(),
            &format!("POST / HTTP/1.1\nHost: localhost\nX-Amz-Target: {target}\nContent-Type: application/x-amz-json-1.0\nContent-Length: {}\nConnection: close\n\n{body}", body.len()),
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 403"), "{target}: {response}");
        assert!(response.contains("MissingAuthenticationTokenException"), "{target}: {response}");
    }
    let response =
        unsigned(sandbox.endpoint(), "GET /lakedrop-input HTTP/1.1\nHost: localhost\nConnection: close\n\n")
            .await;
    assert!(response.starts_with("HTTP/1.1 403"), "S3: {response}");
    assert!(response.contains("AccessDenied"), "S3: {response}");
    sandbox.stop().await;
}

fn output(seed: &lakedrop_sandbox::Seed) -> OutputDataConfig {
    OutputDataConfig::S3Configuration(
        S3Configuration::builder()
            .s3_uri(format!("s3://{}/out/", seed.output_bucket))
            .kms_key_id(&seed.kms_key_arn)
            .build()
            .expect("output"),
    )
}

#[tokio::test]
async fn a_job_interrupted_by_a_restart_is_finished_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(dir.path());
    // The job is claimed (IN_PROGRESS) and then waits long enough for the sandbox to stop under it.
    config.pacing = Pacing { job_start_delay: Duration::from_secs(30), ..Pacing::default() };
    let sandbox = Sandbox::start(config.clone()).await.expect("starts");
    let seed = sandbox.seed().clone();
    let sdk_config = sdk(&sandbox).await;
    let s3 = support::s3(&sdk_config);
    let line = r#"{"resourceType":"Basic","id":"b1","code":{"text":"x"}}"#;
    s3.put_object()
        .bucket(&seed.input_bucket)
        .key("in/a.ndjson")
        .body(line.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put");
    let healthlake = aws_sdk_healthlake::Client::new(&sdk_config);
    let job = healthlake
        .start_fhir_import_job()
        .datastore_id(&seed.datastore_id)
        .data_access_role_arn(&seed.role_arn)
        .input_data_config(InputDataConfig::S3Uri(format!("s3://{}/in/", seed.input_bucket)))
        .job_output_data_config(output(&seed))
        .send()
        .await
        .expect("start");
    for _ in 0..100 {
        let d = healthlake
            .describe_fhir_import_job()
            .datastore_id(&seed.datastore_id)
            .job_id(job.job_id())
            .send()
            .await
            .expect("describe");
        if d.import_job_properties().map(|p| p.job_status()) == Some(&JobStatus::InProgress) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sandbox.stop().await;

    config.pacing = Pacing { job_start_delay: Duration::from_millis(10), ..Pacing::default() };
    let sandbox = Sandbox::start(config).await.expect("restarts");
    assert_eq!(sandbox.seed(), &seed, "the seed (keys, ids) persists");
    let healthlake = aws_sdk_healthlake::Client::new(&sdk(&sandbox).await);
    let mut status = JobStatus::Submitted;
    for _ in 0..200 {
        let d = healthlake
            .describe_fhir_import_job()
            .datastore_id(&seed.datastore_id)
            .job_id(job.job_id())
            .send()
            .await
            .expect("the job survived");
        status = d.import_job_properties().expect("props").job_status().clone();
        if status == JobStatus::Completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, JobStatus::Completed);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_role_healthlake_cannot_assume_is_access_denied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::start(SandboxConfig::new(dir.path())).await.expect("starts");
    let seed = sandbox.seed().clone();
    let healthlake = aws_sdk_healthlake::Client::new(&sdk(&sandbox).await);
    let err = healthlake
        .start_fhir_import_job()
        .datastore_id(&seed.datastore_id)
        .data_access_role_arn("arn:aws:iam::111122223333:role/Elsewhere")
        .input_data_config(InputDataConfig::S3Uri(format!("s3://{}/in/", seed.input_bucket)))
        .job_output_data_config(output(&seed))
        .send()
        .await
        .expect_err("refused");
    assert!(err.as_service_error().is_some_and(|e| e.is_access_denied_exception()), "{err:?}");
    sandbox.stop().await;
}

#[tokio::test]
async fn internal_errors_are_reachable_through_the_fault_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(dir.path());
    config.faults = Faults::parse("healthlake:5xx=1").expect("spec");
    let sandbox = Sandbox::start(config).await.expect("starts");
    let base = sdk(&sandbox).await;
    let conf = aws_sdk_healthlake::config::Builder::from(&base)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let err =
        aws_sdk_healthlake::Client::from_conf(conf).list_fhir_datastores().send().await.expect_err("500");
    assert!(err.as_service_error().is_some_and(|e| e.is_internal_server_exception()), "{err:?}");
    sandbox.stop().await;
}

#[tokio::test]
async fn validation_not_found_conflict_and_failed_dependency_reach_the_sdk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(dir.path());
    config.pacing = Pacing { datastore_creation: Duration::from_secs(600), ..Pacing::default() };
    let sandbox = Sandbox::start(config).await.expect("starts");
    let seed = sandbox.seed().clone();
    let sdk_config = sdk(&sandbox).await;
    let healthlake = aws_sdk_healthlake::Client::new(&sdk_config);

    let err = healthlake
        .list_fhir_import_jobs()
        .datastore_id(&seed.datastore_id)
        .max_results(501)
        .send()
        .await
        .expect_err("501");
    assert!(err.as_service_error().is_some_and(|e| e.is_validation_exception()), "{err:?}");

    let err = healthlake
        .describe_fhir_datastore()
        .datastore_id("0123456789abcdef0123456789abcdef")
        .send()
        .await
        .expect_err("unknown");
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");

    let creating = healthlake
        .create_fhir_datastore()
        .datastore_type_version(aws_sdk_healthlake::types::FhirVersion::R4)
        .send()
        .await
        .expect("create");
    let err = healthlake
        .delete_fhir_datastore()
        .datastore_id(creating.datastore_id())
        .send()
        .await
        .expect_err("still CREATING");
    assert!(err.as_service_error().is_some_and(|e| e.is_conflict_exception()), "{err:?}");

    let kms = aws_sdk_kms::Client::new(&sdk_config);
    let key = kms.create_key().send().await.expect("key");
    let key_id = key.key_metadata().expect("meta").key_id().to_string();
    kms.disable_key().key_id(&key_id).send().await.expect("disable");
    let disabled_output = OutputDataConfig::S3Configuration(
        S3Configuration::builder()
            .s3_uri(format!("s3://{}/out/", seed.output_bucket))
            .kms_key_id(&key_id)
            .build()
            .expect("output"),
    );
    let err = healthlake
        .start_fhir_import_job()
        .datastore_id(&seed.datastore_id)
        .data_access_role_arn(&seed.role_arn)
        .input_data_config(InputDataConfig::S3Uri(format!("s3://{}/in/", seed.input_bucket)))
        .job_output_data_config(disabled_output)
        .send()
        .await
        .expect_err("disabled key");
    assert!(err.as_service_error().is_some_and(|e| e.is_failed_dependency_exception()), "{err:?}");
    sandbox.stop().await;
}
