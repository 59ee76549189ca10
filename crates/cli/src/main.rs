//! `lakedrop`: the same core as the desktop app, headless, for automation and machines without a display.
//!
//! Exit codes: 0 success; 1 the data has problems (validation found lines HealthLake would reject, or a job
//! ended with errors or failed); 2 the command could not do its work (bad arguments, unreadable files, AWS
//! refused).

mod connection;
mod fhir;
mod fix;
mod import;
mod jobs;
mod output;
mod preflight;
mod results;
mod sandbox;
mod schema;
mod upload;
mod uploads;
mod validate;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lakedrop", version, about = "Validate FHIR R4 NDJSON and import it into AWS HealthLake")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check NDJSON files or folders as HealthLake would, without uploading anything.
    Validate(validate::Args),
    /// Validate, upload to a fresh S3 prefix and start a HealthLake import job.
    Import(import::Args),
    /// Import jobs of a data store.
    #[command(subcommand)]
    Jobs(jobs::Command),
    /// Check the AWS setup for an import before submitting it.
    Preflight(preflight::Args),
    /// Print the IAM policies HealthLake's import role (and its caller) need.
    Policy(preflight::PolicyArgs),
    /// What a job rejected and why, grouped by cause, beside the original lines.
    Results(results::Args),
    /// Import only the lines a job rejected (all, or one cause's) as a new job.
    Retry(results::RetryArgs),
    /// Repair NDJSON files with a repair plan: fixed files and a change record in a folder, then checked again.
    Fix(fix::Args),
    /// Read a finished job's imported resources back by sample and compare them with the lines sent.
    Verify(verify::Args),
    /// Read resources from the data store's FHIR API (`get Type/id`, `search 'Type?params'`).
    #[command(subcommand)]
    Fhir(fhir::Command),
    /// Upload files to S3 (multipart, checksummed, SSE-KMS), resuming an interrupted upload when run again.
    Upload(upload::Args),
    /// Abort the multipart uploads Lakedrop abandoned (file changed or gone, or too old); list others'.
    CleanUploads(uploads::Args),
    /// The local AWS stand-in (S3, KMS, HealthLake on one endpoint).
    #[command(subcommand)]
    Sandbox(sandbox::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Sandbox(_) => "info",
        // aws-config warns with the SDK's debug dump when a credentials provider fails; the error we print says
        // it in words, and `LAKEDROP_LOG=aws_config=warn` shows the dump.
        _ => "warn,aws_config=error",
    };
    lakedrop_core::logging::init(
        std::io::stderr,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var("LAKEDROP_LOG").ok().as_deref(),
        default_level,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Validate(args) => validate::run(args).await,
            Command::Import(args) => import::run(args).await,
            Command::Jobs(command) => jobs::run(command).await,
            Command::Preflight(args) => preflight::run_preflight(args).await,
            Command::Policy(args) => preflight::run_policy(args),
            Command::Results(args) => results::run_results(args).await,
            Command::Retry(args) => results::run_retry(args).await,
            Command::Fix(args) => fix::run(args).await,
            Command::Verify(args) => verify::run(args).await,
            Command::Fhir(command) => fhir::run(command).await,
            Command::Upload(args) => upload::run(args).await,
            Command::CleanUploads(args) => uploads::run(args).await,
            Command::Sandbox(command) => sandbox::run(command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", words(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes, each said once: an error whose text already includes its cause (`path: Permission
/// denied`) is not followed by the cause again.
fn words(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    // Regression (issue 16): "Permission denied (os error 13): Permission denied (os error 13)".
    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = lakedrop_core::files::FilesError::Io { path: "/data/x.ndjson".into(), source: io };
        let e = anyhow::Error::new(e).context("cannot check the files");
        let text = super::words(&e);
        assert_eq!(text.matches("permission denied").count(), 1, "{text}");
        assert!(text.starts_with("cannot check the files: /data/x.ndjson: "), "{text}");
    }
}
