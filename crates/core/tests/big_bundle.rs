//! A 500 MB Bundle is never held whole (issue 20): written entry by entry to a temporary file, then read as the
//! NDJSON it is imported as (`source::open_ndjson`: two streaming passes), every line counted and its references
//! checked, while the process's peak resident memory (`VmHWM`) stays far below the Bundle's size. Alone in its
//! test binary, so the peak is this test's.

use std::io::{BufRead, BufWriter, Write};

use lakedrop_core::source::{open_ndjson, sniff};
use lakedrop_validate::Content;

const TARGET_BYTES: u64 = 500 * 1000 * 1000;

/// Peak resident memory of this process, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
}

#[test]
fn a_500_mb_bundle_unbundles_streaming_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.json");
    let mut out = BufWriter::new(std::fs::File::create(&path).expect("create"));
    // Each entry a patient's encounter with a note of a few kilobytes, referring to the patient entry by urn:uuid.
    let note = "x".repeat(4000);
    write!(out, r#"{{"resourceType":"Bundle","type":"transaction","entry":["#).expect("write");
    write!(
        out,
        r#"{{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000000","resource":{{"resourceType":"Patient"}},"request":{{"method":"POST","url":"Patient"}}}}"#
    )
    .expect("write");
    let mut written = 0u64;
    let mut entries = 1u64;
    while written < TARGET_BYTES {
        let entry = format!(
            r#",{{"fullUrl":"urn:uuid:{entries:08x}-0000-4000-8000-000000000000","resource":{{"resourceType":"Encounter","status":"finished","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}},"subject":{{"reference":"urn:uuid:00000000-0000-4000-8000-000000000000"}},"text":{{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">{note}</div>"}}}},"request":{{"method":"POST","url":"Encounter"}}}}"#
        );
        out.write_all(entry.as_bytes()).expect("write");
        written += entry.len() as u64;
        entries += 1;
    }
    out.write_all(b"]}").expect("write");
    out.flush().expect("flush");
    drop(out);
    let size = std::fs::metadata(&path).expect("size").len();
    assert!(size >= TARGET_BYTES, "{size}");

    let input = sniff(&path).expect("sniff");
    assert_eq!(input.content, Content::Bundle);
    let (mut reader, tally) = open_ndjson(&input).expect("open");
    let mut line = Vec::new();
    let (mut lines, mut rewritten) = (0u64, 0u64);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).expect("read") == 0 {
            break;
        }
        lines += 1;
        // Every Encounter's subject is the patient's Type/id now; checked on a sample of lines.
        if lines % 1000 == 2 {
            let text = std::str::from_utf8(&line).expect("utf-8");
            assert!(
                text.contains(r#""subject":{"reference":"Patient/00000000-0000-4000-8000-000000000000"}"#)
            );
            rewritten += 1;
        }
    }
    assert_eq!(lines, entries, "one line per entry");
    assert!(rewritten > 0);
    let mut report = lakedrop_validate::FileReport::default();
    tally.complete_report(&input, &mut report);
    let summary = report.unbundled.expect("a summary");
    assert_eq!((summary.entries, summary.resources, summary.unresolved), (entries, entries, 0));
    assert_eq!(summary.rewritten, entries - 1, "each encounter's subject");
    assert_eq!(report.bytes, size, "the whole file was read and hashed");
    let peak = peak_rss().expect("VmHWM");
    assert!(peak < 100 * 1000 * 1000, "peak memory {peak} bytes for a {size}-byte Bundle");
    println!("{size} bytes, {entries} entries, peak resident memory {} MB", peak / 1_000_000);
}
