//! Bucket operations: create, head, list, delete, location, default encryption, Block Public Access.

use http::StatusCode;
use s3s::dto;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::super::store::{BucketEncryption, DefaultSse, PublicAccessBlock, StoreError};
use super::SandboxS3;
use super::errors::*;
use super::mapping::*;

pub(super) async fn create_bucket(
    s3: &SandboxS3,
    req: S3Request<dto::CreateBucketInput>,
) -> S3Result<S3Response<dto::CreateBucketOutput>> {
    let input = req.input;
    let constraint = input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        .map(|c| c.as_str());
    // us-east-1 is named by no constraint at all: S3 refuses it spelt out.
    if constraint == Some("us-east-1") {
        return Err(s3_error!(InvalidLocationConstraint, "The specified location-constraint is not valid"));
    }
    let region = constraint
        .map(str::to_string)
        .or_else(|| req.region.as_ref().map(|r| r.as_str().to_string()))
        .unwrap_or_else(|| s3.region.clone());
    match s3.store.create_bucket(&input.bucket, &region) {
        Ok(_) => {}
        // In us-east-1 alone, creating a bucket you already own there succeeds again, for legacy reasons.
        Err(StoreError::BucketAlreadyOwnedByYou(_))
            if region == "us-east-1" && s3.store.bucket(&input.bucket).is_ok_and(|b| b.region == region) => {}
        Err(e) => return Err(store_error(e)),
    }
    Ok(S3Response::new(dto::CreateBucketOutput { location: Some(format!("/{}", input.bucket)) }))
}

pub(super) async fn head_bucket(
    s3: &SandboxS3,
    req: S3Request<dto::HeadBucketInput>,
) -> S3Result<S3Response<dto::HeadBucketOutput>> {
    let bucket = s3.store.bucket(&req.input.bucket).map_err(store_error)?;
    Ok(S3Response::new(dto::HeadBucketOutput { bucket_region: Some(bucket.region), ..Default::default() }))
}

pub(super) async fn list_buckets(
    s3: &SandboxS3,
    req: S3Request<dto::ListBucketsInput>,
) -> S3Result<S3Response<dto::ListBucketsOutput>> {
    let prefix = req.input.prefix.unwrap_or_default();
    let buckets = s3
        .store
        .list_buckets()
        .map_err(store_error)?
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix))
        .filter(|b| req.input.bucket_region.as_ref().is_none_or(|r| *r == b.region))
        .map(|b| dto::Bucket {
            name: Some(b.name),
            creation_date: Some(timestamp(b.created)),
            bucket_region: Some(b.region),
        })
        .collect();
    Ok(S3Response::new(dto::ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner()),
        prefix: (!prefix.is_empty()).then_some(prefix),
        continuation_token: None,
    }))
}

pub(super) async fn delete_bucket(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteBucketInput>,
) -> S3Result<S3Response<dto::DeleteBucketOutput>> {
    s3.store.delete_bucket(&req.input.bucket).map_err(store_error)?;
    Ok(S3Response::new(dto::DeleteBucketOutput::default()))
}

pub(super) async fn get_bucket_location(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketLocationInput>,
) -> S3Result<S3Response<dto::GetBucketLocationOutput>> {
    let bucket = s3.store.bucket(&req.input.bucket).map_err(store_error)?;
    // S3 answers an empty LocationConstraint for us-east-1, for historical reasons.
    let location_constraint =
        (bucket.region != "us-east-1").then(|| dto::BucketLocationConstraint::from(bucket.region));
    Ok(S3Response::new(dto::GetBucketLocationOutput { location_constraint }))
}

pub(super) async fn put_bucket_encryption(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketEncryptionInput>,
) -> S3Result<S3Response<dto::PutBucketEncryptionOutput>> {
    let input = req.input;
    let malformed = || {
        s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    };
    let rule = input.server_side_encryption_configuration.rules.first().ok_or_else(malformed)?;
    let by_default = rule.apply_server_side_encryption_by_default.as_ref().ok_or_else(malformed)?;
    let default = match by_default.sse_algorithm.as_str() {
        dto::ServerSideEncryption::AES256 => {
            if by_default.kms_master_key_id.is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse"
                ));
            }
            DefaultSse::S3
        }
        dto::ServerSideEncryption::AWS_KMS => {
            DefaultSse::Kms { key_id: by_default.kms_master_key_id.clone() }
        }
        _ => return Err(malformed()),
    };
    let encryption =
        BucketEncryption { default, bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false) };
    s3.store.set_bucket_encryption(&input.bucket, Some(encryption)).map_err(store_error)?;
    Ok(S3Response::new(dto::PutBucketEncryptionOutput::default()))
}

pub(super) async fn get_bucket_encryption(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketEncryptionInput>,
) -> S3Result<S3Response<dto::GetBucketEncryptionOutput>> {
    let bucket = s3.store.bucket(&req.input.bucket).map_err(store_error)?;
    let (algorithm, kms_master_key_id) = match bucket.encryption.default {
        DefaultSse::S3 => (dto::ServerSideEncryption::AES256, None),
        DefaultSse::Kms { key_id } => (dto::ServerSideEncryption::AWS_KMS, key_id),
    };
    let rule = dto::ServerSideEncryptionRule {
        apply_server_side_encryption_by_default: Some(dto::ServerSideEncryptionByDefault {
            sse_algorithm: dto::ServerSideEncryption::from_static(algorithm),
            kms_master_key_id,
        }),
        bucket_key_enabled: Some(bucket.encryption.bucket_key_enabled),
    };
    Ok(S3Response::new(dto::GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(dto::ServerSideEncryptionConfiguration {
            rules: vec![rule],
        }),
    }))
}

pub(super) async fn delete_bucket_encryption(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<dto::DeleteBucketEncryptionOutput>> {
    // Every bucket is encrypted since 2023: deleting the configuration restores SSE-S3.
    s3.store.set_bucket_encryption(&req.input.bucket, None).map_err(store_error)?;
    Ok(S3Response::new(dto::DeleteBucketEncryptionOutput::default()))
}

pub(super) async fn put_public_access_block(
    s3: &SandboxS3,
    req: S3Request<dto::PutPublicAccessBlockInput>,
) -> S3Result<S3Response<dto::PutPublicAccessBlockOutput>> {
    let c = &req.input.public_access_block_configuration;
    let block = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    s3.store.set_public_access_block(&req.input.bucket, Some(block)).map_err(store_error)?;
    Ok(S3Response::new(dto::PutPublicAccessBlockOutput::default()))
}

pub(super) async fn get_public_access_block(
    s3: &SandboxS3,
    req: S3Request<dto::GetPublicAccessBlockInput>,
) -> S3Result<S3Response<dto::GetPublicAccessBlockOutput>> {
    let bucket = s3.store.bucket(&req.input.bucket).map_err(store_error)?;
    let block = bucket.public_access_block.ok_or_else(|| {
        custom_error(
            "NoSuchPublicAccessBlockConfiguration",
            StatusCode::NOT_FOUND,
            "The public access block configuration was not found".into(),
        )
    })?;
    Ok(S3Response::new(dto::GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(dto::PublicAccessBlockConfiguration {
            block_public_acls: Some(block.block_public_acls),
            ignore_public_acls: Some(block.ignore_public_acls),
            block_public_policy: Some(block.block_public_policy),
            restrict_public_buckets: Some(block.restrict_public_buckets),
        }),
    }))
}

pub(super) async fn delete_public_access_block(
    s3: &SandboxS3,
    req: S3Request<dto::DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<dto::DeletePublicAccessBlockOutput>> {
    s3.store.set_public_access_block(&req.input.bucket, None).map_err(store_error)?;
    Ok(S3Response::new(dto::DeletePublicAccessBlockOutput::default()))
}
