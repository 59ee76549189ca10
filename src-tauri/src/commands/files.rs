use std::path::PathBuf;

use lakedrop_core::files::{expand_paths, validate_files as validate};
use lakedrop_core::progress::{ValidateProgress, ValidationReport};
use lakedrop_validate::Options;
use tauri::ipc::Channel;

use crate::{AppState, ErrorCode, IpcError};

/// Paths given on the command line ("Open with"), added as if dropped at start.
#[tauri::command]
#[specta::specta]
pub fn initial_paths(state: tauri::State<'_, AppState>) -> Vec<String> {
    state.initial_paths().to_vec()
}

/// Validates dropped or picked files and folders, streaming progress; cancellable with `cancel(opId)`.
#[tauri::command]
#[specta::specta]
pub async fn validate_files(
    state: tauri::State<'_, AppState>,
    op_id: String,
    paths: Vec<String>,
    on_progress: Channel<ValidateProgress>,
) -> Result<ValidationReport, IpcError> {
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let cancel = state.begin(&op_id);
    let result = tauri::async_runtime::spawn_blocking(move || {
        let files = expand_paths(&paths)?;
        let mut send = |event| {
            // A closed channel only means the window stopped listening; validation still completes.
            let _ = on_progress.send(event);
        };
        Ok(validate(&files, &Options::default(), &mut send, &cancel)?)
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, format!("validation stopped: {e}")))?;
    state.finish(&op_id);
    result
}
