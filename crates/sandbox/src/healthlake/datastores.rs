//! FHIR data stores: create (CREATING, then ACTIVE after a pause), describe, list with filters, update
//! (UPDATING, then ACTIVE), delete (DELETING, then DELETED: still described and listed, as on AWS, so the
//! `FHIRDatastoreDeleted` waiter ends) and restore to a point in time from a backup-enabled store.
//!
//! What a store was created with (encryption, identity provider, preload, analytics, NLP, profiles, backup) is
//! kept as the request gave it, checked the way HealthLake documents, and answered back by Describe and List.
//! A customer managed key must exist and be enabled in this Region and account. A `SYNTHEA` preload loads the
//! Synthea record compiled into the sandbox (`data/synthea-preload.ndjson`).

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value, json};

use super::jobs::micros;
use super::{HealthLake, page, sortable};
use crate::kms::KeyState;
use crate::protocol::{ApiError, ApiResult, epoch_seconds, opt_str, req_str};

/// One Synthea patient's whole record (and the organizations, practitioners and locations it refers to), from
/// the repository's sample: what a `SYNTHEA` preload loads.
const SYNTHEA_PRELOAD: &str = include_str!("../../data/synthea-preload.ndjson");

/// The configuration members a store keeps as given, in the order Describe answers them.
const CONFIG_MEMBERS: &[&str] = &[
    "SseConfiguration",
    "PreloadDataConfig",
    "IdentityProviderConfiguration",
    "AnalyticsConfiguration",
    "NlpConfiguration",
    "ProfileConfiguration",
];

pub(crate) struct DatastoreRow {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub created: f64,
    /// The members of [`CONFIG_MEMBERS`] and `BackupConfiguration`, as stored.
    config: Map<String, Value>,
    backup_enabled_at: Option<f64>,
}

const DATASTORE_COLUMNS: &str = "id, name, status, created, config, backup_enabled_at";

fn row_to_datastore(r: &rusqlite::Row<'_>) -> rusqlite::Result<DatastoreRow> {
    let config: Option<String> = r.get(4)?;
    Ok(DatastoreRow {
        id: r.get(0)?,
        name: r.get(1)?,
        status: r.get(2)?,
        created: r.get(3)?,
        config: config.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default(),
        backup_enabled_at: r.get(5)?,
    })
}

fn conflict(status: &str) -> ApiError {
    ApiError::new(
        "ConflictException",
        409,
        format!(
            "The data store is in a transition state ({status}) and the user requested action cannot be performed."
        ),
    )
}

impl HealthLake {
    /// Moves stores whose transition time has come to their next state.
    pub(crate) fn settle_datastores(&self, now: SystemTime) -> ApiResult<()> {
        let now = epoch_seconds(now);
        let conn = self.db.conn();
        conn.execute(
            "UPDATE datastores SET status = 'ACTIVE' WHERE status IN ('CREATING', 'UPDATING') AND active_at <= ?1",
            params![now],
        )?;
        conn.execute(
            "UPDATE datastores SET status = 'DELETED' WHERE status = 'DELETING' AND active_at <= ?1",
            params![now],
        )?;
        Ok(())
    }

    pub(crate) fn datastore_arn(&self, id: &str) -> String {
        format!("arn:aws:healthlake:{}:{}:datastore/fhir/{id}", self.region, self.account)
    }

    fn datastore_endpoint(&self, id: &str) -> String {
        format!("{}/datastore/{id}/r4/", self.endpoint)
    }

    /// A store that is not DELETED: what every operation but Describe and List works on.
    pub(crate) fn datastore(&self, id: &str) -> ApiResult<DatastoreRow> {
        self.datastore_in_any_state(id)?
            .filter(|row| row.status != "DELETED")
            .ok_or_else(|| ApiError::not_found(format!("The requested data store {id} was not found.")))
    }

    fn datastore_in_any_state(&self, id: &str) -> ApiResult<Option<DatastoreRow>> {
        Ok(self
            .db
            .conn()
            .query_row(
                &format!("SELECT {DATASTORE_COLUMNS} FROM datastores WHERE id = ?1"),
                params![id],
                row_to_datastore,
            )
            .optional()?)
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
        for member in CONFIG_MEMBERS {
            if let Some(value) = row.config.get(*member) {
                props[*member] = value.clone();
            }
        }
        if let Some(backup) = row.config.get("BackupConfiguration") {
            let mut status = json!({"Configuration": backup});
            if let Some(at) = row.backup_enabled_at {
                status["BackupEnabledAt"] = json!(at);
                status["EarliestRestorePoint"] = json!(at);
                status["LatestRestorePoint"] = json!(epoch_seconds(SystemTime::now()).max(at));
            }
            props["BackupStatusInfo"] = status;
        }
        props
    }

    fn created_response(&self, id: &str, status: &str) -> Value {
        json!({"DatastoreId": id, "DatastoreArn": self.datastore_arn(id), "DatastoreStatus": status,
               "DatastoreEndpoint": self.datastore_endpoint(id)})
    }

    /// Creates a data store directly (the seed uses this): `active` skips the CREATING pause.
    pub fn create_datastore_now(
        &self,
        name: Option<&str>,
        client_token: Option<&str>,
        active: bool,
        now: SystemTime,
    ) -> ApiResult<String> {
        self.insert_datastore(name, client_token, &Map::new(), active, now)
    }

    fn insert_datastore(
        &self,
        name: Option<&str>,
        client_token: Option<&str>,
        config: &Map<String, Value>,
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
        let backup_enabled_at = backup_enabled(config).then_some(t);
        self.db.conn().execute(
            "INSERT INTO datastores (id, name, status, created, active_at, client_token, config, backup_enabled_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                name,
                status,
                t,
                active_at,
                client_token,
                Value::Object(config.clone()).to_string(),
                backup_enabled_at
            ],
        )?;
        Ok(id)
    }

    /// The configuration a create (or restore) request gives, checked: what the store keeps.
    fn requested_config(&self, input: &Value, creating: bool) -> ApiResult<Map<String, Value>> {
        let mut config = Map::new();
        if let Some(sse) = input.get("SseConfiguration") {
            config.insert("SseConfiguration".into(), self.checked_sse(sse)?);
        }
        if let Some(idp) = input.get("IdentityProviderConfiguration") {
            check_identity_provider(idp)?;
            config.insert("IdentityProviderConfiguration".into(), idp.clone());
        }
        if let Some(analytics) = input.get("AnalyticsConfiguration") {
            if creating && opt_str(analytics, "Status").is_some_and(|s| !matches!(s, "ENABLED" | "PAUSED")) {
                return Err(ApiError::validation(
                    "AnalyticsConfiguration.Status must be ENABLED or PAUSED when a data store is created",
                ));
            }
            config.insert("AnalyticsConfiguration".into(), analytics.clone());
        }
        for member in ["PreloadDataConfig", "NlpConfiguration", "ProfileConfiguration", "BackupConfiguration"]
        {
            if let Some(value) = input.get(member) {
                config.insert(member.into(), value.clone());
            }
        }
        Ok(config)
    }

    /// A customer managed key must exist and be enabled here; an AWS owned key takes no key id. The stored
    /// configuration names the key by its ARN.
    fn checked_sse(&self, sse: &Value) -> ApiResult<Value> {
        let kms = &sse["KmsEncryptionConfig"];
        let key = opt_str(kms, "KmsKeyId");
        match (opt_str(kms, "CmkType"), key) {
            (Some("AWS_OWNED_KMS_KEY"), None) => Ok(sse.clone()),
            (Some("AWS_OWNED_KMS_KEY"), Some(_)) => {
                Err(ApiError::validation("KmsKeyId must not be given with CmkType AWS_OWNED_KMS_KEY"))
            }
            (_, None) => {
                Err(ApiError::validation("CmkType CUSTOMER_MANAGED_KMS_KEY needs the KmsKeyId of the key"))
            }
            (_, Some(key)) => match self.kms.enabled_key_arn(key) {
                Ok(arn) => Ok(
                    json!({"KmsEncryptionConfig": {"CmkType": "CUSTOMER_MANAGED_KMS_KEY", "KmsKeyId": arn}}),
                ),
                Err(KeyState::NotFound) => Err(ApiError::validation(format!(
                    "KMS key {key} was not found in {} for account {}",
                    self.region, self.account
                ))),
                Err(KeyState::Disabled) => Err(ApiError::validation(format!(
                    "KMS key {key} is disabled; enable it or choose another key"
                ))),
            },
        }
    }

    /// A retried create (or restore) with the same ClientToken returns the same store; the token with another
    /// request is a caller error, as with jobs. A new request is answered with what to store of it (the request
    /// without its token).
    fn replayed(&self, token: Option<&str>, input: &Value) -> ApiResult<Replay> {
        let mut request = input.clone();
        if let Some(object) = request.as_object_mut() {
            object.remove("ClientToken");
        }
        let Some(token) = token else { return Ok(Replay::New(request)) };
        let existing: Option<(String, Option<String>)> = self
            .db
            .conn()
            .query_row("SELECT id, request FROM datastores WHERE client_token = ?1", params![token], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match existing {
            None => Ok(Replay::New(request)),
            Some((id, stored))
                if stored
                    .as_deref()
                    .is_none_or(|s| serde_json::from_str::<Value>(s).ok().as_ref() == Some(&request)) =>
            {
                let row = self.datastore(&id)?;
                Ok(Replay::Again(self.created_response(&id, &row.status)))
            }
            Some(_) => Err(ApiError::validation(
                "The ClientToken was already used with a different request; use a new ClientToken",
            )),
        }
    }

    pub(crate) fn create_datastore(&self, input: &Value, now: SystemTime) -> ApiResult {
        if req_str(input, "DatastoreTypeVersion")? != "R4" {
            return Err(ApiError::validation("Only DatastoreTypeVersion R4 is supported"));
        }
        let token = opt_str(input, "ClientToken");
        let request = match self.replayed(token, input)? {
            Replay::Again(answer) => return Ok(answer),
            Replay::New(request) => request,
        };
        let tags = input.get("Tags").map(super::tags::checked_tags).transpose()?;
        let config = self.requested_config(input, true)?;
        let id = self.insert_datastore(opt_str(input, "DatastoreName"), token, &config, false, now)?;
        self.db
            .conn()
            .execute("UPDATE datastores SET request = ?2 WHERE id = ?1", params![id, request.to_string()])?;
        if let Some(tags) = tags {
            self.set_tags(&self.datastore_arn(&id), &tags)?;
        }
        if opt_str(&config["PreloadDataConfig"], "PreloadDataType") == Some("SYNTHEA") {
            self.preload_synthea(&id, now)?;
        }
        Ok(self.created_response(&id, "CREATING"))
    }

    fn preload_synthea(&self, datastore_id: &str, now: SystemTime) -> ApiResult<()> {
        let mut conn = self.db.conn();
        let tx = conn.transaction()?;
        let mut n = 0u32;
        for line in SYNTHEA_PRELOAD.lines().filter(|l| !l.trim().is_empty()) {
            let resource: Value = serde_json::from_str(line)
                .map_err(|e| ApiError::internal(format!("the compiled-in Synthea preload: {e}")))?;
            let (Some(rt), Some(id)) = (opt_str(&resource, "resourceType"), opt_str(&resource, "id")) else {
                continue;
            };
            tx.execute(
                "INSERT OR REPLACE INTO resources (datastore_id, resource_type, id, version, last_updated, body)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)",
                params![datastore_id, rt, id, epoch_seconds(now), line],
            )?;
            n += 1;
        }
        tx.commit()?;
        tracing::info!(datastore_id, resources = n, "preloaded Synthea data");
        Ok(())
    }

    pub(crate) fn describe_datastore(&self, input: &Value) -> ApiResult {
        let id = req_str(input, "DatastoreId")?;
        let row = self
            .datastore_in_any_state(id)?
            .ok_or_else(|| ApiError::not_found(format!("The requested data store {id} was not found.")))?;
        Ok(json!({"DatastoreProperties": self.properties(&row)}))
    }

    pub(crate) fn list_datastores(&self, input: &Value) -> ApiResult {
        let filter = input.get("Filter").cloned().unwrap_or(Value::Null);
        let rows: Vec<DatastoreRow> = {
            let conn = self.db.conn();
            let mut stmt =
                conn.prepare(&format!("SELECT {DATASTORE_COLUMNS} FROM datastores ORDER BY created, id"))?;
            let rows = stmt.query_map([], row_to_datastore)?;
            rows.collect::<Result<_, _>>()?
        };
        let rows: Vec<DatastoreRow> = rows
            .into_iter()
            .filter(|r| opt_str(&filter, "DatastoreName").is_none_or(|n| r.name.as_deref() == Some(n)))
            .filter(|r| opt_str(&filter, "DatastoreStatus").is_none_or(|s| r.status == s))
            .filter(|r| filter.get("CreatedBefore").and_then(Value::as_f64).is_none_or(|t| r.created < t))
            .filter(|r| filter.get("CreatedAfter").and_then(Value::as_f64).is_none_or(|t| r.created > t))
            .collect();
        let (rows, next) = page(input, &rows, |r| format!("{}.{}", sortable(micros(r.created)), r.id))?;
        let list: Vec<Value> = rows.iter().map(|r| self.properties(r)).collect();
        let mut out = json!({"DatastorePropertiesList": list});
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(out)
    }

    pub(crate) fn update_datastore(&self, input: &Value, now: SystemTime) -> ApiResult {
        let row = self.datastore(req_str(input, "DatastoreId")?)?;
        if row.status != "ACTIVE" {
            return Err(conflict(&row.status));
        }
        let mut config = row.config.clone();
        config.extend(self.requested_config(input, false)?);
        let name = opt_str(input, "DatastoreName").map(str::to_string).or(row.name.clone());
        let t = epoch_seconds(now);
        let backup_enabled_at = match (row.backup_enabled_at, backup_enabled(&config)) {
            (Some(at), true) => Some(at),
            (None, true) => Some(t),
            (_, false) => None,
        };
        {
            let mut conn = self.db.conn();
            let tx = conn.transaction()?;
            if row.backup_enabled_at.is_none() && backup_enabled_at.is_some() {
                // Backup starts from what the store holds now: each resource's current version is its first
                // restorable one.
                tx.execute(
                    "INSERT INTO resource_history (datastore_id, resource_type, id, version, last_updated, body)
                     SELECT datastore_id, resource_type, id, version, ?2, body FROM resources WHERE datastore_id = ?1",
                    params![row.id, t],
                )?;
            }
            tx.execute(
                "UPDATE datastores SET name = ?2, config = ?3, backup_enabled_at = ?4, status = 'UPDATING',
                     active_at = ?5 WHERE id = ?1",
                params![
                    row.id,
                    name,
                    Value::Object(config).to_string(),
                    backup_enabled_at,
                    t + self.pacing.datastore_creation.as_secs_f64()
                ],
            )?;
            tx.commit()?;
        }
        let row = self.datastore(&row.id)?;
        Ok(json!({"DatastoreProperties": self.properties(&row)}))
    }

    pub(crate) fn delete_datastore(&self, input: &Value, now: SystemTime) -> ApiResult {
        let row = self.datastore(req_str(input, "DatastoreId")?)?;
        if row.status != "ACTIVE" {
            return Err(conflict(&row.status));
        }
        let when = epoch_seconds(now) + self.pacing.datastore_creation.as_secs_f64();
        self.db.conn().execute(
            "UPDATE datastores SET status = 'DELETING', active_at = ?2 WHERE id = ?1",
            params![row.id, when],
        )?;
        Ok(self.created_response(&row.id, "DELETING"))
    }

    /// A new store holding the source's resources as they were at `RestorePointTime` (by default the latest
    /// restorable point). The source must have had backup enabled at that time; it may since have been deleted.
    pub(crate) fn restore_datastore(&self, input: &Value, now: SystemTime) -> ApiResult {
        let source_id = req_str(input, "SourceDatastoreId")?;
        let source = self.datastore_in_any_state(source_id)?.ok_or_else(|| {
            ApiError::not_found(format!("The requested data store {source_id} was not found."))
        })?;
        let Some(earliest) = source.backup_enabled_at else {
            return Err(ApiError::validation(format!(
                "Data store {source_id} has no backup enabled; enable BackupConfiguration with UpdateFHIRDatastore first"
            )));
        };
        let latest = epoch_seconds(now);
        let point = input["RestoreConfiguration"]["ContinuousBackupRestoreConfiguration"]
            .get("RestorePointTime")
            .and_then(Value::as_f64)
            .unwrap_or(latest);
        if point < earliest || point > latest {
            return Err(ApiError::validation(format!(
                "RestorePointTime must be between the earliest restore point {earliest} and now {latest}"
            )));
        }
        let token = opt_str(input, "ClientToken");
        let request = match self.replayed(token, input)? {
            Replay::Again(answer) => return Ok(answer),
            Replay::New(request) => request,
        };
        let tags = input.get("Tags").map(super::tags::checked_tags).transpose()?;
        let mut config = source.config.clone();
        config.remove("BackupConfiguration");
        config.remove("PreloadDataConfig");
        config.extend(self.requested_config(input, true)?);
        let name = opt_str(input, "DatastoreName").or(source.name.as_deref());
        let id = self.insert_datastore(name, token, &config, false, now)?;
        {
            let mut conn = self.db.conn();
            let tx = conn.transaction()?;
            tx.execute("UPDATE datastores SET request = ?2 WHERE id = ?1", params![id, request.to_string()])?;
            // Each resource's last version written at or before the point; a delete at its last version
            // (an empty body) leaves it out.
            tx.execute(
                "INSERT INTO resources (datastore_id, resource_type, id, version, last_updated, body)
                 SELECT ?2, h.resource_type, h.id, h.version, h.last_updated, h.body FROM resource_history h
                 WHERE h.datastore_id = ?1 AND h.last_updated <= ?3 AND h.body IS NOT NULL
                   AND h.seq = (SELECT MAX(seq) FROM resource_history l WHERE l.datastore_id = h.datastore_id
                                AND l.resource_type = h.resource_type AND l.id = h.id AND l.last_updated <= ?3)",
                params![source.id, id, point],
            )?;
            tx.commit()?;
        }
        if let Some(tags) = tags {
            self.set_tags(&self.datastore_arn(&id), &tags)?;
        }
        Ok(self.created_response(&id, "CREATING"))
    }
}

/// What a create or restore request is, given its ClientToken.
enum Replay {
    /// A retry: the answer the first request got.
    Again(Value),
    /// A new request, without its token, as the store keeps it.
    New(Value),
}

fn backup_enabled(config: &Map<String, Value>) -> bool {
    config.get("BackupConfiguration").and_then(|b| opt_str(b, "Status")) == Some("ENABLED")
}

/// SMART on FHIR needs the Lambda that decodes tokens and the authorization server's metadata (the elements
/// HealthLake's documentation requires); AWS_AUTH takes neither and has no fine-grained authorization.
fn check_identity_provider(idp: &Value) -> ApiResult<()> {
    let strategy = opt_str(idp, "AuthorizationStrategy").unwrap_or("AWS_AUTH");
    let fine_grained = idp.get("FineGrainedAuthorizationEnabled").and_then(Value::as_bool) == Some(true);
    if strategy == "AWS_AUTH" {
        if fine_grained {
            return Err(ApiError::validation(
                "FineGrainedAuthorizationEnabled needs AuthorizationStrategy SMART_ON_FHIR or SMART_ON_FHIR_V1",
            ));
        }
        return Ok(());
    }
    if opt_str(idp, "IdpLambdaArn").is_none() {
        return Err(ApiError::validation(format!(
            "AuthorizationStrategy {strategy} needs IdpLambdaArn, the Lambda function that decodes access tokens"
        )));
    }
    let metadata: Value = opt_str(idp, "Metadata")
        .and_then(|m| serde_json::from_str(m).ok())
        .filter(Value::is_object)
        .ok_or_else(|| {
            ApiError::validation(format!(
                "AuthorizationStrategy {strategy} needs Metadata: a JSON object with the SMART configuration"
            ))
        })?;
    for element in ["authorization_endpoint", "token_endpoint"] {
        if opt_str(&metadata, element).is_none() {
            return Err(ApiError::validation(format!("Metadata must give {element}")));
        }
    }
    let list = |name: &str| -> Vec<&str> {
        metadata[name].as_array().into_iter().flatten().filter_map(Value::as_str).collect()
    };
    if metadata["capabilities"].as_array().is_none() {
        return Err(ApiError::validation("Metadata must give capabilities, an array of strings"));
    }
    let grants = list("grant_types_supported");
    if grants.is_empty() || grants.iter().any(|g| !matches!(*g, "authorization_code" | "client_credentials"))
    {
        return Err(ApiError::validation(
            "Metadata grant_types_supported must list authorization_code, client_credentials or both",
        ));
    }
    if !list("code_challenge_methods_supported").contains(&"S256") {
        return Err(ApiError::validation("Metadata code_challenge_methods_supported must include S256"));
    }
    Ok(())
}
