//! Import and export jobs at the API: start (with ClientToken idempotency and the checks HealthLake makes at
//! submit), describe, list. Both kinds live in one table and one queue (see `runner.rs`); this module holds what
//! they share, and the import-specific operations. Export's own operations and its run are in `exports.rs`.
//!
//! What is checked when: at submit, what the service can check at once (the data store is ACTIVE, the output
//! bucket exists with Block Public Access fully on, the KMS key exists and is enabled), answered with an error;
//! when the job runs, what needs the input (the prefix holds files, at most 10,000), answered with a FAILED job
//! and a `Message`, as HealthLake's docs describe for quota problems.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{HealthLake, page, parse_s3_uri, sortable};
use crate::kms::KeyState;
use crate::protocol::{ApiError, ApiResult, epoch_seconds, opt_str, req_str};

/// The probe object HealthLake writes at the output prefix to check write access (observed on the service).
pub(crate) const WRITE_PROBE: &str = ".healthlake_write_access_check_file.temp";

/// What a job does. The `kind` column stores [`JobKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    Import,
    Export,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Import => "IMPORT",
            JobKind::Export => "EXPORT",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Export => "export",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct JobRow {
    pub kind: JobKind,
    pub job_id: String,
    pub datastore_id: String,
    pub job_name: Option<String>,
    pub status: String,
    pub submit_time: f64,
    pub end_time: Option<f64>,
    /// Empty for exports, which have no input.
    pub input_uri: String,
    pub output_uri: String,
    pub kms_key_id: String,
    pub role_arn: String,
    pub message: Option<String>,
    pub validation_level: Option<String>,
    pub progress: Option<Value>,
    /// The submission order across both kinds.
    pub seq: i64,
}

pub(crate) const JOB_COLUMNS: &str = "job_id, datastore_id, job_name, status, submit_time, end_time, input_uri, \
     output_uri, kms_key_id, role_arn, message, validation_level, progress, kind, seq";

pub(crate) fn row_to_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    let progress: Option<String> = r.get(12)?;
    let kind: String = r.get(13)?;
    Ok(JobRow {
        kind: if kind == JobKind::Export.as_str() { JobKind::Export } else { JobKind::Import },
        job_id: r.get(0)?,
        datastore_id: r.get(1)?,
        job_name: r.get(2)?,
        status: r.get(3)?,
        submit_time: r.get(4)?,
        end_time: r.get(5)?,
        input_uri: r.get(6)?,
        output_uri: r.get(7)?,
        kms_key_id: r.get(8)?,
        role_arn: r.get(9)?,
        message: r.get(10)?,
        validation_level: r.get(11)?,
        progress: progress.and_then(|p| serde_json::from_str(&p).ok()),
        seq: r.get(14)?,
    })
}

impl JobRow {
    /// The job's own output folder (`<prefix>/<DatastoreId>-FHIR_IMPORT-<JobId>/`, or `FHIR_EXPORT`), which
    /// Describe and List return in place of the requested prefix.
    pub fn job_folder(&self) -> String {
        format!(
            "{}/{}-FHIR_{}-{}/",
            self.output_uri.trim_end_matches('/'),
            self.datastore_id,
            self.kind.as_str(),
            self.job_id
        )
    }

    /// The members both kinds' properties share, under the names both shapes use.
    pub fn common_properties(&self) -> Value {
        let mut p = json!({
            "JobId": self.job_id, "JobStatus": self.status, "SubmitTime": self.submit_time,
            "DatastoreId": self.datastore_id, "DataAccessRoleArn": self.role_arn,
        });
        if let Some(name) = &self.job_name {
            p["JobName"] = json!(name);
        }
        if let Some(end) = self.end_time {
            p["EndTime"] = json!(end);
        }
        if let Some(message) = &self.message {
            // Fitted again: a data directory written before messages were fitted may hold one that is not.
            p["Message"] = json!(super::messages::fit(message));
        }
        p
    }

    /// `S3Configuration` as Describe and List return it: the job folder and the key.
    pub fn output_config(&self) -> Value {
        json!({"S3Configuration": {"S3Uri": self.job_folder(), "KmsKeyId": self.kms_key_id}})
    }

    fn import_properties(&self) -> Value {
        let mut p = self.common_properties();
        p["InputDataConfig"] = json!({"S3Uri": self.input_uri});
        p["JobOutputDataConfig"] = self.output_config();
        if let Some(level) = &self.validation_level {
            p["ValidationLevel"] = json!(level);
        }
        if let Some(progress) = &self.progress {
            p["JobProgressReport"] = progress.clone();
        }
        p
    }
}

/// A start request of either kind, its members read: what [`HealthLake::submit`] checks and stores.
pub(crate) struct JobRequest<'a> {
    pub kind: JobKind,
    pub datastore_id: &'a str,
    pub job_name: Option<&'a str>,
    /// Imports only.
    pub input_uri: Option<&'a str>,
    /// The requested `S3Configuration`: `S3Uri` and `KmsKeyId`.
    pub output: &'a Value,
    pub role_arn: &'a str,
    /// Imports only.
    pub validation_level: Option<&'a str>,
    pub client_token: Option<&'a str>,
}

impl JobRequest<'_> {
    /// What makes two requests "the same request" for ClientToken idempotency. The import form is unchanged
    /// from before exports existed, so a retry across a sandbox upgrade still finds its job.
    fn fingerprint(&self, datastore_id: &str, output_uri: &str, kms_key_id: &str) -> String {
        let text = match self.kind {
            JobKind::Import => format!(
                "{datastore_id}|{}|{output_uri}|{kms_key_id}|{}|{:?}",
                self.input_uri.unwrap_or(""),
                self.role_arn,
                self.validation_level
            ),
            JobKind::Export => format!("EXPORT|{datastore_id}|{output_uri}|{kms_key_id}|{}", self.role_arn),
        };
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

impl HealthLake {
    pub(crate) fn job(&self, kind: JobKind, datastore_id: &str, job_id: &str) -> ApiResult<JobRow> {
        self.db
            .conn()
            .query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM import_jobs WHERE datastore_id = ?1 AND job_id = ?2 AND kind = ?3"
                ),
                params![datastore_id, job_id, kind.as_str()],
                row_to_job,
            )
            .optional()?
            .ok_or_else(|| {
                ApiError::not_found(format!("The requested {} job {job_id} was not found.", kind.noun()))
            })
    }

    /// Starts a job of either kind: replays a known ClientToken, makes the submit-time checks, writes the
    /// access probe and stores the job SUBMITTED. The caller wakes the runner.
    pub(crate) fn submit(&self, request: &JobRequest<'_>, now: SystemTime) -> ApiResult {
        let kind = request.kind;
        let datastore = self.datastore(request.datastore_id)?;
        let output_uri = req_str(request.output, "S3Uri")?;
        let kms_key_id = req_str(request.output, "KmsKeyId")?;
        let role_arn = request.role_arn;
        let request_hash = request.fingerprint(&datastore.id, output_uri, kms_key_id);

        if let Some(token) = request.client_token {
            let existing: Option<(String, String, Option<String>, Option<String>)> = self
                .db
                .conn()
                .query_row(
                    "SELECT job_id, status, request_hash, job_name FROM import_jobs
                     WHERE datastore_id = ?1 AND client_token = ?2 AND kind = ?3",
                    params![datastore.id, token, kind.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            if let Some((job_id, status, hash, job_name)) = existing {
                // AWS's idempotency contract: the same token with the same request returns the same job; the
                // same token with a different request (the job's name included) is a caller error.
                if hash.as_deref() != Some(request_hash.as_str()) || job_name.as_deref() != request.job_name {
                    return Err(ApiError::validation(
                        "The ClientToken was already used with a different request; use a new ClientToken",
                    ));
                }
                return Ok(json!({"JobId": job_id, "JobStatus": status, "DatastoreId": datastore.id}));
            }
        }

        // HealthLake must be able to assume the role: it exists in this account and its trust policy lets
        // healthlake.amazonaws.com in for this data store. Otherwise AWS answers AccessDenied.
        if let Err(why) = self.iam.trust_for_healthlake(role_arn, &self.region, &datastore.id) {
            return Err(ApiError::new(
                "AccessDeniedException",
                403,
                format!("HealthLake cannot assume {role_arn}: {why}"),
            ));
        }
        if datastore.status != "ACTIVE" {
            return Err(ApiError::validation(format!(
                "Datastore {} is in {} state; {}s need an ACTIVE data store",
                datastore.id,
                datastore.status,
                kind.noun()
            )));
        }
        let (out_bucket, out_prefix) = parse_s3_uri(output_uri)
            .ok_or_else(|| ApiError::validation(format!("{output_uri} is not an S3 URI")))?;
        if !self.store.bucket_exists(out_bucket) {
            return Err(ApiError::validation(format!("The output S3 bucket {out_bucket} does not exist")));
        }
        let blocked = self.store.public_access_block(out_bucket).is_some_and(|b| b.all_blocked());
        if !blocked {
            return Err(ApiError::validation(format!(
                "The output S3 bucket {out_bucket} must have Block Public Access turned on for all four settings"
            )));
        }
        let key_arn = match self.kms.enabled_key_arn(kms_key_id) {
            Ok(arn) => arn,
            Err(KeyState::NotFound) => {
                return Err(ApiError::new(
                    "FailedDependencyException",
                    424,
                    format!("KMS key {kms_key_id} was not found in {}", self.region),
                ));
            }
            Err(KeyState::Disabled) => {
                return Err(ApiError::new(
                    "FailedDependencyException",
                    424,
                    format!("KMS key {kms_key_id} is disabled; enable it or choose another key"),
                ));
            }
        };
        if let Some(input_uri) = request.input_uri
            && parse_s3_uri(input_uri).is_none()
        {
            return Err(ApiError::validation(format!("{input_uri} is not an S3 URI")));
        }

        let probe_key = format!("{}{WRITE_PROBE}", normalize_prefix(out_prefix));
        self.store.put_object(out_bucket, &probe_key, &[], crate::s3::ObjectWrite::kms(&key_arn)).map_err(
            |e| ApiError::new("AccessDeniedException", 403, format!("Cannot write to {output_uri}: {e}")),
        )?;

        let job_id = uuid::Uuid::new_v4().simple().to_string();
        self.db.conn().execute(
            "INSERT INTO import_jobs (job_id, datastore_id, job_name, status, submit_time, input_uri, output_uri,
                 kms_key_id, role_arn, validation_level, client_token, request_hash, kind)
             VALUES (?1, ?2, ?3, 'SUBMITTED', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                job_id,
                datastore.id,
                request.job_name,
                epoch_seconds(now),
                request.input_uri.unwrap_or(""),
                output_uri,
                kms_key_id,
                role_arn,
                request.validation_level,
                request.client_token,
                request_hash,
                kind.as_str()
            ],
        )?;
        tracing::info!(kind = kind.noun(), job_id, datastore_id = datastore.id, "job submitted");
        Ok(json!({"JobId": job_id, "JobStatus": "SUBMITTED", "DatastoreId": datastore.id}))
    }

    /// One page of a data store's jobs of one kind, newest first, filtered as both List operations filter.
    pub(crate) fn list_jobs(&self, kind: JobKind, input: &Value) -> ApiResult<(Vec<JobRow>, Option<String>)> {
        let datastore = self.datastore(req_str(input, "DatastoreId")?)?;
        let jobs: Vec<JobRow> = {
            let conn = self.db.conn();
            let mut stmt = conn.prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM import_jobs WHERE datastore_id = ?1 AND kind = ?2
                 ORDER BY submit_time DESC, seq DESC"
            ))?;
            let rows = stmt.query_map(params![datastore.id, kind.as_str()], row_to_job)?;
            rows.collect::<Result<_, _>>()?
        };
        let jobs: Vec<JobRow> = jobs
            .into_iter()
            .filter(|j| opt_str(input, "JobName").is_none_or(|n| j.job_name.as_deref() == Some(n)))
            .filter(|j| opt_str(input, "JobStatus").is_none_or(|s| j.status == s))
            .filter(|j| {
                input.get("SubmittedBefore").and_then(Value::as_f64).is_none_or(|t| j.submit_time < t)
            })
            .filter(|j| input.get("SubmittedAfter").and_then(Value::as_f64).is_none_or(|t| j.submit_time > t))
            .collect();
        // Newest first: the key counts down, so that it sorts in the list's order.
        let (jobs, next) = page(input, &jobs, |j| {
            format!("{}.{}", sortable(u64::MAX - micros(j.submit_time)), sortable(u64::MAX - j.seq as u64))
        })?;
        Ok((jobs.to_vec(), next))
    }

    pub(crate) fn start_import_job(&self, input: &Value, now: SystemTime) -> ApiResult {
        let request = JobRequest {
            kind: JobKind::Import,
            datastore_id: req_str(input, "DatastoreId")?,
            job_name: opt_str(input, "JobName"),
            input_uri: Some(req_str(&input["InputDataConfig"], "S3Uri")?),
            output: &input["JobOutputDataConfig"]["S3Configuration"],
            role_arn: req_str(input, "DataAccessRoleArn")?,
            validation_level: opt_str(input, "ValidationLevel"),
            client_token: opt_str(input, "ClientToken"),
        };
        self.submit(&request, now)
    }

    pub(crate) fn describe_import_job(&self, input: &Value) -> ApiResult {
        let datastore = self.datastore(req_str(input, "DatastoreId")?)?;
        let job = self.job(JobKind::Import, &datastore.id, req_str(input, "JobId")?)?;
        Ok(json!({"ImportJobProperties": job.import_properties()}))
    }

    pub(crate) fn list_import_jobs(&self, input: &Value) -> ApiResult {
        let (jobs, next) = self.list_jobs(JobKind::Import, input)?;
        let list: Vec<Value> = jobs.iter().map(JobRow::import_properties).collect();
        let mut out = json!({"ImportJobPropertiesList": list});
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(out)
    }
}

/// Epoch seconds as whole microseconds, for sort keys.
pub(crate) fn micros(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1e6) as u64
}

/// `prefix/` for a non-empty prefix, `""` for the bucket root.
pub(crate) fn normalize_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() { String::new() } else { format!("{p}/") }
}
