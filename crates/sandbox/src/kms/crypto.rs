//! The sandbox's ciphertext format: `LDK1`, the 36-character key id, a 12-byte nonce, and AES-256-GCM output
//! whose additional authenticated data is the EncryptionContext, canonicalised (pairs sorted by key, each part
//! length-prefixed). Decrypt therefore needs exactly the context Encrypt was given, in any order, as on AWS; an
//! empty context is empty data, so ciphertexts made before contexts were bound still open without one.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde_json::Value;

use super::keys::KeyRow;
use super::random_bytes;
use crate::protocol::{ApiError, ApiResult};

/// Marks our ciphertexts, so a blob from elsewhere is rejected as invalid rather than misread.
const CIPHERTEXT_MAGIC: &[u8; 4] = b"LDK1";
const KEY_ID_LEN: usize = 36;
const NONCE_LEN: usize = 12;

fn invalid() -> ApiError {
    ApiError::new(
        "InvalidCiphertextException",
        400,
        "The ciphertext is invalid, was not made by this KMS, or its EncryptionContext differs",
    )
}

/// The request's `EncryptionContext`, canonicalised as the cipher's additional data.
pub(super) fn context(input: &Value) -> ApiResult<Vec<u8>> {
    let Some(map) = input.get("EncryptionContext") else { return Ok(Vec::new()) };
    let map = map.as_object().ok_or_else(|| ApiError::validation("EncryptionContext must be a map"))?;
    let mut pairs = BTreeMap::new();
    for (k, v) in map {
        let v = v.as_str().ok_or_else(|| ApiError::validation("EncryptionContext values must be strings"))?;
        pairs.insert(k.as_str(), v);
    }
    let mut out = Vec::new();
    for (k, v) in pairs {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    Ok(out)
}

/// The key id a ciphertext names, before its key is looked up.
pub(super) fn key_id_of(blob: &[u8]) -> ApiResult<&str> {
    let rest = blob.strip_prefix(CIPHERTEXT_MAGIC.as_slice()).ok_or_else(invalid)?;
    if rest.len() < KEY_ID_LEN + NONCE_LEN {
        return Err(invalid());
    }
    std::str::from_utf8(&rest[..KEY_ID_LEN]).map_err(|_| invalid())
}

pub(super) fn seal(key: &KeyRow, plaintext: &[u8], context: &[u8]) -> ApiResult<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(&key.material)
        .map_err(|e| ApiError::internal(format!("key material: {e}")))?;
    let nonce_bytes = random_bytes::<NONCE_LEN>()?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce_bytes), Payload { msg: plaintext, aad: context })
        .map_err(|e| ApiError::internal(format!("encrypt: {e}")))?;
    let mut out = Vec::with_capacity(4 + KEY_ID_LEN + NONCE_LEN + sealed.len());
    out.extend_from_slice(CIPHERTEXT_MAGIC);
    out.extend_from_slice(key.key_id.as_bytes());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&sealed);
    Ok(out)
}

pub(super) fn open(key: &KeyRow, blob: &[u8], context: &[u8]) -> ApiResult<Vec<u8>> {
    let body = blob
        .get(CIPHERTEXT_MAGIC.len() + KEY_ID_LEN..)
        .filter(|b| b.len() >= NONCE_LEN)
        .ok_or_else(invalid)?;
    let cipher = Aes256Gcm::new_from_slice(&key.material).map_err(|_| invalid())?;
    let nonce = Nonce::from_slice(&body[..NONCE_LEN]);
    cipher.decrypt(nonce, Payload { msg: &body[NONCE_LEN..], aad: context }).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_context_is_canonical_whatever_the_order() {
        let a = context(&json!({"EncryptionContext": {"a": "1", "b": "2"}})).expect("context");
        let b = context(&json!({"EncryptionContext": {"b": "2", "a": "1"}})).expect("context");
        assert_eq!(a, b);
        // Length prefixes keep {"ab": ""} and {"a": "b"} apart.
        let c = context(&json!({"EncryptionContext": {"ab": ""}})).expect("context");
        let d = context(&json!({"EncryptionContext": {"a": "b"}})).expect("context");
        assert_ne!(c, d);
        assert!(context(&json!({})).expect("none").is_empty());
    }
}
