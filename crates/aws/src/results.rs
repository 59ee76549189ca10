//! A finished job's failures: every `FAILURE/` file streamed from S3, grouped by cause, and joined back to the
//! original lines, from the local files recorded in the batch history or, when they are gone or changed, from
//! the input objects in S3.

use std::collections::BTreeMap;
use std::io::Cursor;

use lakedrop_core::results::{
    BaseDecision, Failure, Group, Grouper, LineIndex, Unreadable, decide_base, line_matches, parse_failures,
};
use lakedrop_core::state::State;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::jobs::{describe, split_s3_uri};
use crate::{AwsError, Clients};

/// Everything known about a job's failures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Failures {
    pub failures: Vec<Failure>,
    pub groups: Vec<Group>,
    pub unreadable: Unreadable,
}

/// Reads every FAILURE file of a job (none when the folder is absent: nothing failed).
pub async fn failures(clients: &Clients, datastore_id: &str, job_id: &str) -> Result<Failures, AwsError> {
    let mut out = Failures::default();
    read_failures(clients, datastore_id, job_id, &mut out).await?;
    out.groups = regroup(&out.failures);
    Ok(out)
}

/// The failures of several jobs (the jobs one import was split into) as one: in job order, grouped by cause
/// together, with the source lines of each job's files. The jobs' input files have distinct names, as the jobs of
/// one import do; jobs that share a file name are refused (review them one at a time).
pub async fn failures_together(
    clients: &Clients,
    state: &State,
    datastore_id: &str,
    job_ids: &[String],
) -> Result<(Failures, Sources), AwsError> {
    let mut out = Failures::default();
    let mut sources = Sources { files: BTreeMap::new() };
    for job_id in job_ids {
        let first = out.failures.len();
        read_failures(clients, datastore_id, job_id, &mut out).await?;
        let opened = Sources::open(clients, state, datastore_id, job_id, &out.failures[first..]).await?;
        for (file, source) in opened.files {
            if sources.files.contains_key(&file) {
                return Err(AwsError::Input(format!(
                    "two of the jobs {} have a file named {file}; review their failures one job at a time",
                    job_ids.join(", ")
                )));
            }
            sources.files.insert(file, source);
        }
    }
    out.groups = regroup(&out.failures);
    Ok((out, sources))
}

/// The failures grouped by cause × resource type × file, largest first, with up to 20 example lines each.
fn regroup(failures: &[Failure]) -> Vec<Group> {
    let mut grouper = Grouper::new(20);
    for failure in failures {
        grouper.add(failure);
    }
    grouper.finish()
}

/// "job X", or "the N jobs X, Y": the jobs a message is about.
fn named(job_ids: &[String]) -> String {
    match job_ids {
        [one] => format!("job {one}"),
        many => format!("the {} jobs {}", many.len(), many.join(", ")),
    }
}

/// Adds one job's FAILURE lines (and those it could not read) to `out`.
async fn read_failures(
    clients: &Clients,
    datastore_id: &str,
    job_id: &str,
    out: &mut Failures,
) -> Result<(), AwsError> {
    let job = describe(clients, datastore_id, job_id).await?;
    let folder =
        job.output_uri.ok_or_else(|| AwsError::Input(format!("job {job_id} has no output location yet")))?;
    let (bucket, prefix) = split_s3_uri(&folder)?;
    let failure_prefix = format!("{}FAILURE/", normalize(prefix));
    let mut pages =
        clients.s3.list_objects_v2().bucket(bucket).prefix(&failure_prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let file = key.strip_prefix(&failure_prefix).unwrap_or(key).to_string();
            let bytes = get_bytes(clients, bucket, key).await?;
            let mut add = |failure: Failure| out.failures.push(failure);
            parse_failures(&file, &mut Cursor::new(bytes), &mut add, &mut out.unreadable)
                .map_err(|e| AwsError::Input(format!("{key}: {e}")))?;
        }
    }
    Ok(())
}

/// A failure beside its original line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    pub failure: Failure,
    /// The source line, when it could be found.
    pub original: Option<String>,
    /// The source line does not carry the resourceType/id the failure names (a changed file, or a wrong base).
    pub mismatch: bool,
}

/// Where the source lines came from and how `lineId` was read, per input file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct JoinSource {
    pub file: String,
    /// `local` (the file recorded in the batch), `s3` (the input object), or `missing`.
    pub origin: String,
    pub decision: Option<BaseDecision>,
}

/// Joins failures to their source lines; returns the joined rows and, per file, where lines came from.
pub async fn join(
    clients: &Clients,
    state: &State,
    datastore_id: &str,
    job_id: &str,
    failures: Vec<Failure>,
) -> Result<(Vec<Joined>, Vec<JoinSource>), AwsError> {
    let sources = Sources::open(clients, state, datastore_id, job_id, &failures).await?;
    let joined = failures.iter().map(|f| sources.join(f)).collect();
    Ok((joined, sources.describe()))
}

/// The failures' source lines, byte for byte, in the failures' order (those whose line cannot be found are left
/// out): what an export of failed lines writes.
pub async fn original_lines(
    clients: &Clients,
    state: &State,
    datastore_id: &str,
    job_id: &str,
    failures: &[Failure],
) -> Result<Vec<Vec<u8>>, AwsError> {
    let sources = Sources::open(clients, state, datastore_id, job_id, failures).await?;
    Ok(failures.iter().filter_map(|f| sources.original_bytes(f)).collect())
}

async fn input_object(
    clients: &Clients,
    input_uri: Option<&str>,
    file: &str,
) -> Result<Option<Vec<u8>>, AwsError> {
    let Some(input_uri) = input_uri else { return Ok(None) };
    let (bucket, prefix) = split_s3_uri(input_uri)?;
    match get_bytes(clients, bucket, &format!("{}{file}", normalize(prefix))).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(AwsError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) async fn get_bytes(clients: &Clients, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let object = clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", e))?;
    let data = object
        .body
        .collect()
        .await
        .map_err(|e| AwsError::Network { operation: "GetObject", message: e.to_string() })?;
    Ok(data.into_bytes().to_vec())
}

fn normalize(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() { String::new() } else { format!("{p}/") }
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a retry started.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    pub job_id: String,
    pub input_uri: String,
    pub lines: u64,
    /// Failures whose original line could not be found, left out.
    pub missing: u64,
    /// With a repair plan: the lines it changed (and that now pass), which are imported.
    pub repaired: u64,
    /// Lines repaired by hand (that pass), which are imported.
    pub by_hand: u64,
    /// With a repair plan: the failed lines not imported, because the plan did not change them or they would
    /// still be rejected, the first hundred with why.
    pub held_back: u64,
    pub held_back_lines: Vec<HeldBack>,
    /// Every element the plan changed (values of patient data): for a change record the person saves.
    #[serde(skip)]
    #[cfg_attr(feature = "specta", specta(skip))]
    pub changes: Vec<lakedrop_core::repair::ChangeRecord>,
}

/// A failed line a repaired retry did not import, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct HeldBack {
    pub file: String,
    pub line_id: u64,
    /// What is still wrong (the validator's first error), or that no rule of the plan applied.
    pub reason: String,
}

/// Which failed lines a retry imports again: every one, or one cause's; with a repair plan or repairs by hand,
/// only the lines repaired into lines HealthLake accepts.
#[derive(Debug, Clone, Default)]
pub struct RetryLines {
    pub cause: Option<lakedrop_core::results::Cause>,
    pub plan: Option<lakedrop_core::repair::RepairPlan>,
    /// Lines repaired by hand, by file and `lineId`: each goes in place of its original line (the plan is not
    /// applied to it), if it passes.
    pub by_hand: BTreeMap<(String, u64), String>,
}

impl From<Option<lakedrop_core::results::Cause>> for RetryLines {
    fn from(cause: Option<lakedrop_core::results::Cause>) -> RetryLines {
        RetryLines { cause, ..RetryLines::default() }
    }
}

impl RetryLines {
    /// Whether only repaired lines are imported (a plan or a repair by hand was given).
    pub fn repairs(&self) -> bool {
        self.plan.is_some() || !self.by_hand.is_empty()
    }
}

/// How many held-back lines a [`Retry`] lists, and how many changed lines a [`Prepared`] keeps as a sample (more
/// when the plan has more rules: one line for each).
const LISTED_HELD_BACK: usize = 100;
const SAMPLED: usize = 5;

/// The lines a retry would send, per file, and what repairing them did: the whole of a retry but the upload, so
/// the app can preview a plan on a job's failures before anything is sent.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The NDJSON to send, per input file name.
    pub by_file: BTreeMap<String, Vec<u8>>,
    pub lines: u64,
    pub missing: u64,
    /// Lines the plan repaired into lines that pass.
    pub repaired: u64,
    /// Lines repaired by hand that pass.
    pub by_hand: u64,
    pub held_back: u64,
    pub held_back_lines: Vec<HeldBack>,
    /// Per rule of the plan, how many of the imported lines it changed.
    pub by_rule: Vec<u64>,
    /// Every element changed, with its values: the change record.
    pub changes: Vec<lakedrop_core::repair::ChangeRecord>,
    /// A few lines the plan repaired, before and after: one for each rule, and the first ones.
    pub samples: Vec<Sample>,
}

/// A line a plan changed, as it was and as it would go.
#[derive(Debug, Clone)]
pub struct Sample {
    pub file: String,
    pub line_id: u64,
    pub before: String,
    pub after: String,
    pub changes: Vec<lakedrop_core::repair::Change>,
}

/// Selects a job's failed lines (all, or one cause's), applies the repairs, and checks each repaired line at
/// `level`: what [`retry`] sends, computed from failures and sources already read.
pub fn prepare<'a>(
    failures: impl IntoIterator<Item = &'a Failure>,
    sources: &Sources,
    which: &RetryLines,
    level: lakedrop_validate::Level,
) -> Prepared {
    use lakedrop_core::repair::{ChangeRecord, LineRepair};
    let mut out = Prepared {
        by_rule: vec![0; which.plan.as_ref().map_or(0, |p| p.rules.len())],
        ..Prepared::default()
    };
    let options = lakedrop_validate::Options { level, list_errors: true, ..Default::default() };
    let still_wrong = |line_id: u64, line: &[u8]| {
        let verdict = lakedrop_validate::check_line(line_id, line, &options);
        verdict.rejected.then(|| {
            let first = verdict.issues.iter().find(|i| i.severity == lakedrop_validate::Severity::Error);
            first.map_or_else(|| "still rejected".to_string(), |i| i.message.clone())
        })
    };
    for failure in failures.into_iter().filter(|f| which.cause.is_none_or(|c| f.cause == c)) {
        // Byte for byte: a line goes back exactly as it came in, whatever its encoding, unless it was repaired.
        let Some(original) = sources.original_bytes(failure) else {
            out.missing += 1;
            continue;
        };
        let key = (failure.file.clone(), failure.line_id);
        let record = |path: String, before, after, rule| ChangeRecord {
            file: failure.file.clone(),
            line: failure.line_id,
            resource_type: failure.resource_type.clone(),
            resource_id: failure.resource_id.clone(),
            path,
            before,
            after,
            rule,
        };
        let (line, reason) = if let Some(edited) = which.by_hand.get(&key) {
            match still_wrong(failure.line_id, edited.as_bytes()) {
                Some(reason) => (None, Some(reason)),
                None => {
                    out.changes.extend(lakedrop_core::quickfix::record_line_by_hand(
                        &failure.file,
                        failure.line_id,
                        &original,
                        edited.as_bytes(),
                        (failure.resource_type.clone(), failure.resource_id.clone()),
                    ));
                    out.by_hand += 1;
                    (Some(edited.as_bytes().to_vec()), None)
                }
            }
        } else if let Some(plan) = &which.plan {
            match plan.repair(&original) {
                LineRepair::Unchanged => {
                    let why = still_wrong(failure.line_id, &original)
                        .unwrap_or_else(|| "it passes as it is".into());
                    (None, Some(format!("no rule of the plan applies to this line ({why})")))
                }
                LineRepair::Changed { line: fixed, changes, .. } => {
                    match still_wrong(failure.line_id, fixed.as_bytes()) {
                        Some(reason) => (None, Some(reason)),
                        None => {
                            let mut rules: Vec<usize> = changes.iter().map(|c| c.rule).collect();
                            rules.dedup();
                            for rule in rules {
                                out.by_rule[rule] += 1;
                            }
                            // A sample shows each rule at work: a line joins it when it shows a rule not yet
                            // shown, the first lines fill what is left.
                            let shown = |rule: usize| {
                                out.samples.iter().any(|s| s.changes.iter().any(|c| c.rule == rule))
                            };
                            let new_rule = changes.iter().any(|c| !shown(c.rule));
                            let room = out.by_rule.len().max(SAMPLED);
                            if out.samples.len() < room
                                && (new_rule || out.samples.len() + out.by_rule.len() < SAMPLED)
                            {
                                out.samples.push(Sample {
                                    file: failure.file.clone(),
                                    line_id: failure.line_id,
                                    before: String::from_utf8_lossy(&original).into_owned(),
                                    after: fixed.clone(),
                                    changes: changes.clone(),
                                });
                            }
                            for change in changes {
                                out.changes.push(record(
                                    change.path,
                                    change.before,
                                    change.after,
                                    Some(change.rule),
                                ));
                            }
                            out.repaired += 1;
                            (Some(fixed.into_bytes()), None)
                        }
                    }
                }
            }
        } else if which.repairs() {
            (None, Some("not repaired".to_string()))
        } else {
            (Some(original), None)
        };
        if let Some(reason) = reason {
            out.held_back += 1;
            if out.held_back_lines.len() < LISTED_HELD_BACK {
                out.held_back_lines.push(HeldBack {
                    file: failure.file.clone(),
                    line_id: failure.line_id,
                    reason,
                });
            }
        }
        if let Some(line) = line {
            let buf = out.by_file.entry(failure.file.clone()).or_default();
            buf.extend_from_slice(&line);
            buf.push(b'\n');
            out.lines += 1;
        }
    }
    out
}

/// Imports only the failed lines of a job, or of the jobs of one import together, again (all of them, or one
/// cause's), repaired if asked, as one new batch and job, named after the first job, at `level` or, without one, at the first job's validation level. The lines go from
/// memory straight to S3: no temporary copy of patient data is written. The change record's paths (never its
/// values) are kept in the local state with the new job.
pub async fn retry(
    clients: &Clients,
    state: &State,
    destination: &lakedrop_core::destination::ResolvedDestination,
    job_ids: &[String],
    which: &RetryLines,
    level: Option<lakedrop_validate::Level>,
    now_unix: i64,
) -> Result<Retry, AwsError> {
    let Some(job_id) = job_ids.first() else {
        return Err(AwsError::Input("no job named: name the job whose failed lines to import again".into()));
    };
    let level = match level {
        Some(level) => level,
        None => first_level(clients, &destination.datastore_id, job_id).await?,
    };
    let (found, sources) = failures_together(clients, state, &destination.datastore_id, job_ids).await?;
    let selected: Vec<&Failure> =
        found.failures.iter().filter(|f| which.cause.is_none_or(|c| f.cause == c)).collect();
    if selected.is_empty() {
        return Err(AwsError::Input(format!("{} has no failed lines to retry", named(job_ids))));
    }
    let prepared = prepare(selected, &sources, which, level);
    if prepared.by_file.is_empty() {
        return Err(AwsError::Input(format!(
            "the repairs made none of the failed lines of {} into lines HealthLake accepts ({} held back): nothing to import",
            named(job_ids),
            prepared.held_back
        )));
    }
    let Prepared { by_file, lines, missing, repaired, by_hand, held_back, held_back_lines, changes, .. } =
        prepared;
    let id = lakedrop_core::batch::Batch::new_id(now_unix, (now_unix as u32).rotate_left(7) ^ lines as u32);
    let prefix = lakedrop_core::batch::Batch::prefix_for(&id);
    // The token names this request exactly: the same retry sent twice (a double click) starts one job, and a later
    // retry, with its own prefix or level, is a new request rather than a token HealthLake refuses as reused.
    let mut hash = Sha256::new();
    for job_id in job_ids {
        hash.update(job_id.as_bytes());
    }
    hash.update(prefix.as_bytes());
    hash.update(level.as_str().as_bytes());
    for (file, bytes) in &by_file {
        hash.update(file.as_bytes());
        hash.update(bytes);
        clients
            .s3
            .put_object()
            .bucket(&destination.input_bucket)
            .key(format!("{prefix}{file}"))
            .body(bytes.clone().into())
            .content_type("application/fhir+ndjson")
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .ssekms_key_id(&destination.kms_key_id)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32C)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", e))?;
    }
    let token: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let input_uri = format!("s3://{}/{prefix}", destination.input_bucket);
    let short: String = job_id.chars().take(12).collect();
    let new_job = crate::jobs::start(
        clients,
        &crate::jobs::StartImport {
            datastore_id: destination.datastore_id.clone(),
            input_uri: input_uri.clone(),
            output_uri: destination.output_uri.clone(),
            kms_key_id: destination.kms_key_id.clone(),
            role_arn: destination.role_arn.clone(),
            job_name: Some(format!("lakedrop-retry-of-{short}")),
            validation_level: level,
            client_token: token,
        },
    )
    .await?;
    state.record_repairs(&new_job, &changes)?;
    Ok(Retry {
        job_id: new_job,
        input_uri,
        lines,
        missing,
        repaired,
        by_hand,
        held_back,
        held_back_lines,
        changes,
    })
}

/// The validation level a job ran at; a job that names none ran before HealthLake had levels, and the retry then
/// takes Lakedrop's default.
pub async fn first_level(
    clients: &Clients,
    datastore_id: &str,
    job_id: &str,
) -> Result<lakedrop_validate::Level, AwsError> {
    let out = clients
        .healthlake
        .describe_fhir_import_job()
        .datastore_id(datastore_id)
        .job_id(job_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeFHIRImportJob", e))?;
    let named = out.import_job_properties().and_then(|p| p.validation_level());
    Ok(named.and_then(|l| lakedrop_validate::Level::parse(l.as_str())).unwrap_or_default())
}

/// A job's source files opened for joining, page by page: each file's bytes (from disk if unchanged since the
/// upload, else from S3) with its line index and base decision. Held in memory only, never written anywhere.
pub struct Sources {
    files: BTreeMap<String, Source>,
}

struct Source {
    bytes: Option<Vec<u8>>,
    index: Option<LineIndex>,
    origin: &'static str,
    decision: Option<BaseDecision>,
}

impl Sources {
    /// Opens the source of every file that has failures.
    pub async fn open(
        clients: &Clients,
        state: &State,
        datastore_id: &str,
        job_id: &str,
        failures: &[Failure],
    ) -> Result<Sources, AwsError> {
        let batch = state.batch_for_job(job_id)?.map(|(batch, _)| batch);
        let job = describe(clients, datastore_id, job_id).await?;
        let mut by_file: BTreeMap<&str, Vec<Failure>> = BTreeMap::new();
        for f in failures {
            by_file.entry(f.file.as_str()).or_default().push(f.clone());
        }
        let mut files = BTreeMap::new();
        for (file, file_failures) in by_file {
            let local =
                // A file uploaded as NDJSON made from it (decompressed, unbundled) is read from S3, where its lines are.
                batch.as_ref().and_then(|b| b.files.iter().find(|f| f.key_name == file && !f.derived)).and_then(|f| {
                    let bytes = std::fs::read(&f.local_path).ok()?;
                    (hex_sha256(&bytes) == f.sha256).then_some(bytes)
                });
            let (origin, bytes) = match local {
                Some(bytes) => ("local", Some(bytes)),
                None => match input_object(clients, job.input_uri.as_deref(), file).await? {
                    Some(bytes) => ("s3", Some(bytes)),
                    None => ("missing", None),
                },
            };
            let (index, decision) = match &bytes {
                Some(bytes) => {
                    let index = LineIndex::build(&mut bytes.as_slice())
                        .map_err(|e| AwsError::Input(e.to_string()))?;
                    let decision =
                        decide_base(&file_failures, &index, &mut Cursor::new(bytes.as_slice()), 200)
                            .map_err(|e| AwsError::Input(e.to_string()))?;
                    (Some(index), Some(decision))
                }
                None => (None, None),
            };
            files.insert(file.to_string(), Source { bytes, index, origin, decision });
        }
        Ok(Sources { files })
    }

    /// Joins one failure to its source line.
    pub fn join(&self, failure: &Failure) -> Joined {
        let original = self.original_bytes(failure).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let mismatch = original.as_deref().and_then(|line| line_matches(failure, line)) == Some(false);
        Joined { failure: failure.clone(), original, mismatch }
    }

    /// A failure's source line byte for byte (without its line ending): what exports and re-imports write.
    pub fn original_bytes(&self, failure: &Failure) -> Option<Vec<u8>> {
        let s = self.files.get(&failure.file)?;
        let (bytes, index) = (s.bytes.as_ref()?, s.index.as_ref()?);
        let n = self.source_line(failure)?;
        index.read_line_bytes(&mut Cursor::new(bytes.as_slice()), n).ok().flatten()
    }

    /// The 0-based line of the source file a `lineId` names, as this file's base decision reads it.
    pub fn source_line(&self, failure: &Failure) -> Option<u64> {
        self.files.get(&failure.file)?.decision.as_ref()?.base.source_line(failure.line_id)
    }

    /// Where each file's lines come from and how `lineId` was read.
    pub fn describe(&self) -> Vec<JoinSource> {
        self.files
            .iter()
            .map(|(file, s)| JoinSource {
                file: file.clone(),
                origin: s.origin.into(),
                decision: s.decision.clone(),
            })
            .collect()
    }
}
