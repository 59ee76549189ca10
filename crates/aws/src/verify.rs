//! "Is my data really there, and is it what I sent?": a finished job's imported resources read back by sample
//! from the data store's FHIR API and compared with their source lines.
//!
//! The sample is drawn from the job's `SUCCESS/` files (and `SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/` at
//! `minimal`): per resource type, the `per_type` lines with the lowest hash of (job, file, line), so it spreads
//! across every file, is the same on every run of the same job, and needs one pass with memory for the sample
//! only. Source lines come from the local files when they are unchanged since the upload, else from the job's S3
//! input objects (`results::Sources`, the same join the failures use).

use std::collections::{BTreeMap, BinaryHeap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::BufRead;

use futures::StreamExt;
use lakedrop_core::output::OutputLine;
use lakedrop_core::readback::{Difference, differences};
use lakedrop_core::results::{Cause, Failure};
use lakedrop_core::state::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fhir::Fhir;
use crate::jobs::{describe, split_s3_uri};
use crate::results::{JoinSource, Sources};
use crate::{AwsError, Clients};

/// Resources read back at once.
const CONCURRENCY: usize = 8;
/// The most a sample may ask for per type.
pub const MAX_PER_TYPE: usize = 1_000;

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub job_id: String,
    pub datastore_id: String,
    /// The FHIR endpoint the resources were read from.
    pub endpoint: String,
    /// The sample size asked for per resource type.
    pub per_type: usize,
    /// Per resource type, in name order.
    pub types: Vec<TypeCounts>,
    /// Every sampled resource, by type, file and line.
    pub samples: Vec<Sample>,
    /// Where each file's source lines came from.
    pub sources: Vec<JoinSource>,
}

impl Verification {
    /// Whether every sampled resource was found as it was sent.
    pub fn all_matched(&self) -> bool {
        self.samples.iter().all(|s| s.outcome == Outcome::Matched)
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.samples.iter().filter(|s| s.outcome == outcome).count() as u64
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TypeCounts {
    pub resource_type: String,
    /// Lines of this type the job reported imported.
    pub imported: u64,
    pub sampled: u64,
    pub matched: u64,
    pub differing: u64,
    pub missing: u64,
    /// Sampled lines whose source could not be found (the file changed and the input object is gone).
    pub unverifiable: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Read back equal to the source line, but for what the service sets.
    Matched,
    /// Read back, but not as it was sent: see `differences`.
    Differing,
    /// The data store does not hold it (not found, or deleted since).
    Missing,
    /// Its source line could not be found to compare with.
    Unverifiable,
}

/// One sampled resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub resource_type: String,
    pub id: String,
    /// The input file (its key under the batch prefix) and the 1-based line in it.
    pub file: String,
    pub line: u64,
    pub outcome: Outcome,
    /// Where it differs (empty unless `differing`).
    pub differences: Vec<Difference>,
    /// The source line and the resource read, for a sample that differs (to show them side by side).
    pub source: Option<Value>,
    pub found: Option<Value>,
}

/// One SUCCESS line, as the sample keeps it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pick {
    priority: u64,
    file: String,
    line_id: u64,
    resource_id: Option<String>,
    /// From SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/: stored with appended extensions.
    marked: bool,
}

/// Reads back `per_type` imported resources of each type of a finished job and compares each with its source.
pub async fn verify(
    clients: &Clients,
    state: &State,
    datastore_id: &str,
    job_id: &str,
    per_type: usize,
) -> Result<Verification, AwsError> {
    let per_type = per_type.clamp(1, MAX_PER_TYPE);
    let job = describe(clients, datastore_id, job_id).await?;
    if !matches!(job.status.as_str(), "COMPLETED" | "COMPLETED_WITH_ERRORS") {
        return Err(AwsError::Input(format!(
            "job {job_id} is {}: a sample can be verified once the job has completed",
            job.status
        )));
    }
    let folder =
        job.output_uri.ok_or_else(|| AwsError::Input(format!("job {job_id} has no output location")))?;
    let (bucket, prefix) = split_s3_uri(&folder)?;
    let folder = format!("{}/", prefix.trim_matches('/'));
    let folder = folder.trim_start_matches('/').to_string();

    let mut imported: BTreeMap<String, u64> = BTreeMap::new();
    let mut heaps: BTreeMap<String, BinaryHeap<Pick>> = BTreeMap::new();
    for (sub, marked) in [("SUCCESS/", false), ("SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/", true)] {
        let listing = format!("{folder}{sub}");
        let mut pages = clients.s3.list_objects_v2().bucket(bucket).prefix(&listing).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let file = key.strip_prefix(&listing).unwrap_or(key).to_string();
                let bytes = crate::results::get_bytes(clients, bucket, key).await?;
                for line in bytes.lines() {
                    let line = line.map_err(|e| AwsError::Input(format!("{key}: {e}")))?;
                    let Ok(out) = serde_json::from_str::<OutputLine>(line.trim()) else { continue };
                    let blob = out.update_resource_response.as_ref().map(|r| &r.json_blob);
                    let resource_type = out
                        .resource_type
                        .clone()
                        .or_else(|| blob.and_then(|b| b["resourceType"].as_str()).map(str::to_string))
                        .unwrap_or_default();
                    let resource_id = out
                        .resource_id
                        .clone()
                        .or_else(|| blob.and_then(|b| b["id"].as_str()).map(str::to_string));
                    *imported.entry(resource_type.clone()).or_default() += 1;
                    let pick = Pick {
                        priority: priority(job_id, &file, out.line_id),
                        file: file.clone(),
                        line_id: out.line_id,
                        resource_id,
                        marked,
                    };
                    let heap = heaps.entry(resource_type).or_default();
                    if heap.len() < per_type {
                        heap.push(pick);
                    } else if heap.peek().is_some_and(|top| pick < *top) {
                        heap.pop();
                        heap.push(pick);
                    }
                }
            }
        }
    }

    // The sample as "failures" (file, lineId, type, id): the shape the source join reads.
    let mut picks: Vec<(String, Pick)> = heaps
        .into_iter()
        .flat_map(|(rt, heap)| heap.into_vec().into_iter().map(move |p| (rt.clone(), p)))
        .collect();
    picks.sort_by(|(a, p), (b, q)| (a, &p.file, p.line_id).cmp(&(b, &q.file, q.line_id)));
    let located: Vec<Failure> = picks
        .iter()
        .map(|(rt, p)| Failure {
            file: p.file.clone(),
            line_id: p.line_id,
            resource_type: (!rt.is_empty()).then(|| rt.clone()),
            resource_id: p.resource_id.clone(),
            status_code: None,
            diagnostics: Vec::new(),
            cause: Cause::Other,
        })
        .collect();
    let sources = Sources::open(clients, state, datastore_id, job_id, &located).await?;
    let fhir = Fhir::open(clients, datastore_id).await?;

    // Collected first: a stream over a borrowing closure is not `Send` for every lifetime, which a Tauri
    // command's future must be.
    let checks: Vec<_> =
        located.iter().zip(&picks).map(|(at, (_, pick))| check(&sources, &fhir, at, pick.marked)).collect();
    let samples: Vec<Sample> = futures::stream::iter(checks)
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;

    let mut types: BTreeMap<String, TypeCounts> = BTreeMap::new();
    for (rt, n) in &imported {
        types
            .entry(rt.clone())
            .or_insert_with(|| TypeCounts { resource_type: rt.clone(), ..TypeCounts::default() })
            .imported = *n;
    }
    for s in &samples {
        let t = types.entry(s.resource_type.clone()).or_insert_with(|| TypeCounts {
            resource_type: s.resource_type.clone(),
            ..TypeCounts::default()
        });
        t.sampled += 1;
        match s.outcome {
            Outcome::Matched => t.matched += 1,
            Outcome::Differing => t.differing += 1,
            Outcome::Missing => t.missing += 1,
            Outcome::Unverifiable => t.unverifiable += 1,
        }
    }
    tracing::info!(sampled = samples.len(), "verified a sample of an import");
    Ok(Verification {
        job_id: job_id.to_string(),
        datastore_id: datastore_id.to_string(),
        endpoint: fhir.base().to_string(),
        per_type,
        types: types.into_values().collect(),
        samples,
        sources: sources.describe(),
    })
}

/// Reads one sampled resource back and compares it with its source line.
async fn check(sources: &Sources, fhir: &Fhir, at: &Failure, marked: bool) -> Result<Sample, AwsError> {
    let source: Option<Value> = sources.original_bytes(at).and_then(|b| serde_json::from_slice(&b).ok());
    let resource_type = at
        .resource_type
        .clone()
        .or_else(|| source.as_ref().and_then(|s| s["resourceType"].as_str()).map(str::to_string));
    let id =
        at.resource_id.clone().or_else(|| source.as_ref().and_then(|s| s["id"].as_str()).map(str::to_string));
    let line = sources.source_line(at).map_or(at.line_id, |n| n + 1);
    let mut sample = Sample {
        resource_type: resource_type.clone().unwrap_or_default(),
        id: id.clone().unwrap_or_default(),
        file: at.file.clone(),
        line,
        outcome: Outcome::Unverifiable,
        differences: Vec::new(),
        source: None,
        found: None,
    };
    let (Some(source), Some(resource_type), Some(id)) = (source, resource_type, id) else {
        return Ok(sample);
    };
    // A changed file, or a wrong reading of lineId: the line is not this resource's.
    if source["resourceType"].as_str() != Some(resource_type.as_str())
        || source["id"].as_str() != Some(id.as_str())
    {
        return Ok(sample);
    }
    match fhir.read(&resource_type, &id).await? {
        None => sample.outcome = Outcome::Missing,
        Some(found) => {
            let found_differences = differences(&source, &found, marked);
            if found_differences.is_empty() {
                sample.outcome = Outcome::Matched;
            } else {
                sample.outcome = Outcome::Differing;
                sample.differences = found_differences;
                sample.source = Some(source);
                sample.found = Some(found);
            }
        }
    }
    Ok(sample)
}

/// A line's place in the sample: the same for the same job, file and line on every run.
fn priority(job_id: &str, file: &str, line_id: u64) -> u64 {
    let mut hasher = DefaultHasher::new();
    (job_id, file, line_id).hash(&mut hasher);
    hasher.finish()
}
