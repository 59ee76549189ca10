//! Reading imported resources back from the data store's FHIR API: a look-up (a read or a search, paged) and a
//! finished job verified by sample. Resources reach the window as pretty-printed JSON text, to show; nothing
//! read is kept, cached or logged here.

use lakedrop_aws::fhir::{Fhir, Found, Page};
use lakedrop_aws::verify::{Outcome, TypeCounts, verify};
use serde::Serialize;

use crate::{AppState, ErrorCode, IpcError};

/// The most resources one look-up page shows.
const PAGE: usize = 20;

/// What a look-up found: a resource, nothing, or a page of a search.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum LookupAnswer {
    Resource { reference: String, text: String },
    Absent { reference: String },
    Page(LookupPage),
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LookupPage {
    /// Matches in all, when the service says.
    pub total: Option<u32>,
    pub entries: Vec<LookupEntry>,
    /// The next page's link, for `fhir_page`.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LookupEntry {
    /// `Type/id`.
    pub reference: String,
    pub text: String,
}

/// Answers `Patient/123` or `Observation?subject=Patient/123` on the chosen data store (or `datastore_id`).
#[tauri::command]
#[specta::specta]
pub async fn fhir_lookup(
    state: tauri::State<'_, AppState>,
    text: String,
    datastore_id: Option<String>,
) -> Result<LookupAnswer, IpcError> {
    super::bounds::text("the look-up", &text, 2048)?;
    let fhir = open(&state, datastore_id).await?;
    match fhir.lookup(&text, Some(PAGE)).await? {
        Found::Resource(resource) => {
            Ok(LookupAnswer::Resource { reference: reference(&resource), text: pretty(&resource)? })
        }
        Found::Absent { reference } => Ok(LookupAnswer::Absent { reference }),
        Found::Page(page) => Ok(LookupAnswer::Page(page_answer(&page)?)),
    }
}

/// The next page of a look-up's search, by the link the last page gave.
#[tauri::command]
#[specta::specta]
pub async fn fhir_page(
    state: tauri::State<'_, AppState>,
    url: String,
    datastore_id: Option<String>,
) -> Result<LookupPage, IpcError> {
    super::bounds::text("the page link", &url, 4096)?;
    let fhir = open(&state, datastore_id).await?;
    page_answer(&fhir.page(&url).await?)
}

async fn open(state: &AppState, datastore_id: Option<String>) -> Result<Fhir, IpcError> {
    let session = state.session().await?;
    let datastore = match datastore_id {
        Some(id) => {
            super::bounds::id("the data store id", &id, 64)?;
            id
        }
        None => crate::session::chosen(&session)?.datastore_id,
    };
    Ok(Fhir::open(&session.clients, &datastore).await?)
}

fn page_answer(page: &Page) -> Result<LookupPage, IpcError> {
    let entries = page
        .resources
        .iter()
        .map(|r| Ok(LookupEntry { reference: reference(r), text: pretty(r)? }))
        .collect::<Result<_, IpcError>>()?;
    Ok(LookupPage {
        total: page.total.map(|t| u32::try_from(t).unwrap_or(u32::MAX)),
        entries,
        next: page.next.clone(),
    })
}

fn reference(resource: &serde_json::Value) -> String {
    format!("{}/{}", resource["resourceType"].as_str().unwrap_or("?"), resource["id"].as_str().unwrap_or("?"))
}

fn pretty(value: &serde_json::Value) -> Result<String, IpcError> {
    serde_json::to_string_pretty(value).map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))
}

/// A verification by sample, for the window.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SampleReport {
    /// The FHIR endpoint the resources were read from.
    pub endpoint: String,
    pub per_type: u32,
    pub types: Vec<TypeCounts>,
    /// The samples that did not match, in type, file and line order (the matched are only counted).
    pub unmatched: Vec<UnmatchedSample>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UnmatchedSample {
    pub resource_type: String,
    pub id: String,
    pub file: String,
    pub line: u32,
    pub outcome: Outcome,
    pub differences: Vec<DifferenceText>,
    /// The source line and the resource read, pretty-printed, for a differing sample.
    pub source: Option<String>,
    pub found: Option<String>,
}

/// One difference, its values as JSON text (`null` where the element is absent).
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DifferenceText {
    pub path: String,
    pub expected: Option<String>,
    pub found: Option<String>,
}

/// Reads back `per_type` imported resources of each type of a finished job and compares them with the lines sent.
#[tauri::command]
#[specta::specta]
pub async fn verify_sample(
    state: tauri::State<'_, AppState>,
    job_id: String,
    per_type: u32,
) -> Result<SampleReport, IpcError> {
    super::bounds::id("the job id", &job_id, 64)?;
    let session = state.session().await?;
    let datastore = crate::session::chosen(&session)?.datastore_id;
    let history = state.history().await?;
    let found = verify(&session.clients, &history, &datastore, &job_id, per_type as usize).await?;
    let text = |v: &Option<serde_json::Value>| v.as_ref().map(serde_json::Value::to_string);
    let unmatched = found
        .samples
        .iter()
        .filter(|s| s.outcome != Outcome::Matched)
        .map(|s| {
            Ok(UnmatchedSample {
                resource_type: s.resource_type.clone(),
                id: s.id.clone(),
                file: s.file.clone(),
                line: u32::try_from(s.line).unwrap_or(u32::MAX),
                outcome: s.outcome,
                differences: s
                    .differences
                    .iter()
                    .map(|d| DifferenceText {
                        path: d.path.clone(),
                        expected: text(&d.expected),
                        found: text(&d.found),
                    })
                    .collect(),
                source: s.source.as_ref().map(pretty).transpose()?,
                found: s.found.as_ref().map(pretty).transpose()?,
            })
        })
        .collect::<Result<_, IpcError>>()?;
    Ok(SampleReport {
        endpoint: found.endpoint,
        per_type: u32::try_from(found.per_type).unwrap_or(u32::MAX),
        types: found.types,
        unmatched,
    })
}
