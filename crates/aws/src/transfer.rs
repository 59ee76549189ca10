//! The transfer engine: files into S3 fast, checksummed, encrypted, and never started over.
//!
//! Small files go in one PUT. Larger ones go as a multipart upload whose parts are read from the file at their
//! offsets and sent several at a time (memory: at most `concurrency` parts), each with its CRC32C, which S3
//! verifies on arrival. The upload id and every acknowledged part are written to local state as they happen, so
//! after a crash, `kill -9` or a reboot the same call resumes: it asks S3 (`ListParts`) which parts it holds,
//! checks each against the file as it is now (a changed file restarts the upload instead of corrupting it), and
//! sends only the rest. An object already at the key with the same size and CRC32C (as S3 reports it) is not
//! sent again.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
};
use futures::StreamExt;
use lakedrop_core::CancellationToken;
use lakedrop_core::state::{DonePart, PendingUpload, State};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::AwsError;

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
/// Tries per part on top of the SDK's own retries (throttling, 5xx, dropped connections).
const PART_ATTEMPTS: u32 = 5;

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
    let io = |source| AwsError::Io { path: path.into(), source };
    let meta = tokio::fs::metadata(path).await.map_err(io)?;
    let size = meta.len();
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    if let Some(found) = identical_object(s3, state, target, path, size, options).await? {
        progress(TransferProgress { bytes_done: size, bytes_total: size, parts_done: 1, parts_total: 1 });
        return Ok(Transferred { bytes_sent: 0, outcome: Outcome::SkippedIdentical, ..found });
    }
    if size <= options.single_put_max {
        return put_whole(s3, state, target, path, size, progress, cancel).await;
    }

    let path_text = path.display().to_string();
    let mut outcome = Outcome::Uploaded;
    let mut reuse: Vec<DonePart> = Vec::new();
    let mut upload = None;
    if let Some(pending) = state.pending_upload(target.bucket, target.key, &path_text)? {
        match resumable_parts(s3, state, &pending, path, size, mtime_ns).await? {
            Some(parts) => {
                outcome = Outcome::Resumed { parts_reused: parts.len() as u32 };
                reuse = parts;
                upload = Some(pending);
            }
            None => {
                abort(s3, state, &pending).await;
                outcome = Outcome::Restarted;
            }
        }
    }
    let upload = match upload {
        Some(upload) => upload,
        None => {
            let part_size = options.part_size_for(size);
            let mut create = s3
                .create_multipart_upload()
                .bucket(target.bucket)
                .key(target.key)
                .content_type("application/fhir+ndjson")
                .checksum_algorithm(ChecksumAlgorithm::Crc32C);
            if let Encryption::Kms(key_id) = target.encryption {
                create = create.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id);
            }
            let created = create.send().await.map_err(|e| AwsError::from_sdk("CreateMultipartUpload", e))?;
            let upload_id = created.upload_id().ok_or_else(|| {
                AwsError::Input("S3 returned no upload id for CreateMultipartUpload".into())
            })?;
            let pending = PendingUpload {
                upload_id: upload_id.to_string(),
                bucket: target.bucket.to_string(),
                key: target.key.to_string(),
                path: path_text.clone(),
                size,
                mtime_ns,
                part_size,
                started_unix: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64),
            };
            state.begin_upload(&pending)?;
            pending
        }
    };

    let part_size = upload.part_size;
    let parts_total = size.div_ceil(part_size).max(1) as u32;
    let reused: std::collections::BTreeMap<u32, DonePart> =
        reuse.into_iter().map(|p| (p.part_number, p)).collect();
    let mut done: Vec<DonePart> = reused.values().cloned().collect();
    let mut bytes_done: u64 = reused.keys().map(|&n| part_len(n, part_size, size)).sum();
    let mut bytes_sent = 0u64;
    progress(TransferProgress { bytes_done, bytes_total: size, parts_done: done.len() as u32, parts_total });

    let missing: Vec<u32> = (1..=parts_total).filter(|n| !reused.contains_key(n)).collect();
    let mut sends = futures::stream::iter(missing.into_iter().map(|number| {
        let upload_id = upload.upload_id.clone();
        async move {
            let (start, len) = ((u64::from(number) - 1) * part_size, part_len(number, part_size, size));
            let body = read_range(path, start, len).await?;
            let part_crc = crc_base64(crc_fast::crc32_iscsi(&body));
            let etag = send_part(s3, target, &upload_id, number, body, &part_crc).await?;
            Ok::<_, AwsError>((DonePart { part_number: number, etag, crc32c: part_crc }, len))
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
            bytes_total: size,
            parts_done: done.len() as u32,
            parts_total,
        });
    }

    done.sort_by_key(|p| p.part_number);
    let completed = CompletedMultipartUpload::builder()
        .set_parts(Some(
            done.iter()
                .map(|p| {
                    CompletedPart::builder()
                        .part_number(p.part_number as i32)
                        .e_tag(&p.etag)
                        .checksum_crc32_c(&p.crc32c)
                        .build()
                })
                .collect(),
        ))
        .build();
    let completion = s3
        .complete_multipart_upload()
        .bucket(target.bucket)
        .key(target.key)
        .upload_id(&upload.upload_id)
        .multipart_upload(completed)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CompleteMultipartUpload", e));
    match completion {
        // A part kept from the interrupted upload is no longer what S3 holds under its number (replaced since,
        // and S3 could not list its parts readably): start over rather than fail, once.
        Err(AwsError::Service { code, .. }) if code == "InvalidPart" && !reused.is_empty() => {
            tracing::warn!("S3 refused a part kept from the interrupted upload; starting it over");
            abort(s3, state, &upload).await;
            let again = Box::pin(upload_file(s3, state, target, path, options, progress, cancel)).await?;
            return Ok(Transferred {
                bytes_sent: bytes_sent + again.bytes_sent,
                outcome: Outcome::Restarted,
                ..again
            });
        }
        completion => {
            completion?;
        }
    }
    state.forget_upload(&upload.upload_id)?;
    let (stored, s3_checksum) = head_with_checksum(s3, target).await?;
    if let Some(reported) = s3_checksum.filter(|c| c.contains('-')) {
        let expected = composite_checksum(&done);
        if reported != expected {
            return Err(AwsError::Input(format!(
                "s3://{}/{} reports checksum {reported}, but the parts sent make {expected}: the object is corrupt; upload it again",
                target.bucket, target.key
            )));
        }
    }
    if stored.bytes != size {
        return Err(AwsError::Input(format!(
            "s3://{}/{} holds {} bytes after the upload, the file {}",
            target.bucket, target.key, stored.bytes, size
        )));
    }
    if outcome == Outcome::Uploaded && bytes_sent < size {
        outcome = Outcome::Resumed { parts_reused: 0 };
    }
    let crc32c = crc_base64(combined_crc(&done, part_size, size));
    state.record_uploaded(target.bucket, target.key, &stored.etag, size, &crc32c)?;
    Ok(Transferred { bytes_sent, outcome, crc32c, ..stored })
}

/// The byte length of part `number` (1-based).
fn part_len(number: u32, part_size: u64, size: u64) -> u64 {
    let start = (u64::from(number) - 1) * part_size;
    part_size.min(size.saturating_sub(start))
}

/// CRC32C as S3 writes it: the 4 big-endian bytes, base64.
pub fn crc_base64(crc: u32) -> String {
    aws_smithy_types::base64::encode(crc.to_be_bytes())
}

/// The CRC32C of a whole file, read in 8 MiB blocks.
pub async fn file_crc(path: &Path) -> Result<u32, AwsError> {
    let io = |source| AwsError::Io { path: path.into(), source };
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let mut buf = vec![0u8; 8 * MIB as usize];
    let mut crc: Option<u64> = None;
    loop {
        let n = file.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            break;
        }
        let block = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &buf[..n]);
        crc = Some(match crc {
            None => block,
            Some(c) => crc_fast::checksum_combine(crc_fast::CrcAlgorithm::Crc32Iscsi, c, block, n as u64),
        });
    }
    Ok(crc.map_or(0, |c| c as u32))
}

async fn read_range(path: &Path, start: u64, len: u64) -> Result<Vec<u8>, AwsError> {
    let io = |source| AwsError::Io { path: path.into(), source };
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(io)?;
    let mut body = vec![0u8; len as usize];
    file.read_exact(&mut body).await.map_err(io)?;
    Ok(body)
}

fn retryable(e: &AwsError) -> bool {
    match e {
        AwsError::Throttled { .. } | AwsError::Network { .. } | AwsError::Unavailable { .. } => true,
        AwsError::Service { code, .. } => code == "SlowDown" || code.starts_with('5'),
        _ => false,
    }
}

/// Sends one part with its CRC32C (S3 refuses it if the bytes do not match), retrying what is worth retrying
/// with backoff; returns its ETag. The payload is not signed (`UNSIGNED-PAYLOAD`; the headers still are): the
/// CRC32C already guards the bytes, and a SHA-256 of every byte on both sides was a quarter of the CPU an upload
/// cost (`scripts/bench-upload.sh`).
pub async fn send_part(
    s3: &aws_sdk_s3::Client,
    target: &ObjectTarget<'_>,
    upload_id: &str,
    number: u32,
    body: Vec<u8>,
    crc32c: &str,
) -> Result<String, AwsError> {
    let body = bytes::Bytes::from(body);
    let out = with_retries("UploadPart", "a part", || {
        s3.upload_part()
            .bucket(target.bucket)
            .key(target.key)
            .upload_id(upload_id)
            .part_number(number as i32)
            .checksum_crc32_c(crc32c)
            .body(ByteStream::from(body.clone()))
            .customize()
            .disable_payload_signing()
            .send()
    })
    .await?;
    out.e_tag()
        .map(str::to_string)
        .ok_or_else(|| AwsError::Input(format!("S3 returned no ETag for part {number} of {}", target.key)))
}

/// Runs an S3 call, retrying with backoff (0.4, 0.8, 1.6, 3.2 s) what is worth retrying, on top of the SDK's
/// own retries: a slow or flaky link should cost time, not the upload.
async fn with_retries<T, E, F, Fut>(operation: &'static str, what: &str, mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
        >,
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await.map_err(|e| AwsError::from_sdk(operation, e)) {
            Ok(out) => return Ok(out),
            Err(e) if attempt < PART_ATTEMPTS && retryable(&e) => {
                tracing::debug!(attempt, error = %e, "retrying {what}");
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn put_whole(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    path: &Path,
    size: u64,
    progress: &(dyn Fn(TransferProgress) + Sync),
    cancel: &CancellationToken,
) -> Result<Transferred, AwsError> {
    let body = read_range(path, 0, size).await?;
    let crc_b64 = &crc_base64(crc_fast::crc32_iscsi(&body));
    let body = bytes::Bytes::from(body);
    let put = with_retries("PutObject", "the object", || {
        let mut put = s3
            .put_object()
            .bucket(target.bucket)
            .key(target.key)
            .body(ByteStream::from(body.clone()))
            .content_type("application/fhir+ndjson")
            .checksum_crc32_c(crc_b64);
        if let Encryption::Kms(key_id) = target.encryption {
            put = put.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id);
        }
        put.customize().disable_payload_signing().send()
    });
    tokio::select! {
        () = cancel.cancelled() => return Err(AwsError::Cancelled),
        sent = put => { sent?; }
    }
    progress(TransferProgress { bytes_done: size, bytes_total: size, parts_done: 1, parts_total: 1 });
    let stored = head(s3, target).await?;
    state.record_uploaded(target.bucket, target.key, &stored.etag, size, crc_b64)?;
    Ok(Transferred { bytes_sent: size, outcome: Outcome::Uploaded, crc32c: crc_b64.to_string(), ..stored })
}

/// S3's checksum of a multipart object: the CRC32C of the parts' CRC32Cs (binary, in order), then `-N`.
fn composite_checksum(parts: &[DonePart]) -> String {
    let mut joined = Vec::with_capacity(parts.len() * 4);
    for part in parts {
        joined.extend(aws_smithy_types::base64::decode(&part.crc32c).unwrap_or_default());
    }
    format!("{}-{}", crc_base64(crc_fast::crc32_iscsi(&joined)), parts.len())
}

/// What S3 says about the object at the target.
async fn head(s3: &aws_sdk_s3::Client, target: &ObjectTarget<'_>) -> Result<Transferred, AwsError> {
    head_with_checksum(s3, target).await.map(|(t, _)| t)
}

/// What S3 says about the object, and the CRC32C it reports for it (full, or composite `…-N`), if any.
async fn head_with_checksum(
    s3: &aws_sdk_s3::Client,
    target: &ObjectTarget<'_>,
) -> Result<(Transferred, Option<String>), AwsError> {
    let out = s3
        .head_object()
        .bucket(target.bucket)
        .key(target.key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("HeadObject", e))?;
    let transferred = Transferred {
        key: target.key.to_string(),
        bytes: out.content_length().unwrap_or(0).max(0) as u64,
        bytes_sent: 0,
        outcome: Outcome::Uploaded,
        crc32c: out.checksum_crc32_c().unwrap_or_default().to_string(),
        server_side_encryption: out.server_side_encryption().map(|s| s.as_str().to_string()),
        kms_key_id: out.ssekms_key_id().map(str::to_string),
        etag: out.e_tag().unwrap_or_default().to_string(),
    };
    Ok((transferred, out.checksum_crc32_c().map(str::to_string)))
}

/// The object at the target, if it already holds this very file: same size and the same CRC32C, compared the
/// way S3 reports it (of the whole object for a single PUT, of the parts' CRC32Cs and their count, `…-N`, for a
/// multipart upload, which this engine would cut the same way). The file is read only when an object of the
/// same size is there.
async fn identical_object(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    path: &Path,
    size: u64,
    options: &TransferOptions,
) -> Result<Option<Transferred>, AwsError> {
    let found = match head(s3, target).await {
        Ok(found) => found,
        Err(AwsError::NotFound { .. }) => return Ok(None),
        // A HEAD on a missing key comes back as a bare 404 without an error code.
        Err(AwsError::Service { code, .. }) if code == "NotFound" || code == "Unknown" => return Ok(None),
        Err(e) => return Err(e),
    };
    if found.bytes != size {
        return Ok(None);
    }
    if !found.crc32c.is_empty() && reported_checksum_matches(&found.crc32c, path, size, options).await? {
        let crc32c = crc_base64(file_crc(path).await?);
        return Ok(Some(Transferred { crc32c, ..found }));
    }
    // S3 does not say, or says it differently (some implementations): trust what this machine recorded when it
    // uploaded the object, if the object still has that ETag and the file that CRC32C.
    let Some(recorded) = state.uploaded_crc(target.bucket, target.key, &found.etag, size)? else {
        return Ok(None);
    };
    let local = crc_base64(file_crc(path).await?);
    Ok((local == recorded).then_some(Transferred { crc32c: local, ..found }))
}

/// Whether S3's checksum of an object (whole, or `…-N` over parts cut as this engine cuts them) is the file's.
async fn reported_checksum_matches(
    reported: &str,
    path: &Path,
    size: u64,
    options: &TransferOptions,
) -> Result<bool, AwsError> {
    let local = match reported.split_once('-') {
        None => crc_base64(file_crc(path).await?),
        Some((_, count)) => {
            let part_size = options.part_size_for(size);
            if count.parse::<u64>().ok() != Some(size.div_ceil(part_size)) {
                return Ok(false);
            }
            let mut parts = Vec::new();
            for number in 1..=size.div_ceil(part_size) as u32 {
                let body =
                    read_range(path, (u64::from(number) - 1) * part_size, part_len(number, part_size, size))
                        .await?;
                parts.push(DonePart {
                    part_number: number,
                    etag: String::new(),
                    crc32c: crc_base64(crc_fast::crc32_iscsi(&body)),
                });
            }
            composite_checksum(&parts)
        }
    };
    Ok(local == reported)
}

/// The whole file's CRC32C from its parts' (in order), without reading it again.
fn combined_crc(parts: &[DonePart], part_size: u64, size: u64) -> u32 {
    let mut crc: Option<u64> = None;
    for part in parts {
        let bytes = aws_smithy_types::base64::decode(&part.crc32c).unwrap_or_default();
        let Ok(bytes) = <[u8; 4]>::try_from(bytes.as_slice()) else { continue };
        let part_crc = u64::from(u32::from_be_bytes(bytes));
        let len = part_len(part.part_number, part_size, size);
        crc = Some(match crc {
            None => part_crc,
            Some(c) => crc_fast::checksum_combine(crc_fast::CrcAlgorithm::Crc32Iscsi, c, part_crc, len),
        });
    }
    crc.map_or(0, |c| c as u32)
}

/// The parts of an interrupted upload that can be kept: those S3 holds whose bytes still match the file.
/// `None` when the upload cannot be continued (the file changed, or S3 no longer knows the upload).
async fn resumable_parts(
    s3: &aws_sdk_s3::Client,
    state: &State,
    pending: &PendingUpload,
    path: &Path,
    size: u64,
    mtime_ns: i64,
) -> Result<Option<Vec<DonePart>>, AwsError> {
    if pending.size != size || pending.mtime_ns != mtime_ns {
        return Ok(None);
    }
    let held = match listed_parts(s3, pending).await {
        Ok(Some(held)) => held,
        Ok(None) => return Ok(None),
        // S3 could not say (some implementations answer ListParts in a form the SDK cannot read): fall back on
        // the parts recorded here as S3 acknowledged them; CompleteMultipartUpload still checks each ETag.
        Err(e) => {
            tracing::warn!(error = %e, "ListParts failed; resuming from the parts recorded locally");
            state
                .done_parts(&pending.upload_id)?
                .into_iter()
                .map(|p| (p.part_number, p.etag, Some(p.crc32c)))
                .collect()
        }
    };
    let recorded: std::collections::HashMap<u32, String> =
        state.done_parts(&pending.upload_id)?.into_iter().map(|p| (p.part_number, p.etag)).collect();
    let mut keep = Vec::new();
    for (number, etag, remote_crc) in held {
        let len = part_len(number, pending.part_size, size);
        if len == 0 {
            continue;
        }
        let body = read_range(path, (u64::from(number) - 1) * pending.part_size, len).await?;
        let local = crc_base64(crc_fast::crc32_iscsi(&body));
        match remote_crc {
            Some(remote) if remote != local => return Ok(None),
            Some(_) => keep.push(DonePart { part_number: number, etag, crc32c: local }),
            // S3 does not say what the part holds (some implementations list no checksums): keep it only if it
            // is the very part acknowledged to this machine (same ETag); anything else is sent again, which
            // replaces it.
            None if recorded.get(&number) == Some(&etag) => {
                keep.push(DonePart { part_number: number, etag, crc32c: local });
            }
            None => {
                tracing::info!(part = number, "a part S3 holds is not the one recorded; sending it again")
            }
        }
    }
    Ok(Some(keep))
}

/// The parts S3 holds for an upload (number, ETag, CRC32C when it says); `None` when S3 no longer knows it.
async fn listed_parts(
    s3: &aws_sdk_s3::Client,
    pending: &PendingUpload,
) -> Result<Option<Vec<(u32, String, Option<String>)>>, AwsError> {
    let mut held = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let listed = s3
            .list_parts()
            .bucket(&pending.bucket)
            .key(&pending.key)
            .upload_id(&pending.upload_id)
            .set_part_number_marker(marker.clone())
            .send()
            .await;
        let listed = match listed.map_err(|e| AwsError::from_sdk("ListParts", e)) {
            Ok(listed) => listed,
            Err(AwsError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        for part in listed.parts() {
            let (Some(number), Some(etag)) = (part.part_number(), part.e_tag()) else { continue };
            held.push((number as u32, etag.to_string(), part.checksum_crc32_c().map(str::to_string)));
        }
        if listed.is_truncated() == Some(true) {
            marker = listed.next_part_number_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        } else {
            break;
        }
    }
    Ok(Some(held))
}

async fn abort(s3: &aws_sdk_s3::Client, state: &State, pending: &PendingUpload) {
    let aborted = s3
        .abort_multipart_upload()
        .bucket(&pending.bucket)
        .key(&pending.key)
        .upload_id(&pending.upload_id)
        .send()
        .await;
    if let Err(e) = aborted {
        tracing::warn!(error = %AwsError::from_sdk("AbortMultipartUpload", e), "could not abort an old upload");
    }
    if let Err(e) = state.forget_upload(&pending.upload_id) {
        tracing::warn!(error = %e, "could not forget an old upload");
    }
}

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
    /// Uploads under the prefix that Lakedrop did not start: listed for the analyst to decide, never touched.
    pub others: Vec<Orphan>,
}

/// Aborts the multipart uploads under `prefix` that Lakedrop started and abandoned, and lists the others.
/// An interrupted upload whose file is unchanged is kept (it will be resumed) unless older than `max_age`.
pub async fn clean_orphans(
    s3: &aws_sdk_s3::Client,
    state: &State,
    bucket: &str,
    prefix: &str,
    max_age: Duration,
) -> Result<Orphans, AwsError> {
    let ours: std::collections::HashMap<String, PendingUpload> =
        state.pending_uploads(bucket)?.into_iter().map(|u| (u.upload_id.clone(), u)).collect();
    let mut result = Orphans::default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let listed = s3
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListMultipartUploads", e))?;
        for upload in listed.uploads() {
            let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else { continue };
            let orphan = Orphan {
                key: key.to_string(),
                upload_id: upload_id.to_string(),
                initiated: upload.initiated().map(|t| t.secs()),
            };
            match ours.get(upload_id) {
                Some(pending) => {
                    let unchanged = std::fs::metadata(&pending.path).is_ok_and(|m| {
                        m.len() == pending.size
                            && m.modified()
                                .ok()
                                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                                .is_some_and(|d| d.as_nanos() as i64 == pending.mtime_ns)
                    });
                    let too_old = now - pending.started_unix > max_age.as_secs() as i64;
                    if !unchanged || too_old {
                        abort(s3, state, pending).await;
                        result.aborted.push(orphan);
                    }
                }
                None => result.others.push(orphan),
            }
        }
        if listed.is_truncated() == Some(true) {
            key_marker = listed.next_key_marker().map(str::to_string);
            id_marker = listed.next_upload_id_marker().map(str::to_string);
            if key_marker.is_none() {
                break;
            }
        } else {
            break;
        }
    }
    Ok(result)
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
        assert_eq!(part_len(3, 8, 20), 4);
        assert_eq!(part_len(2, 8, 16), 8);
    }

    #[test]
    fn the_whole_crc_is_the_parts_combined() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let part_size = 8192;
        let parts: Vec<DonePart> = data
            .chunks(part_size)
            .enumerate()
            .map(|(i, chunk)| DonePart {
                part_number: i as u32 + 1,
                etag: String::new(),
                crc32c: crc_base64(crc_fast::crc32_iscsi(chunk)),
            })
            .collect();
        assert_eq!(combined_crc(&parts, part_size as u64, data.len() as u64), crc_fast::crc32_iscsi(&data));
    }

    #[test]
    fn crc32c_is_written_as_s3_writes_it() {
        // The CRC-32C check value of "123456789" is 0xE3069283.
        assert_eq!(crc_fast::crc32_iscsi(b"123456789"), 0xe306_9283);
        assert_eq!(crc_base64(0xe306_9283), "4waSgw==");
    }
}
