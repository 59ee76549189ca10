//! Multipart uploads: create, upload a part (sent, or copied from an object), complete, abort, list parts and
//! uploads.

use s3s::dto;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::super::body::{blocking, receive};
use super::super::checksum::{ChecksumAlgorithm, ChecksumType, Checksums};
use super::super::store::{CompletedPart, ObjectWrite};
use super::SandboxS3;
use super::checksums::*;
use super::conditions::{Conditions, OnUnchanged};
use super::errors::*;
use super::mapping::*;

pub(super) async fn create_multipart_upload(
    s3: &SandboxS3,
    req: S3Request<dto::CreateMultipartUploadInput>,
) -> S3Result<S3Response<dto::CreateMultipartUploadOutput>> {
    let input = req.input;
    let bucket = s3.store.bucket(&input.bucket).map_err(store_error)?;
    if input.sse_customer_algorithm.is_some() {
        return Err(s3_error!(NotImplemented, "SSE-C is not supported by the sandbox"));
    }
    let algorithm = input.checksum_algorithm.as_ref().map(parse_checksum_algorithm).transpose()?;
    let requested_type = input
        .checksum_type
        .as_ref()
        .map(|t| {
            ChecksumType::parse(t.as_str())
                .ok_or_else(|| s3_error!(InvalidRequest, "Value for x-amz-checksum-type header is invalid."))
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
    let sse = s3.write_sse(&bucket, input.server_side_encryption.as_ref(), input.ssekms_key_id.as_deref())?;
    let write = ObjectWrite {
        content_type: input.content_type,
        metadata: user_metadata(input.metadata),
        sse: Some(sse),
        tags: tags_from_header(input.tagging.as_deref())?,
    };
    let upload =
        s3.store.create_multipart_upload(&input.bucket, &input.key, write, checksum).map_err(store_error)?;
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

pub(super) async fn upload_part(
    s3: &SandboxS3,
    req: S3Request<dto::UploadPartInput>,
) -> S3Result<S3Response<dto::UploadPartOutput>> {
    let trailing = req.trailing_headers;
    let input = req.input;
    let number = part_number(input.part_number)?;
    let upload = s3.store.upload(&input.bucket, &input.key, &input.upload_id).map_err(store_error)?;
    s3.check_key_usable(&upload.sse)?;
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

    let blob = receive(&s3.store, input.body, &algorithms, &upload.sse).await?;
    checksum.verify(blob.checksums(), trailing.and_then(|t| t.take()))?;
    verify_content_md5(input.content_md5.as_ref(), blob.md5_hex())?;
    check_length(input.content_length, blob.size())?;

    let part =
        s3.store.put_part(&input.bucket, &input.key, &input.upload_id, number, blob).map_err(store_error)?;
    let mut output = dto::UploadPartOutput {
        e_tag: Some(etag(&part.etag)),
        server_side_encryption: sse_algorithm(&upload.sse),
        ssekms_key_id: sse_key(&upload.sse),
        ..Default::default()
    };
    set_checksums!(output, &part.checksums);
    Ok(S3Response::new(output))
}

/// A part copied from (a range of) an existing object, read and sealed under the upload's key on the way.
pub(super) async fn upload_part_copy(
    s3: &SandboxS3,
    req: S3Request<dto::UploadPartCopyInput>,
) -> S3Result<S3Response<dto::UploadPartCopyOutput>> {
    let input = req.input;
    let number = part_number(input.part_number)?;
    let upload = s3.store.upload(&input.bucket, &input.key, &input.upload_id).map_err(store_error)?;
    s3.check_key_usable(&upload.sse)?;
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
    let span = match &input.copy_source_range {
        None => 0..source.size,
        Some(range) => copy_range(range, source.size)?,
    };
    let algorithms: Vec<ChecksumAlgorithm> = upload.checksum_algorithm.into_iter().collect();
    let sse = upload.sse.clone();
    let (bucket, key, upload_id) = (input.bucket.clone(), input.key.clone(), input.upload_id.clone());
    let part = blocking(&s3.store, move |store| {
        use std::io::{Read as _, Seek as _};
        reader.seek(std::io::SeekFrom::Start(span.start)).map_err(S3Error::internal_error)?;
        let mut writer = store.blob_writer(&algorithms, &sse).map_err(store_error)?;
        std::io::copy(&mut reader.take(span.end - span.start), &mut writer)
            .map_err(S3Error::internal_error)?;
        let blob = writer.finish().map_err(S3Error::internal_error)?;
        store.put_part(&bucket, &key, &upload_id, number, blob).map_err(store_error)
    })
    .await?;
    let mut result = dto::CopyPartResult {
        e_tag: Some(etag(&part.etag)),
        last_modified: Some(timestamp(part.last_modified)),
        ..Default::default()
    };
    set_checksums!(result, &part.checksums);
    Ok(S3Response::new(dto::UploadPartCopyOutput {
        copy_part_result: Some(result),
        server_side_encryption: sse_algorithm(&upload.sse),
        ssekms_key_id: sse_key(&upload.sse),
        ..Default::default()
    }))
}

/// `x-amz-copy-source-range: bytes=first-last`, which must lie within the source.
fn copy_range(range: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let malformed = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = range.strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(malformed)?;
    let (first, last): (u64, u64) =
        (first.parse().map_err(|_| malformed())?, last.parse().map_err(|_| malformed())?);
    if first > last || last >= size {
        return Err(s3_error!(InvalidRange, "The requested range is not satisfiable"));
    }
    Ok(first..last + 1)
}

pub(super) async fn complete_multipart_upload(
    s3: &SandboxS3,
    req: S3Request<dto::CompleteMultipartUploadInput>,
) -> S3Result<S3Response<dto::CompleteMultipartUploadOutput>> {
    let host = req.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    let input = req.input;
    let upload = s3.store.upload(&input.bucket, &input.key, &input.upload_id).map_err(store_error)?;
    s3.check_key_usable(&upload.sse)?;
    let listed = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
    let mut parts = Vec::with_capacity(listed.len());
    for p in &listed {
        let number = p.part_number.ok_or_else(|| {
            s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        })?;
        parts.push(CompletedPart {
            part_number: u32::try_from(number).unwrap_or(0),
            etag: p.e_tag.as_ref().map(|e| e.value().to_string()).unwrap_or_default(),
            checksums: checksums_from(checksum_fields!(p)),
        });
    }
    let expected = checksums_from(checksum_fields!(input));
    let (bucket, key, upload_id) = (input.bucket.clone(), input.key.clone(), input.upload_id.clone());
    let info = blocking(&s3.store, move |store| {
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

pub(super) async fn abort_multipart_upload(
    s3: &SandboxS3,
    req: S3Request<dto::AbortMultipartUploadInput>,
) -> S3Result<S3Response<dto::AbortMultipartUploadOutput>> {
    let input = req.input;
    s3.store.abort_multipart_upload(&input.bucket, &input.key, &input.upload_id).map_err(store_error)?;
    Ok(S3Response::new(dto::AbortMultipartUploadOutput::default()))
}

pub(super) async fn list_parts(
    s3: &SandboxS3,
    req: S3Request<dto::ListPartsInput>,
) -> S3Result<S3Response<dto::ListPartsOutput>> {
    let input = req.input;
    let max = page_size(input.max_parts)?;
    let marker = u32::try_from(input.part_number_marker.unwrap_or(0)).unwrap_or(0);
    let (upload, parts, truncated) =
        s3.store.list_parts(&input.bucket, &input.key, &input.upload_id, marker, max).map_err(store_error)?;
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
            if !s3.quirks.list_parts_without_checksums {
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
        initiator: Some(dto::Initiator { display_name: Some("sandbox".into()), id: Some(OWNER_ID.into()) }),
        storage_class: Some(dto::StorageClass::from_static(dto::StorageClass::STANDARD)),
        ..Default::default()
    }))
}

pub(super) async fn list_multipart_uploads(
    s3: &SandboxS3,
    req: S3Request<dto::ListMultipartUploadsInput>,
) -> S3Result<S3Response<dto::ListMultipartUploadsOutput>> {
    let input = req.input;
    let max = page_size(input.max_uploads)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let mut uploads: Vec<_> = s3
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
            checksum_algorithm: u.checksum_algorithm.map(|a| dto::ChecksumAlgorithm::from_static(a.as_str())),
            checksum_type: checksum_type_out(u.checksum_type),
            owner: Some(owner()),
            initiator: Some(initiator()),
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
