//! Runs import and export jobs: one queue per data store across both kinds, FIFO in submission order (the
//! table's `seq`), with at most one import-or-export IN_PROGRESS per store, as HealthLake documents ("only one
//! import or export job can run concurrently per data store"). An import reads every object under its input
//! prefix line by line, stores what passes (upsert by type and id) and writes HealthLake's output files; an
//! export is in `exports.rs`.
//!
//! An import reads each object streaming and commits it 500 lines to a transaction, which stores the resources,
//! keeps the batch's output lines and moves the job's cursor (`import_cursors`) together. A job that was
//! IN_PROGRESS when the sandbox stopped is queued again at start: an import resumes after its last committed
//! batch, so no resource is written twice (no spurious update, no bumped version), and its `Message` says where
//! it was interrupted; an export is re-run from the top, which rewrites the same keys.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lakedrop_core::manifest::{FailureOutput, InputDataConfig, Manifest, OutputDataConfig, SuccessOutput};
use lakedrop_core::output::{OutputLine, UpdateResourceResponse, operation_outcome};
use lakedrop_validate::{Code, Issue, Level, LineVerdict, Options, Severity, check_line};
use std::io::{BufRead, BufReader, Read, Write};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::jobs::{JOB_COLUMNS, JobKind, JobRow, normalize_prefix, row_to_job};
use super::messages::JobMessage;
use super::{HealthLake, parse_s3_uri};
use crate::protocol::{ApiResult, epoch_seconds};
use crate::s3::ObjectWrite;

/// HealthLake's limit on files per import job (not adjustable).
const MAX_FILES_PER_JOB: usize = 10_000;
const BYTES_PER_MB: f64 = 1_000_000.0;
/// Lines are validated outside the database lock and stored this many to a transaction, so that FHIR REST
/// requests, which share the connection, wait for one batch at most, never for a whole file; a restart resumes
/// after the last one committed.
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
                        let _ = hl.finish(&job_id, "FAILED", Some(&JobMessage::Internal), SystemTime::now());
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
    /// Queues again the jobs a stop interrupted. An import resumes after its last committed batch, and its
    /// cursor records where, for the job's `Message`.
    fn requeue_interrupted(&self) -> ApiResult<()> {
        let interrupted: Vec<(String, String)> = {
            let conn = self.db.conn();
            let mut stmt =
                conn.prepare("SELECT job_id, kind FROM import_jobs WHERE status = 'IN_PROGRESS'")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (job_id, kind) in &interrupted {
            if kind == JobKind::Import.as_str() {
                let mut cursor = self.cursor(job_id)?.unwrap_or_default();
                cursor.resumed =
                    Some((cursor.key.clone(), if cursor.key.is_empty() { 1 } else { cursor.line }));
                let mut conn = self.db.conn();
                let tx = conn.transaction()?;
                save_cursor(&tx, job_id, &cursor)?;
                tx.commit()?;
            }
            self.db
                .conn()
                .execute("UPDATE import_jobs SET status = 'QUEUED' WHERE job_id = ?1", params![job_id])?;
        }
        if !interrupted.is_empty() {
            tracing::info!(jobs = interrupted.len(), "re-queued jobs interrupted by a restart");
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

    fn finish(
        &self,
        job_id: &str,
        status: &str,
        message: Option<&JobMessage>,
        now: SystemTime,
    ) -> ApiResult<()> {
        let mut conn = self.db.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE import_jobs SET status = ?2, message = ?3, end_time = ?4 WHERE job_id = ?1",
            params![job_id, status, message.map(JobMessage::text), epoch_seconds(now)],
        )?;
        tx.execute("DELETE FROM import_cursors WHERE job_id = ?1", params![job_id])?;
        tx.execute("DELETE FROM import_output_chunks WHERE job_id = ?1", params![job_id])?;
        tx.commit()?;
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
            Ok(Outcome::Done { failures, note }) => self.finish(
                &job.job_id,
                if failures > 0 { "COMPLETED_WITH_ERRORS" } else { "COMPLETED" },
                note.as_ref(),
                now,
            ),
            Ok(Outcome::Failed(message)) => self.finish(&job.job_id, "FAILED", Some(&message), now),
            Err(e) => {
                tracing::error!(kind = job.kind.noun(), job_id = job.job_id, error = %e.message, "job failed");
                self.finish(&job.job_id, "FAILED", Some(&JobMessage::Internal), now)
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
            return Ok(Outcome::Failed(JobMessage::InvalidInputUri(job.input_uri.clone())));
        };
        if !self.store.bucket_exists(in_bucket) {
            return Ok(Outcome::Failed(JobMessage::InputBucketMissing(in_bucket.into())));
        }
        let objects: Vec<_> = self
            .store
            .list_objects(in_bucket, in_prefix)
            .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?
            .into_iter()
            .filter(|o| !o.key.ends_with('/'))
            .collect();
        if objects.is_empty() {
            return Ok(Outcome::Failed(JobMessage::NoInputFiles(job.input_uri.clone())));
        }
        if objects.len() > MAX_FILES_PER_JOB {
            return Ok(Outcome::Failed(JobMessage::TooManyFiles {
                files: objects.len(),
                limit: MAX_FILES_PER_JOB,
            }));
        }
        let level = job.validation_level.as_deref().and_then(Level::parse).unwrap_or(Level::Strict);
        let options = Options { level, ..Options::default() };
        let folder = job.job_folder();
        let Some((out_bucket, folder_key)) =
            parse_s3_uri(&folder).map(|(b, k)| (b.to_string(), k.to_string()))
        else {
            return Ok(Outcome::Failed(JobMessage::InvalidOutputUri));
        };
        let sse = ObjectWrite::kms(
            &self.kms.enabled_key_arn(&job.kms_key_id).unwrap_or_else(|_| job.kms_key_id.clone()),
        );
        let mut cursor = self.cursor(&job.job_id)?.unwrap_or_default();
        let run = Run {
            job,
            options: &options,
            started,
            out_bucket: &out_bucket,
            folder_key: &folder_key,
            sse: &sse,
        };

        for object in &objects {
            // Files are read in key order; those before the cursor's are done and in its totals.
            if object.key < cursor.key || (object.key == cursor.key && cursor.done) {
                continue;
            }
            if object.key != cursor.key {
                cursor.start_file(&object.key);
            }
            let relative =
                object.key.strip_prefix(&normalize_prefix(in_prefix)).unwrap_or(&object.key).to_string();
            self.import_object(&run, in_bucket, &relative, object.size, &mut cursor)?;
        }
        let totals = &cursor.totals;

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
        Ok(Outcome::Done {
            failures: totals.customer_errors,
            note: cursor.resumed.map(|(key, line)| JobMessage::Resumed { key, line }),
        })
    }

    /// Where an import job stands, if it has committed a batch: what lets a restart resume it.
    fn cursor(&self, job_id: &str) -> ApiResult<Option<Cursor>> {
        let state: Option<String> = self
            .db
            .conn()
            .query_row("SELECT state FROM import_cursors WHERE job_id = ?1", params![job_id], |r| r.get(0))
            .optional()?;
        Ok(state.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Reads one object streaming, from the cursor's offset, a batch at a time; then writes its output files
    /// from the lines the batches committed, and marks it done.
    fn import_object(
        &self,
        run: &Run<'_>,
        bucket: &str,
        relative: &str,
        size: u64,
        cursor: &mut Cursor,
    ) -> ApiResult<()> {
        let internal = |e: std::io::Error| crate::protocol::ApiError::internal(e.to_string());
        let (_, reader) = self
            .store
            .open_object(bucket, &cursor.key)
            .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?;
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        std::io::copy(&mut (&mut reader).take(cursor.offset), &mut std::io::sink()).map_err(internal)?;
        let mut batch: Vec<(u64, Vec<u8>)> = Vec::with_capacity(LINES_PER_TRANSACTION);
        loop {
            let mut raw = Vec::new();
            let n = reader.read_until(b'\n', &mut raw).map_err(internal)?;
            if n == 0 {
                break;
            }
            let line_id = cursor.line;
            cursor.line += 1;
            cursor.offset += n as u64;
            if raw.last() == Some(&b'\n') {
                raw.pop();
            }
            if raw.last() == Some(&b'\r') {
                raw.pop();
            }
            if !raw.iter().all(u8::is_ascii_whitespace) {
                batch.push((line_id, raw));
            }
            if batch.len() == LINES_PER_TRANSACTION {
                self.import_batch(run, &batch, cursor)?;
                batch.clear();
            }
        }
        self.import_batch(run, &batch, cursor)?;

        // The file's output, from the chunks its batches committed, then the file marked done: a restart
        // between the two writes the same objects again.
        for kind in OutputKind::ALL {
            self.write_output(run, kind, &format!("{}{}/{relative}", run.folder_key, kind.folder()))?;
        }
        cursor.end_file(size);
        let mut conn = self.db.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM import_output_chunks WHERE job_id = ?1", params![run.job.job_id])?;
        save_cursor(&tx, &run.job.job_id, cursor)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes one output file of the current input file from its committed chunks, streaming (a page of chunks
    /// at a time, the lock released between pages), if it has any lines.
    fn write_output(&self, run: &Run<'_>, kind: OutputKind, key: &str) -> ApiResult<()> {
        let internal = |e: String| crate::protocol::ApiError::internal(e);
        let sse = run.sse.sse.clone().ok_or_else(|| internal("an import's output has no key".into()))?;
        let mut writer: Option<crate::s3::BlobWriter> = None;
        let mut after = 0i64;
        loop {
            let page: Vec<(i64, Vec<u8>)> = {
                let conn = self.db.conn();
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, bytes FROM import_output_chunks WHERE job_id = ?1 AND kind = ?2 AND seq > ?3
                     ORDER BY seq LIMIT 64",
                )?;
                let rows = stmt.query_map(params![run.job.job_id, kind.folder(), after], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let Some(&(last, _)) = page.last() else { break };
            after = last;
            let out = match &mut writer {
                Some(w) => w,
                None => writer.insert(
                    self.store
                        .blob_writer(&[crate::s3::ChecksumAlgorithm::Crc64Nvme], &sse)
                        .map_err(|e| internal(e.to_string()))?,
                ),
            };
            for (_, bytes) in page {
                out.write_all(&bytes).map_err(|e| internal(e.to_string()))?;
            }
        }
        if let Some(writer) = writer {
            let blob = writer.finish().map_err(|e| internal(e.to_string()))?;
            self.store
                .put_blob(run.out_bucket, key, blob, run.sse.clone())
                .map_err(|e| internal(e.to_string()))?;
        }
        Ok(())
    }

    /// Validates a batch of `(lineId, line)` outside the lock, then in one transaction stores what passes,
    /// keeps its output lines and moves the cursor past it: a batch is committed whole or not at all, so a job
    /// resumed after a crash writes no resource twice.
    fn import_batch(&self, run: &Run<'_>, lines: &[(u64, Vec<u8>)], cursor: &mut Cursor) -> ApiResult<()> {
        let options = run.options;
        let verdicts: Vec<LineVerdict> =
            lines.iter().map(|(line_id, raw)| check_line(*line_id, raw, options)).collect();
        // At minimal, structure problems do not block: the resource is stored with an extension saying what
        // failed, and its output line goes to SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/.
        let warned: Vec<Vec<&Issue>> = verdicts
            .iter()
            .map(|v| {
                v.issues.iter().filter(|i| !v.rejected && is_search_validation_failure(i, options)).collect()
            })
            .collect();
        let now = epoch_seconds(SystemTime::now());
        let mut conn = self.db.conn();
        let tx = conn.transaction()?;
        let mut out = BatchOutput::default();
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO resources (datastore_id, resource_type, id, version, last_updated, body)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)
                 ON CONFLICT (datastore_id, resource_type, id)
                 DO UPDATE SET version = version + 1, last_updated = excluded.last_updated, body = excluded.body
                 RETURNING version",
            )?;
            for (((line_id, raw), verdict), warned) in lines.iter().zip(&verdicts).zip(&warned) {
                cursor.file.scanned += 1;
                let stored = match (verdict.rejected, &verdict.resource_type, &verdict.id) {
                    (false, Some(rt), Some(id)) => {
                        let text = std::str::from_utf8(raw).unwrap_or_default();
                        let marked;
                        let body = if warned.is_empty() {
                            text
                        } else {
                            marked = with_failure_extension(text, warned);
                            marked.as_str()
                        };
                        let version: i64 = upsert
                            .query_row(params![run.job.datastore_id, rt, id, now, body], |r| r.get(0))?;
                        Some(version)
                    }
                    _ => None,
                };
                let (kind, line) = if verdict.rejected {
                    cursor.file.failed_bytes += raw.len() as u64;
                    let line = OutputLine {
                        line_id: *line_id,
                        resource_type: verdict.resource_type.clone(),
                        resource_id: verdict.id.clone(),
                        update_resource_response: Some(UpdateResourceResponse {
                            json_blob: outcome_for(&verdict.issues),
                            status_code: 400,
                        }),
                    };
                    (OutputKind::Failure, line)
                } else {
                    let (Some(rt), Some(id), Some(version)) =
                        (verdict.resource_type.clone(), verdict.id.clone(), stored)
                    else {
                        continue;
                    };
                    cursor.file.imported += 1;
                    let line = OutputLine {
                        line_id: *line_id,
                        update_resource_response: Some(UpdateResourceResponse {
                            json_blob: json!({"resourceType": rt, "id": id, "meta": {"versionId": version.to_string()}}),
                            status_code: if version == 1 { 201 } else { 200 },
                        }),
                        resource_type: Some(rt),
                        resource_id: Some(id),
                    };
                    (if warned.is_empty() { OutputKind::Success } else { OutputKind::SearchWarning }, line)
                };
                let target = out.of(kind);
                serde_json::to_writer(&mut *target, &line)
                    .map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?;
                target.push(b'\n');
            }
        }
        for kind in OutputKind::ALL {
            let bytes = out.of(kind);
            if !bytes.is_empty() {
                tx.execute(
                    "INSERT INTO import_output_chunks (job_id, kind, bytes) VALUES (?1, ?2, ?3)",
                    params![run.job.job_id, kind.folder(), &*bytes],
                )?;
            }
        }
        save_cursor(&tx, &run.job.job_id, cursor)?;
        let progress = cursor.progress_report(run.started.elapsed().as_secs_f64());
        tx.execute(
            "UPDATE import_jobs SET progress = ?2 WHERE job_id = ?1",
            params![run.job.job_id, progress.to_string()],
        )?;
        tx.commit()?;
        drop(conn);
        if !self.pacing.batch_hold.is_zero() {
            std::thread::sleep(self.pacing.batch_hold);
        }
        Ok(())
    }
}

/// What every batch of one import job shares.
struct Run<'a> {
    job: &'a JobRow,
    options: &'a Options,
    started: std::time::Instant,
    out_bucket: &'a str,
    folder_key: &'a str,
    sse: &'a ObjectWrite,
}

fn save_cursor(tx: &rusqlite::Transaction<'_>, job_id: &str, cursor: &Cursor) -> ApiResult<()> {
    let state =
        serde_json::to_string(cursor).map_err(|e| crate::protocol::ApiError::internal(e.to_string()))?;
    tx.execute(
        "INSERT INTO import_cursors (job_id, state) VALUES (?1, ?2)
         ON CONFLICT (job_id) DO UPDATE SET state = excluded.state",
        params![job_id, state],
    )?;
    Ok(())
}

/// The output folders of an import, as HealthLake names them.
#[derive(Debug, Clone, Copy)]
enum OutputKind {
    Success,
    SearchWarning,
    Failure,
}

impl OutputKind {
    const ALL: [OutputKind; 3] = [OutputKind::Success, OutputKind::SearchWarning, OutputKind::Failure];

    fn folder(self) -> &'static str {
        match self {
            OutputKind::Success => "SUCCESS",
            OutputKind::SearchWarning => "SUCCESS_WITH_SEARCH_VALIDATION_FAILURES",
            OutputKind::Failure => "FAILURE",
        }
    }
}

/// One batch's output lines, by folder.
#[derive(Default)]
struct BatchOutput {
    success: Vec<u8>,
    search_warning: Vec<u8>,
    failure: Vec<u8>,
}

impl BatchOutput {
    fn of(&mut self, kind: OutputKind) -> &mut Vec<u8> {
        match kind {
            OutputKind::Success => &mut self.success,
            OutputKind::SearchWarning => &mut self.search_warning,
            OutputKind::Failure => &mut self.failure,
        }
    }
}

/// Where an import job stands, committed with every batch (`import_cursors`): files before `key` are done and
/// counted in `totals`; of `key`, the bytes before `offset` are (`done` once its output files are written).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    key: String,
    done: bool,
    offset: u64,
    /// The next line's number (1-based, as HealthLake's `lineId`).
    line: u64,
    file: FileCounts,
    totals: Totals,
    /// Where the job was when the sandbox last stopped under it, if it did.
    resumed: Option<(String, u64)>,
}

impl Cursor {
    fn start_file(&mut self, key: &str) {
        self.key = key.to_string();
        self.done = false;
        self.offset = 0;
        self.line = 1;
        self.file = FileCounts::default();
    }

    fn end_file(&mut self, size: u64) {
        let file = std::mem::take(&mut self.file);
        self.totals.add(&file, size);
        self.done = true;
    }

    /// The job's progress report: the files done and the current one so far.
    fn progress_report(&self, elapsed: f64) -> Value {
        let mut totals = self.totals.clone();
        if !self.done {
            totals.add(&self.file, self.offset);
        }
        let mb_per_sec = totals.scanned_bytes as f64 / BYTES_PER_MB / elapsed.max(1e-3);
        totals.progress_report(mb_per_sec)
    }
}

/// How a job ended, short of an internal error.
pub(super) enum Outcome {
    /// COMPLETED, or COMPLETED_WITH_ERRORS when some resources failed; `note` becomes the job's `Message`.
    Done { failures: u64, note: Option<JobMessage> },
    /// FAILED, with the job's `Message`.
    Failed(JobMessage),
}

/// One file's counts so far.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct FileCounts {
    scanned: u64,
    imported: u64,
    failed_bytes: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
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
    fn add(&mut self, file: &FileCounts, bytes: u64) {
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
