//! The AWS crate against the in-process sandbox, through the real SDK clients over loopback.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lakedrop_aws::Session;
use lakedrop_aws::import::{ImportRequest, run};
use lakedrop_aws::jobs::{self, StartImport};
use lakedrop_aws::{AwsError, Clients, Target, connect};
use lakedrop_core::CancellationToken;
use lakedrop_core::destination::{ConnectionKind, Destination, ResolvedDestination};
use lakedrop_core::output::OutputLine;
use lakedrop_core::state::State;
use lakedrop_sandbox::{Pacing, Sandbox};

mod support;
use lakedrop_validate::Level;

struct Fixture {
    sandbox: Sandbox,
    clients: Clients,
    destination: ResolvedDestination,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    fixture_with(Duration::from_millis(50)).await
}

/// A sandbox whose jobs each stay IN_PROGRESS at least `job_time`.
async fn fixture_with(job_time: Duration) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let pacing = Pacing {
        datastore_creation: Duration::from_millis(200),
        job_start_delay: job_time,
        ..Pacing::default()
    };
    let (sandbox, clients) = support::start(&dir, pacing).await;
    let destination = Session::new(clients.clone(), ConnectionKind::Sandbox, "Sandbox")
        .resolve(&Destination::default())
        .await
        .expect("the sandbox's defaults resolve");
    Fixture { sandbox, clients, destination, _dir: dir }
}

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients")
}

async fn import(f: &Fixture, paths: Vec<PathBuf>) -> lakedrop_core::progress::ImportStarted {
    let state = State::open_in_memory().expect("state");
    let request = ImportRequest {
        keep_bundles: false,
        paths,
        job_name: None,
        level: Level::StructureOnly,
        again: false,
        checked: Default::default(),
    };
    run(&f.clients, &f.destination, &state, request, &|_| {}, &CancellationToken::new(), 1_795_336_440)
        .await
        .expect("import starts")
}

async fn wait(f: &Fixture, job_id: &str) -> lakedrop_core::job::Job {
    let cancel = CancellationToken::new();
    let mut on_update = |_: &lakedrop_core::job::Job| {};
    let wait = jobs::wait(
        &f.clients,
        &f.destination.datastore_id,
        job_id,
        Duration::from_millis(50),
        &mut on_update,
        &cancel,
    );
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .expect("job ends in time")
        .expect("describe works")
}

#[tokio::test]
async fn the_sandbox_seed_resolves_as_a_destination() {
    let f = fixture().await;
    let seed = f.sandbox.seed();
    assert_eq!(f.destination.datastore_id, seed.datastore_id);
    assert_eq!(f.destination.kms_key_id, seed.kms_key_arn, "the alias resolves to the key's ARN");
    assert_eq!(f.destination.input_bucket, "lakedrop-input");
    assert_eq!(f.destination.output_uri, "s3://lakedrop-output/lakedrop-output/");
}

#[tokio::test]
async fn the_ten_patient_sample_imports_end_to_end() {
    let f = fixture().await;
    let started = import(&f, vec![sample_dir()]).await;
    assert_eq!(started.files_uploaded, 13);
    let skipped: Vec<String> = started.files_skipped.iter().map(|s| s.describe()).collect();
    assert_eq!(skipped, ["log.ndjson: not FHIR, not uploaded"]);
    assert!(started.input_uri.starts_with("s3://lakedrop-input/lakedrop/"), "{}", started.input_uri);

    let job = wait(&f, &started.job_id).await;
    assert_eq!(job.status, "COMPLETED", "{:?}", job.message);
    let result = jobs::result(&f.clients, &f.destination.datastore_id, &job.job_id).await.expect("result");
    let manifest = result.manifest.expect("a manifest");
    assert_eq!(manifest.scanned_files, 13);
    assert_eq!(manifest.resources_scanned, 7160);
    assert_eq!(manifest.resources_imported, 7160);
    assert_eq!(manifest.resources_with_customer_error, 0);
    let folder = job.output_uri.expect("output folder");
    assert!(
        folder.ends_with(&format!("{}-FHIR_IMPORT-{}/", f.destination.datastore_id, job.job_id)),
        "{folder}"
    );
    f.sandbox.stop().await;
}

/// Writes a Patient file whose lines 2 and 4 HealthLake would reject.
fn file_with_bad_lines(dir: &Path) -> PathBuf {
    let good = std::fs::read_to_string(sample_dir().join("Patient.000.ndjson")).expect("sample");
    let lines: Vec<&str> = good.lines().take(3).collect();
    let mut no_id: serde_json::Value = serde_json::from_str(lines[1]).expect("json");
    no_id.as_object_mut().expect("object").remove("id");
    let text = format!(
        "{}\n{}\n{}\n{{\"resourceType\": \"Patient\", broken\n{}\n",
        lines[0], no_id, lines[1], lines[2]
    );
    let path = dir.join("Patient.bad.ndjson");
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test]
async fn rejected_lines_land_in_failure_files_with_their_line_ids() {
    let f = fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let started = import(&f, vec![file_with_bad_lines(dir.path())]).await;
    let job = wait(&f, &started.job_id).await;
    assert_eq!(job.status, "COMPLETED_WITH_ERRORS", "a partial success");
    let manifest = jobs::result(&f.clients, &f.destination.datastore_id, &job.job_id)
        .await
        .expect("result")
        .manifest
        .expect("manifest");
    assert_eq!(
        (manifest.resources_scanned, manifest.resources_imported, manifest.resources_with_customer_error),
        (5, 3, 2)
    );

    let folder = job.output_uri.expect("folder");
    let (bucket, prefix) = jobs::split_s3_uri(&folder).expect("uri");
    let object = f
        .clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(format!("{prefix}FAILURE/Patient.bad.ndjson"))
        .send()
        .await
        .expect("FAILURE file");
    assert_eq!(object.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"), "output is SSE-KMS");
    let bytes = object.body.collect().await.expect("body").into_bytes();
    let lines: Vec<OutputLine> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("line"))
        .collect();
    assert_eq!(lines.iter().map(|l| l.line_id).collect::<Vec<_>>(), [2, 4]);
    assert_eq!(lines[0].diagnostics(), ["Missing required id field in resource json"]);
    assert_eq!(lines[1].diagnostics(), ["Invalid JSON found in input file"]);
    assert_eq!(lines[0].update_resource_response.as_ref().map(|r| r.status_code), Some(400));
}

#[tokio::test]
async fn the_same_client_token_never_starts_two_jobs() {
    let f = fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let started = import(&f, vec![file_with_bad_lines(dir.path())]).await;
    let job = jobs::describe(&f.clients, &f.destination.datastore_id, &started.job_id).await.expect("job");
    let request = StartImport {
        datastore_id: f.destination.datastore_id.clone(),
        input_uri: started.input_uri.clone(),
        output_uri: f.destination.output_uri.clone(),
        kms_key_id: f.destination.kms_key_id.clone(),
        role_arn: f.destination.role_arn.clone(),
        job_name: job.job_name.clone(),
        validation_level: Level::StructureOnly,
        client_token: "retry-token-1".into(),
    };
    let first = jobs::start(&f.clients, &request).await.expect("first");
    let second = jobs::start(&f.clients, &request).await.expect("retry");
    assert_eq!(first, second);
    let all = jobs::list(&f.clients, &f.destination.datastore_id, None).await.expect("list");
    assert_eq!(all.len(), 2, "the pipeline's job and the token's job, nothing more");
}

#[tokio::test]
async fn three_jobs_on_one_data_store_run_one_at_a_time_in_order() {
    // Each job runs long enough that all three are submitted, even on a loaded machine, before the first ends.
    let f = fixture_with(Duration::from_millis(700)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file_with_bad_lines(dir.path());
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(import(&f, vec![path.clone()]).await.job_id);
    }
    let mut saw_queued = false;
    let mut saw_positions = false;
    let mut ended = Vec::new();
    for _ in 0..600 {
        let all = jobs::list(&f.clients, &f.destination.datastore_id, None).await.expect("list");
        let mut positions: Vec<(String, Option<u32>)> =
            all.iter().map(|j| (j.job_id.clone(), j.queue_position)).collect();
        positions.sort_by_key(|(id, _)| ids.iter().position(|i| i == id));
        if positions.iter().map(|(_, p)| *p).collect::<Vec<_>>() == [Some(0), Some(1), Some(2)] {
            saw_positions = true;
        }
        let running = all.iter().filter(|j| j.status == "IN_PROGRESS").count();
        assert!(running <= 1, "at most one job runs per data store");
        saw_queued |= all.iter().any(|j| j.status == "QUEUED");
        if all.iter().all(|j| lakedrop_core::job::is_terminal(&j.status)) {
            ended = all;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_queued, "later jobs wait as QUEUED");
    assert!(saw_positions, "the three jobs stood at queue positions 0, 1 and 2 in submission order");
    let mut by_end: Vec<_> = ended.iter().map(|j| (j.end_time.expect("ended"), j.job_id.clone())).collect();
    by_end.sort();
    assert_eq!(by_end.into_iter().map(|(_, id)| id).collect::<Vec<_>>(), ids, "FIFO");
}

#[tokio::test]
async fn wrong_credentials_are_reported_as_credentials() {
    let f = fixture().await;
    let clients = connect(&Target::Endpoint {
        url: f.sandbox.endpoint().to_string(),
        region: "us-east-1".into(),
        access_key_id: f.sandbox.seed().access_key_id.clone(),
        secret_access_key: "wrong".into(),
    })
    .await
    .expect("clients");
    let err = jobs::list(&clients, &f.destination.datastore_id, None).await.expect_err("refused");
    assert!(matches!(err, AwsError::Credentials { .. }), "{err:?}");
    let err = clients.s3.list_buckets().send().await.expect_err("refused");
    assert!(matches!(AwsError::from_sdk("ListBuckets", err), AwsError::Credentials { .. }));
}

#[tokio::test]
async fn job_lists_page_through_every_job_filter_and_span_data_stores() {
    let f = fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file_with_bad_lines(dir.path());
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(import(&f, vec![path.clone()]).await.job_id);
    }
    let store = &f.destination.datastore_id;
    let paged = jobs::list_filtered(&f.clients, store, &jobs::JobFilter::default(), 1).await.expect("paged");
    let mut seen: Vec<String> = paged.iter().map(|j| j.job_id.clone()).collect();
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected, "three pages of one job each");

    let named = jobs::JobFilter { name: paged[0].job_name.clone(), ..jobs::JobFilter::default() };
    let by_name = jobs::list_filtered(&f.clients, store, &named, 100).await.expect("by name");
    assert_eq!(by_name.len(), 1);
    let later = jobs::JobFilter {
        submitted_after: Some(paged[0].submit_time + 60_000),
        ..jobs::JobFilter::default()
    };
    assert!(jobs::list_filtered(&f.clients, store, &later, 100).await.expect("later").is_empty());

    let all = jobs::list_all(&f.clients, &jobs::JobFilter::default()).await.expect("all stores");
    assert_eq!(all.len(), 3);
    for id in &ids {
        wait(&f, id).await;
    }
}

#[tokio::test]
async fn an_import_interrupted_during_upload_continues_its_batch() {
    let f = fixture().await;
    let state = State::open_in_memory().expect("state");
    let request = || ImportRequest {
        keep_bundles: false,
        paths: vec![sample_dir()],
        job_name: None,
        level: Level::StructureOnly,
        again: false,
        checked: Default::default(),
    };
    let cancel = CancellationToken::new();
    let files_started = std::sync::Mutex::new(Vec::new());
    let stop_at_third = |p: lakedrop_core::progress::ImportProgress| {
        if let lakedrop_core::progress::ImportProgress::Uploading { file, .. } = p {
            let mut seen = files_started.lock().expect("lock");
            if !seen.contains(&file) {
                seen.push(file);
            }
            if seen.len() == 3 {
                cancel.cancel();
            }
        }
    };
    let err = run(&f.clients, &f.destination, &state, request(), &stop_at_third, &cancel, 1_795_336_440)
        .await
        .expect_err("cancelled");
    assert!(matches!(err, AwsError::Cancelled), "{err}");

    let started =
        run(&f.clients, &f.destination, &state, request(), &|_| {}, &CancellationToken::new(), 1_795_336_500)
            .await
            .expect("continues");
    let listed =
        f.clients.s3.list_objects_v2().bucket(&f.destination.input_bucket).send().await.expect("list");
    let prefixes: std::collections::BTreeSet<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter_map(|k| k.rsplit_once('/').map(|(p, _)| p.to_string()))
        .collect();
    assert_eq!(prefixes.len(), 1, "one batch prefix, reused: {prefixes:?}");
    assert_eq!(started.files_uploaded, 13);
    assert!(
        started.encryption.as_deref().is_some_and(|e| e.starts_with("aws:kms (arn:aws:kms:")),
        "{started:?}"
    );
    assert!(started.input_uri.contains(prefixes.iter().next().expect("prefix")));
}

/// The NDJSON files of the sample (not its bulk-export log).
fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sample_dir())
        .expect("sample")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson") && !p.ends_with("log.ndjson"))
        .collect();
    files.sort();
    files
}

/// Every object under an S3 URI's prefix: key and bytes.
async fn objects_under(f: &Fixture, uri: &str) -> Vec<(String, Vec<u8>)> {
    let (bucket, prefix) = uri.trim_start_matches("s3://").split_once('/').expect("an s3 uri");
    let listed = f.clients.s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.expect("list");
    let mut out = Vec::new();
    for object in listed.contents() {
        let key = object.key().expect("key").to_string();
        let got = f.clients.s3.get_object().bucket(bucket).key(&key).send().await.expect("get");
        out.push((key, got.body.collect().await.expect("body").into_bytes().to_vec()));
    }
    out
}

async fn manifest_of(f: &Fixture, job_id: &str) -> lakedrop_core::manifest::ManifestSummary {
    let job = wait(f, job_id).await;
    assert_eq!(job.status, "COMPLETED", "{job:?}");
    jobs::result(&f.clients, &f.destination.datastore_id, job_id)
        .await
        .expect("result")
        .manifest
        .expect("manifest")
}

#[tokio::test]
async fn a_folder_of_gzip_files_is_uploaded_decompressed_and_imports_the_sample() {
    use std::io::Write;
    let f = fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    for file in sample_files() {
        let name = format!("{}.gz", file.file_name().and_then(|n| n.to_str()).expect("name"));
        let mut gz = flate2_writer(&dir.path().join(name));
        gz.write_all(&std::fs::read(&file).expect("sample")).expect("write");
        gz.finish().expect("finish");
    }
    let started = import(&f, vec![dir.path().to_path_buf()]).await;
    assert_eq!(started.files_uploaded, 13, "{started:?}");
    assert_eq!(started.jobs.len(), 1);
    let m = manifest_of(&f, &started.job_id).await;
    assert_eq!((m.resources_imported, m.resources_with_customer_error), (7160, 0));
    // What S3 holds is the NDJSON itself, byte for byte the sample's files, under `.ndjson` names.
    let objects = objects_under(&f, &started.input_uri).await;
    assert_eq!(objects.len(), 13);
    for (key, bytes) in objects {
        let name = key.rsplit('/').next().expect("name");
        assert!(name.ends_with(".ndjson"), "{key}");
        assert_eq!(bytes, std::fs::read(sample_dir().join(name)).expect("sample"), "{key}");
    }
}

#[path = "../../core/tests/support/synthea_bundles.rs"]
mod synthea_bundles;

#[tokio::test]
async fn per_patient_bundles_import_as_the_sample_and_an_encounters_subject_resolves() {
    let f = fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(synthea_bundles::write_bundles(dir.path()).len(), 14);
    let started = import(&f, vec![dir.path().to_path_buf()]).await;
    assert_eq!(started.files_uploaded, 14, "{started:?}");
    let m = manifest_of(&f, &started.job_id).await;
    assert_eq!((m.resources_scanned, m.resources_imported, m.resources_with_customer_error), (7160, 7160, 0));

    let encounters = std::fs::read_to_string(sample_dir().join("Encounter.000.ndjson")).expect("sample");
    let encounter: serde_json::Value =
        serde_json::from_str(encounters.lines().next().expect("a line")).expect("json");
    let id = encounter["id"].as_str().expect("id");
    let fhir = lakedrop_aws::fhir::Fhir::open(&f.clients, &f.destination.datastore_id).await.expect("fhir");
    let read = fhir.read("Encounter", id).await.expect("read").expect("the encounter is there");
    let subject = read["subject"]["reference"].as_str().expect("a subject reference");
    assert_eq!(subject, encounter["subject"]["reference"].as_str().expect("sample's"), "rewritten back");
    let (ty, patient_id) = subject.split_once('/').expect("Type/id");
    assert_eq!(ty, "Patient");
    let patient =
        fhir.read(ty, patient_id).await.expect("read").expect("the subject resolves to its Patient");
    assert_eq!(patient["id"], patient_id);
}

fn flate2_writer(path: &Path) -> flate2::write::GzEncoder<std::fs::File> {
    flate2::write::GzEncoder::new(
        std::fs::File::create(path).expect("create"),
        flate2::Compression::default(),
    )
}
