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
    /// The job's own output folder (`.../<DatastoreId>-FHIR_IMPORT-<JobId>/`) once known.
    pub output_uri: Option<String>,
    pub progress: Option<JobProgress>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_is_terminal_and_running_is_not() {
        assert!(is_terminal("COMPLETED_WITH_ERRORS"));
        assert!(is_terminal("FAILED"));
        assert!(!is_terminal("QUEUED"));
        assert!(!is_terminal("IN_PROGRESS"));
    }
}
