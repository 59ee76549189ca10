//! The shell's IPC: the generated TypeScript matches the commands, and the commands answer on Tauri's mock
//! runtime as the UI calls them (`{ code, message }` errors included).

use std::path::PathBuf;

use lakedrop_desktop::{AppState, specta_builder};
use serde_json::{Value, json};
use tauri::test::{MockRuntime, mock_builder, mock_context, noop_assets};

mod support;
use support::invoke;

#[test]
fn bindings_are_current() {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/ipc/bindings.ts");
    if std::env::var_os("LAKEDROP_UPDATE_BINDINGS").is_some() {
        lakedrop_desktop::export_bindings(&committed).expect("export");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let fresh = dir.path().join("bindings.ts");
    lakedrop_desktop::export_bindings(&fresh).expect("export");
    let fresh = std::fs::read_to_string(fresh).expect("read fresh");
    let old = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(fresh == old, "ui/src/ipc/bindings.ts is out of date: run `make bindings` and commit it");
}

fn app(data_dir: &std::path::Path) -> tauri::WebviewWindow<MockRuntime> {
    let app = mock_builder()
        .manage(AppState::new(data_dir.to_path_buf(), vec!["/tmp/from-cli.ndjson".into()]))
        .invoke_handler(specta_builder::<MockRuntime>().invoke_handler())
        .build(mock_context(noop_assets()))
        .expect("app builds");
    tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window")
}

/// What a real drop through the OS does: the backend records the path (the webview's word is not enough).
fn dropped(window: &tauri::WebviewWindow<MockRuntime>, path: &std::path::Path) {
    use tauri::Manager;
    window.state::<AppState>().allow_paths(&[path.to_path_buf()]);
}

#[test]
fn commands_answer_on_the_mock_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());

    let connection = invoke(&window, "connection", json!({})).expect("connection");
    assert_eq!(connection["kind"], "sandbox");
    assert_eq!(connection["inputBucket"], "lakedrop-input");
    assert!(connection["endpoint"].as_str().is_some_and(|e| e.starts_with("http://127.0.0.1:")));

    assert_eq!(invoke(&window, "initial_paths", json!({})).expect("paths"), json!(["/tmp/from-cli.ndjson"]));
    assert_eq!(invoke(&window, "list_jobs", json!({})).expect("jobs"), json!([]));
    assert_eq!(invoke(&window, "cancel", json!({"opId": "nothing-running"})).expect("cancel"), Value::Null);

    let err = invoke(&window, "job_result", json!({"jobId": "0123456789abcdef0123456789abcdef"}))
        .expect_err("unknown job");
    assert_eq!(err["code"], "not-found", "{err}");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn the_destination_commands_list_pick_check_and_remember() {
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());

    let status = invoke(&window, "connection_status", json!({})).expect("status");
    assert_eq!(status["kind"], "sandbox");
    let destination = &status["destination"];
    let datastore_id = destination["datastoreId"].as_str().expect("id").to_string();

    let stores = invoke(&window, "datastores", json!({})).expect("data stores");
    assert_eq!(stores[0]["id"], datastore_id.as_str());
    assert_eq!(stores[0]["selectable"], true);
    let keys = invoke(&window, "kms_keys", json!({})).expect("keys");
    assert_eq!(keys[0]["aliases"], json!(["alias/lakedrop-sandbox"]));
    let buckets = invoke(&window, "buckets", json!({})).expect("buckets");
    assert_eq!(buckets.as_array().map(Vec::len), Some(2));

    let role = "arn:aws:iam::000000000000:role/LakedropSandboxImport";
    let choices = json!({"destination": {"datastoreId": datastore_id, "kmsKeyId": keys[0]["keyId"], "inputBucket": "lakedrop-input",
        "outputUri": "s3://lakedrop-output/elsewhere/", "roleArn": role}});
    let picked = invoke(&window, "set_destination", choices).expect("set");
    assert_eq!(picked["outputUri"], "s3://lakedrop-output/elsewhere/");
    assert_eq!(invoke(&window, "remembered_role", json!({"datastoreId": datastore_id})).expect("role"), role);

    let checks = invoke(&window, "preflight", json!({"fileCount": 13})).expect("preflight");
    let failing: Vec<&Value> =
        checks.as_array().expect("list").iter().filter(|c| c["status"] == "fail").collect();
    assert!(failing.is_empty(), "{failing:?}");

    let policies = invoke(&window, "policies", json!({})).expect("policies");
    let trust = policies["trustPolicy"].as_str().expect("text");
    assert!(trust.contains(&format!("datastore/fhir/{datastore_id}")), "{trust}");

    let back =
        invoke(&window, "use_connection", json!({"profile": null, "region": null})).expect("sandbox again");
    assert_eq!(back["destination"]["datastoreId"], datastore_id.as_str(), "the same sandbox data directory");
    drop(window);

    // The next run of the app comes back to what was chosen.
    let again = app(dir.path());
    let status = invoke(&again, "connection_status", json!({})).expect("status after a restart");
    assert_eq!(status["remembered"]["outputUri"], "s3://lakedrop-output/elsewhere/");
    assert_eq!(status["remembered"]["roleArn"], role);
}

/// Imports a dropped file; the job's id.
fn imported(window: &tauri::WebviewWindow<MockRuntime>, file: &std::path::Path) -> String {
    let request =
        json!({"opId": "op-1", "request": {"paths": [file], "jobName": null}, "onProgress": "__CHANNEL__:1"});
    let started = invoke(window, "start_import", request).expect("import starts");
    started["jobId"].as_str().expect("job id").to_string()
}

/// Waits (10 s at most) for a job to end; its status.
fn job_status(window: &tauri::WebviewWindow<MockRuntime>, job_id: &str) -> String {
    let mut status = String::new();
    for _ in 0..200 {
        let result = invoke(window, "job_result", json!({"jobId": job_id})).expect("result");
        status = result["job"]["status"].as_str().unwrap_or_default().to_string();
        if status.starts_with("COMPLETED") || status == "FAILED" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    status
}

#[test]
fn failures_of_a_finished_job_are_summarized_paged_joined_and_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/synthea-10-patients/Patient.000.ndjson");
    let patients = std::fs::read_to_string(sample).expect("sample");
    let good: Vec<&str> = patients.lines().take(3).collect();
    let no_id = good[1].replacen("\"id\":", "\"x-id\":", 1);
    let file = dir.path().join("Patient.mixed.ndjson");
    std::fs::write(&file, format!("{}\n{no_id}\n{}\n{{broken\n", good[0], good[2])).expect("write");
    dropped(&window, &file);

    let job_id = imported(&window, &file);
    assert_eq!(job_status(&window, &job_id), "COMPLETED_WITH_ERRORS");

    let summary = invoke(&window, "failure_summary", json!({"jobIds": [job_id]})).expect("summary");
    assert_eq!(summary["total"], 2);
    assert_eq!(summary["sources"][0]["origin"], "local");
    let causes: Vec<&str> = summary["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["group"]["cause"].as_str())
        .collect();
    assert!(causes.contains(&"missing-id") && causes.contains(&"invalid-json"), "{causes:?}");
    assert!(summary["groups"][0]["fix"].as_str().is_some_and(|f| !f.is_empty()));

    let page = invoke(&window, "failure_rows", json!({"jobIds": [job_id], "offset": 0, "limit": 1, "cause": "missing-id", "resourceType": null, "file": null})).expect("page");
    assert_eq!(page["total"], 1);
    assert_eq!(page["rows"][0]["original"], no_id.as_str());
    assert_eq!(page["rows"][0]["failure"]["lineId"], 2);

    let err = invoke(&window, "export_failures", json!({"jobIds": [job_id], "cause": null}))
        .expect_err("no dialog here");
    assert_eq!(err["code"], "internal");

    let retried =
        invoke(&window, "retry_failures", json!({"jobIds": [job_id], "cause": "missing-id", "level": null}))
            .expect("retry");
    assert_eq!(retried["lines"], 1);
    assert!(retried["jobId"].as_str().is_some_and(|id| id != job_id));
}

#[test]
fn the_jobs_of_one_import_are_followed_summed_and_their_failures_reviewed_and_retried_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/synthea-10-patients/Patient.000.ndjson");
    let patients = std::fs::read_to_string(sample).expect("sample");
    let good: Vec<&str> = patients.lines().take(4).collect();
    // Two jobs, as an import of more than 10,000 files is: each with its own files and one failed line.
    let first = dir.path().join("Patient.first.ndjson");
    std::fs::write(&first, format!("{}\n{{broken\n", good[0])).expect("write");
    let second = dir.path().join("Patient.second.ndjson");
    let no_id = good[2].replacen("\"id\":", "\"x-id\":", 1);
    std::fs::write(&second, format!("{}\n{no_id}\n{}\n", good[1], good[3])).expect("write");
    dropped(&window, &first);
    dropped(&window, &second);
    let jobs = [imported(&window, &first), imported(&window, &second)];
    assert_eq!(job_status(&window, &jobs[1]), "COMPLETED_WITH_ERRORS");
    assert_eq!(job_status(&window, &jobs[0]), "COMPLETED_WITH_ERRORS");

    let together = invoke(&window, "import_result", json!({"jobIds": jobs})).expect("import result");
    assert_eq!(together["jobs"].as_array().map(Vec::len), Some(2));
    assert_eq!(together["jobs"][1]["job"]["jobId"], jobs[1].as_str());
    assert_eq!(together["manifest"]["resourcesImported"], 3, "{together}");
    assert_eq!(together["manifest"]["resourcesWithCustomerError"], 2, "{together}");
    assert_eq!(together["manifest"]["scannedFiles"], 2, "{together}");

    let summary = invoke(&window, "failure_summary", json!({"jobIds": jobs})).expect("summary");
    assert_eq!(summary["total"], 2, "{summary}");
    let files: Vec<&str> = summary["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["group"]["file"].as_str())
        .collect();
    assert!(files.contains(&"Patient.first.ndjson") && files.contains(&"Patient.second.ndjson"), "{files:?}");
    let page = invoke(
        &window,
        "failure_rows",
        json!({"jobIds": jobs, "offset": 0, "limit": 10, "cause": null, "resourceType": null, "file": null}),
    )
    .expect("page");
    let originals: Vec<&str> =
        page["rows"].as_array().expect("rows").iter().filter_map(|r| r["original"].as_str()).collect();
    assert_eq!(originals, ["{broken", no_id.as_str()], "each beside its own job's line, in job order");

    let retried = invoke(&window, "retry_failures", json!({"jobIds": jobs, "cause": null, "level": null}))
        .expect("retry");
    assert_eq!(retried["lines"], 2, "one job takes both jobs' failed lines: {retried}");
    let retry_id = retried["jobId"].as_str().expect("job").to_string();
    assert!(!jobs.contains(&retry_id));
    assert_eq!(job_status(&window, &retry_id), "COMPLETED_WITH_ERRORS", "the same lines fail again");
    let again = invoke(&window, "failure_summary", json!({"jobIds": [retry_id]})).expect("summary");
    assert_eq!(again["total"], 2);

    // Jobs whose files share a name cannot be told apart by their failures: refused, with what to do.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("dir");
    let same_name = elsewhere.join("Patient.first.ndjson");
    std::fs::write(&same_name, format!("{}\n{{broken too\n", good[1])).expect("write");
    dropped(&window, &same_name);
    let third = imported(&window, &same_name);
    assert_eq!(job_status(&window, &third), "COMPLETED_WITH_ERRORS");
    let refused = invoke(&window, "failure_summary", json!({"jobIds": [jobs[0].clone(), third]}))
        .expect_err("two files of one name");
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("one job at a time")), "{refused}");
    let none = invoke(&window, "failure_summary", json!({"jobIds": []})).expect_err("no job");
    assert_eq!(none["code"], "invalid-input");
}

#[test]
fn failed_lines_are_repaired_by_hand_and_by_plan_previewed_reimported_and_recorded() {
    use std::os::unix::fs::PermissionsExt;
    use tauri::Manager;
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/synthea-10-patients/Patient.000.ndjson");
    let patients = std::fs::read_to_string(sample).expect("sample");
    let lines: Vec<Value> =
        patients.lines().take(4).map(|l| serde_json::from_str(l).expect("json")).collect();
    let (mut coded, mut unknown, mut by_hand) = (lines[1].clone(), lines[2].clone(), lines[3].clone());
    coded["gender"] = "M".into();
    unknown["legacyCode"] = "A1".into();
    by_hand["birthDate"] = "03/07/1965".into();
    let file = dir.path().join("Patient.repairs.ndjson");
    std::fs::write(&file, format!("{}\n{coded}\n{unknown}\n{by_hand}\n", lines[0])).expect("write");
    dropped(&window, &file);
    let job_id = imported(&window, &file);
    assert_eq!(job_status(&window, &job_id), "COMPLETED_WITH_ERRORS");

    // The editor's check: issues at their element, each with its quick fix.
    let pretty = serde_json::to_string_pretty(&by_hand).expect("json");
    let checked = invoke(&window, "check_resource", json!({"text": pretty, "level": null})).expect("check");
    assert_eq!(checked["rejected"], true);
    let issue =
        checked["issues"].as_array().expect("issues").iter().find(|i| i["path"] == "Patient.birthDate");
    let fix = &issue.expect("the date's issue")["fix"];
    assert_eq!(fix["kind"], "reformat-date");
    assert_eq!(fix["candidates"][0]["value"], "1965-03-07");
    let broken =
        invoke(&window, "check_resource", json!({"text": "{\n  \"resourceType\": \"Patient\",\n  oops\n}"}))
            .expect("check");
    assert_eq!(broken["syntax"]["line"], 3, "{broken}");

    // A repair by hand is kept in memory with what it changed.
    let mut fixed = by_hand.clone();
    fixed["birthDate"] = "1965-03-07".into();
    let kept = invoke(
        &window,
        "keep_repair",
        json!({"jobIds": [job_id], "file": "Patient.repairs.ndjson", "lineId": 4, "text": serde_json::to_string_pretty(&fixed).expect("json")}),
    )
    .expect("kept");
    assert_eq!((kept["kept"].as_u64(), kept["rejected"].as_bool()), (Some(1), Some(false)), "{kept}");
    assert_eq!(kept["changes"][0]["path"], "birthDate");
    assert_eq!(kept["changes"][0]["before"], "\"03/07/1965\"");

    // The plan's preview: what would go, what would not, a sample.
    let plan = json!({"version": 1, "rules": [
        {"resourceType": "Patient", "path": "gender", "action": "replace-code", "map": {"M": "male"}},
        {"resourceType": "Patient", "path": "legacyCode", "action": "remove"}]})
    .to_string();
    let preview = invoke(
        &window,
        "preview_repair",
        json!({"jobIds": [job_id], "cause": null, "plan": plan, "level": null}),
    )
    .expect("preview");
    assert_eq!(
        (
            &preview["failed"],
            &preview["lines"],
            &preview["repaired"],
            &preview["byHand"],
            &preview["heldBack"]
        ),
        (&json!(3), &json!(3), &json!(2), &json!(1), &json!(0)),
        "{preview}"
    );
    assert_eq!(preview["byRule"], json!([1, 1]));
    assert_eq!(preview["samples"][0]["changes"][0]["after"], "\"male\"");
    let bad_plan = invoke(
        &window,
        "preview_repair",
        json!({"jobIds": [job_id], "plan": "{\"version\": 2, \"rules\": []}"}),
    )
    .expect_err("a plan of another version");
    assert!(bad_plan["message"].as_str().is_some_and(|m| m.contains("version 2")), "{bad_plan}");

    // The re-import sends the three, and keeps the change record.
    let retried = invoke(
        &window,
        "retry_failures",
        json!({"jobIds": [job_id], "cause": null, "level": null, "plan": plan}),
    )
    .expect("retry");
    assert_eq!((retried["lines"].as_u64(), retried["byHand"].as_u64()), (Some(3), Some(1)));
    let retry_id = retried["jobId"].as_str().expect("job").to_string();
    assert_eq!(job_status(&window, &retry_id), "COMPLETED", "every repaired line is imported");
    let record = invoke(&window, "change_record", json!({"jobId": retry_id})).expect("record");
    assert_eq!((record["lines"].as_u64(), record["withValues"].as_bool()), (Some(3), Some(true)), "{record}");
    let rules: Vec<Value> =
        record["rows"].as_array().expect("rows").iter().map(|r| r["rule"].clone()).collect();
    assert_eq!(rules, [json!(1), json!(2), Value::Null], "by rule, then by hand");

    let saved = dir.path().join("changes.csv");
    let target = saved.clone();
    window.state::<AppState>().set_save_dialog(std::sync::Arc::new(move |name: &str| {
        assert!(name.starts_with("changes-") && name.ends_with(".csv"), "{name}");
        Some(target.clone())
    }));
    let written =
        invoke(&window, "save_change_record", json!({"jobId": retry_id, "csv": true})).expect("saved");
    assert_eq!(written, 3);
    let csv = std::fs::read_to_string(&saved).expect("csv");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("birthDate,\"\"\"03/07/1965\"\"\",\"\"\"1965-03-07\"\"\","), "{csv}");
    assert_eq!(std::fs::metadata(&saved).expect("meta").permissions().mode() & 0o777, 0o600);

    // The plan saves for the CLI and opens again.
    let plan_file = dir.path().join("plan.json");
    let target = plan_file.clone();
    window.state::<AppState>().set_save_dialog(std::sync::Arc::new(move |_: &str| Some(target.clone())));
    assert_eq!(invoke(&window, "save_repair_plan", json!({"plan": plan})).expect("saved"), "plan.json");
    lakedrop_core::repair::RepairPlan::parse(&std::fs::read_to_string(&plan_file).expect("plan"))
        .expect("the CLI reads what the app saved");
    let opened = plan_file.clone();
    window.state::<AppState>().set_pick_dialog(std::sync::Arc::new(move |_| vec![opened.clone()]));
    let reopened = invoke(&window, "open_repair_plan", json!({})).expect("opened");
    let reopened: Value = serde_json::from_str(reopened.as_str().expect("text")).expect("json");
    assert_eq!(reopened["rules"][1]["action"], "remove");
}

#[test]
fn a_local_file_is_repaired_before_import_previewed_then_saved_as_a_fixed_copy() {
    use std::os::unix::fs::PermissionsExt;
    use tauri::Manager;
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());
    let coded = r#"{"resourceType":"Patient","id":"a","gender":"M"}"#;
    let dude = r#"{"resourceType":"Patient","id":"b","gender":"dude"}"#;
    let file = dir.path().join("Patient.local.ndjson");
    std::fs::write(&file, format!("{coded}\n{dude}\n")).expect("write");
    let plan = json!({"version": 1, "rules": [
        {"resourceType": "Patient", "path": "gender", "action": "replace-code", "map": {"M": "male"}}]})
    .to_string();
    let hand = json!([{"line": 2, "text": "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"b\",\n  \"gender\": \"other\"\n}"}]);
    let args = |save: bool| json!({"path": file, "plan": plan, "byHand": hand, "save": save, "level": null});
    let refused = invoke(&window, "fix_file", args(false)).expect_err("not dropped yet");
    assert_eq!(refused["code"], "invalid-input");
    dropped(&window, &file);

    let preview = invoke(&window, "fix_file", args(false)).expect("preview");
    assert_eq!(
        (&preview["changed"], &preview["byHand"], &preview["stillInvalid"]),
        (&json!(1), &json!(1), &json!(0))
    );
    let paths: Vec<&str> =
        preview["changes"].as_array().expect("changes").iter().filter_map(|c| c["path"].as_str()).collect();
    assert_eq!(paths, ["gender", "gender"]);
    assert_eq!(preview["changes"][1]["rule"], Value::Null, "the second is by hand");
    assert_eq!(preview["savedAs"], Value::Null);

    let target = dir.path().join("Patient.local.fixed.ndjson");
    let picked = target.clone();
    window.state::<AppState>().set_save_dialog(std::sync::Arc::new(move |name: &str| {
        assert_eq!(name, "Patient.local.fixed.ndjson");
        Some(picked.clone())
    }));
    let saved = invoke(&window, "fix_file", args(true)).expect("saved");
    assert_eq!(saved["savedAs"], target.display().to_string());
    let fixed = std::fs::read_to_string(&target).expect("fixed copy");
    assert_eq!(
        fixed,
        "{\"gender\":\"male\",\"id\":\"a\",\"resourceType\":\"Patient\"}\n{\"resourceType\":\"Patient\",\"id\":\"b\",\"gender\":\"other\"}\n"
    );
    let record = dir.path().join("Patient.local.fixed.changes.ndjson");
    assert_eq!(std::fs::read_to_string(&record).expect("record").lines().count(), 2);
    for written in [&target, &record] {
        assert_eq!(std::fs::metadata(written).expect("meta").permissions().mode() & 0o777, 0o600);
    }
    // The fixed copy counts as picked: it can be read, validated and imported.
    assert_eq!(
        invoke(&window, "line_text", json!({"path": target, "line": 2})).expect("line"),
        fixed.lines().nth(1).expect("2")
    );
}

#[test]
fn a_line_reads_back_and_rejected_lines_save_where_the_dialog_says() {
    use tauri::Manager;
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());
    let good = r#"{"resourceType":"Basic","id":"a","code":{"text":"x"}}"#;
    let bad = r#"{"resourceType":"Basic","id":"b","code":{"text":"x"},"colour":"red"}"#;
    let file = dir.path().join("Basic.ndjson");
    std::fs::write(&file, format!("{good}\n{bad}\n")).expect("write");
    dropped(&window, &file);

    let line = invoke(&window, "line_text", json!({"path": file, "line": 2})).expect("line");
    assert_eq!(line, bad);
    assert_eq!(
        invoke(&window, "line_text", json!({"path": file, "line": 9})).expect("past the end"),
        Value::Null
    );

    let saved = dir.path().join("picked.ndjson");
    let target = saved.clone();
    window.state::<AppState>().set_save_dialog(std::sync::Arc::new(move |name: &str| {
        assert_eq!(name, "Basic.rejected.ndjson");
        Some(target.clone())
    }));
    assert_eq!(invoke(&window, "export_rejected", json!({"path": file})).expect("export"), 1);
    assert_eq!(std::fs::read_to_string(saved).expect("saved"), format!("{bad}\n"));
}

#[test]
fn the_bundled_sample_is_offered_where_it_is_installed_and_counts_as_picked() {
    use tauri::Manager;
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());
    let err = invoke(&window, "sample_paths", json!({})).expect_err("not installed here");
    assert_eq!(err["code"], "not-found");
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/synthea-10-patients");
    window.state::<AppState>().set_sample_dir(sample.clone());
    let paths = invoke(&window, "sample_paths", json!({})).expect("offered");
    let first = paths[0].as_str().expect("a path").to_string();
    let line =
        invoke(&window, "line_text", json!({"path": format!("{first}/Patient.000.ndjson"), "line": 1}))
            .expect("readable: it counts as picked");
    assert!(line.as_str().is_some_and(|l| l.starts_with("{\"resourceType\":\"Patient\"")));
}

#[test]
fn the_same_files_imported_twice_follow_the_first_job_unless_asked_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());
    let file = dir.path().join("Basic.ndjson");
    std::fs::write(&file, "{\"resourceType\":\"Basic\",\"id\":\"a\",\"code\":{\"text\":\"x\"}}\n")
        .expect("write");
    dropped(&window, &file);
    let import = |op: &str, again: Option<bool>| {
        let mut request = json!({"paths": [file], "jobName": null, "validationLevel": "structure-only"});
        if let Some(again) = again {
            request["again"] = json!(again);
        }
        invoke(
            &window,
            "start_import",
            json!({"opId": op, "request": request, "onProgress": "__CHANNEL__:1"}),
        )
        .expect("import answers")
    };

    let first = import("op-1", None);
    assert_eq!(first["alreadyStarted"], false);
    assert_eq!(first["filesUploaded"], 1);

    let twice = import("op-2", Some(false));
    assert_eq!(twice["jobId"], first["jobId"], "the first job is followed, no second one started");
    assert_eq!(twice["alreadyStarted"], true);
    assert_eq!(twice["filesUploaded"], 0);

    let again = import("op-3", Some(true));
    assert_ne!(again["jobId"], first["jobId"]);
    assert_eq!(again["alreadyStarted"], false);
    assert_eq!(again["filesUploaded"], 1);
}

#[test]
fn cleaning_uploads_aborts_lakedrops_abandoned_ones_keeps_resumable_ones_and_leaves_others() {
    use lakedrop_core::state::PendingUpload;
    use tauri::Manager;
    let dir = tempfile::tempdir().expect("tempdir");
    let window = app(dir.path());
    assert_eq!(
        invoke(&window, "clean_uploads", json!({})).expect("nothing to clean"),
        json!({"aborted": 0, "resumable": 0, "others": 0})
    );

    let app_state = window.state::<AppState>().inner().clone();
    let kept = dir.path().join("Kept.ndjson");
    std::fs::write(&kept, "{}\n").expect("write");
    let mtime_ns = std::fs::metadata(&kept)
        .and_then(|m| m.modified())
        .map(|t| t.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_nanos() as i64)
        .expect("mtime");
    tauri::async_runtime::block_on(async {
        let session = app_state.session().await.expect("session");
        let history = app_state.history().await.expect("history");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("now").as_secs();
        let begin = |key: &'static str| {
            session.clients.s3.create_multipart_upload().bucket("lakedrop-input").key(key).send()
        };
        let record = |upload_id: &str, key: &str, path: &std::path::Path, bucket: &str| {
            let upload = PendingUpload {
                upload_id: upload_id.into(),
                bucket: bucket.into(),
                key: key.into(),
                path: path.to_string_lossy().into_owned(),
                size: 3,
                mtime_ns,
                part_size: 8 << 20,
                started_unix: now as i64,
            };
            history.begin_upload(&upload).expect("recorded");
        };
        let gone = begin("lakedrop/b1/Gone.ndjson").await.expect("create");
        record(
            gone.upload_id().expect("id"),
            "lakedrop/b1/Gone.ndjson",
            &dir.path().join("Gone.ndjson"),
            "lakedrop-input",
        );
        let resumable = begin("lakedrop/b2/Kept.ndjson").await.expect("create");
        record(resumable.upload_id().expect("id"), "lakedrop/b2/Kept.ndjson", &kept, "lakedrop-input");
        begin("someone-else/Other.ndjson").await.expect("create");
        // An upload recorded while connected elsewhere, in a bucket this connection does not have.
        record("elsewhere", "lakedrop/b3/Kept.ndjson", &kept, "a-bucket-of-another-connection");
    });

    let cleaned = invoke(&window, "clean_uploads", json!({})).expect("cleaned");
    assert_eq!(cleaned, json!({"aborted": 1, "resumable": 1, "others": 1}));
    let again = invoke(&window, "clean_uploads", json!({})).expect("cleaned again");
    assert_eq!(again, json!({"aborted": 0, "resumable": 1, "others": 1}), "an abort is not counted twice");
}
