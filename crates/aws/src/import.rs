//! The import pipeline: each file the analyst chose checked and uploaded in one pass (as NDJSON: decompressed,
//! unbundled) to a fresh prefix, and one import job per batch of at most 10,000 files started, its
//! `ClientToken` derived from the batch, recording it all in local state.

use std::path::PathBuf;

use std::collections::BTreeMap;

use futures::StreamExt;

use lakedrop_core::batch::{Batch, BatchFile, unique_key_names};
use lakedrop_core::files::expand_paths;
use lakedrop_core::progress::{ImportJob, ImportProgress, ImportStarted, SkipReason, SkippedFile};
use lakedrop_core::source::{Input, sniff};
use lakedrop_core::state::State;
use lakedrop_core::{CancellationToken, destination::ResolvedDestination};
use lakedrop_validate::{FileReport, Level, MAX_FILES_PER_IMPORT, Options};

use crate::jobs::{StartImport, start};
use crate::transfer::{
    CheckedUpload, Encryption, ObjectTarget, TransferOptions, TransferProgress, clean_batch_prefix,
    clean_orphans, upload_checking,
};
use crate::{AwsError, Clients};

/// An interrupted upload of an unchanged file older than this is abandoned: its parts are aborted.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub paths: Vec<PathBuf>,
    pub job_name: Option<String>,
    pub level: Level,
    /// Import these files again even if they were already imported to this data store; otherwise the job that
    /// imported them is found and followed instead of a second one started.
    pub again: bool,
    /// The CRC32C of each file's own bytes when it was first checked (the app's Files step): a file whose bytes
    /// differ when it is uploaded changed since, and is not imported.
    pub checked: BTreeMap<PathBuf, u32>,
    /// Bundles are imported as Bundle resources, one line each (lines holding Bundles as they are), instead of as
    /// their entries.
    pub keep_bundles: bool,
}

/// HealthLake's documented limit on one job's input (the 2021 quota table's 50 GB): a batch larger than this is
/// split into more jobs, as one of more than 10,000 files is.
pub const MAX_JOB_BYTES: u64 = 50 * 1000 * 1000 * 1000;

/// Files up to this size are one PUT each, and go `FILES_AT_ONCE` at a time.
const SMALL_FILE: u64 = 16 * 1024 * 1024;
const FILES_AT_ONCE: usize = 6;

/// Why a checked file is left out of the upload, if it is.
pub fn skip_reason(file: &FileReport) -> Option<SkipReason> {
    if file.not_fhir {
        Some(SkipReason::NotFhir)
    } else if file.valid == 0 {
        Some(SkipReason::NoValidLines)
    } else {
        None
    }
}

/// A file found for the import: what it holds, its size and its modification time.
#[derive(Debug, Clone)]
struct Found1 {
    input: Input,
    bytes: u64,
    mtime_ns: i64,
}

/// Cuts the files, in order, into the batches of one job each: at most 10,000 files and `MAX_JOB_BYTES` (a
/// single larger file is a batch by itself).
fn split(files: Vec<Found1>) -> Vec<Vec<Found1>> {
    let mut batches: Vec<Vec<Found1>> = Vec::new();
    let mut bytes = 0u64;
    for file in files {
        let full = batches.last().is_none_or(|last| {
            last.len() >= MAX_FILES_PER_IMPORT || (bytes + file.bytes > MAX_JOB_BYTES && !last.is_empty())
        });
        if full {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += file.bytes;
        if let Some(last) = batches.last_mut() {
            last.push(file);
        }
    }
    batches
}

/// Checks and uploads the files in one pass each, and starts the import: one job for up to 10,000 files, more
/// jobs for more, each started as soon as its files are in, in order (HealthLake runs them one after the
/// other). A file is checked as it is sent; a file the check keeps out (not FHIR, no line HealthLake would
/// accept) leaves nothing in S3, and a job starts only when all of its files are in.
pub async fn run(
    clients: &Clients,
    destination: &ResolvedDestination,
    state: &State,
    request: ImportRequest,
    progress: &(dyn Fn(ImportProgress) + Sync),
    cancel: &CancellationToken,
    now_unix: i64,
) -> Result<ImportStarted, AwsError> {
    let (paths, keep_bundles) = (request.paths.clone(), request.keep_bundles);
    let found = tokio::task::spawn_blocking(move || -> Result<Vec<Found1>, AwsError> {
        let files = expand_paths(&paths)?;
        files
            .into_iter()
            .map(|path| {
                let io = |source| AwsError::Io { path: path.clone(), source };
                let meta = std::fs::metadata(&path).map_err(io)?;
                let mtime_ns = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i64);
                let input = sniff(&path).map_err(io)?.keeping_bundles(keep_bundles);
                Ok(Found1 { input, bytes: meta.len(), mtime_ns })
            })
            .collect()
    })
    .await
    .map_err(|e| AwsError::Input(format!("the files could not be listed: {e}")))??;
    let bytes_total: u64 = found.iter().map(|f| f.bytes).sum();
    let batches = split(found);
    let mut jobs: Vec<ImportStarted> = Vec::with_capacity(batches.len());
    let mut skipped: Vec<SkippedFile> = Vec::new();
    let mut bytes_before = 0u64;
    for files in batches {
        let batch_bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let at = Upload { bytes_before, bytes_total };
        let one = import_batch(clients, destination, state, &request, files, at, progress, cancel, now_unix)
            .await?;
        bytes_before += batch_bytes;
        skipped.extend(one.files_skipped.iter().cloned());
        if !one.job_id.is_empty() {
            jobs.push(one);
        }
    }
    let Some(first) = jobs.first() else {
        let why: Vec<String> = skipped.iter().map(SkippedFile::describe).collect();
        return Err(AwsError::Input(format!("nothing to import: {}", why.join("; "))));
    };
    Ok(ImportStarted {
        files_uploaded: jobs.iter().map(|j| j.files_uploaded).sum(),
        files_skipped: skipped,
        already_started: jobs.iter().all(|j| j.already_started),
        jobs: jobs
            .iter()
            .map(|j| ImportJob {
                job_id: j.job_id.clone(),
                batch_id: j.batch_id.clone(),
                input_uri: j.input_uri.clone(),
                files: j.files_uploaded,
                already_started: j.already_started,
            })
            .collect(),
        ..first.clone()
    })
}

/// Where a batch's bytes sit in the whole import's, for one progress over every job.
#[derive(Debug, Clone, Copy)]
struct Upload {
    bytes_before: u64,
    bytes_total: u64,
}

/// One job's batch: checked and uploaded file by file, then started. Returns an `ImportStarted` with an empty
/// `job_id` when every file was kept out.
#[allow(clippy::too_many_arguments)]
async fn import_batch(
    clients: &Clients,
    destination: &ResolvedDestination,
    state: &State,
    request: &ImportRequest,
    found: Vec<Found1>,
    at: Upload,
    progress: &(dyn Fn(ImportProgress) + Sync),
    cancel: &CancellationToken,
    now_unix: i64,
) -> Result<ImportStarted, AwsError> {
    let names = unique_key_names(
        found.iter().map(|f| f.input.path.file_name().and_then(|n| n.to_str()).unwrap_or("input.ndjson")),
    );
    let listed: Vec<BatchFile> = found
        .iter()
        .zip(names)
        .map(|(f, name)| BatchFile {
            local_path: f.input.path.display().to_string(),
            key_name: ndjson_key(&name, &f.input),
            bytes: f.bytes,
            sha256: String::new(),
            crc32c: None,
            mtime_ns: Some(f.mtime_ns),
            derived: !f.input.as_is(),
            skipped: false,
        })
        .collect();
    let mut batch = match find_batch(clients, destination, state, &listed, request.again).await? {
        Found::Started(started) => {
            progress(ImportProgress::Submitted { job_id: started.job_id.clone() });
            return Ok(started);
        }
        // An import of the same files to the same place that was interrupted before its job started is
        // continued: same prefix, parts already in S3 kept, files already there proven and not sent again.
        Found::Unfinished(batch) => Batch { files: listed, ..batch },
        Found::Nothing => {
            let id = Batch::new_id(now_unix, rand_u32());
            Batch {
                prefix: Batch::prefix_for(&id),
                id,
                datastore_id: destination.datastore_id.clone(),
                input_bucket: destination.input_bucket.clone(),
                files: listed,
            }
        }
    };
    state.record_batch(&batch, &[], now_unix)?;

    let encryption = Encryption::Kms(destination.kms_key_id.clone());
    let options = Options {
        level: request.level,
        list_errors: false,
        max_warnings_per_file: 0,
        keep_bundles: request.keep_bundles,
        ..Options::default()
    };
    let keep = |report: &FileReport| skip_reason(report).is_none();
    // Small files go several at a time (each one PUT: the round trips, not the bytes, are what takes long), a
    // larger file alone with its parts in parallel, so memory stays at one file's parts in flight.
    let done_bytes = std::sync::atomic::AtomicU64::new(at.bytes_before);
    let prefix = batch.prefix.clone();
    let bucket = batch.input_bucket.clone();
    let names: Vec<String> = batch.files.iter().map(|f| f.key_name.clone()).collect();
    let (keep, options, encryption, done_bytes) = (&keep, &options, &encryption, &done_bytes);
    let (prefix, bucket) = (&prefix, &bucket);
    let one = |i: usize| {
        let f = &found[i];
        let name = names[i].clone();
        async move {
            if cancel.is_cancelled() {
                return Err(AwsError::Cancelled);
            }
            let key = format!("{prefix}{name}");
            let target = ObjectTarget { bucket, key: &key, encryption };
            let before = done_bytes.load(std::sync::atomic::Ordering::Relaxed);
            let on_part = |p: TransferProgress| {
                progress(ImportProgress::Uploading {
                    file: name.clone(),
                    bytes_done: (before + p.bytes_done).min(at.bytes_total),
                    bytes_total: at.bytes_total,
                    parts_done: p.parts_done,
                    parts_total: p.parts_total,
                });
            };
            on_part(TransferProgress { bytes_done: 0, bytes_total: f.bytes, parts_done: 0, parts_total: 0 });
            let job = CheckedUpload {
                input: &f.input,
                options,
                expected_crc32c: request.checked.get(&f.input.path).copied(),
                keep,
            };
            let checked = upload_checking(
                &clients.s3,
                state,
                &target,
                &job,
                &TransferOptions::default(),
                &on_part,
                cancel,
            )
            .await?;
            done_bytes.fetch_add(f.bytes, std::sync::atomic::Ordering::Relaxed);
            Ok::<_, AwsError>((i, checked))
        }
    };
    let mut results = Vec::with_capacity(found.len());
    let mut i = 0;
    while i < found.len() {
        let run = found[i..].iter().take_while(|f| f.bytes <= SMALL_FILE).count();
        if run == 0 {
            results.push(one(i).await?);
            i += 1;
            continue;
        }
        let mut sends = futures::stream::iter((i..i + run).map(one)).buffer_unordered(FILES_AT_ONCE);
        while let Some(sent) = sends.next().await {
            results.push(sent?);
        }
        i += run;
    }
    results.sort_by_key(|(i, _)| *i);
    let mut stored_encryption = None;
    let mut skipped = Vec::new();
    for (i, checked) in results {
        let file = &mut batch.files[i];
        file.sha256 = checked.print.sha256;
        file.crc32c = Some(checked.print.crc32c);
        match checked.transferred {
            Some(stored) => {
                stored_encryption = stored.server_side_encryption.map(|sse| match stored.kms_key_id {
                    Some(key) => format!("{sse} ({key})"),
                    None => sse,
                });
            }
            None => {
                file.skipped = true;
                if let Some(reason) = skip_reason(&checked.report) {
                    skipped.push(SkippedFile {
                        path: file.local_path.clone(),
                        name: checked.report.name.clone(),
                        reason,
                    });
                }
            }
        }
    }
    state.record_batch(&batch, &skipped, now_unix)?;
    let uploaded = batch.files.iter().filter(|f| !f.skipped).count() as u64;
    if uploaded == 0 {
        state.forget_batch(&batch.id)?;
        return Ok(ImportStarted {
            job_id: String::new(),
            datastore_id: batch.datastore_id.clone(),
            batch_id: batch.id.clone(),
            input_uri: batch.input_uri(),
            output_uri: destination.output_uri.clone(),
            files_uploaded: 0,
            files_skipped: skipped,
            encryption: None,
            already_started: false,
            jobs: Vec::new(),
        });
    }

    progress(ImportProgress::Submitting);
    let job_id = start(
        clients,
        &StartImport {
            datastore_id: batch.datastore_id.clone(),
            input_uri: batch.input_uri(),
            output_uri: destination.output_uri.clone(),
            kms_key_id: destination.kms_key_id.clone(),
            role_arn: destination.role_arn.clone(),
            job_name: request.job_name.clone().or_else(|| Some(format!("lakedrop-{}", batch.id))),
            validation_level: request.level,
            client_token: batch.client_token(),
        },
    )
    .await?;
    state.set_job(&batch.id, &job_id)?;
    progress(ImportProgress::Submitted { job_id: job_id.clone() });
    match clean_batch_prefix(&clients.s3, state, &batch.input_bucket, &batch.prefix).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(aborted = n, "aborted uploads left under the batch's prefix by an interrupted run")
        }
        Err(e) => tracing::warn!(error = %e, "could not look for uploads left under the batch's prefix"),
    }
    // The batch is finished: uploads Lakedrop abandoned in this bucket (files changed or gone since, or older
    // than a week) would cost storage until aborted. Unchanged interrupted uploads are kept for their rerun.
    match clean_orphans(&clients.s3, state, &batch.input_bucket, "lakedrop/", ABANDONED_AFTER).await {
        Ok(cleaned) if !cleaned.aborted.is_empty() => {
            tracing::info!(aborted = cleaned.aborted.len(), "aborted uploads Lakedrop had abandoned");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not look for abandoned uploads"),
    }
    Ok(ImportStarted {
        job_id,
        datastore_id: batch.datastore_id.clone(),
        batch_id: batch.id.clone(),
        input_uri: batch.input_uri(),
        output_uri: destination.output_uri.clone(),
        files_uploaded: uploaded,
        files_skipped: skipped,
        encryption: stored_encryption,
        already_started: false,
        jobs: Vec::new(),
    })
}

/// The object key of a file: its (unique) name, as NDJSON: `a.json` → `a.ndjson`, `a.ndjson.gz` → `a.ndjson`,
/// since what is uploaded is NDJSON, decompressed and unbundled.
fn ndjson_key(name: &str, input: &Input) -> String {
    if input.as_is() {
        return name.to_string();
    }
    let lower = name.to_ascii_lowercase();
    let stem = [".ndjson.gz", ".json.gz", ".ndjson", ".json", ".gz"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(name, |ext| &name[..name.len() - ext.len()]);
    format!("{stem}.ndjson")
}

/// What local state knows of a batch of these very files bound for this destination.
enum Found {
    /// Its job was started and has not failed: follow it rather than start a second one.
    Started(ImportStarted),
    /// Its upload was interrupted before the job started: continue it.
    Unfinished(Batch),
    /// Nothing (or `again` was asked for, or its job failed or was cancelled, which a new batch retries).
    Nothing,
}

async fn find_batch(
    clients: &Clients,
    destination: &ResolvedDestination,
    state: &State,
    files: &[BatchFile],
    again: bool,
) -> Result<Found, AwsError> {
    if again {
        return Ok(Found::Nothing);
    }
    let Some((batch, job_id)) =
        state.same_batch(&destination.datastore_id, &destination.input_bucket, files)?
    else {
        return Ok(Found::Nothing);
    };
    let Some(job_id) = job_id else { return Ok(Found::Unfinished(batch)) };
    let job = match crate::jobs::describe(clients, &batch.datastore_id, &job_id).await {
        Ok(job) => job,
        // The job is gone (its data store deleted): these files were never imported where they are going now.
        Err(AwsError::NotFound { .. }) => return Ok(Found::Nothing),
        Err(e) => return Err(e),
    };
    if matches!(
        job.status.as_str(),
        "FAILED" | "CANCEL_COMPLETED" | "CANCEL_SUBMITTED" | "CANCEL_IN_PROGRESS"
    ) {
        return Ok(Found::Nothing);
    }
    tracing::info!(job = %job_id, status = %job.status, "these files were already imported; following that job");
    Ok(Found::Started(ImportStarted {
        job_id,
        datastore_id: batch.datastore_id.clone(),
        batch_id: batch.id.clone(),
        input_uri: batch.input_uri(),
        output_uri: destination.output_uri.clone(),
        files_uploaded: 0,
        files_skipped: Vec::new(),
        encryption: None,
        already_started: true,
        jobs: Vec::new(),
    }))
}

fn rand_u32() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}
