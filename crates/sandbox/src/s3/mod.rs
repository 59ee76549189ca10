//! The sandbox's S3: buckets, objects and multipart uploads with the semantics the AWS SDKs and CLI rely on,
//! persisted in a directory so they survive restarts.
//!
//! Two layers. [`ObjectStore`] is plain synchronous Rust over SQLite (metadata) and files (bytes); the HealthLake
//! job runner uses it in-process. [`SandboxS3`] implements the `s3s` crate's [`s3s::S3`] trait over it, turning
//! wire requests into store calls: it streams bodies to disk and back, verifies `x-amz-checksum-*` values
//! (headers or aws-chunked trailers), applies bucket default encryption and asks a [`KeyResolver`] (the
//! sandbox's KMS) whether an SSE-KMS key may be used. `s3s` itself parses requests, checks SigV4 and writes
//! responses.
//!
//! Bytes are encrypted at rest as S3 does (`at_rest.rs`): envelope encryption with a data key per object and per
//! part, wrapped by the object's KMS key (through [`DataKeys`], the sandbox's KMS) or by the store's own root key.
//!
//! Deliberately not here: versioning, object lock, ACLs and bucket policies (every request with valid
//! credentials may do everything), lifecycle, tagging, website hosting, SSE-C, UploadPartCopy, and S3 Bucket
//! Keys. Unimplemented operations answer `NotImplemented`.

mod at_rest;
pub(crate) mod auth;
mod body;
mod checksum;
pub(crate) mod policy;
mod service;
mod store;

pub use at_rest::{DataKeyError, DataKeys, ObjectReader};
pub use checksum::{ChecksumAlgorithm, ChecksumType, Checksums};
pub use service::SandboxS3;
pub use store::{
    Blob, BlobWriter, BucketEncryption, BucketInfo, Clock, CompletedPart, DefaultSse, ListPage, ListQuery,
    MAX_PART_NUMBER, MIN_PART_SIZE, ObjectInfo, ObjectStore, ObjectWrite, PartInfo, PublicAccessBlock, Sse,
    StoreError, UploadInfo, aws_managed_key_arn, is_aws_managed,
};

/// The S3 operations the sandbox answers (as the API names them); `lakedrop sandbox serve --help` and the README
/// list them, and the conformance suite calls each.
pub const SUPPORTED_OPERATIONS: &[&str] = &[
    "CreateBucket",
    "HeadBucket",
    "ListBuckets",
    "DeleteBucket",
    "GetBucketLocation",
    "PutBucketEncryption",
    "GetBucketEncryption",
    "DeleteBucketEncryption",
    "PutPublicAccessBlock",
    "GetPublicAccessBlock",
    "DeletePublicAccessBlock",
    "PutObject",
    "GetObject",
    "HeadObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "ListObjects",
    "ListObjectsV2",
    "CreateMultipartUpload",
    "UploadPart",
    "ListParts",
    "ListMultipartUploads",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "PutBucketPolicy",
    "GetBucketPolicy",
    "DeleteBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketAcl",
    "PutBucketAcl",
    "GetBucketVersioning",
    "PutBucketVersioning",
    "GetBucketOwnershipControls",
    "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls",
    "PutBucketTagging",
    "GetBucketTagging",
    "DeleteBucketTagging",
    "PutBucketLifecycleConfiguration",
    "GetBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "PutBucketCors",
    "GetBucketCors",
    "DeleteBucketCors",
    "PutBucketLogging",
    "GetBucketLogging",
    "PutObjectTagging",
    "GetObjectTagging",
    "DeleteObjectTagging",
    "GetObjectAttributes",
    "UploadPartCopy",
];

/// The KMS side of SSE-KMS: S3 asks it whether a key may be used, on writes and on reads.
pub trait KeyResolver: Send + Sync + 'static {
    /// Resolves a key id, key ARN or alias name to the key's ARN if it exists and is enabled.
    fn resolve_enabled_key(&self, key: &str) -> Result<String, KeyProblem>;

    /// The ARN of the AWS managed key S3 uses for SSE-KMS without a key id (`alias/aws/s3`), made on first use;
    /// `None` when this KMS has no such key, and the store's own stand-in is used.
    fn aws_managed_s3_key(&self) -> Option<String> {
        None
    }
}

/// Why a KMS key cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// No key with that id, ARN or alias (S3 answers `KMS.NotFoundException`).
    NotFound,
    /// The key exists but is disabled (S3 answers `KMS.DisabledException`).
    Disabled,
}

/// The sandbox's KMS makes and opens objects' data keys, with GenerateDataKey's and Decrypt's checks.
impl DataKeys for crate::kms::Kms {
    fn generate(&self, key_arn: &str) -> Result<([u8; 32], Vec<u8>), DataKeyError> {
        self.generate_data_key(key_arn).map_err(|e| data_key_error(&e, key_arn))
    }

    fn unwrap(&self, wrapped: &[u8]) -> Result<[u8; 32], DataKeyError> {
        self.decrypt_data_key(wrapped).map_err(|e| data_key_error(&e, ""))
    }
}

fn data_key_error(e: &crate::protocol::ApiError, key: &str) -> DataKeyError {
    let problem = match e.type_name {
        "DisabledException" => KeyProblem::Disabled,
        "NotFoundException" => KeyProblem::NotFound,
        _ => return DataKeyError::Failed(e.message.clone()),
    };
    DataKeyError::Key { problem, key: key.to_string() }
}

/// The sandbox's KMS answers S3's key questions. (Lives here only because the S3 side owns the trait; it can
/// move next to `Kms` at any time.)
impl KeyResolver for crate::kms::Kms {
    fn resolve_enabled_key(&self, key: &str) -> Result<String, KeyProblem> {
        self.enabled_key_arn(key).map_err(|state| match state {
            crate::kms::KeyState::NotFound => KeyProblem::NotFound,
            crate::kms::KeyState::Disabled => KeyProblem::Disabled,
        })
    }

    fn aws_managed_s3_key(&self) -> Option<String> {
        self.aws_managed_key_arn("s3").ok()
    }
}
