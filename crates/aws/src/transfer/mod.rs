//! The transfer engine: files into S3 fast, checksummed, encrypted, never started over without need, and never
//! reported as uploaded unless the object is proven to be the file.
//!
//! One rule holds everywhere: a part or an object is kept only when its bytes are proven equal to the file's. The
//! work is split by concern, each rule in one place with its own tests:
//! - `plan`: the file read once when the upload begins, cut into parts, each part's CRC32C noted; the reference
//!   for everything after, and the check that the file did not change (size, time, and each part's bytes as it is
//!   read to be sent);
//! - `prove`: what S3 already holds, an object at the key or the parts of an interrupted upload, kept only when
//!   its checksums (or, where S3 lists none, the ETags and checksums recorded as parts were acknowledged) are the
//!   plan's;
//! - `send`: a part, or a small file in one PUT, each with its CRC32C (S3 refuses bytes that do not match), and
//!   the retries of every idempotent call;
//! - `complete`: create, complete (a completion whose answer was lost is recognised by its object), and prove
//!   the object before anything says "uploaded";
//! - `orphans`: Lakedrop's own abandoned uploads aborted, anyone else's listed.
//!
//! The upload id and every acknowledged part go to local state as they happen, so after a crash, `kill -9` or a
//! reboot the same call resumes, sending only the parts not proven.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use lakedrop_core::CancellationToken;
use lakedrop_core::state::{DonePart, PendingUpload, State};

use crate::AwsError;

mod complete;
mod orphans;
mod plan;
mod prove;
mod send;
mod stream;

pub use orphans::{Orphan, Orphans, clean_batch_prefix, clean_orphans};
pub use plan::{Plan, crc_base64};
pub use send::send_part;
pub use stream::{Checked, CheckedUpload, upload_checking};

/// How objects are encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-KMS under this key (id, ARN or alias).
    Kms(String),
    /// Whatever the bucket's default encryption is.
    BucketDefault,
}

const MIB: u64 = 1024 * 1024;
/// S3's limits: parts of 5 MiB to 5 GiB, at most 10,000 of them.
const MIN_PART: u64 = 5 * MIB;
const MAX_PARTS: u64 = 10_000;

#[derive(Debug, Clone)]
pub struct TransferOptions {
    /// Files up to this size go in one PUT.
    pub single_put_max: u64,
    /// The part size; `None` chooses one from the file size (8 MiB, more for files over 80 GB).
    pub part_size: Option<u64>,
    /// Parts in flight at once.
    pub concurrency: usize,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions { single_put_max: 16 * MIB, part_size: None, concurrency: 8 }
    }
}

impl TransferOptions {
    /// The part size for a file: as asked (at least S3's 5 MiB), but never so small that it takes more than
    /// 10,000 parts.
    pub fn part_size_for(&self, size: u64) -> u64 {
        let wanted = self.part_size.unwrap_or(8 * MIB).max(MIN_PART);
        let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
        wanted.max(needed)
    }
}

/// How far one file's transfer has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferProgress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub parts_done: u32,
    pub parts_total: u32,
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Sent in full (one PUT, or every part).
    Uploaded,
    /// An interrupted upload was continued: only the missing parts were sent.
    Resumed { parts_reused: u32 },
    /// An interrupted upload was found, but the file had changed since: it was aborted and sent again in full.
    Restarted,
    /// The object at the key already holds this file (same size and CRC32C): nothing was sent.
    SkippedIdentical,
}

/// What S3 stored, read back from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    pub key: String,
    pub bytes: u64,
    /// Bytes sent over the network by this call (less than `bytes` when resumed or skipped).
    pub bytes_sent: u64,
    pub outcome: Outcome,
    /// Base64 CRC32C of the whole local file.
    pub crc32c: String,
    /// `aws:kms` or `AES256`, as S3 reports it.
    pub server_side_encryption: Option<String>,
    pub kms_key_id: Option<String>,
    /// The object's ETag, as S3 reports it.
    pub etag: String,
}

/// Where one file goes.
pub struct ObjectTarget<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub encryption: &'a Encryption,
}

/// Uploads one file, resuming an interrupted upload of it if local state knows one. `progress` is called as
/// parts complete; cancelling keeps what is done for the next call.
pub async fn upload_file(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    path: &Path,
    options: &TransferOptions,
    progress: &(dyn Fn(TransferProgress) + Sync),
    cancel: &CancellationToken,
) -> Result<Transferred, AwsError> {
    upload_checked(s3, state, target, path, None, options, progress, cancel).await
}

/// [`upload_file`] for a file that was checked before: `checked_crc32c` is the CRC32C (as S3 writes it) of the
/// bytes that were checked, and the upload fails unless it sends exactly those bytes.
#[allow(clippy::too_many_arguments)]
pub async fn upload_checked(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    path: &Path,
    checked_crc32c: Option<&str>,
    options: &TransferOptions,
    progress: &(dyn Fn(TransferProgress) + Sync),
    cancel: &CancellationToken,
) -> Result<Transferred, AwsError> {
    let path_text = path.display().to_string();
    let pending = state.pending_upload(target.bucket, target.key, &path_text)?;
    let plan = plan::plan(path, part_sizes(options, pending.as_ref())).await?;
    if checked_crc32c.is_some_and(|checked| checked != plan.checksum()) {
        return Err(complete::not_as_checked(&plan));
    }
    let finished = |found: Transferred, bytes_sent: u64, outcome: Outcome| {
        state.record_uploaded(target.bucket, target.key, &found.etag, plan.size, &plan.checksum())?;
        let parts_total = plan.parts_total().max(1);
        progress(TransferProgress {
            bytes_done: plan.size,
            bytes_total: plan.size,
            parts_done: parts_total,
            parts_total,
        });
        Ok::<_, AwsError>(Transferred { bytes_sent, outcome, ..found })
    };

    // Already there: uploaded before, or completed on S3's side by a run that died before it heard so.
    if let Some(found) = prove::existing(s3, state, target, &plan, pending.as_ref()).await? {
        if let Some(pending) = &pending {
            complete::abort(s3, state, pending).await;
        }
        plan.unchanged()?;
        return finished(found, 0, Outcome::SkippedIdentical);
    }
    if plan.size <= options.single_put_max {
        if let Some(pending) = &pending {
            complete::abort(s3, state, pending).await;
        }
        let body =
            plan.read_part(1).await.or_else(|e| if plan.size == 0 { Ok(Vec::new()) } else { Err(e) })?;
        let checksum = plan.checksum();
        tokio::select! {
            () = cancel.cancelled() => return Err(AwsError::Cancelled),
            sent = send::put_whole(s3, target, body, &checksum) => sent?,
        }
        plan.unchanged()?;
        let head = prove::head(s3, target).await?.ok_or_else(|| AwsError::NotFound {
            message: format!(
                "s3://{}/{} is missing after it was sent; send it again",
                target.bucket, target.key
            ),
        })?;
        complete::verify(target, &plan, &head, &[])?;
        return finished(head.transferred, plan.size, Outcome::Uploaded);
    }

    let (upload, kept, outcome) = resume_or_create(s3, state, target, &plan, pending).await?;
    let sent = send_missing(s3, state, target, &upload, &plan, &kept, options, progress, cancel).await;
    let (parts, bytes_sent) = match sent {
        Ok(sent) => sent,
        Err(e) => return Err(complete::abandon_changed(s3, state, &upload, e).await),
    };
    let completed = complete::complete(s3, state, target, &upload, &plan, &parts, !kept.is_empty()).await;
    match completed {
        Ok(complete::Completed::Object(found)) => {
            let outcome = match outcome {
                Outcome::Uploaded if bytes_sent < plan.size => Outcome::Resumed { parts_reused: 0 },
                outcome => outcome,
            };
            finished(found, bytes_sent, outcome)
        }
        // A part kept from the interrupted upload is no longer what S3 holds under its number: start over, once
        // (the next call finds no pending upload, so it cannot come back here).
        Ok(complete::Completed::StalePart) => {
            tracing::warn!("S3 refused a part kept from the interrupted upload; starting it over");
            complete::abort(s3, state, &upload).await;
            let again =
                Box::pin(upload_checked(s3, state, target, path, checked_crc32c, options, progress, cancel))
                    .await?;
            Ok(Transferred {
                bytes_sent: bytes_sent + again.bytes_sent,
                outcome: Outcome::Restarted,
                ..again
            })
        }
        Err(e) => Err(complete::abandon_changed(s3, state, &upload, e).await),
    }
}

/// How to cut a file into parts: one part when it goes in one PUT, the interrupted upload's part size when there
/// is one to continue, else as the options say.
fn part_sizes(
    options: &TransferOptions,
    pending: Option<&PendingUpload>,
) -> impl Fn(u64) -> u64 + Send + 'static {
    let options = options.clone();
    let pending = pending.map(|p| (p.size, p.part_size));
    move |size| match pending {
        _ if size <= options.single_put_max => size,
        Some((pending_size, part_size)) if pending_size == size => part_size,
        _ => options.part_size_for(size),
    }
}

/// Continues the interrupted upload with the parts proven to be the plan's, or creates a new one.
async fn resume_or_create(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    plan: &Plan,
    pending: Option<PendingUpload>,
) -> Result<(PendingUpload, Vec<DonePart>, Outcome), AwsError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let Some(pending) = pending else {
        return Ok((complete::create(s3, state, target, plan, now).await?, Vec::new(), Outcome::Uploaded));
    };
    if pending.size != plan.size || pending.part_size != plan.part_size {
        complete::abort(s3, state, &pending).await;
        return Ok((complete::create(s3, state, target, plan, now).await?, Vec::new(), Outcome::Restarted));
    }
    match prove::resumable(s3, state, &pending, plan).await? {
        Some(kept) if kept.is_empty() => {
            // Nothing S3 holds is the file's any more (it changed since): every part is sent again into the same
            // upload, which replaces what it held.
            Ok((pending, kept, Outcome::Restarted))
        }
        Some(kept) => {
            let outcome = Outcome::Resumed { parts_reused: kept.len() as u32 };
            Ok((pending, kept, outcome))
        }
        // S3 no longer knows the upload (aborted, or expired by a lifecycle rule).
        None => {
            state.forget_upload(&pending.upload_id)?;
            Ok((complete::create(s3, state, target, plan, now).await?, Vec::new(), Outcome::Restarted))
        }
    }
}

/// Sends the parts not kept, `concurrency` at a time, each read and proven against the plan as it goes, and
/// records each as S3 acknowledges it. Returns every part of the upload in order and the bytes sent.
#[allow(clippy::too_many_arguments)]
async fn send_missing(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    upload: &PendingUpload,
    plan: &Plan,
    kept: &[DonePart],
    options: &TransferOptions,
    progress: &(dyn Fn(TransferProgress) + Sync),
    cancel: &CancellationToken,
) -> Result<(Vec<DonePart>, u64), AwsError> {
    let parts_total = plan.parts_total();
    let kept_numbers: std::collections::BTreeSet<u32> = kept.iter().map(|p| p.part_number).collect();
    let mut done: Vec<DonePart> = kept.to_vec();
    let mut bytes_done: u64 = kept_numbers.iter().map(|&n| plan.part_range(n).1).sum();
    let mut bytes_sent = 0u64;
    progress(TransferProgress {
        bytes_done,
        bytes_total: plan.size,
        parts_done: done.len() as u32,
        parts_total,
    });

    let missing: Vec<u32> = (1..=parts_total).filter(|n| !kept_numbers.contains(n)).collect();
    let mut sends = futures::stream::iter(missing.into_iter().map(|number| {
        let upload_id = upload.upload_id.clone();
        async move {
            let body = plan.read_part(number).await?;
            let len = body.len() as u64;
            let checksum = plan.part_checksum(number);
            let etag = send::send_part(s3, target, &upload_id, number, body, &checksum).await?;
            Ok::<_, AwsError>((DonePart { part_number: number, etag, crc32c: checksum }, len))
        }
    }))
    .buffer_unordered(options.concurrency.max(1));

    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => return Err(AwsError::Cancelled),
            next = sends.next() => next,
        };
        let Some(result) = next else { break };
        let (part, len) = result?;
        state.record_part(&upload.upload_id, &part)?;
        done.push(part);
        bytes_done += len;
        bytes_sent += len;
        progress(TransferProgress {
            bytes_done,
            bytes_total: plan.size,
            parts_done: done.len() as u32,
            parts_total,
        });
    }
    done.sort_by_key(|p| p.part_number);
    Ok((done, bytes_sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_at_least_five_mib_and_never_more_than_ten_thousand() {
        let options = TransferOptions::default();
        assert_eq!(options.part_size_for(100 * MIB), 8 * MIB);
        let huge = 200 * 1024 * MIB; // 200 GiB
        let part = options.part_size_for(huge);
        assert!(huge.div_ceil(part) <= MAX_PARTS, "{part}");
        let small = TransferOptions { part_size: Some(MIB), ..TransferOptions::default() };
        assert_eq!(small.part_size_for(100 * MIB), MIN_PART);
    }

    #[test]
    fn an_interrupted_upload_keeps_its_part_size_while_the_file_keeps_its_size() {
        let options = TransferOptions::default();
        let pending = PendingUpload {
            upload_id: "u".into(),
            bucket: "b".into(),
            key: "k".into(),
            path: "p".into(),
            size: 100 * MIB,
            mtime_ns: 0,
            part_size: 5 * MIB,
            started_unix: 0,
        };
        let sizes = part_sizes(&options, Some(&pending));
        assert_eq!(sizes(100 * MIB), 5 * MIB);
        assert_eq!(sizes(101 * MIB), 8 * MIB);
        assert_eq!(sizes(MIB), MIB, "one PUT is one part");
    }
}
