//! What the analyst can pick from: AWS profiles in their config (never their credentials), and the data stores,
//! KMS keys and buckets the chosen connection can see, with what makes each usable or not.

use std::borrow::Cow;

use aws_runtime::env_config::file::EnvConfigFiles;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use aws_types::os_shim_internal::{Env, Fs};
use serde::{Deserialize, Serialize};

use crate::{AwsError, Clients};

/// How a profile gets its credentials; shown so the analyst knows whether to run `aws sso login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    Sso,
    CredentialProcess,
    AssumeRole,
    AccessKeys,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ProfileChoice {
    pub name: String,
    pub kind: ProfileKind,
    pub region: Option<String>,
}

/// The profiles in `~/.aws/config` and `~/.aws/credentials` (or where `AWS_CONFIG_FILE` points), by name.
pub async fn profiles() -> Vec<ProfileChoice> {
    profiles_in(&Fs::real(), &Env::real()).await
}

/// The profiles as seen through the given file system and environment (tests pass their own).
pub async fn profiles_in(fs: &Fs, env: &Env) -> Vec<ProfileChoice> {
    let set = match aws_config::profile::load(fs, env, &EnvConfigFiles::default(), None::<Cow<'static, str>>)
        .await
    {
        Ok(set) => set,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the AWS config files");
            return Vec::new();
        }
    };
    let mut out: Vec<ProfileChoice> = set
        .profiles()
        .filter_map(|name| {
            let profile = set.get_profile(name)?;
            let kind = if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
                ProfileKind::Sso
            } else if profile.get("credential_process").is_some() {
                ProfileKind::CredentialProcess
            } else if profile.get("role_arn").is_some() {
                ProfileKind::AssumeRole
            } else if profile.get("aws_access_key_id").is_some() {
                ProfileKind::AccessKeys
            } else {
                ProfileKind::Other
            };
            Some(ProfileChoice {
                name: name.to_string(),
                kind,
                region: profile.get("region").map(str::to_string),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.name != "default", &a.name).cmp(&(b.name != "default", &b.name)));
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DatastoreChoice {
    pub id: String,
    pub name: Option<String>,
    /// HealthLake's status; only ACTIVE stores take imports.
    pub status: String,
    pub region: String,
    pub selectable: bool,
}

/// Every data store in the Region, ACTIVE ones first.
pub async fn datastores(clients: &Clients) -> Result<Vec<DatastoreChoice>, AwsError> {
    // Page by page through `with_retries`, as HealthLake throttles its list calls.
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = crate::retry::with_retries("ListFHIRDatastores", "the data stores", || {
            clients.healthlake.list_fhir_datastores().max_results(100).set_next_token(next.clone()).send()
        })
        .await?;
        for d in page.datastore_properties_list() {
            let status = d.datastore_status().as_str().to_string();
            out.push(DatastoreChoice {
                id: d.datastore_id().to_string(),
                name: d.datastore_name().map(str::to_string),
                selectable: status == "ACTIVE",
                region: d.datastore_arn().split(':').nth(3).unwrap_or(&clients.region).to_string(),
                status,
            });
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => break,
        }
    }
    out.sort_by(|a, b| (!a.selectable, &a.name, &a.id).cmp(&(!b.selectable, &b.name, &b.id)));
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct KeyChoice {
    pub key_id: String,
    pub arn: String,
    pub aliases: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub symmetric: bool,
    pub region: String,
    /// Usable for HealthLake output: enabled, symmetric encryption, in the connection's Region.
    pub selectable: bool,
}

/// Customer keys with their aliases (AWS-managed `alias/aws/*` keys are left out: HealthLake output needs a
/// key the account controls); keys with an alias first.
pub async fn kms_keys(clients: &Clients) -> Result<Vec<KeyChoice>, AwsError> {
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut pages = clients.kms.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListAliases", e))?;
        for a in page.aliases() {
            if let (Some(name), Some(target)) = (a.alias_name(), a.target_key_id())
                && !name.starts_with("alias/aws/")
            {
                aliases.push((target.to_string(), name.to_string()));
            }
        }
    }
    let mut out = Vec::new();
    let mut pages = clients.kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListKeys", e))?;
        for key in page.keys() {
            let Some(key_id) = key.key_id() else { continue };
            let described = clients.kms.describe_key().key_id(key_id).send().await;
            let meta = match described.map_err(|e| AwsError::from_sdk("DescribeKey", e)) {
                Ok(out) => out.key_metadata().cloned(),
                // A key we may list but not describe is not one we can use.
                Err(AwsError::AccessDenied { .. }) => None,
                Err(e) => return Err(e),
            };
            let Some(meta) = meta else { continue };
            if meta.key_manager().map(|m| m.as_str()) == Some("AWS") {
                continue;
            }
            let arn = meta.arn().unwrap_or(key_id).to_string();
            let enabled = meta.enabled() && meta.key_state() == Some(&KeyState::Enabled);
            let symmetric = meta.key_spec() == Some(&KeySpec::SymmetricDefault)
                && meta.key_usage() == Some(&KeyUsageType::EncryptDecrypt);
            let region = arn.split(':').nth(3).unwrap_or(&clients.region).to_string();
            let mut names: Vec<String> =
                aliases.iter().filter(|(target, _)| target == key_id).map(|(_, name)| name.clone()).collect();
            names.sort();
            out.push(KeyChoice {
                key_id: key_id.to_string(),
                selectable: enabled && symmetric && region == clients.region,
                arn,
                aliases: names,
                description: meta.description().unwrap_or_default().to_string(),
                enabled,
                symmetric,
                region,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.aliases.is_empty(), a.aliases.first(), &a.key_id).cmp(&(
            b.aliases.is_empty(),
            b.aliases.first(),
            &b.key_id,
        ))
    });
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct BucketChoice {
    pub name: String,
    /// `None` when the caller may not read the bucket's location.
    pub region: Option<String>,
}

/// The account's buckets with their Regions.
pub async fn buckets(clients: &Clients) -> Result<Vec<BucketChoice>, AwsError> {
    let out = clients.s3.list_buckets().send().await.map_err(|e| AwsError::from_sdk("ListBuckets", e))?;
    let mut choices = Vec::new();
    for bucket in out.buckets() {
        let Some(name) = bucket.name() else { continue };
        let region = match clients.s3.get_bucket_location().bucket(name).send().await {
            Ok(location) => Some(
                location
                    .location_constraint()
                    .map(|c| c.as_str())
                    .filter(|c| !c.is_empty())
                    .unwrap_or("us-east-1")
                    .to_string(),
            ),
            Err(_) => None,
        };
        choices.push(BucketChoice { name: name.to_string(), region });
    }
    choices.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(choices)
}
