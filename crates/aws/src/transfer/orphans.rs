//! Abandoned multipart uploads: Lakedrop's own are aborted (their parts cost storage until they are), anyone
//! else's are listed and left alone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lakedrop_core::state::{PendingUpload, State};

use super::complete::abort;
use crate::AwsError;
use crate::retry::with_retries;

/// An unfinished multipart upload found in a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub key: String,
    pub upload_id: String,
    /// Epoch seconds, when S3 says.
    pub initiated: Option<i64>,
}

/// What `clean_orphans` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Orphans {
    /// Lakedrop's own abandoned uploads, aborted (their file is gone or changed, or they are older than the
    /// age given).
    pub aborted: Vec<Orphan>,
    /// Lakedrop's own interrupted uploads of unchanged files, kept so that running the same command again
    /// resumes them.
    pub resumable: Vec<Orphan>,
    /// Uploads under the prefix that Lakedrop did not start: listed for the analyst to decide, never touched.
    pub others: Vec<Orphan>,
}

/// Whether the file of an interrupted upload is still the one it was sending.
fn unchanged(pending: &PendingUpload) -> bool {
    std::fs::metadata(&pending.path).is_ok_and(|m| {
        m.is_file()
            && m.len() == pending.size
            && m.modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .is_some_and(|d| d.as_nanos() as i64 == pending.mtime_ns)
    })
}

/// Aborts the multipart uploads under `prefix` that Lakedrop started and abandoned, and lists the others.
/// An interrupted upload whose file is unchanged is kept (it will be resumed) unless older than `max_age`; an
/// upload that local state remembers but S3 no longer lists is forgotten.
pub async fn clean_orphans(
    s3: &aws_sdk_s3::Client,
    state: &State,
    bucket: &str,
    prefix: &str,
    max_age: Duration,
) -> Result<Orphans, AwsError> {
    let mut ours: std::collections::HashMap<String, PendingUpload> = state
        .pending_uploads(bucket)?
        .into_iter()
        .filter(|u| u.key.starts_with(prefix))
        .map(|u| (u.upload_id.clone(), u))
        .collect();
    let mut result = Orphans::default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let listed = with_retries("ListMultipartUploads", "the unfinished uploads", || {
            s3.list_multipart_uploads()
                .bucket(bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.clone())
                .set_upload_id_marker(id_marker.clone())
                .send()
        })
        .await?;
        for upload in listed.uploads() {
            let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else { continue };
            let orphan = Orphan {
                key: key.to_string(),
                upload_id: upload_id.to_string(),
                initiated: upload.initiated().map(|t| t.secs()),
            };
            match ours.remove(upload_id) {
                Some(pending) => {
                    let too_old = now - pending.started_unix > max_age.as_secs() as i64;
                    if !unchanged(&pending) || too_old {
                        abort(s3, state, &pending).await;
                        result.aborted.push(orphan);
                    } else {
                        result.resumable.push(orphan);
                    }
                }
                None => result.others.push(orphan),
            }
        }
        key_marker = listed.next_key_marker().map(str::to_string);
        id_marker = listed.next_upload_id_marker().map(str::to_string);
        if listed.is_truncated() != Some(true) || key_marker.is_none() {
            break;
        }
    }
    // Remembered here, gone from S3 (completed or aborted elsewhere): nothing to resume.
    for gone in ours.values() {
        state.forget_upload(&gone.upload_id)?;
    }
    Ok(result)
}

/// Aborts every unfinished upload under a finished batch's prefix. The prefix is the batch's alone (its id is
/// random), so what is left there is this batch's: an upload S3 created for a run that was killed before it
/// could record it, which no other clean-up would recognise as Lakedrop's.
pub async fn clean_batch_prefix(
    s3: &aws_sdk_s3::Client,
    state: &State,
    bucket: &str,
    prefix: &str,
) -> Result<u32, AwsError> {
    let listed = with_retries("ListMultipartUploads", "the batch's unfinished uploads", || {
        s3.list_multipart_uploads().bucket(bucket).prefix(prefix).send()
    })
    .await?;
    let mut aborted = 0;
    for upload in listed.uploads() {
        let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else { continue };
        let pending = PendingUpload {
            upload_id: upload_id.to_string(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            path: String::new(),
            size: 0,
            mtime_ns: 0,
            part_size: 0,
            started_unix: 0,
        };
        abort(s3, state, &pending).await;
        aborted += 1;
    }
    Ok(aborted)
}
