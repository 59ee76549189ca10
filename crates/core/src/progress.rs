//! Progress events of long work, sent by the library through a callback and forwarded by the shell (a Tauri
//! channel, a terminal progress bar). Tagged enums become TypeScript discriminated unions.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "event", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ValidateProgress {
    FileStarted { path: String },
    Progress { bytes_done: u64, bytes_total: u64, lines_done: u64 },
    FileDone { path: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "event", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ImportProgress {
    Validating,
    Uploading { file: String, bytes_done: u64, bytes_total: u64 },
    Submitting,
    Submitted { job_id: String },
}

/// A validation report over several files, with totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    pub files: Vec<lakedrop_validate::FileReport>,
    pub valid: u64,
    pub invalid: u64,
}

/// What `start import` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ImportStarted {
    pub job_id: String,
    pub datastore_id: String,
    pub batch_id: String,
    pub input_uri: String,
    pub output_uri: String,
    pub files_uploaded: u64,
    /// Files left out, with the reason, e.g. "log.ndjson: not FHIR".
    pub files_skipped: Vec<String>,
}
