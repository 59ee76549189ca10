//! Where a command talks to: an AWS profile, an AWS-compatible endpoint, or the embedded sandbox, and the
//! destination resolved there. Shared by every command that calls AWS.

use anyhow::Context;
use lakedrop_aws::{Clients, Session, Target, connect};
use lakedrop_core::destination::ConnectionKind;
use lakedrop_sandbox::{Sandbox, SandboxConfig};

/// Where to connect. Without a flag, AWS as the AWS CLI would connect: `AWS_PROFILE` or the environment's keys
/// or the `default` profile, with `AWS_REGION`/`AWS_DEFAULT_REGION` and `AWS_ENDPOINT_URL(_<SERVICE>)` honoured
/// (what `lakedrop sandbox serve` prints is exactly such an environment).
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    /// An AWS-compatible endpoint for every service, with keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
    /// (a profile's `endpoint_url`, or AWS_ENDPOINT_URL, does the same through the AWS configuration).
    #[arg(long, conflicts_with_all = ["profile", "sandbox"])]
    pub endpoint: Option<String>,
    /// Use the embedded sandbox in Lakedrop's data directory (started for this command).
    #[arg(long)]
    pub sandbox: bool,
    /// The AWS profile in ~/.aws/config (keys, IAM Identity Center, roles with source_profile, external_id and
    /// mfa_serial, credential_process); it wins over keys in the environment.
    #[arg(long)]
    pub profile: Option<String>,
    /// The Region; otherwise AWS_REGION, AWS_DEFAULT_REGION, then the profile's.
    #[arg(long)]
    pub region: Option<String>,
    /// The six-digit code of the MFA device a profile's role asks for (mfa_serial); asked for on the terminal
    /// when it is not given.
    #[arg(long, env = "LAKEDROP_MFA_CODE")]
    pub mfa_code: Option<String>,
}

/// Opens the connection the flags name; close it with [`Session::close`] so an embedded sandbox stops cleanly.
pub async fn open(args: &ConnectArgs) -> anyhow::Result<Session> {
    if args.sandbox {
        let sandbox = Sandbox::start(SandboxConfig::new(crate::sandbox::default_sandbox_dir())).await?;
        let seed = sandbox.seed().clone();
        let target = Target::Endpoint {
            url: sandbox.endpoint().to_string(),
            region: seed.region.clone(),
            access_key_id: seed.access_key_id.clone(),
            secret_access_key: seed.secret_access_key.clone(),
        };
        let clients = connect(&target).await?;
        return Ok(Session::new(clients, ConnectionKind::Sandbox, "Sandbox").on_close(move || sandbox.stop()));
    }
    if let Some(url) = &args.endpoint {
        let region = args.region.clone().or_else(|| std::env::var("AWS_REGION").ok());
        let access_key_id = std::env::var("AWS_ACCESS_KEY_ID").context(
            "set AWS_ACCESS_KEY_ID (and AWS_SECRET_ACCESS_KEY) for the endpoint; `lakedrop sandbox serve` prints them",
        )?;
        let secret_access_key =
            std::env::var("AWS_SECRET_ACCESS_KEY").context("set AWS_SECRET_ACCESS_KEY")?;
        let target = Target::Endpoint {
            url: url.clone(),
            region: region.unwrap_or_else(|| "us-east-1".into()),
            access_key_id,
            secret_access_key,
        };
        return Ok(Session::new(connect(&target).await?, ConnectionKind::Sandbox, url.clone()));
    }
    let clients = connect_asking_for_mfa(args).await?;
    // A custom endpoint without a profile named is a sandbox (or another stand-in) configured through the
    // environment, as `lakedrop sandbox serve` prints it.
    let kind = match (&clients.endpoint, &args.profile) {
        (Some(_), None) => ConnectionKind::Sandbox,
        _ => ConnectionKind::Aws,
    };
    let label = match (&clients.profile, &clients.endpoint) {
        (Some(profile), _) => profile.clone(),
        (None, Some(url)) => url.clone(),
        (None, None) => "the environment's credentials".into(),
    };
    Ok(Session::new(clients, kind, label))
}

/// Connects to AWS; when the profile's role asks for an MFA code that was not given, asks for it on the
/// terminal (never echoing anything but the prompt) and connects again.
async fn connect_asking_for_mfa(args: &ConnectArgs) -> Result<Clients, lakedrop_aws::AwsError> {
    let target = |mfa_code: Option<String>| Target::Aws {
        profile: args.profile.clone(),
        region: args.region.clone(),
        mfa_code,
    };
    match connect(&target(args.mfa_code.clone())).await {
        Err(lakedrop_aws::AwsError::MfaRequired { profile, serial })
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) =>
        {
            eprint!("MFA code for {serial} (profile {profile}): ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| lakedrop_aws::AwsError::Input(e.to_string()))?;
            connect(&target(Some(line.trim().to_string()))).await
        }
        other => other,
    }
}
