//! The import pipeline: validate what the analyst chose, upload the files worth importing to a fresh prefix,
//! and start one import job whose `ClientToken` is derived from the batch, recording it all in local state.

use std::path::PathBuf;

use lakedrop_core::batch::{Batch, BatchFile, unique_key_names};
use lakedrop_core::files::{expand_paths, fingerprint_file, validate_files};
use lakedrop_core::progress::{ImportProgress, ImportStarted, SkipReason, SkippedFile, ValidationReport};
use lakedrop_core::state::State;
use lakedrop_core::{CancellationToken, destination::ResolvedDestination};
use lakedrop_validate::{FileReport, Level, Options};

use crate::jobs::{StartImport, start};
use crate::transfer::{
    Encryption, ObjectTarget, TransferOptions, TransferProgress, clean_batch_prefix, clean_orphans,
    upload_checked,
};
use crate::{AwsError, Clients};

/// An interrupted upload of an unchanged file older than this is abandoned: its parts are aborted.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub paths: Vec<PathBuf>,
    pub job_name: Option<String>,
    pub level: Level,
    /// Import these files again even if they were already imported to this data store; otherwise the job that
    /// imported them is found and followed instead of a second one started.
    pub again: bool,
}

/// Why a validated file is left out of the upload, if it is.
pub fn skip_reason(file: &FileReport) -> Option<SkipReason> {
    if file.not_fhir {
        Some(SkipReason::NotFhir)
    } else if file.compressed {
        Some(SkipReason::Compressed)
    } else if file.valid == 0 {
        Some(SkipReason::NoValidLines)
    } else {
        None
    }
}

/// Validates every file (off the async threads), reporting where it has come as `Validating` ten times a second.
pub async fn validate(
    paths: Vec<PathBuf>,
    level: Level,
    cancel: CancellationToken,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<ValidationReport, AwsError> {
    let (tell, mut heard) = tokio::sync::watch::channel((0u64, 0u64));
    let mut checking = tokio::task::spawn_blocking(move || {
        let files = expand_paths(&paths)?;
        let mut on_progress = |p| {
            if let lakedrop_core::progress::ValidateProgress::Progress { bytes_done, bytes_total, .. } = p {
                tell.send_replace((bytes_done, bytes_total));
            }
        };
        // The import needs each file's counts and groups, not a list of its issues.
        let options = Options { level, list_errors: false, max_warnings_per_file: 0, ..Options::default() };
        Ok(validate_files(&files, &options, &mut on_progress, &cancel)?)
    });
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    let finished = loop {
        tokio::select! {
            finished = &mut checking => break finished,
            _ = tick.tick() => {
                if heard.has_changed().unwrap_or(false) {
                    let (bytes_done, bytes_total) = *heard.borrow_and_update();
                    progress(ImportProgress::Validating { bytes_done, bytes_total });
                }
            }
        }
    };
    finished.map_err(|e| AwsError::Input(format!("validation stopped: {e}")))?
}

pub async fn run(
    clients: &Clients,
    destination: &ResolvedDestination,
    state: &State,
    request: ImportRequest,
    progress: &(dyn Fn(ImportProgress) + Sync),
    cancel: &CancellationToken,
    now_unix: i64,
) -> Result<ImportStarted, AwsError> {
    progress(ImportProgress::Validating { bytes_done: 0, bytes_total: 0 });
    let report = validate(request.paths.clone(), request.level, cancel.clone(), progress).await?;
    if let Some(issue) = report.issues.iter().find(|i| i.severity == lakedrop_validate::Severity::Error) {
        return Err(AwsError::Input(issue.message.clone()));
    }
    let (upload, skipped): (Vec<&FileReport>, Vec<&FileReport>) =
        report.files.iter().partition(|f| skip_reason(f).is_none());
    let skipped: Vec<SkippedFile> = skipped
        .iter()
        .filter_map(|f| {
            skip_reason(f).map(|reason| SkippedFile { path: f.path.clone(), name: f.name.clone(), reason })
        })
        .collect();
    if upload.is_empty() {
        let why: Vec<String> = skipped.iter().map(SkippedFile::describe).collect();
        return Err(AwsError::Input(format!("nothing to import: {}", why.join("; "))));
    }

    let names = unique_key_names(upload.iter().map(|f| f.name.as_str()));
    let mut files = Vec::with_capacity(upload.len());
    for (file, key_name) in upload.iter().zip(names) {
        let path = PathBuf::from(&file.path);
        let print = tokio::task::spawn_blocking(move || fingerprint_file(&path))
            .await
            .map_err(|e| AwsError::Input(e.to_string()))??;
        // The batch records (and the upload proves) the bytes that were checked, never a version written since.
        if file.crc32c.is_some_and(|checked| checked != print.crc32c) {
            return Err(AwsError::FileChanged {
                path: PathBuf::from(&file.path),
                message:
                    "the file changed after it was checked, so it was not uploaded; check it again, then \
                          import it"
                        .into(),
            });
        }
        files.push(BatchFile {
            local_path: file.path.clone(),
            key_name,
            bytes: file.bytes,
            sha256: print.sha256,
            crc32c: Some(print.crc32c),
        });
    }
    let batch = match find_batch(clients, destination, state, &files, request.again).await? {
        Found::Started(started) => {
            progress(ImportProgress::Submitted { job_id: started.job_id.clone() });
            return Ok(ImportStarted { files_skipped: skipped, ..started });
        }
        // An import of the same files to the same place that was interrupted before its job started is
        // continued: same prefix, parts already in S3 kept, files already there skipped. The checksums are the
        // ones just read (older records have none).
        Found::Unfinished(batch) => Batch { files, ..batch },
        Found::Nothing => {
            let id = Batch::new_id(now_unix, rand_u32());
            let batch = Batch {
                prefix: Batch::prefix_for(&id),
                id,
                datastore_id: destination.datastore_id.clone(),
                input_bucket: destination.input_bucket.clone(),
                files,
            };
            state.record_batch(&batch, &skipped, now_unix)?;
            batch
        }
    };

    let encryption = Encryption::Kms(destination.kms_key_id.clone());
    let bytes_total: u64 = batch.files.iter().map(|f| f.bytes).sum();
    let mut bytes_before = 0;
    let mut stored_encryption = None;
    for file in &batch.files {
        if cancel.is_cancelled() {
            return Err(AwsError::Cancelled);
        }
        progress(ImportProgress::Uploading {
            file: file.key_name.clone(),
            bytes_done: bytes_before,
            bytes_total,
            parts_done: 0,
            parts_total: 0,
        });
        let key = format!("{}{}", batch.prefix, file.key_name);
        let target = ObjectTarget { bucket: &batch.input_bucket, key: &key, encryption: &encryption };
        let on_part = |p: TransferProgress| {
            progress(ImportProgress::Uploading {
                file: file.key_name.clone(),
                bytes_done: bytes_before + p.bytes_done,
                bytes_total,
                parts_done: p.parts_done,
                parts_total: p.parts_total,
            });
        };
        let checked = file.crc32c.map(crate::transfer::crc_base64);
        let stored = upload_checked(
            &clients.s3,
            state,
            &target,
            file.local_path.as_ref(),
            checked.as_deref(),
            &TransferOptions::default(),
            &on_part,
            cancel,
        )
        .await?;
        stored_encryption = stored.server_side_encryption.map(|sse| match stored.kms_key_id {
            Some(key) => format!("{sse} ({key})"),
            None => sse,
        });
        bytes_before += file.bytes;
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
        files_uploaded: batch.files.len() as u64,
        files_skipped: skipped,
        encryption: stored_encryption,
        already_started: false,
    })
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
    }))
}

fn rand_u32() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}
