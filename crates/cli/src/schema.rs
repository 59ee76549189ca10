//! The documents `--output json` prints, one struct per command: the contract scripts hold Lakedrop to, kept the
//! way ripgrep's `printer/src/json.rs` keeps its messages. `output::print_document` puts `version` and `command`
//! in front of each.
//!
//! Conventions, so that a script never has to parse words: field names are camelCase and never renamed; every
//! field is always present, `null` when it does not apply; a value from a set is an enum serialized in
//! kebab-case (or the service's own code, such as HealthLake's job statuses), never a sentence; a sentence
//! (`message`, `detail`, `fix`, `diagnostics`) appears only where the words are the content, and then a code
//! beside it says the same to a program. The library types that are already serde (jobs, manifests, file
//! reports, checks, failures) are fields as they are, so the app and the CLI describe a job the same way.
//!
//! `docs/guide.md` ("Machine-readable output") lists every field of every document, and `tests/cli/json_output.rs`
//! checks each command's document against that list: a field added here fails the test until the guide names it.

use std::collections::BTreeMap;

use lakedrop_aws::preflight::Check;
use lakedrop_aws::results::{JoinSource, Joined, Retry};
use lakedrop_aws::transfer::{Orphan, Outcome, Transferred};
use lakedrop_aws::verify::{Sample, TypeCounts};
use lakedrop_aws::{AwsError, ErrorKind};
use lakedrop_core::job::Job;
use lakedrop_core::manifest::ManifestSummary;
use lakedrop_core::progress::ImportStarted;
use lakedrop_core::results::{Failure, Group, Unreadable};
use lakedrop_validate::{Code, FileReport, Issue, Level};
use serde::Serialize;

/// `lakedrop validate`: each file's report and the batch's totals.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateOutput<'a> {
    /// The HealthLake validation level the report predicts.
    pub level: Level,
    pub files: &'a [FileReport],
    /// Problems of the batch as a whole (more files than one import takes).
    pub issues: &'a [Issue],
    pub summary: ValidateSummary,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateSummary {
    pub files: u64,
    pub valid: u64,
    pub invalid: u64,
    /// Files that are not FHIR at all.
    pub not_fhir: u64,
    /// Every issue of every file, and of the batch, counted by code.
    pub by_code: BTreeMap<Code, u64>,
    /// Something would be rejected: the exit code is 1.
    pub blocked: bool,
}

/// `lakedrop import`: what was uploaded and started, and with `--wait` how the job ended.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportOutput<'a> {
    pub import: &'a ImportStarted,
    /// The job as it ended (`--wait`), else `null`.
    pub job: Option<&'a Job>,
    /// With `--wait`, the counts of every job together.
    pub manifest: Option<&'a ManifestSummary>,
    /// With `--wait`, each job as it ended, in the order they ran (more than one for more than 10,000 files).
    pub jobs: Vec<JobOutcome<'a>>,
}

/// One job of an import, as it ended.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOutcome<'a> {
    pub job: &'a Job,
    pub manifest: Option<&'a ManifestSummary>,
}

/// `lakedrop jobs list`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobsListOutput<'a> {
    /// The data store listed; `null` with `--all` (each job names its own).
    pub datastore_id: Option<&'a str>,
    pub region: &'a str,
    pub profile: Option<&'a str>,
    /// Newest first, each with its place in its data store's queue.
    pub jobs: &'a [Job],
}

/// `lakedrop preflight`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightOutput<'a> {
    pub datastore_id: &'a str,
    pub checks: &'a [Check],
    /// A check failed: the import would not work as set up, and the exit code is 1.
    pub blocked: bool,
}

/// `lakedrop policy`: IAM policy documents in AWS's own format, ready to paste.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyOutput {
    pub trust_policy: serde_json::Value,
    pub permissions_policy: serde_json::Value,
    /// The caller's `iam:PassRole` policy, when `--role` names the role.
    pub caller_pass_role_policy: Option<serde_json::Value>,
    /// What reading imported resources back needs (`lakedrop verify`, `lakedrop fhir`).
    pub caller_read_back_policy: serde_json::Value,
}

/// `lakedrop results`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultsOutput<'a> {
    pub job_id: &'a str,
    pub datastore_id: &'a str,
    pub groups: &'a [Group],
    pub unreadable: &'a Unreadable,
    /// Every failure (`--failures` or `--join`; only `--cause`'s with it), else `null`.
    pub failures: Option<&'a [Failure]>,
    /// Each failure beside its original line (`--join`), else `null`.
    pub joined: Option<&'a [Joined]>,
    /// Where the original lines came from, per file (`--join`), else `null`.
    pub sources: Option<&'a [JoinSource]>,
    /// What `--export` wrote, else `null`.
    pub exported: Option<Exported>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    pub path: String,
    pub lines: u64,
}

/// `lakedrop retry`: the new job, and with `--wait` how it ended.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryOutput<'a> {
    /// The job whose failures are retried.
    pub retry_of: &'a str,
    pub retry: &'a Retry,
    pub job: Option<&'a Job>,
    pub manifest: Option<&'a ManifestSummary>,
}

/// `lakedrop upload`: the files uploaded, in order, and the error that stopped the rest.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadOutput<'a> {
    pub files: &'a [UploadedFile],
    pub error: Option<&'a CommandError>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadedFile {
    pub file: String,
    pub uri: String,
    pub bytes: u64,
    /// Bytes this run sent (fewer than `bytes` when it resumed or skipped).
    pub bytes_sent: u64,
    pub result: UploadResult,
    /// Parts an interrupted upload had already sent, kept (`resumed`); 0 otherwise.
    pub parts_reused: u32,
    /// Base64 CRC32C of the whole file, which S3 checked.
    pub crc32c: String,
    /// As S3 reports it: `aws:kms` or `AES256`.
    pub server_side_encryption: Option<String>,
    pub kms_key_id: Option<String>,
    pub seconds: f64,
}

impl UploadedFile {
    pub fn new(file: &str, uri: String, done: &Transferred, seconds: f64) -> UploadedFile {
        let (result, parts_reused) = match done.outcome {
            Outcome::Uploaded => (UploadResult::Uploaded, 0),
            Outcome::Resumed { parts_reused } => (UploadResult::Resumed, parts_reused),
            Outcome::Restarted => (UploadResult::Restarted, 0),
            Outcome::SkippedIdentical => (UploadResult::SkippedIdentical, 0),
        };
        UploadedFile {
            file: file.to_string(),
            uri,
            bytes: done.bytes,
            bytes_sent: done.bytes_sent,
            result,
            parts_reused,
            crc32c: done.crc32c.clone(),
            server_side_encryption: done.server_side_encryption.clone(),
            kms_key_id: done.kms_key_id.clone(),
            seconds,
        }
    }
}

/// How a file got to its key: the transfer engine's `Outcome`, without its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UploadResult {
    /// Sent in full.
    Uploaded,
    /// An interrupted upload was continued: only the missing parts were sent.
    Resumed,
    /// An interrupted upload was found but the file had changed since: sent again in full.
    Restarted,
    /// The object at the key already held this file: nothing was sent.
    SkippedIdentical,
}

/// One line of `lakedrop upload --output json`'s stderr per acknowledged part (stdout keeps its one document).
#[derive(Serialize)]
pub struct UploadProgressLine<'a> {
    pub progress: PartsProgress<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartsProgress<'a> {
    pub file: &'a str,
    pub parts_done: u32,
    pub parts_total: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// `lakedrop clean-uploads`: per bucket, what was aborted, kept and left alone; and the error that stopped the
/// rest.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanUploadsOutput<'a> {
    pub buckets: &'a [BucketCleanup],
    pub error: Option<&'a CommandError>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketCleanup {
    pub bucket: String,
    pub prefix: String,
    pub aborted: Vec<MultipartUpload>,
    pub resumable: Vec<MultipartUpload>,
    pub others: Vec<MultipartUpload>,
}

/// An unfinished S3 multipart upload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipartUpload {
    pub key: String,
    pub upload_id: String,
    /// When it was started, in epoch seconds, when S3 says.
    pub initiated: Option<i64>,
}

impl From<&Orphan> for MultipartUpload {
    fn from(o: &Orphan) -> MultipartUpload {
        MultipartUpload { key: o.key.clone(), upload_id: o.upload_id.clone(), initiated: o.initiated }
    }
}

/// An error inside a document: what a program can branch on, and the words for a person.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandError {
    pub code: ErrorKind,
    pub message: String,
}

impl CommandError {
    /// `subject` (a file, a bucket) is said before the error's own words.
    pub fn new(subject: &str, e: &AwsError) -> CommandError {
        CommandError { code: e.kind(), message: format!("{subject}: {e}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_in_a_document_is_a_code_beside_its_words() {
        let e = AwsError::Throttled { operation: "UploadPart" };
        let error = CommandError::new("big.ndjson", &e);
        assert_eq!(
            serde_json::to_value(&error).expect("serializes"),
            serde_json::json!({
                "code": "throttled",
                "message": "big.ndjson: UploadPart was throttled by AWS; wait a minute and try again",
            })
        );
    }

    #[test]
    fn upload_results_are_kebab_case_words() {
        let names: Vec<_> = [
            UploadResult::Uploaded,
            UploadResult::Resumed,
            UploadResult::Restarted,
            UploadResult::SkippedIdentical,
        ]
        .iter()
        .map(|r| serde_json::to_value(r).expect("serializes"))
        .collect();
        assert_eq!(names, ["uploaded", "resumed", "restarted", "skipped-identical"]);
    }
}

/// `lakedrop verify`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOutput<'a> {
    pub job_id: &'a str,
    pub datastore_id: &'a str,
    /// The FHIR endpoint the resources were read from.
    pub endpoint: &'a str,
    /// The sample size asked for per resource type.
    pub per_type: usize,
    /// Every sampled resource matched: the exit code is 0.
    pub all_matched: bool,
    pub counts: VerifyCounts,
    pub types: &'a [TypeCounts],
    pub samples: &'a [Sample],
    pub sources: &'a [JoinSource],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyCounts {
    pub sampled: u64,
    pub matched: u64,
    pub differing: u64,
    pub missing: u64,
    pub unverifiable: u64,
}
