//! `lakedrop clean-uploads`: multipart uploads Lakedrop started and abandoned cost storage until aborted. This
//! aborts them (their file changed or is gone, or they are older than `--older-than-days`), keeps interrupted
//! uploads of unchanged files for their rerun, and lists uploads Lakedrop did not start without touching them.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lakedrop_aws::transfer::{Orphan, clean_orphans};
use lakedrop_core::state::State;

use crate::connection::ConnectArgs;
use crate::output::{Format, print_document};
use crate::schema::{BucketCleanup, CleanUploadsOutput, CommandError, MultipartUpload};

#[derive(clap::Args)]
pub struct Args {
    /// Buckets to look in (repeatable); by default every bucket holding an upload Lakedrop has not finished.
    #[arg(long = "bucket")]
    buckets: Vec<String>,
    /// Only uploads under this key prefix.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Abort Lakedrop's interrupted uploads older than this even when their file is unchanged.
    #[arg(long, default_value_t = 7)]
    older_than_days: u64,
    #[command(flatten)]
    connect: ConnectArgs,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data_dir = lakedrop_core::data_dir();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let state = State::open(&data_dir.join("state.db"))?;
    let buckets = if args.buckets.is_empty() { state.pending_buckets()? } else { args.buckets.clone() };
    if buckets.is_empty() {
        if args.output == Format::Json {
            print_document("clean-uploads", &CleanUploadsOutput { buckets: &[], error: None })?;
        } else {
            println!(
                "no unfinished uploads are known here; name a bucket with --bucket to list the ones in it"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let session = crate::connection::open(&args.connect).await?;
    let max_age = Duration::from_secs(args.older_than_days * 86_400);
    let mut report = Vec::new();
    let mut failed = None;
    for bucket in &buckets {
        match clean_orphans(&session.clients.s3, &state, bucket, &args.prefix, max_age).await {
            Ok(found) => {
                if args.output == Format::Text {
                    let line = |what: &str, list: &[Orphan]| {
                        for o in list {
                            println!("{what} s3://{bucket}/{} (upload {})", o.key, o.upload_id);
                        }
                    };
                    line("aborted", &found.aborted);
                    line("kept (run the same upload again to resume it)", &found.resumable);
                    line("not Lakedrop's, left alone:", &found.others);
                    println!(
                        "s3://{bucket}/{}: {} aborted, {} kept to resume, {} not Lakedrop's",
                        args.prefix,
                        found.aborted.len(),
                        found.resumable.len(),
                        found.others.len()
                    );
                }
                let uploads = |list: &[Orphan]| list.iter().map(MultipartUpload::from).collect();
                report.push(BucketCleanup {
                    bucket: bucket.clone(),
                    prefix: args.prefix.clone(),
                    aborted: uploads(&found.aborted),
                    resumable: uploads(&found.resumable),
                    others: uploads(&found.others),
                });
            }
            Err(e) => {
                failed = Some(CommandError::new(&format!("s3://{bucket}"), &e));
                break;
            }
        }
    }
    session.close().await;
    if args.output == Format::Json {
        print_document("clean-uploads", &CleanUploadsOutput { buckets: &report, error: failed.as_ref() })?;
    }
    match failed {
        Some(e) => {
            if args.output == Format::Text {
                eprintln!("error: {}", e.message);
            }
            Ok(ExitCode::from(2))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
