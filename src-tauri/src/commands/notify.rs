use serde::Deserialize;

use crate::{AppState, IpcError};

/// Long work that ended, as the window reports it; the notification's words are made here from these numbers and
/// statuses, so the webview cannot put arbitrary text (or a file name) in a system notification.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Finished {
    /// An import job ended, with HealthLake's `JobStatus`.
    Job { job_id: String, status: String },
    /// Files dropped or picked were checked.
    Check { files: u32, rejected_lines: u32 },
    /// An upload ended: its import job started, or the import stopped before that.
    Upload { files: u32, job_started: bool },
}

/// The summary and body of a notification, for a connection labelled `label`.
pub fn words(finished: &Finished, label: &str) -> (String, String) {
    let plural = |n: u32, one: &str, many: &str| {
        format!("{} {}", lakedrop_core::text::thousands(u64::from(n)), if n == 1 { one } else { many })
    };
    match finished {
        Finished::Job { job_id, status } => {
            let summary = match status.as_str() {
                "COMPLETED" => "Import completed",
                "COMPLETED_WITH_ERRORS" => "Import completed with errors",
                "FAILED" => "Import failed",
                "CANCEL_COMPLETED" => "Import cancelled",
                _ => "Import job ended",
            };
            let short_id: String = job_id.chars().filter(char::is_ascii_alphanumeric).take(12).collect();
            (summary.into(), format!("Job {short_id} on {label}. Open Lakedrop to see the results."))
        }
        Finished::Check { files, rejected_lines: 0 } => (
            "Files checked".into(),
            format!("{} checked: nothing HealthLake would reject.", plural(*files, "file", "files")),
        ),
        Finished::Check { files, rejected_lines } => (
            "Files checked".into(),
            format!(
                "{} checked: {} HealthLake would reject. Open Lakedrop to see why.",
                plural(*files, "file", "files"),
                plural(*rejected_lines, "line", "lines")
            ),
        ),
        Finished::Upload { files, job_started: true } => (
            "Upload finished".into(),
            format!("{} uploaded to {label}; the import job has started.", plural(*files, "file", "files")),
        ),
        Finished::Upload { job_started: false, .. } => (
            "Import stopped".into(),
            "The upload did not finish. Open Lakedrop to see why; importing again continues where it stopped."
                .into(),
        ),
    }
}

/// Tells the desktop that long work ended (the window may be in the background). A desktop without a
/// notification service is not an error: the window shows the outcome anyway; `false` says none was shown.
#[tauri::command]
#[specta::specta]
pub async fn notify_finished(
    state: tauri::State<'_, AppState>,
    finished: Finished,
) -> Result<bool, IpcError> {
    if let Finished::Job { job_id, status } = &finished {
        super::bounds::id("the job id", job_id, 64)?;
        super::bounds::id("the job status", status, 32)?;
    }
    let (summary, body) = words(&finished, &state.session().await?.label);
    let shown = tauri::async_runtime::spawn_blocking(move || {
        notify_rust::Notification::new().appname("Lakedrop").summary(&summary).body(&body).show().is_ok()
    })
    .await
    .unwrap_or(false);
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_say_how_work_ended_in_counts_never_names() {
        let job =
            Finished::Job { job_id: "0123456789abcdef0123".into(), status: "COMPLETED_WITH_ERRORS".into() };
        assert_eq!(
            words(&job, "analyst"),
            (
                "Import completed with errors".into(),
                "Job 0123456789ab on analyst. Open Lakedrop to see the results.".into()
            )
        );
        let (summary, body) = words(&Finished::Check { files: 1001, rejected_lines: 3 }, "Sandbox");
        assert_eq!(summary, "Files checked");
        assert_eq!(body, "1,001 files checked: 3 lines HealthLake would reject. Open Lakedrop to see why.");
        let (_, body) = words(&Finished::Check { files: 1, rejected_lines: 0 }, "Sandbox");
        assert_eq!(body, "1 file checked: nothing HealthLake would reject.");
        let (summary, body) = words(&Finished::Upload { files: 14, job_started: true }, "Sandbox");
        assert_eq!(
            (summary.as_str(), body.as_str()),
            ("Upload finished", "14 files uploaded to Sandbox; the import job has started.")
        );
        let (summary, _) = words(&Finished::Upload { files: 14, job_started: false }, "Sandbox");
        assert_eq!(summary, "Import stopped");
    }
}
