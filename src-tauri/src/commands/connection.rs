use lakedrop_core::connection::Connection;

use crate::{AppState, IpcError};

/// The active destination (the sandbox until an AWS profile is chosen).
#[tauri::command]
#[specta::specta]
pub async fn connection(state: tauri::State<'_, AppState>) -> Result<Connection, IpcError> {
    Ok(state.session().await?.connection.clone())
}
