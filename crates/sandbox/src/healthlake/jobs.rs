//! Import jobs: start (with ClientToken idempotency and the checks HealthLake makes at submit), describe, list.
//!
//! What is checked when: at submit, what the service can check at once (the data store is ACTIVE, the output
//! bucket exists with Block Public Access fully on, the KMS key exists and is enabled), answered with an error;
//! when the job runs, what needs the input (the prefix holds files, at most 10,000), answered with a FAILED job
//! and a `Message`, as HealthLake's docs describe for quota problems.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{HealthLake, page, parse_s3_uri};
use crate::kms::KeyState;
use crate::protocol::{ApiError, ApiResult, epoch_seconds, opt_str, req_str};

/// The probe object HealthLake writes at the output prefix to check write access (observed on the service).
pub(crate) const WRITE_PROBE: &str = ".healthlake_write_access_check_file.temp";

#[derive(Debug, Clone)]
pub(crate) struct JobRow {
    pub job_id: String,
    pub datastore_id: String,
    pub job_name: Option<String>,
    pub status: String,
    pub submit_time: f64,
    pub end_time: Option<f64>,
    pub input_uri: String,
    pub output_uri: String,
    pub kms_key_id: String,
    pub role_arn: String,
    pub message: Option<String>,
    pub validation_level: Option<String>,
    pub progress: Option<Value>,
}

pub(crate) const JOB_COLUMNS: &str = "job_id, datastore_id, job_name, status, submit_time, end_time, input_uri, \
     output_uri, kms_key_id, role_arn, message, validation_level, progress";

pub(crate) fn row_to_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    let progress: Option<String> = r.get(12)?;
    Ok(JobRow {
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
    })
}

impl JobRow {
    /// The job's own output folder, which Describe and List return in place of the requested prefix.
    pub fn job_folder(&self) -> String {
        format!(
            "{}/{}-FHIR_IMPORT-{}/",
            self.output_uri.trim_end_matches('/'),
            self.datastore_id,
            self.job_id
        )
    }

    fn properties(&self) -> Value {
        let mut p = json!({
            "JobId": self.job_id, "JobStatus": self.status, "SubmitTime": self.submit_time,
            "DatastoreId": self.datastore_id, "InputDataConfig": {"S3Uri": self.input_uri},
            "JobOutputDataConfig": {"S3Configuration": {"S3Uri": self.job_folder(), "KmsKeyId": self.kms_key_id}},
            "DataAccessRoleArn": self.role_arn,
        });
        if let Some(name) = &self.job_name {
            p["JobName"] = json!(name);
        }
        if let Some(end) = self.end_time {
            p["EndTime"] = json!(end);
        }
        if let Some(message) = &self.message {
            p["Message"] = json!(message);
        }
        if let Some(level) = &self.validation_level {
            p["ValidationLevel"] = json!(level);
        }
        if let Some(progress) = &self.progress {
            p["JobProgressReport"] = progress.clone();
        }
        p
    }
}

impl HealthLake {
    pub(crate) fn job(&self, datastore_id: &str, job_id: &str) -> ApiResult<JobRow> {
        self.db
            .conn()
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM import_jobs WHERE datastore_id = ?1 AND job_id = ?2"),
                params![datastore_id, job_id],
                row_to_job,
            )
            .optional()?
            .ok_or_else(|| ApiError::not_found(format!("The requested import job {job_id} was not found.")))
    }

    pub(crate) fn start_import_job(&self, input: &Value, now: SystemTime) -> ApiResult {
        let datastore = self.datastore(req_str(input, "DatastoreId")?)?;
        let input_uri = req_str(&input["InputDataConfig"], "S3Uri")?;
        let s3 = &input["JobOutputDataConfig"]["S3Configuration"];
        let output_uri = req_str(s3, "S3Uri")?;
        let kms_key_id = req_str(s3, "KmsKeyId")?;
        let role_arn = req_str(input, "DataAccessRoleArn")?;
        let token = opt_str(input, "ClientToken");
        let request_hash = hex::encode(Sha256::digest(
            format!(
                "{}|{input_uri}|{output_uri}|{kms_key_id}|{role_arn}|{:?}",
                datastore.id,
                opt_str(input, "ValidationLevel")
            )
            .as_bytes(),
        ));

        if let Some(token) = token {
            let existing: Option<(String, String, Option<String>)> = self
                .db
                .conn()
                .query_row(
                    "SELECT job_id, status, request_hash FROM import_jobs WHERE datastore_id = ?1 AND client_token = ?2",
                    params![datastore.id, token],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if let Some((job_id, status, hash)) = existing {
                // AWS's idempotency contract: the same token with the same request returns the same job; the
                // same token with a different request is a caller error.
                if hash.as_deref() != Some(request_hash.as_str()) {
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
                "Datastore {} is in {} state; imports need an ACTIVE data store",
                datastore.id, datastore.status
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
        if parse_s3_uri(input_uri).is_none() {
            return Err(ApiError::validation(format!("{input_uri} is not an S3 URI")));
        }

        let probe_key = format!("{}{WRITE_PROBE}", normalize_prefix(out_prefix));
        self.store.put_object(out_bucket, &probe_key, &[], crate::s3::ObjectWrite::kms(&key_arn)).map_err(
            |e| ApiError::new("AccessDeniedException", 403, format!("Cannot write to {output_uri}: {e}")),
        )?;

        let job_id = uuid::Uuid::new_v4().simple().to_string();
        self.db.conn().execute(
            "INSERT INTO import_jobs (job_id, datastore_id, job_name, status, submit_time, input_uri, output_uri,
                 kms_key_id, role_arn, validation_level, client_token, request_hash)
             VALUES (?1, ?2, ?3, 'SUBMITTED', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                job_id,
                datastore.id,
                opt_str(input, "JobName"),
                epoch_seconds(now),
                input_uri,
                output_uri,
                kms_key_id,
                role_arn,
                opt_str(input, "ValidationLevel"),
                token,
                request_hash
            ],
        )?;
        Ok(json!({"JobId": job_id, "JobStatus": "SUBMITTED", "DatastoreId": datastore.id}))
    }

    pub(crate) fn describe_import_job(&self, input: &Value) -> ApiResult {
        let datastore = self.datastore(req_str(input, "DatastoreId")?)?;
        let job = self.job(&datastore.id, req_str(input, "JobId")?)?;
        Ok(json!({"ImportJobProperties": job.properties()}))
    }

    pub(crate) fn list_import_jobs(&self, input: &Value) -> ApiResult {
        let datastore = self.datastore(req_str(input, "DatastoreId")?)?;
        let jobs: Vec<JobRow> = {
            let conn = self.db.conn();
            let mut stmt = conn.prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM import_jobs WHERE datastore_id = ?1 ORDER BY submit_time DESC, seq DESC"
            ))?;
            let rows = stmt.query_map(params![datastore.id], row_to_job)?;
            rows.collect::<Result<_, _>>()?
        };
        let jobs: Vec<&JobRow> = jobs
            .iter()
            .filter(|j| opt_str(input, "JobName").is_none_or(|n| j.job_name.as_deref() == Some(n)))
            .filter(|j| opt_str(input, "JobStatus").is_none_or(|s| j.status == s))
            .filter(|j| {
                input.get("SubmittedBefore").and_then(Value::as_f64).is_none_or(|t| j.submit_time < t)
            })
            .filter(|j| input.get("SubmittedAfter").and_then(Value::as_f64).is_none_or(|t| j.submit_time > t))
            .collect();
        let (start, end, next) = page(input, jobs.len())?;
        let list: Vec<Value> = jobs[start..end].iter().map(|j| j.properties()).collect();
        let mut out = json!({"ImportJobPropertiesList": list});
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(out)
    }
}

/// `prefix/` for a non-empty prefix, `""` for the bucket root.
pub(crate) fn normalize_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() { String::new() } else { format!("{p}/") }
}
