//! [`SandboxS3`]: the S3 operations, as `s3s` calls them, over the [`ObjectStore`], split by concern as s3s and
//! moto split theirs: `buckets.rs`, `objects.rs`, `multipart.rs` hold the operations, `checksums.rs` and
//! `conditions.rs` the request checks they share, `mapping.rs` the DTO mapping, `errors.rs` the errors. The trait
//! implementation here only delegates.

#[macro_use]
mod checksums;
mod buckets;
mod conditions;
mod errors;
mod mapping;
mod multipart;
mod objects;

use errors::kms_error;

use std::sync::Arc;

use s3s::dto;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use super::KeyResolver;
use super::store::{BucketInfo, DefaultSse, ObjectStore, Sse, aws_managed_key_arn, is_aws_managed};

/// The S3 API over an [`ObjectStore`]; give it to `s3s::service::S3ServiceBuilder`.
#[derive(Clone)]
pub struct SandboxS3 {
    store: Arc<ObjectStore>,
    keys: Arc<dyn KeyResolver>,
    region: String,
    quirks: crate::Quirks,
}

impl SandboxS3 {
    /// `region` is where buckets go when CreateBucket names none and the request's signature names none.
    pub fn new(store: Arc<ObjectStore>, keys: Arc<dyn KeyResolver>, region: &str) -> SandboxS3 {
        SandboxS3 { store, keys, region: region.to_string(), quirks: crate::Quirks::default() }
    }

    /// Answers as another S3 implementation would where `quirks` says so.
    pub fn with_quirks(self, quirks: crate::Quirks) -> SandboxS3 {
        SandboxS3 { quirks, ..self }
    }

    /// The encryption a new object gets: what the request asks for, else the bucket default. A KMS key must
    /// exist and be enabled, except S3's AWS-managed key, which always does.
    fn write_sse(
        &self,
        bucket: &BucketInfo,
        requested: Option<&dto::ServerSideEncryption>,
        key_id: Option<&str>,
    ) -> S3Result<Sse> {
        let bucket_kms_key = match &bucket.encryption.default {
            DefaultSse::Kms { key_id } => key_id.as_deref(),
            DefaultSse::S3 => None,
        };
        match requested.map(dto::ServerSideEncryption::as_str) {
            Some("AES256") | None if key_id.is_some() => Err(s3_error!(
                InvalidArgument,
                "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
            )),
            Some("AES256") => Ok(Sse::S3),
            Some("aws:kms") => match key_id.or(bucket_kms_key) {
                Some(key) => self.usable_key(key),
                None => Ok(Sse::Kms { key_arn: aws_managed_key_arn(&bucket.region) }),
            },
            Some(other) => Err(s3_error!(InvalidArgument, "The encryption method {other} is not supported")),
            None => match &bucket.encryption.default {
                DefaultSse::S3 => Ok(Sse::S3),
                DefaultSse::Kms { key_id: Some(key) } => self.usable_key(key),
                DefaultSse::Kms { key_id: None } => {
                    Ok(Sse::Kms { key_arn: aws_managed_key_arn(&bucket.region) })
                }
            },
        }
    }

    fn usable_key(&self, key: &str) -> S3Result<Sse> {
        match self.keys.resolve_enabled_key(key) {
            Ok(key_arn) => Ok(Sse::Kms { key_arn }),
            Err(problem) => Err(kms_error(problem, key)),
        }
    }

    /// Reading (or adding to) an SSE-KMS object needs its key, as in AWS: a deleted or disabled key makes the
    /// object unreadable.
    fn check_key_usable(&self, sse: &Sse) -> S3Result<()> {
        match sse {
            Sse::Kms { key_arn } if !is_aws_managed(key_arn) => self.usable_key(key_arn).map(|_| ()),
            Sse::Kms { .. } | Sse::S3 => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl S3 for SandboxS3 {
    async fn create_bucket(
        &self,
        req: S3Request<dto::CreateBucketInput>,
    ) -> S3Result<S3Response<dto::CreateBucketOutput>> {
        buckets::create_bucket(self, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<dto::HeadBucketInput>,
    ) -> S3Result<S3Response<dto::HeadBucketOutput>> {
        buckets::head_bucket(self, req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<dto::ListBucketsInput>,
    ) -> S3Result<S3Response<dto::ListBucketsOutput>> {
        buckets::list_buckets(self, req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<dto::DeleteBucketInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketOutput>> {
        buckets::delete_bucket(self, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<dto::GetBucketLocationInput>,
    ) -> S3Result<S3Response<dto::GetBucketLocationOutput>> {
        buckets::get_bucket_location(self, req).await
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<dto::PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<dto::PutBucketEncryptionOutput>> {
        buckets::put_bucket_encryption(self, req).await
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<dto::GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<dto::GetBucketEncryptionOutput>> {
        buckets::get_bucket_encryption(self, req).await
    }

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<dto::DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketEncryptionOutput>> {
        buckets::delete_bucket_encryption(self, req).await
    }

    async fn put_public_access_block(
        &self,
        req: S3Request<dto::PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<dto::PutPublicAccessBlockOutput>> {
        buckets::put_public_access_block(self, req).await
    }

    async fn get_public_access_block(
        &self,
        req: S3Request<dto::GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<dto::GetPublicAccessBlockOutput>> {
        buckets::get_public_access_block(self, req).await
    }

    async fn delete_public_access_block(
        &self,
        req: S3Request<dto::DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<dto::DeletePublicAccessBlockOutput>> {
        buckets::delete_public_access_block(self, req).await
    }

    async fn put_object(
        &self,
        req: S3Request<dto::PutObjectInput>,
    ) -> S3Result<S3Response<dto::PutObjectOutput>> {
        objects::put_object(self, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<dto::GetObjectInput>,
    ) -> S3Result<S3Response<dto::GetObjectOutput>> {
        objects::get_object(self, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<dto::HeadObjectInput>,
    ) -> S3Result<S3Response<dto::HeadObjectOutput>> {
        objects::head_object(self, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<dto::DeleteObjectInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectOutput>> {
        objects::delete_object(self, req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<dto::DeleteObjectsInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectsOutput>> {
        objects::delete_objects(self, req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<dto::CopyObjectInput>,
    ) -> S3Result<S3Response<dto::CopyObjectOutput>> {
        objects::copy_object(self, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<dto::ListObjectsV2Input>,
    ) -> S3Result<S3Response<dto::ListObjectsV2Output>> {
        objects::list_objects_v2(self, req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<dto::ListObjectsInput>,
    ) -> S3Result<S3Response<dto::ListObjectsOutput>> {
        objects::list_objects(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<dto::CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CreateMultipartUploadOutput>> {
        multipart::create_multipart_upload(self, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<dto::UploadPartInput>,
    ) -> S3Result<S3Response<dto::UploadPartOutput>> {
        multipart::upload_part(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CompleteMultipartUploadOutput>> {
        multipart::complete_multipart_upload(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<dto::AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::AbortMultipartUploadOutput>> {
        multipart::abort_multipart_upload(self, req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<dto::ListPartsInput>,
    ) -> S3Result<S3Response<dto::ListPartsOutput>> {
        multipart::list_parts(self, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<dto::ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<dto::ListMultipartUploadsOutput>> {
        multipart::list_multipart_uploads(self, req).await
    }
}
