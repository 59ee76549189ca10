//! Sending: one part, or a small file in one PUT, each with its CRC32C (S3 refuses bytes that do not match it),
//! and the retries that make a flaky link cost time rather than the upload.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::{Encryption, ObjectTarget};
use crate::AwsError;

/// Tries per call on top of the SDK's own retries (throttling, 5xx, dropped connections).
const ATTEMPTS: u32 = 5;

/// Whether a failed call is worth sending again as it was.
pub fn retryable(e: &AwsError) -> bool {
    match e {
        AwsError::Throttled { .. } | AwsError::Network { .. } | AwsError::Unavailable { .. } => true,
        AwsError::Service { code, .. } => code == "SlowDown" || code.starts_with('5'),
        _ => false,
    }
}

/// Runs an idempotent call, retrying with backoff (0.4, 0.8, 1.6, 3.2 s) what is worth retrying, on top of the
/// SDK's own retries: a slow or flaky link should cost time, not the work. Only for calls that are safe to send
/// twice (reads, parts, PUTs of the same bytes, and calls that carry a client token).
pub async fn with_retries<T, E, R, F, Fut>(
    operation: &'static str,
    what: &str,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, aws_sdk_s3::error::SdkError<E, R>>>,
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await.map_err(|e| AwsError::from_sdk(operation, e)) {
            Ok(out) => return Ok(out),
            Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                tracing::debug!(attempt, error = %e, "retrying {what}");
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            Err(e) => return Err(e),
        }
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

/// Sends a small file in one PUT with its CRC32C.
pub async fn put_whole(
    s3: &aws_sdk_s3::Client,
    target: &ObjectTarget<'_>,
    body: Vec<u8>,
    crc32c: &str,
) -> Result<(), AwsError> {
    let body = bytes::Bytes::from(body);
    with_retries("PutObject", "the object", || {
        let mut put = s3
            .put_object()
            .bucket(target.bucket)
            .key(target.key)
            .body(ByteStream::from(body.clone()))
            .content_type("application/fhir+ndjson")
            .checksum_crc32_c(crc32c);
        if let Encryption::Kms(key_id) = target.encryption {
            put = put.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id);
        }
        put.customize().disable_payload_signing().send()
    })
    .await?;
    Ok(())
}
