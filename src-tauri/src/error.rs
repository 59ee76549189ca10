//! Errors as they cross IPC: `{ code, message }`, with a closed set of codes the UI maps to sentences. Every
//! library error is mapped with an exhaustive `match`, so a new variant forces a decision here.

use lakedrop_aws::AwsError;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    InvalidInput,
    NotFound,
    Io,
    Credentials,
    AccessDenied,
    Aws,
    Cancelled,
    Sandbox,
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

impl From<AwsError> for IpcError {
    fn from(e: AwsError) -> IpcError {
        let code = match &e {
            AwsError::Credentials { .. } => ErrorCode::Credentials,
            AwsError::AccessDenied { .. } => ErrorCode::AccessDenied,
            AwsError::NotFound { .. } => ErrorCode::NotFound,
            AwsError::Throttled { .. } => ErrorCode::Aws,
            AwsError::Invalid { .. } => ErrorCode::InvalidInput,
            AwsError::Dependency { .. } => ErrorCode::Aws,
            AwsError::Network { .. } => ErrorCode::Aws,
            AwsError::Service { .. } => ErrorCode::Aws,
            AwsError::Io { .. } => ErrorCode::Io,
            AwsError::Input(_) => ErrorCode::InvalidInput,
            AwsError::State(_) => ErrorCode::Internal,
            AwsError::Cancelled => ErrorCode::Cancelled,
        };
        IpcError::new(code, e.to_string())
    }
}

impl From<lakedrop_core::files::FilesError> for IpcError {
    fn from(e: lakedrop_core::files::FilesError) -> IpcError {
        use lakedrop_core::files::FilesError;
        let code = match &e {
            FilesError::Io { .. } => ErrorCode::Io,
            FilesError::NothingFound(_) => ErrorCode::InvalidInput,
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
}
