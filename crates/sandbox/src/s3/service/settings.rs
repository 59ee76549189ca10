//! Bucket configurations S3 keeps and answers back: policy (and its public status), ACL, versioning, ownership
//! controls, tagging, lifecycle, CORS and logging. Each is stored as the XML `s3s` serialises it (the policy as
//! its JSON), so what a client put is what it gets. The sandbox keeps them; of their effects it applies the
//! policy's Deny (see `s3/policy.rs`) and BlockPublicPolicy, not lifecycle expiry, CORS or log delivery.
//! Versioning may be Suspended, never Enabled: the store keeps one version of an object.

use std::collections::BTreeMap;

use http::StatusCode;
use s3s::dto;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::SandboxS3;
use super::errors::{custom_error, store_error};
use super::mapping::{OWNER_ID, owner};
use crate::s3::policy;

fn to_xml<T: s3s::xml::Serialize>(value: &T) -> S3Result<String> {
    let mut buf = Vec::new();
    value.serialize(&mut s3s::xml::Serializer::new(&mut buf)).map_err(S3Error::internal_error)?;
    String::from_utf8(buf).map_err(S3Error::internal_error)
}

fn from_xml<T: for<'x> s3s::xml::Deserialize<'x>>(text: &str) -> S3Result<T> {
    T::deserialize(&mut s3s::xml::Deserializer::new(text.as_bytes())).map_err(S3Error::internal_error)
}

fn not_found(code: &str, message: &str) -> S3Error {
    custom_error(code, StatusCode::NOT_FOUND, message.into())
}

impl SandboxS3 {
    fn setting(&self, bucket: &str, kind: &str) -> S3Result<Option<String>> {
        self.store.bucket_setting(bucket, kind).map_err(store_error)
    }

    fn set_setting(&self, bucket: &str, kind: &str, value: Option<&str>) -> S3Result<()> {
        self.store.set_bucket_setting(bucket, kind, value).map_err(store_error)
    }

    /// The bucket's policy, parsed, if it has one (what the access check enforces).
    pub(crate) fn bucket_policy(&self, bucket: &str) -> Option<serde_json::Value> {
        let text = self.store.bucket_setting(bucket, "policy").ok().flatten()?;
        serde_json::from_str(&text).ok()
    }
}

/// The tags of a tag set, checked as S3 checks them (at most `max`, keys 1 to 128 characters, values up to 256,
/// no key twice, none beginning `aws:`).
pub(super) fn tag_map(tags: &[dto::Tag], max: usize) -> S3Result<BTreeMap<String, String>> {
    let invalid = |why: &str| custom_error("InvalidTag", StatusCode::BAD_REQUEST, why.into());
    if tags.len() > max {
        return Err(invalid(&format!("Object tags cannot be greater than {max}")));
    }
    let mut out = BTreeMap::new();
    for tag in tags {
        let key = tag.key.clone().unwrap_or_default();
        let value = tag.value.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("Your TagKey cannot be prefixed with aws:"));
        }
        if out.insert(key, value).is_some() {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(out)
}

pub(super) fn tag_set(tags: &BTreeMap<String, String>) -> Vec<dto::Tag> {
    tags.iter().map(|(k, v)| dto::Tag { key: Some(k.clone()), value: Some(v.clone()) }).collect()
}

pub(super) async fn put_bucket_policy(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketPolicyInput>,
) -> S3Result<S3Response<dto::PutBucketPolicyOutput>> {
    let input = req.input;
    let bucket = s3.store.bucket(&input.bucket).map_err(store_error)?;
    let parsed = policy::check(&input.policy, &input.bucket)
        .map_err(|why| custom_error("MalformedPolicy", StatusCode::BAD_REQUEST, why))?;
    if bucket.public_access_block.is_some_and(|b| b.block_public_policy) && policy::is_public(&parsed) {
        return Err(s3_error!(
            AccessDenied,
            "User is not authorized to perform: s3:PutBucketPolicy because public policies are blocked by the BlockPublicPolicy block public access setting."
        ));
    }
    s3.set_setting(&input.bucket, "policy", Some(&input.policy))?;
    Ok(S3Response::new(dto::PutBucketPolicyOutput::default()))
}

pub(super) async fn get_bucket_policy(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketPolicyInput>,
) -> S3Result<S3Response<dto::GetBucketPolicyOutput>> {
    let policy = s3
        .setting(&req.input.bucket, "policy")?
        .ok_or_else(|| not_found("NoSuchBucketPolicy", "The bucket policy does not exist"))?;
    Ok(S3Response::new(dto::GetBucketPolicyOutput { policy: Some(policy) }))
}

pub(super) async fn delete_bucket_policy(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteBucketPolicyInput>,
) -> S3Result<S3Response<dto::DeleteBucketPolicyOutput>> {
    s3.set_setting(&req.input.bucket, "policy", None)?;
    Ok(S3Response::new(dto::DeleteBucketPolicyOutput::default()))
}

pub(super) async fn get_bucket_policy_status(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<dto::GetBucketPolicyStatusOutput>> {
    let bucket = s3.store.bucket(&req.input.bucket).map_err(store_error)?;
    let policy = s3
        .bucket_policy(&req.input.bucket)
        .ok_or_else(|| not_found("NoSuchBucketPolicy", "The bucket policy does not exist"))?;
    // RestrictPublicBuckets makes a public policy grant nothing to the public.
    let restricted = bucket.public_access_block.is_some_and(|b| b.restrict_public_buckets);
    Ok(S3Response::new(dto::GetBucketPolicyStatusOutput {
        policy_status: Some(dto::PolicyStatus { is_public: Some(policy::is_public(&policy) && !restricted) }),
    }))
}

fn ownership(s3: &SandboxS3, bucket: &str) -> S3Result<Option<dto::OwnershipControls>> {
    match s3.setting(bucket, "ownership")? {
        // Every bucket made since April 2023 has BucketOwnerEnforced until told otherwise.
        None => Ok(Some(dto::OwnershipControls {
            rules: vec![dto::OwnershipControlsRule {
                object_ownership: dto::ObjectOwnership::from_static(
                    dto::ObjectOwnership::BUCKET_OWNER_ENFORCED,
                ),
            }],
        })),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => from_xml(&text).map(Some),
    }
}

pub(super) async fn get_bucket_acl(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketAclInput>,
) -> S3Result<S3Response<dto::GetBucketAclOutput>> {
    s3.store.bucket(&req.input.bucket).map_err(store_error)?;
    let grant = dto::Grant {
        grantee: Some(dto::Grantee {
            display_name: Some("sandbox".into()),
            email_address: None,
            id: Some(OWNER_ID.into()),
            type_: dto::Type::from_static(dto::Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(dto::Permission::from_static(dto::Permission::FULL_CONTROL)),
    };
    Ok(S3Response::new(dto::GetBucketAclOutput { grants: Some(vec![grant]), owner: Some(owner()) }))
}

pub(super) async fn put_bucket_acl(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketAclInput>,
) -> S3Result<S3Response<dto::PutBucketAclOutput>> {
    let input = req.input;
    let enforced = ownership(s3, &input.bucket)?.is_some_and(|o| {
        o.rules.iter().any(|r| r.object_ownership.as_str() == dto::ObjectOwnership::BUCKET_OWNER_ENFORCED)
    });
    let private = input.acl.as_ref().is_some_and(|a| a.as_str() == dto::BucketCannedACL::PRIVATE)
        && input.access_control_policy.is_none()
        && input.grant_full_control.is_none()
        && input.grant_read.is_none()
        && input.grant_read_acp.is_none()
        && input.grant_write.is_none()
        && input.grant_write_acp.is_none();
    if enforced && !private {
        return Err(custom_error(
            "AccessControlListNotSupported",
            StatusCode::BAD_REQUEST,
            "The bucket does not allow ACLs".into(),
        ));
    }
    if !private {
        return Err(s3_error!(
            NotImplemented,
            "The Lakedrop sandbox keeps only the private ACL; grant access with a bucket policy"
        ));
    }
    Ok(S3Response::new(dto::PutBucketAclOutput::default()))
}

pub(super) async fn get_bucket_versioning(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketVersioningInput>,
) -> S3Result<S3Response<dto::GetBucketVersioningOutput>> {
    let status = s3.setting(&req.input.bucket, "versioning")?;
    Ok(S3Response::new(dto::GetBucketVersioningOutput {
        mfa_delete: None,
        status: status.map(dto::BucketVersioningStatus::from),
    }))
}

pub(super) async fn put_bucket_versioning(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketVersioningInput>,
) -> S3Result<S3Response<dto::PutBucketVersioningOutput>> {
    let input = req.input;
    s3.store.bucket(&input.bucket).map_err(store_error)?;
    match input.versioning_configuration.status.as_ref().map(dto::BucketVersioningStatus::as_str) {
        Some(dto::BucketVersioningStatus::SUSPENDED) => {
            s3.set_setting(&input.bucket, "versioning", Some(dto::BucketVersioningStatus::SUSPENDED))?;
        }
        Some(dto::BucketVersioningStatus::ENABLED) => {
            return Err(s3_error!(
                NotImplemented,
                "The Lakedrop sandbox keeps one version of each object: versioning can be Suspended, not Enabled"
            ));
        }
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
    }
    Ok(S3Response::new(dto::PutBucketVersioningOutput::default()))
}

pub(super) async fn get_bucket_ownership_controls(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<dto::GetBucketOwnershipControlsOutput>> {
    let controls = ownership(s3, &req.input.bucket)?.ok_or_else(|| {
        not_found("OwnershipControlsNotFoundError", "The bucket ownership controls were not found")
    })?;
    Ok(S3Response::new(dto::GetBucketOwnershipControlsOutput { ownership_controls: Some(controls) }))
}

pub(super) async fn put_bucket_ownership_controls(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<dto::PutBucketOwnershipControlsOutput>> {
    let input = req.input;
    let xml = to_xml(&input.ownership_controls)?;
    s3.set_setting(&input.bucket, "ownership", Some(&xml))?;
    Ok(S3Response::new(dto::PutBucketOwnershipControlsOutput::default()))
}

pub(super) async fn delete_bucket_ownership_controls(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<dto::DeleteBucketOwnershipControlsOutput>> {
    // Stored empty: deleted, as opposed to never set (which reads as BucketOwnerEnforced).
    s3.set_setting(&req.input.bucket, "ownership", Some(""))?;
    Ok(S3Response::new(dto::DeleteBucketOwnershipControlsOutput::default()))
}

pub(super) async fn put_bucket_tagging(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketTaggingInput>,
) -> S3Result<S3Response<dto::PutBucketTaggingOutput>> {
    let input = req.input;
    tag_map(&input.tagging.tag_set, 50)?;
    s3.set_setting(&input.bucket, "tagging", Some(&to_xml(&input.tagging)?))?;
    Ok(S3Response::new(dto::PutBucketTaggingOutput::default()))
}

pub(super) async fn get_bucket_tagging(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketTaggingInput>,
) -> S3Result<S3Response<dto::GetBucketTaggingOutput>> {
    let text = s3
        .setting(&req.input.bucket, "tagging")?
        .ok_or_else(|| not_found("NoSuchTagSet", "The TagSet does not exist"))?;
    let tagging: dto::Tagging = from_xml(&text)?;
    Ok(S3Response::new(dto::GetBucketTaggingOutput { tag_set: tagging.tag_set }))
}

pub(super) async fn delete_bucket_tagging(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteBucketTaggingInput>,
) -> S3Result<S3Response<dto::DeleteBucketTaggingOutput>> {
    s3.set_setting(&req.input.bucket, "tagging", None)?;
    Ok(S3Response::new(dto::DeleteBucketTaggingOutput::default()))
}

pub(super) async fn put_bucket_lifecycle_configuration(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<dto::PutBucketLifecycleConfigurationOutput>> {
    let input = req.input;
    let configuration = input.lifecycle_configuration.ok_or_else(|| {
        s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    })?;
    s3.set_setting(&input.bucket, "lifecycle", Some(&to_xml(&configuration)?))?;
    Ok(S3Response::new(dto::PutBucketLifecycleConfigurationOutput::default()))
}

pub(super) async fn get_bucket_lifecycle_configuration(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<dto::GetBucketLifecycleConfigurationOutput>> {
    let text = s3.setting(&req.input.bucket, "lifecycle")?.ok_or_else(|| {
        not_found("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")
    })?;
    let configuration: dto::BucketLifecycleConfiguration = from_xml(&text)?;
    Ok(S3Response::new(dto::GetBucketLifecycleConfigurationOutput {
        rules: Some(configuration.rules),
        ..Default::default()
    }))
}

pub(super) async fn delete_bucket_lifecycle(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<dto::DeleteBucketLifecycleOutput>> {
    s3.set_setting(&req.input.bucket, "lifecycle", None)?;
    Ok(S3Response::new(dto::DeleteBucketLifecycleOutput::default()))
}

pub(super) async fn put_bucket_cors(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketCorsInput>,
) -> S3Result<S3Response<dto::PutBucketCorsOutput>> {
    let input = req.input;
    s3.set_setting(&input.bucket, "cors", Some(&to_xml(&input.cors_configuration)?))?;
    Ok(S3Response::new(dto::PutBucketCorsOutput::default()))
}

pub(super) async fn get_bucket_cors(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketCorsInput>,
) -> S3Result<S3Response<dto::GetBucketCorsOutput>> {
    let text = s3
        .setting(&req.input.bucket, "cors")?
        .ok_or_else(|| not_found("NoSuchCORSConfiguration", "The CORS configuration does not exist"))?;
    let configuration: dto::CORSConfiguration = from_xml(&text)?;
    Ok(S3Response::new(dto::GetBucketCorsOutput { cors_rules: Some(configuration.cors_rules) }))
}

pub(super) async fn delete_bucket_cors(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteBucketCorsInput>,
) -> S3Result<S3Response<dto::DeleteBucketCorsOutput>> {
    s3.set_setting(&req.input.bucket, "cors", None)?;
    Ok(S3Response::new(dto::DeleteBucketCorsOutput::default()))
}

pub(super) async fn put_bucket_logging(
    s3: &SandboxS3,
    req: S3Request<dto::PutBucketLoggingInput>,
) -> S3Result<S3Response<dto::PutBucketLoggingOutput>> {
    let input = req.input;
    if let Some(enabled) = &input.bucket_logging_status.logging_enabled
        && !s3.store.bucket_exists(&enabled.target_bucket)
    {
        return Err(custom_error(
            "InvalidTargetBucketForLogging",
            StatusCode::BAD_REQUEST,
            "The target bucket for logging does not exist".into(),
        ));
    }
    let value = match &input.bucket_logging_status.logging_enabled {
        Some(_) => Some(to_xml(&input.bucket_logging_status)?),
        None => None,
    };
    s3.set_setting(&input.bucket, "logging", value.as_deref())?;
    Ok(S3Response::new(dto::PutBucketLoggingOutput::default()))
}

pub(super) async fn get_bucket_logging(
    s3: &SandboxS3,
    req: S3Request<dto::GetBucketLoggingInput>,
) -> S3Result<S3Response<dto::GetBucketLoggingOutput>> {
    let logging_enabled = match s3.setting(&req.input.bucket, "logging")? {
        Some(text) => from_xml::<dto::BucketLoggingStatus>(&text)?.logging_enabled,
        None => None,
    };
    Ok(S3Response::new(dto::GetBucketLoggingOutput { logging_enabled }))
}
