//! `lakedrop fix`'s engine beside the validator on the same file: 1,000,000 lines made from the Synthea sample
//! (a fresh id each; every tenth Patient with gender `M`, every tenth Encounter with an element R4 lacks), then
//! `validate_files` (what `lakedrop validate` runs) and `repair_file` with a three-rule plan (which also checks
//! every line it writes) timed over it, beside a plain copy of the file (what writing it costs). Prints MB/s and
//! the ratios; no assertions.
//!
//! Run with `make bench` or `cargo bench -p lakedrop-core --bench repair`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use lakedrop_core::CancellationToken;
use lakedrop_core::files::validate_files;
use lakedrop_core::repair::{RepairPlan, repair_file};
use lakedrop_validate::Options;

const LINES: usize = 1_000_000;

fn main() -> std::io::Result<()> {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients");
    let mut pool = Vec::new();
    for name in
        ["Patient.000.ndjson", "Encounter.000.ndjson", "Condition.000.ndjson", "Immunization.000.ndjson"]
    {
        pool.extend(std::fs::read_to_string(sample.join(name))?.lines().map(str::to_string));
    }
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("mixed.ndjson");
    {
        let mut out = BufWriter::new(std::fs::File::create(&input)?);
        for i in 0..LINES {
            let line = pool[i % pool.len()].replacen("\"id\":\"", &format!("\"id\":\"b{i}-"), 1);
            let line = if i % 10 == 0 && line.contains("\"gender\":\"female\"") {
                line.replacen("\"gender\":\"female\"", "\"gender\":\"F\"", 1)
            } else if i % 10 == 0 && line.starts_with("{\"resourceType\":\"Encounter\"") {
                line.replacen(
                    "{\"resourceType\":\"Encounter\",",
                    "{\"resourceType\":\"Encounter\",\"legacyCode\":\"A\",",
                    1,
                )
            } else {
                line
            };
            writeln!(out, "{line}")?;
        }
    }
    let bytes = std::fs::metadata(&input)?.len() as f64;
    let plan = RepairPlan::parse(
        r#"{"version":1,"rules":[
          {"resourceType":"Patient","path":"gender","action":"replace-code","map":{"F":"female","M":"male"}},
          {"resourceType":"Encounter","path":"legacyCode","action":"remove"},
          {"resourceType":"Patient","path":"birthDate","action":"reformat-date","from":"MM/DD/YYYY"}]}"#,
    )
    .expect("plan");
    let options = Options { list_errors: false, max_warnings_per_file: 0, ..Options::default() };

    let t0 = Instant::now();
    let report =
        validate_files(std::slice::from_ref(&input), &options, &mut |_| {}, &CancellationToken::new())
            .expect("validate");
    let validate = t0.elapsed().as_secs_f64();

    // What writing the file costs alone: a fix writes every line again, which validating does not.
    let t2 = Instant::now();
    std::fs::copy(&input, dir.path().join("copy.ndjson"))?;
    std::fs::File::open(dir.path().join("copy.ndjson"))?.sync_all()?;
    let copy = t2.elapsed().as_secs_f64();
    std::fs::remove_file(dir.path().join("copy.ndjson"))?;

    let t1 = Instant::now();
    let mut changes = BufWriter::new(std::fs::File::create(dir.path().join("changes.ndjson"))?);
    let fixed =
        repair_file(&plan, &input, "mixed.ndjson", &dir.path().join("fixed.ndjson"), &options, &mut changes)
            .expect("repair");
    changes.flush()?;
    let repair = t1.elapsed().as_secs_f64();

    let mb = bytes / 1e6;
    println!("file: {LINES} lines, {mb:.0} MB; {} rejected before the repair", report.invalid);
    println!("validate_files: {validate:.2} s, {:.0} MB/s", mb / validate);
    println!(
        "repair_file:    {repair:.2} s, {:.0} MB/s ({} lines changed, {} still invalid)",
        mb / repair,
        fixed.changed,
        fixed.still_invalid
    );
    println!("copying the file (write + sync, the part of a fix validate does not do): {copy:.2} s");
    println!("repair throughput / validate throughput: {:.2}x", validate / repair);
    println!("repair / (validate + copy) time: {:.2}x", repair / (validate + copy));
    Ok(())
}
