//! The AWS Query protocol, as IAM and STS speak it: a form-encoded `Action=…` body in, XML out, errors as
//! `<ErrorResponse>` with the service's namespace. One place writes the envelope so the two services agree.

use crate::protocol::ApiError;

/// An answer in the Query protocol: an XML body and its status.
pub struct QueryResponse {
    pub status: u16,
    pub body: String,
}

/// A decoded form body.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A required member, or the validation error AWS answers for a missing one.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key).ok_or_else(|| ApiError::new("ValidationError", 400, format!("1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null")))
    }

    pub fn action(&self) -> &str {
        self.get("Action").unwrap_or("")
    }
}

/// Wraps an action's result (the inner XML of `<{action}Result>`) or its error in the service's envelope.
pub fn respond(namespace: &str, action: &str, result: Result<String, ApiError>) -> QueryResponse {
    let request_id = uuid::Uuid::new_v4();
    match result {
        Ok(inner) => QueryResponse {
            status: 200,
            body: format!(
                "<{action}Response xmlns=\"{namespace}\"><{action}Result>{inner}</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
            ),
        },
        Err(e) => error(namespace, &e),
    }
}

/// An `<ErrorResponse>`, as the SDKs parse it (`Error/Code` and `Error/Message`).
pub fn error(namespace: &str, e: &ApiError) -> QueryResponse {
    let request_id = uuid::Uuid::new_v4();
    QueryResponse {
        status: e.status.as_u16(),
        body: format!(
            "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            e.type_name,
            escape(&e.message)
        ),
    }
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
