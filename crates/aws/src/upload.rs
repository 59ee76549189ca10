//! Putting local files into S3 with SSE-KMS and an additional checksum that S3 verifies on arrival.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ServerSideEncryption};

use crate::AwsError;

/// How objects are encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-KMS under this key (id, ARN or alias).
    Kms(String),
    /// Whatever the bucket's default encryption is.
    BucketDefault,
}

/// What S3 says it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub key: String,
    pub bytes: u64,
    /// `aws:kms` or `AES256`, as S3 reports it.
    pub server_side_encryption: Option<String>,
    pub kms_key_id: Option<String>,
    /// Base64 CRC32C S3 computed and checked.
    pub checksum_crc32c: Option<String>,
}

/// Uploads one file in a single PUT (S3 verifies its CRC32C); multipart for large files is the transfer engine's.
pub async fn put_file(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &Path,
    encryption: &Encryption,
) -> Result<Uploaded, AwsError> {
    let bytes =
        tokio::fs::metadata(path).await.map_err(|source| AwsError::Io { path: path.into(), source })?.len();
    let body = ByteStream::from_path(path)
        .await
        .map_err(|e| AwsError::Io { path: path.into(), source: std::io::Error::other(e.to_string()) })?;
    let mut put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .content_type("application/fhir+ndjson")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C);
    if let Encryption::Kms(key_id) = encryption {
        put = put.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id);
    }
    let out = put.send().await.map_err(|e| AwsError::from_sdk("PutObject", e))?;
    Ok(Uploaded {
        key: key.to_string(),
        bytes,
        server_side_encryption: out.server_side_encryption().map(|s| s.as_str().to_string()),
        kms_key_id: out.ssekms_key_id().map(str::to_string),
        checksum_crc32c: out.checksum_crc32_c().map(str::to_string),
    })
}
