//! Errors as they cross IPC: `{ code, message }`, with a closed set of codes the UI maps to sentences. Every
//! library error is mapped with an exhaustive `match`, so a new variant forces a decision here.

use lakedrop_aws::{AwsError, ErrorKind};
use serde::Serialize;

/// What went wrong, in as many kinds as there are different things for the analyst to do about it; the UI has a
/// sentence for each (`ui/src/ipc/errors.ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// What the window sent makes no sense here (a path not picked, a malformed S3 URI, no files).
    InvalidInput,
    /// AWS refused the request as invalid (ValidationException and kin): a choice needs changing.
    Rejected,
    /// A file, bucket, key, data store or job that does not exist.
    NotFound,
    /// A local file could not be read or written.
    Io,
    /// A file changed while it was being uploaded, or since it was checked: nothing of it was kept, and it needs
    /// checking again before it is imported.
    FileChanged,
    /// No usable AWS credentials, or expired ones.
    Credentials,
    /// The AWS configuration is wrong or incomplete (a missing profile, no Region, an unreadable CA bundle).
    Config,
    /// The profile's IAM Identity Center (SSO) sign-in is missing or has expired: the app can sign in.
    SignIn,
    /// The profile's role asks for an MFA code.
    MfaRequired,
    /// This computer's clock is too far off for AWS to accept its signatures.
    Clock,
    /// The bucket or data store is in another Region.
    WrongRegion,
    /// The identity in use may not do this.
    AccessDenied,
    /// AWS kept asking us to slow down and retries ran out.
    Throttled,
    /// A service HealthLake depends on (KMS, S3) refused: usually the key or the role's access to it.
    Dependency,
    /// The resource is in a state that does not allow this yet (a data store still being created).
    Conflict,
    /// AWS could not be reached: network, VPN, proxy.
    Offline,
    /// AWS failed on its side and retries ran out.
    Unavailable,
    /// Any other AWS error.
    Aws,
    /// The analyst cancelled.
    Cancelled,
    /// The embedded sandbox did not start or stopped answering.
    Sandbox,
    /// Lakedrop's own records (the local history) could not be read or written.
    LocalState,
    /// A bug in Lakedrop.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> IpcError {
        IpcError { code, message: message.into() }
    }
}

impl From<ErrorKind> for ErrorCode {
    fn from(kind: ErrorKind) -> ErrorCode {
        match kind {
            ErrorKind::InvalidInput => ErrorCode::InvalidInput,
            ErrorKind::Rejected => ErrorCode::Rejected,
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::Io => ErrorCode::Io,
            ErrorKind::FileChanged => ErrorCode::FileChanged,
            ErrorKind::Credentials => ErrorCode::Credentials,
            ErrorKind::Config => ErrorCode::Config,
            ErrorKind::SignIn => ErrorCode::SignIn,
            ErrorKind::MfaRequired => ErrorCode::MfaRequired,
            ErrorKind::Clock => ErrorCode::Clock,
            ErrorKind::WrongRegion => ErrorCode::WrongRegion,
            ErrorKind::AccessDenied => ErrorCode::AccessDenied,
            ErrorKind::Throttled => ErrorCode::Throttled,
            ErrorKind::Dependency => ErrorCode::Dependency,
            ErrorKind::Conflict => ErrorCode::Conflict,
            ErrorKind::Offline => ErrorCode::Offline,
            ErrorKind::Unavailable => ErrorCode::Unavailable,
            ErrorKind::Aws => ErrorCode::Aws,
            ErrorKind::LocalState => ErrorCode::LocalState,
            ErrorKind::Cancelled => ErrorCode::Cancelled,
        }
    }
}

impl From<AwsError> for IpcError {
    fn from(e: AwsError) -> IpcError {
        IpcError::new(e.kind().into(), e.to_string())
    }
}

impl From<lakedrop_core::files::FilesError> for IpcError {
    fn from(e: lakedrop_core::files::FilesError) -> IpcError {
        use lakedrop_core::files::FilesError;
        let code = match &e {
            FilesError::Io { .. } => ErrorCode::Io,
            FilesError::NothingFound(_) | FilesError::NotRegular { .. } => ErrorCode::InvalidInput,
            FilesError::Cancelled => ErrorCode::Cancelled,
        };
        IpcError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_as_code_and_message() {
        let e = IpcError::from(AwsError::AccessDenied { operation: "PutObject", message: "no".into() });
        assert_eq!(
            serde_json::to_value(&e).expect("serializes"),
            serde_json::json!({"code": "access-denied", "message": "access denied to PutObject: no"})
        );
    }

    #[test]
    fn what_waiting_fixes_and_what_a_change_fixes_get_different_codes() {
        let code = |e: AwsError| IpcError::from(e).code;
        assert_eq!(code(AwsError::Throttled { operation: "ListFHIRImportJobs" }), ErrorCode::Throttled);
        let network = AwsError::Network { operation: "PutObject", message: "connection refused".into() };
        assert_eq!(code(network), ErrorCode::Offline);
        let internal = AwsError::Unavailable {
            operation: "X",
            code: "InternalServerException".into(),
            message: String::new(),
        };
        assert_eq!(code(internal), ErrorCode::Unavailable);
        let invalid = AwsError::Invalid { operation: "StartFHIRImportJob", message: "bad uri".into() };
        assert_eq!(code(invalid), ErrorCode::Rejected);
        let kms = AwsError::Dependency { operation: "StartFHIRImportJob", message: "key disabled".into() };
        assert_eq!(code(kms), ErrorCode::Dependency);
        let busy = AwsError::Conflict { operation: "StartFHIRImportJob", message: "CREATING".into() };
        assert_eq!(code(busy), ErrorCode::Conflict);
        assert_eq!(code(AwsError::Input("no files".into())), ErrorCode::InvalidInput);
        let changed = AwsError::FileChanged { path: "/data/a.ndjson".into(), message: "size changed".into() };
        assert_eq!(code(changed), ErrorCode::FileChanged);
    }
}
