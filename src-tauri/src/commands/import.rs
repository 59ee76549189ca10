use std::path::PathBuf;

use lakedrop_aws::import::{ImportRequest, run};
use lakedrop_core::progress::{ImportProgress, ImportStarted};
use lakedrop_validate::Level;
use serde::Deserialize;
use tauri::ipc::Channel;

use crate::{AppState, IpcError};

/// What the UI asks to import.
#[derive(Debug, Deserialize, specta::Type)]
#[serde(rename = "ImportRequest", rename_all = "camelCase")]
pub struct ImportRequestDto {
    pub paths: Vec<String>,
    pub job_name: Option<String>,
    /// HealthLake's ValidationLevel; structure-only when not given.
    #[serde(default)]
    pub validation_level: Option<Level>,
    /// Import again files already imported to this data store (otherwise their job is followed instead).
    #[serde(default)]
    pub again: bool,
    /// Import Bundles as Bundle resources, one line each, instead of as their entries.
    #[serde(default)]
    pub keep_bundles: bool,
}

/// Validates, uploads to a fresh prefix and starts the import job; cancellable with `cancel(opId)`.
#[tauri::command]
#[specta::specta]
pub async fn start_import(
    state: tauri::State<'_, AppState>,
    op_id: String,
    request: ImportRequestDto,
    on_progress: Channel<ImportProgress>,
) -> Result<ImportStarted, IpcError> {
    super::bounds::id("the operation id", &op_id, 64)?;
    super::bounds::paths(&request.paths)?;
    if let Some(name) = request.job_name.as_deref().filter(|n| !n.trim().is_empty()) {
        super::bounds::job_name(name)?;
    }
    let paths: Vec<PathBuf> =
        request.paths.iter().map(|p| state.checked_path(p)).collect::<Result<_, _>>()?;
    let session = state.session().await?;
    let destination = crate::session::chosen(&session)?;
    let history = state.history().await?;
    let cancel = state.begin(&op_id);
    let level = request.validation_level.unwrap_or(Level::StructureOnly);
    if let Err(e) = state.settings().update(|s| s.level = Some(level)) {
        tracing::warn!(error = %e, "could not remember the validation level");
    }
    let checked = state.checked_of(&paths);
    let request = ImportRequest {
        keep_bundles: request.keep_bundles,
        checked,
        paths,
        job_name: request.job_name.filter(|n| !n.trim().is_empty()),
        level,
        again: request.again,
    };
    let progress = move |event| {
        let _ = on_progress.send(event);
    };
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let result = run(&session.clients, &destination, &history, request, &progress, &cancel, now).await;
    state.finish(&op_id);
    Ok(result?)
}

/// Cancels a running operation by the id the UI gave it.
#[tauri::command]
#[specta::specta]
pub fn cancel(state: tauri::State<'_, AppState>, op_id: String) {
    // An id no operation can have cancels nothing.
    if super::bounds::id("the operation id", &op_id, 64).is_ok() {
        state.cancel(&op_id);
    }
}
