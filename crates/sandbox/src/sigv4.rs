//! SigV4 verification for the JSON-protocol services (HealthLake, KMS), the Query services (IAM, STS) and the
//! FHIR API, against the keys in identity.rs (the seeded one and temporary ones). S3 requests are verified by `s3s`, which
//! only accepts the `s3` and `sts` scopes; here the request is signed again with `aws-sigv4` (the SDK's own
//! signer) over exactly the headers the client signed, and the two signatures are compared.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::HeaderMap;

use crate::identity::{Caller, Identities, KeyError};
use crate::protocol::ApiError;

/// How far a request's clock may be from ours, as AWS allows.
const MAX_SKEW_SECS: u64 = 15 * 60;

/// Why a request's signature is refused; each protocol words it its own way ([`AuthError::json`],
/// [`AuthError::query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header, or no `x-amz-date`.
    Missing,
    /// The `Authorization` header or the date cannot be read.
    Incomplete(String),
    /// Signed for another service than the one answering.
    WrongService(String),
    /// Signed for another Region than the sandbox's (the Region the request named).
    WrongRegion(String),
    /// A header that must be signed is not among the SignedHeaders (`Host`, or `X-Amz-Target` when sent).
    Unsigned(&'static str),
    /// A key the sandbox neither seeded nor issued (or issued before a restart).
    UnknownKey,
    /// Temporary credentials without their session token, or with another one.
    InvalidToken,
    /// Temporary credentials past their expiry.
    Expired,
    /// The request's time is more than 15 minutes from the sandbox's clock.
    Skewed,
    /// The signature is not the one the key makes.
    Mismatch,
    /// The sandbox could not compute the signature.
    Internal(String),
}

impl AuthError {
    /// As the AWS JSON services (HealthLake, KMS) and HealthLake's FHIR API answer.
    pub fn json(&self) -> ApiError {
        let invalid_token = "The security token included in the request is invalid.";
        match self {
            AuthError::Missing => {
                ApiError::new("MissingAuthenticationTokenException", 403, "Missing Authentication Token")
            }
            AuthError::Incomplete(why) => ApiError::new("IncompleteSignatureException", 400, why.clone()),
            AuthError::WrongService(service) => ApiError::new(
                "InvalidSignatureException",
                403,
                format!("Credential should be scoped to correct service: '{service}'."),
            ),
            AuthError::WrongRegion(region) => ApiError::new(
                "InvalidSignatureException",
                403,
                format!("Credential should be scoped to a valid region, not '{region}'."),
            ),
            AuthError::Unsigned(header) => ApiError::new(
                "IncompleteSignatureException",
                400,
                format!("'{header}' must be a 'SignedHeader' in the AWS Authorization."),
            ),
            AuthError::UnknownKey | AuthError::InvalidToken => {
                ApiError::new("UnrecognizedClientException", 400, invalid_token)
            }
            AuthError::Expired => ApiError::new(
                "ExpiredTokenException",
                400,
                "The security token included in the request is expired",
            ),
            AuthError::Skewed => ApiError::new("InvalidSignatureException", 403, SKEWED),
            AuthError::Mismatch => ApiError::new("InvalidSignatureException", 403, MISMATCH),
            AuthError::Internal(why) => ApiError::internal(why.clone()),
        }
    }

    /// As the Query services (IAM, STS) answer.
    pub fn query(&self) -> ApiError {
        match self {
            AuthError::Missing => {
                ApiError::new("MissingAuthenticationToken", 403, "Request is missing Authentication Token")
            }
            AuthError::Incomplete(why) => ApiError::new("IncompleteSignature", 400, why.clone()),
            AuthError::WrongService(service) => ApiError::new(
                "SignatureDoesNotMatch",
                403,
                format!("Credential should be scoped to correct service: '{service}'. "),
            ),
            AuthError::WrongRegion(region) => ApiError::new(
                "SignatureDoesNotMatch",
                403,
                format!("Credential should be scoped to a valid region, not '{region}'. "),
            ),
            AuthError::Unsigned(header) => ApiError::new(
                "IncompleteSignature",
                400,
                format!("'{header}' must be a 'SignedHeader' in the AWS Authorization."),
            ),
            AuthError::UnknownKey | AuthError::InvalidToken => ApiError::new(
                "InvalidClientTokenId",
                403,
                "The security token included in the request is invalid.",
            ),
            AuthError::Expired => {
                ApiError::new("ExpiredToken", 400, "The security token included in the request is expired")
            }
            AuthError::Skewed => ApiError::new("SignatureDoesNotMatch", 403, SKEWED),
            AuthError::Mismatch => ApiError::new("SignatureDoesNotMatch", 403, MISMATCH),
            AuthError::Internal(why) => ApiError::new("InternalFailure", 500, why.clone()),
        }
    }
}

const SKEWED: &str = "Signature expired: the request time is more than 15 minutes from the sandbox's clock.";
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.";

/// The service a request was signed for (its credential scope), if it carries a readable SigV4 header.
pub fn signed_service(headers: &HeaderMap) -> Option<&str> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    Some(parse_authorization(authorization)?.service)
}

/// Checks a request's SigV4 signature, that it was signed for `service` (`healthlake`, `kms`, `iam`, `sts`) and,
/// when given, for `region`, that `Host` (and `X-Amz-Target`, when the request has one) are among the signed
/// headers, and that a temporary key came with its session token; answers who signed it.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    identities: &Identities,
    service: &str,
    region: Option<&str>,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Caller, AuthError> {
    let authorization =
        headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or(AuthError::Missing)?;
    let parsed = parse_authorization(authorization).ok_or_else(|| {
        AuthError::Incomplete("Authorization header requires Credential, SignedHeaders and Signature".into())
    })?;
    if parsed.service != service {
        return Err(AuthError::WrongService(service.into()));
    }
    if let Some(region) = region
        && parsed.region != region
    {
        return Err(AuthError::WrongRegion(parsed.region.into()));
    }
    let signed_names: Vec<&str> = parsed.signed_headers.split(';').collect();
    if !signed_names.contains(&"host") {
        return Err(AuthError::Unsigned("Host"));
    }
    if headers.contains_key("x-amz-target") && !signed_names.contains(&"x-amz-target") {
        return Err(AuthError::Unsigned("X-Amz-Target"));
    }
    let key = identities.lookup(parsed.access_key, now).map_err(|e| match e {
        KeyError::Unknown => AuthError::UnknownKey,
        KeyError::Expired => AuthError::Expired,
    })?;
    let token = headers.get("x-amz-security-token").and_then(|v| v.to_str().ok());
    if !key.accepts_token(token) {
        return Err(AuthError::InvalidToken);
    }
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or(AuthError::Missing)?;
    let time = parse_amz_date(amz_date)
        .ok_or_else(|| AuthError::Incomplete("x-amz-date is not a valid date".into()))?;
    let skew = now.duration_since(time).unwrap_or_else(|e| e.duration());
    if skew.as_secs() > MAX_SKEW_SECS {
        return Err(AuthError::Skewed);
    }

    let mut signed: Vec<(&str, &str)> = Vec::new();
    for name in parsed.signed_headers.split(';') {
        let value = headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        signed.push((name, value));
    }
    // A session token is among the signed headers when present, so the identity need not carry it.
    let identity = Credentials::new(parsed.access_key, &key.secret, None, None, "sandbox").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(parsed.region)
        .name(parsed.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| AuthError::Internal(format!("signing parameters: {e}")))?
        .into();
    let uri = format!(
        "https://{}{}",
        headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost"),
        path_and_query
    );
    let request = SignableRequest::new(method, uri, signed.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| AuthError::Incomplete(format!("request cannot be signed: {e}")))?;
    let expected = sign(request, &params).map_err(|e| AuthError::Internal(format!("signing: {e}")))?;
    if expected.signature() != parsed.signature {
        return Err(AuthError::Mismatch);
    }
    Ok(key.caller)
}

/// S3 answers a GET or HEAD that asks for several ranges with the whole object, as if it had asked for none;
/// `s3s` refuses such a header instead. So a request that asks for several, and whose signature is right, is
/// signed again by the sandbox without its `Range` header (with the same key and time), and `s3s` then serves
/// the whole object. Anything else, a wrong signature included, passes unchanged for `s3s` to judge.
pub fn without_multiple_ranges<B>(
    identities: &Identities,
    mut request: http::Request<B>,
    now: SystemTime,
) -> http::Request<B> {
    let several = request
        .headers()
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(','));
    if !several || !matches!(*request.method(), http::Method::GET | http::Method::HEAD) {
        return request;
    }
    let resigned = {
        let headers = request.headers();
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        s3_signature_without_range(identities, request.method().as_str(), path, headers, now)
    };
    if let Some(authorization) = resigned.and_then(|a| http::HeaderValue::from_str(&a).ok()) {
        request.headers_mut().remove(http::header::RANGE);
        request.headers_mut().insert(http::header::AUTHORIZATION, authorization);
    }
    request
}

/// The `Authorization` an S3 request would carry without its `Range` header, if its own signature is right.
fn s3_signature_without_range(
    identities: &Identities,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<String> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let parsed = parse_authorization(authorization)?;
    if parsed.service != "s3" {
        return None;
    }
    let key = identities.lookup(parsed.access_key, now).ok()?;
    let time = parse_amz_date(headers.get("x-amz-date")?.to_str().ok()?)?;
    let payload =
        headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).unwrap_or("UNSIGNED-PAYLOAD");
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    let identity = Credentials::new(parsed.access_key, &key.secret, None, None, "sandbox").into();
    let params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(parsed.region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let uri = format!("http://{host}{path_and_query}");
    let signature_over = |names: &[&str]| -> Option<String> {
        let signed: Vec<(&str, &str)> = names
            .iter()
            .map(|name| (*name, headers.get(*name).and_then(|v| v.to_str().ok()).unwrap_or("")))
            .collect();
        let request = SignableRequest::new(
            method,
            uri.clone(),
            signed.into_iter(),
            SignableBody::Precomputed(payload.into()),
        )
        .ok()?;
        Some(sign(request, &params).ok()?.signature().to_string())
    };
    let names: Vec<&str> = parsed.signed_headers.split(';').collect();
    if signature_over(&names)? != parsed.signature {
        return None;
    }
    let kept: Vec<&str> = names.into_iter().filter(|n| *n != "range").collect();
    let signature = signature_over(&kept)?;
    let credential = authorization.split("Credential=").nth(1)?.split(',').next()?;
    Some(format!(
        "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={}, Signature={signature}",
        kept.join(";")
    ))
}

struct Authorization<'a> {
    access_key: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let mut scope = credential?.split('/');
    let access_key = scope.next()?;
    let _date = scope.next()?;
    let region = scope.next()?;
    let service = scope.next()?;
    Some(Authorization {
        access_key,
        region,
        service,
        signed_headers: signed_headers?,
        signature: signature?,
    })
}

fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(s, &format).ok()?.assume_utc();
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_sdk_authorization_header() {
        let a = parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/healthlake/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abc123").expect("parses");
        assert_eq!(
            (a.access_key, a.region, a.service, a.signature),
            ("AKID", "us-east-1", "healthlake", "abc123")
        );
        assert_eq!(a.signed_headers, "content-type;host;x-amz-date;x-amz-target");
        assert!(parse_authorization("Bearer x").is_none());
    }

    /// Signs a JSON-protocol request for `service` the way the SDKs do, returning its headers.
    fn signed_headers(
        (access, secret, token): (&str, &str, Option<&str>),
        service: &str,
        body: &[u8],
        now: SystemTime,
    ) -> HeaderMap {
        let amz_date = time::OffsetDateTime::from(now)
            .format(&time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
            .expect("date");
        let headers = [
            ("host", "127.0.0.1:4599"),
            ("x-amz-date", amz_date.as_str()),
            ("x-amz-target", "HealthLake.ListFHIRDatastores"),
        ];
        let identity = Credentials::new(access, secret, token.map(str::to_string), None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let request = SignableRequest::new(
            "POST",
            "https://127.0.0.1:4599/",
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .expect("signable");
        let (instructions, _) = sign(request, &params).expect("signs").into_parts();
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(http::HeaderName::from_static(name), value.parse().expect("value"));
        }
        for (name, value) in instructions.headers() {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        map
    }

    #[test]
    fn a_signature_counts_only_for_the_service_it_was_scoped_to() {
        let ids = Identities::new("AKIDTEST", "secret", "000000000000", None);
        let now = SystemTime::now();
        let headers = signed_headers(("AKIDTEST", "secret", None), "kms", b"{}", now);
        let caller = verify(&ids, "kms", None, "POST", "/", &headers, b"{}", now).expect("verifies");
        assert_eq!(&caller, ids.seeded_caller());
        let err =
            verify(&ids, "healthlake", None, "POST", "/", &headers, b"{}", now).expect_err("wrong scope");
        assert_eq!(err.json().type_name, "InvalidSignatureException");
        assert!(
            err.json().message.contains("scoped to correct service: 'healthlake'"),
            "{}",
            err.json().message
        );
        let tampered =
            verify(&ids, "kms", None, "POST", "/", &headers, b"{\"x\":1}", now).expect_err("body changed");
        assert_eq!(tampered, AuthError::Mismatch);
        let stranger = signed_headers(("AKIDOTHER", "secret", None), "kms", b"{}", now);
        assert_eq!(verify(&ids, "kms", None, "POST", "/", &stranger, b"{}", now), Err(AuthError::UnknownKey));
    }

    #[test]
    fn a_temporary_key_needs_its_session_token_and_stops_at_its_expiry() {
        let ids = Identities::new("AKIDTEST", "secret", "000000000000", None);
        let now = SystemTime::now();
        let caller = ids.seeded_caller().clone();
        let issued = ids.issue(caller, std::time::Duration::from_secs(900), now);
        let key = (issued.access_key.as_str(), issued.secret.as_str());
        let with_token = signed_headers((key.0, key.1, Some(&issued.token)), "kms", b"{}", now);
        let caller = verify(&ids, "kms", None, "POST", "/", &with_token, b"{}", now).expect("verifies");
        assert!(caller.temporary);
        let without = signed_headers((key.0, key.1, None), "kms", b"{}", now);
        assert_eq!(
            verify(&ids, "kms", None, "POST", "/", &without, b"{}", now),
            Err(AuthError::InvalidToken)
        );
        let wrong = signed_headers((key.0, key.1, Some("not-the-token")), "kms", b"{}", now);
        assert_eq!(verify(&ids, "kms", None, "POST", "/", &wrong, b"{}", now), Err(AuthError::InvalidToken));
        let later = now + std::time::Duration::from_secs(901);
        let late = signed_headers((key.0, key.1, Some(&issued.token)), "kms", b"{}", later);
        let expired = verify(&ids, "kms", None, "POST", "/", &late, b"{}", later).expect_err("expired");
        assert_eq!(expired.json().type_name, "ExpiredTokenException");
        assert_eq!(expired.query().type_name, "ExpiredToken");
    }

    #[test]
    fn parses_amz_dates() {
        let t = parse_amz_date("20261122T083400Z").expect("date");
        assert_eq!(t.duration_since(SystemTime::UNIX_EPOCH).expect("after epoch").as_secs(), 1_795_336_440);
        assert!(parse_amz_date("2026-11-22").is_none());
    }
}
