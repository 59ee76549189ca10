//! `lakedrop fix`: applies a repair plan (`lakedrop_core::repair`) to NDJSON files, streaming, writes the fixed
//! files and a change record (`changes.ndjson`) into a folder, checks every written line as HealthLake would, and
//! says per rule how many lines it changed and how many lines are still invalid (exit 1 if any are).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use lakedrop_core::files::{expand_paths, write_private};
use lakedrop_core::repair::{Action, FileRepair, RepairPlan, repair_file};
use lakedrop_validate::{Level, Options};
use serde::Serialize;

use crate::output::{Format, print_document, thousands};
use crate::validate::parse_level;

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders (folders are searched for .ndjson and .ndjson.gz).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The repair plan (JSON: version and rules; see the guide's "Fixing rejected lines").
    #[arg(long)]
    plan: PathBuf,
    /// The folder for the fixed files and `changes.ndjson`; made if missing. Files in it are readable by you
    /// alone: they hold patient data.
    #[arg(long)]
    out: PathBuf,
    /// Also write the change record as CSV (`changes.csv`), for an audit.
    #[arg(long)]
    csv: bool,
    /// The HealthLake validation level the fixed lines are checked at.
    #[arg(long, default_value = "structure-only", value_parser = parse_level)]
    level: Level,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FixOutput {
    level: Level,
    files: Vec<FixedFile>,
    rules: Vec<RuleCount>,
    changes_file: PathBuf,
    /// With --csv.
    changes_csv: Option<PathBuf>,
    lines_changed: u64,
    still_invalid: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FixedFile {
    path: PathBuf,
    out: PathBuf,
    #[serde(flatten)]
    report: FileRepair,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleCount {
    rule: usize,
    resource_type: String,
    path: String,
    action: &'static str,
    lines_changed: u64,
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::ReplaceCode { .. } => "replace-code",
        Action::Remove => "remove",
        Action::ReformatDate { .. } => "reformat-date",
        Action::Set { .. } => "set",
    }
}

/// The fixed file's name: the input's, as plain NDJSON (a `.gz` input is written decompressed).
fn out_name(path: &Path) -> String {
    let name = path.file_name().map_or_else(|| "lines.ndjson".into(), |n| n.to_string_lossy().into_owned());
    name.strip_suffix(".gz").map_or(name.clone(), str::to_string)
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("reading the repair plan {}", args.plan.display()))?;
    let plan = RepairPlan::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.plan.display()))?;
    let files = expand_paths(&args.paths)?;
    let mut names = BTreeSet::new();
    for file in &files {
        if !names.insert(out_name(file)) {
            anyhow::bail!(
                "two files are named {}: fix them in two runs, or into two folders, so neither overwrites the other",
                out_name(file)
            );
        }
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("making {}", args.out.display()))?;
    let options =
        Options { level: args.level, list_errors: false, max_warnings_per_file: 0, ..Options::default() };
    let changes_file = args.out.join("changes.ndjson");
    let (out_dir, changes_path) = (args.out.clone(), changes_file.clone());
    let plan_for_work = plan.clone();
    let fixed = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<FixedFile>> {
        let mut fixed = Vec::new();
        let mut failure = None;
        write_private(&changes_path, |changes| {
            for file in &files {
                let out = out_dir.join(out_name(file));
                match repair_file(&plan_for_work, file, &out_name(file), &out, &options, changes) {
                    Ok(report) => fixed.push(FixedFile { path: file.clone(), out, report }),
                    Err(e) => {
                        failure = Some(e);
                        return Err(std::io::Error::other("a file could not be repaired"));
                    }
                }
            }
            Ok(())
        })
        .map_err(|e| failure.take().unwrap_or(e))?;
        Ok(fixed)
    })
    .await??;

    let changes_csv = if args.csv {
        let csv = args.out.join("changes.csv");
        let records = std::io::BufReader::new(
            std::fs::File::open(&changes_file)
                .with_context(|| format!("reading {}", changes_file.display()))?,
        );
        write_private(&csv, |w| lakedrop_core::repair::changes_to_csv(records, w).map(|_| ()))?;
        Some(csv)
    } else {
        None
    };
    let rules: Vec<RuleCount> = plan
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| RuleCount {
            rule: i + 1,
            resource_type: rule.resource_type.clone(),
            path: rule.path.clone(),
            action: action_name(&rule.action),
            lines_changed: fixed.iter().map(|f| f.report.by_rule[i]).sum(),
        })
        .collect();
    let lines_changed: u64 = fixed.iter().map(|f| f.report.changed).sum();
    let still_invalid: u64 = fixed.iter().map(|f| f.report.still_invalid).sum();
    match args.output {
        Format::Json => {
            let output = FixOutput {
                level: args.level,
                files: fixed,
                rules,
                changes_file,
                changes_csv,
                lines_changed,
                still_invalid,
            };
            print_document("fix", &output)?;
        }
        Format::Text => {
            for rule in &rules {
                println!(
                    "rule {} ({} {} {}): {} lines changed",
                    rule.rule,
                    rule.action,
                    rule.resource_type,
                    rule.path,
                    thousands(rule.lines_changed)
                );
            }
            for file in &fixed {
                if file.report.still_invalid > 0 {
                    let lines: Vec<String> =
                        file.report.still_invalid_lines.iter().map(u64::to_string).collect();
                    println!(
                        "{}: {} lines still invalid (lines {}{}); `lakedrop validate {}` says why",
                        file.out.display(),
                        thousands(file.report.still_invalid),
                        lines.join(", "),
                        if file.report.still_invalid > lines.len() as u64 { ", ..." } else { "" },
                        file.out.display()
                    );
                }
            }
            println!(
                "{} lines changed in {} files, written to {}; {} still invalid; changes recorded in {}",
                thousands(lines_changed),
                fixed.len(),
                args.out.display(),
                thousands(still_invalid),
                changes_file.display()
            );
            if let Some(csv) = &changes_csv {
                println!("change record as CSV: {}", csv.display());
            }
        }
    }
    Ok(if still_invalid > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
