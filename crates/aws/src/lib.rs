//! Lakedrop's AWS side, through the real AWS SDK clients: connecting (profiles, SSO, the sandbox), uploading to
//! S3 with SSE-KMS, starting and following HealthLake import jobs, reading their manifests, and the import
//! pipeline that ties validation, upload and submission together.
//!
//! Every caller (the desktop shell, the CLI, the tests) goes through this crate; it knows nothing of Tauri or
//! terminals and reports progress through callbacks. Errors are classified into [`AwsError`] variants so the
//! shells never match on message strings.

pub mod catalog;
pub mod connect;
pub mod destination;
pub mod error;
pub mod fhir;
pub mod import;
pub mod jobs;
pub mod preflight;
pub mod results;
pub mod retry;
pub mod session;
pub mod transfer;
pub mod verify;

pub use connect::{Clients, Target, connect};
pub use error::{AwsError, ErrorKind};
pub use session::Session;
