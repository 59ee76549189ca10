//! The one loopback endpoint: unsigned requests on the SSO portal's and OIDC's paths go to sso.rs; requests with
//! an `X-Amz-Target` of `HealthLake.*` or `TrentService.*` to the JSON services, FHIR paths to fhir.rs,
//! form-encoded POSTs to IAM or STS (all after our SigV4 check), everything else to `s3s` (which checks SigV4
//! itself, against the same keys). With a fault
//! spec, a share of requests fail before routing (see `faults.rs`).

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::service::S3Service;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::faults::{self, Fault, Faults};
use crate::healthlake::HealthLake;
use crate::iam::Iam;
use crate::identity::Identities;
use crate::kms::Kms;
use crate::protocol::{ApiError, JsonVersion, respond};
use crate::query::QueryResponse;
use crate::s3::auth::{S3Guard, S3Keys};
use crate::s3::{ObjectStore, SandboxS3};
use crate::sigv4::{signed_service, verify};
use crate::sso::Sso;
use crate::sts::Sts;

/// JSON-protocol requests are small; anything bigger is a mistake or an attack.
const MAX_JSON_BODY: usize = 1024 * 1024;

pub(crate) struct Router {
    s3: S3Service,
    kms: Arc<Kms>,
    healthlake: Arc<HealthLake>,
    iam: Arc<Iam>,
    sts: Arc<Sts>,
    sso: Arc<Sso>,
    identities: Arc<Identities>,
    faults: Faults,
    /// The Region the JSON services and the FHIR API answer for: a request signed for another is refused.
    region: String,
}

/// An S3 operation the sandbox does not implement answers `s3s`'s "X is not implemented yet": said instead as
/// the sandbox's own limit, with the operations it does implement.
async fn name_the_sandbox(response: Response<s3s::Body>) -> Response<s3s::Body> {
    let (mut parts, body) = response.into_parts();
    let Ok(collected) = Limited::new(body, 64 * 1024).collect().await else {
        return Response::from_parts(parts, s3s::Body::empty());
    };
    let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    let text = text.replace(
        " is not implemented yet",
        &format!(
            " is not implemented by the Lakedrop sandbox, which implements the S3 operations {}",
            crate::s3::SUPPORTED_OPERATIONS.join(", ")
        ),
    );
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, s3s::Body::from(text))
}

/// The connection is to be dropped without an answer (an injected reset).
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for DropConnection {}

impl Router {
    pub fn new(
        store: Arc<ObjectStore>,
        kms: Arc<Kms>,
        healthlake: Arc<HealthLake>,
        iam: Arc<Iam>,
        identities: Arc<Identities>,
        sso: Arc<Sso>,
        config: &crate::SandboxConfig,
    ) -> Router {
        let s3 =
            SandboxS3::new(store.clone(), kms.clone(), &config.region).with_quirks(config.quirks.clone());
        let mut builder = s3s::service::S3ServiceBuilder::new(s3);
        builder.set_auth(S3Keys(identities.clone()));
        builder.set_access(S3Guard {
            keys: S3Keys(identities.clone()),
            store,
            account: crate::ACCOUNT_ID.to_string(),
        });
        Router {
            s3: builder.build(),
            kms,
            healthlake,
            sts: Arc::new(Sts::new(iam.clone(), identities.clone(), crate::ACCOUNT_ID)),
            iam,
            sso,
            identities,
            faults: config.faults.clone(),
            region: config.region.clone(),
        }
    }

    /// Serves one request, unless an injected fault strikes first; holds wait before or after handling it.
    async fn handle(&self, request: Request<Incoming>) -> Result<Response<s3s::Body>, DropConnection> {
        let service = service_of(&request);
        let operation = if self.faults.holds_any() { operation_of(&request) } else { String::new() };
        match self.faults.draw(service) {
            None => {
                if let Some(hold) = self.faults.hold(&operation, faults::When::Before) {
                    tokio::time::sleep(hold).await;
                }
                let response = self.route(request).await;
                if let Some(hold) = self.faults.hold(&operation, faults::When::After) {
                    tokio::time::sleep(hold).await;
                }
                Ok(response)
            }
            Some(Fault::Reset) => {
                tracing::debug!(?service, "injected fault: connection reset");
                Err(DropConnection)
            }
            Some(fault) => {
                tracing::debug!(?service, ?fault, "injected fault");
                Ok(fault_response(service, fault))
            }
        }
    }

    async fn route(&self, request: Request<Incoming>) -> Response<s3s::Body> {
        // Unsigned, so it never shadows a signed S3 request for a bucket that shares a name with an SSO path.
        if crate::sso::is_sso_request(&request) {
            return self.sso.serve(request).await.map(s3s::Body::from);
        }
        let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_string);
        match target.as_deref().and_then(|t| t.split_once('.')) {
            Some(("HealthLake", op)) => {
                self.json(request, JsonVersion::V1_0, op.to_string(), Service::HealthLake).await
            }
            Some(("TrentService", op)) => {
                self.json(request, JsonVersion::V1_1, op.to_string(), Service::Kms).await
            }
            // The FHIR REST API of a data store (`/datastore/{id}/r4/...`): SigV4-checked there; see fhir.rs.
            None if crate::fhir::is_fhir_request(&request) => {
                crate::fhir::serve(&self.healthlake, &self.identities, request).await.map(s3s::Body::from)
            }
            None if is_query_protocol(&request) => self.query(request).await,
            _ => match self
                .s3
                .call(
                    crate::sigv4::without_multiple_ranges(&self.identities, request, SystemTime::now())
                        .map(s3s::Body::from),
                )
                .await
            {
                Ok(response) if response.status() == StatusCode::NOT_IMPLEMENTED => {
                    name_the_sandbox(response).await
                }
                Ok(response) => response,
                Err(e) => {
                    tracing::error!(error = ?e, "S3 request failed outside the protocol");
                    let mut response = Response::new(s3s::Body::from("internal error".to_string()));
                    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    response
                }
            },
        }
    }

    /// IAM's and STS's Query protocol: a form-encoded POST to `/`, answered in XML. The credential scope says
    /// which service is asked (both sign with their own name); an unsigned request goes by its `Action`.
    async fn query(&self, request: Request<Incoming>) -> Response<s3s::Body> {
        let now = SystemTime::now();
        let (parts, body) = request.into_parts();
        let answer = match Limited::new(body, MAX_JSON_BODY).collect().await {
            Err(_) => QueryResponse { status: 413, body: "<ErrorResponse/>".into() },
            Ok(collected) => {
                let body = collected.to_bytes();
                let for_sts = match signed_service(&parts.headers) {
                    Some(service) => service == "sts",
                    None => crate::sts::ACTIONS.contains(&crate::query::Form::parse(&body).action()),
                };
                let (service, namespace) =
                    if for_sts { ("sts", crate::sts::NAMESPACE) } else { ("iam", crate::iam::NAMESPACE) };
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                match verify(
                    &self.identities,
                    service,
                    None,
                    parts.method.as_str(),
                    path,
                    &parts.headers,
                    &body,
                    now,
                ) {
                    Err(e) => crate::query::error(namespace, &e.query()),
                    Ok(caller) => {
                        let (iam, sts) = (self.iam.clone(), self.sts.clone());
                        tokio::task::spawn_blocking(move || {
                            if for_sts { sts.handle(&caller, &body, now) } else { iam.handle(&body, now) }
                        })
                        .await
                        .unwrap_or_else(|_| QueryResponse { status: 500, body: "<ErrorResponse/>".into() })
                    }
                }
            }
        };
        let mut response = Response::new(s3s::Body::from(answer.body));
        *response.status_mut() =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/xml"));
        response
    }

    async fn json(
        &self,
        request: Request<Incoming>,
        version: JsonVersion,
        op: String,
        service: Service,
    ) -> Response<s3s::Body> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let now = SystemTime::now();
        let (parts, body) = request.into_parts();
        let result = match Limited::new(body, MAX_JSON_BODY).collect().await {
            Err(_) => {
                Err(ApiError::new("SerializationException", 413, "request body too large or unreadable"))
            }
            Ok(collected) => {
                let body = collected.to_bytes();
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                match verify(
                    &self.identities,
                    service.name(),
                    Some(&self.region),
                    parts.method.as_str(),
                    path,
                    &parts.headers,
                    &body,
                    now,
                ) {
                    Err(e) => Err(e.json()),
                    Ok(_) => self.dispatch(&body, &op, service, now).await,
                }
            }
        };
        match &result {
            Ok(_) => tracing::debug!(service = service.name(), op, "ok"),
            Err(e) => tracing::info!(service = service.name(), op, error = e.type_name, "error"),
        }
        respond(version, &request_id, result).map(s3s::Body::from)
    }

    async fn dispatch(
        &self,
        body: &Bytes,
        op: &str,
        service: Service,
        now: SystemTime,
    ) -> Result<serde_json::Value, ApiError> {
        let input: serde_json::Value = if body.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_slice(body).map_err(|_| {
                ApiError::new("SerializationException", 400, "The request body is not valid JSON")
            })?
        };
        // Handlers do short SQLite work; keep it off the reactor threads anyway.
        let (kms, healthlake, op) = (self.kms.clone(), self.healthlake.clone(), op.to_string());
        tokio::task::spawn_blocking(move || match service {
            Service::HealthLake => healthlake.handle(&op, &input, now),
            Service::Kms => kms.handle(&op, &input, now),
        })
        .await
        .map_err(|e| ApiError::internal(format!("handler failed: {e}")))?
    }
}

#[derive(Debug, Clone, Copy)]
enum Service {
    HealthLake,
    Kms,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::HealthLake => "healthlake",
            Service::Kms => "kms",
        }
    }
}

pub(crate) async fn serve(listener: TcpListener, router: Arc<Router>, shutdown: CancellationToken) {
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let router = router.clone();
                async move { router.handle(request).await }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                () = shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// The API operation a request asks for, as the API names it: the JSON services say it in `X-Amz-Target`; S3's
/// is read from the method and the query (only the multipart and object calls a hold is useful for).
fn operation_of<B>(request: &Request<B>) -> String {
    if let Some(target) = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let query = request.uri().query().unwrap_or("");
    let has = |name: &str| query.split('&').any(|kv| kv.split('=').next() == Some(name));
    let object = request.uri().path().trim_start_matches('/').contains('/');
    let method = request.method();
    let operation = match () {
        _ if has("uploadId") && method == hyper::Method::PUT => "UploadPart",
        _ if has("uploadId") && method == hyper::Method::POST => "CompleteMultipartUpload",
        _ if has("uploadId") && method == hyper::Method::DELETE => "AbortMultipartUpload",
        _ if has("uploadId") && method == hyper::Method::GET => "ListParts",
        _ if has("uploads") && method == hyper::Method::POST => "CreateMultipartUpload",
        _ if has("uploads") && method == hyper::Method::GET => "ListMultipartUploads",
        _ if object && method == hyper::Method::PUT => "PutObject",
        _ if object && method == hyper::Method::GET => "GetObject",
        _ if object && method == hyper::Method::HEAD => "HeadObject",
        _ if object && method == hyper::Method::DELETE => "DeleteObject",
        _ => "",
    };
    operation.to_string()
}

fn service_of<B>(request: &Request<B>) -> faults::Service {
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    if target.starts_with("HealthLake.") || request.uri().path().starts_with("/datastore/") {
        faults::Service::HealthLake
    } else if target.starts_with("TrentService.") {
        faults::Service::Kms
    } else {
        faults::Service::S3
    }
}

/// The error each service answers with when it is overloaded or broken, in its own protocol.
fn fault_response(service: faults::Service, fault: Fault) -> Response<s3s::Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let throttled = fault == Fault::SlowDown;
    match service {
        faults::Service::S3 => {
            let (status, code, message) = if throttled {
                (StatusCode::SERVICE_UNAVAILABLE, "SlowDown", "Please reduce your request rate.")
            } else {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            };
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
            );
            let mut response = Response::new(s3s::Body::from(body));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
            response
        }
        faults::Service::HealthLake => {
            let error = if throttled {
                ApiError::new("ThrottlingException", 429, "Rate exceeded")
            } else {
                ApiError::internal("An unknown internal error occurred in the service.")
            };
            respond(JsonVersion::V1_0, &request_id, Err(error)).map(s3s::Body::from)
        }
        faults::Service::Kms => {
            let error = if throttled {
                ApiError::new("ThrottlingException", 400, "Rate exceeded")
            } else {
                ApiError::new("KMSInternalException", 500, "An internal error occurred.")
            };
            respond(JsonVersion::V1_1, &request_id, Err(error)).map(s3s::Body::from)
        }
    }
}

/// A form-encoded POST to `/` with no target header: IAM (and STS) speak this; S3 never does.
fn is_query_protocol<B>(request: &Request<B>) -> bool {
    request.method() == http::Method::POST
        && request.uri().path() == "/"
        && request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
}
