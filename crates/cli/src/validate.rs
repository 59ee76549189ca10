//! `lakedrop validate`: compiler-style diagnostics for NDJSON, or a JSON report.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::output::{Format, print_document, thousands};
use crate::schema::{ValidateOutput, ValidateSummary};
use lakedrop_core::CancellationToken;
use lakedrop_core::files::{expand_paths, validate_files};
use lakedrop_validate::{FileReport, Issue, Level, Options, Severity};

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders (folders are searched for .ndjson, .ndjson.gz and Bundles in .json and .json.gz).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The HealthLake validation level to predict.
    #[arg(long, default_value = "structure-only", value_parser = parse_level)]
    level: Level,
    /// Import each Bundle as one Bundle resource instead of as its entries (Bundles are unbundled by default:
    /// HealthLake stores a Bundle on a line as one Bundle resource, which is rarely what is wanted).
    #[arg(long)]
    keep_bundles: bool,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

pub fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s)
        .ok_or_else(|| format!("'{s}' is not a validation level: use strict, structure-only or minimal"))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = Options { level: args.level, keep_bundles: args.keep_bundles, ..Options::default() };
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let files = expand_paths(&args.paths)?;
        Ok(validate_files(&files, &options, &mut |_| {}, &CancellationToken::new())?)
    })
    .await??;
    let blocked = report.files.iter().any(|f| f.blocks_anything())
        || report.issues.iter().any(|i| i.severity == Severity::Error);
    match args.output {
        Format::Json => {
            let mut by_code = std::collections::BTreeMap::new();
            for (code, n) in report.files.iter().flat_map(|f| &f.by_code) {
                *by_code.entry(*code).or_insert(0u64) += n;
            }
            for issue in &report.issues {
                *by_code.entry(issue.code).or_insert(0u64) += 1;
            }
            let summary = ValidateSummary {
                files: report.files.len() as u64,
                valid: report.valid,
                invalid: report.invalid,
                not_fhir: report.files.iter().filter(|f| f.not_fhir).count() as u64,
                by_code,
                blocked,
            };
            let output =
                ValidateOutput { level: args.level, files: &report.files, issues: &report.issues, summary };
            print_document("validate", &output)?;
        }
        Format::Text => {
            for issue in &report.issues {
                println!("error: {} [{}]", issue.message, issue.code);
            }
            for file in &report.files {
                print_file(file);
            }
            let not_fhir = report.files.iter().filter(|f| f.not_fhir).count();
            println!(
                "{} resources valid, {} lines would be rejected, in {} files{}",
                thousands(report.valid),
                thousands(report.invalid),
                report.files.len(),
                if not_fhir > 0 { format!(" ({not_fhir} not FHIR)") } else { String::new() }
            );
        }
    }
    Ok(if blocked { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Every error, one per line, like a compiler; warnings, which are often thousands of the same kind (conditional
/// references in bulk exports), once per group with a count and the first example.
fn print_file(file: &FileReport) {
    let location = |issue: &Issue| {
        let path = issue.path.as_deref().map(|p| format!("{p}: ")).unwrap_or_default();
        format!("{}:{}: {path}{} [{}]", file.path, issue.line, issue.message, issue.code)
    };
    for issue in file.issues.iter().filter(|i| i.severity == Severity::Error) {
        println!("{}", location(issue));
    }
    for group in file.groups.iter().filter(|g| g.severity == Severity::Warning) {
        let Some(first) = group.examples.first() else { continue };
        let times = if group.count > 1 {
            format!(" ({} lines like it)", thousands(group.count))
        } else {
            String::new()
        };
        println!("warning: {}{times}", location(first));
    }
}
