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
    /// The files are checked again before anything is sent: `bytes_done` of `bytes_total`, over the batch.
    Validating {
        bytes_done: u64,
        bytes_total: u64,
    },
    /// `bytes_done`/`bytes_total` over the whole batch; `parts_done`/`parts_total` of the file being sent.
    Uploading {
        file: String,
        bytes_done: u64,
        bytes_total: u64,
        parts_done: u32,
        parts_total: u32,
    },
    Submitting,
    Submitted {
        job_id: String,
    },
}

/// A validation report over several files, with totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    pub files: Vec<lakedrop_validate::FileReport>,
    pub valid: u64,
    pub invalid: u64,
    /// Problems of the batch as a whole (more files than one import takes).
    pub issues: Vec<lakedrop_validate::Issue>,
}

/// Why a file the analyst chose was left out of the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Not FHIR at all (a bulk-export log, say).
    NotFhir,
    /// FHIR, but HealthLake would reject every line.
    NoValidLines,
    /// gzip-compressed: HealthLake imports only plain NDJSON.
    Compressed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SkippedFile {
    pub path: String,
    pub name: String,
    pub reason: SkipReason,
}

impl SkippedFile {
    /// The file's verdict for a report: `log.ndjson: not FHIR, not uploaded`.
    pub fn describe(&self) -> String {
        let why = match self.reason {
            SkipReason::NotFhir => "not FHIR",
            SkipReason::NoValidLines => "no line HealthLake would accept",
            SkipReason::Compressed => {
                "gzip-compressed, which HealthLake does not import (decompress it: gunzip -k)"
            }
        };
        format!("{}: {why}, not uploaded", self.name)
    }
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
    /// Files left out of the upload, with the reason.
    pub files_skipped: Vec<SkippedFile>,
    /// How S3 says the uploaded files are encrypted, e.g. `aws:kms (arn:aws:kms:…:key/…)`.
    pub encryption: Option<String>,
    /// The same files were already imported to this data store by this job (still running, or finished
    /// without failing): nothing was uploaded or started, and the job is the one to follow. Importing them again
    /// is an explicit choice (`again`).
    #[serde(default)]
    pub already_started: bool,
    /// Every job the import started (or found already started), in the order HealthLake runs them: one per
    /// 10,000 files. The fields above are the first's.
    #[serde(default)]
    pub jobs: Vec<ImportJob>,
}

/// One job of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub job_id: String,
    pub batch_id: String,
    pub input_uri: String,
    /// Files uploaded for this job.
    pub files: u64,
    pub already_started: bool,
}
