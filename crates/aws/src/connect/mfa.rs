//! Assuming a profile's role with an MFA code. The Rust SDK ignores `mfa_serial` (it would call AssumeRole
//! without the code, and a trust policy requiring MFA refuses); the AWS CLI asks for the code and so does
//! Lakedrop: the CLI on its terminal or from `--mfa-code`, the app in a field. The role's credentials last as long
//! as the profile's `duration_seconds` (an hour by default); when they end, the person connects again with a new
//! code, as with the AWS CLI.

use aws_config::BehaviorVersion;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use super::profile::MfaRole;
use crate::AwsError;

/// Whether a code can be an MFA device's one-time code: six digits.
pub fn valid_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The role's temporary credentials, from AssumeRole with the device's serial and code, called with the source
/// profile's credentials at the endpoint the profile names (if any).
pub async fn assume(
    profile: &str,
    role: &MfaRole,
    code: &str,
    region: aws_config::Region,
    http: SharedHttpClient,
    now: std::time::SystemTime,
) -> Result<Credentials, AwsError> {
    if !valid_code(code) {
        return Err(AwsError::Input(format!(
            "the MFA code for {} must be the six digits the device shows",
            role.serial
        )));
    }
    let conf = ProviderConfig::default().with_http_client(http.clone()).with_region(Some(region.clone()));
    let source =
        ProfileFileCredentialsProvider::builder().configure(&conf).profile_name(&role.source_profile).build();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(region)
        .profile_name(profile)
        .credentials_provider(source)
        .load()
        .await;
    let session_name = role.session_name.clone().unwrap_or_else(|| {
        let seconds = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        format!("lakedrop-{seconds}")
    });
    let out = aws_sdk_sts::Client::new(&sdk)
        .assume_role()
        .role_arn(&role.role_arn)
        .role_session_name(session_name)
        .serial_number(&role.serial)
        .token_code(code)
        .set_external_id(role.external_id.clone())
        .set_duration_seconds(role.duration_seconds)
        .send()
        .await
        .map_err(|e| match AwsError::from_sdk("AssumeRole", e) {
            AwsError::AccessDenied { message, .. } => AwsError::AccessDenied {
                operation: "AssumeRole",
                message: format!(
                    "{message} (profile `{profile}` assumes {} with the MFA device {}: check the code, which changes every 30 seconds, and that the role's trust policy allows your identity)",
                    role.role_arn, role.serial
                ),
            },
            other => other,
        })?;
    let c = out.credentials().ok_or_else(|| AwsError::Credentials {
        message: format!("STS assumed {} but returned no credentials; try again", role.role_arn),
    })?;
    let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        "lakedrop-mfa",
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_code_is_six_digits() {
        assert!(super::valid_code("012345"));
        for bad in ["12345", "1234567", "12a456", "", "١٢٣٤٥٦"] {
            assert!(!super::valid_code(bad), "{bad}");
        }
    }
}
