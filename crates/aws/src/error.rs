//! One classification of everything that can go wrong talking to AWS (or the sandbox), each variant with what
//! the analyst can do about it.

use std::path::PathBuf;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// One kind per different thing the analyst can do about an error: the CLI's JSON `code`, and what the desktop's
/// IPC error codes are made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The input makes no sense (no files, a malformed S3 URI).
    InvalidInput,
    /// AWS refused the request as invalid.
    Rejected,
    NotFound,
    /// A local file could not be read or written.
    Io,
    /// A file changed while it was uploaded: nothing of it was kept; running again starts from it as it is.
    FileChanged,
    /// No usable credentials, or expired ones.
    Credentials,
    /// The AWS configuration is wrong or incomplete.
    Config,
    /// The profile's IAM Identity Center sign-in is missing or has expired.
    SignIn,
    MfaRequired,
    /// This computer's clock is too far off.
    Clock,
    WrongRegion,
    AccessDenied,
    Throttled,
    /// A service the call depends on (KMS, S3) refused.
    Dependency,
    /// The resource's state does not allow this yet.
    Conflict,
    /// AWS could not be reached.
    Offline,
    /// AWS failed on its side and retries ran out.
    Unavailable,
    /// Any other AWS error.
    Aws,
    /// Lakedrop's local records could not be read or written.
    LocalState,
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No usable credentials: none configured, an SSO session to refresh, or expired keys.
    #[error("{message}")]
    Credentials { message: String },
    /// The AWS configuration itself is wrong or incomplete: a profile that does not exist, no Region, a CA
    /// bundle that cannot be read.
    #[error("{message}")]
    Config { message: String },
    /// The profile signs in through IAM Identity Center and that sign-in is missing or has expired: `aws sso
    /// login --profile <profile>`, or the app's own sign-in.
    #[error("{message}")]
    SignIn { profile: String, message: String },
    /// The profile's role asks for a code from an MFA device, and none was given.
    #[error(
        "the profile `{profile}` assumes its role with the MFA device {serial}: enter the six-digit code it shows (--mfa-code in the CLI)"
    )]
    MfaRequired { profile: String, serial: String },
    /// This computer's clock is too far from AWS's for a signature to be accepted.
    #[error(
        "AWS refused {operation} because this computer's clock is more than 15 minutes off: set the system clock (turn on automatic time), then retry"
    )]
    ClockSkew { operation: &'static str },
    /// The bucket or data store is in another Region than the connection's.
    #[error("{operation}: {message}")]
    WrongRegion { operation: &'static str, message: String },
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
    /// The network failed or timed out; the same request may work in a moment.
    #[error("could not reach AWS for {operation}: {message}")]
    Network { operation: &'static str, message: String },
    /// The endpoint cannot be reached as configured (no such host, nothing listening, a proxy refusing, an
    /// untrusted certificate), after the SDK's own attempts: sending again will not help until something changes.
    #[error("could not reach AWS for {operation}: {message}")]
    Unreachable { operation: &'static str, message: String },
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

impl AwsError {
    /// What kind of error this is, for a program to branch on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AwsError::Credentials { .. } => ErrorKind::Credentials,
            AwsError::Config { .. } => ErrorKind::Config,
            AwsError::SignIn { .. } => ErrorKind::SignIn,
            AwsError::MfaRequired { .. } => ErrorKind::MfaRequired,
            AwsError::ClockSkew { .. } => ErrorKind::Clock,
            AwsError::WrongRegion { .. } => ErrorKind::WrongRegion,
            AwsError::AccessDenied { .. } => ErrorKind::AccessDenied,
            AwsError::NotFound { .. } => ErrorKind::NotFound,
            AwsError::Throttled { .. } => ErrorKind::Throttled,
            AwsError::Invalid { .. } => ErrorKind::Rejected,
            AwsError::Dependency { .. } => ErrorKind::Dependency,
            AwsError::Conflict { .. } => ErrorKind::Conflict,
            AwsError::Network { .. } | AwsError::Unreachable { .. } => ErrorKind::Offline,
            AwsError::Unavailable { .. } => ErrorKind::Unavailable,
            AwsError::Service { .. } => ErrorKind::Aws,
            AwsError::Io { .. } => ErrorKind::Io,
            AwsError::Input(_) => ErrorKind::InvalidInput,
            AwsError::State(_) => ErrorKind::LocalState,
            AwsError::Cancelled => ErrorKind::Cancelled,
            AwsError::FileChanged { .. } => ErrorKind::FileChanged,
        }
    }
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
    /// Classifies an SDK error from any client, in words: the operation, what happened, and (in the variant's
    /// own text) what to do. The SDK's debug dump never reaches a message.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let status = service.raw().status().as_u16();
                let code = match inner.code() {
                    Some(code) => code.to_string(),
                    // A bare status without an error code (a HEAD, or a proxy's answer): name it by the status.
                    None => match status {
                        404 => "NotFound".to_string(),
                        403 => "AccessDenied".to_string(),
                        503 => "ServiceUnavailable".to_string(),
                        500..=599 => "InternalError".to_string(),
                        _ => "Unknown".to_string(),
                    },
                };
                let message = match inner.message() {
                    Some(message) => message.to_string(),
                    None if inner.code().is_none() => format!("HTTP {status} with no error code or message"),
                    None => String::new(),
                };
                tracing::debug!(operation, code = %code, status, detail = %message, "AWS refused");
                // S3 names the bucket's own Region in a header when a request went to the wrong one.
                let redirected =
                    status == 301 || code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed";
                if let Some(region) = service.raw().headers().get("x-amz-bucket-region")
                    && redirected
                {
                    return AwsError::WrongRegion {
                        operation,
                        message: format!(
                            "the bucket is in the Region {region}, not this connection's: choose {region} (or a bucket in this Region)"
                        ),
                    };
                }
                classify(operation, &code, message)
            }
            SdkError::TimeoutError(_) => AwsError::Network {
                operation,
                message: "the request timed out; check the connection and try again".into(),
            },
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
                let chain = chain_text(&err);
                tracing::debug!(operation, detail = %chain, "request failed before an answer");
                if chain.contains("credentials") || chain.contains("identity") {
                    credentials_error(&chain)
                } else {
                    let lower = chain.to_ascii_lowercase();
                    let message = network_words(&chain);
                    match network_failure(&lower) {
                        Some((_, true)) => AwsError::Unreachable { operation, message },
                        _ => AwsError::Network { operation, message },
                    }
                }
            }
            _ => {
                let chain = chain_text(&err);
                tracing::debug!(operation, detail = %chain, "request failed");
                if chain.contains("credentials") || chain.contains("identity") || chain.contains("token") {
                    credentials_error(&chain)
                } else {
                    AwsError::Service { operation, code: "ClientError".into(), message: short(&chain) }
                }
            }
        }
    }
}

/// An error and its sources in words (each one's `Display`, repeated text left out), never `Debug`.
pub(crate) fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// A request that got no answer (sent outside the SDK's clients), classified as the SDK's own are.
pub(crate) fn unanswered(operation: &'static str, err: &(dyn std::error::Error + 'static)) -> AwsError {
    let chain = chain_text(err);
    tracing::debug!(operation, detail = %chain, "request failed before an answer");
    let message = network_words(&chain);
    match network_failure(&chain.to_ascii_lowercase()) {
        Some((_, true)) => AwsError::Unreachable { operation, message },
        _ => AwsError::Network { operation, message },
    }
}

/// What a failure to reach the service means, in words a person can act on.
fn network_words(chain: &str) -> String {
    let lower = chain.to_ascii_lowercase();
    network_failure(&lower)
        .map(|(words, _)| words)
        .unwrap_or_else(|| format!("{}; check the connection and try again", short(chain)))
}

/// The words for a network failure named in a lowercased error chain, if it names one, and whether it lasts
/// (a configuration or network setup that sending again will not change) rather than being a blip.
pub(crate) fn network_failure(lower: &str) -> Option<(String, bool)> {
    let (what, lasting) = if lower.contains("tunnel error")
        || lower.contains("unsuccessful tunnel")
        || (lower.contains("proxy")
            && (lower.contains("403") || lower.contains("407") || lower.contains("refused")))
    {
        (
            "the proxy refused the connection (HTTPS_PROXY names it; it may need a login, or not allow AWS's hosts): ask for AWS to be allowed, or set NO_PROXY for the endpoint",
            true,
        )
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        ("the service's host name could not be resolved (no network, or a wrong endpoint or Region)", true)
    } else if lower.contains("connection refused") {
        ("the connection was refused (nothing listens at the endpoint, or a firewall refuses it)", true)
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("invalid peer") {
        (
            "the secure connection failed: the server's certificate is not trusted (a proxy that re-signs traffic needs its CA certificate in AWS_CA_BUNDLE)",
            true,
        )
    } else if lower.contains("connection reset")
        || lower.contains("connection closed")
        || lower.contains("broken pipe")
        || lower.contains("incomplete")
    {
        ("the connection was dropped before the answer arrived", false)
    } else if lower.contains("timed out") || lower.contains("timeout") {
        ("the request timed out", false)
    } else {
        return None;
    };
    Some((format!("{what}; check the connection and try again"), lasting))
}

pub(crate) fn classify(operation: &'static str, code: &str, message: String) -> AwsError {
    let lower = message.to_ascii_lowercase();
    if code == "RequestTimeTooSkewed"
        || (code == "InvalidSignatureException" && lower.contains("signature expired"))
        || lower.contains("too skewed")
    {
        return AwsError::ClockSkew { operation };
    }
    // Signed for a Region the endpoint does not answer for: the JSON services' and STS's wording.
    if lower.contains("scoped to a valid region") {
        return AwsError::WrongRegion {
            operation,
            message: format!(
                "{message} The request was signed for a Region this endpoint does not serve: connect with the endpoint's Region (--region, AWS_REGION or the profile's region)"
            ),
        };
    }
    match code {
        "AccessDenied" | "AccessDeniedException" | "AllAccessDisabled" | "Forbidden" => {
            AwsError::AccessDenied { operation, message: access_denied_words(&message) }
        }
        "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException" => {
            AwsError::WrongRegion {
                operation,
                message: format!(
                    "{message} The bucket is in another Region: connect to that Region, or choose a bucket in this one"
                ),
            }
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => AwsError::Credentials {
            message: format!(
                "the credentials expired during {operation}: renew them (for an SSO profile `aws sso login --profile <profile>`; for a role, connect again) and run the same command again: what was uploaded is kept, and the upload resumes"
            ),
        },
        "InvalidAccessKeyId"
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

/// AWS's access-denied message, and when it names the action and the resource, the policy statement that
/// would allow them (`lakedrop policy` prints the whole set an import needs).
fn access_denied_words(message: &str) -> String {
    let Some((action, resource)) = denied_action(message) else {
        return format!("{message} (`lakedrop policy` prints the permissions an import needs)");
    };
    let statement = lakedrop_core::policy::statement_allowing(&action, &resource);
    format!(
        "{message}. A statement that allows it: {statement} (`lakedrop policy` prints the permissions an import needs)"
    )
}

/// The action and resource in "... is not authorized to perform: s3:PutObject on resource: arn:... because ...".
fn denied_action(message: &str) -> Option<(String, String)> {
    let rest = message.split_once("not authorized to perform: ")?.1;
    let (action, rest) = rest.split_once(" on resource: ")?;
    let resource = rest.trim_start_matches('"').split([' ', '"']).next()?.trim_end_matches(['.', ',']);
    (!action.is_empty() && !resource.is_empty()).then(|| (action.trim().to_string(), resource.to_string()))
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
/// What the service said, from an error chain that embeds its error's debug form (`Error { code: …, message:
/// "…" }`, as credentials providers pass STS's and SSO's errors on); the chain, shortened, when it holds none.
pub(crate) fn service_said(detail: &str) -> String {
    const FIELD: &str = "message: \"";
    detail
        .find(FIELD)
        .map(|start| &detail[start + FIELD.len()..])
        .and_then(|rest| rest.find('"').map(|end| short(&rest[..end])))
        .unwrap_or_else(|| short(detail))
}

pub(crate) fn short(detail: &str) -> String {
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

    // Issue 21: one sentence what happened, one what to do, for what people meet on real accounts.
    #[test]
    fn real_account_refusals_say_what_to_do() {
        let denied = classify(
            "PutObject",
            "AccessDenied",
            "User: arn:aws:sts::1:assumed-role/Analyst/me is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::in/p/a.ndjson\" because no identity-based policy allows the s3:PutObject action".into(),
        );
        let text = denied.to_string();
        assert!(matches!(denied, AwsError::AccessDenied { .. }));
        assert!(
            text.contains(
                r#"{"Action":"s3:PutObject","Effect":"Allow","Resource":"arn:aws:s3:::in/p/a.ndjson"}"#
            ),
            "{text}"
        );
        assert!(text.contains("lakedrop policy"), "{text}");

        let skew = classify(
            "ListKeys",
            "InvalidSignatureException",
            "Signature expired: 20261206T000000Z is now earlier than 20261206T010000Z".into(),
        );
        assert!(matches!(skew, AwsError::ClockSkew { .. }), "{skew:?}");
        assert!(matches!(
            classify("PutObject", "RequestTimeTooSkewed", String::new()),
            AwsError::ClockSkew { .. }
        ));

        let expired =
            classify("UploadPart", "ExpiredToken", "The provided token has expired.".into()).to_string();
        assert!(expired.contains("expired during UploadPart") && expired.contains("resumes"), "{expired}");

        let region = classify(
            "HeadBucket",
            "AuthorizationHeaderMalformed",
            "the region 'us-east-1' is wrong; expecting 'eu-west-1'".into(),
        );
        assert!(matches!(region, AwsError::WrongRegion { .. }), "{region:?}");
        assert!(region.to_string().contains("expecting 'eu-west-1'"), "{region}");

        let scoped = classify(
            "ListFHIRDatastores",
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'ap-south-2'.".into(),
        );
        assert!(matches!(scoped, AwsError::WrongRegion { .. }), "{scoped:?}");
        assert!(scoped.to_string().contains("'ap-south-2'"), "{scoped}");
    }

    #[test]
    fn the_service_s_words_are_taken_from_a_debug_form() {
        let chain = r#"service error: unhandled error (AccessDenied): Error { code: "AccessDenied", message: "User: x is not authorized", aws_request_id: "1" }"#;
        assert_eq!(service_said(chain), "User: x is not authorized");
        assert_eq!(service_said("plain words"), "plain words");
    }

    #[test]
    fn network_failures_name_the_cause() {
        let proxy =
            network_words("error trying to connect: unsuccessful tunnel: proxy answered 403 Forbidden");
        assert!(proxy.starts_with("the proxy refused the connection"), "{proxy}");
        let tunnel = network_words("client error (Connect): tunnel error: unsuccessful");
        assert!(tunnel.starts_with("the proxy refused the connection"), "{tunnel}");
        let tls = network_words("invalid peer certificate: UnknownIssuer");
        assert!(tls.contains("AWS_CA_BUNDLE"), "{tls}");
        let dns = network_words("dns error: failed to lookup address information: Name or service not known");
        assert!(dns.contains("could not be resolved"), "{dns}");
        // What lasts is not sent again by `with_retries` (the SDK tried already); a dropped connection is.
        assert_eq!(
            network_failure("dns error: failed to lookup address").map(|(_, lasting)| lasting),
            Some(true)
        );
        assert_eq!(network_failure("connection reset by peer").map(|(_, lasting)| lasting), Some(false));
        let unreachable = AwsError::Unreachable { operation: "ListFHIRDatastores", message: dns };
        assert!(!crate::retry::retryable(&unreachable));
    }

    fn response(status: u16) -> HttpResponse {
        let status = aws_smithy_runtime_api::http::StatusCode::try_from(status).expect("status");
        HttpResponse::new(status, aws_smithy_types::body::SdkBody::empty())
    }

    // Regression (issue 16): under injected faults a HEAD's bare 500 read "HeadObject failed (Unknown): service
    // error: unhandled error: Error (ServiceError(…", and a dropped connection a debug dump.
    #[test]
    fn sdk_failures_read_as_words_not_dumps() {
        use aws_sdk_s3::operation::head_object::HeadObjectError;
        let bare = aws_sdk_s3::error::ErrorMetadata::builder().build();
        let err = SdkError::service_error(HeadObjectError::generic(bare), response(500));
        let e = AwsError::from_sdk("HeadObject", err);
        assert!(matches!(e, AwsError::Unavailable { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("HTTP 500") && !text.contains("ServiceError") && !text.contains('{'), "{text}");

        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)");
        let dispatch = aws_smithy_runtime_api::client::result::ConnectorError::io(Box::new(refused));
        let err: SdkError<HeadObjectError, aws_sdk_s3::config::http::HttpResponse> =
            SdkError::dispatch_failure(dispatch);
        let text = AwsError::from_sdk("HeadObject", err).to_string();
        assert!(text.contains("the connection was refused") && !text.contains("DispatchFailure"), "{text}");
    }
}
