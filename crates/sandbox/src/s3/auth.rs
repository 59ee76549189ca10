//! Who may sign S3 requests: the same keys as every other service (identity.rs). `s3s` asks for a key's secret
//! to check the signature ([`S3Auth`]), then whether the signed request may go on ([`S3Access`]), which is where
//! a temporary key's session token is compared, since the secret lookup sees only the access key.

use std::sync::Arc;
use std::time::SystemTime;

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::identity::{Identities, Key, KeyError};

pub(crate) struct S3Keys(pub Arc<Identities>);

impl S3Keys {
    fn lookup(&self, access_key: &str) -> S3Result<Key> {
        self.0.lookup(access_key, SystemTime::now()).map_err(|e| match e {
            KeyError::Expired => s3_error!(ExpiredToken, "The provided token has expired."),
            KeyError::Unknown => s3_error!(NotSignedUp, "Your account is not signed up"),
        })
    }
}

#[async_trait::async_trait]
impl S3Auth for S3Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.lookup(access_key).map(|key| SecretKey::from(key.secret))
    }
}

#[async_trait::async_trait]
impl S3Access for S3Keys {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
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
        if self.lookup(&credentials.access_key)?.accepts_token(presented.as_deref()) {
            Ok(())
        } else {
            Err(s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."))
        }
    }
}
