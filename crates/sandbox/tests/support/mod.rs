//! SDK configuration for talking to a running sandbox, shared by the tests and the benchmark.

use std::time::Duration;

use aws_sdk_s3::config::{Credentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use lakedrop_sandbox::Sandbox;

/// An SDK config for the sandbox, with its credentials; `attempts` overrides the standard retry count.
pub async fn sdk(sandbox: &Sandbox, attempts: Option<u32>) -> aws_config::SdkConfig {
    let seed = sandbox.seed();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new(seed.region.clone()))
        .endpoint_url(sandbox.endpoint())
        .credentials_provider(Credentials::new(
            &seed.access_key_id,
            &seed.secret_access_key,
            None,
            None,
            "test",
        ))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        );
    if let Some(attempts) = attempts {
        loader = loader.retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(1)),
        );
    }
    loader.load().await
}

/// An S3 client with path-style addressing, as a loopback endpoint needs.
pub fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}
