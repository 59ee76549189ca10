//! A data store's FHIR R4 REST API (read and search by GET), signed with SigV4 (signing name `healthlake`) with
//! the connection's own credentials, over the same trust and proxy as the SDK clients. The endpoint is the one
//! `DescribeFHIRDatastore` gives (`https://healthlake.<region>.amazonaws.com/datastore/<id>/r4/` on AWS, the
//! sandbox's loopback URL there), so a profile's `endpoint_url` and the sandbox need nothing more.
//!
//! Nothing read is cached or written anywhere; logs carry the interaction and status, never ids or contents.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use lakedrop_core::policy::{READ_BACK_ACTIONS, statement_allowing};
use lakedrop_core::readback::{Lookup, parse_lookup};
use serde_json::Value;

use crate::{AwsError, Clients};

/// The longest one request may take, answer included.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Tries per request: a read or search is safe to send again after throttling, a 5xx or a dropped connection.
const ATTEMPTS: u32 = 4;
/// The most resources one search page asks for (HealthLake's own ceiling for `_count`).
pub const MAX_PAGE: usize = 100;

/// The FHIR API of one data store on one connection.
pub struct Fhir {
    http: SharedHttpConnector,
    credentials: SharedCredentialsProvider,
    region: String,
    /// The data store's endpoint, ending in `/`.
    base: String,
    datastore_arn: String,
}

/// One page of a search: the searchset Bundle as the service returned it, and where the next page is.
#[derive(Debug, Clone)]
pub struct Page {
    pub bundle: Value,
    /// The resources of the page, in order.
    pub resources: Vec<Value>,
    pub total: Option<u64>,
    /// The `next` link, to pass to [`Fhir::page`].
    pub next: Option<String>,
}

/// What a look-up found.
#[derive(Debug, Clone)]
pub enum Found {
    Resource(Value),
    /// A read of a resource the data store does not hold (never created, or deleted).
    Absent {
        reference: String,
    },
    Page(Page),
}

impl Fhir {
    /// The FHIR API of a data store, which must be ACTIVE.
    pub async fn open(clients: &Clients, datastore_id: &str) -> Result<Fhir, AwsError> {
        let out = crate::retry::with_retries("DescribeFHIRDatastore", "data store", || {
            clients.healthlake.describe_fhir_datastore().datastore_id(datastore_id).send()
        })
        .await?;
        let Some(props) = out.datastore_properties() else {
            return Err(AwsError::NotFound { message: format!("data store {datastore_id} was not found") });
        };
        let status = props.datastore_status().as_str();
        if status != "ACTIVE" {
            return Err(AwsError::Conflict {
                operation: "ReadResource",
                message: format!(
                    "data store {datastore_id} is {status}; its FHIR API answers once it is ACTIVE"
                ),
            });
        }
        let mut base = props.datastore_endpoint().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        let credentials = clients.credentials.clone().ok_or_else(|| AwsError::Credentials {
            message: "the connection has no credentials to sign FHIR requests with".into(),
        })?;
        Ok(Fhir {
            http: clients.http.clone(),
            credentials,
            region: clients.region.clone(),
            base,
            datastore_arn: props.datastore_arn().to_string(),
        })
    }

    /// The endpoint requests go to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Reads `Type/id`: `None` when the data store does not hold it (404, or 410 for a deleted one).
    pub async fn read(&self, resource_type: &str, id: &str) -> Result<Option<Value>, AwsError> {
        let url = format!("{}{resource_type}/{}", self.base, encode(id));
        match self.get("ReadResource", &url).await? {
            (200, body) => Ok(Some(body)),
            (404 | 410, _) => Ok(None),
            (status, body) => Err(refused("ReadResource", status, &body, &self.datastore_arn)),
        }
    }

    /// The first page of a search of one type (`query` as in `subject=Patient/1&_count=10`); `count` sets
    /// `_count` when the query does not (at most [`MAX_PAGE`]).
    pub async fn search(
        &self,
        resource_type: &str,
        query: &str,
        count: Option<usize>,
    ) -> Result<Page, AwsError> {
        let mut query = query.trim_start_matches('?').to_string();
        if let Some(count) = count
            && !query.split('&').any(|p| p.starts_with("_count="))
        {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("_count={}", count.clamp(1, MAX_PAGE)));
        }
        let url = if query.is_empty() {
            format!("{}{resource_type}", self.base)
        } else {
            format!("{}{resource_type}?{}", self.base, canonical_query(&query))
        };
        self.page(&url).await
    }

    /// A page by its `next` link. Only links on this data store's endpoint are followed: a signed request never
    /// goes anywhere else.
    pub async fn page(&self, url: &str) -> Result<Page, AwsError> {
        if !url.starts_with(&self.base) {
            return Err(AwsError::Input(format!(
                "{url} is not on this data store's FHIR endpoint {}",
                self.base
            )));
        }
        match self.get("SearchWithGet", url).await? {
            (200, bundle) => Ok(page_of(bundle)),
            (status, body) => Err(refused("SearchWithGet", status, &body, &self.datastore_arn)),
        }
    }

    /// Answers what a person typed: a read, or the first page of a search.
    pub async fn lookup(&self, text: &str, count: Option<usize>) -> Result<Found, AwsError> {
        match parse_lookup(text).map_err(AwsError::Input)? {
            Lookup::Read { resource_type, id } => Ok(match self.read(&resource_type, &id).await? {
                Some(resource) => Found::Resource(resource),
                None => Found::Absent { reference: format!("{resource_type}/{id}") },
            }),
            Lookup::Search { resource_type, query } => {
                Ok(Found::Page(self.search(&resource_type, &query, count).await?))
            }
        }
    }

    /// Sends one signed GET, retrying what is safe to; returns the status and the JSON body (`Null` if none).
    async fn get(&self, operation: &'static str, url: &str) -> Result<(u16, Value), AwsError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = self.send(operation, url).await;
            let again = match &answer {
                Ok((status, _)) => *status == 429 || *status >= 500,
                Err(e) => crate::retry::retryable(e),
            };
            if !again || attempt >= ATTEMPTS {
                let (status, body) = answer?;
                tracing::debug!(operation, status, "FHIR request");
                return Ok((status, body));
            }
            tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(attempt))).await;
        }
    }

    async fn send(&self, operation: &'static str, url: &str) -> Result<(u16, Value), AwsError> {
        let credentials =
            self.credentials.provide_credentials().await.map_err(|e| AwsError::Credentials {
                message: format!("the connection's credentials could not be had to sign a FHIR request: {e}"),
            })?;
        let uri: http::Uri = url.parse().map_err(|_| AwsError::Input(format!("{url} is not a valid URL")))?;
        let host = match (uri.host(), uri.port_u16()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => return Err(AwsError::Input(format!("{url} names no host"))),
        };
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("healthlake")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| AwsError::Input(format!("cannot sign the request: {e}")))?
            .into();
        let headers = [("host", host.as_str()), ("accept", "application/fhir+json")];
        let signable = SignableRequest::new("GET", url, headers.into_iter(), SignableBody::Bytes(&[]))
            .map_err(|e| AwsError::Input(format!("cannot sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| AwsError::Input(format!("cannot sign the request: {e}")))?
            .into_parts();
        let mut request = http::Request::builder().method("GET").uri(uri);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request.body(SdkBody::empty()).map_err(|e| AwsError::Input(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        let request =
            request.try_into().map_err(|e| AwsError::Input(format!("cannot send the request: {e}")))?;
        let call = async {
            let response =
                self.http.call(request).await.map_err(|e| crate::error::unanswered(operation, &e))?;
            let status = response.status().as_u16();
            let bytes = ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|e| crate::error::unanswered(operation, &e))?
                .into_bytes();
            // A body that is not JSON (a proxy's page) is kept as its status alone.
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            };
            Ok((status, body))
        };
        tokio::time::timeout(TIMEOUT, call).await.unwrap_or_else(|_| {
            Err(AwsError::Network {
                operation,
                message: "the request timed out; check the connection and try again".into(),
            })
        })
    }
}

/// The error for a refused request, in words: access denied names the permission and the statement that
/// allows it; a search the service does not support says what it said.
fn refused(operation: &'static str, status: u16, body: &Value, datastore_arn: &str) -> AwsError {
    let said = said(body).unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        401 | 403 => {
            let action =
                if operation == "ReadResource" { READ_BACK_ACTIONS[0] } else { READ_BACK_ACTIONS[1] };
            let statement = statement_allowing(action, datastore_arn);
            AwsError::AccessDenied {
                operation,
                message: format!(
                    "{said}. Reading imported resources needs {action} on the data store; a statement that allows it: {statement} (`lakedrop policy` prints it with the rest)"
                ),
            }
        }
        400 | 422 => AwsError::Invalid { operation, message: said },
        404 => AwsError::NotFound { message: said },
        429 => AwsError::Throttled { operation },
        500..=599 => AwsError::Unavailable { operation, code: status.to_string(), message: said },
        _ => AwsError::Service { operation, code: status.to_string(), message: said },
    }
}

/// What an error body says: an OperationOutcome's diagnostics, or AWS's `message`.
fn said(body: &Value) -> Option<String> {
    if let Some(issues) = body.get("issue").and_then(Value::as_array) {
        let words: Vec<&str> = issues
            .iter()
            .filter_map(|i| {
                i.get("diagnostics").or_else(|| i.pointer("/details/text")).and_then(Value::as_str)
            })
            .collect();
        if !words.is_empty() {
            return Some(words.join("; "));
        }
    }
    ["message", "Message"].iter().find_map(|k| body.get(*k).and_then(Value::as_str)).map(str::to_string)
}

fn page_of(bundle: Value) -> Page {
    let resources = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(|e| e.get("resource").cloned()).collect())
        .unwrap_or_default();
    let next = bundle
        .get("link")
        .and_then(Value::as_array)
        .and_then(|links| links.iter().find(|l| l.get("relation").and_then(Value::as_str) == Some("next")))
        .and_then(|l| l.get("url").and_then(Value::as_str))
        .map(str::to_string);
    let total = bundle.get("total").and_then(Value::as_u64);
    Page { bundle, resources, total, next }
}

/// What SigV4 leaves as it is in a URL: RFC 3986's unreserved characters. Everything else is percent-encoded
/// once, so the request's query and the signed canonical query are the same text.
const ENCODE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// An id as one path segment (ids are `[A-Za-z0-9-.]`, so this only guards against what a caller passes).
fn encode(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, ENCODE).to_string()
}

/// The query with each name and value percent-encoded once: what a person types, such as
/// `identifier=http://x|123`, holds characters a URL may not carry raw.
fn canonical_query(query: &str) -> String {
    form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| format!("{}={}", encode(&name), encode(&value)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn access_denied_names_the_permission_and_the_statement_that_allows_it() {
        let arn = "arn:aws:healthlake:us-east-1:111122223333:datastore/fhir/abc";
        let body = json!({"message": "User: arn:aws:iam::111122223333:user/ana is not authorized"});
        let read = refused("ReadResource", 403, &body, arn).to_string();
        assert!(read.contains("healthlake:ReadResource") && read.contains(arn), "{read}");
        assert!(read.starts_with("access denied to ReadResource: User: arn:aws:iam"), "{read}");
        let search = refused("SearchWithGet", 403, &json!(null), arn).to_string();
        assert!(search.contains("healthlake:SearchWithGet") && search.contains("HTTP 403"), "{search}");
        let outcome = json!({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "bad _count"}]});
        assert!(
            matches!(refused("SearchWithGet", 400, &outcome, arn), AwsError::Invalid { message, .. } if message == "bad _count")
        );
        assert!(matches!(refused("ReadResource", 429, &json!(null), arn), AwsError::Throttled { .. }));
    }

    #[test]
    fn queries_are_encoded_once_as_sigv4_reads_them() {
        assert_eq!(
            canonical_query("identifier=http://x|1 2&_count=5"),
            "identifier=http%3A%2F%2Fx%7C1%202&_count=5"
        );
        assert_eq!(canonical_query("subject=Patient%2F1"), "subject=Patient%2F1");
        assert_eq!(encode("a.b-c"), "a.b-c");
    }
}
