//! Export jobs: `StartFHIRExportJob`, `DescribeFHIRExportJob`, `ListFHIRExportJobs`, and the run that writes a
//! data store's resources to S3. Submit-time checks, ClientToken idempotency and list filtering are the ones
//! imports use (`jobs.rs`), and so is the queue (`runner.rs`): an export never runs beside an import or another
//! export of the same data store.
//!
//! What a run writes, under the job folder `<S3Uri>/<DatastoreId>-FHIR_EXPORT-<JobId>/` that Describe returns:
//!
//! ```text
//! <ResourceType>/<ResourceType>-<n>.ndjson     n = 1, 2, ...; one resource type per file, at most 5,000 lines
//! ```
//!
//! Types and ids come in ascending order. Each line is a stored resource as a FHIR read returns it, with
//! `meta.versionId` and `meta.lastUpdated`. The 5,000-resource cap per file and one type per object are what
//! HealthLake's documentation states; the exact key names of the real service are not documented, so these are
//! the sandbox's choice. Every object is SSE-KMS under the job's key. An empty data store gives an empty folder
//! and a COMPLETED job.
//!
//! Deliberately not here: FHIR `$export` over the REST API, `_type`/`_since` filters, Patient and Group exports,
//! cancellation (the control plane has no cancel operation), and a manifest (none is documented for exports).

use std::time::SystemTime;

use rusqlite::params;
use serde_json::{Value, json};

use super::jobs::{JobKind, JobRequest, JobRow};
use super::messages::JobMessage;
use super::runner::Outcome;
use super::{HealthLake, parse_s3_uri};
use crate::protocol::{ApiError, ApiResult, opt_str, req_str};
use crate::s3::ObjectWrite;

/// Resources per export file, as HealthLake documents.
const RESOURCES_PER_FILE: usize = 5_000;
/// Resources read per database query: the lock is held for one page, so FHIR requests and imports interleave.
const RESOURCES_PER_PAGE: usize = 1_000;

impl JobRow {
    fn export_properties(&self) -> Value {
        let mut p = self.common_properties();
        p["OutputDataConfig"] = self.output_config();
        p
    }
}

impl HealthLake {
    pub(crate) fn start_export_job(&self, input: &Value, now: SystemTime) -> ApiResult {
        let request = JobRequest {
            kind: JobKind::Export,
            datastore_id: req_str(input, "DatastoreId")?,
            job_name: opt_str(input, "JobName"),
            input_uri: None,
            output: &input["OutputDataConfig"]["S3Configuration"],
            role_arn: req_str(input, "DataAccessRoleArn")?,
            validation_level: None,
            client_token: opt_str(input, "ClientToken"),
        };
        self.submit(&request, now)
    }

    pub(crate) fn describe_export_job(&self, input: &Value) -> ApiResult {
        let datastore = self.datastore(req_str(input, "DatastoreId")?)?;
        let job = self.job(JobKind::Export, &datastore.id, req_str(input, "JobId")?)?;
        Ok(json!({"ExportJobProperties": job.export_properties()}))
    }

    pub(crate) fn list_export_jobs(&self, input: &Value) -> ApiResult {
        let (jobs, next) = self.list_jobs(JobKind::Export, input)?;
        let list: Vec<Value> = jobs.iter().map(JobRow::export_properties).collect();
        let mut out = json!({"ExportJobPropertiesList": list});
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(out)
    }

    /// Runs an export job (called by the runner with the job IN_PROGRESS). What changed since submit (the
    /// bucket deleted, the key disabled) fails the job with a `Message` rather than an internal error.
    pub(super) fn export(&self, job: &JobRow) -> ApiResult<Outcome> {
        let folder = job.job_folder();
        let Some((bucket, folder_key)) = parse_s3_uri(&folder) else {
            return Ok(Outcome::Failed(JobMessage::InvalidOutputUri));
        };
        if !self.store.bucket_exists(bucket) {
            return Ok(Outcome::Failed(JobMessage::OutputBucketMissing(bucket.into())));
        }
        let Ok(key_arn) = self.kms.enabled_key_arn(&job.kms_key_id) else {
            return Ok(Outcome::Failed(JobMessage::KeyUnusable(job.kms_key_id.clone())));
        };
        let sse = ObjectWrite::kms(&key_arn).with_content_type("application/fhir+ndjson");

        let mut file = ExportFile::default();
        let mut unreadable = 0u64;
        let mut after = (String::new(), String::new());
        loop {
            let page = self.resource_page(&job.datastore_id, &after)?;
            let Some(last) = page.last() else { break };
            after = (last.resource_type.clone(), last.id.clone());
            for row in page {
                if file.resource_type != row.resource_type || file.lines == RESOURCES_PER_FILE {
                    self.flush(bucket, folder_key, &mut file, &sse)?;
                    if file.resource_type != row.resource_type {
                        file.resource_type = row.resource_type.clone();
                        file.number = 0;
                    }
                }
                // A stored body always passed validation; one that does not parse is counted, not exported.
                let Some(resource) = crate::fhir::with_meta(&row.body, row.version, row.last_updated) else {
                    unreadable += 1;
                    continue;
                };
                serde_json::to_writer(&mut file.bytes, &resource)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                file.bytes.push(b'\n');
                file.lines += 1;
                file.exported += 1;
            }
        }
        self.flush(bucket, folder_key, &mut file, &sse)?;
        tracing::info!(job_id = job.job_id, resources = file.exported, unreadable, "export written");
        Ok(Outcome::Done { failures: unreadable, note: None })
    }

    /// The next resources of a data store after `(type, id)`, in that order; the lock is held for this query only.
    fn resource_page(&self, datastore_id: &str, after: &(String, String)) -> ApiResult<Vec<StoredResource>> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT resource_type, id, version, last_updated, body FROM resources
             WHERE datastore_id = ?1 AND (resource_type, id) > (?2, ?3)
             ORDER BY resource_type, id LIMIT ?4",
        )?;
        let rows =
            stmt.query_map(params![datastore_id, after.0, after.1, RESOURCES_PER_PAGE as i64], |r| {
                Ok(StoredResource {
                    resource_type: r.get(0)?,
                    id: r.get(1)?,
                    version: r.get(2)?,
                    last_updated: r.get(3)?,
                    body: r.get(4)?,
                })
            })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes the file being filled, if it holds any lines, as the next `<Type>/<Type>-<n>.ndjson`.
    fn flush(
        &self,
        bucket: &str,
        folder_key: &str,
        file: &mut ExportFile,
        sse: &ObjectWrite,
    ) -> ApiResult<()> {
        if file.lines == 0 {
            return Ok(());
        }
        file.number += 1;
        let rt = &file.resource_type;
        let key = format!("{folder_key}{rt}/{rt}-{}.ndjson", file.number);
        self.store
            .put_object(bucket, &key, &file.bytes, sse.clone())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        file.bytes.clear();
        file.lines = 0;
        Ok(())
    }
}

struct StoredResource {
    resource_type: String,
    id: String,
    version: i64,
    last_updated: f64,
    body: String,
}

/// The export file being filled: one resource type, numbered from 1 within its type.
#[derive(Default)]
struct ExportFile {
    resource_type: String,
    number: u32,
    lines: usize,
    bytes: Vec<u8>,
    /// Resources written so far across all files, for the log.
    exported: u64,
}
