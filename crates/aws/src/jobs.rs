//! HealthLake import jobs through the SDK: start, describe, list (all pages), wait, and read the manifest.

use std::time::Duration;

use aws_sdk_healthlake::types::{
    ImportJobProperties, InputDataConfig, JobStatus, OutputDataConfig, S3Configuration, ValidationLevel,
};
use lakedrop_core::job::{Job, JobProgress, JobResult, is_terminal};
use lakedrop_core::manifest::{MANIFEST_NAMES, Manifest};

use crate::retry::with_retries;
use crate::{AwsError, Clients};

/// Everything `StartFHIRImportJob` needs.
#[derive(Debug, Clone)]
pub struct StartImport {
    pub datastore_id: String,
    pub input_uri: String,
    pub output_uri: String,
    pub kms_key_id: String,
    pub role_arn: String,
    pub job_name: Option<String>,
    pub validation_level: lakedrop_validate::Level,
    pub client_token: String,
}

pub async fn start(clients: &Clients, request: &StartImport) -> Result<String, AwsError> {
    let output = S3Configuration::builder()
        .s3_uri(&request.output_uri)
        .kms_key_id(&request.kms_key_id)
        .build()
        .map_err(|e| AwsError::Input(e.to_string()))?;
    // The ClientToken makes a second send of the same request return the same job, so it is safe to retry.
    let out = with_retries("StartFHIRImportJob", "the import job's start", || {
        clients
            .healthlake
            .start_fhir_import_job()
            .set_job_name(request.job_name.clone())
            .datastore_id(&request.datastore_id)
            .data_access_role_arn(&request.role_arn)
            .input_data_config(InputDataConfig::S3Uri(request.input_uri.clone()))
            .job_output_data_config(OutputDataConfig::S3Configuration(output.clone()))
            .validation_level(ValidationLevel::from(request.validation_level.as_str()))
            .client_token(&request.client_token)
            .send()
    })
    .await?;
    Ok(out.job_id().to_string())
}

pub async fn describe(clients: &Clients, datastore_id: &str, job_id: &str) -> Result<Job, AwsError> {
    let out = with_retries("DescribeFHIRImportJob", "the job's status", || {
        clients.healthlake.describe_fhir_import_job().datastore_id(datastore_id).job_id(job_id).send()
    })
    .await?;
    out.import_job_properties()
        .map(to_job)
        .ok_or_else(|| AwsError::NotFound { message: format!("import job {job_id}") })
}

/// Which jobs to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// HealthLake's JobStatus, e.g. `IN_PROGRESS`.
    pub status: Option<String>,
    /// The exact job name.
    pub name: Option<String>,
    /// Epoch milliseconds.
    pub submitted_after: Option<i64>,
    pub submitted_before: Option<i64>,
}

impl JobFilter {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.name.is_none()
            && self.submitted_after.is_none()
            && self.submitted_before.is_none()
    }
}

/// Every import job of a data store, newest first, following `NextToken` to the end.
pub async fn list(clients: &Clients, datastore_id: &str, status: Option<&str>) -> Result<Vec<Job>, AwsError> {
    let filter = JobFilter { status: status.map(str::to_string), ..JobFilter::default() };
    list_filtered(clients, datastore_id, &filter, 100).await
}

/// The jobs of a data store that pass `filter`, fetched `page_size` at a time; queue positions are filled in
/// when the list is unfiltered (a filter hides the jobs ahead in the queue).
pub async fn list_filtered(
    clients: &Clients,
    datastore_id: &str,
    filter: &JobFilter,
    page_size: i32,
) -> Result<Vec<Job>, AwsError> {
    let time = |ms: i64| aws_smithy_types::DateTime::from_millis(ms);
    // Page by page, each through `with_retries`: HealthLake throttles its list calls, and one page given up after
    // the SDK's attempts would lose the whole listing.
    let mut jobs = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = with_retries("ListFHIRImportJobs", "the jobs", || {
            clients
                .healthlake
                .list_fhir_import_jobs()
                .datastore_id(datastore_id)
                .set_job_status(filter.status.as_deref().map(JobStatus::from))
                .set_job_name(filter.name.clone())
                .set_submitted_after(filter.submitted_after.map(time))
                .set_submitted_before(filter.submitted_before.map(time))
                .max_results(page_size)
                .set_next_token(next.clone())
                .send()
        })
        .await?;
        jobs.extend(page.import_job_properties_list().iter().map(to_job));
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => break,
        }
    }
    jobs.sort_by_key(|j| std::cmp::Reverse(j.submit_time));
    if filter.is_empty() {
        let positions = lakedrop_core::job::queue_positions(&jobs);
        for job in &mut jobs {
            job.queue_position = positions.get(&job.job_id).copied();
        }
    }
    Ok(jobs)
}

/// The jobs of every data store in the Region (started here, in the console or anywhere else), newest first.
pub async fn list_all(clients: &Clients, filter: &JobFilter) -> Result<Vec<Job>, AwsError> {
    let mut all = Vec::new();
    for store in crate::catalog::datastores(clients).await? {
        // Deleted stores answer ResourceNotFound for their jobs; they have none worth following.
        match list_filtered(clients, &store.id, filter, 100).await {
            Ok(jobs) => all.extend(jobs),
            Err(AwsError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    all.sort_by_key(|j| std::cmp::Reverse(j.submit_time));
    Ok(all)
}

/// Polls until the job ends, calling `on_update` on each change of status; backs off from `first_poll` to at
/// most ten seconds, as HealthLake's Describe rate limit suggests, and further (up to 30 s) through a run of
/// throttled, unavailable or unreachable polls, which only fail the wait when several come in a row.
pub async fn wait(
    clients: &Clients,
    datastore_id: &str,
    job_id: &str,
    first_poll: Duration,
    on_update: &mut dyn FnMut(&Job),
    cancel: &lakedrop_core::CancellationToken,
) -> Result<Job, AwsError> {
    // A poll that fails for a passing reason (throttled, AWS or the network briefly down) is only a missed
    // look at a job that runs on regardless; this many in a row, and the failure is reported.
    const TRANSIENT_FAILURES: u32 = 8;
    let mut delay = first_poll;
    let mut last_status = String::new();
    let mut failures = 0;
    loop {
        let job = match describe(clients, datastore_id, job_id).await {
            Err(
                AwsError::Throttled { .. }
                | AwsError::Unavailable { .. }
                | AwsError::Network { .. }
                | AwsError::Unreachable { .. },
            ) if failures + 1 < TRANSIENT_FAILURES => {
                failures += 1;
                delay = (delay * 2).min(Duration::from_secs(30));
                None
            }
            other => {
                failures = 0;
                Some(other?)
            }
        };
        if let Some(job) = job {
            if job.status != last_status {
                last_status.clone_from(&job.status);
                on_update(&job);
            }
            if is_terminal(&job.status) {
                return Ok(job);
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(AwsError::Cancelled),
            () = tokio::time::sleep(delay) => {}
        }
        if failures == 0 {
            delay = (delay + delay / 2).min(Duration::from_secs(10));
        }
    }
}

/// The job with its manifest, once the job has one.
pub async fn result(clients: &Clients, datastore_id: &str, job_id: &str) -> Result<JobResult, AwsError> {
    let job = describe(clients, datastore_id, job_id).await?;
    let manifest = match (&job.output_uri, is_terminal(&job.status)) {
        (Some(folder), true) => read_manifest(clients, folder).await?.map(|m| m.summary()),
        _ => None,
    };
    Ok(JobResult { job, manifest })
}

/// Reads `Manifest.json` (or `manifest.json`) from a job's output folder; `None` when neither exists.
pub async fn read_manifest(clients: &Clients, folder_uri: &str) -> Result<Option<Manifest>, AwsError> {
    let (bucket, prefix) = split_s3_uri(folder_uri)?;
    let prefix =
        if prefix.is_empty() || prefix.ends_with('/') { prefix.to_string() } else { format!("{prefix}/") };
    for name in MANIFEST_NAMES {
        let key = format!("{prefix}{name}");
        let got = with_retries("GetObject", "the manifest", || {
            clients.s3.get_object().bucket(bucket).key(&key).send()
        })
        .await;
        match got {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| AwsError::Network { operation: "GetObject", message: e.to_string() })?
                    .into_bytes();
                let manifest = Manifest::parse(&bytes).map_err(|e| {
                    AwsError::Input(format!("{folder_uri}{name} is not a readable manifest: {e}"))
                })?;
                return Ok(Some(manifest));
            }
            Err(AwsError::NotFound { .. }) => continue,
            Err(other) => return Err(other),
        }
    }
    Ok(None)
}

pub fn split_s3_uri(uri: &str) -> Result<(&str, &str), AwsError> {
    let rest =
        uri.strip_prefix("s3://").ok_or_else(|| AwsError::Input(format!("{uri} is not an s3:// URI")))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(AwsError::Input(format!("{uri} names no bucket")));
    }
    Ok((bucket, key))
}

fn millis(t: &aws_smithy_types::DateTime) -> i64 {
    t.to_millis().unwrap_or(0)
}

pub fn to_job(p: &ImportJobProperties) -> Job {
    let output_uri = match p.job_output_data_config() {
        Some(OutputDataConfig::S3Configuration(c)) => Some(c.s3_uri().to_string()),
        _ => None,
    };
    let status = p.job_status().as_str().to_string();
    Job {
        advice: lakedrop_core::job::failure_advice(&status, p.message()),
        job_id: p.job_id().to_string(),
        job_name: p.job_name().map(str::to_string),
        datastore_id: p.datastore_id().to_string(),
        status,
        submit_time: millis(p.submit_time()),
        end_time: p.end_time().map(millis),
        message: p.message().map(str::to_string),
        input_uri: match p.input_data_config() {
            Some(InputDataConfig::S3Uri(uri)) => Some(uri.clone()),
            _ => None,
        },
        output_uri,
        progress: p.job_progress_report().map(|r| JobProgress {
            scanned_mb: r.total_size_of_scanned_files_in_mb().unwrap_or(0.0),
            scanned_files: r.total_number_of_scanned_files().unwrap_or(0).max(0) as u64,
            resources_scanned: r.total_number_of_resources_scanned().unwrap_or(0).max(0) as u64,
            resources_imported: r.total_number_of_resources_imported().unwrap_or(0).max(0) as u64,
            resources_with_customer_error: r
                .total_number_of_resources_with_customer_error()
                .unwrap_or(0)
                .max(0) as u64,
            files_read_with_customer_error: r
                .total_number_of_files_read_with_customer_error()
                .unwrap_or(0)
                .max(0) as u64,
        }),
        queue_position: None,
        eta: None,
    }
}
