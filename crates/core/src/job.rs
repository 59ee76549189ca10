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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
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
        }
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
}
