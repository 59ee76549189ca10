//! Lakedrop's domain model: import batches, jobs, HealthLake's manifest and output lines, progress events and the
//! local state that ties local files to the jobs they went into.
//!
//! Everything here is plain data and pure functions plus a small SQLite store; it deliberately does no network
//! I/O and knows nothing of the AWS SDK or Tauri, so the sandbox (which writes manifests and FAILURE lines) and
//! the app (which reads them) share one definition of each format.

pub mod batch;
pub mod bundle;
pub mod destination;
pub mod files;
pub mod job;
pub mod logging;
pub mod manifest;
pub mod output;
pub mod policy;
pub mod progress;
pub mod quickfix;
pub mod readback;
pub mod repair;
pub mod results;
pub mod settings;
pub mod source;
pub mod state;
pub mod text;

pub use tokio_util::sync::CancellationToken;

/// Where Lakedrop keeps its state (local history, the embedded sandbox): `$LAKEDROP_DATA_DIR`, or the platform's
/// data directory (`~/.local/share/lakedrop` on Linux). The app and the CLI share it.
pub fn data_dir() -> std::path::PathBuf {
    match std::env::var_os("LAKEDROP_DATA_DIR") {
        Some(dir) if !dir.is_empty() => dir.into(),
        _ => dirs::data_dir().unwrap_or_else(std::env::temp_dir).join("lakedrop"),
    }
}
