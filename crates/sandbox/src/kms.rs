//! KMS (`TrentService`, AWS JSON 1.1): symmetric keys with aliases, enable/disable, and real AES-256-GCM
//! encryption for Encrypt/Decrypt/GenerateDataKey, so a disabled key fails exactly where it would on AWS.
//!
//! Not modelled: key policies and grants, asymmetric and HMAC keys, multi-Region keys, key rotation.

use std::sync::Arc;
use std::time::SystemTime;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use crate::db::Db;
use crate::protocol::{ApiError, ApiResult, epoch_seconds, opt_str, req_str};

/// Marks our ciphertexts, so a blob from elsewhere is rejected as invalid rather than misread.
const CIPHERTEXT_MAGIC: &[u8; 4] = b"LDK1";
const KEY_ID_LEN: usize = 36;

pub struct Kms {
    db: Arc<Db>,
    region: String,
    account: String,
}

struct KeyRow {
    key_id: String,
    arn: String,
    description: String,
    enabled: bool,
    created: f64,
    material: Vec<u8>,
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

impl Kms {
    pub fn new(db: Arc<Db>, region: &str, account: &str) -> Kms {
        Kms { db, region: region.into(), account: account.into() }
    }

    pub fn handle(&self, operation: &str, input: &Value, now: SystemTime) -> ApiResult {
        match operation {
            "CreateKey" => {
                let key = self.create_key(opt_str(input, "Description").unwrap_or(""), now)?;
                Ok(json!({"KeyMetadata": self.metadata(&self.resolve(&key.key_id)?)}))
            }
            "DescribeKey" => {
                Ok(json!({"KeyMetadata": self.metadata(&self.resolve(req_str(input, "KeyId")?)?)}))
            }
            "ListKeys" => {
                let keys: Vec<Value> = self
                    .all_keys()?
                    .into_iter()
                    .map(|k| json!({"KeyId": k.key_id, "KeyArn": k.arn}))
                    .collect();
                Ok(json!({"Keys": keys, "Truncated": false}))
            }
            "ListAliases" => self.list_aliases(opt_str(input, "KeyId")),
            "CreateAlias" => {
                self.create_alias(req_str(input, "AliasName")?, req_str(input, "TargetKeyId")?, now)?;
                Ok(json!({}))
            }
            "DeleteAlias" => {
                let name = req_str(input, "AliasName")?;
                let n = self.db.conn().execute("DELETE FROM kms_aliases WHERE name = ?1", params![name])?;
                if n == 0 {
                    return Err(not_found(name));
                }
                Ok(json!({}))
            }
            "EnableKey" | "DisableKey" => {
                let key = self.resolve(req_str(input, "KeyId")?)?;
                let enabled = operation == "EnableKey";
                self.db.conn().execute(
                    "UPDATE kms_keys SET enabled = ?2 WHERE key_id = ?1",
                    params![key.key_id, enabled],
                )?;
                Ok(json!({}))
            }
            "Encrypt" => {
                let key = self.usable(req_str(input, "KeyId")?)?;
                let plaintext = b64_field(input, "Plaintext")?;
                if plaintext.is_empty() || plaintext.len() > 4096 {
                    return Err(ApiError::validation("Plaintext must be 1 to 4096 bytes"));
                }
                Ok(json!({"CiphertextBlob": B64.encode(seal(&key, &plaintext)?), "KeyId": key.arn,
                          "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}))
            }
            "Decrypt" => {
                let blob = b64_field(input, "CiphertextBlob")?;
                let (key, plaintext) = self.open(&blob)?;
                if let Some(wanted) = opt_str(input, "KeyId")
                    && self.resolve(wanted)?.key_id != key.key_id
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
                let key = self.usable(req_str(input, "KeyId")?)?;
                let len = match (
                    opt_str(input, "KeySpec"),
                    input.get("NumberOfBytes").and_then(Value::as_u64),
                ) {
                    (Some("AES_256"), None) | (None, None) => 32,
                    (Some("AES_128"), None) => 16,
                    (None, Some(n @ 1..=1024)) => n as usize,
                    _ => {
                        return Err(ApiError::validation(
                            "Specify either KeySpec (AES_256 or AES_128) or NumberOfBytes (1-1024), not both",
                        ));
                    }
                };
                let data_key = random_bytes::<1024>()?[..len].to_vec();
                let mut out = json!({"CiphertextBlob": B64.encode(seal(&key, &data_key)?), "KeyId": key.arn});
                if operation == "GenerateDataKey" {
                    out["Plaintext"] = json!(B64.encode(&data_key));
                }
                Ok(out)
            }
            other => Err(ApiError::new(
                "UnknownOperationException",
                400,
                format!("the sandbox's KMS does not implement {other}"),
            )),
        }
    }

    pub fn create_key(&self, description: &str, now: SystemTime) -> ApiResult<CreatedKey> {
        let key_id = uuid::Uuid::new_v4().to_string();
        let arn = format!("arn:aws:kms:{}:{}:key/{key_id}", self.region, self.account);
        let material = random_bytes::<32>()?;
        self.db.conn().execute(
            "INSERT INTO kms_keys (key_id, arn, description, enabled, created, material) VALUES (?1, ?2, ?3, 1, ?4, ?5)",
            params![key_id, arn, description, epoch_seconds(now), material.to_vec()],
        )?;
        Ok(CreatedKey { key_id, arn })
    }

    pub fn create_alias(&self, alias: &str, target: &str, now: SystemTime) -> ApiResult<()> {
        if !alias.starts_with("alias/") || alias.starts_with("alias/aws/") || alias.len() > 256 {
            return Err(ApiError::validation(format!(
                "Alias must begin with 'alias/' and must not begin with 'alias/aws/': {alias}"
            )));
        }
        let key = self.resolve(target)?;
        let inserted = self.db.conn().execute(
            "INSERT OR IGNORE INTO kms_aliases (name, key_id, created) VALUES (?1, ?2, ?3)",
            params![alias, key.key_id, epoch_seconds(now)],
        )?;
        if inserted == 0 {
            return Err(ApiError::new(
                "AlreadyExistsException",
                400,
                format!("An alias with the name {} already exists", self.alias_arn(alias)),
            ));
        }
        Ok(())
    }

    fn alias_arn(&self, alias: &str) -> String {
        format!("arn:aws:kms:{}:{}:{alias}", self.region, self.account)
    }

    fn list_aliases(&self, key: Option<&str>) -> ApiResult {
        let filter = key.map(|k| self.resolve(k)).transpose()?.map(|k| k.key_id);
        let conn = self.db.conn();
        let mut stmt = conn.prepare("SELECT name, key_id, created FROM kms_aliases ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, f64>(2)?)))?;
        let mut aliases = Vec::new();
        for row in rows {
            let (name, key_id, created) = row?;
            if filter.as_ref().is_some_and(|f| *f != key_id) {
                continue;
            }
            aliases.push(json!({"AliasName": name, "AliasArn": self.alias_arn(&name), "TargetKeyId": key_id,
                                "CreationDate": created, "LastUpdatedDate": created}));
        }
        Ok(json!({"Aliases": aliases, "Truncated": false}))
    }

    fn all_keys(&self) -> ApiResult<Vec<KeyRow>> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare(
            "SELECT key_id, arn, description, enabled, created, material FROM kms_keys ORDER BY created",
        )?;
        let rows = stmt.query_map([], row_to_key)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Finds a key by id, key ARN, alias name or alias ARN, as KMS accepts all four. An ARN must name this
    /// Region and account: a key of another is not found here, as on AWS without a cross-account grant.
    fn resolve(&self, key: &str) -> ApiResult<KeyRow> {
        let local = match key.strip_prefix("arn:") {
            Some(_) => key
                .strip_prefix(&format!("arn:aws:kms:{}:{}:", self.region, self.account))
                .filter(|rest| rest.starts_with("alias/") || rest.starts_with("key/"))
                .ok_or_else(|| not_found(key))?,
            None => key,
        };
        let conn = self.db.conn();
        let key_id: Option<String> = if local.starts_with("alias/") {
            conn.query_row("SELECT key_id FROM kms_aliases WHERE name = ?1", params![local], |r| r.get(0))
                .optional()?
        } else {
            Some(local.strip_prefix("key/").unwrap_or(local).to_string())
        };
        let Some(key_id) = key_id else { return Err(not_found(key)) };
        conn.query_row(
            "SELECT key_id, arn, description, enabled, created, material FROM kms_keys WHERE key_id = ?1",
            params![key_id],
            row_to_key,
        )
        .optional()?
        .ok_or_else(|| not_found(key))
    }

    /// A key that exists and is enabled, or the error KMS gives for using it.
    fn usable(&self, key: &str) -> ApiResult<KeyRow> {
        let row = self.resolve(key)?;
        if !row.enabled {
            return Err(ApiError::new("DisabledException", 400, format!("{} is disabled.", row.arn)));
        }
        Ok(row)
    }

    fn open(&self, blob: &[u8]) -> ApiResult<(KeyRow, Vec<u8>)> {
        let invalid = || {
            ApiError::new(
                "InvalidCiphertextException",
                400,
                "The ciphertext is invalid or was not made by this KMS",
            )
        };
        let rest = blob.strip_prefix(CIPHERTEXT_MAGIC.as_slice()).ok_or_else(invalid)?;
        if rest.len() < KEY_ID_LEN + 12 {
            return Err(invalid());
        }
        let key_id = std::str::from_utf8(&rest[..KEY_ID_LEN]).map_err(|_| invalid())?;
        let key = self.usable(key_id)?;
        let cipher = Aes256Gcm::new_from_slice(&key.material).map_err(|_| invalid())?;
        let nonce = Nonce::from_slice(&rest[KEY_ID_LEN..KEY_ID_LEN + 12]);
        let plaintext = cipher.decrypt(nonce, &rest[KEY_ID_LEN + 12..]).map_err(|_| invalid())?;
        Ok((key, plaintext))
    }

    fn metadata(&self, key: &KeyRow) -> Value {
        json!({
            "AWSAccountId": self.account, "KeyId": key.key_id, "Arn": key.arn, "CreationDate": key.created,
            "Enabled": key.enabled, "Description": key.description, "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": if key.enabled { "Enabled" } else { "Disabled" }, "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": false,
        })
    }

    /// A new 256-bit data key under `key` for S3's envelope encryption, as GenerateDataKey makes it: its
    /// plaintext and its ciphertext blob.
    pub fn generate_data_key(&self, key: &str) -> ApiResult<([u8; 32], Vec<u8>)> {
        let key = self.usable(key)?;
        let data_key = random_bytes::<32>()?;
        Ok((data_key, seal(&key, &data_key)?))
    }

    /// The plaintext of a data key made by [`Kms::generate_data_key`], as Decrypt opens it: a disabled or
    /// missing key refuses.
    pub fn decrypt_data_key(&self, blob: &[u8]) -> ApiResult<[u8; 32]> {
        let (_, plaintext) = self.open(blob)?;
        plaintext.try_into().map_err(|_| ApiError::internal("a data key ciphertext holds no 256-bit key"))
    }

    /// Resolves a key for S3's SSE-KMS: its ARN if it exists and is enabled.
    pub fn enabled_key_arn(&self, key: &str) -> Result<String, KeyState> {
        match self.resolve(key) {
            Ok(row) if row.enabled => Ok(row.arn),
            Ok(_) => Err(KeyState::Disabled),
            Err(_) => Err(KeyState::NotFound),
        }
    }
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

fn row_to_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        key_id: r.get(0)?,
        arn: r.get(1)?,
        description: r.get(2)?,
        enabled: r.get(3)?,
        created: r.get(4)?,
        material: r.get(5)?,
    })
}

fn seal(key: &KeyRow, plaintext: &[u8]) -> ApiResult<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(&key.material)
        .map_err(|e| ApiError::internal(format!("key material: {e}")))?;
    let nonce_bytes = random_bytes::<12>()?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce_bytes), plaintext)
        .map_err(|e| ApiError::internal(format!("encrypt: {e}")))?;
    let mut out = Vec::with_capacity(4 + KEY_ID_LEN + 12 + sealed.len());
    out.extend_from_slice(CIPHERTEXT_MAGIC);
    out.extend_from_slice(key.key_id.as_bytes());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&sealed);
    Ok(out)
}
