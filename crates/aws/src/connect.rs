//! Building the three SDK clients for a destination: an AWS profile (SSO and credential_process included; the
//! app never stores credentials) or the sandbox's loopback endpoint with its own keys.

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::AwsError;

#[derive(Debug, Clone)]
pub enum Target {
    /// A local endpoint (the sandbox, or any AWS-compatible server) with explicit keys.
    Endpoint { url: String, region: String, access_key_id: String, secret_access_key: String },
    /// AWS itself, with a named profile (or the default chain) and an optional Region override.
    Aws { profile: Option<String>, region: Option<String> },
}

/// The clients for one destination.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub healthlake: aws_sdk_healthlake::Client,
    /// Only read (GetRole), to check the import role's trust policy.
    pub iam: aws_sdk_iam::Client,
    pub region: String,
}

pub async fn connect(target: &Target) -> Result<Clients, AwsError> {
    let http =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    // More attempts than the SDK's default three, with a longer ceiling: an upload of thousands of parts, or a job
    // followed for an hour, meets AWS's throttling and passing network failures. Lakedrop's own calls are all
    // safe to repeat (reads, parts, ClientToken-guarded starts; a repeated completion is recognised by its
    // object), and `retry::with_retries` adds a second layer for the ones an import cannot do without.
    let retry =
        RetryConfig::standard().with_max_attempts(6).with_max_backoff(std::time::Duration::from_secs(10));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http).retry_config(retry);
    let endpoint = match target {
        Target::Endpoint { url, region, access_key_id, secret_access_key } => {
            loader = loader
                .region(aws_config::Region::new(region.clone()))
                .credentials_provider(Credentials::new(
                    access_key_id,
                    secret_access_key,
                    None,
                    None,
                    "lakedrop",
                ))
                .endpoint_url(url);
            true
        }
        Target::Aws { profile, region } => {
            if let Some(profile) = profile {
                loader = loader.profile_name(profile);
            }
            let chain = RegionProviderChain::first_try(region.clone().map(aws_config::Region::new))
                .or_default_provider();
            loader = loader.region(chain);
            false
        }
    };
    let sdk = loader.load().await;
    let region = sdk.region().map(ToString::to_string).ok_or_else(|| AwsError::Credentials {
        message: "no AWS Region is configured; choose one in the settings or set `region` in the profile"
            .into(),
    })?;
    let s3 = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(endpoint).build();
    Ok(Clients {
        s3: aws_sdk_s3::Client::from_conf(s3),
        kms: aws_sdk_kms::Client::new(&sdk),
        healthlake: aws_sdk_healthlake::Client::new(&sdk),
        iam: aws_sdk_iam::Client::new(&sdk),
        region,
    })
}
