//! Building the SDK clients for a connection: AWS as the person configured it (named profiles, IAM Identity
//! Center, role chains with external ids and MFA, credential processes, endpoints, proxies and CA bundles from
//! the AWS configuration files and environment, with the AWS CLI's precedence), or the sandbox's loopback
//! endpoint with its own keys. The app never stores credentials.
//!
//! Instance metadata (IMDS) is never probed on its own: on a desktop it only costs seconds of time-outs and
//! warnings. A profile that wants it says so (`credential_source = Ec2InstanceMetadata`), as on EC2.

mod mfa;
mod network;
pub mod profile;
pub mod sso;

use aws_config::BehaviorVersion;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError,
};
use aws_smithy_runtime_api::client::http::SharedHttpConnector;
use aws_types::SdkConfig;
use aws_types::service_config::ServiceConfigKey;

pub use mfa::valid_code as valid_mfa_code;
pub use network::Network;
pub use profile::ProfileFacts;

use crate::AwsError;

#[derive(Debug, Clone)]
pub enum Target {
    /// A local endpoint (the embedded sandbox) with explicit keys; never through a proxy.
    Endpoint { url: String, region: String, access_key_id: String, secret_access_key: String },
    /// AWS as configured: a named profile (else `AWS_PROFILE`, else the environment's keys and the `default`
    /// profile), an optional Region override, and the MFA code when the profile's role asks for one.
    Aws { profile: Option<String>, region: Option<String>, mfa_code: Option<String> },
}

/// The clients for one connection.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub healthlake: aws_sdk_healthlake::Client,
    /// Only read (GetRole), to check the import role's trust policy.
    pub iam: aws_sdk_iam::Client,
    /// For what the SDK has no client for (the data store's FHIR REST API): the same trust and proxy as the
    /// SDK clients' own.
    pub http: SharedHttpConnector,
    /// The credentials the SDK clients sign with, for the requests signed here.
    pub credentials: Option<SharedCredentialsProvider>,
    pub region: String,
    /// The profile in use, when the connection is to AWS through one.
    pub profile: Option<String>,
    /// The custom endpoint S3 is reached at (the sandbox's, or a profile's `endpoint_url`), if any.
    pub endpoint: Option<String>,
}

/// More attempts than the SDK's default three, with a longer ceiling: an upload of thousands of parts, or a job
/// followed for an hour, meets AWS's throttling and passing network failures. Lakedrop's own calls are all safe
/// to repeat (reads, parts, ClientToken-guarded starts; a repeated completion is recognised by its object), and
/// `retry::with_retries` adds a second layer for the ones an import cannot do without.
fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(6).with_max_backoff(std::time::Duration::from_secs(10))
}

pub async fn connect(target: &Target) -> Result<Clients, AwsError> {
    match target {
        Target::Endpoint { url, region, access_key_id, secret_access_key } => {
            let network = Network::default();
            let http = network.http_client()?;
            let sdk = aws_config::defaults(BehaviorVersion::latest())
                .http_client(http)
                .retry_config(retry_config())
                .region(aws_config::Region::new(region.clone()))
                .credentials_provider(Credentials::new(
                    access_key_id,
                    secret_access_key,
                    None,
                    None,
                    "lakedrop",
                ))
                .endpoint_url(url)
                .load()
                .await;
            Ok(clients(&sdk, region.clone(), None, network.connector()?))
        }
        Target::Aws { profile, region, mfa_code } => {
            connect_aws(profile.as_deref(), region.clone(), mfa_code.as_deref()).await
        }
    }
}

/// The Region with the AWS CLI's precedence: the override, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile.
fn region_of(facts: &ProfileFacts, given: Option<String>) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    given
        .filter(|r| !r.is_empty())
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| facts.region.clone())
}

async fn connect_aws(
    asked: Option<&str>,
    region: Option<String>,
    mfa_code: Option<&str>,
) -> Result<Clients, AwsError> {
    let facts = profile::read(asked).await?;
    let Some(region) = region_of(&facts, region) else {
        let message = if facts.exists {
            format!(
                "the profile `{}` sets no Region: add `region = us-east-1` (or yours) to it, set AWS_REGION, or choose a Region",
                facts.name
            )
        } else {
            "no AWS Region is configured: set AWS_REGION, choose a Region, or use a profile that sets one"
                .into()
        };
        return Err(AwsError::Config { message });
    };
    let region = aws_config::Region::new(region);
    let network = Network::from_env(facts.ca_bundle.as_deref());
    let http = network.http_client()?;
    let conf = ProviderConfig::default().with_http_client(http.clone()).with_region(Some(region.clone()));
    let profile_provider = || {
        let mut builder = ProfileFileCredentialsProvider::builder().configure(&conf);
        if asked.is_some() {
            builder = builder.profile_name(&facts.name);
        }
        builder.build()
    };
    let credentials = if let Some(role) = &facts.mfa {
        let Some(code) = mfa_code else {
            return Err(AwsError::MfaRequired { profile: facts.name.clone(), serial: role.serial.clone() });
        };
        let now = std::time::SystemTime::now();
        SharedCredentialsProvider::new(
            mfa::assume(&facts.name, role, code, region.clone(), http.clone(), now).await?,
        )
    } else if asked.is_some() {
        // A profile asked for by name wins over keys in the environment, as in the AWS CLI (where keys in the
        // environment win over `AWS_PROFILE`, as in the chain below).
        SharedCredentialsProvider::new(profile_provider())
    } else {
        let web_identity = aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
            .configure(&conf)
            .build();
        let container = aws_config::ecs::EcsCredentialsProvider::builder().configure(&conf).build();
        SharedCredentialsProvider::new(
            CredentialsProviderChain::first_try(
                "Environment",
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            )
            .or_else("Profile", profile_provider())
            .or_else("WebIdentityToken", web_identity)
            .or_else("EcsContainer", container),
        )
    };
    // Asked for at once, so a missing sign-in or an unassumable role is said now, naming the profile, rather
    // than as the first upload's failure.
    if let Err(e) = credentials.provide_credentials().await {
        return Err(credentials_failure(&facts, &e));
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retry_config())
        .region(region.clone())
        .credentials_provider(credentials);
    if asked.is_some() {
        // Endpoints, FIPS and dual-stack settings of the named profile (`AWS_PROFILE` the loader reads itself).
        loader = loader.profile_name(&facts.name);
    }
    let sdk = loader.load().await;
    Ok(clients(&sdk, region.to_string(), facts.exists.then(|| facts.name.clone()), network.connector()?))
}

fn clients(sdk: &SdkConfig, region: String, profile: Option<String>, http: SharedHttpConnector) -> Clients {
    let endpoint = s3_endpoint(sdk);
    // A custom endpoint (the sandbox, MinIO, a proxy's) is reached path-style, as the AWS CLI does for one.
    let s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(endpoint.is_some()).build();
    Clients {
        s3: aws_sdk_s3::Client::from_conf(s3),
        kms: aws_sdk_kms::Client::new(sdk),
        healthlake: aws_sdk_healthlake::Client::new(sdk),
        iam: aws_sdk_iam::Client::new(sdk),
        http,
        credentials: sdk.credentials_provider(),
        region,
        profile,
        endpoint,
    }
}

/// The endpoint S3 requests go to when it is not AWS's own: `AWS_ENDPOINT_URL_S3` or the profile's `services`
/// section, else `AWS_ENDPOINT_URL` or the profile's `endpoint_url`, the order the SDK itself applies.
fn s3_endpoint(sdk: &SdkConfig) -> Option<String> {
    let key =
        ServiceConfigKey::builder().service_id("S3").env("AWS_ENDPOINT_URL").profile("endpoint_url").build();
    key.ok()
        .and_then(|key| sdk.service_config().and_then(|c| c.load_config(key)))
        .or_else(|| sdk.endpoint_url().map(str::to_string))
}

/// Why the profile's credentials could not be had, in words that name the profile and what to run.
fn credentials_failure(facts: &ProfileFacts, e: &CredentialsError) -> AwsError {
    let detail = crate::error::chain_text(e);
    tracing::debug!(profile = %facts.name, detail = %detail, "credentials could not be loaded");
    let lower = detail.to_ascii_lowercase();
    let name = &facts.name;
    if facts.sso && (lower.contains("token") || lower.contains("sso") || lower.contains("unauthorized")) {
        return AwsError::SignIn {
            profile: name.clone(),
            message: format!(
                "the IAM Identity Center (SSO) sign-in of profile `{name}` has expired or was never made: run `aws sso login --profile {name}`, or sign in from Lakedrop"
            ),
        };
    }
    if let Some((words, _)) = crate::error::network_failure(&lower) {
        return AwsError::Network { operation: "getting credentials", message: words };
    }
    if lower.contains("accessdenied") || lower.contains("not authorized") {
        return AwsError::AccessDenied {
            operation: "AssumeRole",
            message: format!(
                "profile `{name}` could not assume its role ({}): the role's trust policy must allow the source identity, with the profile's external_id if the policy asks for one",
                crate::error::service_said(&detail)
            ),
        };
    }
    if lower.contains("expired") {
        return AwsError::Credentials {
            message: format!(
                "the credentials of profile `{name}` have expired: renew them (sign in again, or refresh the keys), then retry"
            ),
        };
    }
    let message = match e {
        CredentialsError::CredentialsNotLoaded(_) if facts.exists => format!(
            "the profile `{name}` gives no credentials: add keys (`aws configure --profile {name}`), a role, SSO or a credential_process to it"
        ),
        CredentialsError::CredentialsNotLoaded(_) => format!(
            "no AWS credentials were found (environment, {}): run `aws configure` or `aws configure sso`, choose a profile, or use the sandbox",
            profile::files_in_words(&aws_types::os_shim_internal::Env::real())
        ),
        _ => format!(
            "the credentials of profile `{name}` could not be loaded: {}",
            crate::error::service_said(&detail)
        ),
    };
    AwsError::Credentials { message }
}
