//! KMS (`TrentService`, AWS JSON 1.1): symmetric keys with their life cycle (enable, disable, schedule and
//! cancel deletion), aliases (with the AWS managed `alias/aws/*` keys made on first use), tags, the default key
//! policy, rotation status, and real AES-256-GCM encryption for Encrypt/Decrypt/GenerateDataKey with the
//! EncryptionContext bound as additional authenticated data, so a wrong context, a disabled key or a key
//! pending deletion fails exactly where it would on AWS.
//!
//! Refused by name (`UnsupportedOperationException`): asymmetric and HMAC key specs, external and custom key
//! store origins, multi-Region keys. Not modelled: grants, and the key policy's effect on requests.
//!
//! `keys.rs` holds the keys' life cycle, `aliases.rs` the aliases, `crypto.rs` the ciphertext format.

mod aliases;
mod crypto;
mod keys;

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::db::Db;
use crate::protocol::{ApiError, ApiResult, opt_str, req_str};

pub use keys::KeyState;
use keys::{KeyRow, KeyStatus};

/// The KMS operations the sandbox answers; the others are refused with a message naming these.
pub const SUPPORTED_OPERATIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateAlias",
    "DeleteAlias",
    "ListAliases",
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "GetKeyRotationStatus",
    "EnableKeyRotation",
    "DisableKeyRotation",
];

pub struct Kms {
    db: Arc<Db>,
    region: String,
    account: String,
}

fn not_found(key: &str) -> ApiError {
    ApiError::new("NotFoundException", 400, format!("Key '{key}' does not exist"))
}

fn random_bytes<const N: usize>() -> ApiResult<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| ApiError::new("KMSInternalException", 500, format!("no randomness: {e}")))?;
    Ok(buf)
}

fn b64_field(input: &Value, name: &str) -> ApiResult<Vec<u8>> {
    B64.decode(req_str(input, name)?)
        .map_err(|_| ApiError::new("ValidationException", 400, format!("{name} is not valid base64")))
}

/// `Limit` (1 to 1,000, 100 by default) and `Marker` of a KMS list request.
fn limit_and_marker(input: &Value) -> ApiResult<(usize, Option<&str>)> {
    let limit = match input.get("Limit").and_then(Value::as_u64) {
        None => 100,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
            )));
        }
    };
    Ok((limit, opt_str(input, "Marker")))
}

/// One page of items sorted by a unique string key, after `marker` (the last key of the previous page).
fn page_after<T>(
    items: Vec<T>,
    limit: usize,
    marker: Option<&str>,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let start = marker.map_or(0, |m| items.partition_point(|item| key(item).as_str() <= m));
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let truncated = rest.len() > limit;
    rest.truncate(limit);
    let next = if truncated { rest.last().map(&key) } else { None };
    (rest, next)
}

/// A list response's `Truncated` and `NextMarker`.
fn with_marker(mut out: Value, next: Option<String>) -> Value {
    out["Truncated"] = json!(next.is_some());
    if let Some(next) = next {
        out["NextMarker"] = json!(next);
    }
    out
}

impl Kms {
    pub fn new(db: Arc<Db>, region: &str, account: &str) -> Kms {
        Kms { db, region: region.into(), account: account.into() }
    }

    pub fn handle(&self, operation: &str, input: &Value, now: SystemTime) -> ApiResult {
        match operation {
            "CreateKey" => self.create_key_request(input, now),
            "DescribeKey" => {
                let key = self.resolve_for_describe(req_str(input, "KeyId")?, now)?;
                Ok(json!({"KeyMetadata": self.metadata(&key)}))
            }
            "ListKeys" => self.list_keys(input),
            "EnableKey" | "DisableKey" => {
                let key = self.resolve(req_str(input, "KeyId")?, now)?;
                self.set_enabled(&key, operation == "EnableKey")?;
                Ok(json!({}))
            }
            "ScheduleKeyDeletion" => self.schedule_deletion(input, now),
            "CancelKeyDeletion" => self.cancel_deletion(input, now),
            "ListAliases" => self.list_aliases(input, now),
            "CreateAlias" => {
                self.create_alias(req_str(input, "AliasName")?, req_str(input, "TargetKeyId")?, now)?;
                Ok(json!({}))
            }
            "DeleteAlias" => self.delete_alias(req_str(input, "AliasName")?),
            "Encrypt" => {
                let key = self.usable(req_str(input, "KeyId")?, now)?;
                let plaintext = b64_field(input, "Plaintext")?;
                if plaintext.is_empty() || plaintext.len() > 4096 {
                    return Err(ApiError::validation("Plaintext must be 1 to 4096 bytes"));
                }
                let context = crypto::context(input)?;
                Ok(
                    json!({"CiphertextBlob": B64.encode(crypto::seal(&key, &plaintext, &context)?), "KeyId": key.arn,
                          "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
                )
            }
            "Decrypt" => {
                let blob = b64_field(input, "CiphertextBlob")?;
                let context = crypto::context(input)?;
                let (key, plaintext) = self.open(&blob, &context, now)?;
                if let Some(wanted) = opt_str(input, "KeyId")
                    && self.resolve(wanted, now)?.key_id != key.key_id
                {
                    return Err(ApiError::new(
                        "IncorrectKeyException",
                        400,
                        "The key ID in the request does not identify the key that encrypted the ciphertext",
                    ));
                }
                Ok(
                    json!({"KeyId": key.arn, "Plaintext": B64.encode(plaintext), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
                )
            }
            "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
                let key = self.usable(req_str(input, "KeyId")?, now)?;
                let len = match (
                    opt_str(input, "KeySpec"),
                    input.get("NumberOfBytes").and_then(Value::as_u64),
                ) {
                    (Some("AES_256"), None) => 32,
                    (Some("AES_128"), None) => 16,
                    (None, Some(n @ 1..=1024)) => n as usize,
                    _ => {
                        return Err(ApiError::validation(
                            "Specify either KeySpec (AES_256 or AES_128) or NumberOfBytes (1-1024), exactly one of them",
                        ));
                    }
                };
                let context = crypto::context(input)?;
                let data_key = random_bytes::<1024>()?[..len].to_vec();
                let mut out = json!({"CiphertextBlob": B64.encode(crypto::seal(&key, &data_key, &context)?),
                                     "KeyId": key.arn});
                if operation == "GenerateDataKey" {
                    out["Plaintext"] = json!(B64.encode(&data_key));
                }
                Ok(out)
            }
            "TagResource" => self.tag_resource(input, now),
            "UntagResource" => self.untag_resource(input, now),
            "ListResourceTags" => self.list_resource_tags(input, now),
            "GetKeyPolicy" | "PutKeyPolicy" | "ListKeyPolicies" => self.key_policy(operation, input, now),
            "GetKeyRotationStatus" | "EnableKeyRotation" | "DisableKeyRotation" => {
                self.rotation(operation, input, now)
            }
            other => Err(ApiError::new(
                "UnknownOperationException",
                400,
                format!(
                    "The Lakedrop sandbox does not implement KMS.{other}. It implements {}.",
                    SUPPORTED_OPERATIONS.join(", ")
                ),
            )),
        }
    }

    fn open(&self, blob: &[u8], context: &[u8], now: SystemTime) -> ApiResult<(KeyRow, Vec<u8>)> {
        let key_id = crypto::key_id_of(blob)?;
        let key = self.usable(key_id, now)?;
        let plaintext = crypto::open(&key, blob, context)?;
        Ok((key, plaintext))
    }

    fn metadata(&self, key: &KeyRow) -> Value {
        let mut meta = json!({
            "AWSAccountId": self.account, "KeyId": key.key_id, "Arn": key.arn, "CreationDate": key.created,
            "Enabled": key.status == KeyStatus::Enabled, "Description": key.description, "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": key.status.as_str(), "Origin": "AWS_KMS",
            "KeyManager": key.manager, "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": false,
        });
        if let Some(date) = key.deletion_date {
            meta["DeletionDate"] = json!(date);
            if let Some(days) = key.pending_window_days {
                meta["PendingDeletionWindowInDays"] = json!(days);
            }
        }
        meta
    }

    /// A new 256-bit data key under `key` for S3's envelope encryption, as GenerateDataKey makes it: its
    /// plaintext and its ciphertext blob.
    pub fn generate_data_key(&self, key: &str) -> ApiResult<([u8; 32], Vec<u8>)> {
        let key = self.usable(key, SystemTime::now())?;
        let data_key = random_bytes::<32>()?;
        Ok((data_key, crypto::seal(&key, &data_key, &[])?))
    }

    /// The plaintext of a data key made by [`Kms::generate_data_key`], as Decrypt opens it: a disabled or
    /// missing key refuses.
    pub fn decrypt_data_key(&self, blob: &[u8]) -> ApiResult<[u8; 32]> {
        let (_, plaintext) = self.open(blob, &[], SystemTime::now())?;
        plaintext.try_into().map_err(|_| ApiError::internal("a data key ciphertext holds no 256-bit key"))
    }

    /// Resolves a key for S3's SSE-KMS and HealthLake: its ARN if it exists and is enabled.
    pub fn enabled_key_arn(&self, key: &str) -> Result<String, KeyState> {
        match self.resolve(key, SystemTime::now()) {
            Ok(row) if row.status == KeyStatus::Enabled => Ok(row.arn),
            Ok(_) => Err(KeyState::Disabled),
            Err(_) => Err(KeyState::NotFound),
        }
    }
}
