//! One classification of everything that can go wrong talking to AWS (or the sandbox), each variant with what
//! the analyst can do about it.

use std::path::PathBuf;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No usable credentials: none configured, an SSO session to refresh, or expired keys.
    #[error("{message}")]
    Credentials { message: String },
    /// The caller's identity may not do this.
    #[error("access denied to {operation}: {message}")]
    AccessDenied { operation: &'static str, message: String },
    /// A bucket, key, data store, job or object that does not exist.
    #[error("{message}")]
    NotFound { message: String },
    /// AWS asked us to slow down and retries ran out.
    #[error("{operation} was throttled by AWS; wait a minute and try again")]
    Throttled { operation: &'static str },
    /// The request was refused as invalid (the service's ValidationException and kin).
    #[error("{operation}: {message}")]
    Invalid { operation: &'static str, message: String },
    /// A service the call depends on refused (e.g. HealthLake could not use the KMS key).
    #[error("{operation}: {message}")]
    Dependency { operation: &'static str, message: String },
    /// The request conflicts with the resource's current state (a data store still being created, a job
    /// already cancelled): waiting, or choosing another resource, helps; sending it again at once does not.
    #[error("{operation}: {message}")]
    Conflict { operation: &'static str, message: String },
    /// AWS failed on its side (an internal error, a service unavailable, a request timed out) and retries ran
    /// out; the same request may well work later.
    #[error("{operation} failed on AWS's side ({code}): {message}")]
    Unavailable { operation: &'static str, code: String, message: String },
    /// The network failed or timed out.
    #[error("could not reach AWS for {operation}: {message}")]
    Network { operation: &'static str, message: String },
    /// Any other service error, with its code.
    #[error("{operation} failed ({code}): {message}")]
    Service { operation: &'static str, code: String, message: String },
    /// A local file could not be read.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The input given makes no sense (no files, a malformed S3 URI, ...).
    #[error("{0}")]
    Input(String),
    /// Local state could not be read or written.
    #[error(transparent)]
    State(#[from] lakedrop_core::state::StateError),
    /// The analyst cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A file changed while Lakedrop was uploading it, or since it was checked: nothing of it was kept as the
    /// object, and running the same command again starts from the file as it is then.
    #[error("{}: {message}", path.display())]
    FileChanged { path: PathBuf, message: String },
}

impl From<lakedrop_core::files::FilesError> for AwsError {
    fn from(e: lakedrop_core::files::FilesError) -> AwsError {
        use lakedrop_core::files::FilesError;
        match e {
            FilesError::Io { path, source } => AwsError::Io { path, source },
            FilesError::NothingFound(_) | FilesError::NotRegular { .. } => AwsError::Input(e.to_string()),
            FilesError::Cancelled => AwsError::Cancelled,
        }
    }
}

impl AwsError {
    /// Classifies an SDK error from any client.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let detail = DisplayErrorContext(&err).to_string();
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or("Unknown").to_string();
                let message = match inner.message() {
                    Some(message) => message.to_string(),
                    // No code and no message: say what the SDK saw (status, parse failure) rather than nothing.
                    None if inner.code().is_none() => short(&detail),
                    None => String::new(),
                };
                classify(operation, &code, message)
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
                if detail.contains("credentials") || detail.contains("identity") {
                    credentials_error(&detail)
                } else {
                    AwsError::Network { operation, message: short(&detail) }
                }
            }
            _ if detail.contains("credentials")
                || detail.contains("identity")
                || detail.contains("token") =>
            {
                credentials_error(&detail)
            }
            _ => AwsError::Service { operation, code: "ClientError".into(), message: short(&detail) },
        }
    }
}

fn classify(operation: &'static str, code: &str, message: String) -> AwsError {
    match code {
        "AccessDenied" | "AccessDeniedException" | "AllAccessDisabled" | "Forbidden" => {
            AwsError::AccessDenied { operation, message }
        }
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidAccessKeyId"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException" => AwsError::Credentials {
            message: format!(
                "AWS refused the credentials ({code}): {message}. Sign in again (e.g. `aws sso login --profile <profile>`) or check the keys"
            ),
        },
        "NoSuchBucket"
        | "NoSuchKey"
        | "NotFound"
        | "NoSuchUpload"
        | "ResourceNotFoundException"
        | "NotFoundException" => AwsError::NotFound {
            message: if message.is_empty() { format!("{operation}: {code}") } else { message },
        },
        "Throttling"
        | "ThrottlingException"
        | "SlowDown"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => AwsError::Throttled { operation },
        "ValidationException" | "InvalidRequest" | "InvalidArgument" | "SerializationException" => {
            AwsError::Invalid { operation, message }
        }
        "FailedDependencyException"
        | "KMS.DisabledException"
        | "KMS.NotFoundException"
        | "DisabledException"
        | "KMSInvalidStateException" => AwsError::Dependency { operation, message },
        "ConflictException" | "OperationAborted" | "BucketAlreadyExists" | "BucketAlreadyOwnedByYou" => {
            AwsError::Conflict { operation, message }
        }
        "InternalServerException"
        | "InternalServerError"
        | "InternalError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "KMSInternalException"
        | "DependencyTimeoutException"
        | "RequestTimeout" => AwsError::Unavailable { operation, code: code.into(), message },
        _ => AwsError::Service { operation, code: code.into(), message },
    }
}

fn credentials_error(detail: &str) -> AwsError {
    AwsError::Credentials {
        message: format!(
            "no usable AWS credentials ({}). Choose a profile, run `aws sso login --profile <profile>` if it uses SSO, or use the sandbox",
            short(detail)
        ),
    }
}

/// SDK error chains can be long; the first part is what matters to a person.
fn short(detail: &str) -> String {
    let mut s: String = detail.chars().take(300).collect();
    if detail.chars().count() > 300 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes_map_to_kinds_people_can_act_on() {
        assert!(matches!(
            classify("StartFHIRImportJob", "AccessDeniedException", "x".into()),
            AwsError::AccessDenied { .. }
        ));
        assert!(matches!(classify("PutObject", "ExpiredToken", "x".into()), AwsError::Credentials { .. }));
        assert!(matches!(classify("GetObject", "NoSuchKey", String::new()), AwsError::NotFound { .. }));
        assert!(matches!(
            classify("ListFHIRImportJobs", "ThrottlingException", String::new()),
            AwsError::Throttled { .. }
        ));
        assert!(matches!(
            classify("StartFHIRImportJob", "FailedDependencyException", String::new()),
            AwsError::Dependency { .. }
        ));
        assert!(matches!(
            classify("StartFHIRImportJob", "ConflictException", String::new()),
            AwsError::Conflict { .. }
        ));
        assert!(matches!(
            classify("DescribeFHIRImportJob", "InternalServerException", String::new()),
            AwsError::Unavailable { .. }
        ));
        assert!(matches!(
            classify("UploadPart", "InternalError", String::new()),
            AwsError::Unavailable { .. }
        ));
        let other = classify("X", "Weird", "msg".into());
        assert_eq!(other.to_string(), "X failed (Weird): msg");
    }
}
