//! Tags on data stores: TagResource, UntagResource, ListTagsForResource, and `Tags` on create and restore.
//! A tag ARN must name a data store of this Region and account that is not deleted; keys beginning `aws:` are
//! reserved to AWS, as everywhere in AWS tagging.

use rusqlite::params;
use serde_json::{Value, json};

use super::HealthLake;
use crate::protocol::{ApiError, ApiResult, req_str};

/// The model's `TagList` maximum, which bounds a resource's tags too.
const MAX_TAGS: usize = 200;

/// The `Tags` of a request as (key, value) pairs, checked beyond what the model's shapes check.
pub(crate) fn checked_tags(tags: &Value) -> ApiResult<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for tag in tags.as_array().into_iter().flatten() {
        let key = req_str(tag, "Key")?;
        let value = req_str(tag, "Value")?;
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::validation(format!("Tag key {key} uses the reserved prefix aws:")));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(ApiError::validation(format!("Tag key {key} is given more than once")));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

impl HealthLake {
    /// The data store a tag operation's ARN names, if it exists here.
    fn tagged_arn<'a>(&self, input: &'a Value) -> ApiResult<&'a str> {
        let arn = req_str(input, "ResourceARN")?;
        let id = arn
            .strip_prefix(&format!("arn:aws:healthlake:{}:{}:datastore/fhir/", self.region, self.account))
            .ok_or_else(|| ApiError::not_found(format!("The resource {arn} was not found.")))?;
        self.datastore(id).map_err(|_| ApiError::not_found(format!("The resource {arn} was not found.")))?;
        Ok(arn)
    }

    /// Adds or replaces tags on a resource, keeping it within the tag limit.
    pub(crate) fn set_tags(&self, arn: &str, tags: &[(String, String)]) -> ApiResult<()> {
        let mut conn = self.db.conn();
        let tx = conn.transaction()?;
        for (key, value) in tags {
            tx.execute(
                "INSERT INTO healthlake_tags (arn, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                params![arn, key, value],
            )?;
        }
        let count: i64 =
            tx.query_row("SELECT COUNT(*) FROM healthlake_tags WHERE arn = ?1", params![arn], |r| r.get(0))?;
        if count > MAX_TAGS as i64 {
            return Err(ApiError::validation(format!(
                "A data store can have at most {MAX_TAGS} tags; this request would give it {count}"
            )));
        }
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn tag_resource(&self, input: &Value) -> ApiResult {
        let arn = self.tagged_arn(input)?;
        self.set_tags(arn, &checked_tags(&input["Tags"])?)?;
        Ok(json!({}))
    }

    pub(crate) fn untag_resource(&self, input: &Value) -> ApiResult {
        let arn = self.tagged_arn(input)?;
        let conn = self.db.conn();
        for key in input["TagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            conn.execute("DELETE FROM healthlake_tags WHERE arn = ?1 AND key = ?2", params![arn, key])?;
        }
        Ok(json!({}))
    }

    pub(crate) fn list_tags_for_resource(&self, input: &Value) -> ApiResult {
        let arn = self.tagged_arn(input)?;
        let conn = self.db.conn();
        let mut stmt = conn.prepare("SELECT key, value FROM healthlake_tags WHERE arn = ?1 ORDER BY key")?;
        let tags = stmt
            .query_map(params![arn], |r| {
                Ok(json!({"Key": r.get::<_, String>(0)?, "Value": r.get::<_, String>(1)?}))
            })?
            .collect::<Result<Vec<Value>, _>>()?;
        Ok(json!({"Tags": tags}))
    }
}
