//! HealthLake (AWS JSON 1.0, `HealthLake.*`): FHIR data stores, import and export jobs, with the service's
//! documented behaviour: stores go CREATING then ACTIVE, jobs of both kinds queue FIFO per data store with one
//! running at a time, a `ClientToken` makes a retried start return the same job, imports write `Manifest.json`,
//! `SUCCESS/` and `FAILURE/` under `<output>/<DatastoreId>-FHIR_IMPORT-<JobId>/` and exports NDJSON per resource
//! type under `<output>/<DatastoreId>-FHIR_EXPORT-<JobId>/`, encrypted under the job's KMS key. The FHIR REST
//! API over the same stored resources is `crate::fhir`.
//!
//! Request shapes and constraints are checked against the service model itself (`model.rs`).

mod datastores;
mod exports;
mod jobs;
pub mod model;
mod runner;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::Notify;

use crate::db::Db;
use crate::iam::Iam;
use crate::kms::Kms;
use crate::protocol::{ApiError, ApiResult};
use crate::s3::ObjectStore;

pub use runner::run_jobs;

/// How the simulated service paces itself; tests shorten it.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// How long a new data store stays CREATING.
    pub datastore_creation: Duration,
    /// A pause before each job starts running, so QUEUED and IN_PROGRESS are observable.
    pub job_start_delay: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { datastore_creation: Duration::from_secs(2), job_start_delay: Duration::from_millis(300) }
    }
}

pub struct HealthLake {
    db: Arc<Db>,
    store: Arc<ObjectStore>,
    kms: Arc<Kms>,
    iam: Arc<Iam>,
    region: String,
    account: String,
    /// The sandbox's own URL, for `DatastoreEndpoint`.
    endpoint: String,
    pacing: Pacing,
    wake: Notify,
}

/// The sandbox's other services, which HealthLake uses as the real one uses S3, KMS and IAM.
pub struct Dependencies {
    pub db: Arc<Db>,
    pub store: Arc<ObjectStore>,
    pub kms: Arc<Kms>,
    pub iam: Arc<Iam>,
}

impl HealthLake {
    pub fn new(
        deps: Dependencies,
        region: &str,
        account: &str,
        endpoint: &str,
        pacing: Pacing,
    ) -> HealthLake {
        let Dependencies { db, store, kms, iam } = deps;
        HealthLake {
            db,
            store,
            kms,
            iam,
            region: region.into(),
            account: account.into(),
            endpoint: endpoint.trim_end_matches('/').into(),
            pacing,
            wake: Notify::new(),
        }
    }

    /// The database, for the FHIR REST API (`crate::fhir`), which serves the `resources` table imports fill.
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub fn handle(&self, operation: &str, input: &Value, now: SystemTime) -> ApiResult {
        if !model::has_operation(operation) {
            return Err(ApiError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation {operation}"),
            ));
        }
        model::validate_input(operation, input)?;
        self.settle_datastores(now)?;
        let output = self.dispatch(operation, input, now)?;
        // Every response in debug builds (so every test) is checked against the model's output shape: the SDKs
        // silently default missing required members, so a non-conforming answer would otherwise go unnoticed.
        #[cfg(debug_assertions)]
        if let Err(problem) = model::validate_output(operation, &output) {
            tracing::error!(%problem, "the sandbox's response does not conform to the service model");
            return Err(ApiError::internal(problem));
        }
        Ok(output)
    }

    fn dispatch(&self, operation: &str, input: &Value, now: SystemTime) -> ApiResult {
        match operation {
            "CreateFHIRDatastore" => self.create_datastore(input, now),
            "DescribeFHIRDatastore" => self.describe_datastore(input),
            "ListFHIRDatastores" => self.list_datastores(input),
            "DeleteFHIRDatastore" => self.delete_datastore(input, now),
            "StartFHIRImportJob" => {
                let out = self.start_import_job(input, now)?;
                self.wake.notify_one();
                Ok(out)
            }
            "DescribeFHIRImportJob" => self.describe_import_job(input),
            "ListFHIRImportJobs" => self.list_import_jobs(input),
            "StartFHIRExportJob" => {
                let out = self.start_export_job(input, now)?;
                self.wake.notify_one();
                Ok(out)
            }
            "DescribeFHIRExportJob" => self.describe_export_job(input),
            "ListFHIRExportJobs" => self.list_export_jobs(input),
            other => Err(ApiError::new(
                "UnknownOperationException",
                400,
                format!("the sandbox does not implement HealthLake.{other} yet"),
            )),
        }
    }
}

/// Splits `s3://bucket/prefix` into its parts.
pub(crate) fn parse_s3_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

/// Opaque page tokens: the offset into the ordered result, so a token stays valid as long as the list does.
pub(crate) fn page(input: &Value, total: usize) -> ApiResult<(usize, usize, Option<String>)> {
    let start = match input.get("NextToken").and_then(Value::as_str) {
        None | Some("") => 0,
        Some(token) => token
            .strip_prefix("lakedrop-page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n <= total)
            .ok_or_else(|| ApiError::validation("Invalid NextToken"))?,
    };
    let size = input.get("MaxResults").and_then(Value::as_u64).map_or(100, |n| n as usize);
    let end = (start + size).min(total);
    let next = (end < total).then(|| format!("lakedrop-page-{end}"));
    Ok((start, end, next))
}
