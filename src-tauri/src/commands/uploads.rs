//! Abandoned multipart uploads cost storage until they are aborted; this step aborts Lakedrop's own on demand, the
//! way `lakedrop clean-uploads` does.

use lakedrop_aws::AwsError;
use lakedrop_aws::import::ABANDONED_AFTER;
use lakedrop_aws::transfer::clean_orphans;
use serde::Serialize;

use crate::{AppState, IpcError};

/// What `clean_uploads` did, counted over every bucket it looked in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UploadsCleaned {
    /// Lakedrop's abandoned uploads, aborted: their file changed or is gone, or they are older than a week.
    pub aborted: u32,
    /// Lakedrop's interrupted uploads of unchanged files, kept: importing the same files again resumes them.
    pub resumable: u32,
    /// Unfinished uploads Lakedrop did not start, left alone for their owner to decide.
    pub others: u32,
}

/// Aborts the uploads Lakedrop started and abandoned in the buckets holding its unfinished uploads and in the
/// destination's input bucket; keeps the resumable ones and leaves everyone else's alone.
#[tauri::command]
#[specta::specta]
pub async fn clean_uploads(state: tauri::State<'_, AppState>) -> Result<UploadsCleaned, IpcError> {
    let session = state.session().await?;
    let history = state.history().await?;
    let mut buckets = history.pending_buckets().map_err(AwsError::from)?;
    let current = session.chosen().map(|d| d.input_bucket);
    buckets.extend(current.clone().filter(|b| !buckets.contains(b)));
    let mut cleaned = UploadsCleaned::default();
    for bucket in &buckets {
        match clean_orphans(&session.clients.s3, &history, bucket, "", ABANDONED_AFTER).await {
            Ok(found) => {
                cleaned.aborted += found.aborted.len() as u32;
                cleaned.resumable += found.resumable.len() as u32;
                cleaned.others += found.others.len() as u32;
            }
            // The local history is shared by every connection: a bucket recorded while connected elsewhere (the
            // sandbox's, seen from an AWS profile) need not exist here, and its uploads are out of reach, not lost.
            Err(AwsError::NotFound { .. }) if current.as_ref() != Some(bucket) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(cleaned)
}
