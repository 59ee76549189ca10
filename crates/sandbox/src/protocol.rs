//! The AWS JSON protocols (1.0 for HealthLake, 1.1 for KMS): request bodies in, `{"__type", "message"}` errors
//! out, with the HTTP status each error type has in the service model.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use serde_json::Value;

/// A service error as the SDKs parse it: the error shape's name, a message, and its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub type_name: &'static str,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    pub fn new(type_name: &'static str, status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            type_name,
            message: message.into(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        }
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationException", 400, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new("ResourceNotFoundException", 404, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new("InternalServerException", 500, message)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        tracing::error!(error = %e, "sandbox database error");
        ApiError::internal("the sandbox's database failed; see the sandbox log")
    }
}

pub type ApiResult<T = Value> = Result<T, ApiError>;

/// Which JSON protocol a response speaks.
#[derive(Debug, Clone, Copy)]
pub enum JsonVersion {
    V1_0,
    V1_1,
}

impl JsonVersion {
    fn content_type(self) -> &'static str {
        match self {
            JsonVersion::V1_0 => "application/x-amz-json-1.0",
            JsonVersion::V1_1 => "application/x-amz-json-1.1",
        }
    }
}

pub fn respond(version: JsonVersion, request_id: &str, result: ApiResult) -> Response<Bytes> {
    let (status, body, error_type) = match result {
        Ok(value) => (StatusCode::OK, value, None),
        Err(e) => {
            let body = serde_json::json!({"__type": e.type_name, "message": e.message});
            (e.status, body, Some(e.type_name))
        }
    };
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(version.content_type()));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(error_type) = error_type {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    }
    response
}

/// Reads a required string member.
pub fn req_str<'a>(input: &'a Value, name: &str) -> ApiResult<&'a str> {
    input.get(name).and_then(Value::as_str).ok_or_else(|| {
        ApiError::validation(format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"))
    })
}

pub fn opt_str<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

/// Seconds since the epoch, as AWS JSON protocols send timestamps.
pub fn epoch_seconds(now: std::time::SystemTime) -> f64 {
    now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
