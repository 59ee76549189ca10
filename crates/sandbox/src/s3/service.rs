//! [`SandboxS3`]: the S3 operations, as `s3s` calls them, over the [`ObjectStore`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as TOKEN};
use http::{HeaderMap, StatusCode};
use s3s::dto;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use time::OffsetDateTime;

use super::body::{blocking, reader_body, receive};
use super::checksum::{ChecksumAlgorithm, ChecksumType, Checksums};
use super::store::{
    BucketEncryption, BucketInfo, CompletedPart, DefaultSse, ListQuery, MAX_PART_NUMBER, ObjectInfo,
    ObjectStore, ObjectWrite, PublicAccessBlock, Sse, StoreError, aws_managed_key_arn, is_aws_managed,
};
use super::{KeyProblem, KeyResolver};

/// S3's page size limit for listings.
const MAX_PAGE: i32 = 1000;
/// The canonical user id the sandbox reports as owner of everything (the example id from AWS's docs).
const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
/// What S3 reports for objects stored without a content type.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

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

fn kms_error(problem: KeyProblem, key: &str) -> S3Error {
    let (code, message) = match problem {
        KeyProblem::NotFound => ("KMS.NotFoundException", format!("Invalid keyId '{key}'")),
        KeyProblem::Disabled => ("KMS.DisabledException", format!("{key} is disabled.")),
    };
    custom_error(code, StatusCode::BAD_REQUEST, message)
}

fn custom_error(code: &str, status: StatusCode, message: String) -> S3Error {
    let mut err = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    err.set_status_code(status);
    err
}

/// The S3 error for each store error, with AWS's messages.
fn store_error(e: StoreError) -> S3Error {
    match e {
        StoreError::NoSuchBucket(_) => s3_error!(NoSuchBucket, "The specified bucket does not exist"),
        StoreError::BucketAlreadyOwnedByYou(_) => s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        ),
        StoreError::BucketNotEmpty(_) => {
            s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty")
        }
        StoreError::NoSuchKey { .. } => s3_error!(NoSuchKey, "The specified key does not exist."),
        StoreError::NoSuchUpload(_) => s3_error!(
            NoSuchUpload,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        ),
        StoreError::NoParts => s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ),
        StoreError::InvalidPartOrder => s3_error!(
            InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        ),
        StoreError::InvalidPart { .. } => s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        ),
        StoreError::EntityTooSmall { .. } => {
            s3_error!(EntityTooSmall, "Your proposed upload is smaller than the minimum allowed object size.")
        }
        StoreError::BadDigest { algorithm } => bad_digest(algorithm),
        StoreError::Key { problem, key } => kms_error(problem, &key),
        StoreError::Io(e) => S3Error::internal_error(e),
        StoreError::Database(e) => S3Error::internal_error(e),
    }
}

fn bad_digest(algorithm: ChecksumAlgorithm) -> S3Error {
    s3_error!(BadDigest, "The {} you specified did not match the calculated checksum.", algorithm.as_str())
}

fn invalid_checksum_header(algorithm: ChecksumAlgorithm) -> S3Error {
    s3_error!(InvalidRequest, "Value for {} header is invalid.", algorithm.header())
}

/// What a request says about the checksum of its body.
struct ChecksumRequest {
    /// A value sent as a header (S3 allows one).
    header: Option<(ChecksumAlgorithm, String)>,
    /// `x-amz-sdk-checksum-algorithm`.
    declared: Option<ChecksumAlgorithm>,
    /// The checksum named in `x-amz-trailer`, whose value follows the aws-chunked body.
    trailer: Option<ChecksumAlgorithm>,
}

impl ChecksumRequest {
    fn parse(
        values: [(ChecksumAlgorithm, Option<&String>); 5],
        declared: Option<&dto::ChecksumAlgorithm>,
        headers: &HeaderMap,
    ) -> S3Result<ChecksumRequest> {
        let mut given = values.into_iter().filter_map(|(a, v)| v.map(|v| (a, v.clone())));
        let header = given.next();
        if given.next().is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        if let Some((algorithm, value)) = &header
            && !algorithm.is_valid_value(value)
        {
            return Err(invalid_checksum_header(*algorithm));
        }
        let declared = declared
            .map(|d| {
                ChecksumAlgorithm::parse(d.as_str()).ok_or_else(|| {
                    s3_error!(
                        InvalidRequest,
                        "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"
                    )
                })
            })
            .transpose()?;
        let trailer = headers
            .get_all("x-amz-trailer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|name| {
                ChecksumAlgorithm::ALL.into_iter().find(|a| a.header().eq_ignore_ascii_case(name.trim()))
            });
        Ok(ChecksumRequest { header, declared, trailer })
    }

    /// The algorithm the client computed, if any.
    fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.header.as_ref().map(|(a, _)| *a).or(self.trailer).or(self.declared)
    }

    /// The checksums to compute while receiving the body.
    fn algorithms(&self, also: Option<ChecksumAlgorithm>) -> Vec<ChecksumAlgorithm> {
        let mut all: Vec<ChecksumAlgorithm> =
            [self.header.as_ref().map(|(a, _)| *a), self.trailer, self.declared, also]
                .into_iter()
                .flatten()
                .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Checks the received bytes against the header value and the trailer value (available once the body has
    /// been read).
    fn verify(&self, computed: &Checksums, trailers: Option<HeaderMap>) -> S3Result<()> {
        let mut expected = Vec::new();
        if let Some((algorithm, value)) = &self.header {
            expected.push((*algorithm, value.clone()));
        }
        if let Some(algorithm) = self.trailer {
            let value = trailers
                .as_ref()
                .and_then(|t| t.get(algorithm.header()))
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| algorithm.is_valid_value(v))
                .ok_or_else(|| invalid_checksum_header(algorithm))?;
            expected.push((algorithm, value.to_string()));
        }
        for (algorithm, value) in expected {
            if computed.get(algorithm) != Some(value.as_str()) {
                return Err(bad_digest(algorithm));
            }
        }
        Ok(())
    }
}

fn verify_content_md5(content_md5: Option<&String>, md5_hex: Option<String>) -> S3Result<()> {
    let Some(given) = content_md5 else { return Ok(()) };
    let given = BASE64
        .decode(given)
        .ok()
        .filter(|raw| raw.len() == 16)
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."))?;
    if md5_hex != Some(hex::encode(given)) {
        return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
    }
    Ok(())
}

fn check_length(declared: Option<i64>, received: u64) -> S3Result<()> {
    match declared {
        Some(n) if u64::try_from(n).ok() != Some(received) => Err(s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        )),
        _ => Ok(()),
    }
}

fn etag(quoted: &str) -> dto::ETag {
    dto::ETag::Strong(quoted.trim_matches('"').to_string())
}

fn timestamp(t: OffsetDateTime) -> dto::Timestamp {
    dto::Timestamp::from(t)
}

fn sse_algorithm(sse: &Sse) -> Option<dto::ServerSideEncryption> {
    Some(dto::ServerSideEncryption::from_static(sse.algorithm()))
}

fn sse_key(sse: &Sse) -> Option<String> {
    sse.kms_key_arn().map(str::to_string)
}

fn user_metadata(metadata: Option<dto::Metadata>) -> BTreeMap<String, String> {
    metadata.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()
}

fn metadata_out(metadata: &BTreeMap<String, String>) -> Option<dto::Metadata> {
    (!metadata.is_empty())
        .then(|| metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>())
}

/// The five `checksum_*` fields of a DTO, in [`ChecksumAlgorithm::ALL`] order.
macro_rules! checksum_fields {
    ($x:expr) => {
        [
            (ChecksumAlgorithm::Crc32, $x.checksum_crc32.as_ref()),
            (ChecksumAlgorithm::Crc32c, $x.checksum_crc32c.as_ref()),
            (ChecksumAlgorithm::Crc64Nvme, $x.checksum_crc64nvme.as_ref()),
            (ChecksumAlgorithm::Sha1, $x.checksum_sha1.as_ref()),
            (ChecksumAlgorithm::Sha256, $x.checksum_sha256.as_ref()),
        ]
    };
}

/// Sets a DTO's five `checksum_*` fields from stored checksums.
macro_rules! set_checksums {
    ($x:expr, $sums:expr) => {{
        let sums: &Checksums = $sums;
        $x.checksum_crc32 = sums.crc32.clone();
        $x.checksum_crc32c = sums.crc32c.clone();
        $x.checksum_crc64nvme = sums.crc64nvme.clone();
        $x.checksum_sha1 = sums.sha1.clone();
        $x.checksum_sha256 = sums.sha256.clone();
    }};
}

fn checksums_from(values: [(ChecksumAlgorithm, Option<&String>); 5]) -> Checksums {
    let mut sums = Checksums::default();
    for (algorithm, value) in values {
        if let Some(value) = value {
            sums.set(algorithm, value.clone());
        }
    }
    sums
}

fn checksum_type_out(t: Option<ChecksumType>) -> Option<dto::ChecksumType> {
    t.map(|t| dto::ChecksumType::from_static(t.as_str()))
}

fn checksum_mode_enabled(mode: Option<&dto::ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(dto::ChecksumMode::ENABLED))
}

/// HTTP conditional-request rules as S3 applies them to GET and HEAD.
fn check_conditions(
    info: &ObjectInfo,
    if_match: Option<&dto::ETagCondition>,
    if_none_match: Option<&dto::ETagCondition>,
    if_modified_since: Option<&dto::Timestamp>,
    if_unmodified_since: Option<&dto::Timestamp>,
) -> S3Result<()> {
    let ours = info.etag.trim_matches('"');
    let matches = |c: &dto::ETagCondition| match c {
        dto::ETagCondition::Any => true,
        dto::ETagCondition::ETag(t) => t.value() == ours,
    };
    // HTTP dates have whole seconds.
    let modified = info.last_modified.replace_nanosecond(0).unwrap_or(info.last_modified);
    let since = |t: &dto::Timestamp| OffsetDateTime::from(t.clone());
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    } else if let Some(t) = if_unmodified_since
        && modified > since(t)
    {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(s3_error!(NotModified));
        }
    } else if let Some(t) = if_modified_since
        && modified <= since(t)
    {
        return Err(s3_error!(NotModified));
    }
    Ok(())
}

fn object_out(info: &ObjectInfo) -> dto::Object {
    dto::Object {
        key: Some(info.key.clone()),
        size: Some(i64::try_from(info.size).unwrap_or(i64::MAX)),
        e_tag: Some(etag(&info.etag)),
        last_modified: Some(timestamp(info.last_modified)),
        storage_class: Some(dto::ObjectStorageClass::from_static(dto::ObjectStorageClass::STANDARD)),
        checksum_algorithm: (!info.checksums.is_empty()).then(|| {
            info.checksums.iter().map(|(a, _)| dto::ChecksumAlgorithm::from_static(a.as_str())).collect()
        }),
        checksum_type: checksum_type_out(info.checksum_type),
        ..dto::Object::default()
    }
}

fn owner() -> dto::Owner {
    dto::Owner { display_name: Some("sandbox".into()), id: Some(OWNER_ID.into()) }
}

/// `encoding-type=url`: the AWS CLI asks for it on every listing and URL-decodes what comes back.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encoder(encoding: Option<&dto::EncodingType>) -> impl Fn(String) -> String + use<> {
    let url = encoding.is_some_and(|e| e.as_str() == dto::EncodingType::URL);
    move |s| if url { url_encode(&s) } else { s }
}

fn page_size(requested: Option<i32>) -> S3Result<usize> {
    let n = requested.unwrap_or(MAX_PAGE);
    if n < 0 {
        return Err(s3_error!(InvalidArgument, "Provided max-keys not an integer or within integer range"));
    }
    Ok(usize::try_from(n.min(MAX_PAGE)).unwrap_or(0))
}

fn part_number(n: i32) -> S3Result<u32> {
    u32::try_from(n).ok().filter(|n| (1..=MAX_PART_NUMBER).contains(n)).ok_or_else(|| {
        s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
    })
}

fn parse_checksum_algorithm(a: &dto::ChecksumAlgorithm) -> S3Result<ChecksumAlgorithm> {
    ChecksumAlgorithm::parse(a.as_str())
        .ok_or_else(|| s3_error!(InvalidRequest, "Checksum algorithm provided is unsupported."))
}

#[async_trait::async_trait]
impl S3 for SandboxS3 {
    // ---- buckets ----

    async fn create_bucket(
        &self,
        req: S3Request<dto::CreateBucketInput>,
    ) -> S3Result<S3Response<dto::CreateBucketOutput>> {
        let input = req.input;
        let region = input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|c| c.as_str().to_string())
            .or_else(|| req.region.as_ref().map(|r| r.as_str().to_string()))
            .unwrap_or_else(|| self.region.clone());
        self.store.create_bucket(&input.bucket, &region).map_err(store_error)?;
        Ok(S3Response::new(dto::CreateBucketOutput { location: Some(format!("/{}", input.bucket)) }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<dto::HeadBucketInput>,
    ) -> S3Result<S3Response<dto::HeadBucketOutput>> {
        let bucket = self.store.bucket(&req.input.bucket).map_err(store_error)?;
        Ok(S3Response::new(dto::HeadBucketOutput {
            bucket_region: Some(bucket.region),
            ..Default::default()
        }))
    }

    async fn list_buckets(
        &self,
        req: S3Request<dto::ListBucketsInput>,
    ) -> S3Result<S3Response<dto::ListBucketsOutput>> {
        let prefix = req.input.prefix.unwrap_or_default();
        let buckets = self
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

    async fn delete_bucket(
        &self,
        req: S3Request<dto::DeleteBucketInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketOutput>> {
        self.store.delete_bucket(&req.input.bucket).map_err(store_error)?;
        Ok(S3Response::new(dto::DeleteBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<dto::GetBucketLocationInput>,
    ) -> S3Result<S3Response<dto::GetBucketLocationOutput>> {
        let bucket = self.store.bucket(&req.input.bucket).map_err(store_error)?;
        // S3 answers an empty LocationConstraint for us-east-1, for historical reasons.
        let location_constraint =
            (bucket.region != "us-east-1").then(|| dto::BucketLocationConstraint::from(bucket.region));
        Ok(S3Response::new(dto::GetBucketLocationOutput { location_constraint }))
    }

    async fn put_bucket_encryption(
        &self,
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
        self.store.set_bucket_encryption(&input.bucket, Some(encryption)).map_err(store_error)?;
        Ok(S3Response::new(dto::PutBucketEncryptionOutput::default()))
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<dto::GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<dto::GetBucketEncryptionOutput>> {
        let bucket = self.store.bucket(&req.input.bucket).map_err(store_error)?;
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

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<dto::DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketEncryptionOutput>> {
        // Every bucket is encrypted since 2023: deleting the configuration restores SSE-S3.
        self.store.set_bucket_encryption(&req.input.bucket, None).map_err(store_error)?;
        Ok(S3Response::new(dto::DeleteBucketEncryptionOutput::default()))
    }

    async fn put_public_access_block(
        &self,
        req: S3Request<dto::PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<dto::PutPublicAccessBlockOutput>> {
        let c = &req.input.public_access_block_configuration;
        let block = PublicAccessBlock {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        };
        self.store.set_public_access_block(&req.input.bucket, Some(block)).map_err(store_error)?;
        Ok(S3Response::new(dto::PutPublicAccessBlockOutput::default()))
    }

    async fn get_public_access_block(
        &self,
        req: S3Request<dto::GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<dto::GetPublicAccessBlockOutput>> {
        let bucket = self.store.bucket(&req.input.bucket).map_err(store_error)?;
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

    async fn delete_public_access_block(
        &self,
        req: S3Request<dto::DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<dto::DeletePublicAccessBlockOutput>> {
        self.store.set_public_access_block(&req.input.bucket, None).map_err(store_error)?;
        Ok(S3Response::new(dto::DeletePublicAccessBlockOutput::default()))
    }

    // ---- objects ----

    async fn put_object(
        &self,
        req: S3Request<dto::PutObjectInput>,
    ) -> S3Result<S3Response<dto::PutObjectOutput>> {
        let trailing = req.trailing_headers;
        let input = req.input;
        let bucket = self.store.bucket(&input.bucket).map_err(store_error)?;
        if input.sse_customer_algorithm.is_some() {
            return Err(s3_error!(NotImplemented, "SSE-C is not supported by the sandbox"));
        }
        if input.if_match.is_some() || input.if_none_match.is_some() {
            let existing = match self.store.head_object(&input.bucket, &input.key) {
                Ok(info) => Some(info),
                Err(StoreError::NoSuchKey { .. }) => None,
                Err(e) => return Err(store_error(e)),
            };
            let ours = existing.as_ref().map(|i| i.etag.trim_matches('"'));
            let holds = |c: &dto::ETagCondition| match c {
                dto::ETagCondition::Any => ours.is_some(),
                dto::ETagCondition::ETag(t) => ours == Some(t.value()),
            };
            if input.if_none_match.as_ref().is_some_and(holds)
                || input.if_match.as_ref().is_some_and(|c| !holds(c))
            {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
        let sse =
            self.write_sse(&bucket, input.server_side_encryption.as_ref(), input.ssekms_key_id.as_deref())?;
        let checksum =
            ChecksumRequest::parse(checksum_fields!(input), input.checksum_algorithm.as_ref(), &req.headers)?;
        // S3 gives objects uploaded without a checksum a CRC64NVME one.
        let mut algorithms = checksum.algorithms(None);
        if algorithms.is_empty() {
            algorithms.push(ChecksumAlgorithm::Crc64Nvme);
        }

        let blob = receive(&self.store, input.body, &algorithms, &sse).await?;
        checksum.verify(blob.checksums(), trailing.and_then(|t| t.take()))?;
        verify_content_md5(input.content_md5.as_ref(), blob.md5_hex())?;
        check_length(input.content_length, blob.size())?;

        let write = ObjectWrite {
            content_type: input.content_type,
            metadata: user_metadata(input.metadata),
            sse: Some(sse),
        };
        let info = self.store.put_blob(&input.bucket, &input.key, blob, write).map_err(store_error)?;
        let mut output = dto::PutObjectOutput {
            e_tag: Some(etag(&info.etag)),
            server_side_encryption: sse_algorithm(&info.sse),
            ssekms_key_id: sse_key(&info.sse),
            checksum_type: checksum_type_out(info.checksum_type),
            ..Default::default()
        };
        set_checksums!(output, &info.checksums);
        Ok(S3Response::new(output))
    }

    async fn get_object(
        &self,
        req: S3Request<dto::GetObjectInput>,
    ) -> S3Result<S3Response<dto::GetObjectOutput>> {
        let input = req.input;
        if input.part_number.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "GetObject by part number is not supported by the sandbox"
            ));
        }
        let (info, reader) = self.store.open_object(&input.bucket, &input.key).map_err(store_error)?;
        check_conditions(
            &info,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        self.check_key_usable(&info.sse)?;
        let range = match &input.range {
            Some(range) => Some(range.check(info.size)?),
            None => None,
        };
        let span = range.clone().unwrap_or(0..info.size);
        let mut output = dto::GetObjectOutput {
            content_length: Some(i64::try_from(span.end - span.start).unwrap_or(i64::MAX)),
            content_range: range.as_ref().map(|r| format!("bytes {}-{}/{}", r.start, r.end - 1, info.size)),
            body: Some(reader_body(reader, span)?),
            accept_ranges: Some("bytes".into()),
            content_type: Some(info.content_type.clone().unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into())),
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(timestamp(info.last_modified)),
            metadata: metadata_out(&info.metadata),
            server_side_encryption: sse_algorithm(&info.sse),
            ssekms_key_id: sse_key(&info.sse),
            ..Default::default()
        };
        // A checksum covers the whole object, so S3 sends none for a range.
        if checksum_mode_enabled(input.checksum_mode.as_ref()) && range.is_none() {
            set_checksums!(output, &info.checksums);
            output.checksum_type = checksum_type_out(info.checksum_type);
        }
        Ok(S3Response::new(output))
    }

    async fn head_object(
        &self,
        req: S3Request<dto::HeadObjectInput>,
    ) -> S3Result<S3Response<dto::HeadObjectOutput>> {
        let input = req.input;
        let info = self.store.head_object(&input.bucket, &input.key).map_err(store_error)?;
        check_conditions(
            &info,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let range = match &input.range {
            Some(range) => Some(range.check(info.size)?),
            None => None,
        };
        let span = range.clone().unwrap_or(0..info.size);
        let mut output = dto::HeadObjectOutput {
            content_length: Some(i64::try_from(span.end - span.start).unwrap_or(i64::MAX)),
            content_range: range.as_ref().map(|r| format!("bytes {}-{}/{}", r.start, r.end - 1, info.size)),
            accept_ranges: Some("bytes".into()),
            content_type: Some(info.content_type.clone().unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into())),
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(timestamp(info.last_modified)),
            metadata: metadata_out(&info.metadata),
            server_side_encryption: sse_algorithm(&info.sse),
            ssekms_key_id: sse_key(&info.sse),
            ..Default::default()
        };
        if checksum_mode_enabled(input.checksum_mode.as_ref()) && range.is_none() {
            set_checksums!(output, &info.checksums);
            output.checksum_type = checksum_type_out(info.checksum_type);
        }
        Ok(S3Response::new(output))
    }

    async fn delete_object(
        &self,
        req: S3Request<dto::DeleteObjectInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectOutput>> {
        self.store.delete_object(&req.input.bucket, &req.input.key).map_err(store_error)?;
        Ok(S3Response::new(dto::DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<dto::DeleteObjectsInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectsOutput>> {
        let input = req.input;
        self.store.bucket(&input.bucket).map_err(store_error)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in input.delete.objects {
            match self.store.delete_object(&input.bucket, &object.key) {
                Ok(_) if quiet => {}
                Ok(_) => deleted.push(dto::DeletedObject { key: Some(object.key), ..Default::default() }),
                Err(e) => errors.push(dto::Error {
                    code: Some("InternalError".into()),
                    message: Some(e.to_string()),
                    key: Some(object.key),
                    version_id: None,
                }),
            }
        }
        Ok(S3Response::new(dto::DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            request_charged: None,
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<dto::CopyObjectInput>,
    ) -> S3Result<S3Response<dto::CopyObjectOutput>> {
        let input = req.input;
        let dto::CopySource::Bucket { bucket: src_bucket, key: src_key, .. } = &input.copy_source else {
            return Err(s3_error!(
                NotImplemented,
                "Copying from access points is not supported by the sandbox"
            ));
        };
        let (source, mut reader) = self.store.open_object(src_bucket, src_key).map_err(store_error)?;
        let failed =
            || s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
        let unmodified_since = |t: &dto::Timestamp| {
            source.last_modified.replace_nanosecond(0).unwrap_or(source.last_modified)
                <= OffsetDateTime::from(t.clone())
        };
        let same_etag = |c: &dto::ETagCondition| match c {
            dto::ETagCondition::Any => true,
            dto::ETagCondition::ETag(t) => t.value() == source.etag.trim_matches('"'),
        };
        if input.copy_source_if_match.as_ref().is_some_and(|c| !same_etag(c))
            || input.copy_source_if_none_match.as_ref().is_some_and(same_etag)
            || input.copy_source_if_unmodified_since.as_ref().is_some_and(|t| !unmodified_since(t))
            || input.copy_source_if_modified_since.as_ref().is_some_and(unmodified_since)
        {
            return Err(failed());
        }
        self.check_key_usable(&source.sse)?;
        let bucket = self.store.bucket(&input.bucket).map_err(store_error)?;
        let replace =
            input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == dto::MetadataDirective::REPLACE);
        if **src_bucket == *input.bucket
            && **src_key == *input.key
            && !replace
            && input.server_side_encryption.is_none()
            && input.ssekms_key_id.is_none()
        {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let sse =
            self.write_sse(&bucket, input.server_side_encryption.as_ref(), input.ssekms_key_id.as_deref())?;
        let write = if replace {
            ObjectWrite {
                content_type: input.content_type,
                metadata: user_metadata(input.metadata),
                sse: Some(sse),
            }
        } else {
            ObjectWrite {
                content_type: source.content_type.clone(),
                metadata: source.metadata.clone(),
                sse: Some(sse),
            }
        };
        // The copy gets the requested checksum, else the source's full-object ones, else S3's default.
        let algorithms: Vec<ChecksumAlgorithm> = match &input.checksum_algorithm {
            Some(a) => vec![parse_checksum_algorithm(a)?],
            None if source.checksum_type == Some(ChecksumType::FullObject) => {
                source.checksums.iter().map(|(a, _)| a).collect()
            }
            None => vec![ChecksumAlgorithm::Crc64Nvme],
        };
        let (dst_bucket, dst_key) = (input.bucket.clone(), input.key.clone());
        let info = blocking(&self.store, move |store| {
            let sse = write.sse.clone().unwrap_or(Sse::S3);
            let mut writer = store.blob_writer(&algorithms, &sse).map_err(store_error)?;
            std::io::copy(&mut reader, &mut writer).map_err(S3Error::internal_error)?;
            let blob = writer.finish().map_err(S3Error::internal_error)?;
            store.put_blob(&dst_bucket, &dst_key, blob, write).map_err(store_error)
        })
        .await?;
        let mut result = dto::CopyObjectResult {
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(timestamp(info.last_modified)),
            checksum_type: checksum_type_out(info.checksum_type),
            ..Default::default()
        };
        set_checksums!(result, &info.checksums);
        Ok(S3Response::new(dto::CopyObjectOutput {
            copy_object_result: Some(result),
            server_side_encryption: sse_algorithm(&info.sse),
            ssekms_key_id: sse_key(&info.sse),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<dto::ListObjectsV2Input>,
    ) -> S3Result<S3Response<dto::ListObjectsV2Output>> {
        let input = req.input;
        let max_keys = page_size(input.max_keys)?;
        // The continuation token is the last key or common prefix returned, made opaque.
        let after = match &input.continuation_token {
            Some(token) => {
                Some(TOKEN.decode(token).ok().and_then(|raw| String::from_utf8(raw).ok()).ok_or_else(
                    || s3_error!(InvalidArgument, "The continuation token provided is incorrect"),
                )?)
            }
            None => input.start_after.clone(),
        };
        let query = ListQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            after,
            max_keys,
        };
        let page = self.store.list_page(&input.bucket, &query).map_err(store_error)?;
        let encode = encoder(input.encoding_type.as_ref());
        let fetch_owner = input.fetch_owner.unwrap_or(false);
        let contents: Vec<dto::Object> = page
            .objects
            .iter()
            .map(|o| dto::Object {
                key: Some(encode(o.key.clone())),
                owner: fetch_owner.then(owner),
                ..object_out(o)
            })
            .collect();
        let common_prefixes: Vec<dto::CommonPrefix> =
            page.common_prefixes.into_iter().map(|p| dto::CommonPrefix { prefix: Some(encode(p)) }).collect();
        let key_count = i32::try_from(contents.len() + common_prefixes.len()).unwrap_or(i32::MAX);
        Ok(S3Response::new(dto::ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(encode(input.prefix.unwrap_or_default())),
            delimiter: input.delimiter.map(&encode),
            start_after: input.start_after.map(&encode),
            max_keys: Some(i32::try_from(max_keys).unwrap_or(MAX_PAGE)),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token: page.next_after.filter(|_| page.truncated).map(|a| TOKEN.encode(a)),
            contents: Some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<dto::ListObjectsInput>,
    ) -> S3Result<S3Response<dto::ListObjectsOutput>> {
        let input = req.input;
        let max_keys = page_size(input.max_keys)?;
        let query = ListQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            after: input.marker.clone(),
            max_keys,
        };
        let page = self.store.list_page(&input.bucket, &query).map_err(store_error)?;
        let encode = encoder(input.encoding_type.as_ref());
        let contents = page
            .objects
            .iter()
            .map(|o| dto::Object { key: Some(encode(o.key.clone())), owner: Some(owner()), ..object_out(o) })
            .collect();
        let common_prefixes: Vec<dto::CommonPrefix> =
            page.common_prefixes.into_iter().map(|p| dto::CommonPrefix { prefix: Some(encode(p)) }).collect();
        Ok(S3Response::new(dto::ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(encode(input.prefix.unwrap_or_default())),
            marker: Some(encode(input.marker.unwrap_or_default())),
            max_keys: Some(i32::try_from(max_keys).unwrap_or(MAX_PAGE)),
            is_truncated: Some(page.truncated),
            contents: Some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            delimiter: input.delimiter.map(&encode),
            next_marker: page.next_after.filter(|_| page.truncated).map(&encode),
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }

    // ---- multipart uploads ----

    async fn create_multipart_upload(
        &self,
        req: S3Request<dto::CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CreateMultipartUploadOutput>> {
        let input = req.input;
        let bucket = self.store.bucket(&input.bucket).map_err(store_error)?;
        if input.sse_customer_algorithm.is_some() {
            return Err(s3_error!(NotImplemented, "SSE-C is not supported by the sandbox"));
        }
        let algorithm = input.checksum_algorithm.as_ref().map(parse_checksum_algorithm).transpose()?;
        let requested_type = input
            .checksum_type
            .as_ref()
            .map(|t| {
                ChecksumType::parse(t.as_str()).ok_or_else(|| {
                    s3_error!(InvalidRequest, "Value for x-amz-checksum-type header is invalid.")
                })
            })
            .transpose()?;
        let checksum = match (algorithm, requested_type) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                ));
            }
            (Some(a), Some(ChecksumType::Composite)) if !a.supports_composite() => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The COMPOSITE checksum type cannot be used with the {} checksum algorithm.",
                    a.as_str()
                ));
            }
            (Some(a), Some(ChecksumType::FullObject)) if !a.supports_full_object() => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                    a.as_str()
                ));
            }
            (Some(a), Some(t)) => Some((a, t)),
            (Some(a), None) if a.supports_composite() => Some((a, ChecksumType::Composite)),
            (Some(a), None) => Some((a, ChecksumType::FullObject)),
        };
        let sse =
            self.write_sse(&bucket, input.server_side_encryption.as_ref(), input.ssekms_key_id.as_deref())?;
        let write = ObjectWrite {
            content_type: input.content_type,
            metadata: user_metadata(input.metadata),
            sse: Some(sse),
        };
        let upload = self
            .store
            .create_multipart_upload(&input.bucket, &input.key, write, checksum)
            .map_err(store_error)?;
        Ok(S3Response::new(dto::CreateMultipartUploadOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            upload_id: Some(upload.upload_id),
            server_side_encryption: sse_algorithm(&upload.sse),
            ssekms_key_id: sse_key(&upload.sse),
            checksum_algorithm: upload
                .checksum_algorithm
                .map(|a| dto::ChecksumAlgorithm::from_static(a.as_str())),
            checksum_type: checksum_type_out(upload.checksum_type),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<dto::UploadPartInput>,
    ) -> S3Result<S3Response<dto::UploadPartOutput>> {
        let trailing = req.trailing_headers;
        let input = req.input;
        let number = part_number(input.part_number)?;
        let upload = self.store.upload(&input.bucket, &input.key, &input.upload_id).map_err(store_error)?;
        self.check_key_usable(&upload.sse)?;
        let checksum =
            ChecksumRequest::parse(checksum_fields!(input), input.checksum_algorithm.as_ref(), &req.headers)?;
        if let (Some(expected), Some(actual)) = (upload.checksum_algorithm, checksum.algorithm())
            && expected != actual
        {
            return Err(s3_error!(
                InvalidRequest,
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                expected.as_str().to_ascii_lowercase(),
                actual.as_str().to_ascii_lowercase()
            ));
        }
        // Parts always carry the upload's algorithm, which Complete combines into the object's checksum.
        let algorithms = checksum.algorithms(upload.checksum_algorithm);

        let blob = receive(&self.store, input.body, &algorithms, &upload.sse).await?;
        checksum.verify(blob.checksums(), trailing.and_then(|t| t.take()))?;
        verify_content_md5(input.content_md5.as_ref(), blob.md5_hex())?;
        check_length(input.content_length, blob.size())?;

        let part = self
            .store
            .put_part(&input.bucket, &input.key, &input.upload_id, number, blob)
            .map_err(store_error)?;
        let mut output = dto::UploadPartOutput {
            e_tag: Some(etag(&part.etag)),
            server_side_encryption: sse_algorithm(&upload.sse),
            ssekms_key_id: sse_key(&upload.sse),
            ..Default::default()
        };
        set_checksums!(output, &part.checksums);
        Ok(S3Response::new(output))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CompleteMultipartUploadOutput>> {
        let host = req.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
        let input = req.input;
        let upload = self.store.upload(&input.bucket, &input.key, &input.upload_id).map_err(store_error)?;
        self.check_key_usable(&upload.sse)?;
        let listed = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        let mut parts = Vec::with_capacity(listed.len());
        for p in &listed {
            let number = p.part_number.ok_or_else(|| {
                s3_error!(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
            })?;
            parts.push(CompletedPart {
                part_number: u32::try_from(number).unwrap_or(0),
                etag: p.e_tag.as_ref().map(|e| e.value().to_string()).unwrap_or_default(),
                checksums: checksums_from(checksum_fields!(p)),
            });
        }
        let expected = checksums_from(checksum_fields!(input));
        let (bucket, key, upload_id) = (input.bucket.clone(), input.key.clone(), input.upload_id.clone());
        let info = blocking(&self.store, move |store| {
            store.complete_multipart_upload(&bucket, &key, &upload_id, &parts, &expected).map_err(store_error)
        })
        .await?;
        let mut output = dto::CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(etag(&info.etag)),
            location: host.map(|h| format!("http://{h}/{}/{}", input.bucket, url_encode(&input.key))),
            server_side_encryption: sse_algorithm(&info.sse),
            ssekms_key_id: sse_key(&info.sse),
            checksum_type: checksum_type_out(info.checksum_type),
            ..Default::default()
        };
        set_checksums!(output, &info.checksums);
        Ok(S3Response::new(output))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<dto::AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::AbortMultipartUploadOutput>> {
        let input = req.input;
        self.store
            .abort_multipart_upload(&input.bucket, &input.key, &input.upload_id)
            .map_err(store_error)?;
        Ok(S3Response::new(dto::AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<dto::ListPartsInput>,
    ) -> S3Result<S3Response<dto::ListPartsOutput>> {
        let input = req.input;
        let max = page_size(input.max_parts)?;
        let marker = u32::try_from(input.part_number_marker.unwrap_or(0)).unwrap_or(0);
        let (upload, parts, truncated) = self
            .store
            .list_parts(&input.bucket, &input.key, &input.upload_id, marker, max)
            .map_err(store_error)?;
        let next = parts.last().map_or(marker, |p| p.part_number);
        let parts = parts
            .into_iter()
            .map(|p| {
                let mut part = dto::Part {
                    part_number: i32::try_from(p.part_number).ok(),
                    size: i64::try_from(p.size).ok(),
                    e_tag: Some(etag(&p.etag)),
                    last_modified: Some(timestamp(p.last_modified)),
                    ..Default::default()
                };
                if !self.quirks.list_parts_without_checksums {
                    set_checksums!(part, &p.checksums);
                }
                part
            })
            .collect();
        Ok(S3Response::new(dto::ListPartsOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            upload_id: Some(upload.upload_id),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: i32::try_from(next).ok(),
            max_parts: i32::try_from(max).ok(),
            is_truncated: Some(truncated),
            parts: Some(parts),
            checksum_algorithm: upload
                .checksum_algorithm
                .map(|a| dto::ChecksumAlgorithm::from_static(a.as_str())),
            checksum_type: checksum_type_out(upload.checksum_type),
            owner: Some(owner()),
            initiator: Some(dto::Initiator {
                display_name: Some("sandbox".into()),
                id: Some(OWNER_ID.into()),
            }),
            storage_class: Some(dto::StorageClass::from_static(dto::StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<dto::ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<dto::ListMultipartUploadsOutput>> {
        let input = req.input;
        let max = page_size(input.max_uploads)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let mut uploads: Vec<_> = self
            .store
            .list_uploads(&input.bucket, &prefix)
            .map_err(store_error)?
            .into_iter()
            .filter(|u| match &input.upload_id_marker {
                Some(id) => u.key > key_marker || (u.key == key_marker && u.upload_id > *id),
                None => u.key > key_marker,
            })
            .collect();
        let truncated = uploads.len() > max;
        uploads.truncate(max);
        let last = uploads.last().filter(|_| truncated).map(|u| (u.key.clone(), u.upload_id.clone()));
        let encode = encoder(input.encoding_type.as_ref());
        let uploads = uploads
            .into_iter()
            .map(|u| dto::MultipartUpload {
                key: Some(encode(u.key)),
                upload_id: Some(u.upload_id),
                initiated: Some(timestamp(u.initiated)),
                checksum_algorithm: u
                    .checksum_algorithm
                    .map(|a| dto::ChecksumAlgorithm::from_static(a.as_str())),
                checksum_type: checksum_type_out(u.checksum_type),
                owner: Some(owner()),
                initiator: Some(dto::Initiator {
                    display_name: Some("sandbox".into()),
                    id: Some(OWNER_ID.into()),
                }),
                storage_class: Some(dto::StorageClass::from_static(dto::StorageClass::STANDARD)),
            })
            .collect();
        Ok(S3Response::new(dto::ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: Some(encode(prefix)),
            key_marker: input.key_marker.map(&encode),
            upload_id_marker: input.upload_id_marker,
            max_uploads: i32::try_from(max).ok(),
            is_truncated: Some(truncated),
            next_key_marker: last.as_ref().map(|(k, _)| encode(k.clone())),
            next_upload_id_marker: last.map(|(_, id)| id),
            uploads: Some(uploads),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailer_request() -> ChecksumRequest {
        ChecksumRequest {
            header: None,
            declared: Some(ChecksumAlgorithm::Crc32),
            trailer: Some(ChecksumAlgorithm::Crc32),
        }
    }

    fn hello_world_crc32() -> Checksums {
        Checksums { crc32: Some("7ErD0A==".into()), ..Checksums::default() }
    }

    fn trailers(value: &str) -> HeaderMap {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-amz-checksum-crc32", value.parse().expect("header value"));
        trailers
    }

    #[test]
    fn a_trailing_checksum_is_checked_against_the_received_bytes() {
        let request = trailer_request();
        assert!(request.verify(&hello_world_crc32(), Some(trailers("7ErD0A=="))).is_ok());
        let mismatch =
            request.verify(&hello_world_crc32(), Some(trailers("AAAAAA=="))).expect_err("mismatch");
        assert_eq!(mismatch.code(), &S3ErrorCode::BadDigest);
    }

    #[test]
    fn an_announced_trailer_that_never_comes_is_an_invalid_request() {
        let missing = trailer_request().verify(&hello_world_crc32(), None).expect_err("missing trailer");
        assert_eq!(missing.code(), &S3ErrorCode::InvalidRequest);
        let garbled =
            trailer_request().verify(&hello_world_crc32(), Some(trailers("garbage"))).expect_err("garbled");
        assert_eq!(garbled.code(), &S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn two_checksum_headers_are_refused() {
        let crc32 = "7ErD0A==".to_string();
        let values = [
            (ChecksumAlgorithm::Crc32, Some(&crc32)),
            (ChecksumAlgorithm::Crc32c, Some(&crc32)),
            (ChecksumAlgorithm::Crc64Nvme, None),
            (ChecksumAlgorithm::Sha1, None),
            (ChecksumAlgorithm::Sha256, None),
        ];
        let err = ChecksumRequest::parse(values, None, &HeaderMap::new()).err().expect("refused");
        assert_eq!(err.code(), &S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn url_encoding_keeps_slashes_and_escapes_the_rest() {
        assert_eq!(url_encode("a b/c+d%é"), "a%20b/c%2Bd%25%C3%A9");
    }
}
