//! Who may sign S3 requests: the same keys as every other service (identity.rs). `s3s` asks for a key's secret
//! to check the signature ([`S3Auth`]), then whether the signed request may go on ([`S3Access`]), which is where
//! a temporary key's session token is compared (the secret lookup sees only the access key), `host` must be
//! among the signed headers, a presigned URL may live at most 7 days, and the bucket policy's explicit Deny is
//! applied (`policy.rs`).

use std::sync::Arc;
use std::time::SystemTime;

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use s3s::path::S3Path;

use super::policy;
use super::store::ObjectStore;
use crate::identity::{Identities, Key, KeyError};

pub(crate) struct S3Keys(pub Arc<Identities>);

impl S3Keys {
    fn lookup(&self, access_key: &str) -> S3Result<Key> {
        self.0.lookup(access_key, SystemTime::now()).map_err(|e| match e {
            KeyError::Expired => s3_error!(ExpiredToken, "The provided token has expired."),
            KeyError::Unknown => s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ),
        })
    }
}

#[async_trait::async_trait]
impl S3Auth for S3Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.lookup(access_key).map(|key| SecretKey::from(key.secret))
    }
}

/// The access check: the keys, and the store whose bucket policies it applies.
pub(crate) struct S3Guard {
    pub keys: S3Keys,
    pub store: Arc<ObjectStore>,
    pub account: String,
}

/// SigV4's longest presigned URL: 7 days.
const MAX_PRESIGNED_SECONDS: u64 = 7 * 24 * 3600;

/// The operations a bucket's owner may always perform, whatever its policy denies, so a policy cannot lock the
/// account out of its own bucket (as the root user cannot be, on AWS).
const OWNER_ALWAYS: &[&str] = &["GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"];

impl S3Guard {
    fn check_signed_headers(cx: &S3AccessContext<'_>) -> S3Result<()> {
        let from_header = cx
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.split("SignedHeaders=").nth(1))
            .map(|rest| rest.split(',').next().unwrap_or("").to_string());
        let query = |name: &str| {
            cx.uri().query().and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
            })
        };
        let signed = from_header.or_else(|| query("X-Amz-SignedHeaders"));
        if let Some(signed) = signed
            && !signed.split(';').any(|h| h.eq_ignore_ascii_case("host"))
        {
            return Err(s3_error!(
                AccessDenied,
                "There were headers present in the request which were not signed: host must be a signed header"
            ));
        }
        if let Some(expires) = query("X-Amz-Expires") {
            let valid = expires.parse::<u64>().ok().filter(|s| (1..=MAX_PRESIGNED_SECONDS).contains(s));
            if valid.is_none() {
                return Err(s3_error!(
                    AuthorizationQueryParametersError,
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800"
                ));
            }
        }
        Ok(())
    }

    /// A Deny in the bucket's policy for this operation on this resource refuses it.
    fn check_policy(&self, cx: &S3AccessContext<'_>, principal: &str) -> S3Result<()> {
        let operation = cx.s3_op().name();
        let (bucket, resource) = match cx.s3_path() {
            S3Path::Root => return Ok(()),
            S3Path::Bucket { bucket } => (bucket.to_string(), format!("arn:aws:s3:::{bucket}")),
            S3Path::Object { bucket, key } => (bucket.to_string(), format!("arn:aws:s3:::{bucket}/{key}")),
        };
        if OWNER_ALWAYS.contains(&operation) {
            return Ok(());
        }
        let Some(text) = self.store.bucket_setting(&bucket, "policy").ok().flatten() else { return Ok(()) };
        let Ok(document) = serde_json::from_str::<serde_json::Value>(&text) else { return Ok(()) };
        let header = |name: &str| cx.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut keys = vec![
            // The sandbox speaks plain HTTP.
            ("aws:securetransport", "false".to_string()),
            ("aws:principalaccount", self.account.clone()),
            ("aws:principalarn", principal.to_string()),
        ];
        if let Some(sse) = header("x-amz-server-side-encryption") {
            keys.push(("s3:x-amz-server-side-encryption", sse));
        }
        if let Some(key) = header("x-amz-server-side-encryption-aws-kms-key-id") {
            keys.push(("s3:x-amz-server-side-encryption-aws-kms-key-id", key));
        }
        let action = policy::action_of(operation);
        let request = policy::RequestContext {
            action: &action,
            resource: resource.clone(),
            principal_arn: principal,
            account: &self.account,
            keys,
        };
        if policy::denies(&document, &request) {
            return Err(s3_error!(
                AccessDenied,
                "User: {principal} is not authorized to perform: {action} on resource: \"{resource}\" with an explicit deny in a resource-based policy"
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl S3Access for S3Guard {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let key = self.keys.check(cx)?;
        Self::check_signed_headers(cx)?;
        self.check_policy(cx, &key)
    }
}

impl S3Keys {
    /// The signer's ARN, once its session token (if it has one) is the one it was given.
    fn check(&self, cx: &S3AccessContext<'_>) -> S3Result<String> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        // A header for signed requests, a query parameter for presigned URLs.
        let header = cx.headers().get("x-amz-security-token").and_then(|v| v.to_str().ok());
        let query = cx.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "X-Amz-Security-Token")
                .map(|(_, v)| v.into_owned())
        });
        let presented = header.map(str::to_string).or(query);
        let key = self.lookup(&credentials.access_key)?;
        if key.accepts_token(presented.as_deref()) {
            Ok(key.caller.arn.clone())
        } else {
            Err(s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."))
        }
    }
}
