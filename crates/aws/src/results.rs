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
#[serde(rename_all = "camelCase")]
pub struct Failures {
    pub failures: Vec<Failure>,
    pub groups: Vec<Group>,
    pub unreadable: Unreadable,
}

/// Reads every FAILURE file of a job (none when the folder is absent: nothing failed).
pub async fn failures(clients: &Clients, datastore_id: &str, job_id: &str) -> Result<Failures, AwsError> {
    let job = describe(clients, datastore_id, job_id).await?;
    let folder =
        job.output_uri.ok_or_else(|| AwsError::Input(format!("job {job_id} has no output location yet")))?;
    let (bucket, prefix) = split_s3_uri(&folder)?;
    let failure_prefix = format!("{}FAILURE/", normalize(prefix));
    let mut out = Failures::default();
    let mut grouper = Grouper::new(20);
    let mut pages =
        clients.s3.list_objects_v2().bucket(bucket).prefix(&failure_prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let file = key.strip_prefix(&failure_prefix).unwrap_or(key).to_string();
            let bytes = get_bytes(clients, bucket, key).await?;
            let mut add = |failure: Failure| {
                grouper.add(&failure);
                out.failures.push(failure);
            };
            parse_failures(&file, &mut Cursor::new(bytes), &mut add, &mut out.unreadable)
                .map_err(|e| AwsError::Input(format!("{key}: {e}")))?;
        }
    }
    out.groups = grouper.finish();
    Ok(out)
}

/// A failure beside its original line.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    let batch = state.batch_for_job(job_id)?.map(|(batch, _)| batch);
    let job = describe(clients, datastore_id, job_id).await?;
    let mut by_file: BTreeMap<String, Vec<Failure>> = BTreeMap::new();
    for failure in failures {
        by_file.entry(failure.file.clone()).or_default().push(failure);
    }
    let mut joined = Vec::new();
    let mut sources = Vec::new();
    for (file, failures) in by_file {
        let local = batch.as_ref().and_then(|b| b.files.iter().find(|f| f.key_name == file)).and_then(|f| {
            // A local file that changed since the upload would join the wrong lines: use S3's copy then.
            let bytes = std::fs::read(&f.local_path).ok()?;
            let same = hex_sha256(&bytes) == f.sha256;
            same.then_some(bytes)
        });
        let (origin, bytes) = match local {
            Some(bytes) => ("local", Some(bytes)),
            None => match input_object(clients, job.input_uri.as_deref(), &file).await? {
                Some(bytes) => ("s3", Some(bytes)),
                None => ("missing", None),
            },
        };
        let Some(bytes) = bytes else {
            sources.push(JoinSource { file: file.clone(), origin: origin.into(), decision: None });
            joined.extend(failures.into_iter().map(|failure| Joined {
                failure,
                original: None,
                mismatch: false,
            }));
            continue;
        };
        let index = LineIndex::build(&mut bytes.as_slice()).map_err(|e| AwsError::Input(e.to_string()))?;
        let mut cursor = Cursor::new(bytes.as_slice());
        let decision =
            decide_base(&failures, &index, &mut cursor, 200).map_err(|e| AwsError::Input(e.to_string()))?;
        let base = decision.base;
        sources.push(JoinSource { file: file.clone(), origin: origin.into(), decision: Some(decision) });
        for failure in failures {
            let original = match base.source_line(failure.line_id) {
                Some(n) => index.read_line(&mut cursor, n).map_err(|e| AwsError::Input(e.to_string()))?,
                None => None,
            };
            let mismatch = original.as_deref().and_then(|line| line_matches(&failure, line)) == Some(false);
            joined.push(Joined { failure, original, mismatch });
        }
    }
    Ok((joined, sources))
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

async fn get_bytes(clients: &Clients, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
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
