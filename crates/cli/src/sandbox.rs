//! `lakedrop sandbox serve`: the sandbox as a server the AWS CLI, boto3 and the SDKs can use.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use lakedrop_sandbox::{Faults, Sandbox, SandboxConfig};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Serve S3, KMS and HealthLake on one loopback endpoint until interrupted.
    #[command(after_long_help = supported_help())]
    Serve {
        /// The port (0 picks a free one).
        #[arg(long, default_value_t = 4599)]
        port: u16,
        /// The state directory (default: the sandbox folder in Lakedrop's data directory).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Listen on this address instead of 127.0.0.1 (the sandbox has no TLS; think twice).
        #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
        bind: IpAddr,
        /// Inject failures for testing clients, e.g. 's3:5xx=0.1,s3:reset=0.05,slowdown=0.05[,seed=N]', and
        /// holds for crash tests: 'hold-before:UploadPart=150' waits before handling each such request,
        /// 'hold-after:CompleteMultipartUpload=3000' handles it, then waits before answering.
        #[arg(long, value_parser = Faults::parse)]
        faults: Option<Faults>,
        /// Answer as another S3 implementation does, for testing clients (repeatable):
        /// 'list-parts-without-checksums' (as moto 5.2.6).
        #[arg(long = "quirk")]
        quirks: Vec<String>,
        /// The longest temporary credentials from STS and the SSO portal may live, in seconds; may be shorter
        /// than STS's 900-second minimum, for testing clients that refresh them.
        #[arg(long)]
        session_seconds: Option<u64>,
        /// Write an SSO access token (valid at the portal for 8 hours) to this file, readable only by its owner,
        /// for tests that put it in an AWS SSO token cache instead of signing in.
        #[arg(long)]
        sso_token_file: Option<PathBuf>,
    },
}

/// The operations `serve` answers, for `--help`: the same constants the sandbox dispatches on.
fn supported_help() -> String {
    let mut help =
        String::from("Supported operations (any other is refused with an error naming the sandbox):\n");
    for (service, operations) in lakedrop_sandbox::supported_operations() {
        help.push_str(&format!("\n  {service}:\n"));
        let mut line = String::from("   ");
        for op in operations {
            if line.len() + op.len() > 100 {
                help.push_str(&line);
                help.push('\n');
                line = String::from("   ");
            }
            line.push(' ');
            line.push_str(op);
        }
        help.push_str(&line);
        help.push('\n');
    }
    help.push_str("\n  IAM (CreateRole, GetRole, UpdateAssumeRolePolicy, DeleteRole), STS (AssumeRole, GetSessionToken,\n");
    help.push_str("  GetCallerIdentity), the IAM Identity Center portal and OIDC device flow, and HealthLake's FHIR REST API.\n");
    help
}

/// Writes a secret only its owner may read; an existing file is truncated and tightened first.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    options.open(path)?.write_all(text.as_bytes())
}

pub fn default_sandbox_dir() -> PathBuf {
    lakedrop_core::data_dir().join("sandbox")
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { port, data, bind, faults, quirks, session_seconds, sso_token_file } => {
            let mut config = SandboxConfig::new(data.unwrap_or_else(default_sandbox_dir));
            for quirk in &quirks {
                config.quirks.enable(quirk).map_err(anyhow::Error::msg)?;
            }
            config.listen = SocketAddr::new(bind, port);
            if !bind.is_loopback() {
                eprintln!(
                    "warning: listening on {bind}, not loopback: anyone who can reach this machine on that port can \
                     use the sandbox with the keys below, over plain HTTP (no TLS). Patient data imported here is \
                     reachable by them."
                );
            }
            if let Some(faults) = faults {
                eprintln!("fault injection is on: some requests will fail on purpose");
                config.faults = faults;
            }
            config.session_seconds = session_seconds;
            let sandbox = Sandbox::start(config).await?;
            if let Some(path) = &sso_token_file {
                let token = sandbox.issue_sso_token(std::time::Duration::from_secs(8 * 3600));
                write_private(path, &token).with_context(|| format!("writing {}", path.display()))?;
            }
            let seed = sandbox.seed();
            println!("Lakedrop sandbox listening on {}", sandbox.endpoint());
            println!();
            println!("export AWS_ENDPOINT_URL={}", sandbox.endpoint());
            println!("export AWS_ACCESS_KEY_ID={}", seed.access_key_id);
            println!("export AWS_SECRET_ACCESS_KEY={}", seed.secret_access_key);
            println!("export AWS_REGION={}", seed.region);
            // The AWS CLI v1 and older boto3 read only AWS_DEFAULT_REGION.
            println!("export AWS_DEFAULT_REGION={}", seed.region);
            println!();
            println!("data store  {} ({})", seed.datastore_id, seed.datastore_name);
            println!("buckets     s3://{} (input), s3://{} (output)", seed.input_bucket, seed.output_bucket);
            println!("KMS key     {} ({})", seed.kms_key_arn, seed.kms_key_alias);
            println!("role        {}", seed.role_arn);
            use std::io::Write;
            std::io::stdout().flush()?;
            tokio::signal::ctrl_c().await?;
            eprintln!("stopping");
            sandbox.stop().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}
