//! Streaming validation of FHIR R4 NDJSON: for every line, whether AWS HealthLake would accept it, and if not,
//! why, where, and what to do about it.
//!
//! The crate reads files line by line in constant memory and returns a report; bad data never makes it fail
//! (`Err` is for I/O only). It deliberately knows nothing of S3, HealthLake's API, Tauri or the CLI: the app,
//! the CLI and the sandbox's import jobs all call the same non-generic functions here, so that edits elsewhere
//! never recompile it.

mod code;
mod line;
mod r4;
mod reader;
mod report;

pub use code::{Code, Level, Severity};
pub use line::{LineVerdict, check_line};
pub use r4::{ElementInfo, element_at, is_r4_resource_type};
pub use reader::{
    BatchProgress, BatchReport, MAX_FILES_PER_IMPORT, Progress, ReadError, open_lines, validate_batch,
    validate_batch_with, validate_path, validate_reader,
};
pub use report::{BundleSummary, Content, FileReport, Issue, IssueGroup, UnresolvedReference};

/// How a validation run behaves; the defaults are what the app and the CLI use.
#[derive(Debug, Clone)]
pub struct Options {
    /// The HealthLake validation level to predict.
    pub level: Level,
    /// Lines longer than this are reported as `line-too-long` and not parsed, so memory stays bounded.
    pub max_line_bytes: usize,
    /// List every error in a file report's `issues` (the CLI does: no error is ever left out). The app turns
    /// it off, as it shows groups and saves rejected lines by reading the file again.
    pub list_errors: bool,
    /// How many warnings a file report lists; counts by code and groups are always complete.
    pub max_warnings_per_file: usize,
    /// How many examples each group of issues keeps.
    pub examples_per_group: usize,
    /// Worker threads per file; 0 means one per core.
    pub threads: usize,
    /// Bundle files are read as one Bundle resource each, on one line, and lines holding Bundles as they are,
    /// instead of as their entries (`lakedrop_core::source`; the line check itself does not look at this).
    pub keep_bundles: bool,
    /// Evaluate R4's invariants (ext-1, dom-3, pat-1, ...). Always on in the app and the CLI; the benchmark turns
    /// it off to measure what the invariants cost.
    pub invariants: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            level: Level::StructureOnly,
            max_line_bytes: 64 * 1024 * 1024,
            list_errors: true,
            max_warnings_per_file: 1000,
            examples_per_group: 5,
            threads: 0,
            keep_bundles: false,
            invariants: true,
        }
    }
}
