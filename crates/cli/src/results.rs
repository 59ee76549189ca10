//! `lakedrop results` and `lakedrop retry`: what a job rejected, why, beside the original lines; and importing
//! only those lines again.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lakedrop_aws::jobs;
use lakedrop_aws::results::{failures, join, original_lines, retry};
use lakedrop_core::CancellationToken;
use lakedrop_core::results::Cause;
use lakedrop_core::state::State;
use lakedrop_validate::Level;
use serde_json::json;

use crate::connection::ConnectArgs;
use crate::output::{Format, print_document, thousands};
use crate::schema::{Exported, ResultsOutput, RetryOutput};
use crate::validate::parse_level;
use lakedrop_core::destination::Destination;

#[derive(clap::Args)]
pub struct Args {
    job: String,
    #[command(flatten)]
    connect: ConnectArgs,
    /// The data store (default: the only ACTIVE one).
    #[arg(long)]
    datastore: Option<String>,
    /// List every failure, not only the groups.
    #[arg(long)]
    failures: bool,
    /// Show each failure's original line (from the local file, or from S3 when it is gone).
    #[arg(long)]
    join: bool,
    /// Write the failed original lines to this NDJSON file (all causes, or --cause's).
    #[arg(long)]
    export: Option<PathBuf>,
    /// Only this cause (e.g. missing-id, invalid-json, unknown-property).
    #[arg(long, value_parser = parse_cause)]
    cause: Option<Cause>,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

fn parse_cause(s: &str) -> Result<Cause, String> {
    serde_json::from_value(json!(s))
        .map_err(|_| format!("'{s}' is not a cause; see `lakedrop results JOB` for the causes"))
}

pub async fn run_results(args: Args) -> anyhow::Result<ExitCode> {
    let session = crate::connection::open(&args.connect).await?;
    let result = async {
        let datastore = session.datastore_id(args.datastore.as_deref()).await?;
        let mut found = failures(&session.clients, &datastore, &args.job).await?;
        found.failures.retain(|f| args.cause.is_none_or(|c| f.cause == c));
        let state = State::open(&lakedrop_core::data_dir().join("state.db"))?;
        let joined = if args.join {
            Some(join(&session.clients, &state, &datastore, &args.job, found.failures.clone()).await?)
        } else {
            None
        };
        let mut exported = None;
        if let Some(path) = &args.export {
            // Byte for byte, readable by the owner only, whole or not at all.
            let lines =
                original_lines(&session.clients, &state, &datastore, &args.job, &found.failures).await?;
            lakedrop_core::files::write_private(path, |w| {
                for line in &lines {
                    w.write_all(line)?;
                    w.write_all(b"\n")?;
                }
                Ok(())
            })
            .with_context(|| {
                format!(
                    "could not save the failed lines to {}; choose a folder you can write to",
                    path.display()
                )
            })?;
            eprintln!("wrote {} failed lines to {}", lines.len(), path.display());
            exported = Some(Exported { path: path.display().to_string(), lines: lines.len() as u64 });
        }
        match args.output {
            Format::Json => {
                let (rows, sources) = joined.as_ref().map_or((None, None), |(r, s)| (Some(r), Some(s)));
                let output = ResultsOutput {
                    job_id: &args.job,
                    datastore_id: &datastore,
                    groups: &found.groups,
                    unreadable: &found.unreadable,
                    failures: (args.failures || rows.is_some()).then_some(found.failures.as_slice()),
                    joined: rows.map(Vec::as_slice),
                    sources: sources.map(Vec::as_slice),
                    exported,
                };
                print_document("results", &output)?;
            }
            Format::Text => {
                if found.groups.is_empty() {
                    println!("no failures");
                }
                for g in &found.groups {
                    println!(
                        "{:>8}  {:<22} {:<20} {}",
                        thousands(g.count),
                        g.cause.as_str(),
                        g.resource_type,
                        g.file
                    );
                    println!("          {}", g.cause.explanation());
                    println!("          fix: {}", g.cause.fix());
                }
                if found.unreadable.lines > 0 {
                    println!(
                        "{} FAILURE lines could not be read: {}",
                        found.unreadable.lines,
                        found.unreadable.examples.join("; ")
                    );
                }
                if let Some((rows, sources)) = &joined {
                    for s in sources {
                        let base = s.decision.as_ref().map_or("-".to_string(), |d| {
                            format!(
                                "{:?} ({} of {} compared lines match)",
                                d.base,
                                d.one_based_matches.max(d.zero_based_matches),
                                d.compared
                            )
                        });
                        println!("{}: lines from {}, lineId read as {base}", s.file, s.origin);
                    }
                    if args.failures {
                        for r in rows {
                            let mark = if r.mismatch { " (does not match the source line)" } else { "" };
                            println!(
                                "{}:{}: {}{mark}",
                                r.failure.file,
                                r.failure.line_id,
                                r.failure.diagnostics.join("; ")
                            );
                        }
                    }
                } else if args.failures {
                    for f in &found.failures {
                        println!("{}:{}: {}", f.file, f.line_id, f.diagnostics.join("; "));
                    }
                }
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    }
    .await;
    session.close().await;
    result
}

#[derive(clap::Args)]
pub struct RetryArgs {
    job: String,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    destination: Destination,
    /// Only this cause's lines.
    #[arg(long, value_parser = parse_cause)]
    cause: Option<Cause>,
    /// strict, structure-only or minimal [default: the level the first job ran at]
    #[arg(long, value_parser = parse_level)]
    validation_level: Option<Level>,
    /// Repair the failed lines with this plan (see `lakedrop fix`) and import only those it repaired into lines
    /// HealthLake accepts; the others are held back and listed.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// With --plan: write the change record (every changed element, before and after) to this file, readable
    /// by you alone.
    #[arg(long, requires = "plan")]
    changes: Option<PathBuf>,
    /// Wait for the new job and print how it ended.
    #[arg(long)]
    wait: bool,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run_retry(args: RetryArgs) -> anyhow::Result<ExitCode> {
    let plan = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the repair plan {}", path.display()))?;
            Some(
                lakedrop_core::repair::RepairPlan::parse(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let lines = lakedrop_aws::results::RetryLines { cause: args.cause, plan, ..Default::default() };
    let session = crate::connection::open(&args.connect).await?;
    let result = async {
        let destination = session.resolve(&args.destination).await?;
        let state = State::open(&lakedrop_core::data_dir().join("state.db"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let started = retry(
            &session.clients,
            &state,
            &destination,
            std::slice::from_ref(&args.job),
            &lines,
            args.validation_level,
            now,
        )
        .await?;
        if let Some(path) = &args.changes {
            lakedrop_core::files::write_private(path, |w| {
                for change in &started.changes {
                    serde_json::to_writer(&mut *w, change)?;
                    w.write_all(b"\n")?;
                }
                Ok(())
            })?;
        }
        let mut end = None;
        if args.wait {
            let mut quiet = |_: &lakedrop_core::job::Job| {};
            jobs::wait(
                &session.clients,
                &destination.datastore_id,
                &started.job_id,
                Duration::from_millis(500),
                &mut quiet,
                &CancellationToken::new(),
            )
            .await?;
            end = Some(jobs::result(&session.clients, &destination.datastore_id, &started.job_id).await?);
        }
        match args.output {
            Format::Json => {
                let output = RetryOutput {
                    retry_of: &args.job,
                    retry: &started,
                    job: end.as_ref().map(|end| &end.job),
                    manifest: end.as_ref().and_then(|end| end.manifest.as_ref()),
                };
                print_document("retry", &output)?;
            }
            Format::Text => {
                println!(
                    "job {} retries {} lines of {} ({} not found)",
                    started.job_id, started.lines, args.job, started.missing
                );
                if args.plan.is_some() {
                    println!(
                        "  {} repaired by the plan; {} held back",
                        thousands(started.repaired),
                        thousands(started.held_back)
                    );
                    for held in &started.held_back_lines {
                        println!("  held back: {} line {}: {}", held.file, held.line_id, held.reason);
                    }
                }
                if let Some(end) = &end {
                    println!("job {} {}", end.job.job_id, end.job.status);
                    if let Some(m) = &end.manifest {
                        println!(
                            "  imported {} of {}",
                            thousands(m.resources_imported),
                            thousands(m.resources_scanned)
                        );
                    }
                }
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    }
    .await;
    session.close().await;
    result
}
