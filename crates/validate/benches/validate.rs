//! Validator throughput against serde_json, on the real Synthea sample, and peak memory on a generated 1 GB file.
//!
//! Prints, from one run: MB/s of `check_line` at structure-only on one core beside serde_json parsing each line
//! to `serde_json::Value`, and their ratio; what R4's invariants cost (check_line with them against without); the
//! speed-up of the whole-file validator on 2 threads over 1; and
//! the peak resident memory (VmHWM) after validating a 1 GB file built from the sample lines (unique ids).
//! No assertions: the figures go into the issue notes.
//!
//! Run with `make bench`, or `make bench-data` once and then `cargo bench -p lakedrop-validate --bench validate`
//! (`-- --quick` skips the 1 GB file).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lakedrop_validate::{Options, check_line, validate_path, validate_reader};

/// The repository's 10-patient sample and the larger sets `make bench-data` writes under target/bench-data/synthea,
/// each folder's FHIR files (not its log, LICENSE or README); `None` when the larger sets are not there.
fn sample_lines() -> Option<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bigger = root.join("target/bench-data/synthea");
    let mut dirs = vec![root.join("samples/synthea-10-patients")];
    for entry in std::fs::read_dir(&bigger).ok()? {
        dirs.push(entry.expect("entry").path());
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).expect("sample folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "ndjson")
                && path.file_name().is_some_and(|n| n != "log.ndjson")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(
        files
            .iter()
            .flat_map(|p| {
                std::fs::read_to_string(p).expect("read").lines().map(str::to_string).collect::<Vec<_>>()
            })
            .collect(),
    )
}

/// Runs `f` over the data until at least `min` has passed; returns MB/s.
fn throughput(bytes: usize, min: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let start = Instant::now();
    let mut rounds = 0u32;
    while start.elapsed() < min {
        f();
        rounds += 1;
    }
    (bytes as f64 * f64::from(rounds)) / start.elapsed().as_secs_f64() / 1e6
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Validates one file in this process and prints its peak memory: run by `main` as a child process, so the
/// figure is the validator's alone.
fn peak_of(path: &Path) {
    let start = Instant::now();
    let report = validate_path(path, &Options::default(), &mut |_| true).expect("read");
    let took = start.elapsed();
    let size = std::fs::metadata(path).expect("meta").len();
    println!(
        "{:.2} GB, {} lines, {} invalid: {:.1} s ({:.0} MB/s, all cores), peak RSS {:.0} MiB",
        size as f64 / 1e9,
        report.lines,
        report.invalid,
        took.as_secs_f64(),
        size as f64 / took.as_secs_f64() / 1e6,
        peak_rss_mib()
    );
}

fn generate(path: &Path, lines: &[String], target: usize) {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create"));
    let (mut written, mut n) = (0usize, 0u64);
    while written < target {
        for line in lines {
            // Unique ids, so the duplicate-id index holds every resource, as a real export would.
            let value = line.replacen("\"id\":\"", &format!("\"id\":\"b{n}-"), 1);
            out.write_all(value.as_bytes()).expect("write");
            out.write_all(b"\n").expect("write");
            written += value.len() + 1;
            n += 1;
            if written >= target {
                break;
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--peak-of") {
        return peak_of(Path::new(&args[i + 1]));
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let Some(lines) = sample_lines() else {
        eprintln!(
            "The validator benchmark reads larger Synthea sets from target/bench-data/synthea, which is not there: \
             run `make bench-data` first (`make bench` does)."
        );
        std::process::exit(2);
    };
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let options = Options::default();
    let min = Duration::from_secs(if quick { 1 } else { 4 });
    println!("sample: {} lines, {:.1} MB of Synthea NDJSON", lines.len(), bytes as f64 / 1e6);

    let serde = throughput(bytes, min, || {
        for line in &lines {
            let value: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
            std::hint::black_box(value);
        }
    });
    let ours = throughput(bytes, min, || {
        for (i, line) in lines.iter().enumerate() {
            std::hint::black_box(check_line(i as u64 + 1, line.as_bytes(), &options));
        }
    });
    let without = Options { invariants: false, ..Options::default() };
    let bare = throughput(bytes, min, || {
        for (i, line) in lines.iter().enumerate() {
            std::hint::black_box(check_line(i as u64 + 1, line.as_bytes(), &without));
        }
    });
    println!(
        "one core: serde_json to Value {serde:.0} MB/s; check_line (structure-only) {ours:.0} MB/s; ratio {:.2}x",
        ours / serde
    );
    println!(
        "R4 invariants: check_line without them {bare:.0} MB/s, with them {ours:.0} MB/s; they cost {:.1}%",
        (1.0 - ours / bare) * 100.0
    );

    let mut text = String::with_capacity(bytes * 4);
    for _ in 0..4 {
        for line in &lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    let file = |threads: usize| {
        let options = Options { threads, max_warnings_per_file: 10, ..Options::default() };
        throughput(text.len(), min, || {
            let report = validate_reader("sample.ndjson", &mut text.as_bytes(), &options, &mut |_| true)
                .expect("read");
            std::hint::black_box(report);
        })
    };
    let (t1, t2) = (file(1), file(2));
    println!("whole file: 1 thread {t1:.0} MB/s; 2 threads {t2:.0} MB/s; speed-up {:.2}x", t2 / t1);
    drop(text);

    if quick {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (label, size) in [("100 MB", 100 << 20), ("1 GB", 1 << 30)] {
        let path = dir.path().join("big.ndjson");
        generate(&path, &lines, size);
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .arg("--peak-of")
            .arg(&path)
            .output()
            .expect("child");
        print!("{label} file: {}", String::from_utf8_lossy(&out.stdout));
    }
}
