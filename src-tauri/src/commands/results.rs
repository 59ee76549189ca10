use std::sync::Arc;

use lakedrop_aws::results::{JoinSource, Joined, Retry, RetryLines, failures_together, retry};
use lakedrop_core::repair::RepairPlan;
use lakedrop_core::results::{Cause, Failure, Group, Unreadable};
use lakedrop_validate::Level;
use serde::Serialize;

use crate::session::JobFailures;
use crate::{AppState, ErrorCode, IpcError};

/// A group of failures with what its cause means and what to do.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CauseGroup {
    pub group: Group,
    pub explanation: String,
    pub fix: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FailureSummary {
    pub total: u32,
    pub groups: Vec<CauseGroup>,
    pub unreadable: Unreadable,
    /// Per input file: where its original lines come from and how lineId was read.
    pub sources: Vec<JoinSource>,
}

/// Loads the failures of a finished job, or of the jobs of one import together (once; later calls answer from
/// memory), grouped by cause.
#[tauri::command]
#[specta::specta]
pub async fn failure_summary(
    state: tauri::State<'_, AppState>,
    job_ids: Vec<String>,
) -> Result<FailureSummary, IpcError> {
    let loaded = load(&state, &job_ids).await?;
    let groups = loaded
        .groups
        .iter()
        .map(|g| CauseGroup {
            group: g.clone(),
            explanation: g.cause.explanation().into(),
            fix: g.cause.fix().into(),
        })
        .collect();
    let total = u32::try_from(loaded.failures.len()).unwrap_or(u32::MAX);
    Ok(FailureSummary {
        total,
        groups,
        unreadable: loaded.unreadable.clone(),
        sources: loaded.sources.describe(),
    })
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FailurePage {
    /// Rows matching the filter, in all.
    pub total: u32,
    pub rows: Vec<Joined>,
}

/// One page of failures (at most 500), filtered, each beside its original line.
#[tauri::command]
#[specta::specta]
#[allow(clippy::too_many_arguments)]
pub async fn failure_rows(
    state: tauri::State<'_, AppState>,
    job_ids: Vec<String>,
    offset: u32,
    limit: u32,
    cause: Option<Cause>,
    resource_type: Option<String>,
    file: Option<String>,
) -> Result<FailurePage, IpcError> {
    super::bounds::jobs(&job_ids)?;
    if let Some(resource_type) = &resource_type {
        super::bounds::id("the resource type", resource_type, 64)?;
    }
    if let Some(file) = &file {
        super::bounds::text("the file name", file, 1024)?;
    }
    let loaded = load(&state, &job_ids).await?;
    let keep = |f: &&Failure| {
        cause.is_none_or(|c| f.cause == c)
            && resource_type.as_deref().is_none_or(|t| f.resource_type.as_deref() == Some(t))
            && file.as_deref().is_none_or(|name| f.file == name)
    };
    let matching: Vec<&Failure> = loaded.failures.iter().filter(keep).collect();
    let rows = matching
        .iter()
        .skip(offset as usize)
        .take(limit.min(500) as usize)
        .map(|f| loaded.sources.join(f))
        .collect();
    Ok(FailurePage { total: u32::try_from(matching.len()).unwrap_or(u32::MAX), rows })
}

/// Asks where to save, then writes the failed original lines (all, or one cause's) there as NDJSON. The path
/// comes from the native dialog opened here, never from the webview. `None` when the analyst cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_failures(
    state: tauri::State<'_, AppState>,
    job_ids: Vec<String>,
    cause: Option<Cause>,
) -> Result<Option<u32>, IpcError> {
    let loaded = load(&state, &job_ids).await?;
    // Byte for byte: the lines go out exactly as they came in, whatever their encoding.
    let lines: Vec<Vec<u8>> = loaded
        .failures
        .iter()
        .filter(|f| cause.is_none_or(|c| f.cause == c))
        .filter_map(|f| loaded.sources.original_bytes(f))
        .collect();
    let name = format!(
        "failed-{}{}{}.ndjson",
        &job_ids[0].chars().take(12).collect::<String>(),
        if job_ids.len() > 1 { format!("-and-{}-more", job_ids.len() - 1) } else { String::new() },
        cause.map(|c| format!("-{}", c.as_str())).unwrap_or_default()
    );
    let dialog = state
        .save_dialog()
        .ok_or_else(|| IpcError::new(ErrorCode::Internal, "no save dialog in this window"))?;
    let picked = tauri::async_runtime::spawn_blocking(move || dialog(&name)).await.ok().flatten();
    let Some(path) = picked else { return Ok(None) };
    lakedrop_core::files::write_private(&path, |w| {
        for line in &lines {
            w.write_all(line)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    Ok(Some(u32::try_from(lines.len()).unwrap_or(u32::MAX)))
}

/// Imports only the failed lines of a job, or of the jobs of one import together, again (all, or one cause's) as
/// one new job named after the first, at `level` or, by
/// default, at the level this job ran at. With a repair plan (JSON, as saved) or lines repaired by hand (kept
/// with `keep_repair`), only the repaired lines that pass go; the change record stays with the new job.
#[tauri::command]
#[specta::specta]
pub async fn retry_failures(
    state: tauri::State<'_, AppState>,
    job_ids: Vec<String>,
    cause: Option<Cause>,
    level: Option<Level>,
    plan: Option<String>,
) -> Result<Retry, IpcError> {
    let key = super::bounds::jobs(&job_ids)?;
    let plan = match plan {
        Some(text) => {
            super::bounds::text("the repair plan", &text, 1024 * 1024)?;
            Some(
                RepairPlan::parse(&text)
                    .map_err(|e| IpcError::new(ErrorCode::InvalidInput, e.to_string()))?,
            )
        }
        None => None,
    };
    let session = state.session().await?;
    let destination = crate::session::chosen(&session)?;
    let history = state.history().await?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let which = RetryLines { cause, plan, by_hand: state.by_hand(&key) };
    let started = retry(&session.clients, &history, &destination, &job_ids, &which, level, now).await?;
    if which.repairs() {
        state.clear_by_hand(&key);
        state.keep_change_record(&started.job_id, started.changes.clone());
    }
    Ok(started)
}

/// The failures of the jobs named (one, or the jobs of one import), from memory once read.
pub(crate) async fn load(state: &AppState, job_ids: &[String]) -> Result<Arc<JobFailures>, IpcError> {
    let key = super::bounds::jobs(job_ids)?;
    if let Some(cached) = state.cached_failures(&key) {
        return Ok(cached);
    }
    let session = state.session().await?;
    let datastore = crate::session::chosen(&session)?.datastore_id;
    let history = state.history().await?;
    let (found, sources) = failures_together(&session.clients, &history, &datastore, job_ids).await?;
    let loaded = Arc::new(JobFailures {
        failures: found.failures,
        groups: found.groups,
        unreadable: found.unreadable,
        sources,
    });
    state.cache_failures(&key, loaded.clone());
    Ok(loaded)
}
