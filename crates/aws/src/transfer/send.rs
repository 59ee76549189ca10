//! Sending: one part, or a small file in one PUT, each with its CRC32C (S3 refuses bytes that do not match it),
//! and the retries that make a flaky link cost time rather than the upload.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::{Encryption, ObjectTarget};
use crate::AwsError;
use crate::retry::with_retries;

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
