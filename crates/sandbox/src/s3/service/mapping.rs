//! The mapping between the store's records and `s3s` DTOs, in one place: ETags, timestamps, encryption,
//! metadata, checksums, listings' objects and owners, URL encoding, page sizes and part numbers.

use std::collections::{BTreeMap, HashMap};

use s3s::dto;
use s3s::{S3Result, s3_error};
use time::OffsetDateTime;

use super::super::checksum::ChecksumType;
use super::super::store::{MAX_PART_NUMBER, ObjectInfo, Sse};

/// S3's page size limit for listings.
pub(super) const MAX_PAGE: i32 = 1000;
/// The canonical user id the sandbox reports as owner of everything (the example id from AWS's docs).
pub(super) const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
/// What S3 reports for objects stored without a content type.
pub(super) const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

pub(super) fn etag(quoted: &str) -> dto::ETag {
    dto::ETag::Strong(quoted.trim_matches('"').to_string())
}

pub(super) fn timestamp(t: OffsetDateTime) -> dto::Timestamp {
    dto::Timestamp::from(t)
}

pub(super) fn sse_algorithm(sse: &Sse) -> Option<dto::ServerSideEncryption> {
    Some(dto::ServerSideEncryption::from_static(sse.algorithm()))
}

pub(super) fn sse_key(sse: &Sse) -> Option<String> {
    sse.kms_key_arn().map(str::to_string)
}

pub(super) fn user_metadata(metadata: Option<dto::Metadata>) -> BTreeMap<String, String> {
    metadata.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()
}

pub(super) fn metadata_out(metadata: &BTreeMap<String, String>) -> Option<dto::Metadata> {
    (!metadata.is_empty())
        .then(|| metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>())
}

pub(super) fn checksum_type_out(t: Option<ChecksumType>) -> Option<dto::ChecksumType> {
    t.map(|t| dto::ChecksumType::from_static(t.as_str()))
}

pub(super) fn object_out(info: &ObjectInfo) -> dto::Object {
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

/// S3's limit on one PutObject: 5 GiB.
pub(super) const MAX_PUT_SIZE: i64 = 5 * 1024 * 1024 * 1024;

/// The `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded) as tags, checked as S3 checks object tags.
pub(super) fn tags_from_header(header: Option<&str>) -> S3Result<BTreeMap<String, String>> {
    let Some(header) = header.filter(|h| !h.is_empty()) else { return Ok(BTreeMap::new()) };
    let tags: Vec<dto::Tag> = form_urlencoded::parse(header.as_bytes())
        .map(|(k, v)| dto::Tag { key: Some(k.into_owned()), value: Some(v.into_owned()) })
        .collect();
    super::settings::tag_map(&tags, 10)
}

/// Who started a multipart upload: the sandbox's one owner.
pub(super) fn initiator() -> dto::Initiator {
    dto::Initiator { display_name: Some("sandbox".into()), id: Some(OWNER_ID.into()) }
}

pub(super) fn owner() -> dto::Owner {
    dto::Owner { display_name: Some("sandbox".into()), id: Some(OWNER_ID.into()) }
}

/// `encoding-type=url`: the AWS CLI asks for it on every listing and URL-decodes what comes back.
pub(super) fn url_encode(s: &str) -> String {
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

pub(super) fn encoder(encoding: Option<&dto::EncodingType>) -> impl Fn(String) -> String + use<> {
    let url = encoding.is_some_and(|e| e.as_str() == dto::EncodingType::URL);
    move |s| if url { url_encode(&s) } else { s }
}

pub(super) fn page_size(requested: Option<i32>) -> S3Result<usize> {
    let n = requested.unwrap_or(MAX_PAGE);
    if n < 0 {
        return Err(s3_error!(InvalidArgument, "Provided max-keys not an integer or within integer range"));
    }
    Ok(usize::try_from(n.min(MAX_PAGE)).unwrap_or(0))
}

pub(super) fn part_number(n: i32) -> S3Result<u32> {
    u32::try_from(n).ok().filter(|n| (1..=MAX_PART_NUMBER).contains(n)).ok_or_else(|| {
        s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_keeps_slashes_and_escapes_the_rest() {
        assert_eq!(url_encode("a b/c+d%é"), "a%20b/c%2Bd%25%C3%A9");
    }
}
