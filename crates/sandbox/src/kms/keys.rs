//! Keys: create (symmetric only; other specs refused by name), describe, list with `Limit`/`Marker`, enable,
//! disable, schedule and cancel deletion (a key past its deletion date is gone), tags, the key policy and the
//! rotation flag. Keys are found by id, key ARN, alias name or alias ARN of this Region and account.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use super::{Kms, limit_and_marker, not_found, page_after, random_bytes, with_marker};
use crate::protocol::{ApiError, ApiResult, epoch_seconds, opt_str, req_str};

const SECONDS_PER_DAY: f64 = 86_400.0;

/// A key's state, as `KeyState` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyStatus {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Enabled => "Enabled",
            KeyStatus::Disabled => "Disabled",
            KeyStatus::PendingDeletion => "PendingDeletion",
        }
    }
}

pub(super) struct KeyRow {
    pub key_id: String,
    pub arn: String,
    pub description: String,
    pub status: KeyStatus,
    pub created: f64,
    pub material: Vec<u8>,
    /// `CUSTOMER`, or `AWS` for the `alias/aws/*` keys.
    pub manager: String,
    pub deletion_date: Option<f64>,
    pub pending_window_days: Option<i64>,
    rotation: bool,
    policy: Option<String>,
}

const KEY_COLUMNS: &str = "key_id, arn, description, enabled, created, material, manager, deletion_date, pending_window_days, rotation, policy";

fn row_to_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    let enabled: bool = r.get(3)?;
    let deletion_date: Option<f64> = r.get(7)?;
    let status = match (deletion_date, enabled) {
        (Some(_), _) => KeyStatus::PendingDeletion,
        (None, true) => KeyStatus::Enabled,
        (None, false) => KeyStatus::Disabled,
    };
    Ok(KeyRow {
        key_id: r.get(0)?,
        arn: r.get(1)?,
        description: r.get(2)?,
        status,
        created: r.get(4)?,
        material: r.get(5)?,
        manager: r.get(6)?,
        deletion_date,
        pending_window_days: r.get(8)?,
        rotation: r.get(9)?,
        policy: r.get(10)?,
    })
}

/// Why a key cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    NotFound,
    Disabled,
}

/// A key just created.
pub struct CreatedKey {
    pub key_id: String,
    pub arn: String,
}

fn unsupported(what: &str) -> ApiError {
    ApiError::new(
        "UnsupportedOperationException",
        400,
        format!(
            "The Lakedrop sandbox makes only SYMMETRIC_DEFAULT keys for ENCRYPT_DECRYPT in AWS_KMS; {what} is not supported here"
        ),
    )
}

fn invalid_state(key: &KeyRow) -> ApiError {
    ApiError::new(
        "KMSInvalidStateException",
        400,
        format!(
            "{} is {}.",
            key.arn,
            if key.status == KeyStatus::PendingDeletion { "pending deletion" } else { "disabled" }
        ),
    )
}

/// The `Tags` of a KMS request as (key, value) pairs.
fn tags_of(input: &Value) -> ApiResult<Vec<(String, String)>> {
    input["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Ok((req_str(t, "TagKey")?.to_string(), req_str(t, "TagValue")?.to_string())))
        .collect()
}

impl Kms {
    pub fn create_key(&self, description: &str, now: SystemTime) -> ApiResult<CreatedKey> {
        self.insert_key(description, "CUSTOMER", None, now)
    }

    fn insert_key(
        &self,
        description: &str,
        manager: &str,
        policy: Option<&str>,
        now: SystemTime,
    ) -> ApiResult<CreatedKey> {
        let key_id = uuid::Uuid::new_v4().to_string();
        let arn = format!("arn:aws:kms:{}:{}:key/{key_id}", self.region, self.account);
        let material = random_bytes::<32>()?;
        self.db.conn().execute(
            "INSERT INTO kms_keys (key_id, arn, description, enabled, created, material, manager, policy)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7)",
            params![key_id, arn, description, epoch_seconds(now), material.to_vec(), manager, policy],
        )?;
        Ok(CreatedKey { key_id, arn })
    }

    pub(super) fn create_key_request(&self, input: &Value, now: SystemTime) -> ApiResult {
        let spec = opt_str(input, "KeySpec")
            .or(opt_str(input, "CustomerMasterKeySpec"))
            .unwrap_or("SYMMETRIC_DEFAULT");
        if spec != "SYMMETRIC_DEFAULT" {
            return Err(unsupported(&format!("KeySpec {spec}")));
        }
        let usage = opt_str(input, "KeyUsage").unwrap_or("ENCRYPT_DECRYPT");
        if usage != "ENCRYPT_DECRYPT" {
            return Err(ApiError::validation(format!(
                "KeyUsage {usage} is not compatible with KeySpec SYMMETRIC_DEFAULT"
            )));
        }
        if let Some(origin) = opt_str(input, "Origin").filter(|o| *o != "AWS_KMS") {
            return Err(unsupported(&format!("Origin {origin}")));
        }
        if input.get("MultiRegion").and_then(Value::as_bool) == Some(true) {
            return Err(unsupported("a multi-Region key"));
        }
        let policy = opt_str(input, "Policy");
        if let Some(policy) = policy {
            check_policy(policy)?;
        }
        let tags = tags_of(input)?;
        let created =
            self.insert_key(opt_str(input, "Description").unwrap_or(""), "CUSTOMER", policy, now)?;
        self.set_tags(&created.key_id, &tags)?;
        Ok(json!({"KeyMetadata": self.metadata(&self.resolve(&created.key_id, now)?)}))
    }

    pub(super) fn list_keys(&self, input: &Value) -> ApiResult {
        let (limit, marker) = limit_and_marker(input)?;
        let keys = self.all_keys(SystemTime::now())?;
        let (keys, next) = page_after(keys, limit, marker, |k| k.key_id.clone());
        let list: Vec<Value> = keys.iter().map(|k| json!({"KeyId": k.key_id, "KeyArn": k.arn})).collect();
        Ok(with_marker(json!({"Keys": list}), next))
    }

    /// Every key that exists (not past its deletion date), by key id.
    pub(super) fn all_keys(&self, now: SystemTime) -> ApiResult<Vec<KeyRow>> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {KEY_COLUMNS} FROM kms_keys WHERE deletion_date IS NULL OR deletion_date > ?1 ORDER BY key_id"
        ))?;
        let rows = stmt.query_map(params![epoch_seconds(now)], row_to_key)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Finds a key by id, key ARN, alias name or alias ARN, as KMS accepts all four. An ARN must name this
    /// Region and account: a key of another is not found here, as on AWS without a cross-account grant. A key
    /// past its deletion date is gone.
    pub(super) fn resolve(&self, key: &str, now: SystemTime) -> ApiResult<KeyRow> {
        let local = match key.strip_prefix("arn:") {
            Some(_) => key
                .strip_prefix(&format!("arn:aws:kms:{}:{}:", self.region, self.account))
                .filter(|rest| rest.starts_with("alias/") || rest.starts_with("key/"))
                .ok_or_else(|| not_found(key))?,
            None => key,
        };
        let key_id = if local.starts_with("alias/") {
            self.alias_target(local)?.ok_or_else(|| not_found(key))?
        } else {
            local.strip_prefix("key/").unwrap_or(local).to_string()
        };
        let row = self
            .db
            .conn()
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = ?1"),
                params![key_id],
                row_to_key,
            )
            .optional()?
            .ok_or_else(|| not_found(key))?;
        if row.deletion_date.is_some_and(|d| d <= epoch_seconds(now)) {
            return Err(not_found(key));
        }
        Ok(row)
    }

    /// DescribeKey's lookup: an `alias/aws/<service>` name with no key yet makes the AWS managed key, as the
    /// KMS documentation says DescribeKey does.
    pub(super) fn resolve_for_describe(&self, key: &str, now: SystemTime) -> ApiResult<KeyRow> {
        match self.resolve(key, now) {
            Err(e) if e.type_name == "NotFoundException" => {
                let local = key
                    .strip_prefix(&format!("arn:aws:kms:{}:{}:", self.region, self.account))
                    .unwrap_or(key);
                let Some(service) = local.strip_prefix("alias/aws/") else { return Err(e) };
                self.aws_managed_key(service, now)
            }
            other => other,
        }
    }

    /// The AWS managed key of a service (`alias/aws/<service>`), made on first use.
    pub fn aws_managed_key_arn(&self, service: &str) -> ApiResult<String> {
        Ok(self.aws_managed_key(service, SystemTime::now())?.arn)
    }

    fn aws_managed_key(&self, service: &str, now: SystemTime) -> ApiResult<KeyRow> {
        let alias = format!("alias/aws/{service}");
        if service.is_empty() || !service.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(not_found(&alias));
        }
        if let Some(key_id) = self.alias_target(&alias)? {
            return self.resolve(&key_id, now);
        }
        let created = self.insert_key(
            &format!("Default key that protects my {service} data when no other key is defined"),
            "AWS",
            None,
            now,
        )?;
        self.insert_alias(&alias, &created.key_id, now)?;
        self.resolve(&created.key_id, now)
    }

    /// A key that exists and is enabled, or the error KMS gives for using it.
    pub(super) fn usable(&self, key: &str, now: SystemTime) -> ApiResult<KeyRow> {
        let row = self.resolve(key, now)?;
        match row.status {
            KeyStatus::Enabled => Ok(row),
            KeyStatus::Disabled => {
                Err(ApiError::new("DisabledException", 400, format!("{} is disabled.", row.arn)))
            }
            KeyStatus::PendingDeletion => Err(invalid_state(&row)),
        }
    }

    pub(super) fn set_enabled(&self, key: &KeyRow, enabled: bool) -> ApiResult<()> {
        if key.status == KeyStatus::PendingDeletion {
            return Err(invalid_state(key));
        }
        self.db
            .conn()
            .execute("UPDATE kms_keys SET enabled = ?2 WHERE key_id = ?1", params![key.key_id, enabled])?;
        Ok(())
    }

    pub(super) fn schedule_deletion(&self, input: &Value, now: SystemTime) -> ApiResult {
        let key = self.resolve(req_str(input, "KeyId")?, now)?;
        let days = input.get("PendingWindowInDays").and_then(Value::as_i64).unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
            )));
        }
        if key.manager == "AWS" {
            return Err(ApiError::new(
                "UnsupportedOperationException",
                400,
                format!("{} is an AWS managed key; it cannot be deleted", key.arn),
            ));
        }
        if key.status == KeyStatus::PendingDeletion {
            return Err(invalid_state(&key));
        }
        let date = epoch_seconds(now) + days as f64 * SECONDS_PER_DAY;
        self.db.conn().execute(
            "UPDATE kms_keys SET enabled = 0, deletion_date = ?2, pending_window_days = ?3 WHERE key_id = ?1",
            params![key.key_id, date, days],
        )?;
        Ok(
            json!({"KeyId": key.arn, "DeletionDate": date, "KeyState": "PendingDeletion", "PendingWindowInDays": days}),
        )
    }

    pub(super) fn cancel_deletion(&self, input: &Value, now: SystemTime) -> ApiResult {
        let key = self.resolve(req_str(input, "KeyId")?, now)?;
        if key.status != KeyStatus::PendingDeletion {
            return Err(ApiError::new(
                "KMSInvalidStateException",
                400,
                format!("{} is not pending deletion.", key.arn),
            ));
        }
        // A key whose deletion is cancelled is Disabled, as KMS documents.
        self.db.conn().execute(
            "UPDATE kms_keys SET deletion_date = NULL, pending_window_days = NULL, enabled = 0 WHERE key_id = ?1",
            params![key.key_id],
        )?;
        Ok(json!({"KeyId": key.arn}))
    }

    fn set_tags(&self, key_id: &str, tags: &[(String, String)]) -> ApiResult<()> {
        let conn = self.db.conn();
        for (k, v) in tags {
            if k.to_ascii_lowercase().starts_with("aws:") {
                return Err(ApiError::new(
                    "TagException",
                    400,
                    format!("Tag key {k} uses the reserved prefix aws:"),
                ));
            }
            conn.execute(
                "INSERT INTO kms_tags (key_id, tag_key, tag_value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                params![key_id, k, v],
            )?;
        }
        Ok(())
    }

    pub(super) fn tag_resource(&self, input: &Value, now: SystemTime) -> ApiResult {
        let key = self.resolve(req_str(input, "KeyId")?, now)?;
        self.set_tags(&key.key_id, &tags_of(input)?)?;
        Ok(json!({}))
    }

    pub(super) fn untag_resource(&self, input: &Value, now: SystemTime) -> ApiResult {
        let key = self.resolve(req_str(input, "KeyId")?, now)?;
        let conn = self.db.conn();
        for tag in input["TagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            conn.execute(
                "DELETE FROM kms_tags WHERE key_id = ?1 AND tag_key = ?2",
                params![key.key_id, tag],
            )?;
        }
        Ok(json!({}))
    }

    pub(super) fn list_resource_tags(&self, input: &Value, now: SystemTime) -> ApiResult {
        let key = self.resolve(req_str(input, "KeyId")?, now)?;
        let (limit, marker) = limit_and_marker(input)?;
        let tags: Vec<(String, String)> = {
            let conn = self.db.conn();
            let mut stmt =
                conn.prepare("SELECT tag_key, tag_value FROM kms_tags WHERE key_id = ?1 ORDER BY tag_key")?;
            let rows = stmt.query_map(params![key.key_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let (tags, next) = page_after(tags, limit, marker, |(k, _)| k.clone());
        let list: Vec<Value> = tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
        Ok(with_marker(json!({"Tags": list}), next))
    }

    /// The default key policy KMS gives a key created without one: the account's root may do everything.
    fn default_policy(&self) -> String {
        json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", self.account)},
            "Action": "kms:*", "Resource": "*"}]})
        .to_string()
    }

    pub(super) fn key_policy(&self, operation: &str, input: &Value, now: SystemTime) -> ApiResult {
        let key = self.resolve(req_str(input, "KeyId")?, now)?;
        if operation == "ListKeyPolicies" {
            return Ok(json!({"PolicyNames": ["default"], "Truncated": false}));
        }
        let name = opt_str(input, "PolicyName").unwrap_or("default");
        if name != "default" {
            return Err(not_found(&format!("policy {name} of {}", key.arn)));
        }
        if operation == "PutKeyPolicy" {
            let policy = req_str(input, "Policy")?;
            check_policy(policy)?;
            self.db
                .conn()
                .execute("UPDATE kms_keys SET policy = ?2 WHERE key_id = ?1", params![key.key_id, policy])?;
            return Ok(json!({}));
        }
        Ok(
            json!({"Policy": key.policy.clone().unwrap_or_else(|| self.default_policy()), "PolicyName": "default"}),
        )
    }

    pub(super) fn rotation(&self, operation: &str, input: &Value, now: SystemTime) -> ApiResult {
        let key = self.resolve(req_str(input, "KeyId")?, now)?;
        let set = match operation {
            "EnableKeyRotation" => Some(true),
            "DisableKeyRotation" => Some(false),
            _ => None,
        };
        let Some(on) = set else {
            let mut out = json!({"KeyRotationEnabled": key.rotation, "KeyId": key.arn});
            if key.rotation {
                out["RotationPeriodInDays"] = json!(365);
            }
            return Ok(out);
        };
        if key.status != KeyStatus::Enabled {
            return Err(invalid_state(&key));
        }
        if key.manager == "AWS" {
            return Err(ApiError::new(
                "UnsupportedOperationException",
                400,
                format!("{} is an AWS managed key, which AWS rotates", key.arn),
            ));
        }
        self.db
            .conn()
            .execute("UPDATE kms_keys SET rotation = ?2 WHERE key_id = ?1", params![key.key_id, on])?;
        Ok(json!({}))
    }
}

/// A key policy must be a JSON document with statements, as KMS checks before it stores one.
fn check_policy(policy: &str) -> ApiResult<()> {
    let doc: Value = serde_json::from_str(policy).map_err(|_| {
        ApiError::new("MalformedPolicyDocumentException", 400, "The key policy is not a JSON document")
    })?;
    if !doc["Statement"].is_array() && !doc["Statement"].is_object() {
        return Err(ApiError::new(
            "MalformedPolicyDocumentException",
            400,
            "The key policy has no Statement",
        ));
    }
    Ok(())
}
