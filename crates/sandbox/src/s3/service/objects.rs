//! Object operations: put, get, head (by range or part number), delete (one or many), copy, listings (V1 and
//! V2), object tags and GetObjectAttributes.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use s3s::dto;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::super::body::{blocking, reader_body, receive};
use super::super::checksum::{ChecksumAlgorithm, ChecksumType, Checksums};
use super::super::store::{ListQuery, ObjectInfo, ObjectWrite, Sse, StoreError};
use super::SandboxS3;
use super::checksums::*;
use super::conditions::*;
use super::errors::*;
use super::mapping::*;
use super::settings::{tag_map, tag_set};

pub(super) async fn put_object(
    s3: &SandboxS3,
    req: S3Request<dto::PutObjectInput>,
) -> S3Result<S3Response<dto::PutObjectOutput>> {
    let trailing = req.trailing_headers;
    let input = req.input;
    let bucket = s3.store.bucket(&input.bucket).map_err(store_error)?;
    if input.sse_customer_algorithm.is_some() {
        return Err(s3_error!(NotImplemented, "SSE-C is not supported by the sandbox"));
    }
    // S3 refuses a single PUT over 5 GiB before reading it: larger objects are multipart uploads.
    if input.content_length.is_some_and(|n| n > MAX_PUT_SIZE) {
        return Err(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"));
    }
    let tags = tags_from_header(input.tagging.as_deref())?;
    let conditions = Conditions {
        if_match: input.if_match.as_ref(),
        if_none_match: input.if_none_match.as_ref(),
        ..Conditions::default()
    };
    if conditions.if_match.is_some() || conditions.if_none_match.is_some() {
        let existing = match s3.store.head_object(&input.bucket, &input.key) {
            Ok(info) => Some(info),
            Err(StoreError::NoSuchKey { .. }) => None,
            Err(e) => return Err(store_error(e)),
        };
        conditions.check(existing.as_ref(), OnUnchanged::PreconditionFailed)?;
    }
    let sse = s3.write_sse(&bucket, input.server_side_encryption.as_ref(), input.ssekms_key_id.as_deref())?;
    let checksum =
        ChecksumRequest::parse(checksum_fields!(input), input.checksum_algorithm.as_ref(), &req.headers)?;
    // S3 gives objects uploaded without a checksum a CRC64NVME one.
    let mut algorithms = checksum.algorithms(None);
    if algorithms.is_empty() {
        algorithms.push(ChecksumAlgorithm::Crc64Nvme);
    }

    let blob = receive(&s3.store, input.body, &algorithms, &sse).await?;
    checksum.verify(blob.checksums(), trailing.and_then(|t| t.take()))?;
    verify_content_md5(input.content_md5.as_ref(), blob.md5_hex())?;
    check_length(input.content_length, blob.size())?;

    let write = ObjectWrite {
        content_type: input.content_type,
        metadata: user_metadata(input.metadata),
        sse: Some(sse),
        tags,
    };
    let info = s3.store.put_blob(&input.bucket, &input.key, blob, write).map_err(store_error)?;
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

pub(super) async fn get_object(
    s3: &SandboxS3,
    req: S3Request<dto::GetObjectInput>,
) -> S3Result<S3Response<dto::GetObjectOutput>> {
    let input = req.input;
    let (info, reader) = s3.store.open_object(&input.bucket, &input.key).map_err(store_error)?;
    Conditions {
        if_match: input.if_match.as_ref(),
        if_none_match: input.if_none_match.as_ref(),
        if_modified_since: input.if_modified_since.as_ref(),
        if_unmodified_since: input.if_unmodified_since.as_ref(),
    }
    .check(Some(&info), OnUnchanged::NotModified)?;
    s3.check_key_usable(&info.sse)?;
    let Span { range, span, parts_count } = span_of(&info, input.range.as_ref(), input.part_number)?;
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
        tag_count: (!info.tags.is_empty()).then(|| i32::try_from(info.tags.len()).unwrap_or(i32::MAX)),
        parts_count,
        ..Default::default()
    };
    // A checksum covers the whole object, so S3 sends none for a range.
    if checksum_mode_enabled(input.checksum_mode.as_ref()) && range.is_none() {
        set_checksums!(output, &info.checksums);
        output.checksum_type = checksum_type_out(info.checksum_type);
    }
    Ok(S3Response::new(output))
}

/// What a GET or HEAD answers with: the bytes it covers, the range it reports, and a multipart object's part
/// count when a part was asked for.
struct Span {
    range: Option<std::ops::Range<u64>>,
    span: std::ops::Range<u64>,
    parts_count: Option<i32>,
}

/// The bytes a `Range` or a `partNumber` selects, as S3 answers them: not both; a part number past the object's
/// parts is InvalidPartNumber (416), and an object uploaded whole has one part, itself.
fn span_of(info: &ObjectInfo, range: Option<&dto::Range>, part_number: Option<i32>) -> S3Result<Span> {
    match (range, part_number) {
        (Some(_), Some(_)) => {
            Err(s3_error!(InvalidRequest, "Cannot specify both Range header and partNumber query parameter"))
        }
        (Some(range), None) => {
            let range = range.check(info.size)?;
            Ok(Span { span: range.clone(), range: Some(range), parts_count: None })
        }
        (None, None) => Ok(Span { range: None, span: 0..info.size, parts_count: None }),
        (None, Some(n)) => {
            let invalid = || {
                custom_error(
                    "InvalidPartNumber",
                    http::StatusCode::RANGE_NOT_SATISFIABLE,
                    "The requested partnumber is not satisfiable".into(),
                )
            };
            let n = usize::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(invalid)?;
            if info.part_sizes.is_empty() {
                return if n == 1 {
                    Ok(Span { range: None, span: 0..info.size, parts_count: None })
                } else {
                    Err(invalid())
                };
            }
            let size = *info.part_sizes.get(n - 1).ok_or_else(invalid)?;
            let start: u64 = info.part_sizes[..n - 1].iter().sum();
            let span = start..start + size;
            Ok(Span {
                range: Some(span.clone()),
                span,
                parts_count: i32::try_from(info.part_sizes.len()).ok(),
            })
        }
    }
}

pub(super) async fn head_object(
    s3: &SandboxS3,
    req: S3Request<dto::HeadObjectInput>,
) -> S3Result<S3Response<dto::HeadObjectOutput>> {
    let input = req.input;
    let info = s3.store.head_object(&input.bucket, &input.key).map_err(store_error)?;
    Conditions {
        if_match: input.if_match.as_ref(),
        if_none_match: input.if_none_match.as_ref(),
        if_modified_since: input.if_modified_since.as_ref(),
        if_unmodified_since: input.if_unmodified_since.as_ref(),
    }
    .check(Some(&info), OnUnchanged::NotModified)?;
    let Span { range, span, parts_count } = span_of(&info, input.range.as_ref(), input.part_number)?;
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
        parts_count,
        ..Default::default()
    };
    if checksum_mode_enabled(input.checksum_mode.as_ref()) && range.is_none() {
        set_checksums!(output, &info.checksums);
        output.checksum_type = checksum_type_out(info.checksum_type);
    }
    Ok(S3Response::new(output))
}

pub(super) async fn delete_object(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteObjectInput>,
) -> S3Result<S3Response<dto::DeleteObjectOutput>> {
    s3.store.delete_object(&req.input.bucket, &req.input.key).map_err(store_error)?;
    Ok(S3Response::new(dto::DeleteObjectOutput::default()))
}

pub(super) async fn delete_objects(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteObjectsInput>,
) -> S3Result<S3Response<dto::DeleteObjectsOutput>> {
    let input = req.input;
    s3.store.bucket(&input.bucket).map_err(store_error)?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for object in input.delete.objects {
        match s3.store.delete_object(&input.bucket, &object.key) {
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

pub(super) async fn copy_object(
    s3: &SandboxS3,
    req: S3Request<dto::CopyObjectInput>,
) -> S3Result<S3Response<dto::CopyObjectOutput>> {
    let input = req.input;
    let dto::CopySource::Bucket { bucket: src_bucket, key: src_key, .. } = &input.copy_source else {
        return Err(s3_error!(NotImplemented, "Copying from access points is not supported by the sandbox"));
    };
    let (source, mut reader) = s3.store.open_object(src_bucket, src_key).map_err(store_error)?;
    Conditions {
        if_match: input.copy_source_if_match.as_ref(),
        if_none_match: input.copy_source_if_none_match.as_ref(),
        if_modified_since: input.copy_source_if_modified_since.as_ref(),
        if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
    }
    .check(Some(&source), OnUnchanged::PreconditionFailed)?;
    s3.check_key_usable(&source.sse)?;
    let bucket = s3.store.bucket(&input.bucket).map_err(store_error)?;
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
    let sse = s3.write_sse(&bucket, input.server_side_encryption.as_ref(), input.ssekms_key_id.as_deref())?;
    let replace_tags =
        input.tagging_directive.as_ref().is_some_and(|d| d.as_str() == dto::TaggingDirective::REPLACE);
    let tags = if replace_tags { tags_from_header(input.tagging.as_deref())? } else { source.tags.clone() };
    let write = if replace {
        ObjectWrite {
            content_type: input.content_type,
            metadata: user_metadata(input.metadata),
            sse: Some(sse),
            tags,
        }
    } else {
        ObjectWrite {
            content_type: source.content_type.clone(),
            metadata: source.metadata.clone(),
            sse: Some(sse),
            tags,
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
    let info = blocking(&s3.store, move |store| {
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

pub(super) async fn list_objects_v2(
    s3: &SandboxS3,
    req: S3Request<dto::ListObjectsV2Input>,
) -> S3Result<S3Response<dto::ListObjectsV2Output>> {
    let input = req.input;
    let max_keys = page_size(input.max_keys)?;
    // The continuation token is the last key or common prefix returned, made opaque.
    let after =
        match &input.continuation_token {
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
    let page = s3.store.list_page(&input.bucket, &query).map_err(store_error)?;
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

pub(super) async fn list_objects(
    s3: &SandboxS3,
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
    let page = s3.store.list_page(&input.bucket, &query).map_err(store_error)?;
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

pub(super) async fn put_object_tagging(
    s3: &SandboxS3,
    req: S3Request<dto::PutObjectTaggingInput>,
) -> S3Result<S3Response<dto::PutObjectTaggingOutput>> {
    let input = req.input;
    let tags = tag_map(&input.tagging.tag_set, 10)?;
    s3.store.set_object_tags(&input.bucket, &input.key, &tags).map_err(store_error)?;
    Ok(S3Response::new(dto::PutObjectTaggingOutput::default()))
}

pub(super) async fn get_object_tagging(
    s3: &SandboxS3,
    req: S3Request<dto::GetObjectTaggingInput>,
) -> S3Result<S3Response<dto::GetObjectTaggingOutput>> {
    let info = s3.store.head_object(&req.input.bucket, &req.input.key).map_err(store_error)?;
    Ok(S3Response::new(dto::GetObjectTaggingOutput { tag_set: tag_set(&info.tags), version_id: None }))
}

pub(super) async fn delete_object_tagging(
    s3: &SandboxS3,
    req: S3Request<dto::DeleteObjectTaggingInput>,
) -> S3Result<S3Response<dto::DeleteObjectTaggingOutput>> {
    s3.store.set_object_tags(&req.input.bucket, &req.input.key, &BTreeMap::new()).map_err(store_error)?;
    Ok(S3Response::new(dto::DeleteObjectTaggingOutput::default()))
}

/// The attributes asked for (ETag, Checksum, ObjectParts, StorageClass, ObjectSize), from the metadata alone.
pub(super) async fn get_object_attributes(
    s3: &SandboxS3,
    req: S3Request<dto::GetObjectAttributesInput>,
) -> S3Result<S3Response<dto::GetObjectAttributesOutput>> {
    let input = req.input;
    let info = s3.store.head_object(&input.bucket, &input.key).map_err(store_error)?;
    // The header may carry several attributes in one value, comma-separated.
    let wants = |name: &str| {
        input.object_attributes.iter().flat_map(|a| a.as_str().split(',')).any(|a| a.trim() == name)
    };
    let mut output = dto::GetObjectAttributesOutput {
        last_modified: Some(timestamp(info.last_modified)),
        ..Default::default()
    };
    if wants(dto::ObjectAttributes::ETAG) {
        output.e_tag = Some(etag(&info.etag));
    }
    if wants(dto::ObjectAttributes::OBJECT_SIZE) {
        output.object_size = i64::try_from(info.size).ok();
    }
    if wants(dto::ObjectAttributes::STORAGE_CLASS) {
        output.storage_class = Some(dto::StorageClass::from_static(dto::StorageClass::STANDARD));
    }
    if wants(dto::ObjectAttributes::CHECKSUM) && !info.checksums.is_empty() {
        let mut checksum =
            dto::Checksum { checksum_type: checksum_type_out(info.checksum_type), ..Default::default() };
        set_checksums!(checksum, &info.checksums);
        output.checksum = Some(checksum);
    }
    if wants(dto::ObjectAttributes::OBJECT_PARTS)
        && let Some(count) = info.parts_count
    {
        let max = page_size(input.max_parts)?;
        let marker = usize::try_from(input.part_number_marker.unwrap_or(0)).unwrap_or(0);
        let parts: Vec<dto::ObjectPart> = info
            .part_sizes
            .iter()
            .enumerate()
            .skip(marker)
            .take(max)
            .map(|(i, size)| dto::ObjectPart {
                part_number: i32::try_from(i + 1).ok(),
                size: i64::try_from(*size).ok(),
                ..Default::default()
            })
            .collect();
        let last = marker + parts.len();
        output.object_parts = Some(dto::GetObjectAttributesParts {
            total_parts_count: i32::try_from(count).ok(),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: i32::try_from(last).ok(),
            max_parts: i32::try_from(max).ok(),
            is_truncated: Some(last < info.part_sizes.len()),
            parts: (!parts.is_empty()).then_some(parts),
        });
    }
    Ok(S3Response::new(output))
}
