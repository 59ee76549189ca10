//! SigV4 verification for the JSON-protocol services (HealthLake, KMS). S3 requests are verified by `s3s`, which
//! only accepts the `s3` and `sts` scopes; here the request is signed again with `aws-sigv4` (the SDK's own
//! signer) over exactly the headers the client signed, and the two signatures are compared.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::HeaderMap;

use crate::protocol::ApiError;

/// How far a request's clock may be from ours, as AWS allows.
const MAX_SKEW_SECS: u64 = 15 * 60;

pub struct SigningKey {
    pub access_key: String,
    pub secret_key: String,
}

/// Checks a request's SigV4 signature, and that it was signed for `service` (`healthlake`, `kms`, `iam`).
pub fn verify(
    key: &SigningKey,
    service: &str,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), ApiError> {
    let missing =
        || ApiError::new("MissingAuthenticationTokenException", 403, "Missing Authentication Token");
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or_else(missing)?;
    let parsed = parse_authorization(authorization).ok_or_else(|| {
        ApiError::new(
            "IncompleteSignatureException",
            400,
            "Authorization header requires Credential, SignedHeaders and Signature",
        )
    })?;
    if parsed.service != service {
        return Err(ApiError::new(
            "InvalidSignatureException",
            403,
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    if parsed.access_key != key.access_key {
        return Err(ApiError::new(
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        ));
    }
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or_else(missing)?;
    let time = parse_amz_date(amz_date).ok_or_else(|| {
        ApiError::new("IncompleteSignatureException", 400, "x-amz-date is not a valid date")
    })?;
    let skew = now.duration_since(time).or_else(|e| Ok::<_, ApiError>(e.duration()))?;
    if skew.as_secs() > MAX_SKEW_SECS {
        return Err(ApiError::new(
            "InvalidSignatureException",
            403,
            "Signature expired: the request time is more than 15 minutes from the sandbox's clock.",
        ));
    }

    let mut signed: Vec<(&str, &str)> = Vec::new();
    for name in parsed.signed_headers.split(';') {
        let value = headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        signed.push((name, value));
    }
    let identity = Credentials::new(&key.access_key, &key.secret_key, None, None, "sandbox").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(parsed.region)
        .name(parsed.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| ApiError::internal(format!("signing parameters: {e}")))?
        .into();
    let uri = format!(
        "https://{}{}",
        headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost"),
        path_and_query
    );
    let request =
        SignableRequest::new(method, uri, signed.into_iter(), SignableBody::Bytes(body)).map_err(|e| {
            ApiError::new("IncompleteSignatureException", 400, format!("request cannot be signed: {e}"))
        })?;
    let expected = sign(request, &params).map_err(|e| ApiError::internal(format!("signing: {e}")))?;
    if expected.signature() != parsed.signature {
        return Err(ApiError::new(
            "InvalidSignatureException",
            403,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(())
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
    fn signed_headers(key: &SigningKey, service: &str, body: &[u8], now: SystemTime) -> HeaderMap {
        let amz_date = time::OffsetDateTime::from(now)
            .format(&time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
            .expect("date");
        let headers = [
            ("host", "127.0.0.1:4599"),
            ("x-amz-date", amz_date.as_str()),
            ("x-amz-target", "HealthLake.ListFHIRDatastores"),
        ];
        let identity = Credentials::new(&key.access_key, &key.secret_key, None, None, "test").into();
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
        let key = SigningKey { access_key: "AKIDTEST".into(), secret_key: "secret".into() };
        let now = SystemTime::now();
        let headers = signed_headers(&key, "kms", b"{}", now);
        assert!(verify(&key, "kms", "POST", "/", &headers, b"{}", now).is_ok());
        let err = verify(&key, "healthlake", "POST", "/", &headers, b"{}", now).expect_err("wrong scope");
        assert_eq!(err.type_name, "InvalidSignatureException");
        assert!(err.message.contains("scoped to correct service: 'healthlake'"), "{}", err.message);
        let tampered =
            verify(&key, "kms", "POST", "/", &headers, b"{\"x\":1}", now).expect_err("body changed");
        assert_eq!(tampered.type_name, "InvalidSignatureException");
    }

    #[test]
    fn parses_amz_dates() {
        let t = parse_amz_date("20261122T083400Z").expect("date");
        assert_eq!(t.duration_since(SystemTime::UNIX_EPOCH).expect("after epoch").as_secs(), 1_795_336_440);
        assert!(parse_amz_date("2026-11-22").is_none());
    }
}
