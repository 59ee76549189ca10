//! FHIR data stores: create (CREATING, then ACTIVE after a pause), describe, list with filters, delete.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use super::{HealthLake, page};
use crate::protocol::{ApiError, ApiResult, epoch_seconds, opt_str, req_str};

pub(crate) struct DatastoreRow {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub created: f64,
}

impl HealthLake {
    /// Moves stores whose transition time has come to their next state.
    pub(crate) fn settle_datastores(&self, now: SystemTime) -> ApiResult<()> {
        let now = epoch_seconds(now);
        let conn = self.db.conn();
        conn.execute(
            "UPDATE datastores SET status = 'ACTIVE' WHERE status = 'CREATING' AND active_at <= ?1",
            params![now],
        )?;
        conn.execute(
            "UPDATE datastores SET status = 'DELETED' WHERE status = 'DELETING' AND active_at <= ?1",
            params![now],
        )?;
        Ok(())
    }

    fn datastore_arn(&self, id: &str) -> String {
        format!("arn:aws:healthlake:{}:{}:datastore/fhir/{id}", self.region, self.account)
    }

    fn datastore_endpoint(&self, id: &str) -> String {
        format!("{}/datastore/{id}/r4/", self.endpoint)
    }

    pub(crate) fn datastore(&self, id: &str) -> ApiResult<DatastoreRow> {
        self.db
            .conn()
            .query_row(
                "SELECT id, name, status, created FROM datastores WHERE id = ?1 AND status != 'DELETED'",
                params![id],
                |r| {
                    Ok(DatastoreRow { id: r.get(0)?, name: r.get(1)?, status: r.get(2)?, created: r.get(3)? })
                },
            )
            .optional()?
            .ok_or_else(|| ApiError::not_found(format!("The requested data store {id} was not found.")))
    }

    fn properties(&self, row: &DatastoreRow) -> Value {
        let mut props = json!({
            "DatastoreId": row.id, "DatastoreArn": self.datastore_arn(&row.id), "DatastoreStatus": row.status,
            "CreatedAt": row.created, "DatastoreTypeVersion": "R4", "DatastoreEndpoint": self.datastore_endpoint(&row.id),
            "SseConfiguration": {"KmsEncryptionConfig": {"CmkType": "AWS_OWNED_KMS_KEY"}},
            "IdentityProviderConfiguration": {"AuthorizationStrategy": "AWS_AUTH", "FineGrainedAuthorizationEnabled": false},
        });
        if let Some(name) = &row.name {
            props["DatastoreName"] = json!(name);
        }
        props
    }

    /// Creates a data store directly (the seed uses this): `active` skips the CREATING pause.
    pub fn create_datastore_now(
        &self,
        name: Option<&str>,
        client_token: Option<&str>,
        active: bool,
        now: SystemTime,
    ) -> ApiResult<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let t = epoch_seconds(now);
        let (status, active_at) = if active {
            ("ACTIVE", t)
        } else {
            ("CREATING", t + self.pacing.datastore_creation.as_secs_f64())
        };
        self.db.conn().execute(
            "INSERT INTO datastores (id, name, status, created, active_at, client_token) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, name, status, t, active_at, client_token],
        )?;
        Ok(id)
    }

    pub(crate) fn create_datastore(&self, input: &Value, now: SystemTime) -> ApiResult {
        if req_str(input, "DatastoreTypeVersion")? != "R4" {
            return Err(ApiError::validation("Only DatastoreTypeVersion R4 is supported"));
        }
        let token = opt_str(input, "ClientToken");
        let existing: Option<String> = match token {
            Some(token) => self
                .db
                .conn()
                .query_row("SELECT id FROM datastores WHERE client_token = ?1", params![token], |r| r.get(0))
                .optional()?,
            None => None,
        };
        let id = match existing {
            Some(id) => id,
            None => self.create_datastore_now(opt_str(input, "DatastoreName"), token, false, now)?,
        };
        let row = self.datastore(&id)?;
        Ok(json!({"DatastoreId": id, "DatastoreArn": self.datastore_arn(&id), "DatastoreStatus": row.status,
                  "DatastoreEndpoint": self.datastore_endpoint(&id)}))
    }

    pub(crate) fn describe_datastore(&self, input: &Value) -> ApiResult {
        let row = self.datastore(req_str(input, "DatastoreId")?)?;
        Ok(json!({"DatastoreProperties": self.properties(&row)}))
    }

    pub(crate) fn list_datastores(&self, input: &Value) -> ApiResult {
        let filter = input.get("Filter").cloned().unwrap_or(Value::Null);
        let rows: Vec<DatastoreRow> = {
            let conn = self.db.conn();
            let mut stmt =
                conn.prepare("SELECT id, name, status, created FROM datastores ORDER BY created, id")?;
            let rows = stmt.query_map([], |r| {
                Ok(DatastoreRow { id: r.get(0)?, name: r.get(1)?, status: r.get(2)?, created: r.get(3)? })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let rows: Vec<&DatastoreRow> = rows
            .iter()
            .filter(|r| opt_str(&filter, "DatastoreName").is_none_or(|n| r.name.as_deref() == Some(n)))
            .filter(|r| opt_str(&filter, "DatastoreStatus").is_none_or(|s| r.status == s))
            .filter(|r| filter.get("CreatedBefore").and_then(Value::as_f64).is_none_or(|t| r.created < t))
            .filter(|r| filter.get("CreatedAfter").and_then(Value::as_f64).is_none_or(|t| r.created > t))
            .collect();
        let (start, end, next) = page(input, rows.len())?;
        let list: Vec<Value> = rows[start..end].iter().map(|r| self.properties(r)).collect();
        let mut out = json!({"DatastorePropertiesList": list});
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(out)
    }

    pub(crate) fn delete_datastore(&self, input: &Value, now: SystemTime) -> ApiResult {
        let row = self.datastore(req_str(input, "DatastoreId")?)?;
        if row.status != "ACTIVE" {
            return Err(ApiError::new(
                "ConflictException",
                409,
                format!(
                    "The data store is in a transition state ({}) and the user requested action cannot be performed.",
                    row.status
                ),
            ));
        }
        let when = epoch_seconds(now) + self.pacing.datastore_creation.as_secs_f64();
        self.db.conn().execute(
            "UPDATE datastores SET status = 'DELETING', active_at = ?2 WHERE id = ?1",
            params![row.id, when],
        )?;
        Ok(
            json!({"DatastoreId": row.id, "DatastoreArn": self.datastore_arn(&row.id), "DatastoreStatus": "DELETING",
                  "DatastoreEndpoint": self.datastore_endpoint(&row.id)}),
        )
    }
}
