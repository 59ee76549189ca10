//! `lakedrop fix` with a repair plan, on real Synthea lines broken the three ways exports break them: a code
//! written wrongly (×50), an element R4 does not have (×30), a date in another pattern (×20).

use std::path::Path;
use std::process::Command;

use super::{BIN, sample_dir};

/// The sample's first `n` lines of a file, each changed by `breaks`.
fn broken(file: &str, n: usize, breaks: impl Fn(&str) -> String) -> Vec<String> {
    let text = std::fs::read_to_string(sample_dir().join(file)).expect("sample");
    let lines: Vec<&str> = text.lines().collect();
    (0..n)
        .map(|i| breaks(lines[i % lines.len()]).replacen("\"id\":\"", &format!("\"id\":\"f{i}-"), 1))
        .collect()
}

fn write_batch(dir: &Path) -> (std::path::PathBuf, usize) {
    let mut lines = broken("Patient.000.ndjson", 50, |l| {
        let at = l.find("\"gender\":\"").expect("a gender") + 10;
        let end = at + l[at..].find('"').expect("ends");
        format!("{}M{}", &l[..at], &l[end..])
    });
    lines.extend(broken("Encounter.000.ndjson", 30, |l| {
        l.replacen(
            "{\"resourceType\":\"Encounter\",",
            "{\"resourceType\":\"Encounter\",\"legacyCode\":\"A1\",",
            1,
        )
    }));
    lines.extend(broken("Patient.000.ndjson", 20, |l| {
        let at = l.find("\"birthDate\":\"").expect("a birthDate") + 13;
        let (y, m, d) = (&l[at..at + 4], &l[at + 5..at + 7], &l[at + 8..at + 10]);
        format!("{}{m}/{d}/{y}{}", &l[..at], &l[at + 10..])
    }));
    let path = dir.join("broken.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    (path, lines.len())
}

const PLAN: &str = r#"{"version": 1, "rules": [
  {"resourceType": "Patient", "path": "gender", "action": "replace-code", "map": {"M": "male", "F": "female"}},
  {"resourceType": "Encounter", "path": "legacyCode", "action": "remove"},
  {"resourceType": "Patient", "path": "birthDate", "action": "reformat-date", "from": "MM/DD/YYYY"}
]}"#;

fn validate(path: &Path) -> serde_json::Value {
    let out = Command::new(BIN).args(["validate", "--output", "json"]).arg(path).output().expect("validate");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn a_plan_fixes_every_broken_line_and_records_each_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, n) = write_batch(dir.path());
    assert_eq!(validate(&input)["summary"]["invalid"], 100, "the three kinds are rejected before");
    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, PLAN).expect("plan");
    let out_dir = dir.path().join("fixed");
    let out = Command::new(BIN)
        .args(["fix", "--csv", "--output", "json", "--plan"])
        .arg(&plan)
        .arg("--out")
        .arg(&out_dir)
        .arg(&input)
        .output()
        .expect("fix runs");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let counts: Vec<u64> = json["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["linesChanged"].as_u64().expect("n"))
        .collect();
    // The birthDate rule touches only the 20 Patients whose date was rewritten; the gender rule the other 50.
    assert_eq!(counts, [50, 30, 20]);
    assert_eq!(json["linesChanged"], 100);
    assert_eq!(json["stillInvalid"], 0);
    let fixed = out_dir.join("broken.ndjson");
    assert_eq!(std::fs::read_to_string(&fixed).expect("fixed").lines().count(), n);
    let report = validate(&fixed);
    assert_eq!(
        (report["summary"]["invalid"].as_u64(), report["summary"]["valid"].as_u64()),
        (Some(0), Some(n as u64))
    );
    let changes = std::fs::read_to_string(out_dir.join("changes.ndjson")).expect("changes");
    let records: Vec<serde_json::Value> =
        changes.lines().map(|l| serde_json::from_str(l).expect("record")).collect();
    assert_eq!(records.len(), 100, "one change per repaired line");
    assert!(
        records
            .iter()
            .any(|r| r["path"] == "birthDate" && r["after"].as_str().is_some_and(|d| d.len() == 10))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [&fixed, &out_dir.join("changes.ndjson"), &out_dir.join("changes.csv")] {
            let mode = std::fs::metadata(file).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
        }
    }
}

/// `lakedrop fix INPUT --plan PLAN --out OUT`, in text.
fn fix(plan: &Path, out: &Path, input: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg("fix")
        .arg("--plan")
        .arg(plan)
        .arg("--out")
        .arg(out)
        .arg(input)
        .output()
        .expect("fix")
}

#[test]
fn lines_a_plan_does_not_fix_are_named_and_the_exit_code_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = write_batch(dir.path());
    let plan = dir.path().join("plan.json");
    // Only the codes: the removed element and the dates stay wrong.
    std::fs::write(&plan, r#"{"version":1,"rules":[{"resourceType":"Patient","path":"gender","action":"replace-code","map":{"M":"male"}}]}"#)
        .expect("plan");
    let out = fix(&plan, &dir.path().join("o"), &input);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rule 1 (replace-code Patient gender): 50 lines changed"), "{text}");
    assert!(text.contains("50 still invalid"), "{text}");
    assert!(text.contains("lines 51, 52"), "the first still-invalid lines are named: {text}");

    std::fs::write(&plan, r#"{"version":1,"rules":[{"resourceType":"Patient","path":"birthDate","action":"reformat-date","from":"MM/DD/YYYY hh:mm"}]}"#)
        .expect("plan");
    let out = fix(&plan, &dir.path().join("o"), &input);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rule 1 (birthDate)") && err.contains("needs `zone`"), "{err}");
}
