use crate::{AppState, IpcError};

/// Tells the desktop that a job ended (the window may be in the background). The text is made here from the
/// status, so the webview cannot put arbitrary text in a system notification. A desktop without a notification
/// service is not an error: the app shows the result in its own window anyway.
#[tauri::command]
#[specta::specta]
pub async fn notify_job_ended(
    state: tauri::State<'_, AppState>,
    job_id: String,
    status: String,
) -> Result<bool, IpcError> {
    super::bounds::id("the job id", &job_id, 64)?;
    let summary = match status.as_str() {
        "COMPLETED" => "Import completed",
        "COMPLETED_WITH_ERRORS" => "Import completed with errors",
        "FAILED" => "Import failed",
        _ => "Import job ended",
    };
    let label = state.session().await?.label.clone();
    let short_id: String = job_id.chars().filter(char::is_ascii_alphanumeric).take(12).collect();
    let body = format!("Job {short_id} on {label}. Open Lakedrop to see the results.");
    let shown = tauri::async_runtime::spawn_blocking(move || {
        notify_rust::Notification::new().appname("Lakedrop").summary(summary).body(&body).show().is_ok()
    })
    .await
    .unwrap_or(false);
    Ok(shown)
}
