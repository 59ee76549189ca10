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
mod messages;
pub mod model;
mod runner;
mod tags;

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

/// The HealthLake operations the sandbox answers; the model's others (the data-transformation operations) are
/// refused with a message naming these. `lakedrop sandbox serve --help` and the README list them too.
pub const SUPPORTED_OPERATIONS: &[&str] = &[
    "CreateFHIRDatastore",
    "DescribeFHIRDatastore",
    "ListFHIRDatastores",
    "UpdateFHIRDatastore",
    "DeleteFHIRDatastore",
    "RestoreFHIRDatastore",
    "StartFHIRImportJob",
    "DescribeFHIRImportJob",
    "ListFHIRImportJobs",
    "StartFHIRExportJob",
    "DescribeFHIRExportJob",
    "ListFHIRExportJobs",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// How the simulated service paces itself; tests shorten it.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// How long a new data store stays CREATING.
    pub datastore_creation: Duration,
    /// A pause before each job starts running, so QUEUED and IN_PROGRESS are observable.
    pub job_start_delay: Duration,
    /// A pause after each committed import batch, so that crash tests can stop the sandbox mid-job
    /// (`--faults hold-after:ImportBatch=MS`); none by default.
    pub batch_hold: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            datastore_creation: Duration::from_secs(2),
            job_start_delay: Duration::from_millis(300),
            batch_hold: Duration::ZERO,
        }
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

    /// The Region the service answers for, which a request's credential scope must name.
    pub(crate) fn region(&self) -> &str {
        &self.region
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
            "UpdateFHIRDatastore" => self.update_datastore(input, now),
            "RestoreFHIRDatastore" => self.restore_datastore(input, now),
            "TagResource" => self.tag_resource(input),
            "UntagResource" => self.untag_resource(input),
            "ListTagsForResource" => self.list_tags_for_resource(input),
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
                format!(
                    "The Lakedrop sandbox does not implement HealthLake.{other}. It implements {}.",
                    SUPPORTED_OPERATIONS.join(", ")
                ),
            )),
        }
    }
}

/// Splits `s3://bucket/prefix` into its parts.
pub(crate) fn parse_s3_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

/// One page of `items` (already in the list's order) and the token of the next. A token names the last item
/// returned by its `key`, which must be unique and sort (as a string) in the list's order; the next page starts
/// after that key. Unlike an offset, the token stays right when items are added before it: a job started
/// between two pages of a newest-first list is not shown twice.
pub(crate) fn page<'a, T>(
    input: &Value,
    items: &'a [T],
    key: impl Fn(&T) -> String,
) -> ApiResult<(&'a [T], Option<String>)> {
    let start = match input.get("NextToken").and_then(Value::as_str) {
        None | Some("") => 0,
        Some(token) => {
            let after = token
                .strip_prefix(PAGE_TOKEN_PREFIX)
                .ok_or_else(|| ApiError::validation("Invalid NextToken"))?;
            items.partition_point(|item| key(item).as_str() <= after)
        }
    };
    let size = input.get("MaxResults").and_then(Value::as_u64).map_or(100, |n| n as usize);
    let end = start.saturating_add(size).min(items.len());
    let next = if end < items.len() {
        items[..end].last().map(|last| format!("{PAGE_TOKEN_PREFIX}{}", key(last)))
    } else {
        None
    };
    Ok((&items[start..end], next))
}

const PAGE_TOKEN_PREFIX: &str = "lakedrop-after-";

/// A number as a fixed-width string, so that keys sort as numbers do.
pub(crate) fn sortable(n: u64) -> String {
    format!("{n:020}")
}
