//! Beginning and ending a multipart upload: create it, complete it, and prove the object S3 made is the plan's
//! file before anything says "uploaded". A completion whose answer was lost (a dropped connection, a crash) is
//! recognised by the object it left, not sent again blindly.

use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use lakedrop_core::state::{DonePart, PendingUpload, State};

use super::plan::Plan;
use super::prove::{self, Head};
use super::{Encryption, ObjectTarget, Transferred};
use crate::AwsError;
use crate::retry::with_retries;

/// Creates a multipart upload for the plan and records it before any part is sent.
pub async fn create(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    plan: &Plan,
    now_unix: i64,
) -> Result<PendingUpload, AwsError> {
    // Sending this twice makes two uploads, the spare one abandoned: `clean_orphans` aborts it later, which is
    // better than failing the whole transfer on one dropped connection.
    let created = with_retries("CreateMultipartUpload", "the upload", || {
        let mut create = s3
            .create_multipart_upload()
            .bucket(target.bucket)
            .key(target.key)
            .content_type("application/fhir+ndjson")
            .checksum_algorithm(ChecksumAlgorithm::Crc32C);
        if let Encryption::Kms(key_id) = target.encryption {
            create = create.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id);
        }
        create.send()
    })
    .await?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| AwsError::Input("S3 returned no upload id for CreateMultipartUpload".into()))?;
    let pending = PendingUpload {
        upload_id: upload_id.to_string(),
        bucket: target.bucket.to_string(),
        key: target.key.to_string(),
        path: plan.path.display().to_string(),
        size: plan.size,
        mtime_ns: plan.mtime_ns,
        part_size: plan.part_size,
        started_unix: now_unix,
    };
    state.begin_upload(&pending)?;
    Ok(pending)
}

/// How a completion ended.
pub enum Completed {
    /// S3 made the object, and it is proven to be the plan's file.
    Object(Transferred),
    /// S3 refused a part kept from the interrupted upload (replaced since, where S3 could not list its
    /// parts readably): the caller starts over.
    StalePart,
}

/// Completes the upload with every part of the plan, then proves the object: its size, and its composite
/// checksum where S3 reports one, must be the plan's. The file must still be what the plan read, so an object
/// never mixes two versions of it.
pub async fn complete(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    upload: &PendingUpload,
    plan: &Plan,
    parts: &[DonePart],
    kept_any: bool,
) -> Result<Completed, AwsError> {
    plan.unchanged()?;
    let completed = CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|p| {
                    CompletedPart::builder()
                        .part_number(p.part_number as i32)
                        .e_tag(&p.etag)
                        .checksum_crc32_c(&p.crc32c)
                        .build()
                })
                .collect(),
        ))
        .build();
    let answer = with_retries("CompleteMultipartUpload", "the completion", || {
        s3.complete_multipart_upload()
            .bucket(target.bucket)
            .key(target.key)
            .upload_id(&upload.upload_id)
            .multipart_upload(completed.clone())
            .send()
    })
    .await;
    match answer {
        Ok(_) => {}
        // The completion went through but its answer was lost, and a retry found the upload gone: the object
        // tells whether it was this one.
        Err(AwsError::NotFound { .. }) => {
            tracing::info!("the upload was already completed; checking the object")
        }
        Err(AwsError::Service { code, .. }) if code == "InvalidPart" && kept_any => {
            return Ok(Completed::StalePart);
        }
        Err(e) => return Err(e),
    }
    let head = prove::head(s3, target).await?.ok_or_else(|| AwsError::NotFound {
        message: format!(
            "s3://{}/{} is missing after its upload was completed; run the same command again to upload it",
            target.bucket, target.key
        ),
    })?;
    verify(target, plan, &head, parts)?;
    state.forget_upload(&upload.upload_id)?;
    Ok(Completed::Object(Transferred { crc32c: plan.checksum(), ..head.transferred }))
}

/// Fails unless the object is the plan's file.
pub fn verify(
    target: &ObjectTarget<'_>,
    plan: &Plan,
    head: &Head,
    parts: &[DonePart],
) -> Result<(), AwsError> {
    if head.transferred.bytes != plan.size {
        return Err(AwsError::Input(format!(
            "s3://{}/{} holds {} bytes after the upload, the file {}: the object is not the file; upload it again",
            target.bucket, target.key, head.transferred.bytes, plan.size
        )));
    }
    if head.checksum.is_some() && !prove::is_plan(plan, head, None, parts) {
        return Err(AwsError::Input(format!(
            "s3://{}/{} reports checksum {}, but the file makes {}: the object is not the file; upload it again",
            target.bucket,
            target.key,
            head.checksum.as_deref().unwrap_or("-"),
            plan.composite_checksum()
        )));
    }
    Ok(())
}

/// Aborts an upload and forgets it; failures are logged, not raised (the upload may be gone already).
pub async fn abort(s3: &aws_sdk_s3::Client, state: &State, pending: &PendingUpload) {
    let aborted = with_retries("AbortMultipartUpload", "an old upload", || {
        s3.abort_multipart_upload()
            .bucket(&pending.bucket)
            .key(&pending.key)
            .upload_id(&pending.upload_id)
            .send()
    })
    .await;
    match aborted {
        Ok(_) | Err(AwsError::NotFound { .. }) => {}
        Err(e) => tracing::warn!(error = %e, "could not abort an old upload"),
    }
    if let Err(e) = state.forget_upload(&pending.upload_id) {
        tracing::warn!(error = %e, "could not forget an old upload");
    }
}

/// Ends an upload whose file changed under it: aborted and forgotten, so the next run starts from the file as it
/// is then, and the error says what happened.
pub async fn abandon_changed(
    s3: &aws_sdk_s3::Client,
    state: &State,
    upload: &PendingUpload,
    error: AwsError,
) -> AwsError {
    if matches!(error, AwsError::FileChanged { .. }) {
        abort(s3, state, upload).await;
    }
    error
}

/// The error for a file that is not what its check saw.
pub fn not_as_checked(plan: &Plan) -> AwsError {
    AwsError::FileChanged {
        path: plan.path.clone(),
        message:
            "the file changed after it was checked, so it was not uploaded; check it again, then import it"
                .into(),
    }
}
