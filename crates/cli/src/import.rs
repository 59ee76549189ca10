//! `lakedrop import`: validate, upload, start the job, and optionally wait for it and print the manifest.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lakedrop_aws::import::{ImportRequest, run as run_import};
use lakedrop_aws::jobs;
use lakedrop_core::CancellationToken;
use lakedrop_core::progress::ImportProgress;
use lakedrop_core::state::State;
use lakedrop_validate::Level;

use crate::connection::ConnectArgs;
use crate::output::{Format, print_document, thousands};
use crate::schema::{ImportOutput, JobOutcome};
use crate::validate::parse_level;
use lakedrop_aws::Session;
use lakedrop_core::destination::Destination;

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders to import.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    destination: Destination,
    #[arg(long, default_value = "structure-only", value_parser = parse_level)]
    validation_level: Level,
    #[arg(long)]
    job_name: Option<String>,
    /// Wait for the job to end and print its manifest.
    #[arg(long)]
    wait: bool,
    /// Import the files again even if they were already imported to this data store (by default the job that
    /// imported them is found and followed, so a rerun never starts a second one).
    #[arg(long)]
    again: bool,
    /// Import each Bundle as one Bundle resource instead of as its entries (Bundles are unbundled by default:
    /// HealthLake stores a Bundle on a line as one Bundle resource, which is rarely what is wanted).
    #[arg(long)]
    keep_bundles: bool,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let session = crate::connection::open(&args.connect).await?;
    let result = import(&args, &session).await;
    session.close().await;
    result
}

async fn import(args: &Args, session: &Session) -> anyhow::Result<ExitCode> {
    let clients = &session.clients;
    let destination = session.resolve(&args.destination).await?;
    let data_dir = lakedrop_core::data_dir();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let state = State::open(&data_dir.join("state.db"))?;
    let text = args.output == Format::Text;
    let progress = move |event: ImportProgress| {
        if !text {
            return;
        }
        match event {
            // The first event, before any file is read, has no total yet; the ones that follow say how far.
            ImportProgress::Validating { .. } => {}
            ImportProgress::Uploading { file, bytes_done, bytes_total, .. } if bytes_done < bytes_total => {
                eprintln!(
                    "checking and uploading {file} ({} of {} bytes done)",
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
        keep_bundles: args.keep_bundles,
        checked: Default::default(),
        paths: args.paths.clone(),
        job_name: args.job_name.clone(),
        level: args.validation_level,
        again: args.again,
    };
    let started = run_import(clients, &destination, &state, request, &progress, &cancel, now_unix()).await?;
    if text {
        for skipped in &started.files_skipped {
            eprintln!("skipped {}", skipped.describe());
        }
        if started.already_started {
            eprintln!(
                "these files were already imported to data store {} by job {}: following it (pass --again to import them again)",
                started.datastore_id, started.job_id
            );
        }
    }
    if !args.wait {
        if text {
            println!("job {} started on data store {}", started.job_id, started.datastore_id);
        } else {
            print_document(
                "import",
                &ImportOutput { import: &started, job: None, manifest: None, jobs: Vec::new() },
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut on_update = |job: &lakedrop_core::job::Job| {
        if text {
            eprintln!("job {}: {}", job.job_id, job.status);
        }
    };
    // An import of more than 10,000 files is several jobs, run one after the other: each is waited for in turn,
    // and the counts are summed.
    let job_ids: Vec<String> = if started.jobs.is_empty() {
        vec![started.job_id.clone()]
    } else {
        started.jobs.iter().map(|j| j.job_id.clone()).collect()
    };
    let mut results = Vec::with_capacity(job_ids.len());
    for job_id in &job_ids {
        let job = jobs::wait(
            clients,
            &started.datastore_id,
            job_id,
            Duration::from_millis(500),
            &mut on_update,
            &cancel,
        )
        .await?;
        results.push(jobs::result(clients, &started.datastore_id, &job.job_id).await?);
    }
    let combined = lakedrop_core::job::combined_manifest(&results);
    let all_completed = results.iter().all(|r| r.job.status == "COMPLETED");
    let code = if all_completed { ExitCode::SUCCESS } else { ExitCode::from(1) };
    if text {
        for result in &results {
            println!("job {} {}", result.job.job_id, result.job.status);
            if let Some(message) = &result.job.message {
                println!("  {message}");
            }
            if let Some(advice) = &result.job.advice {
                println!("  what to do: {advice}");
            }
        }
        if let Some(m) = &combined {
            if results.len() > 1 {
                println!("all {} jobs together:", results.len());
            }
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
        let last = results.last().map(|r| &r.job);
        let output = ImportOutput {
            import: &started,
            job: last,
            manifest: combined.as_ref(),
            jobs: results.iter().map(|r| JobOutcome { job: &r.job, manifest: r.manifest.as_ref() }).collect(),
        };
        print_document("import", &output)?;
    }
    Ok(code)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
