//! Joining and grouping a million failures: generates a source file of 1,000,000 resources and a FAILURE set
//! with one line for each, then times parsing + grouping, indexing the source, deciding the lineId base, and
//! reading every original line back; prints the figures and the peak memory (VmHWM). No assertions.
//!
//! Run with `make bench` or `cargo bench -p lakedrop-core --bench results`.

use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use lakedrop_core::results::{Grouper, LineIndex, Unreadable, decide_base, parse_failures};

const LINES: u64 = 1_000_000;

fn main() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("Observation.ndjson");
    let failures = dir.path().join("FAILURE-Observation.ndjson");
    {
        let mut s = BufWriter::new(std::fs::File::create(&source)?);
        let mut f = BufWriter::new(std::fs::File::create(&failures)?);
        for i in 0..LINES {
            writeln!(
                s,
                r#"{{"resourceType":"Observation","id":"obs-{i}","status":"final","code":{{"text":"x"}},"valueQuantity":{{"value":{i}}}}}"#
            )?;
            let (diag, kind) = match i % 3 {
                0 => ("Missing required id field in resource json", "processing"),
                1 => ("Unrecognised property '@foo'", "structure"),
                _ => ("Invalid JSON found in input file", "processing"),
            };
            writeln!(
                f,
                r#"{{"lineId":{},"resourceType":"Observation","resourceId":"obs-{i}","UpdateResourceResponse":{{"jsonBlob":{{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"{kind}","diagnostics":"{diag}"}}]}},"statusCode":400}}}}"#,
                i + 1
            )?;
        }
    }
    let size = std::fs::metadata(&source)?.len() + std::fs::metadata(&failures)?.len();

    let t0 = Instant::now();
    let mut grouper = Grouper::new(20);
    let mut all = Vec::with_capacity(LINES as usize);
    let mut unreadable = Unreadable::default();
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(&failures)?);
    parse_failures(
        "Observation.ndjson",
        &mut reader,
        &mut |f| {
            grouper.add(&f);
            all.push(f);
        },
        &mut unreadable,
    )?;
    let groups = grouper.finish();
    let parsed = t0.elapsed();

    let t1 = Instant::now();
    let index = LineIndex::build(&mut std::fs::File::open(&source)?)?;
    let mut file = std::fs::File::open(&source)?;
    let decision = decide_base(&all, &index, &mut file, 200)?;
    let mut bytes = 0usize;
    for failure in &all {
        if let Some(n) = decision.base.source_line(failure.line_id)
            && let Some(line) = index.read_line(&mut file, n)?
        {
            bytes += line.len();
        }
    }
    let joined = t1.elapsed();
    let total = t0.elapsed();

    println!("1,000,000 failures over a 1,000,000-line source ({:.0} MB of files)", size as f64 / 1e6);
    println!(
        "  parse + group FAILURE lines   {:>7.2} s   ({} groups, {} unreadable)",
        parsed.as_secs_f64(),
        groups.len(),
        unreadable.lines
    );
    println!(
        "  index source + decide + join  {:>7.2} s   ({:?}, {} bytes of original lines read)",
        joined.as_secs_f64(),
        decision.base,
        bytes
    );
    println!("  total                         {:>7.2} s   (target < 5 s)", total.as_secs_f64());
    println!("  peak memory (VmHWM)           {:>7} MB", peak_kb() / 1024);
    Ok(())
}

fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
