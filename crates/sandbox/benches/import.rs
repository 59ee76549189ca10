//! How long the sandbox takes to import the 10-patient Synthea sample (7,160 resources), end to end through the
//! real SDK clients: upload, StartFHIRImportJob, and polling until COMPLETED. Prints the figures; no assertions.
//!
//! Run with `make bench` or `cargo bench -p lakedrop-sandbox --bench import`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_healthlake::types::{InputDataConfig, JobStatus, OutputDataConfig, S3Configuration};
use aws_sdk_s3::primitives::ByteStream;
use lakedrop_sandbox::{Pacing, Sandbox, SandboxConfig};

#[path = "../tests/support/mod.rs"]
mod support;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(dir.path());
    // No artificial pause before the job starts: this measures the work.
    config.pacing = Pacing { job_start_delay: Duration::ZERO, ..Pacing::default() };
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let seed = sandbox.seed().clone();
    let sdk = support::sdk(&sandbox, None).await;
    let s3 = support::s3(&sdk);
    let healthlake = aws_sdk_healthlake::Client::new(&sdk);

    let mut files: Vec<PathBuf> = std::fs::read_dir(&sample)
        .expect("sample")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "ndjson") && p.file_name().is_some_and(|n| n != "log.ndjson")
        })
        .collect();
    files.sort();
    let bytes: u64 = files.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).sum();

    let t0 = Instant::now();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let body = ByteStream::from_path(path).await.expect("file");
        s3.put_object()
            .bucket(&seed.input_bucket)
            .key(format!("bench/{name}"))
            .body(body)
            .send()
            .await
            .expect("put");
    }
    let uploaded = t0.elapsed();

    let t1 = Instant::now();
    let output = S3Configuration::builder()
        .s3_uri(format!("s3://{}/bench-out/", seed.output_bucket))
        .kms_key_id(&seed.kms_key_arn)
        .build()
        .expect("output config");
    let job = healthlake
        .start_fhir_import_job()
        .datastore_id(&seed.datastore_id)
        .data_access_role_arn(&seed.role_arn)
        .input_data_config(InputDataConfig::S3Uri(format!("s3://{}/bench/", seed.input_bucket)))
        .job_output_data_config(OutputDataConfig::S3Configuration(output))
        .send()
        .await
        .expect("start");
    let imported = loop {
        let d = healthlake
            .describe_fhir_import_job()
            .datastore_id(&seed.datastore_id)
            .job_id(job.job_id())
            .send()
            .await
            .expect("describe");
        let props = d.import_job_properties().expect("properties");
        match props.job_status() {
            JobStatus::Completed => {
                break props
                    .job_progress_report()
                    .and_then(|r| r.total_number_of_resources_imported())
                    .unwrap_or(0);
            }
            JobStatus::CompletedWithErrors | JobStatus::Failed => {
                panic!("job ended {:?}: {:?}", props.job_status(), props.message())
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    let import = t1.elapsed();
    let total = t0.elapsed();
    sandbox.stop().await;

    println!(
        "sandbox import of the 10-patient sample ({} files, {:.1} MB, {imported} resources)",
        files.len(),
        bytes as f64 / 1e6
    );
    println!("  upload (13 PutObject)           {:>8.3} s", uploaded.as_secs_f64());
    println!("  StartFHIRImportJob → COMPLETED  {:>8.3} s", import.as_secs_f64());
    println!("  end to end                      {:>8.3} s   (target < 3 s)", total.as_secs_f64());
    println!("  import throughput               {:>8.0} resources/s", imported as f64 / import.as_secs_f64());
}
