use lakedrop_aws::jobs;
use lakedrop_core::job::{Job, JobResult};

use crate::{AppState, IpcError};

/// The import jobs of every data store of the connection (started here or anywhere else), newest first.
#[tauri::command]
#[specta::specta]
pub async fn list_jobs(state: tauri::State<'_, AppState>) -> Result<Vec<Job>, IpcError> {
    let session = state.session().await?;
    Ok(jobs::list_all(&session.clients, &jobs::JobFilter::default()).await?)
}

/// One job with its manifest once it has ended.
#[tauri::command]
#[specta::specta]
pub async fn job_result(state: tauri::State<'_, AppState>, job_id: String) -> Result<JobResult, IpcError> {
    let session = state.session().await?;
    Ok(jobs::result(&session.clients, &session.destination()?.datastore_id, &job_id).await?)
}
