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
mod settings;

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
                None => self.managed_key(bucket),
            },
            Some(other) => Err(s3_error!(InvalidArgument, "The encryption method {other} is not supported")),
            None => match &bucket.encryption.default {
                DefaultSse::S3 => Ok(Sse::S3),
                DefaultSse::Kms { key_id: Some(key) } => self.usable_key(key),
                DefaultSse::Kms { key_id: None } => self.managed_key(bucket),
            },
        }
    }

    /// SSE-KMS without a key id: the AWS managed `aws/s3` key, reported by its key ARN as S3 does; for a bucket
    /// of another Region than the sandbox's KMS, the store's own stand-in for that Region's key.
    fn managed_key(&self, bucket: &BucketInfo) -> S3Result<Sse> {
        let managed = (bucket.region == self.region).then(|| self.keys.aws_managed_s3_key()).flatten();
        Ok(Sse::Kms { key_arn: managed.unwrap_or_else(|| aws_managed_key_arn(&bucket.region)) })
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
    async fn put_bucket_policy(
        &self,
        req: S3Request<dto::PutBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::PutBucketPolicyOutput>> {
        settings::put_bucket_policy(self, req).await
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<dto::GetBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::GetBucketPolicyOutput>> {
        settings::get_bucket_policy(self, req).await
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<dto::DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketPolicyOutput>> {
        settings::delete_bucket_policy(self, req).await
    }

    async fn get_bucket_policy_status(
        &self,
        req: S3Request<dto::GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<dto::GetBucketPolicyStatusOutput>> {
        settings::get_bucket_policy_status(self, req).await
    }

    async fn get_bucket_acl(
        &self,
        req: S3Request<dto::GetBucketAclInput>,
    ) -> S3Result<S3Response<dto::GetBucketAclOutput>> {
        settings::get_bucket_acl(self, req).await
    }

    async fn put_bucket_acl(
        &self,
        req: S3Request<dto::PutBucketAclInput>,
    ) -> S3Result<S3Response<dto::PutBucketAclOutput>> {
        settings::put_bucket_acl(self, req).await
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<dto::GetBucketVersioningInput>,
    ) -> S3Result<S3Response<dto::GetBucketVersioningOutput>> {
        settings::get_bucket_versioning(self, req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<dto::PutBucketVersioningInput>,
    ) -> S3Result<S3Response<dto::PutBucketVersioningOutput>> {
        settings::put_bucket_versioning(self, req).await
    }

    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<dto::GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<dto::GetBucketOwnershipControlsOutput>> {
        settings::get_bucket_ownership_controls(self, req).await
    }

    async fn put_bucket_ownership_controls(
        &self,
        req: S3Request<dto::PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<dto::PutBucketOwnershipControlsOutput>> {
        settings::put_bucket_ownership_controls(self, req).await
    }

    async fn delete_bucket_ownership_controls(
        &self,
        req: S3Request<dto::DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketOwnershipControlsOutput>> {
        settings::delete_bucket_ownership_controls(self, req).await
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<dto::PutBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::PutBucketTaggingOutput>> {
        settings::put_bucket_tagging(self, req).await
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<dto::GetBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::GetBucketTaggingOutput>> {
        settings::get_bucket_tagging(self, req).await
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<dto::DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketTaggingOutput>> {
        settings::delete_bucket_tagging(self, req).await
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<dto::PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<dto::PutBucketLifecycleConfigurationOutput>> {
        settings::put_bucket_lifecycle_configuration(self, req).await
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<dto::GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<dto::GetBucketLifecycleConfigurationOutput>> {
        settings::get_bucket_lifecycle_configuration(self, req).await
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<dto::DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketLifecycleOutput>> {
        settings::delete_bucket_lifecycle(self, req).await
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<dto::PutBucketCorsInput>,
    ) -> S3Result<S3Response<dto::PutBucketCorsOutput>> {
        settings::put_bucket_cors(self, req).await
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<dto::GetBucketCorsInput>,
    ) -> S3Result<S3Response<dto::GetBucketCorsOutput>> {
        settings::get_bucket_cors(self, req).await
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<dto::DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketCorsOutput>> {
        settings::delete_bucket_cors(self, req).await
    }

    async fn put_bucket_logging(
        &self,
        req: S3Request<dto::PutBucketLoggingInput>,
    ) -> S3Result<S3Response<dto::PutBucketLoggingOutput>> {
        settings::put_bucket_logging(self, req).await
    }

    async fn get_bucket_logging(
        &self,
        req: S3Request<dto::GetBucketLoggingInput>,
    ) -> S3Result<S3Response<dto::GetBucketLoggingOutput>> {
        settings::get_bucket_logging(self, req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<dto::PutObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::PutObjectTaggingOutput>> {
        objects::put_object_tagging(self, req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<dto::GetObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::GetObjectTaggingOutput>> {
        objects::get_object_tagging(self, req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<dto::DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectTaggingOutput>> {
        objects::delete_object_tagging(self, req).await
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<dto::GetObjectAttributesInput>,
    ) -> S3Result<S3Response<dto::GetObjectAttributesOutput>> {
        objects::get_object_attributes(self, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<dto::UploadPartCopyInput>,
    ) -> S3Result<S3Response<dto::UploadPartCopyOutput>> {
        multipart::upload_part_copy(self, req).await
    }
}
