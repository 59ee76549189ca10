//! Runs import and export jobs: one queue per data store across both kinds, FIFO in submission order (the
//! table's `seq`), with at most one import-or-export IN_PROGRESS per store, as HealthLake documents ("only one
//! import or export job can run concurrently per data store"). An import reads every object under its input
//! prefix line by line, stores what passes (upsert by type and id) and writes HealthLake's output files; an
//! export is in `exports.rs`.
//!
//! A job that was IN_PROGRESS when the sandbox stopped is queued again at start and re-run from the top: import
//! is an upsert and export rewrites the same keys, so running either twice gives the same data store and the
//! same output.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lakedrop_core::manifest::{FailureOutput, InputDataConfig, Manifest, OutputDataConfig, SuccessOutput};
use lakedrop_core::output::{OutputLine, UpdateResourceResponse, operation_outcome};
use lakedrop_validate::{Code, Issue, Level, LineVerdict, Options, Severity, check_line};
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::jobs::{JOB_COLUMNS, JobKind, JobRow, normalize_prefix, row_to_job};
use super::{HealthLake, parse_s3_uri};
use crate::protocol::{ApiResult, epoch_seconds};
use crate::s3::ObjectWrite;

/// HealthLake's limit on files per import job (not adjustable).
const MAX_FILES_PER_JOB: usize = 10_000;
const BYTES_PER_MB: f64 = 1_000_000.0;
/// Lines are validated outside the database lock and stored this many to a transaction, so that FHIR REST
/// requests, which share the connection, wait for one batch at most, never for a whole file.
const LINES_PER_TRANSACTION: usize = 500;

/// The job loop: claims the next runnable job of each data store and runs it, until `shutdown`.
pub async fn run_jobs(healthlake: Arc<HealthLake>, shutdown: CancellationToken) {
    if let Err(e) = healthlake.requeue_interrupted() {
        tracing::error!(error = %e.message, "could not requeue interrupted jobs");
    }
    loop {
        let claimed = healthlake.claim_next(SystemTime::now());
        match claimed {
            Ok(Some(job)) => {
                let hl = healthlake.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    // A sandbox stopped before the job starts leaves it IN_PROGRESS; the next start re-queues it.
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(hl.pacing.job_start_delay) => {}
                    }
                    let job_id = job.job_id.clone();
                    let hl2 = hl.clone();
                    let result = tokio::task::spawn_blocking(move || hl2.run_job(&job)).await;
                    if let Err(e) = result {
                        tracing::error!(job_id, error = %e, "job panicked");
                        let _ = hl.finish(
                            &job_id,
                            "FAILED",
                            Some("Internal error while running the job"),
                            SystemTime::now(),
                        );
                    }
                    hl.wake.notify_one();
                });
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e.message, "job queue"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = healthlake.wake.notified() => {}
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

impl HealthLake {
    fn requeue_interrupted(&self) -> ApiResult<()> {
        let n = self
            .db
            .conn()
            .execute("UPDATE import_jobs SET status = 'QUEUED' WHERE status = 'IN_PROGRESS'", [])?;
        if n > 0 {
            tracing::info!(jobs = n, "re-queued jobs interrupted by a restart");
        }
        Ok(())
    }

    /// Marks every waiting job QUEUED and, for one data store with nothing running, moves its oldest job to
    /// IN_PROGRESS and returns it. Imports and exports share the table, so "nothing running" and "oldest" span
    /// both kinds: an export submitted behind an import waits for it, and the other way round.
    fn claim_next(&self, now: SystemTime) -> ApiResult<Option<JobRow>> {
        let mut conn = self.db.conn();
        let tx = conn.transaction()?;
        tx.execute("UPDATE import_jobs SET status = 'QUEUED' WHERE status = 'SUBMITTED'", [])?;
        let next: Option<JobRow> = tx
            .query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM import_jobs j WHERE status = 'QUEUED'
                     AND NOT EXISTS (SELECT 1 FROM import_jobs r WHERE r.datastore_id = j.datastore_id AND r.status = 'IN_PROGRESS')
                     ORDER BY seq LIMIT 1"
                ),
                [],
                row_to_job,
            )
            .optional()?;
        if let Some(job) = &next {
            // Only imports have a progress report in the service model; an export's stays NULL.
            let progress = (job.kind == JobKind::Import).then(|| {
                json!({"TotalNumberOfScannedFiles": 0, "TotalSizeOfScannedFilesInMB": 0.0,
                    "TotalNumberOfImportedFiles": 0, "TotalNumberOfResourcesScanned": 0, "TotalNumberOfResourcesImported": 0,
                    "TotalNumberOfResourcesWithCustomerError": 0, "TotalNumberOfFilesReadWithCustomerError": 0, "Throughput": 0.0})
                .to_string()
            });
            tx.execute(
                "UPDATE import_jobs SET status = 'IN_PROGRESS', progress = ?2 WHERE job_id = ?1",
                params![job.job_id, progress],
            )?;
            let _ = now;
        }
        tx.commit()?;
        Ok(next)
    }

    fn finish(&self, job_id: &str, status: &str, message: Option<&str>, now: SystemTime) -> ApiResult<()> {
        self.db.conn().execute(
            "UPDATE import_jobs SET status = ?2, message = ?3, end_time = ?4 WHERE job_id = ?1",
            params![job_id, status, message, epoch_seconds(now)],
        )?;
        Ok(())
    }

    fn set_progress(&self, job_id: &str, progress: &Value) -> ApiResult<()> {
        self.db.conn().execute(
            "UPDATE import_jobs SET progress = ?2 WHERE job_id = ?1",
            params![job_id, progress.to_string()],
        )?;
        Ok(())
    }

    fn run_job(&self, job: &JobRow) {
        let started = std::time::Instant::now();
        let outcome = match job.kind {
            JobKind::Import => self.import(job, started),
            JobKind::Export => self.export(job),
        };
        let now = SystemTime::now();
        let result = match outcome {
            Ok(Outcome::Done { failures }) => self.finish(
                &job.job_id,
                if failures > 0 { "COMPLETED_WITH_ERRORS" } else { "COMPLETED" },
                None,
                now,
            ),
            Ok(Outcome::Failed(message)) => self.finish(&job.job_id, "FAILED", Some(&message), now),
            Err(e) => {
                tracing::error!(kind = job.kind.noun(), job_id = job.job_id, error = %e.message, "job failed");
                self.finish(&job.job_id, "FAILED", Some("Internal error while running the job"), now)
            }
        };
        if let Err(e) = result {
            tracing::error!(job_id = job.job_id, error = %e.message, "could not record the job's end");
        }
        tracing::info!(
            kind = job.kind.noun(),
            job_id = job.job_id,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "job ended"
        );
    }

    fn import(&self, job: &JobRow, started: std::time::Instant) -> ApiResult<Outcome> {
        let Some((in_bucket, in_prefix)) = parse_s3_uri(&job.input_uri) else {
            return Ok(Outcome::Failed(format!("Input S3 URI {} is not valid", job.input_uri)));
        };
        if !self.store.bucket_exists(in_bucket) {
            return Ok(Outcome::Failed(format!("Input S3 bucket {in_bucket} does not exist")));
        }
        let objects: Vec<_> = self
            .store
            .list_objects(in_bucket, in_prefix)
            .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?
            .into_iter()
            .filter(|o| !o.key.ends_with('/'))
            .collect();
        if objects.is_empty() {
            return Ok(Outcome::Failed(format!("No input files found at {}", job.input_uri)));
        }
        if objects.len() > MAX_FILES_PER_JOB {
            return Ok(Outcome::Failed(format!(
                "Number of input files {} exceeds the limit of {MAX_FILES_PER_JOB} files per import job",
                objects.len()
            )));
        }
        let level = job.validation_level.as_deref().and_then(Level::parse).unwrap_or(Level::Strict);
        let options = Options { level, ..Options::default() };
        let folder = job.job_folder();
        let Some((out_bucket, folder_key)) =
            parse_s3_uri(&folder).map(|(b, k)| (b.to_string(), k.to_string()))
        else {
            return Ok(Outcome::Failed("Output S3 URI is not valid".into()));
        };
        let sse = ObjectWrite::kms(
            &self.kms.enabled_key_arn(&job.kms_key_id).unwrap_or_else(|_| job.kms_key_id.clone()),
        );
        let mut totals = Totals::default();

        for object in &objects {
            let relative =
                object.key.strip_prefix(&normalize_prefix(in_prefix)).unwrap_or(&object.key).to_string();
            let bytes = self
                .store
                .get_object_bytes(in_bucket, &object.key)
                .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?;
            let file = self.import_file(&job.datastore_id, &bytes, &options)?;
            totals.add(&file, bytes.len() as u64);
            if !file.success.is_empty() {
                self.put_output(
                    &out_bucket,
                    &format!("{folder_key}SUCCESS/{relative}"),
                    &file.success,
                    &sse,
                )?;
            }
            if !file.search_warning.is_empty() {
                self.put_output(
                    &out_bucket,
                    &format!("{folder_key}SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/{relative}"),
                    &file.search_warning,
                    &sse,
                )?;
            }
            if !file.failure.is_empty() {
                self.put_output(
                    &out_bucket,
                    &format!("{folder_key}FAILURE/{relative}"),
                    &file.failure,
                    &sse,
                )?;
            }
            let mb_per_sec =
                totals.scanned_bytes as f64 / BYTES_PER_MB / started.elapsed().as_secs_f64().max(1e-3);
            self.set_progress(&job.job_id, &totals.progress_report(mb_per_sec))?;
        }

        let manifest = Manifest {
            input_data_config: InputDataConfig { s3_uri: Some(job.input_uri.clone()) },
            output_data_config: OutputDataConfig {
                s3_uri: Some(folder.clone()),
                encryption_key_id: Some(job.kms_key_id.clone()),
            },
            success_output: SuccessOutput { success_output_s3_uri: Some(format!("{folder}SUCCESS/")) },
            failure_output: FailureOutput { failure_output_s3_uri: Some(format!("{folder}FAILURE/")) },
            number_of_scanned_files: totals.files,
            number_of_files_imported: totals.files_imported,
            number_of_files_read_with_success: Some(totals.files - totals.files_with_customer_error),
            number_of_files_read_with_customer_error: Some(totals.files_with_customer_error),
            number_of_files_read_with_server_error: Some(0),
            size_of_scanned_files_in_mb: round6(totals.scanned_bytes as f64 / BYTES_PER_MB),
            size_of_data_imported_successfully_in_mb: round6(totals.imported_bytes as f64 / BYTES_PER_MB),
            number_of_resources_scanned: totals.scanned,
            number_of_resources_imported_successfully: totals.imported,
            number_of_resources_with_customer_error: totals.customer_errors,
            number_of_resources_with_server_error: 0,
        };
        let manifest_bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?;
        self.store
            .put_object(
                &out_bucket,
                &format!("{folder_key}Manifest.json"),
                &manifest_bytes,
                sse.clone().json(),
            )
            .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?;
        Ok(Outcome::Done { failures: totals.customer_errors })
    }

    fn put_output(&self, bucket: &str, key: &str, lines: &[u8], sse: &ObjectWrite) -> ApiResult<()> {
        self.store
            .put_object(bucket, key, lines, sse.clone())
            .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?;
        Ok(())
    }

    /// Imports one file's lines, a batch to a transaction, and returns its output lines.
    fn import_file(&self, datastore_id: &str, bytes: &[u8], options: &Options) -> ApiResult<FileOutcome> {
        let mut out = FileOutcome::default();
        let lines = bytes.split(|&b| b == b'\n').enumerate().filter_map(|(index, raw)| {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            (!raw.iter().all(u8::is_ascii_whitespace)).then_some((index as u64 + 1, raw))
        });
        let mut batch = Vec::with_capacity(LINES_PER_TRANSACTION);
        for line in lines {
            batch.push(line);
            if batch.len() == LINES_PER_TRANSACTION {
                self.import_batch(datastore_id, &batch, options, &mut out)?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            self.import_batch(datastore_id, &batch, options, &mut out)?;
        }
        Ok(out)
    }

    /// Validates a batch of `(lineId, line)`, stores what passes in one transaction, and appends the output lines.
    fn import_batch(
        &self,
        datastore_id: &str,
        lines: &[(u64, &[u8])],
        options: &Options,
        out: &mut FileOutcome,
    ) -> ApiResult<()> {
        let verdicts: Vec<LineVerdict> =
            lines.iter().map(|&(line_id, raw)| check_line(line_id, raw, options)).collect();
        // At minimal, structure problems do not block: the resource is stored with an extension saying what
        // failed, and its output line goes to SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/.
        let warned: Vec<Vec<&Issue>> = verdicts
            .iter()
            .map(|v| {
                v.issues.iter().filter(|i| !v.rejected && is_search_validation_failure(i, options)).collect()
            })
            .collect();
        let now = epoch_seconds(SystemTime::now());
        let mut versions: Vec<Option<i64>> = vec![None; lines.len()];
        {
            let mut conn = self.db.conn();
            let tx = conn.transaction()?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO resources (datastore_id, resource_type, id, version, last_updated, body)
                     VALUES (?1, ?2, ?3, 1, ?4, ?5)
                     ON CONFLICT (datastore_id, resource_type, id)
                     DO UPDATE SET version = version + 1, last_updated = excluded.last_updated, body = excluded.body
                     RETURNING version",
                )?;
                for (((&(_, raw), verdict), version), warned) in
                    lines.iter().zip(&verdicts).zip(&mut versions).zip(&warned)
                {
                    let (false, Some(rt), Some(id)) = (verdict.rejected, &verdict.resource_type, &verdict.id)
                    else {
                        continue;
                    };
                    let text = std::str::from_utf8(raw).unwrap_or_default();
                    let marked;
                    let body = if warned.is_empty() {
                        text
                    } else {
                        marked = with_failure_extension(text, warned);
                        marked.as_str()
                    };
                    *version =
                        Some(upsert.query_row(params![datastore_id, rt, id, now, body], |r| r.get(0))?);
                }
            }
            tx.commit()?;
        }
        let warned: Vec<bool> = warned.iter().map(|w| !w.is_empty()).collect();
        for (((&(line_id, raw), verdict), version), warned) in
            lines.iter().zip(verdicts).zip(versions).zip(warned)
        {
            out.scanned += 1;
            let line = if verdict.rejected {
                out.failed_bytes += raw.len() as u64;
                OutputLine {
                    line_id,
                    resource_type: verdict.resource_type.clone(),
                    resource_id: verdict.id.clone(),
                    update_resource_response: Some(UpdateResourceResponse {
                        json_blob: outcome_for(&verdict.issues),
                        status_code: 400,
                    }),
                }
            } else {
                let (Some(rt), Some(id), Some(version)) = (verdict.resource_type, verdict.id, version) else {
                    continue;
                };
                out.imported += 1;
                OutputLine {
                    line_id,
                    update_resource_response: Some(UpdateResourceResponse {
                        json_blob: json!({"resourceType": rt, "id": id, "meta": {"versionId": version.to_string()}}),
                        status_code: if version == 1 { 201 } else { 200 },
                    }),
                    resource_type: Some(rt),
                    resource_id: Some(id),
                }
            };
            let target = if verdict.rejected {
                &mut out.failure
            } else if warned {
                out.search_warnings += 1;
                &mut out.search_warning
            } else {
                &mut out.success
            };
            serde_json::to_writer(&mut *target, &line)
                .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?;
            target.push(b'\n');
        }
        Ok(())
    }
}

/// How a job ended, short of an internal error.
pub(super) enum Outcome {
    /// COMPLETED, or COMPLETED_WITH_ERRORS when some resources failed.
    Done { failures: u64 },
    /// FAILED, with the job's `Message`.
    Failed(String),
}

#[derive(Default)]
struct FileOutcome {
    scanned: u64,
    imported: u64,
    failed_bytes: u64,
    success: Vec<u8>,
    failure: Vec<u8>,
    /// Imported with structure problems at minimal: SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/.
    search_warning: Vec<u8>,
    search_warnings: u64,
}

#[derive(Default)]
struct Totals {
    files: u64,
    files_imported: u64,
    files_with_customer_error: u64,
    scanned_bytes: u64,
    imported_bytes: u64,
    scanned: u64,
    imported: u64,
    customer_errors: u64,
}

impl Totals {
    fn add(&mut self, file: &FileOutcome, bytes: u64) {
        self.files += 1;
        self.scanned_bytes += bytes;
        self.imported_bytes += bytes.saturating_sub(file.failed_bytes);
        self.scanned += file.scanned;
        self.imported += file.imported;
        let errors = file.scanned - file.imported;
        self.customer_errors += errors;
        if file.imported > 0 {
            self.files_imported += 1;
        }
        if errors > 0 {
            self.files_with_customer_error += 1;
        }
    }

    fn progress_report(&self, throughput: f64) -> Value {
        json!({"TotalNumberOfScannedFiles": self.files,
            "TotalSizeOfScannedFilesInMB": round6(self.scanned_bytes as f64 / BYTES_PER_MB),
            "TotalNumberOfImportedFiles": self.files_imported, "TotalNumberOfResourcesScanned": self.scanned,
            "TotalNumberOfResourcesImported": self.imported, "TotalNumberOfResourcesWithCustomerError": self.customer_errors,
            "TotalNumberOfFilesReadWithCustomerError": self.files_with_customer_error, "Throughput": round6(throughput)})
    }
}

/// The extension HealthLake appends to a resource stored despite structure problems at `minimal`. Its URL is
/// the sandbox's own: HealthLake's is not documented.
pub(crate) const SEARCH_VALIDATION_EXTENSION: &str = "urn:lakedrop:sandbox:search-validation-failure";

fn is_search_validation_failure(issue: &Issue, options: &Options) -> bool {
    options.level == Level::Minimal && issue.severity == Severity::Warning && issue.code.is_structural()
}

/// The resource with one extension per structure problem appended (the element path and the message, never
/// the offending value beyond what the message quotes).
fn with_failure_extension(text: &str, issues: &[&Issue]) -> String {
    let Ok(Value::Object(mut resource)) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    let added = issues.iter().map(|i| {
        let location = i.path.as_deref().unwrap_or("");
        json!({"url": SEARCH_VALIDATION_EXTENSION, "valueString": format!("{location}: {} [{}]", i.message, i.code)})
    });
    match resource.get_mut("extension") {
        Some(Value::Array(list)) => list.extend(added),
        Some(_) => return text.to_string(),
        None => _ = resource.insert("extension".into(), Value::Array(added.collect())),
    }
    Value::Object(resource).to_string()
}

/// Structure problems worded the way HealthLake's validator (HAPI) words them where its documentation shows it,
/// with Lakedrop's message elsewhere.
fn structure_diagnostics(issue: &Issue) -> String {
    let path = issue.path.as_deref().unwrap_or("");
    let last = path.rsplit('.').next().unwrap_or(path);
    match issue.code {
        Code::UnknownElement => format!("Unrecognised property '@{last}'"),
        Code::Cardinality if issue.message.contains("not an array") => {
            "This property must be an simple value, not a com.google.gson.JsonArray".to_string()
        }
        Code::MissingRequired => {
            let resource = path.split('.').next().unwrap_or("Resource");
            let element = path.trim_end_matches(|c: char| c == ']' || c.is_ascii_digit() || c == '[');
            format!(
                "Profile http://hl7.org/fhir/StructureDefinition/{resource}, Element '{element}': minimum required = 1, but only found 0"
            )
        }
        Code::InvalidValue
            if ["FHIR date", "FHIR dateTime", "FHIR instant"].iter().any(|t| issue.message.contains(t)) =>
        {
            format!("Not a valid date/time: {}", issue.message)
        }
        Code::WrongType => format!("Wrong type at {path}: {}", issue.message),
        Code::InvalidValue if issue.message.contains("is not an allowed code") => {
            let value = issue.message.split('"').nth(1).unwrap_or("");
            format!(
                "The value provided ('{value}') is not in the value set required for {path}, and a code is required from this value set ({})",
                issue.message
            )
        }
        _ => issue.message.clone(),
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The OperationOutcome HealthLake writes for a rejected line, worded as its documentation shows where it shows
/// the wording, and with Lakedrop's own message (and the element path as `location`) elsewhere.
fn outcome_for(issues: &[Issue]) -> Value {
    let errors: Vec<&Issue> = issues.iter().filter(|i| i.severity == Severity::Error).collect();
    let Some(first) = errors.first() else {
        return operation_outcome("error", "processing", "Invalid resource", None);
    };
    let diagnostics = match first.code {
        Code::InvalidJson | Code::NotAnObject | Code::ByteOrderMark | Code::InvalidUtf8 | Code::LineTooLong => {
            "Invalid JSON found in input file".to_string()
        }
        Code::InvalidResourceType => {
            let value = first.message.split('"').nth(1).unwrap_or("");
            format!(
                "1 validation error detected: Value '{value}' at 'resourceType' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z]{{1,256}}"
            )
        }
        Code::MissingId => "Missing required id field in resource json".to_string(),
        Code::InvalidId => "2 validation errors detected: Value at 'resourceId' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9-.]{1,64}; Value at 'resourceId' failed to satisfy constraint: Member must have length greater than or equal to 1".to_string(),
        _ => structure_diagnostics(first),
    };
    let mut outcome = operation_outcome("error", "processing", &diagnostics, first.path.as_deref());
    for extra in errors.iter().skip(1) {
        if let Some(list) = outcome["issue"].as_array_mut() {
            let mut issue = json!({"severity": "error", "code": "processing", "diagnostics": structure_diagnostics(extra)});
            if let Some(path) = &extra.path {
                issue["location"] = json!([path]);
            }
            list.push(issue);
        }
    }
    outcome
}
