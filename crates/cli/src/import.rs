//! `lakedrop import`: validate, upload, start the job, and optionally wait for it and print the manifest.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lakedrop_aws::destination::{Choices, resolve};
use lakedrop_aws::import::{ImportRequest, run as run_import};
use lakedrop_aws::{Target, connect, jobs};
use lakedrop_core::CancellationToken;
use lakedrop_core::connection::ConnectionKind;
use lakedrop_core::progress::ImportProgress;
use lakedrop_core::state::State;
use lakedrop_sandbox::{Sandbox, SandboxConfig};
use lakedrop_validate::Level;
use serde_json::json;

use crate::output::{Format, print_json, thousands};
use crate::validate::parse_level;

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders to import.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// An AWS-compatible endpoint (e.g. a `lakedrop sandbox serve`); credentials from AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "AWS_ENDPOINT_URL", conflicts_with_all = ["profile", "sandbox"])]
    endpoint: Option<String>,
    /// Use the embedded sandbox in Lakedrop's data directory (started for this command).
    #[arg(long)]
    sandbox: bool,
    /// The AWS profile (SSO and credential_process profiles work).
    #[arg(long)]
    profile: Option<String>,
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
    /// The HealthLake data store id (default: the only ACTIVE one).
    #[arg(long)]
    datastore: Option<String>,
    /// The IAM role HealthLake assumes to read the input and write the output.
    #[arg(long)]
    role: Option<String>,
    /// The KMS key for uploads and job output (id, ARN or alias/...).
    #[arg(long)]
    kms_key: Option<String>,
    /// The bucket the files are uploaded to (each import gets its own prefix).
    #[arg(long)]
    input_bucket: Option<String>,
    /// Where HealthLake writes its output, s3://bucket/prefix/.
    #[arg(long)]
    output_uri: Option<String>,
    #[arg(long, default_value = "structure-only", value_parser = parse_level)]
    validation_level: Level,
    #[arg(long)]
    job_name: Option<String>,
    /// Wait for the job to end and print its manifest.
    #[arg(long)]
    wait: bool,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut embedded = None;
    let (target, kind, label, endpoint) = if args.sandbox {
        let sandbox = Sandbox::start(SandboxConfig::new(crate::sandbox::default_sandbox_dir())).await?;
        let seed = sandbox.seed().clone();
        let target = Target::Endpoint {
            url: sandbox.endpoint().to_string(),
            region: seed.region.clone(),
            access_key_id: seed.access_key_id.clone(),
            secret_access_key: seed.secret_access_key.clone(),
        };
        let endpoint = sandbox.endpoint().to_string();
        embedded = Some(sandbox);
        (target, ConnectionKind::Sandbox, "Sandbox".to_string(), Some(endpoint))
    } else if let Some(url) = &args.endpoint {
        let access_key_id = std::env::var("AWS_ACCESS_KEY_ID")
            .context("set AWS_ACCESS_KEY_ID (and AWS_SECRET_ACCESS_KEY) for the endpoint; `lakedrop sandbox serve` prints them")?;
        let secret_access_key =
            std::env::var("AWS_SECRET_ACCESS_KEY").context("set AWS_SECRET_ACCESS_KEY")?;
        let target = Target::Endpoint {
            url: url.clone(),
            region: args.region.clone().unwrap_or_else(|| "us-east-1".into()),
            access_key_id,
            secret_access_key,
        };
        (target, ConnectionKind::Sandbox, url.clone(), Some(url.clone()))
    } else {
        let label = args.profile.clone().unwrap_or_else(|| "default".into());
        (
            Target::Aws { profile: args.profile.clone(), region: args.region.clone() },
            ConnectionKind::Aws,
            label,
            None,
        )
    };

    let result = import(&args, &target, kind, &label, endpoint.as_deref()).await;
    if let Some(sandbox) = embedded {
        sandbox.stop().await;
    }
    result
}

async fn import(
    args: &Args,
    target: &Target,
    kind: ConnectionKind,
    label: &str,
    endpoint: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let clients = connect(target).await?;
    let choices = Choices {
        datastore_id: args.datastore.clone(),
        kms_key: args.kms_key.clone(),
        input_bucket: args.input_bucket.clone(),
        output_uri: args.output_uri.clone(),
        role_arn: args.role.clone(),
    };
    let destination = resolve(&clients, choices, kind, label, endpoint).await?;
    let data_dir = lakedrop_core::data_dir();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let state = State::open(&data_dir.join("state.db"))?;
    let text = args.output == Format::Text;
    let progress = move |event: ImportProgress| {
        if !text {
            return;
        }
        match event {
            ImportProgress::Validating => eprintln!("validating…"),
            ImportProgress::Uploading { file, bytes_done, bytes_total } if bytes_done < bytes_total => {
                eprintln!(
                    "uploading {file} ({} of {} bytes done)",
                    thousands(bytes_done),
                    thousands(bytes_total)
                );
            }
            ImportProgress::Uploading { .. } => {}
            ImportProgress::Submitting => eprintln!("starting the import job…"),
            ImportProgress::Submitted { job_id } => eprintln!("job {job_id} submitted"),
        }
    };
    let cancel = CancellationToken::new();
    let request = ImportRequest {
        paths: args.paths.clone(),
        job_name: args.job_name.clone(),
        level: args.validation_level,
    };
    let started = run_import(&clients, &destination, &state, request, &progress, &cancel, now_unix()).await?;
    if text {
        for skipped in &started.files_skipped {
            eprintln!("skipped {}", skipped.describe());
        }
    }
    if !args.wait {
        if text {
            println!("job {} started on data store {}", started.job_id, started.datastore_id);
        } else {
            print_json(&json!({"import": started}))?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut on_update = |job: &lakedrop_core::job::Job| {
        if text {
            eprintln!("job {}: {}", job.job_id, job.status);
        }
    };
    let job = jobs::wait(
        &clients,
        &started.datastore_id,
        &started.job_id,
        Duration::from_millis(500),
        &mut on_update,
        &cancel,
    )
    .await?;
    let result = jobs::result(&clients, &started.datastore_id, &job.job_id).await?;
    let code = if result.job.status == "COMPLETED" { ExitCode::SUCCESS } else { ExitCode::from(1) };
    if text {
        println!("job {} {}", result.job.job_id, result.job.status);
        if let Some(message) = &result.job.message {
            println!("  {message}");
        }
        if let Some(m) = &result.manifest {
            println!("  files scanned            {}", thousands(m.scanned_files));
            println!("  resources scanned        {}", thousands(m.resources_scanned));
            println!("  resources imported       {}", thousands(m.resources_imported));
            println!("  customer errors          {}", thousands(m.resources_with_customer_error));
            println!("  server errors            {}", thousands(m.resources_with_server_error));
        }
        for skipped in &started.files_skipped {
            println!("  skipped {}", skipped.describe());
        }
    } else {
        print_json(&json!({"import": started, "job": result.job, "manifest": result.manifest}))?;
    }
    Ok(code)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
