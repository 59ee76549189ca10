//! S3 errors as AWS words them: for each store error, and for KMS keys that cannot be used.

use http::StatusCode;
use s3s::{S3Error, S3ErrorCode, s3_error};

use super::super::KeyProblem;
use super::super::checksum::ChecksumAlgorithm;
use super::super::store::StoreError;

pub(super) fn kms_error(problem: KeyProblem, key: &str) -> S3Error {
    let (code, message) = match problem {
        KeyProblem::NotFound => ("KMS.NotFoundException", format!("Invalid keyId '{key}'")),
        KeyProblem::Disabled => ("KMS.DisabledException", format!("{key} is disabled.")),
    };
    custom_error(code, StatusCode::BAD_REQUEST, message)
}

pub(super) fn custom_error(code: &str, status: StatusCode, message: String) -> S3Error {
    let mut err = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    err.set_status_code(status);
    err
}

/// The S3 error for each store error, with AWS's messages.
pub(super) fn store_error(e: StoreError) -> S3Error {
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

pub(super) fn bad_digest(algorithm: ChecksumAlgorithm) -> S3Error {
    s3_error!(BadDigest, "The {} you specified did not match the calculated checksum.", algorithm.as_str())
}

pub(super) fn invalid_checksum_header(algorithm: ChecksumAlgorithm) -> S3Error {
    s3_error!(InvalidRequest, "Value for {} header is invalid.", algorithm.header())
}
