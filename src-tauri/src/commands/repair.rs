//! Fixing rejected lines (issue 18): one resource checked as it is edited, with its quick fixes; repairs kept by
//! hand; a repair plan previewed on a job's failures; the change record of a retry; plans saved and opened.
//!
//! Resource contents pass through here only in memory: the change record's values go to disk only where the
//! person saves them, and the local state keeps their paths alone.

use lakedrop_aws::results::{HeldBack, RetryLines, first_level, prepare};
use lakedrop_core::quickfix::{QuickFix, one_line, record_line_by_hand, suggest};
use lakedrop_core::repair::{ChangeRecord, RepairPlan};
use lakedrop_core::results::Cause;
use lakedrop_validate::{Code, Level, Options, Severity, check_line};
use serde::Serialize;
use serde_json::Value;

use super::results::load;
use crate::{AppState, ErrorCode, IpcError};

/// The largest resource the editor sends: far above any real one, far below the validator's line limit.
const MAX_RESOURCE: usize = 8 * 1024 * 1024;
/// The largest plan read or written.
const MAX_PLAN: usize = 1024 * 1024;
/// How many change record rows the window is sent at once.
const LISTED_CHANGES: usize = 1000;

/// One issue in the resource being edited, with the repair the app can offer for it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EditorIssue {
    pub code: Code,
    pub severity: Severity,
    /// The validator's path of the element (`Patient.name[0].use`).
    pub path: Option<String>,
    pub message: String,
    pub fix: Option<QuickFix>,
}

/// Where the JSON itself breaks, 1-based.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct JsonSyntax {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ResourceCheck {
    /// HealthLake would reject the resource at the level checked.
    pub rejected: bool,
    pub issues: Vec<EditorIssue>,
    pub syntax: Option<JsonSyntax>,
}

fn resource_text(text: &str) -> Result<(), IpcError> {
    if text.len() > MAX_RESOURCE {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            format!("the resource is larger than {} MB", MAX_RESOURCE / 1024 / 1024),
        ));
    }
    Ok(())
}

fn check(text: &str, level: Level) -> ResourceCheck {
    let options = Options { level, list_errors: true, ..Options::default() };
    let line = one_line(text);
    let verdict = check_line(1, line.as_bytes(), &options);
    let (value, syntax) = match serde_json::from_str::<Value>(text) {
        Ok(value) => (Some(value), None),
        Err(e) => (
            None,
            Some(JsonSyntax {
                line: u32::try_from(e.line()).unwrap_or(u32::MAX),
                column: u32::try_from(e.column()).unwrap_or(u32::MAX),
                message: e.to_string(),
            }),
        ),
    };
    let issues = verdict
        .issues
        .into_iter()
        .map(|issue| EditorIssue {
            fix: value.as_ref().and_then(|v| suggest(v, &issue)),
            code: issue.code,
            severity: issue.severity,
            path: issue.path,
            message: issue.message,
        })
        .collect();
    ResourceCheck { rejected: verdict.rejected, issues, syntax }
}

/// Checks one resource as the editor holds it (JSON over many lines) as HealthLake would check it at `level`
/// (Lakedrop's default without one), with a quick fix for each issue whose cause allows one.
#[tauri::command]
#[specta::specta]
pub async fn check_resource(text: String, level: Option<Level>) -> Result<ResourceCheck, IpcError> {
    resource_text(&text)?;
    Ok(check(&text, level.unwrap_or_default()))
}

/// A changed element, values as JSON text.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    pub file: String,
    pub line: u64,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The plan's rule, counted from 1; `None` for a repair by hand.
    pub rule: Option<u32>,
}

impl From<&ChangeRecord> for ChangeView {
    fn from(c: &ChangeRecord) -> ChangeView {
        ChangeView {
            file: c.file.clone(),
            line: c.line,
            resource_type: c.resource_type.clone(),
            resource_id: c.resource_id.clone(),
            path: c.path.clone(),
            before: c.before.as_ref().map(Value::to_string),
            after: c.after.as_ref().map(Value::to_string),
            rule: c.rule.and_then(|r| u32::try_from(r + 1).ok()),
        }
    }
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct KeptRepair {
    /// Lines of this job repaired by hand and kept, this one included.
    pub kept: u32,
    /// The kept line would still be rejected (the re-import will hold it back).
    pub rejected: bool,
    /// What the repair changed, element by element.
    pub changes: Vec<ChangeView>,
}

/// Keeps a failed line as repaired by hand (`text`), to be re-imported with the job's fixed lines, or forgets
/// the repair (`text` null). Nothing is written to disk.
#[tauri::command]
#[specta::specta]
pub async fn keep_repair(
    state: tauri::State<'_, AppState>,
    job_ids: Vec<String>,
    file: String,
    line_id: u64,
    text: Option<String>,
    level: Option<Level>,
) -> Result<KeptRepair, IpcError> {
    let key = super::bounds::jobs(&job_ids)?;
    super::bounds::text("the file name", &file, 1024)?;
    let Some(text) = text else {
        let kept = state.set_by_hand(&key, &file, line_id, None);
        return Ok(KeptRepair { kept: kept as u32, rejected: false, changes: Vec::new() });
    };
    resource_text(&text)?;
    // Checked for a clear message: what is kept must at least be JSON.
    serde_json::from_str::<Value>(&text).map_err(|e| {
        IpcError::new(
            ErrorCode::InvalidInput,
            format!(
                "the resource is not JSON at line {}, column {}: {e}; fix it before keeping it",
                e.line(),
                e.column()
            ),
        )
    })?;
    let loaded = load(&state, &job_ids).await?;
    let failure =
        loaded.failures.iter().find(|f| f.file == file && f.line_id == line_id).ok_or_else(|| {
            IpcError::new(
                ErrorCode::InvalidInput,
                format!("job {} has no failure at line {line_id} of {file}", job_ids.join(", ")),
            )
        })?;
    let original = loaded.sources.original_bytes(failure).ok_or_else(|| {
        IpcError::new(
            ErrorCode::InvalidInput,
            format!("the original line {line_id} of {file} cannot be found"),
        )
    })?;
    let named = (failure.resource_type.clone(), failure.resource_id.clone());
    let line = one_line(&text);
    let changes = record_line_by_hand(&file, line_id, &original, line.as_bytes(), named);
    let level = match level {
        Some(level) => level,
        None => job_level(&state, &job_ids[0]).await?,
    };
    let rejected = check(&text, level).rejected;
    let kept = state.set_by_hand(&key, &file, line_id, Some(line));
    Ok(KeptRepair { kept: kept as u32, rejected, changes: changes.iter().map(ChangeView::from).collect() })
}

async fn job_level(state: &AppState, job_id: &str) -> Result<Level, IpcError> {
    let session = state.session().await?;
    let datastore = crate::session::chosen(&session)?.datastore_id;
    Ok(first_level(&session.clients, &datastore, job_id).await?)
}

fn parse_plan(text: &str) -> Result<RepairPlan, IpcError> {
    if text.len() > MAX_PLAN {
        return Err(IpcError::new(ErrorCode::InvalidInput, "the repair plan is larger than 1 MB"));
    }
    RepairPlan::parse(text).map_err(|e| IpcError::new(ErrorCode::InvalidInput, e.to_string()))
}

/// A line the plan repaired, before and after, for a preview.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RepairSample {
    pub file: String,
    pub line_id: u64,
    pub before: String,
    pub after: String,
    pub changes: Vec<ChangeView>,
}

/// What a plan (and the repairs by hand kept) would do to a job's failed lines, nothing sent.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RepairPreview {
    /// Failed lines in scope (all, or the cause's).
    pub failed: u64,
    /// Lines that would be re-imported: repaired by the plan or by hand, and passing.
    pub lines: u64,
    pub repaired: u64,
    pub by_hand: u64,
    /// Lines not fixed: no rule applies, or they would still be rejected; the first hundred with why.
    pub held_back: u64,
    pub held_back_lines: Vec<HeldBack>,
    /// Failed lines whose original could not be found.
    pub missing: u64,
    /// Per rule, how many of the lines re-imported it changed.
    pub by_rule: Vec<u64>,
    pub samples: Vec<RepairSample>,
}

/// Applies a plan (JSON, as saved) with the repairs kept by hand to a job's failed lines, all or one cause's,
/// and says what a re-import would send: counts, a sample, and the lines it would not fix.
#[tauri::command]
#[specta::specta]
pub async fn preview_repair(
    state: tauri::State<'_, AppState>,
    job_ids: Vec<String>,
    cause: Option<Cause>,
    plan: String,
    level: Option<Level>,
) -> Result<RepairPreview, IpcError> {
    let key = super::bounds::jobs(&job_ids)?;
    let plan = parse_plan(&plan)?;
    let loaded = load(&state, &job_ids).await?;
    let level = match level {
        Some(level) => level,
        None => job_level(&state, &job_ids[0]).await?,
    };
    let which = RetryLines { cause, plan: Some(plan), by_hand: state.by_hand(&key) };
    let failed = loaded.failures.iter().filter(|f| cause.is_none_or(|c| f.cause == c)).count() as u64;
    let prepared = tauri::async_runtime::spawn_blocking(move || {
        prepare(loaded.failures.iter(), &loaded.sources, &which, level)
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, format!("the preview stopped: {e}")))?;
    let view = |c: &lakedrop_core::repair::Change, s: &lakedrop_aws::results::Sample| ChangeView {
        file: s.file.clone(),
        line: s.line_id,
        resource_type: None,
        resource_id: None,
        path: c.path.clone(),
        before: c.before.as_ref().map(Value::to_string),
        after: c.after.as_ref().map(Value::to_string),
        rule: u32::try_from(c.rule + 1).ok(),
    };
    Ok(RepairPreview {
        failed,
        lines: prepared.lines,
        repaired: prepared.repaired,
        by_hand: prepared.by_hand,
        held_back: prepared.held_back,
        held_back_lines: prepared.held_back_lines,
        missing: prepared.missing,
        by_rule: prepared.by_rule,
        samples: prepared
            .samples
            .iter()
            .map(|s| RepairSample {
                file: s.file.clone(),
                line_id: s.line_id,
                before: s.before.clone(),
                after: s.after.clone(),
                changes: s.changes.iter().map(|c| view(c, s)).collect(),
            })
            .collect(),
    })
}

/// A retry job's change record.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecordView {
    /// Lines changed (a line with several changed elements counts once).
    pub lines: u64,
    /// Elements changed.
    pub elements: u64,
    /// The values are known (the retry was started in this run); otherwise only where the changes were.
    pub with_values: bool,
    /// The first thousand changes.
    pub rows: Vec<ChangeView>,
}

async fn records(state: &AppState, job_id: &str) -> Result<(Vec<ChangeRecord>, bool), IpcError> {
    if let Some(kept) = state.change_record(job_id) {
        return Ok((kept.as_ref().clone(), true));
    }
    Ok((state.history().await?.repairs(job_id).map_err(lakedrop_aws::AwsError::from)?, false))
}

/// The change record of a job that re-imported repaired lines (empty for any other job).
#[tauri::command]
#[specta::specta]
pub async fn change_record(
    state: tauri::State<'_, AppState>,
    job_id: String,
) -> Result<ChangeRecordView, IpcError> {
    super::bounds::id("the job id", &job_id, 64)?;
    let (records, with_values) = records(&state, &job_id).await?;
    let lines = records.iter().map(|r| (&r.file, r.line)).collect::<std::collections::BTreeSet<_>>().len();
    Ok(ChangeRecordView {
        lines: lines as u64,
        elements: records.len() as u64,
        with_values,
        rows: records.iter().take(LISTED_CHANGES).map(ChangeView::from).collect(),
    })
}

/// Asks where to save, then writes a retry job's change record there, as CSV (for an audit) or NDJSON, readable
/// by the person alone. `None` when the dialog was cancelled, else how many changes were written.
#[tauri::command]
#[specta::specta]
pub async fn save_change_record(
    state: tauri::State<'_, AppState>,
    job_id: String,
    csv: bool,
) -> Result<Option<u32>, IpcError> {
    super::bounds::id("the job id", &job_id, 64)?;
    let (records, _) = records(&state, &job_id).await?;
    if records.is_empty() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            format!("job {job_id} re-imported no repaired lines"),
        ));
    }
    let mut ndjson = Vec::new();
    for record in &records {
        serde_json::to_writer(&mut ndjson, record).map_err(|e| {
            IpcError::new(ErrorCode::Internal, format!("cannot write the change record: {e}"))
        })?;
        ndjson.push(b'\n');
    }
    let short: String = job_id.chars().take(12).collect();
    let name = format!("changes-{short}.{}", if csv { "csv" } else { "ndjson" });
    let Some(path) = save_dialog(&state, name).await? else { return Ok(None) };
    lakedrop_core::files::write_private(&path, |w| {
        if csv {
            lakedrop_core::repair::changes_to_csv(ndjson.as_slice(), w).map(|_| ())
        } else {
            w.write_all(&ndjson)
        }
    })?;
    Ok(Some(u32::try_from(records.len()).unwrap_or(u32::MAX)))
}

async fn save_dialog(state: &AppState, name: String) -> Result<Option<std::path::PathBuf>, IpcError> {
    let dialog = state
        .save_dialog()
        .ok_or_else(|| IpcError::new(ErrorCode::Internal, "no save dialog in this window"))?;
    Ok(tauri::async_runtime::spawn_blocking(move || dialog(&name)).await.ok().flatten())
}

/// Checks a plan and saves it where the person picks, for the CLI (`lakedrop fix --plan`, `lakedrop retry
/// --plan`) or next month's export. `None` when cancelled, else the file's name.
#[tauri::command]
#[specta::specta]
pub async fn save_repair_plan(
    state: tauri::State<'_, AppState>,
    plan: String,
) -> Result<Option<String>, IpcError> {
    let plan = parse_plan(&plan)?;
    let text = serde_json::to_string_pretty(&plan)
        .map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot write the plan: {e}")))?;
    let Some(path) = save_dialog(&state, "repair-plan.json".into()).await? else { return Ok(None) };
    lakedrop_core::files::write_private(&path, |w| {
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")
    })?;
    Ok(Some(path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())))
}

/// Opens a plan the person picks, checked; `None` when cancelled. The plan comes back as JSON text.
#[tauri::command]
#[specta::specta]
pub async fn open_repair_plan(state: tauri::State<'_, AppState>) -> Result<Option<String>, IpcError> {
    let dialog = state
        .pick_dialog()
        .ok_or_else(|| IpcError::new(ErrorCode::Internal, "no open dialog in this window"))?;
    let picked = tauri::async_runtime::spawn_blocking(move || dialog(crate::session::Pick::Plan))
        .await
        .unwrap_or_default();
    let Some(path) = picked.into_iter().next() else { return Ok(None) };
    let read =
        |e: std::io::Error| IpcError::new(ErrorCode::Io, format!("cannot read {}: {e}", path.display()));
    if std::fs::metadata(&path).map_err(read)?.len() > MAX_PLAN as u64 {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            format!("{} is larger than 1 MB", path.display()),
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(read)?;
    let plan = parse_plan(&text)
        .map_err(|e| IpcError::new(ErrorCode::InvalidInput, format!("{}: {}", path.display(), e.message)))?;
    Ok(Some(serde_json::to_string(&plan).map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?))
}

/// A line of a local file repaired by hand (1-based), as the editor holds it.
#[derive(Debug, Clone, serde::Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct HandLine {
    pub line: u64,
    pub text: String,
}

/// What repairing a local file does (or did): counts, the lines still rejected, and the changes.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FileFix {
    pub lines: u64,
    /// Lines a rule of the plan changed.
    pub changed: u64,
    pub by_hand: u64,
    pub by_rule: Vec<u64>,
    pub still_invalid: u64,
    /// The first hundred of those, 1-based.
    pub still_invalid_lines: Vec<u64>,
    /// The first thousand changes.
    pub changes: Vec<ChangeView>,
    /// Where the fixed copy was saved (and may now be read: it counts as picked); `None` for a preview, or when
    /// the dialog was cancelled.
    pub saved_as: Option<String>,
}

/// Repairs a dropped or picked file before it is imported, with a plan (JSON, as saved) and lines repaired by
/// hand: a preview that writes nothing (`save` false), or a fixed copy saved where the person picks, 0600, with
/// its change record beside it (`<name>.changes.ndjson`, also 0600). No temporary copy is made.
#[tauri::command]
#[specta::specta]
pub async fn fix_file(
    state: tauri::State<'_, AppState>,
    path: String,
    plan: Option<String>,
    by_hand: Vec<HandLine>,
    save: bool,
    level: Option<Level>,
) -> Result<FileFix, IpcError> {
    super::bounds::text("the path", &path, super::bounds::MAX_PATH)?;
    if by_hand.len() > 100_000 {
        return Err(IpcError::new(ErrorCode::InvalidInput, "more than 100,000 lines repaired by hand"));
    }
    let input = state.checked_path(&path)?;
    let plan = match plan {
        Some(text) => parse_plan(&text)?,
        None => RepairPlan { version: lakedrop_core::repair::PLAN_VERSION, rules: Vec::new() },
    };
    let mut hand = lakedrop_core::repair::ByHand::new();
    for line in by_hand {
        resource_text(&line.text)?;
        hand.insert(line.line, one_line(&line.text));
    }
    let label = input.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let target = if save {
        let stem = label.strip_suffix(".ndjson").unwrap_or(&label);
        match save_dialog(&state, format!("{stem}.fixed.ndjson")).await? {
            Some(target) => Some(target),
            None => return Ok(FileFix::cancelled()),
        }
    } else {
        None
    };
    let options = Options { level: level.unwrap_or_default(), ..Options::default() };
    let fixed = tauri::async_runtime::spawn_blocking(
        move || -> Result<(FileFix, Option<std::path::PathBuf>), IpcError> {
            let mut changes = Vec::new();
            let report =
                match &target {
                    None => lakedrop_core::repair::repair_into(
                        &plan,
                        &hand,
                        &input,
                        &label,
                        &mut std::io::sink(),
                        &options,
                        &mut changes,
                    )?,
                    Some(out) => {
                        let mut report = None;
                        let mut failure = None;
                        let written = lakedrop_core::files::write_private(out, |w| {
                            match lakedrop_core::repair::repair_into(
                                &plan,
                                &hand,
                                &input,
                                &label,
                                w,
                                &options,
                                &mut changes,
                            ) {
                                Ok(r) => {
                                    report = Some(r);
                                    Ok(())
                                }
                                Err(e) => {
                                    let text = e.to_string();
                                    failure = Some(e);
                                    Err(std::io::Error::other(text))
                                }
                            }
                        });
                        if let Some(e) = failure {
                            return Err(e.into());
                        }
                        written?;
                        let record = out.with_extension("changes.ndjson");
                        lakedrop_core::files::write_private(&record, |w| w.write_all(&changes))?;
                        report.unwrap_or_default()
                    }
                };
            let records: Vec<ChangeRecord> = changes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .take(LISTED_CHANGES)
                .filter_map(|l| serde_json::from_slice(l).ok())
                .collect();
            Ok((
                FileFix {
                    lines: report.lines,
                    changed: report.changed,
                    by_hand: report.by_hand,
                    by_rule: report.by_rule,
                    still_invalid: report.still_invalid,
                    still_invalid_lines: report.still_invalid_lines,
                    changes: records.iter().map(ChangeView::from).collect(),
                    saved_as: target.as_ref().map(|p| p.display().to_string()),
                },
                target,
            ))
        },
    )
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, format!("the repair stopped: {e}")))??;
    let (fix, target) = fixed;
    if let Some(target) = target {
        state.allow_paths(&[target]);
    }
    Ok(fix)
}

impl FileFix {
    fn cancelled() -> FileFix {
        FileFix {
            lines: 0,
            changed: 0,
            by_hand: 0,
            by_rule: Vec::new(),
            still_invalid: 0,
            still_invalid_lines: Vec::new(),
            changes: Vec::new(),
            saved_as: None,
        }
    }
}
