//! Checks of the AWS setup before an import is submitted: each passes, warns or fails with the reason and the
//! fix, so the analyst learns about a public bucket or a disabled key before a job fails, not after.
//!
//! A check the caller lacks permission to run is a warning, never a failure: the setup may well be right, we
//! just cannot see it. The role's trust policy is read with IAM's GetRole when the caller may, and judged by
//! `lakedrop_core::policy::check_trust`.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use lakedrop_core::text::thousands;
use serde::{Deserialize, Serialize};

use crate::jobs::split_s3_uri;
use crate::{AwsError, Clients};

/// HealthLake's limit on files per import job (not adjustable).
pub const MAX_FILES_PER_JOB: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// A stable id, e.g. `output-bucket-public-access`.
    pub id: &'static str,
    pub status: Status,
    /// What was found, in a sentence.
    pub detail: String,
    /// What to do about it, when something is to be done.
    pub fix: Option<String>,
}

impl Check {
    fn pass(id: &'static str, detail: impl Into<String>) -> Check {
        Check { id, status: Status::Pass, detail: detail.into(), fix: None }
    }
    fn warn(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { id, status: Status::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn fail(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { id, status: Status::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// What is about to be submitted.
#[derive(Debug, Clone)]
pub struct Plan {
    pub datastore_id: String,
    pub output_uri: String,
    pub kms_key_id: String,
    pub role_arn: String,
    /// The batch's prefix as `s3://bucket/prefix/`, when its files are already uploaded.
    pub input_uri: Option<String>,
    /// The object keys the batch put under its prefix (nothing else may be there).
    pub batch_keys: Vec<String>,
    /// How many files the job will import.
    pub file_count: usize,
    /// Where the reader finds the IAM policies for this destination, for the fixes that need them.
    pub policies: PolicySource,
}

/// Where Lakedrop shows the IAM policies it writes for a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// `lakedrop policy` prints them.
    Cli,
    /// The desktop app shows them under the checks.
    App,
}

impl PolicySource {
    /// "the trust policy {phrase}".
    fn phrase(self) -> &'static str {
        match self {
            PolicySource::Cli => "that `lakedrop policy` prints",
            PolicySource::App => "under \"IAM policies for this destination\", below",
        }
    }
}

/// The outcome of every check, in a stable order.
pub async fn run(clients: &Clients, plan: &Plan) -> Vec<Check> {
    let mut checks = Vec::new();
    let store_region = datastore(clients, plan, &mut checks).await;
    let region = store_region.as_ref().map_or(clients.region.as_str(), |(r, _)| r.as_str()).to_string();
    output_bucket(clients, plan, &region, &mut checks).await;
    checks.push(kms_key(clients, plan, &region).await);
    let role = role_arn(plan, store_region.as_ref().map(|(_, account)| account.as_str()));
    let role_ok = role.status != Status::Fail;
    checks.push(role);
    if role_ok {
        checks.push(role_trust(clients, plan, store_region.as_ref()).await);
    }
    if let Some(input_uri) = &plan.input_uri {
        checks.push(input_prefix(clients, input_uri, &plan.batch_keys).await);
    }
    let jobs = plan.file_count.div_ceil(MAX_FILES_PER_JOB);
    checks.push(if plan.file_count > MAX_FILES_PER_JOB && plan.input_uri.is_some() {
        // A prefix already in S3 is imported whole, by one job: it cannot be split here.
        Check::fail(
            "file-count",
            format!(
                "{} files under the input prefix; HealthLake imports at most {} per job",
                thousands(plan.file_count as u64),
                thousands(MAX_FILES_PER_JOB as u64)
            ),
            "move the files into several prefixes, one import each, or let Lakedrop upload them (it splits them)",
        )
    } else if plan.file_count > MAX_FILES_PER_JOB {
        Check::warn(
            "file-count",
            format!(
                "{} files: more than HealthLake's {} per job, so they are imported as {jobs} jobs, one after the other",
                thousands(plan.file_count as u64),
                thousands(MAX_FILES_PER_JOB as u64)
            ),
            "nothing to do; the jobs are followed as one import",
        )
    } else {
        Check::pass(
            "file-count",
            format!(
                "{} files, within HealthLake's {} per job",
                thousands(plan.file_count as u64),
                thousands(MAX_FILES_PER_JOB as u64)
            ),
        )
    });
    checks
}

/// Whether anything failed.
pub fn blocks(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

/// Checks the data store; returns its Region and account (from its ARN) when it could be read.
async fn datastore(clients: &Clients, plan: &Plan, checks: &mut Vec<Check>) -> Option<(String, String)> {
    let id = "datastore-active";
    let out = clients.healthlake.describe_fhir_datastore().datastore_id(&plan.datastore_id).send().await;
    let props = match out.map_err(|e| AwsError::from_sdk("DescribeFHIRDatastore", e)) {
        Ok(out) => out.datastore_properties().cloned(),
        Err(e) => {
            checks.push(unreadable(id, "the data store", e));
            return None;
        }
    };
    let Some(props) = props else {
        checks.push(Check::fail(id, "the data store has no properties", "check the data store id"));
        return None;
    };
    let status = props.datastore_status().as_str();
    // People know a data store by its name; the id is the fallback for one without.
    let name = match props.datastore_name() {
        Some(name) if !name.is_empty() => format!("{name} ({})", plan.datastore_id),
        _ => plan.datastore_id.clone(),
    };
    checks.push(if status == "ACTIVE" {
        Check::pass(id, format!("data store {name} is ACTIVE"))
    } else {
        Check::fail(
            id,
            format!("data store {name} is {status}; imports need it ACTIVE"),
            "wait until it is ACTIVE, or choose another data store",
        )
    });
    // arn:aws:healthlake:REGION:ACCOUNT:datastore/fhir/ID
    let mut parts = props.datastore_arn().split(':').skip(3);
    Some((parts.next()?.to_string(), parts.next()?.to_string()))
}

async fn output_bucket(clients: &Clients, plan: &Plan, region: &str, checks: &mut Vec<Check>) {
    let Ok((bucket, _)) = split_s3_uri(&plan.output_uri) else {
        checks.push(Check::fail(
            "output-bucket-region",
            format!("{} is not an S3 URI", plan.output_uri),
            "give the output location as s3://bucket/prefix/",
        ));
        return;
    };
    let location = clients.s3.get_bucket_location().bucket(bucket).send().await;
    checks.push(match location.map_err(|e| AwsError::from_sdk("GetBucketLocation", e)) {
        Ok(out) => {
            // An empty LocationConstraint means us-east-1, S3's historical default.
            let bucket_region = out
                .location_constraint()
                .map(|c| c.as_str())
                .filter(|c| !c.is_empty())
                .unwrap_or("us-east-1");
            if bucket_region == region {
                Check::pass("output-bucket-region", format!("{bucket} is in {region}, like the data store"))
            } else {
                Check::fail(
                    "output-bucket-region",
                    format!("{bucket} is in {bucket_region}, the data store in {region}"),
                    format!("choose an output bucket in {region}"),
                )
            }
        }
        Err(e) => unreadable("output-bucket-region", &format!("bucket {bucket}"), e),
    });

    let block = clients.s3.get_public_access_block().bucket(bucket).send().await;
    let fix = format!(
        "turn on all four Block Public Access settings: aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
    );
    checks.push(match block.map_err(|e| AwsError::from_sdk("GetPublicAccessBlock", e)) {
        Ok(out) => {
            let c = out.public_access_block_configuration();
            let all = c.is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            });
            if all {
                Check::pass("output-bucket-public-access", format!("{bucket} blocks all public access"))
            } else {
                Check::fail(
                    "output-bucket-public-access",
                    format!(
                        "{bucket} does not block all public access; HealthLake refuses such output buckets"
                    ),
                    fix,
                )
            }
        }
        Err(AwsError::Service { code, .. }) if code == "NoSuchPublicAccessBlockConfiguration" => Check::fail(
            "output-bucket-public-access",
            format!("{bucket} has no Block Public Access settings; HealthLake refuses such output buckets"),
            fix,
        ),
        Err(e) => {
            unreadable("output-bucket-public-access", &format!("bucket {bucket}'s public access settings"), e)
        }
    });

    let encryption = clients.s3.get_bucket_encryption().bucket(bucket).send().await;
    checks.push(match encryption.map_err(|e| AwsError::from_sdk("GetBucketEncryption", e)) {
        Ok(out) => {
            let rule = out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().as_str().to_string());
            match rule {
                Some(algorithm) => Check::pass("output-bucket-encryption", format!("{bucket} encrypts by default ({algorithm})")),
                None => Check::warn(
                    "output-bucket-encryption",
                    format!("{bucket} has no default encryption"),
                    "HealthLake encrypts its output with the job's key anyway; consider SSE-KMS as the bucket default",
                ),
            }
        }
        Err(e) => unreadable("output-bucket-encryption", &format!("bucket {bucket}'s encryption"), e),
    });
}

async fn kms_key(clients: &Clients, plan: &Plan, region: &str) -> Check {
    let id = "kms-key-usable";
    let out = clients.kms.describe_key().key_id(&plan.kms_key_id).send().await;
    let meta = match out.map_err(|e| AwsError::from_sdk("DescribeKey", e)) {
        Ok(out) => out.key_metadata().cloned(),
        Err(e) => return unreadable(id, &format!("KMS key {}", plan.kms_key_id), e),
    };
    let Some(meta) = meta else { return Check::fail(id, "the key has no metadata", "choose another key") };
    let arn = meta.arn().unwrap_or(&plan.kms_key_id);
    let name = key_name(clients, meta.key_id(), arn).await;
    if !meta.enabled() {
        return Check::fail(
            id,
            format!("KMS key {name} is disabled"),
            format!("enable it (aws kms enable-key --key-id {}) or choose another key", meta.key_id()),
        );
    }
    if meta.key_spec() != Some(&KeySpec::SymmetricDefault)
        || meta.key_usage() != Some(&KeyUsageType::EncryptDecrypt)
    {
        return Check::fail(
            id,
            format!("KMS key {name} is not a symmetric encryption key"),
            "choose a symmetric key",
        );
    }
    let key_region = arn.split(':').nth(3).unwrap_or(region);
    if key_region != region {
        return Check::fail(
            id,
            format!("KMS key {name} is in {key_region}, the data store in {region}"),
            format!("choose a key in {region}"),
        );
    }
    Check::pass(id, format!("KMS key {name} is enabled and symmetric"))
}

/// A key as people know it, by its alias (`alias/imports (1234abcd-…)`), or by its ARN when it has none or the
/// aliases cannot be read (ListAliases is not needed for the import itself, so it may well be denied).
async fn key_name(clients: &Clients, key_id: &str, arn: &str) -> String {
    let aliases = clients.kms.list_aliases().key_id(key_id).send().await;
    let alias = aliases.ok().and_then(|out| {
        out.aliases()
            .iter()
            .filter_map(|a| a.alias_name())
            .find(|n| !n.starts_with("alias/aws/"))
            .map(str::to_string)
    });
    match alias {
        Some(alias) => format!("{alias} ({key_id})"),
        None => arn.to_string(),
    }
}

fn role_arn(plan: &Plan, datastore_account: Option<&str>) -> Check {
    let id = "role-arn";
    let parts: Vec<&str> = plan.role_arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|name| !name.is_empty());
    if !well_formed {
        return Check::fail(
            id,
            format!("{:?} is not an IAM role ARN", plan.role_arn),
            "use the form arn:aws:iam::<12-digit account>:role/<name>",
        );
    }
    match datastore_account {
        Some(account) if account != parts[4] => Check::warn(
            id,
            format!("the role is in account {}, the data store in {account}", parts[4]),
            "HealthLake usually needs a role in the data store's account",
        ),
        _ => Check::pass(id, format!("{} is a role ARN", plan.role_arn)),
    }
}

async fn role_trust(clients: &Clients, plan: &Plan, store: Option<&(String, String)>) -> Check {
    let id = "role-trust";
    let name = plan.role_arn.rsplit('/').next().unwrap_or_default();
    let out = clients.iam.get_role().role_name(name).send().await;
    let role = match out.map_err(|e| AwsError::from_sdk("GetRole", e)) {
        Ok(out) => out.role().cloned(),
        Err(AwsError::Service { code, .. }) if code == "NoSuchEntity" => {
            return Check::fail(
                id,
                format!("role {name} does not exist"),
                format!("create it with the trust and permissions policies {}", plan.policies.phrase()),
            );
        }
        Err(e) => return unreadable(id, &format!("role {name}'s trust policy"), e),
    };
    let Some((region, account)) = store else {
        return Check::warn(
            id,
            "the data store could not be read, so its trust cannot be judged",
            "fix the data store first",
        );
    };
    let document = role
        .and_then(|r| r.assume_role_policy_document().map(str::to_string))
        .map(|d| percent_encoding::percent_decode_str(&d).decode_utf8_lossy().into_owned())
        .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok());
    let Some(document) = document else {
        return Check::warn(
            id,
            format!("role {name} has no readable trust policy"),
            "check the role in the IAM console",
        );
    };
    let partition = plan.role_arn.split(':').nth(1).unwrap_or("aws").to_string();
    let target = lakedrop_core::policy::PolicyTarget {
        partition,
        account_id: account.clone(),
        region: region.clone(),
        datastore_id: plan.datastore_id.clone(),
        input_bucket: String::new(),
        output_bucket: String::new(),
        kms_key_arn: String::new(),
    };
    let fix = format!(
        "use the trust policy {} (aws iam update-assume-role-policy --role-name {name} --policy-document file://trust.json)",
        plan.policies.phrase()
    );
    match lakedrop_core::policy::check_trust(&document, &target) {
        lakedrop_core::policy::TrustVerdict::Trusted => {
            Check::pass(id, format!("role {name} trusts HealthLake for this data store"))
        }
        lakedrop_core::policy::TrustVerdict::TrustedWithoutConditions(why) => {
            Check::warn(id, format!("role {name} trusts HealthLake without conditions"), why)
        }
        lakedrop_core::policy::TrustVerdict::NotTrusted(why) => {
            Check::fail(id, format!("HealthLake cannot assume role {name}: {why}"), fix)
        }
    }
}

async fn input_prefix(clients: &Clients, input_uri: &str, batch_keys: &[String]) -> Check {
    let id = "input-prefix";
    let Ok((bucket, prefix)) = split_s3_uri(input_uri) else {
        return Check::fail(
            id,
            format!("{input_uri} is not an S3 URI"),
            "give the input as s3://bucket/prefix/",
        );
    };
    let mut pages = clients.s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    let mut foreign = Vec::new();
    let mut found = 0usize;
    while let Some(page) = pages.next().await {
        let page = match page.map_err(|e| AwsError::from_sdk("ListObjectsV2", e)) {
            Ok(page) => page,
            Err(e) => return unreadable(id, input_uri, e),
        };
        for object in page.contents() {
            let key = object.key().unwrap_or_default();
            if batch_keys.iter().any(|k| k == key) {
                found += 1;
            } else {
                foreign.push(key.to_string());
            }
        }
    }
    if !foreign.is_empty() {
        let shown: Vec<&str> = foreign.iter().take(5).map(String::as_str).collect();
        return Check::fail(
            id,
            format!(
                "{} objects under {input_uri} are not part of this batch ({}); HealthLake would import them too",
                foreign.len(),
                shown.join(", ")
            ),
            "import from a fresh prefix (Lakedrop makes one per batch) or remove the other objects",
        );
    }
    if found < batch_keys.len() {
        return Check::fail(
            id,
            format!(
                "{} of the batch's {} files are missing under {input_uri}",
                batch_keys.len() - found,
                batch_keys.len()
            ),
            "upload the batch again",
        );
    }
    Check::pass(id, format!("{input_uri} holds exactly this batch's {found} files"))
}

/// A check that could not run: a warning when access was denied, a failure when the thing is missing.
fn unreadable(id: &'static str, what: &str, error: AwsError) -> Check {
    match error {
        AwsError::AccessDenied { .. } => Check::warn(
            id,
            format!("could not check {what}: access denied"),
            "the check needs read permission; if the setup is right, submitting still works",
        ),
        AwsError::NotFound { .. } => {
            Check::fail(id, format!("{what} does not exist"), "check the name and the Region")
        }
        other => Check::warn(
            id,
            format!("could not check {what}: {other}"),
            "try again; if it persists, check the connection",
        ),
    }
}

/// The policy target for a destination: account and Region come from the data store's ARN.
pub async fn policy_target(
    clients: &Clients,
    destination: &lakedrop_core::destination::ResolvedDestination,
) -> Result<lakedrop_core::policy::PolicyTarget, AwsError> {
    let out = clients
        .healthlake
        .describe_fhir_datastore()
        .datastore_id(&destination.datastore_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeFHIRDatastore", e))?;
    let arn = out.datastore_properties().map(|p| p.datastore_arn().to_string()).unwrap_or_default();
    // arn:PARTITION:healthlake:REGION:ACCOUNT:datastore/fhir/ID
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, _, region, account, _] = parts[..] else {
        return Err(AwsError::Input(format!("unexpected data store ARN {arn:?}")));
    };
    let (output_bucket, _) = split_s3_uri(&destination.output_uri)?;
    Ok(lakedrop_core::policy::PolicyTarget {
        partition: partition.to_string(),
        account_id: account.to_string(),
        region: region.to_string(),
        datastore_id: destination.datastore_id.clone(),
        input_bucket: destination.input_bucket.clone(),
        output_bucket: output_bucket.to_string(),
        kms_key_arn: destination.kms_key_id.clone(),
    })
}
