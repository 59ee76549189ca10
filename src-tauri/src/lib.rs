//! The desktop shell: a Tauri window around the library crates. It holds no logic of its own: each command in
//! `commands/` parses its input, calls one library function and maps the error to `{ code, message }`.
//!
//! Deliberately not here: validation, AWS calls, job logic (all in `crates/`), and any UI (in `ui/`).

mod commands;
mod error;
mod pace;
mod session;

pub use error::{ErrorCode, IpcError};
pub use session::AppState;

/// The typed command list; `bindings_are_current` checks the TypeScript generated from it.
pub fn specta_builder<R: tauri::Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new().commands(tauri_specta::collect_commands![
        commands::connection::connection,
        commands::connection::connection_status,
        commands::connection::profiles,
        commands::connection::use_connection,
        commands::connection::sso_sign_in,
        commands::connection::datastores,
        commands::connection::kms_keys,
        commands::connection::buckets,
        commands::connection::set_destination,
        commands::connection::remembered_role,
        commands::preflight::preflight,
        commands::preflight::policies,
        commands::files::initial_paths,
        commands::files::pick_files,
        commands::files::sample_paths,
        commands::files::validate_files,
        commands::files::line_text,
        commands::files::export_rejected,
        commands::import::start_import,
        commands::import::cancel,
        commands::jobs::list_jobs,
        commands::jobs::job_result,
        commands::jobs::import_result,
        commands::notify::notify_finished,
        commands::results::failure_summary,
        commands::results::failure_rows,
        commands::results::export_failures,
        commands::results::retry_failures,
        commands::repair::check_resource,
        commands::repair::keep_repair,
        commands::repair::preview_repair,
        commands::repair::change_record,
        commands::repair::save_change_record,
        commands::repair::save_repair_plan,
        commands::repair::open_repair_plan,
        commands::repair::fix_file,
        commands::readback::fhir_lookup,
        commands::readback::fhir_page,
        commands::readback::verify_sample,
        commands::uploads::clean_uploads,
    ])
}

/// Writes the TypeScript bindings the UI imports.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    let exporter = specta_typescript::Typescript::default().header("// @ts-nocheck\n/* eslint-disable */");
    specta_builder::<tauri::Wry>()
        // Counts and byte sizes stay far below 2^53; one API type per Rust type reads better than split
        // serialize/deserialize shapes.
        .dangerously_cast_bigints_to_number()
        .disable_serde_phases()
        .export(exporter, path)
        .map_err(|e| e.to_string())
}

/// Logs go to `<data dir>/logs/lakedrop.log.<date>`, rotated daily and pruned to a week, through the shared
/// filter that keeps request bodies (patient data) out of every log.
fn init_logging(data_dir: &std::path::Path) {
    let user = std::env::var("LAKEDROP_LOG").ok();
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("lakedrop.log")
        .max_log_files(7)
        .build(data_dir.join("logs"));
    match appender {
        Ok(appender) => lakedrop_core::logging::init(appender, false, user.as_deref(), "info"),
        Err(e) => {
            lakedrop_core::logging::init(std::io::stderr, false, user.as_deref(), "info");
            tracing::warn!(error = %e, "cannot write log files; logging to stderr");
        }
    }
}

/// The menu people expect: File (open files or a folder, quit), Edit (undo, cut, copy, paste, select all: without
/// it macOS gives text fields no keyboard shortcuts for them), View (Files, Jobs), Window, Help (shortcuts, about);
/// on macOS the app's own menu holds About, Services, Hide and Quit, as there. Choices reach the window as a
/// `menu` event carrying the item's id; the window decides what to do.
fn install_menu(app: &mut tauri::App) -> tauri::Result<()> {
    use tauri::Emitter;
    use tauri::menu::{AboutMetadata, MenuBuilder, MenuItemBuilder, SubmenuBuilder};
    let item =
        |id: &str, text: &str, keys: &str| MenuItemBuilder::with_id(id, text).accelerator(keys).build(app);
    let about = AboutMetadata {
        name: Some("Lakedrop".into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        comments: Some("FHIR R4 NDJSON into AWS HealthLake, checked first and reviewed after.".into()),
        ..AboutMetadata::default()
    };
    let menu = MenuBuilder::new(app);
    #[cfg(target_os = "macos")]
    let menu = menu.item(
        &SubmenuBuilder::new(app, "Lakedrop")
            .about(Some(about))
            .separator()
            .services()
            .separator()
            .hide()
            .hide_others()
            .show_all()
            .separator()
            .quit()
            .build()?,
    );
    let file = SubmenuBuilder::new(app, "File")
        .item(&item("open-files", "Open Files…", "CmdOrCtrl+O")?)
        .item(&item("open-folder", "Open Folder…", "CmdOrCtrl+Shift+O")?)
        .separator();
    #[cfg(target_os = "macos")]
    let file = file.close_window().build()?;
    #[cfg(not(target_os = "macos"))]
    let file = file.quit().build()?;
    let edit = SubmenuBuilder::new(app, "Edit")
        .undo()
        .redo()
        .separator()
        .cut()
        .copy()
        .paste()
        .select_all()
        .build()?;
    let view = SubmenuBuilder::new(app, "View")
        .item(&item("view-files", "Files", "CmdOrCtrl+1")?)
        .item(&item("view-jobs", "Jobs", "CmdOrCtrl+2")?)
        .build()?;
    let window = SubmenuBuilder::new(app, "Window").minimize().maximize().build()?;
    let help =
        SubmenuBuilder::new(app, "Help").item(&item("shortcuts", "Keyboard Shortcuts", "CmdOrCtrl+/")?);
    #[cfg(not(target_os = "macos"))]
    let help = help.about(Some(about));
    let help = help.build()?;
    let menu = menu.items(&[&file, &edit, &view, &window, &help]).build()?;
    app.set_menu(menu)?;
    app.on_menu_event(|app, event| {
        if let Err(e) = app.emit("menu", event.id().as_ref()) {
            tracing::warn!(error = %e, "could not pass a menu choice to the window");
        }
    });
    Ok(())
}

pub fn run() {
    init_logging(&lakedrop_core::data_dir());
    let initial_paths: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let specta = specta_builder::<tauri::Wry>();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        // Size, position and maximized state come back as the person left them (saved in the app's config dir).
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .manage(AppState::new(lakedrop_core::data_dir(), initial_paths))
        .invoke_handler(specta.invoke_handler())
        // Only a real drop through the OS grants access to its paths; the webview's own events do not.
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = event {
                use tauri::Manager;
                window.state::<AppState>().allow_paths(paths);
            }
        })
        .setup(|app| {
            use tauri::Manager;
            let state = app.state::<AppState>().inner().clone();
            let handle = app.handle().clone();
            state.set_save_dialog(std::sync::Arc::new(move |name: &str| {
                use tauri_plugin_dialog::DialogExt;
                let (label, extension) = match name.rsplit('.').next() {
                    Some("csv") => ("CSV", "csv"),
                    Some("json") => ("Repair plan (JSON)", "json"),
                    _ => ("NDJSON", "ndjson"),
                };
                let picked = handle
                    .dialog()
                    .file()
                    .set_file_name(name)
                    .add_filter(label, &[extension])
                    .blocking_save_file();
                picked.and_then(|p| p.into_path().ok())
            }));
            // IAM Identity Center's sign-in page opens in the person's own browser, never in the app's webview.
            state.set_browser(std::sync::Arc::new(|url: &str| {
                if let Err(e) = open::that_detached(url) {
                    tracing::warn!(error = %e, "could not open the browser for the sign-in page");
                }
            }));
            install_menu(app)?;
            match app.path().resource_dir() {
                Ok(dir) => state.set_sample_dir(dir.join("samples/synthea-10-patients")),
                Err(e) => tracing::warn!(error = %e, "no resource folder: the bundled sample is not offered"),
            }
            let handle = app.handle().clone();
            state.set_pick_dialog(std::sync::Arc::new(move |pick: session::Pick| {
                use tauri_plugin_dialog::DialogExt;
                let dialog = handle.dialog().file();
                let picked = match pick {
                    session::Pick::Folder => dialog.blocking_pick_folder().into_iter().collect(),
                    session::Pick::Files => dialog
                        .add_filter("FHIR NDJSON or Bundles", &["ndjson", "json", "gz"])
                        .blocking_pick_files()
                        .unwrap_or_default(),
                    session::Pick::Plan => dialog
                        .add_filter("Repair plan (JSON)", &["json"])
                        .blocking_pick_file()
                        .into_iter()
                        .collect(),
                };
                picked.into_iter().filter_map(|p| p.into_path().ok()).collect()
            }));
            // Start the sandbox (or connect) while the window loads, so the first command does not wait.
            tauri::async_runtime::spawn(async move {
                if let Err(e) = state.session().await {
                    tracing::error!(error = %e.message, "could not connect at start");
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("Lakedrop could not start: {e}");
        std::process::exit(1);
    }
}
