//! Signing in to IAM Identity Center (SSO) the way `aws sso login` does: the OAuth device authorization flow
//! through the SDK's SSO OIDC client (register a client, start a device authorization, open the verification
//! page in the person's browser, poll for the token), and the token written to the AWS CLI's cache
//! (`~/.aws/sso/cache/<sha1 of the session name or start URL>.json`, 0600), so the SDK's SSO credentials
//! provider, the AWS CLI and Lakedrop all use the same sign-in afterwards.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_sdk_ssooidc::error::ProvideErrorMetadata;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use lakedrop_core::CancellationToken;
use sha1::{Digest, Sha1};

use crate::AwsError;

/// What the person is shown while the browser page is open: the code the page should display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    pub user_code: String,
    pub verification_uri: String,
}

/// Signs in for `profile` (an SSO profile): `open` is handed the verification page (the caller opens the
/// browser), `started` the code to show; returns when the person approved, the code expired, or `cancel` fired.
pub async fn sign_in(
    profile: &str,
    open: &(dyn Fn(&str) + Send + Sync),
    started: &(dyn Fn(DeviceCode) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
    let facts = super::profile::read(Some(profile)).await?;
    let Some(sso) = facts.sso_sign_in.clone() else {
        return Err(AwsError::Input(format!(
            "the profile `{profile}` does not sign in through IAM Identity Center (it has no sso_session or sso_start_url)"
        )));
    };
    let http = super::Network::from_env(facts.ca_bundle.as_deref()).http_client()?;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(aws_config::Region::new(sso.region.clone()))
        .profile_name(profile)
        .no_credentials()
        .load()
        .await;
    let oidc = aws_sdk_ssooidc::Client::new(&sdk);
    let registration = oidc
        .register_client()
        .client_name("lakedrop")
        .client_type("public")
        .scopes("sso:account:access")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RegisterClient", e))?;
    let (Some(client_id), Some(client_secret)) = (registration.client_id(), registration.client_secret())
    else {
        return Err(AwsError::Credentials {
            message: "IAM Identity Center registered no client; try again".into(),
        });
    };
    let device = oidc
        .start_device_authorization()
        .client_id(client_id)
        .client_secret(client_secret)
        .start_url(&sso.start_url)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("StartDeviceAuthorization", e))?;
    let (Some(device_code), Some(user_code)) = (device.device_code(), device.user_code()) else {
        return Err(AwsError::Credentials {
            message: "IAM Identity Center started no device authorization; try again".into(),
        });
    };
    let page = device.verification_uri_complete().or(device.verification_uri()).unwrap_or_default();
    started(DeviceCode { user_code: user_code.to_string(), verification_uri: page.to_string() });
    open(page);

    let mut interval = Duration::from_secs(u64::try_from(device.interval().max(1)).unwrap_or(5));
    let deadline = SystemTime::now() + Duration::from_secs(u64::try_from(device.expires_in()).unwrap_or(600));
    let token = loop {
        tokio::select! {
            () = cancel.cancelled() => return Err(AwsError::Cancelled),
            () = tokio::time::sleep(interval) => {}
        }
        if SystemTime::now() > deadline {
            return Err(AwsError::SignIn {
                profile: profile.to_string(),
                message: "the sign-in was not approved in time; start it again".into(),
            });
        }
        let answer = oidc
            .create_token()
            .client_id(client_id)
            .client_secret(client_secret)
            .grant_type("urn:ietf:params:oauth:grant-type:device_code")
            .device_code(device_code)
            .send()
            .await;
        match answer {
            Ok(token) => break token,
            Err(e) => match e.as_service_error().and_then(|s| s.code()) {
                Some("AuthorizationPendingException") => {}
                Some("SlowDownException") => interval += Duration::from_secs(5),
                Some("AccessDeniedException") => {
                    return Err(AwsError::SignIn {
                        profile: profile.to_string(),
                        message: "the sign-in was refused in the browser".into(),
                    });
                }
                _ => return Err(AwsError::from_sdk("CreateToken", e)),
            },
        }
    };
    let Some(access_token) = token.access_token() else {
        return Err(AwsError::Credentials {
            message: "IAM Identity Center returned no token; try again".into(),
        });
    };
    let now = SystemTime::now();
    let when = |t: SystemTime| DateTime::from(t).fmt(Format::DateTime).unwrap_or_default();
    let expires_at = now + Duration::from_secs(u64::try_from(token.expires_in()).unwrap_or(3600));
    let mut cached = serde_json::json!({
        "startUrl": sso.start_url,
        "region": sso.region,
        "accessToken": access_token,
        "expiresAt": when(expires_at),
        "clientId": client_id,
        "clientSecret": client_secret,
    });
    if let Some(refresh) = token.refresh_token() {
        cached["refreshToken"] = refresh.into();
    }
    if registration.client_secret_expires_at() > 0 {
        let seconds = u64::try_from(registration.client_secret_expires_at()).unwrap_or(0);
        cached["registrationExpiresAt"] = when(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)).into();
    }
    let path = cache_path(&sso.cache_key)?;
    if let Some(dir) = path.parent() {
        // A first sign-in on this machine: the AWS CLI makes the cache folder its owner's only, and so do we.
        let mut folder = std::fs::DirBuilder::new();
        folder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
        folder.create(dir).map_err(|e| AwsError::Config {
            message: format!("cannot create the sign-in cache folder {}: {e}", dir.display()),
        })?;
    }
    lakedrop_core::files::write_private(&path, |out| {
        serde_json::to_writer(&mut *out, &cached).map_err(std::io::Error::other)
    })
    .map_err(AwsError::from)?;
    tracing::info!(profile, "signed in to IAM Identity Center");
    Ok(())
}

/// Where the AWS CLI keeps the token for a session name (or, for a legacy profile, a start URL).
pub fn cache_path(key: &str) -> Result<PathBuf, AwsError> {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .ok_or_else(|| AwsError::Config { message: "no home folder (HOME) to keep the sign-in in".into() })?;
    let mut path = PathBuf::from(home);
    path.push(".aws/sso/cache");
    path.push(format!("{}.json", hex::encode(Sha1::digest(key.as_bytes()))));
    Ok(path)
}

#[cfg(test)]
mod tests {
    // The AWS CLI names the cache file by the SHA-1 of the session name: `python3 -c "import hashlib;
    // print(hashlib.sha1(b'my-sso').hexdigest())"`.
    #[test]
    fn the_cache_is_where_the_aws_cli_keeps_it() {
        let path = super::cache_path("my-sso").expect("home");
        assert!(
            path.ends_with(".aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json"),
            "{}",
            path.display()
        );
    }
}
