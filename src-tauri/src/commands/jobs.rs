use lakedrop_aws::jobs;
use lakedrop_core::job::{Job, JobResult, combined_manifest};
use lakedrop_core::manifest::ManifestSummary;
use serde::Serialize;

use crate::{AppState, IpcError};

/// The import jobs of every data store of the connection (started here or anywhere else), newest first.
#[tauri::command]
#[specta::specta]
pub async fn list_jobs(state: tauri::State<'_, AppState>) -> Result<Vec<Job>, IpcError> {
    let session = state.session().await?;
    let mut all = jobs::list_all(&session.clients, &jobs::JobFilter::default()).await?;
    // Sizes are known for the jobs this machine started; they make ETAs possible.
    let history = state.history().await?;
    let mut sizes = std::collections::HashMap::new();
    for job in all.iter().filter(|j| !lakedrop_core::job::is_terminal(&j.status)) {
        if let Ok(Some((batch, _))) = history.batch_for_job(&job.job_id) {
            sizes.insert(job.job_id.clone(), batch.files.iter().map(|f| f.bytes).sum::<u64>() as f64 / 1e6);
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    lakedrop_core::job::annotate_eta(&mut all, &sizes, now);
    Ok(all)
}

/// One job with its manifest once it has ended.
#[tauri::command]
#[specta::specta]
pub async fn job_result(state: tauri::State<'_, AppState>, job_id: String) -> Result<JobResult, IpcError> {
    super::bounds::id("the job id", &job_id, 64)?;
    let session = state.session().await?;
    Ok(jobs::result(&session.clients, &crate::session::chosen(&session)?.datastore_id, &job_id).await?)
}

/// The jobs of one import (more than 10,000 files is several jobs, run one after the other) followed as one.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// Each job with its manifest once it has one, in the order they were started.
    pub jobs: Vec<JobResult>,
    /// Every job's manifest summed, once every job has one.
    pub manifest: Option<ManifestSummary>,
}

/// Every job of one import with what they did together.
#[tauri::command]
#[specta::specta]
pub async fn import_result(
    state: tauri::State<'_, AppState>,
    job_ids: Vec<String>,
) -> Result<ImportResult, IpcError> {
    super::bounds::jobs(&job_ids)?;
    let session = state.session().await?;
    let datastore = crate::session::chosen(&session)?.datastore_id;
    let mut jobs = Vec::with_capacity(job_ids.len());
    for job_id in &job_ids {
        jobs.push(jobs::result(&session.clients, &datastore, job_id).await?);
    }
    let manifest = combined_manifest(&jobs);
    Ok(ImportResult { jobs, manifest })
}
