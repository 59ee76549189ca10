//! `lakedrop preflight` and `lakedrop policy`: check the AWS setup for an import, and print the IAM policies it
//! needs.

use std::process::ExitCode;

use lakedrop_aws::preflight::{self, Plan, PolicySource, Status};
use lakedrop_core::policy::{
    PolicyTarget, pass_role_policy, permissions_policy, read_back_policy, trust_policy,
};

use crate::connection::ConnectArgs;
use crate::output::{Format, print_document};
use crate::schema::{PolicyOutput, PreflightOutput};
use lakedrop_core::destination::Destination;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    destination: Destination,
    /// How many files the import will have (HealthLake takes at most 10,000 per job).
    #[arg(long, default_value_t = 1)]
    files: usize,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

/// Exit 0 when nothing fails (warnings allowed), 1 when a check fails.
pub async fn run_preflight(args: Args) -> anyhow::Result<ExitCode> {
    let session = crate::connection::open(&args.connect).await?;
    let result = async {
        let destination = session.resolve(&args.destination).await?;
        let plan = Plan {
            datastore_id: destination.datastore_id.clone(),
            output_uri: destination.output_uri.clone(),
            kms_key_id: destination.kms_key_id.clone(),
            role_arn: destination.role_arn.clone(),
            input_uri: None,
            batch_keys: Vec::new(),
            file_count: args.files,
            policies: PolicySource::Cli,
        };
        let checks = preflight::run(&session.clients, &plan).await;
        match args.output {
            Format::Json => {
                let output = PreflightOutput {
                    datastore_id: &destination.datastore_id,
                    checks: &checks,
                    blocked: preflight::blocks(&checks),
                };
                print_document("preflight", &output)?;
            }
            Format::Text => {
                for check in &checks {
                    let mark = match check.status {
                        Status::Pass => "ok  ",
                        Status::Warn => "warn",
                        Status::Fail => "FAIL",
                    };
                    println!("{mark}  {:<28} {}", check.id, check.detail);
                    if let (Some(fix), false) = (&check.fix, check.status == Status::Pass) {
                        println!("      {:<28} → {fix}", "");
                    }
                }
            }
        }
        anyhow::Ok(if preflight::blocks(&checks) { ExitCode::from(1) } else { ExitCode::SUCCESS })
    }
    .await;
    session.close().await;
    result
}

#[derive(clap::Args)]
pub struct PolicyArgs {
    /// The 12-digit account of the data store.
    #[arg(long)]
    account: String,
    #[arg(long)]
    region: String,
    #[arg(long)]
    datastore: String,
    #[arg(long)]
    input_bucket: String,
    #[arg(long)]
    output_bucket: String,
    /// The KMS key's ARN.
    #[arg(long)]
    kms_key: String,
    /// The role's ARN, for the caller's iam:PassRole policy.
    #[arg(long)]
    role: Option<String>,
    #[arg(long, default_value = "aws")]
    partition: String,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

/// Prints the role's trust and permissions policies (and the caller's PassRole policy): each under a heading,
/// ready to paste into the IAM console, or as one document.
pub fn run_policy(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    let target = PolicyTarget {
        partition: args.partition,
        account_id: args.account,
        region: args.region,
        datastore_id: args.datastore,
        input_bucket: args.input_bucket,
        output_bucket: args.output_bucket,
        kms_key_arn: args.kms_key,
    };
    let output = PolicyOutput {
        trust_policy: trust_policy(&target),
        permissions_policy: permissions_policy(&target),
        caller_pass_role_policy: args.role.as_deref().map(pass_role_policy),
        caller_read_back_policy: read_back_policy(&target),
    };
    match args.output {
        Format::Json => print_document("policy", &output)?,
        Format::Text => {
            println!("The role's trust policy (its trust relationships):");
            println!("{}", serde_json::to_string_pretty(&output.trust_policy)?);
            println!();
            println!("The role's permissions policy:");
            println!("{}", serde_json::to_string_pretty(&output.permissions_policy)?);
            if let Some(pass_role) = &output.caller_pass_role_policy {
                println!();
                println!("The caller's policy, to pass the role to HealthLake:");
                println!("{}", serde_json::to_string_pretty(pass_role)?);
            }
            println!();
            println!("The caller's policy, to read imported resources back (verify, fhir):");
            println!("{}", serde_json::to_string_pretty(&output.caller_read_back_policy)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
