use std::path::PathBuf;

use lakedrop_core::files::{expand_paths, export_rejected as export, read_line, validate_files as validate};
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

/// Opens the native picker for files (or one folder) and returns what was chosen; empty when cancelled. The
/// choice is recorded: commands read only what was dropped or picked.
#[tauri::command]
#[specta::specta]
pub async fn pick_files(state: tauri::State<'_, AppState>, folder: bool) -> Result<Vec<String>, IpcError> {
    let dialog = state
        .pick_dialog()
        .ok_or_else(|| IpcError::new(ErrorCode::Internal, "no open dialog in this window"))?;
    let pick = if folder { crate::session::Pick::Folder } else { crate::session::Pick::Files };
    let picked = tauri::async_runtime::spawn_blocking(move || dialog(pick)).await.unwrap_or_default();
    state.allow_paths(&picked);
    Ok(picked.into_iter().map(|p| p.display().to_string()).collect())
}

/// Validates dropped or picked files and folders, streaming progress; cancellable with `cancel(opId)`.
#[tauri::command]
#[specta::specta]
pub async fn validate_files(
    state: tauri::State<'_, AppState>,
    op_id: String,
    paths: Vec<String>,
    keep_bundles: Option<bool>,
    on_progress: Channel<ValidateProgress>,
) -> Result<ValidationReport, IpcError> {
    super::bounds::id("the operation id", &op_id, 64)?;
    super::bounds::paths(&paths)?;
    let paths: Vec<PathBuf> = paths.iter().map(|p| state.checked_path(p)).collect::<Result<_, _>>()?;
    let cancel = state.begin(&op_id);
    let result = tauri::async_runtime::spawn_blocking(move || {
        let files = expand_paths(&paths)?;
        // A closed channel only means the window stopped listening; validation still completes.
        let mut paced = crate::pace::Paced::new(|event| {
            let _ = on_progress.send(event);
        });
        let mut send = |event| paced.push(event, std::time::Instant::now());
        // The window shows each file's issues by group, with their first examples, and saves rejected lines by
        // reading the file again; a per-file issue list would only weigh on IPC: a thousand flawed files froze
        // the window for seconds while it parsed the report (tests/e2e/bigdata.bench.mjs).
        let options = Options {
            list_errors: false,
            max_warnings_per_file: 0,
            keep_bundles: keep_bundles.unwrap_or(false),
            ..Options::default()
        };
        Ok(validate(&files, &options, &mut send, &cancel)?)
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, format!("validation stopped: {e}")))?;
    state.finish(&op_id);
    if let Ok(report) = &result {
        state.note_checked(&report.files);
    }
    result
}

/// Longest line text sent to the window: enough for any real resource, bounded for a pathological one.
const MAX_LINE_CHARS: usize = 1_000_000;

/// One line of a local file (1-based), to show an issue beside the resource it is about; `None` past the end.
#[tauri::command]
#[specta::specta]
pub async fn line_text(
    state: tauri::State<'_, AppState>,
    path: String,
    line: u32,
    keep_bundles: Option<bool>,
) -> Result<Option<String>, IpcError> {
    let path = state.checked_path(&path)?;
    let keep = keep_bundles.unwrap_or(false);
    tauri::async_runtime::spawn_blocking(move || Ok(read_line(&path, u64::from(line), MAX_LINE_CHARS, keep)?))
        .await
        .map_err(|e| IpcError::new(ErrorCode::Internal, format!("reading the line stopped: {e}")))?
}

/// Saves the lines of a file HealthLake would reject (unchanged) where the analyst picks; `None` when the
/// save dialog was cancelled, else how many lines were written.
#[tauri::command]
#[specta::specta]
pub async fn export_rejected(
    state: tauri::State<'_, AppState>,
    path: String,
) -> Result<Option<u32>, IpcError> {
    let source = state.checked_path(&path)?;
    let stem = source.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let stem = stem.trim_end_matches(".gz").trim_end_matches(".ndjson").to_string();
    let dialog = state
        .save_dialog()
        .ok_or_else(|| IpcError::new(ErrorCode::Internal, "no save dialog in this window"))?;
    let name = format!("{stem}.rejected.ndjson");
    let picked = tauri::async_runtime::spawn_blocking(move || dialog(&name)).await.ok().flatten();
    let Some(out) = picked else { return Ok(None) };
    let copied = tauri::async_runtime::spawn_blocking(move || export(&source, &Options::default(), &out))
        .await
        .map_err(|e| IpcError::new(ErrorCode::Internal, format!("export stopped: {e}")))??;
    Ok(Some(u32::try_from(copied).unwrap_or(u32::MAX)))
}

/// The bundled sample (10 synthetic Synthea patients), for a first import; it counts as picked.
#[tauri::command]
#[specta::specta]
pub fn sample_paths(state: tauri::State<'_, AppState>) -> Result<Vec<String>, IpcError> {
    let dir = state.sample_dir().filter(|dir| dir.is_dir()).ok_or_else(|| {
        IpcError::new(ErrorCode::NotFound, "the bundled sample is not installed with this build")
    })?;
    state.allow_paths(std::slice::from_ref(&dir));
    Ok(vec![dir.display().to_string()])
}
