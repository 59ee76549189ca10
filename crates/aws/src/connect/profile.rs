//! What a person's AWS configuration files say about the profile in use, read once before any client is built:
//! whether it exists at all, its Region, its CA bundle, whether it signs in through IAM Identity Center, and
//! whether assuming its role needs an MFA code (which the Rust SDK does not ask for, so Lakedrop does).

use std::borrow::Cow;

use aws_config::profile::ProfileSet;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

use crate::AwsError;

/// The facts Lakedrop needs about the selected profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFacts {
    /// The profile's name: the one asked for, else `AWS_PROFILE`, else `default`.
    pub name: String,
    /// Whether the name was asked for (a flag or `AWS_PROFILE`) rather than the implicit `default`.
    pub named: bool,
    /// Whether the profile exists in either file.
    pub exists: bool,
    pub region: Option<String>,
    pub ca_bundle: Option<String>,
    /// Signs in through IAM Identity Center (an `sso_session`, or a legacy `sso_start_url`).
    pub sso: bool,
    /// Assumes a role with an MFA device: Lakedrop asks for the code and calls STS itself.
    pub mfa: Option<MfaRole>,
    /// Where an SSO profile signs in, for Lakedrop's own sign-in.
    pub sso_sign_in: Option<SsoSignIn>,
}

/// An SSO profile's sign-in: from its `[sso-session]` section, or a legacy profile's own keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSignIn {
    pub start_url: String,
    pub region: String,
    /// What the token cache file is named by: the session's name, or a legacy profile's start URL.
    pub cache_key: String,
}

/// A `role_arn` profile with `mfa_serial`, as the AWS CLI reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaRole {
    pub role_arn: String,
    pub serial: String,
    /// The profile whose credentials call AssumeRole.
    pub source_profile: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
    pub duration_seconds: Option<i32>,
}

/// Where the configuration files are, in words for messages.
pub fn files_in_words(env: &Env) -> String {
    let config = env.get("AWS_CONFIG_FILE").unwrap_or_else(|_| "~/.aws/config".into());
    let credentials = env.get("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|_| "~/.aws/credentials".into());
    format!("{config} or {credentials}")
}

/// Reads the facts for `asked` (or `AWS_PROFILE`, or `default`) from the real files and environment.
pub async fn read(asked: Option<&str>) -> Result<ProfileFacts, AwsError> {
    read_in(&Fs::real(), &Env::real(), asked).await
}

/// The same through a given file system and environment (tests pass their own).
pub async fn read_in(fs: &Fs, env: &Env, asked: Option<&str>) -> Result<ProfileFacts, AwsError> {
    let selected = asked.map(|p| Cow::Owned(p.to_string()));
    let set =
        aws_config::profile::load(fs, env, &EnvConfigFiles::default(), selected).await.map_err(|e| {
            AwsError::Config {
                message: format!("cannot read the AWS configuration ({}): {e}", files_in_words(env)),
            }
        })?;
    let name = set.selected_profile().to_string();
    let named = asked.is_some() || env.get("AWS_PROFILE").is_ok_and(|p| !p.is_empty());
    let Some(profile) = set.get_profile(&name) else {
        if named {
            return Err(AwsError::Config {
                message: format!(
                    "there is no profile `{name}` in {}: check its name (`aws configure list-profiles`), or create it with `aws configure --profile {name}` or `aws configure sso`",
                    files_in_words(env)
                ),
            });
        }
        return Ok(ProfileFacts { name, named, ..ProfileFacts::default() });
    };
    let get = |key: &str| profile.get(key).map(str::to_string);
    let mfa = match (get("role_arn"), get("mfa_serial")) {
        (Some(role_arn), Some(serial)) => Some(mfa_role(&set, &name, role_arn, serial, &get)?),
        _ => None,
    };
    let sso_sign_in = match get("sso_session") {
        Some(session) => {
            let section = set.sso_session(&session).ok_or_else(|| AwsError::Config {
                message: format!(
                    "the profile `{name}` names sso_session `{session}`, but there is no [sso-session {session}] section"
                ),
            })?;
            let value = |key: &str| {
                section.get(key).map(str::to_string).ok_or_else(|| AwsError::Config {
                    message: format!(
                        "the [sso-session {session}] section has no {key}: run `aws configure sso-session`"
                    ),
                })
            };
            Some(SsoSignIn {
                start_url: value("sso_start_url")?,
                region: value("sso_region")?,
                cache_key: session,
            })
        }
        None => match (get("sso_start_url"), get("sso_region")) {
            (Some(start_url), Some(region)) => {
                Some(SsoSignIn { cache_key: start_url.clone(), start_url, region })
            }
            _ => None,
        },
    };
    Ok(ProfileFacts {
        sso: get("sso_session").is_some() || get("sso_start_url").is_some(),
        sso_sign_in,
        region: get("region"),
        ca_bundle: get("ca_bundle"),
        mfa,
        exists: true,
        named,
        name,
    })
}

fn mfa_role(
    set: &ProfileSet,
    name: &str,
    role_arn: String,
    serial: String,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<MfaRole, AwsError> {
    let Some(source_profile) = get("source_profile") else {
        return Err(AwsError::Config {
            message: format!(
                "the profile `{name}` asks for an MFA code but names no source_profile; Lakedrop supports mfa_serial with source_profile, as `aws configure` writes it"
            ),
        });
    };
    if set.get_profile(&source_profile).is_none() {
        return Err(AwsError::Config {
            message: format!(
                "the profile `{name}` names source_profile `{source_profile}`, which does not exist"
            ),
        });
    }
    let duration_seconds = match get("duration_seconds") {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| AwsError::Config {
            message: format!(
                "the profile `{name}` has duration_seconds = {text}, which is not a number of seconds"
            ),
        })?),
    };
    Ok(MfaRole {
        role_arn,
        serial,
        source_profile,
        external_id: get("external_id"),
        session_name: get("role_session_name"),
        duration_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn facts(
        config: &str,
        env: &[(&str, &str)],
        asked: Option<&str>,
    ) -> Result<ProfileFacts, AwsError> {
        let fs = Fs::from_slice(&[("/home/a/.aws/config", config)]);
        let mut vars = vec![("HOME", "/home/a")];
        vars.extend_from_slice(env);
        read_in(&fs, &Env::from_slice(&vars), asked).await
    }

    const CONFIG: &str = "[profile analyst]\nregion = us-east-1\naws_access_key_id = AKIA\naws_secret_access_key = s\n\n\
        [profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\nregion = eu-west-1\n\n\
        [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n\n\
        [profile mfa]\nrole_arn = arn:aws:iam::1:role/R\nsource_profile = analyst\nmfa_serial = arn:aws:iam::1:mfa/me\nexternal_id = x\nduration_seconds = 1200\n";

    // Regression (issue 21): `--profile analyst` said no Region was configured although the profile sets one.
    #[tokio::test]
    async fn a_named_profile_gives_its_region() {
        let f = facts(CONFIG, &[], Some("analyst")).await.expect("reads");
        assert_eq!((f.name.as_str(), f.region.as_deref(), f.sso), ("analyst", Some("us-east-1"), false));
        let f = facts(CONFIG, &[("AWS_PROFILE", "sso")], None).await.expect("reads");
        assert_eq!(
            (f.name.as_str(), f.region.as_deref(), f.sso, f.named),
            ("sso", Some("eu-west-1"), true, true)
        );
        let sso = f.sso_sign_in.expect("sso");
        assert_eq!(
            (sso.start_url.as_str(), sso.cache_key.as_str()),
            ("https://corp.awsapps.com/start", "corp")
        );
    }

    // Regression (issue 21): `--profile nosuch` said no Region was configured.
    #[tokio::test]
    async fn a_missing_profile_is_named_as_missing() {
        let e = facts(CONFIG, &[], Some("nosuch")).await.expect_err("missing");
        let text = e.to_string();
        assert!(
            text.starts_with("there is no profile `nosuch` in ~/.aws/config or ~/.aws/credentials"),
            "{text}"
        );
        let e = facts(CONFIG, &[("AWS_PROFILE", "gone")], None).await.expect_err("missing");
        assert!(e.to_string().contains("no profile `gone`"), "{e}");
        // No profile asked for and no files at all: the environment's credentials may still serve.
        let f = facts("", &[], None).await.expect("reads");
        assert!(!f.exists && !f.named);
    }

    #[tokio::test]
    async fn an_mfa_role_profile_is_read_as_the_aws_cli_reads_it() {
        let f = facts(CONFIG, &[], Some("mfa")).await.expect("reads");
        let mfa = f.mfa.expect("mfa");
        assert_eq!(mfa.serial, "arn:aws:iam::1:mfa/me");
        assert_eq!(mfa.source_profile, "analyst");
        assert_eq!((mfa.external_id.as_deref(), mfa.duration_seconds), (Some("x"), Some(1200)));
        let broken = "[profile m]\nrole_arn = arn:aws:iam::1:role/R\nmfa_serial = arn:aws:iam::1:mfa/me\n";
        let e = facts(broken, &[], Some("m")).await.expect_err("no source");
        assert!(e.to_string().contains("names no source_profile"), "{e}");
    }
}
