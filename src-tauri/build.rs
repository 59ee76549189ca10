/// Every command the app registers. Each gets an `allow-<command>` permission, and the window may call only the
/// ones its capability (capabilities/default.json) grants: a command not listed here cannot be called at all.
const COMMANDS: &[&str] = &[
    "connection",
    "connection_status",
    "profiles",
    "use_connection",
    "sso_sign_in",
    "datastores",
    "kms_keys",
    "buckets",
    "set_destination",
    "remembered_role",
    "preflight",
    "policies",
    "initial_paths",
    "pick_files",
    "sample_paths",
    "validate_files",
    "line_text",
    "export_rejected",
    "start_import",
    "cancel",
    "list_jobs",
    "job_result",
    "import_result",
    "notify_finished",
    "failure_summary",
    "failure_rows",
    "export_failures",
    "retry_failures",
    "check_resource",
    "keep_repair",
    "preview_repair",
    "change_record",
    "save_change_record",
    "save_repair_plan",
    "open_repair_plan",
    "fix_file",
    "clean_uploads",
    "fhir_lookup",
    "fhir_page",
    "verify_sample",
];

fn main() {
    let attributes =
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {e:#}");
    }
}
