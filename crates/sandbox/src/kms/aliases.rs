//! Aliases: `alias/` names of `[a-zA-Z0-9/_-]`, at most 256 characters, `alias/aws/` reserved to the AWS
//! managed keys (made on first use, see `keys.rs`); listed by name with `Limit`/`Marker`.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use super::{Kms, limit_and_marker, not_found, page_after, with_marker};
use crate::protocol::{ApiError, ApiResult, epoch_seconds, opt_str};

fn valid_name(alias: &str) -> bool {
    alias.len() <= 256
        && alias.strip_prefix("alias/").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
        })
}

impl Kms {
    pub fn create_alias(&self, alias: &str, target: &str, now: SystemTime) -> ApiResult<()> {
        if !valid_name(alias) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{alias}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$"
            )));
        }
        if alias.starts_with("alias/aws/") {
            return Err(ApiError::validation(format!(
                "Alias {alias} must not begin with alias/aws/: that prefix is reserved for AWS managed keys"
            )));
        }
        let key = self.resolve(target, now)?;
        if key.manager == "AWS" {
            return Err(ApiError::validation(format!(
                "{} is an AWS managed key; it takes no aliases",
                key.arn
            )));
        }
        self.insert_alias(alias, &key.key_id, now)
    }

    pub(super) fn insert_alias(&self, alias: &str, key_id: &str, now: SystemTime) -> ApiResult<()> {
        let inserted = self.db.conn().execute(
            "INSERT OR IGNORE INTO kms_aliases (name, key_id, created) VALUES (?1, ?2, ?3)",
            params![alias, key_id, epoch_seconds(now)],
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

    pub(super) fn delete_alias(&self, alias: &str) -> ApiResult {
        if alias.starts_with("alias/aws/") {
            return Err(ApiError::validation(format!(
                "{alias} belongs to an AWS managed key and cannot be deleted"
            )));
        }
        let n = self.db.conn().execute("DELETE FROM kms_aliases WHERE name = ?1", params![alias])?;
        if n == 0 {
            return Err(not_found(alias));
        }
        Ok(json!({}))
    }

    /// The key id an alias points to, if the alias exists.
    pub(super) fn alias_target(&self, alias: &str) -> ApiResult<Option<String>> {
        Ok(self
            .db
            .conn()
            .query_row("SELECT key_id FROM kms_aliases WHERE name = ?1", params![alias], |r| r.get(0))
            .optional()?)
    }

    fn alias_arn(&self, alias: &str) -> String {
        format!("arn:aws:kms:{}:{}:{alias}", self.region, self.account)
    }

    pub(super) fn list_aliases(&self, input: &Value, now: SystemTime) -> ApiResult {
        let (limit, marker) = limit_and_marker(input)?;
        let filter = opt_str(input, "KeyId").map(|k| self.resolve(k, now)).transpose()?.map(|k| k.key_id);
        let aliases: Vec<(String, String, f64)> = {
            let conn = self.db.conn();
            let mut stmt = conn.prepare("SELECT name, key_id, created FROM kms_aliases ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let aliases: Vec<_> = aliases
            .into_iter()
            .filter(|(_, key_id, _)| filter.as_ref().is_none_or(|f| f == key_id))
            .collect();
        let (aliases, next) = page_after(aliases, limit, marker, |(name, _, _)| name.clone());
        let list: Vec<Value> = aliases
            .iter()
            .map(|(name, key_id, created)| {
                json!({"AliasName": name, "AliasArn": self.alias_arn(name), "TargetKeyId": key_id,
                       "CreationDate": created, "LastUpdatedDate": created})
            })
            .collect();
        Ok(with_marker(json!({"Aliases": list}), next))
    }
}
