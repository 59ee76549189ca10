//! The fault mode as SDK clients meet it: each fault in the service's own protocol, and retries that get
//! through a noisy sandbox with every byte intact.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use lakedrop_sandbox::{Faults, Sandbox, SandboxConfig};

mod support;

async fn sandbox(spec: &str) -> (Sandbox, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(dir.path());
    config.faults = Faults::parse(spec).expect("spec");
    (Sandbox::start(config).await.expect("starts"), dir)
}

async fn sdk(sandbox: &Sandbox, attempts: u32) -> aws_config::SdkConfig {
    support::sdk(sandbox, Some(attempts)).await
}

fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    support::s3(config)
}

#[tokio::test]
async fn s3_server_errors_are_s3_internal_errors() {
    let (sandbox, _dir) = sandbox("s3:5xx=1").await;
    let err = s3(&sdk(&sandbox, 2).await).list_buckets().send().await.expect_err("always fails");
    assert_eq!(err.code(), Some("InternalError"));
    sandbox.stop().await;
}

#[tokio::test]
async fn throttling_speaks_each_protocol() {
    let (sandbox, _dir) = sandbox("slowdown=1").await;
    let config = sdk(&sandbox, 1).await;
    let err = s3(&config).list_buckets().send().await.expect_err("throttled");
    assert_eq!(err.code(), Some("SlowDown"));
    let err = aws_sdk_kms::Client::new(&config).list_keys().send().await.expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"));
    let err =
        aws_sdk_healthlake::Client::new(&config).list_fhir_datastores().send().await.expect_err("throttled");
    assert!(err.as_service_error().is_some_and(|e| e.is_throttling_exception()), "{err:?}");
    sandbox.stop().await;
}

#[tokio::test]
async fn a_reset_drops_the_connection_and_other_services_are_untouched() {
    let (sandbox, _dir) = sandbox("s3:reset=1").await;
    let config = sdk(&sandbox, 1).await;
    let err = s3(&config).list_buckets().send().await.expect_err("reset");
    assert!(matches!(err, aws_sdk_s3::error::SdkError::DispatchFailure(_)), "{err:?}");
    let keys = aws_sdk_kms::Client::new(&config).list_keys().send().await.expect("KMS is not faulted");
    assert_eq!(keys.keys().len(), 1, "the seeded key");
    sandbox.stop().await;
}

#[tokio::test]
async fn retries_get_every_byte_through_a_noisy_sandbox() {
    let (sandbox, _dir) = sandbox("s3:5xx=0.1,s3:reset=0.05,slowdown=0.05,seed=42").await;
    let client = s3(&sdk(&sandbox, 10).await);
    let bucket = &sandbox.seed().input_bucket;
    for i in 0..20u32 {
        let body: Vec<u8> = (0..64 * 1024).map(|j| ((i * 31 + j) % 251) as u8).collect();
        let key = format!("noisy/{i}.bin");
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
        let got = client.get_object().bucket(bucket).key(&key).send().await.expect("get");
        let bytes = got.body.collect().await.expect("body").into_bytes();
        assert_eq!(bytes.as_ref(), body.as_slice(), "object {i} intact");
    }
    sandbox.stop().await;
}
