//! Import jobs as the app and the CLI show them, whatever client fetched them.

use serde::{Deserialize, Serialize};

use crate::manifest::ManifestSummary;

/// HealthLake's terminal job states. `COMPLETED_WITH_ERRORS` is a partial success, not a failure.
pub const TERMINAL_STATUSES: [&str; 6] =
    ["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCEL_COMPLETED", "CANCEL_FAILED", "CANCELLED"];

pub fn is_terminal(status: &str) -> bool {
    TERMINAL_STATUSES.contains(&status)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub job_name: Option<String>,
    pub datastore_id: String,
    /// HealthLake's `JobStatus` wire value, e.g. `IN_PROGRESS`.
    pub status: String,
    /// Epoch milliseconds.
    pub submit_time: i64,
    /// Epoch milliseconds.
    pub end_time: Option<i64>,
    pub message: Option<String>,
    /// Where the job reads its input, `s3://bucket/prefix/`.
    pub input_uri: Option<String>,
    /// The job's own output folder (`.../<DatastoreId>-FHIR_IMPORT-<JobId>/`) once known.
    pub output_uri: Option<String>,
    pub progress: Option<JobProgress>,
    /// Unfinished jobs ahead of this one on its data store (0: running or next), when known.
    pub queue_position: Option<u32>,
    /// When the job is expected to end (epoch milliseconds), from past throughput; `None` when unknowable.
    pub eta: Option<i64>,
    /// For a job that `FAILED`: what to do about it, in plain words ([`failure_advice`]).
    pub advice: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    /// Megabytes (10^6 bytes) of input scanned so far.
    pub scanned_mb: f64,
    pub scanned_files: u64,
    pub resources_scanned: u64,
    pub resources_imported: u64,
    pub resources_with_customer_error: u64,
    pub files_read_with_customer_error: u64,
}

/// A job with what it produced, once it produced anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    pub job: Job,
    pub manifest: Option<ManifestSummary>,
}

/// The manifests of the jobs of one import summed: what they did together. `None` until every job that completed
/// (fully or with errors) has its manifest and every other job has ended; a job that failed or was cancelled
/// imported nothing and adds nothing.
pub fn combined_manifest(results: &[JobResult]) -> Option<ManifestSummary> {
    let mut manifests: Vec<&ManifestSummary> = Vec::with_capacity(results.len());
    for r in results {
        match &r.manifest {
            Some(m) => manifests.push(m),
            None if is_terminal(&r.job.status) && !r.job.status.starts_with("COMPLETED") => {}
            None => return None,
        }
    }
    let (first, rest) = manifests.split_first()?;
    Some(rest.iter().fold((*first).clone(), |mut sum, m| {
        sum.scanned_files += m.scanned_files;
        sum.files_imported += m.files_imported;
        sum.scanned_mb += m.scanned_mb;
        sum.imported_mb += m.imported_mb;
        sum.resources_scanned += m.resources_scanned;
        sum.resources_imported += m.resources_imported;
        sum.resources_with_customer_error += m.resources_with_customer_error;
        sum.resources_with_server_error += m.resources_with_server_error;
        sum
    }))
}

/// What the analyst can do about a job that `FAILED`, read from its `Message`; `None` for any other status.
/// HealthLake does not document its failure messages, so this knows the causes its documentation names (input
/// missing, more than 10,000 files, the KMS key, the buckets, the role) by the words they are written in, and
/// otherwise says to read the message.
pub fn failure_advice(status: &str, message: Option<&str>) -> Option<String> {
    if status != "FAILED" {
        return None;
    }
    let Some(message) = message.map(str::to_ascii_lowercase).filter(|m| !m.trim().is_empty()) else {
        return Some(
            "HealthLake gave no reason. Look in the job's output folder and in the HealthLake console, then \
             import the files again."
                .into(),
        );
    };
    let has = |words: &[&str]| words.iter().any(|w| message.contains(w));
    let advice = if has(&["no input files", "input files not found", "no files found"]) {
        "The input location held no files when the job ran: they were moved or deleted after the upload. Import \
         the files again; Lakedrop uploads them to a fresh location."
    } else if has(&["exceeds the limit", "too many files", "10000 files", "10,000 files"]) {
        "HealthLake imports at most 10,000 files in one job. Import the files in batches of 10,000 or fewer."
    } else if has(&["kms", "encryption key"]) {
        "HealthLake could not use the KMS key. Check that the key is enabled and in the data store's Region, and \
         that the import role may use it (kms:Decrypt and kms:GenerateDataKey); then run the checks again."
    } else if has(&["access denied", "accessdenied", "not authorized", "assume"]) {
        "HealthLake could not act with the import role. Check the role's trust and permissions policies (shown \
         filled in below the checks, or by `lakedrop policy`), then import again."
    } else if has(&["bucket"]) {
        "A bucket the job needs is missing or out of reach. Choose the buckets again, run the checks, and import \
         again."
    } else if has(&["uri"]) {
        "The input or output location is not a valid S3 location. Choose the buckets again and import again."
    } else if has(&["internal"]) {
        "HealthLake failed on its side. Import the same files again; a new job is safe to start."
    } else {
        "Read HealthLake's message, fix what it names, and import the files again."
    };
    Some(advice.into())
}

/// Estimates when each unfinished job ends: the data store's throughput is the median of its finished jobs'
/// (megabytes scanned over their whole duration), a job's remaining work is its size (`sizes_mb`, known for jobs
/// started here) less what it has scanned, and a queued job waits for the work of the jobs ahead of it. Jobs
/// of unknown size, and those behind them, get no estimate rather than a wrong one.
pub fn annotate_eta(jobs: &mut [Job], sizes_mb: &std::collections::HashMap<String, f64>, now_ms: i64) {
    let mut rates: Vec<f64> = jobs
        .iter()
        .filter(|j| j.status == "COMPLETED" || j.status == "COMPLETED_WITH_ERRORS")
        .filter_map(|j| {
            let mb = j.progress.as_ref()?.scanned_mb;
            let ms = (j.end_time? - j.submit_time) as f64;
            (mb > 0.0 && ms > 0.0).then_some(mb / ms)
        })
        .collect();
    if rates.is_empty() {
        return;
    }
    rates.sort_by(f64::total_cmp);
    let mb_per_ms = rates[rates.len() / 2];
    let positions = queue_positions(jobs);
    let mut order: Vec<usize> =
        (0..jobs.len()).filter(|&i| positions.contains_key(&jobs[i].job_id)).collect();
    order.sort_by_key(|&i| (jobs[i].datastore_id.clone(), positions[&jobs[i].job_id]));
    let mut ahead_mb = 0.0;
    let mut chain_known = true;
    let mut store = String::new();
    for i in order {
        if jobs[i].datastore_id != store {
            store.clone_from(&jobs[i].datastore_id);
            ahead_mb = 0.0;
            chain_known = true;
        }
        let scanned = jobs[i].progress.as_ref().map_or(0.0, |p| p.scanned_mb);
        match sizes_mb.get(&jobs[i].job_id) {
            Some(size) if chain_known => {
                ahead_mb += (size - scanned).max(0.0);
                jobs[i].eta = Some(now_ms + (ahead_mb / mb_per_ms) as i64);
            }
            _ => chain_known = false,
        }
    }
}

/// Where each unfinished job stands in its data store's FIFO queue: 0 is running (or next to run), 1 waits for
/// one job, and so on. HealthLake runs one import or export at a time per data store, in submission order.
pub fn queue_positions(jobs: &[Job]) -> std::collections::HashMap<String, u32> {
    let mut waiting: Vec<&Job> = jobs.iter().filter(|j| !is_terminal(&j.status)).collect();
    waiting.sort_by(|a, b| {
        // The running job is ahead of everything, whatever its submit time says.
        let running = |j: &Job| j.status != "IN_PROGRESS";
        (&a.datastore_id, running(a), a.submit_time, &a.job_id).cmp(&(
            &b.datastore_id,
            running(b),
            b.submit_time,
            &b.job_id,
        ))
    });
    let mut positions = std::collections::HashMap::new();
    let mut current: Option<&str> = None;
    let mut position = 0u32;
    for job in waiting {
        if current != Some(job.datastore_id.as_str()) {
            current = Some(job.datastore_id.as_str());
            position = 0;
        }
        positions.insert(job.job_id.clone(), position);
        position += 1;
    }
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, store: &str, status: &str, submit: i64) -> Job {
        Job {
            job_id: id.into(),
            job_name: None,
            datastore_id: store.into(),
            status: status.into(),
            submit_time: submit,
            end_time: None,
            message: None,
            input_uri: None,
            output_uri: None,
            progress: None,
            queue_position: None,
            eta: None,
            advice: None,
        }
    }

    #[test]
    fn a_failed_jobs_message_becomes_what_to_do() {
        let advice = |m: Option<&str>| failure_advice("FAILED", m).expect("advice for a failed job");
        assert!(advice(Some("No input files found at s3://in/lakedrop/b1/")).contains("moved or deleted"));
        assert!(
            advice(Some("Number of input files 10001 exceeds the limit of 10000 files per import job"))
                .contains("batches of 10,000")
        );
        assert!(advice(Some("KMS key k1 is disabled or does not exist")).contains("kms:Decrypt"));
        assert!(advice(Some("Access Denied when assuming the role")).contains("trust and permissions"));
        assert!(advice(Some("Input S3 bucket in does not exist")).contains("Choose the buckets again"));
        assert!(advice(Some("Internal error while running the job")).contains("safe to start"));
        assert!(advice(None).contains("gave no reason"));
        assert!(advice(Some("Something new")).contains("Read HealthLake's message"));
        assert_eq!(failure_advice("COMPLETED_WITH_ERRORS", Some("Internal error")), None);
    }

    #[test]
    fn queue_positions_count_unfinished_jobs_ahead_on_the_same_data_store() {
        let jobs = [
            job("c", "ds1", "QUEUED", 30),
            job("a", "ds1", "IN_PROGRESS", 10),
            job("b", "ds1", "SUBMITTED", 20),
            job("old", "ds1", "COMPLETED", 5),
            job("x", "ds2", "QUEUED", 40),
        ];
        let p = queue_positions(&jobs);
        assert_eq!((p["a"], p["b"], p["c"], p["x"]), (0, 1, 2, 0));
        assert!(!p.contains_key("old"), "finished jobs have no place in the queue");
    }

    #[test]
    fn partial_success_is_terminal_and_running_is_not() {
        assert!(is_terminal("COMPLETED_WITH_ERRORS"));
        assert!(is_terminal("FAILED"));
        assert!(!is_terminal("QUEUED"));
        assert!(!is_terminal("IN_PROGRESS"));
    }

    #[test]
    fn etas_come_from_past_throughput_and_the_work_ahead() {
        let mut done = job("done", "ds1", "COMPLETED", 0);
        done.end_time = Some(10_000);
        done.progress = Some(JobProgress { scanned_mb: 100.0, ..JobProgress::default() });
        let mut running = job("run", "ds1", "IN_PROGRESS", 20_000);
        running.progress = Some(JobProgress { scanned_mb: 10.0, ..JobProgress::default() });
        let queued = job("next", "ds1", "QUEUED", 30_000);
        let unknown = job("theirs", "ds1", "QUEUED", 40_000);
        let mut jobs = vec![done, running, queued, unknown];
        let sizes = std::collections::HashMap::from([("run".to_string(), 30.0), ("next".to_string(), 50.0)]);
        annotate_eta(&mut jobs, &sizes, 1_000_000);
        // 100 MB in 10 s: 0.01 MB/ms. 20 MB left on the running job, then 50 MB more for the next.
        assert_eq!(jobs[1].eta, Some(1_000_000 + 2_000));
        assert_eq!(jobs[2].eta, Some(1_000_000 + 7_000));
        assert_eq!(jobs[3].eta, None, "a job of unknown size gets no estimate");
        assert_eq!(jobs[0].eta, None, "finished jobs need none");
    }

    #[test]
    fn the_jobs_of_one_import_are_summed_once_every_one_has_a_manifest() {
        let manifest = |files: u64, imported: u64, errors: u64| ManifestSummary {
            input_uri: Some(format!("s3://in/b{files}/")),
            scanned_files: files,
            files_imported: files,
            scanned_mb: files as f64 / 2.0,
            resources_scanned: imported + errors,
            resources_imported: imported,
            resources_with_customer_error: errors,
            ..ManifestSummary::default()
        };
        let result =
            |m: Option<ManifestSummary>| JobResult { job: job("j", "s", "COMPLETED", 1), manifest: m };
        let both = [result(Some(manifest(10_000, 7_000, 3))), result(Some(manifest(50, 40, 0)))];
        let sum = combined_manifest(&both).expect("both ended");
        assert_eq!((sum.scanned_files, sum.resources_imported), (10_050, 7_040));
        assert_eq!((sum.resources_scanned, sum.resources_with_customer_error), (7_043, 3));
        assert!((sum.scanned_mb - 5_025.0).abs() < 1e-9);
        let waiting = [result(Some(manifest(10_000, 7_000, 3))), result(None)];
        assert_eq!(combined_manifest(&waiting), None, "a completed job without its manifest yet");
        let failed = JobResult { job: job("f", "s", "FAILED", 2), manifest: None };
        let with_failed = [result(Some(manifest(10_000, 7_000, 3))), failed.clone()];
        assert_eq!(combined_manifest(&with_failed).map(|m| m.resources_imported), Some(7_000));
        let running = JobResult { job: job("r", "s", "IN_PROGRESS", 3), manifest: None };
        assert_eq!(combined_manifest(&[result(Some(manifest(1, 1, 0))), running]), None);
        assert_eq!(combined_manifest(&[failed]), None, "nothing imported, nothing to sum");
        assert_eq!(combined_manifest(&[]), None);
    }
}
