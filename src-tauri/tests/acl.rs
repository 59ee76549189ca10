//! Least privilege in the webview: with the app's real context (its capability), the main window may call the
//! commands and plugin permissions it is granted, and nothing else, and no other window may call anything.

use lakedrop_desktop::{AppState, specta_builder};
use serde_json::json;
use tauri::test::{MockRuntime, mock_builder};

mod support;
use support::invoke;

fn window(label: &str, dir: &std::path::Path) -> tauri::WebviewWindow<MockRuntime> {
    let app = mock_builder()
        .plugin(tauri_plugin_dialog::init())
        .manage(AppState::new(dir.to_path_buf(), Vec::new()))
        .invoke_handler(specta_builder::<MockRuntime>().invoke_handler())
        .build(tauri::generate_context!())
        .expect("app builds with its real context");
    tauri::WebviewWindowBuilder::new(&app, label, Default::default()).build().expect("window")
}

#[test]
fn the_main_window_may_call_what_its_capability_grants_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = window("main", dir.path());
    assert!(invoke(&main, "initial_paths", json!({})).is_ok(), "a granted command");
    let refused =
        invoke(&main, "plugin:dialog|save", json!({"options": {}})).expect_err("save is not granted");
    assert!(refused.to_string().contains("not allowed"), "{refused}");
    let refused = invoke(&main, "plugin:dialog|message", json!({"message": "hi"})).expect_err("not granted");
    assert!(refused.to_string().contains("not allowed"), "{refused}");
    // Dialogs open from Rust, which records the picks; the webview may not open one itself, nor emit events
    // (a fake drop) that the backend would take for the person's choice.
    let refused =
        invoke(&main, "plugin:dialog|open", json!({"options": {}})).expect_err("open is not granted");
    assert!(refused.to_string().contains("not allowed"), "{refused}");
    let refused = invoke(&main, "plugin:event|emit", json!({"event": "tauri://drag-drop", "payload": {}}))
        .expect_err("emit is not granted");
    assert!(refused.to_string().contains("not allowed"), "{refused}");
}

#[test]
fn a_path_the_person_did_not_drop_or_pick_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = window("main", dir.path());
    let secret = dir.path().join("elsewhere.ndjson");
    std::fs::write(&secret, "{}\n").expect("write");
    let refused = invoke(&main, "line_text", json!({"path": secret, "line": 1})).expect_err("not picked");
    assert_eq!(refused["code"], "invalid-input", "{refused}");
    let refused =
        invoke(&main, "line_text", json!({"path": "/etc/passwd", "line": 1})).expect_err("not picked");
    assert_eq!(refused["code"], "invalid-input", "{refused}");

    use tauri::Manager;
    let picked = dir.path().join("picked");
    std::fs::create_dir(&picked).expect("mkdir");
    std::fs::write(picked.join("Basic.ndjson"), "{\"resourceType\":\"Basic\"}\n").expect("write");
    main.state::<lakedrop_desktop::AppState>().allow_paths(std::slice::from_ref(&picked));
    let inside = picked.join("Basic.ndjson");
    assert!(invoke(&main, "line_text", json!({"path": inside, "line": 1})).is_ok(), "under a picked folder");
    let escape = picked.join("..").join("elsewhere.ndjson");
    let refused =
        invoke(&main, "line_text", json!({"path": escape, "line": 1})).expect_err("escapes the pick");
    assert_eq!(refused["code"], "invalid-input", "{refused}");
}

#[test]
fn arguments_have_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = window("main", dir.path());
    let refused = invoke(&main, "job_result", json!({"jobId": "x".repeat(65)})).expect_err("too long");
    assert_eq!(refused["code"], "invalid-input", "{refused}");
    let refused = invoke(&main, "job_result", json!({"jobId": "../../etc"})).expect_err("not an id");
    assert_eq!(refused["code"], "invalid-input", "{refused}");
    let request = json!({"paths": [], "jobName": "x".repeat(65)});
    let refused = invoke(
        &main,
        "start_import",
        json!({"opId": "op", "request": request, "onProgress": "__CHANNEL__:1"}),
    )
    .expect_err("job name too long");
    assert_eq!(refused["code"], "invalid-input", "{refused}");
    let paths = vec!["/x"; 100_001];
    let refused =
        invoke(&main, "validate_files", json!({"opId": "op", "paths": paths, "onProgress": "__CHANNEL__:1"}))
            .expect_err("too many paths");
    assert_eq!(refused["code"], "invalid-input", "{refused}");
}

#[test]
fn another_window_may_call_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = window("other", dir.path());
    let refused = invoke(&other, "initial_paths", json!({})).expect_err("no capability for this window");
    assert!(refused.to_string().contains("not allowed"), "{refused}");
}

/// The names in `text` that follow `prefix` up to a closing `delim`.
fn names_after(text: &str, prefix: &str, delim: char) -> std::collections::BTreeSet<String> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| text[i + prefix.len()..].split(delim).next())
        .map(|name| name.trim().trim_end_matches(',').to_string())
        .collect()
}

#[test]
fn registered_commands_their_permissions_and_the_capability_agree() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("lib.rs");
    let registered: std::collections::BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("commands::"))
        .filter_map(|l| l.trim_end_matches(',').rsplit("::").next().map(str::to_string))
        .collect();
    let build = std::fs::read_to_string(root.join("build.rs")).expect("build.rs");
    let manifest = names_after(&build, "    \"", '"');
    let capability = std::fs::read_to_string(root.join("capabilities/default.json")).expect("capability");
    let granted: std::collections::BTreeSet<String> =
        names_after(&capability, "\"allow-", '"').into_iter().map(|n| n.replace('-', "_")).collect();
    assert!(registered.len() >= 20, "{registered:?}");
    assert_eq!(registered, manifest, "build.rs COMMANDS must list every registered command");
    assert_eq!(registered, granted, "the capability must grant exactly the registered commands");
}
