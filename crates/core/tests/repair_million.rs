//! A repair plan applied to 1,000,000 lines, streaming: every broken line fixed, every other line written as it
//! was, and the process's peak memory far below the file's size (the file is never held whole).

use std::io::{BufWriter, Write};

use lakedrop_core::repair::{RepairPlan, repair_file};
use lakedrop_validate::Options;

const LINES: u64 = 1_000_000;

/// The process's peak resident memory in KiB (Linux), if known.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
}

#[test]
fn a_million_lines_are_repaired_in_constant_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("Patient.ndjson");
    {
        let mut out = BufWriter::new(std::fs::File::create(&input).expect("create"));
        for i in 0..LINES {
            let gender = if i % 4 == 0 { "M" } else { "male" };
            writeln!(
                out,
                r#"{{"resourceType":"Patient","id":"p{i}","active":true,"gender":"{gender}","birthDate":"1970-01-01","name":[{{"family":"Doe{i}"}}]}}"#
            )
            .expect("write");
        }
    }
    let size = std::fs::metadata(&input).expect("meta").len();
    let plan = RepairPlan::parse(
        r#"{"version":1,"rules":[{"resourceType":"Patient","path":"gender","action":"replace-code","map":{"M":"male"}}]}"#,
    )
    .expect("plan");
    let options = Options { list_errors: false, max_warnings_per_file: 0, ..Options::default() };
    let mut changes =
        BufWriter::new(std::fs::File::create(dir.path().join("changes.ndjson")).expect("changes"));
    let out = dir.path().join("fixed.ndjson");
    let report = repair_file(&plan, &input, "Patient.ndjson", &out, &options, &mut changes).expect("repair");
    changes.flush().expect("flush");
    assert_eq!(report.lines, LINES);
    assert_eq!(report.changed, LINES / 4);
    assert_eq!(report.still_invalid, 0);
    let written = std::fs::metadata(&out).expect("out").len();
    assert_eq!(written, size + 3 * (LINES / 4), "each fixed line grows by the three letters of \"ale\"");
    if let Some(peak) = peak_kib() {
        // The file is about 120 MB; holding it (or its output, or its changes) would show here.
        assert!(peak * 1024 < size / 2, "peak {peak} KiB for a {size}-byte file");
    }
}
