//! One pass from disk to S3 (issue 20): a file read once, the NDJSON it is imported as (the file as it is,
//! decompressed, or unbundled; `lakedrop_core::source`) checked line by line and cut into parts that are sent as
//! they fill, each with its CRC32C.
//!
//! Nothing is written to disk on the way. The object is made (the upload completed, or the one PUT of a small
//! file sent) only when the file's check has ended and says the file is to be imported, and when the file's own
//! bytes are the ones its first check saw (`expected_crc32c`); otherwise nothing of it is left in S3.
//!
//! After a crash the same call resumes: the file is read again from the start (a compressed file cannot be
//! entered in the middle), and each part whose CRC32C is the one S3 acknowledged under its number is kept instead
//! of sent. An object already at the key that this machine recorded as uploaded is proven by the pass and
//! nothing is sent at all.

use std::io::{BufReader, Read};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use lakedrop_core::CancellationToken;
use lakedrop_core::source::{Input, RawPrint, open_ndjson};
use lakedrop_core::state::{DonePart, PendingUpload, State};
use lakedrop_validate::{FileReport, Options};

use super::plan::{Plan, changed, crc_base64, stamp};
use super::prove::{self, HeldPart};
use super::{ObjectTarget, Outcome, TransferOptions, TransferProgress, Transferred, complete, send};
use crate::AwsError;

/// Parts read ahead of those being sent.
const READ_AHEAD: usize = 2;

/// A file to check and upload in one pass.
pub struct CheckedUpload<'a> {
    pub input: &'a Input,
    pub options: &'a Options,
    /// The CRC32C of the file's own bytes when it was first checked (in the app's Files step): the object is made
    /// only if the pass read the same bytes.
    pub expected_crc32c: Option<u32>,
    /// Whether the check's report lets the file into the import.
    pub keep: &'a (dyn Fn(&FileReport) -> bool + Sync),
}

/// What one pass did.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What S3 holds; `None` when the check kept the file out (then nothing of it is left in S3).
    pub transferred: Option<Transferred>,
    pub report: FileReport,
    /// The file's own bytes, as read.
    pub print: RawPrint,
}

struct Part {
    number: u32,
    bytes: Vec<u8>,
    crc: u32,
}

/// What the reading thread found.
struct Read1 {
    report: FileReport,
    part_crcs: Vec<u32>,
    size: u64,
}

/// Hands the NDJSON to the checker while cutting it into parts for the sender.
struct PartTee {
    inner: Box<dyn std::io::BufRead + Send>,
    part_size: usize,
    part: Vec<u8>,
    crcs: Vec<u32>,
    size: u64,
    ended: bool,
    /// Only the checksums are wanted (an object already there is being proven): the bytes are not sent.
    prove_only: bool,
    tx: tokio::sync::mpsc::Sender<Part>,
}

impl PartTee {
    fn emit(&mut self) -> std::io::Result<()> {
        let crc = crc_fast::crc32_iscsi(&self.part);
        self.crcs.push(crc);
        self.size += self.part.len() as u64;
        let bytes = if self.prove_only {
            self.part.clear();
            Vec::new()
        } else {
            std::mem::replace(&mut self.part, Vec::with_capacity(self.part_size))
        };
        let part = Part { number: self.crcs.len() as u32, bytes, crc };
        self.tx
            .blocking_send(part)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Read for PartTee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if !self.ended {
                self.ended = true;
                // The last part; an empty file is one empty part.
                if !self.part.is_empty() || self.crcs.is_empty() {
                    self.emit()?;
                }
            }
            return Ok(0);
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let take = (self.part_size - self.part.len()).min(rest.len());
            self.part.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.part.len() == self.part_size {
                self.emit()?;
            }
        }
        Ok(n)
    }
}

/// Checks and uploads one file in one pass; see the module's comment.
#[allow(clippy::too_many_arguments)]
pub async fn upload_checking(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    job: &CheckedUpload<'_>,
    options: &TransferOptions,
    progress: &(dyn Fn(TransferProgress) + Sync),
    cancel: &CancellationToken,
) -> Result<Checked, AwsError> {
    pass(s3, state, target, job, options, progress, cancel, true).await
}

#[allow(clippy::too_many_arguments)]
async fn pass(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    job: &CheckedUpload<'_>,
    options: &TransferOptions,
    progress: &(dyn Fn(TransferProgress) + Sync),
    cancel: &CancellationToken,
    may_reuse: bool,
) -> Result<Checked, AwsError> {
    let path = job.input.path.as_path();
    let path_text = path.display().to_string();
    let (file_size, mtime_ns) = stamp(path)?;

    // What an earlier run left: an interrupted upload of the file as it is now, or the object itself.
    let mut pending = state.pending_upload(target.bucket, target.key, &path_text)?;
    if let Some(p) = &pending
        && (!may_reuse || p.size != file_size || p.mtime_ns != mtime_ns)
    {
        complete::abort(s3, state, p).await;
        pending = None;
    }
    let mut candidates = std::collections::BTreeMap::new();
    if let Some(p) = &pending {
        match held_parts(s3, state, p).await? {
            Some(kept) => candidates = kept.into_iter().map(|d| (d.part_number, d)).collect(),
            None => {
                state.forget_upload(&p.upload_id)?;
                pending = None;
            }
        }
    }
    let existing = match (may_reuse, &pending) {
        (true, None) => match prove::head(s3, target).await? {
            Some(head)
                if state
                    .uploaded_crc(target.bucket, target.key, &head.transferred.etag, head.transferred.bytes)?
                    .is_some() =>
            {
                Some(head)
            }
            _ => None,
        },
        _ => None,
    };
    let prove_only = existing.is_some();
    // A compressed file's NDJSON is larger than the file: room for ten times it keeps within 10,000 parts.
    let estimate = if job.input.as_is() { file_size } else { file_size.saturating_mul(10) };
    let part_size = pending.as_ref().map_or_else(|| options.part_size_for(estimate), |p| p.part_size);
    let parts_estimate = if job.input.as_is() { file_size.div_ceil(part_size).max(1) as u32 } else { 0 };

    let (reader, tally) =
        open_ndjson(job.input).map_err(|source| AwsError::Io { path: path.into(), source })?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Part>(READ_AHEAD);
    let (input, check_options) = (job.input.clone(), job.options.clone());
    let name = path_text.clone();
    let reading_tally = tally.clone();
    let reading = tokio::task::spawn_blocking(move || -> std::io::Result<Read1> {
        let mut tee = PartTee {
            inner: reader,
            part_size: part_size as usize,
            part: Vec::with_capacity(part_size as usize),
            crcs: Vec::new(),
            size: 0,
            ended: false,
            prove_only,
            tx,
        };
        let mut lines = BufReader::with_capacity(256 * 1024, &mut tee);
        let mut report =
            lakedrop_validate::validate_reader(&name, &mut lines, &check_options, &mut |_| true)?;
        drop(lines);
        // Whatever the checker left unread (nothing, unless it stopped early) still belongs to the object.
        std::io::copy(&mut tee, &mut std::io::sink())?;
        reading_tally.complete_report(&input, &mut report);
        Ok(Read1 { report, part_crcs: std::mem::take(&mut tee.crcs), size: tee.size })
    });

    let report_progress = |parts_done: u32| {
        progress(TransferProgress {
            bytes_done: tally.raw_bytes().min(file_size),
            bytes_total: file_size,
            parts_done,
            parts_total: parts_estimate.max(parts_done),
        });
    };
    let mut upload: Option<PendingUpload> = pending;
    let resumed = !candidates.is_empty();
    let mut held_first: Option<Part> = None;
    let mut done: Vec<DonePart> = Vec::new();
    let mut bytes_sent = 0u64;
    let mut sends = FuturesUnordered::new();
    let concurrency = options.concurrency.max(1);
    let failed = loop {
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => break Some(AwsError::Cancelled),
            Some(sent) = sends.next(), if !sends.is_empty() => {
                match sent {
                    Ok((part, len)) => {
                        if let Some(u) = &upload {
                            state.record_part(&u.upload_id, &part)?;
                        }
                        done.push(part);
                        bytes_sent += len;
                        report_progress(done.len() as u32);
                        continue;
                    }
                    Err(e) => break Some(e),
                }
            }
            next = rx.recv(), if sends.len() < concurrency => next,
        };
        let Some(part) = next else { break None };
        if prove_only {
            report_progress(part.number);
            continue;
        }
        // The first part waits until a second comes or the NDJSON ends: one part goes in one PUT.
        if upload.is_none() && part.number == 1 {
            held_first = Some(part);
            continue;
        }
        if upload.is_none() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let record = Plan {
                path: path.into(),
                size: file_size,
                file_size,
                mtime_ns,
                part_size,
                part_crcs: Vec::new(),
                crc32c: 0,
            };
            upload = Some(complete::create(s3, state, target, &record, now).await?);
        }
        let upload_id = upload.as_ref().map(|u| u.upload_id.clone()).unwrap_or_default();
        for part in held_first.take().into_iter().chain(std::iter::once(part)) {
            let checksum = crc_base64(part.crc);
            if let Some(kept) = candidates.get(&part.number).filter(|kept| kept.crc32c == checksum) {
                done.push(kept.clone());
                report_progress(done.len() as u32);
                continue;
            }
            let upload_id = upload_id.clone();
            sends.push(async move {
                let len = part.bytes.len() as u64;
                let etag =
                    send::send_part(s3, target, &upload_id, part.number, part.bytes, &checksum).await?;
                Ok::<_, AwsError>((DonePart { part_number: part.number, etag, crc32c: checksum }, len))
            });
        }
    };
    if let Some(error) = failed {
        // The reader stops when its parts are no longer taken; its own error says nothing more.
        drop(rx);
        drop(sends);
        let _ = reading.await;
        return Err(error);
    }
    while let Some(sent) = sends.next().await {
        let (part, len) = sent?;
        if let Some(u) = &upload {
            state.record_part(&u.upload_id, &part)?;
        }
        done.push(part);
        bytes_sent += len;
        report_progress(done.len() as u32);
    }
    let read = reading
        .await
        .map_err(|e| AwsError::Input(format!("the check stopped: {e}")))?
        .map_err(|source| AwsError::Io { path: path.into(), source })?;
    let print = tally.raw_print();
    let plan = Plan {
        path: path.into(),
        size: read.size,
        file_size,
        mtime_ns,
        part_size,
        crc32c: combined(&read.part_crcs, part_size, read.size),
        part_crcs: read.part_crcs,
    };
    let give_up = |upload: Option<PendingUpload>| async move {
        if let Some(u) = &upload {
            complete::abort(s3, state, u).await;
        }
    };
    // The file is the one that was read, start to end, and the one its first check saw.
    if print.bytes != file_size {
        give_up(upload).await;
        return Err(changed(path, "its size changed while it was read"));
    }
    if job.expected_crc32c.is_some_and(|expected| expected != print.crc32c) {
        give_up(upload).await;
        return Err(complete::not_as_checked(&plan));
    }
    let report = read.report;
    if !(job.keep)(&report) {
        give_up(upload).await;
        return Ok(Checked { transferred: None, report, print });
    }
    let finished = |found: Transferred, bytes_sent: u64, outcome: Outcome| {
        state.record_uploaded(target.bucket, target.key, &found.etag, plan.size, &plan.checksum())?;
        let parts = plan.parts_total().max(1);
        progress(TransferProgress {
            bytes_done: file_size,
            bytes_total: file_size,
            parts_done: parts,
            parts_total: parts,
        });
        Ok::<_, AwsError>(Transferred { bytes_sent, outcome, ..found })
    };

    if let Some(head) = existing {
        let recorded = state.uploaded_crc(target.bucket, target.key, &head.transferred.etag, plan.size)?;
        if prove::is_plan(&plan, &head, recorded.as_deref(), &[]) {
            plan.unchanged()?;
            let found = Transferred { crc32c: plan.checksum(), ..head.transferred };
            let transferred = finished(found, 0, Outcome::SkippedIdentical)?;
            return Ok(Checked { transferred: Some(transferred), report, print });
        }
        // The object is another version of the file: read it again, sending this time.
        return Box::pin(pass(s3, state, target, job, options, progress, cancel, false)).await;
    }
    let Some(upload) = upload else {
        let body = held_first.map(|p| p.bytes).unwrap_or_default();
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
        let transferred = finished(head.transferred, plan.size, Outcome::Uploaded)?;
        return Ok(Checked { transferred: Some(transferred), report, print });
    };
    done.sort_by_key(|p| p.part_number);
    match complete::complete(s3, state, target, &upload, &plan, &done, resumed).await {
        Ok(complete::Completed::Object(found)) => {
            let reused = done.iter().filter(|d| candidates.get(&d.part_number) == Some(*d)).count() as u32;
            let outcome = if resumed { Outcome::Resumed { parts_reused: reused } } else { Outcome::Uploaded };
            let transferred = finished(found, bytes_sent, outcome)?;
            Ok(Checked { transferred: Some(transferred), report, print })
        }
        Ok(complete::Completed::StalePart) => {
            tracing::warn!("S3 refused a part kept from the interrupted upload; starting it over");
            complete::abort(s3, state, &upload).await;
            Box::pin(pass(s3, state, target, job, options, progress, cancel, false)).await
        }
        Err(e) => Err(complete::abandon_changed(s3, state, &upload, e).await),
    }
}

/// The parts of an interrupted upload that S3 holds as this machine recorded them (by the listed checksum, or
/// where S3 lists none, by the ETag); `None` when S3 no longer knows the upload.
async fn held_parts(
    s3: &aws_sdk_s3::Client,
    state: &State,
    pending: &PendingUpload,
) -> Result<Option<Vec<DonePart>>, AwsError> {
    let recorded = state.done_parts(&pending.upload_id)?;
    let held: Vec<HeldPart> = match prove::listed_parts(s3, pending).await {
        Ok(Some(held)) => held,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "ListParts failed; resuming from the parts recorded locally");
            return Ok(Some(recorded));
        }
    };
    Ok(Some(
        recorded
            .into_iter()
            .filter(|r| {
                held.iter().any(|h| {
                    h.number == r.part_number
                        && match &h.checksum {
                            Some(listed) => *listed == r.crc32c,
                            None => h.etag == r.etag,
                        }
                })
            })
            .collect(),
    ))
}

/// The CRC32C of the whole NDJSON from its parts' CRC32Cs.
fn combined(part_crcs: &[u32], part_size: u64, size: u64) -> u32 {
    let mut whole: Option<u64> = None;
    for (i, &crc) in part_crcs.iter().enumerate() {
        let len = super::plan::part_len(i as u32 + 1, part_size, size);
        whole = Some(match whole {
            None => u64::from(crc),
            Some(c) => crc_fast::checksum_combine(crc_fast::CrcAlgorithm::Crc32Iscsi, c, u64::from(crc), len),
        });
    }
    whole.map_or(0, |c| c as u32)
}
