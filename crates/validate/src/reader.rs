use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use crate::{Code, FileReport, Issue, Options, Severity, check_line};

/// How far a file's validation has come; passed to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub bytes_done: u64,
    pub lines_done: u64,
}

/// How often (in lines) the progress callback is asked whether to go on.
const PROGRESS_EVERY_LINES: u64 = 2048;

/// Validates one file. `progress` is called now and then; returning `false` stops early with an
/// `io::ErrorKind::Interrupted` error (cancellation).
pub fn validate_path(
    path: &Path,
    options: &Options,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> io::Result<FileReport> {
    let file = File::open(path)?;
    let bytes = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut report = validate_reader(&path.display().to_string(), &mut reader, options, progress)?;
    report.bytes = bytes;
    Ok(report)
}

/// Validates NDJSON from any reader; `path` names it in the report.
pub fn validate_reader(
    path: &str,
    reader: &mut dyn BufRead,
    options: &Options,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> io::Result<FileReport> {
    let name =
        Path::new(path).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
    let expected_type = type_from_file_name(&name);
    let mut report = FileReport { path: path.to_string(), name, ..FileReport::default() };
    let mut line = Vec::with_capacity(64 * 1024);
    let mut line_no = 0u64;
    let mut bytes_done = 0u64;
    let mut untyped_objects = 0u64;
    let mut resources = 0u64;

    loop {
        let (consumed, overflowed) = read_capped_line(reader, &mut line, options.max_line_bytes)?;
        if consumed == 0 {
            break;
        }
        bytes_done += consumed as u64;
        line_no += 1;
        let mut verdict = if overflowed {
            // The line was cut at the limit; report its true length without holding it in memory.
            let mut v = crate::LineVerdict { rejected: true, ..Default::default() };
            v.issues.push(Issue {
                line: line_no,
                code: Code::LineTooLong,
                severity: Severity::Error,
                path: None,
                message: format!(
                    "line is {consumed} bytes, over the {}-byte limit; split the resource or raise the limit",
                    options.max_line_bytes
                ),
            });
            v
        } else {
            check_line(line_no, strip_newline(&line), options)
        };
        if verdict.blank {
            for issue in verdict.issues.drain(..) {
                report.record(issue, options.max_issues_per_file);
            }
            continue;
        }
        report.lines += 1;
        if verdict.untyped_object {
            untyped_objects += 1;
        }
        if let (Some(expected), Some(actual)) = (&expected_type, &verdict.resource_type)
            && expected != actual
        {
            verdict.issues.push(Issue {
                line: line_no,
                code: Code::TypeMismatchInFile,
                severity: Severity::Warning,
                path: Some("resourceType".into()),
                message: format!(
                    "a {actual} in a file named for {expected}; HealthLake imports it, but check the file was not mixed up"
                ),
            });
        }
        if verdict.rejected {
            report.invalid += 1;
        } else {
            report.valid += 1;
            resources += 1;
            if let Some(rt) = verdict.resource_type.take() {
                *report.resource_types.entry(rt).or_default() += 1;
            }
        }
        for issue in verdict.issues {
            report.record(issue, options.max_issues_per_file);
        }
        if line_no.is_multiple_of(PROGRESS_EVERY_LINES)
            && !progress(Progress { bytes_done, lines_done: line_no })
        {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "validation cancelled"));
        }
    }
    report.bytes = bytes_done;
    if resources == 0 && untyped_objects > 0 && untyped_objects * 2 >= report.lines {
        mark_not_fhir(&mut report, untyped_objects);
    }
    progress(Progress { bytes_done, lines_done: line_no });
    Ok(report)
}

/// A file of JSON objects none of which is a resource (a bulk-export log, say) gets one clear file-level issue
/// instead of a `missing-resource-type` per line.
fn mark_not_fhir(report: &mut FileReport, untyped_objects: u64) {
    report.not_fhir = true;
    // Per-line findings on a file that is not FHIR are noise: the one file-level issue replaces them.
    report.by_code.clear();
    report.issues.clear();
    report.issues_truncated = false;
    let issue = Issue {
        line: 1,
        code: Code::NotFhir,
        severity: Severity::Error,
        path: None,
        message: format!(
            "not FHIR: {untyped_objects} of {} lines are JSON objects without a resourceType (a bulk-export log?); leave this file out of the import",
            report.lines
        ),
    };
    report.issues.push(issue);
    *report.by_code.entry(Code::NotFhir).or_default() += 1;
}

/// Bulk exports name files after their type (`Patient.000.ndjson`, `Patient.ndjson`); other names say nothing.
fn type_from_file_name(name: &str) -> Option<String> {
    let stem = name.split('.').next()?;
    crate::is_r4_resource_type(stem).then(|| stem.to_string())
}

fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Reads one line into `buf` (cleared first), keeping at most `cap` bytes of content plus its line ending; the
/// rest of an over-long line is consumed and dropped. Returns the bytes consumed and whether the line was cut.
fn read_capped_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>, cap: usize) -> io::Result<(usize, bool)> {
    buf.clear();
    let keep = cap.saturating_add(2); // room for "\r\n"
    let mut consumed = 0usize;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let (n, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = keep.saturating_sub(buf.len());
        buf.extend_from_slice(&available[..n.min(room)]);
        reader.consume(n);
        consumed += n;
        if done {
            break;
        }
    }
    let content = strip_newline(buf);
    let content = content.strip_suffix(b"\r").unwrap_or(content);
    Ok((consumed, consumed > keep || content.len() > cap))
}
