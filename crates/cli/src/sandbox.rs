//! `lakedrop sandbox serve`: the sandbox as a server the AWS CLI, boto3 and the SDKs can use.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use lakedrop_sandbox::{Faults, Sandbox, SandboxConfig};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Serve S3, KMS and HealthLake on one loopback endpoint until interrupted.
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
    },
}

pub fn default_sandbox_dir() -> PathBuf {
    lakedrop_core::data_dir().join("sandbox")
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { port, data, bind, faults, quirks } => {
            let mut config = SandboxConfig::new(data.unwrap_or_else(default_sandbox_dir));
            for quirk in &quirks {
                config.quirks.enable(quirk).map_err(anyhow::Error::msg)?;
            }
            config.listen = SocketAddr::new(bind, port);
            if let Some(faults) = faults {
                eprintln!("fault injection is on: some requests will fail on purpose");
                config.faults = faults;
            }
            let sandbox = Sandbox::start(config).await?;
            let seed = sandbox.seed();
            println!("Lakedrop sandbox listening on {}", sandbox.endpoint());
            println!();
            println!("export AWS_ENDPOINT_URL={}", sandbox.endpoint());
            println!("export AWS_ACCESS_KEY_ID={}", seed.access_key_id);
            println!("export AWS_SECRET_ACCESS_KEY={}", seed.secret_access_key);
            println!("export AWS_REGION={}", seed.region);
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
