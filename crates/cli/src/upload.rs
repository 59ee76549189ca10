//! `lakedrop upload`: files into S3 with the transfer engine, resuming by itself when run again after an
//! interruption. A progress bar on a terminal; one line per finished file otherwise.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use lakedrop_aws::transfer::{
    Encryption, ObjectTarget, Outcome, TransferOptions, TransferProgress, upload_file,
};
use lakedrop_core::CancellationToken;
use lakedrop_core::state::State;

use crate::connection::ConnectArgs;
use crate::output::{Format, print_document};
use crate::schema::{CommandError, PartsProgress, UploadOutput, UploadProgressLine, UploadedFile};

#[derive(clap::Args)]
pub struct Args {
    /// Files to upload (each keeps its name under the prefix).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to: s3://bucket/prefix/.
    #[arg(long)]
    to: String,
    /// SSE-KMS under this key (id, ARN or alias/...); the bucket's default encryption when left out.
    #[arg(long)]
    kms_key: Option<String>,
    /// Parts sent at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Part size in MiB (at least 5; raised when a file would need more than 10,000 parts).
    #[arg(long)]
    part_size: Option<u64>,
    #[command(flatten)]
    connect: ConnectArgs,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

fn split_s3(uri: &str) -> anyhow::Result<(String, String)> {
    let rest = uri.strip_prefix("s3://").with_context(|| format!("--to {uri}: use s3://bucket/prefix/"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        bail!("--to {uri}: no bucket; use s3://bucket/prefix/");
    }
    let prefix =
        if prefix.is_empty() || prefix.ends_with('/') { prefix.to_string() } else { format!("{prefix}/") };
    Ok((bucket.to_string(), prefix))
}

/// Each file keeps its name under the prefix, so two different files with one name would land on one key and the
/// second would silently replace the first: refuse before anything is sent.
fn refuse_shared_keys(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut seen: std::collections::HashMap<std::ffi::OsString, &PathBuf> = std::collections::HashMap::new();
    for file in files {
        let name = file.file_name().map(ToOwned::to_owned).unwrap_or_default();
        if let Some(first) = seen.get(&name) {
            let same = std::fs::canonicalize(first)
                .ok()
                .zip(std::fs::canonicalize(file).ok())
                .is_some_and(|(a, b)| a == b);
            if !same {
                bail!(
                    "{} and {} have the same name and would both be uploaded to the same key, the second replacing the \
                     first; upload them to different prefixes (two commands with different --to) or rename one",
                    first.display(),
                    file.display()
                );
            }
        }
        seen.entry(name).or_insert(file);
    }
    Ok(())
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (bucket, prefix) = split_s3(&args.to)?;
    for file in &args.files {
        lakedrop_core::files::regular_file(file)?;
    }
    refuse_shared_keys(&args.files)?;
    let session = crate::connection::open(&args.connect).await?;
    let data_dir = lakedrop_core::data_dir();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let state = State::open(&data_dir.join("state.db"))?;
    let encryption = args.kms_key.clone().map_or(Encryption::BucketDefault, Encryption::Kms);
    let options = TransferOptions {
        part_size: args.part_size.map(|m| m * 1024 * 1024),
        concurrency: args.concurrency.max(1),
        ..TransferOptions::default()
    };
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });

    let terminal = std::io::stderr().is_terminal() && args.output == Format::Text;
    let mut results = Vec::new();
    let mut failed = None;
    let mut uploaded = std::collections::HashSet::new();
    for path in &args.files {
        // The same file named twice is sent once.
        if !uploaded.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())) {
            continue;
        }
        let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
        let key = format!("{prefix}{name}");
        let bar = if terminal {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:30!} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(name.clone());
            Some(bar)
        } else {
            None
        };
        let shown = path.display().to_string();
        let progress = |p: TransferProgress| {
            if let Some(bar) = &bar {
                bar.set_length(p.bytes_total);
                bar.set_position(p.bytes_done);
            } else if args.output == Format::Text {
                eprintln!(
                    "{name}: part {}/{}, {} of {} bytes",
                    p.parts_done, p.parts_total, p.bytes_done, p.bytes_total
                );
            } else {
                // Scripts get progress too (stdout stays one document): one JSON object a line on stderr, counting
                // acknowledged parts and their bytes.
                let line = UploadProgressLine {
                    progress: PartsProgress {
                        file: &shown,
                        parts_done: p.parts_done,
                        parts_total: p.parts_total,
                        bytes_done: p.bytes_done,
                        bytes_total: p.bytes_total,
                    },
                };
                if let Ok(line) = serde_json::to_string(&line) {
                    eprintln!("{line}");
                }
            }
        };
        let started = Instant::now();
        let target = ObjectTarget { bucket: &bucket, key: &key, encryption: &encryption };
        let done =
            upload_file(&session.clients.s3, &state, &target, path, &options, &progress, &cancel).await;
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        match done {
            Ok(done) => {
                let seconds = started.elapsed().as_secs_f64();
                if args.output == Format::Text {
                    let how = match done.outcome {
                        Outcome::Uploaded => "uploaded".to_string(),
                        Outcome::Resumed { parts_reused } => {
                            format!("resumed ({parts_reused} parts already there)")
                        }
                        Outcome::Restarted => {
                            "uploaded again (the file changed since the interrupted upload)".to_string()
                        }
                        Outcome::SkippedIdentical => "skipped (already there, identical)".to_string(),
                    };
                    println!(
                        "s3://{bucket}/{key}: {how}, {} bytes sent in {seconds:.1} s, {} ({})",
                        done.bytes_sent,
                        done.server_side_encryption.as_deref().unwrap_or("no encryption reported"),
                        done.kms_key_id.as_deref().unwrap_or("-")
                    );
                }
                results.push(UploadedFile::new(&shown, format!("s3://{bucket}/{key}"), &done, seconds));
            }
            Err(e) => {
                failed = Some(CommandError::new(&shown, &e));
                break;
            }
        }
    }
    session.close().await;
    if args.output == Format::Json {
        print_document("upload", &UploadOutput { files: &results, error: failed.as_ref() })?;
    }
    match failed {
        Some(e) if args.output == Format::Text => {
            eprintln!("error: {}\nrun the same command again to continue where it stopped", e.message);
            Ok(ExitCode::from(2))
        }
        Some(_) => Ok(ExitCode::from(2)),
        None => Ok(ExitCode::SUCCESS),
    }
}
