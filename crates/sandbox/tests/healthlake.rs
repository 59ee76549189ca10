//! HealthLake beyond imports: export jobs and what they write, one FIFO queue per data store across imports and
//! exports, the errors an SDK caller can meet, and the FHIR REST API of a data store, through the real SDK
//! clients (and, for FHIR REST, SigV4-signed HTTP/1.1 requests over a loopback socket).

use std::time::{Duration, SystemTime};

use aws_sdk_healthlake::types::{
    InputDataConfig, JobStatus, OutputDataConfig, S3Configuration, ValidationLevel,
};
use lakedrop_sandbox::{Pacing, Sandbox, SandboxConfig, Seed};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

struct Env {
    sandbox: Sandbox,
    seed: Seed,
    sdk: aws_config::SdkConfig,
    healthlake: aws_sdk_healthlake::Client,
    s3: aws_sdk_s3::Client,
    dir: tempfile::TempDir,
}

async fn start(pacing: Pacing) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    start_in(dir, pacing).await
}

async fn start_in(dir: tempfile::TempDir, pacing: Pacing) -> Env {
    let mut config = SandboxConfig::new(dir.path());
    config.pacing = pacing;
    let sandbox = Sandbox::start(config).await.expect("starts");
    let seed = sandbox.seed().clone();
    let sdk = support::sdk(&sandbox, None).await;
    let healthlake = aws_sdk_healthlake::Client::new(&sdk);
    let s3 = support::s3(&sdk);
    Env { sandbox, seed, sdk, healthlake, s3, dir }
}

fn fast() -> Pacing {
    Pacing {
        datastore_creation: Duration::from_millis(100),
        job_start_delay: Duration::from_millis(10),
        ..Pacing::default()
    }
}

/// Jobs stay IN_PROGRESS at least this long, so a test can watch one queue behind another.
fn slow_jobs() -> Pacing {
    Pacing { job_start_delay: Duration::from_millis(400), ..fast() }
}

fn output(seed: &Seed, prefix: &str) -> OutputDataConfig {
    OutputDataConfig::S3Configuration(
        S3Configuration::builder()
            .s3_uri(format!("s3://{}/{prefix}/", seed.output_bucket))
            .kms_key_id(&seed.kms_key_arn)
            .build()
            .expect("output"),
    )
}

impl Env {
    async fn put_lines(&self, key: &str, lines: &[String]) {
        self.s3
            .put_object()
            .bucket(&self.seed.input_bucket)
            .key(key)
            .body(lines.join("\n").into_bytes().into())
            .send()
            .await
            .expect("put input");
    }

    async fn start_import(&self, prefix: &str) -> String {
        self.start_import_at(prefix, None).await
    }

    async fn start_import_at(&self, prefix: &str, level: Option<ValidationLevel>) -> String {
        self.healthlake
            .start_fhir_import_job()
            .set_validation_level(level)
            .datastore_id(&self.seed.datastore_id)
            .data_access_role_arn(&self.seed.role_arn)
            .input_data_config(InputDataConfig::S3Uri(format!("s3://{}/{prefix}/", self.seed.input_bucket)))
            .job_output_data_config(output(&self.seed, "import-out"))
            .send()
            .await
            .expect("start import")
            .job_id()
            .to_string()
    }

    async fn start_export(&self, name: &str) -> String {
        let started = self
            .healthlake
            .start_fhir_export_job()
            .job_name(name)
            .datastore_id(&self.seed.datastore_id)
            .data_access_role_arn(&self.seed.role_arn)
            .output_data_config(output(&self.seed, "export"))
            .send()
            .await
            .expect("start export");
        assert_eq!(started.job_status(), &JobStatus::Submitted);
        started.job_id().to_string()
    }

    async fn import_status(&self, job_id: &str) -> (JobStatus, Option<f64>) {
        let d = self
            .healthlake
            .describe_fhir_import_job()
            .datastore_id(&self.seed.datastore_id)
            .job_id(job_id)
            .send()
            .await
            .expect("describe import");
        let p = d.import_job_properties().expect("properties");
        (p.job_status().clone(), p.end_time().map(|t| t.as_secs_f64()))
    }

    async fn export_status(&self, job_id: &str) -> (JobStatus, Option<f64>) {
        let d = self
            .healthlake
            .describe_fhir_export_job()
            .datastore_id(&self.seed.datastore_id)
            .job_id(job_id)
            .send()
            .await
            .expect("describe export");
        let p = d.export_job_properties().expect("properties");
        (p.job_status().clone(), p.end_time().map(|t| t.as_secs_f64()))
    }

    async fn wait_import(&self, job_id: &str) -> JobStatus {
        for _ in 0..1000 {
            let (status, _) = self.import_status(job_id).await;
            if is_terminal(&status) {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("import {job_id} did not end");
    }

    async fn wait_export(&self, job_id: &str) -> JobStatus {
        for _ in 0..1000 {
            let (status, _) = self.export_status(job_id).await;
            if is_terminal(&status) {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("export {job_id} did not end");
    }

    async fn object(&self, key: &str) -> aws_sdk_s3::operation::get_object::GetObjectOutput {
        self.s3.get_object().bucket(&self.seed.output_bucket).key(key).send().await.expect("get object")
    }
}

fn is_terminal(status: &JobStatus) -> bool {
    matches!(status, JobStatus::Completed | JobStatus::CompletedWithErrors | JobStatus::Failed)
}

fn basic(id: &str) -> String {
    json!({"resourceType": "Basic", "id": id, "code": {"text": "x"}}).to_string()
}

#[tokio::test]
async fn an_export_writes_every_stored_resource_as_ndjson_one_type_per_file() {
    let env = start(fast()).await;
    let mut lines = vec![
        json!({"resourceType": "Patient", "id": "p2", "gender": "male"}).to_string(),
        json!({"resourceType": "Patient", "id": "p1", "gender": "female"}).to_string(),
        json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}})
            .to_string(),
        r#"{"resourceType":"Patient","#.to_string(),
    ];
    // One more than a file holds, so the Basic resources take two files.
    lines.extend((0..5_001).map(|n| basic(&format!("b{n:05}"))));
    env.put_lines("in/a.ndjson", &lines).await;
    let import = env.start_import("in").await;
    assert_eq!(env.wait_import(&import).await, JobStatus::CompletedWithErrors, "the broken line fails");

    let job_id = env.start_export("everything").await;
    assert_eq!(env.wait_export(&job_id).await, JobStatus::Completed);

    let described = env
        .healthlake
        .describe_fhir_export_job()
        .datastore_id(&env.seed.datastore_id)
        .job_id(&job_id)
        .send()
        .await
        .expect("describe");
    let props = described.export_job_properties().expect("properties");
    assert_eq!(props.job_name(), Some("everything"));
    assert!(props.end_time().is_some());
    let folder_key = format!("export/{}-FHIR_EXPORT-{job_id}/", env.seed.datastore_id);
    let Some(OutputDataConfig::S3Configuration(s3)) = props.output_data_config() else {
        panic!("no S3Configuration: {props:?}")
    };
    assert_eq!(s3.s3_uri(), format!("s3://{}/{folder_key}", env.seed.output_bucket), "the job's own folder");
    assert_eq!(s3.kms_key_id(), env.seed.kms_key_arn);

    let listed = env
        .s3
        .list_objects_v2()
        .bucket(&env.seed.output_bucket)
        .prefix(&folder_key)
        .send()
        .await
        .expect("list");
    let mut keys: Vec<String> =
        listed.contents().iter().filter_map(|o| o.key()).map(|k| k[folder_key.len()..].to_string()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "Basic/Basic-1.ndjson",
            "Basic/Basic-2.ndjson",
            "Observation/Observation-1.ndjson",
            "Patient/Patient-1.ndjson"
        ]
    );

    let mut counts = Vec::new();
    for key in &keys {
        let object = env.object(&format!("{folder_key}{key}")).await;
        assert_eq!(object.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"), "{key}");
        assert_eq!(object.ssekms_key_id(), Some(env.seed.kms_key_arn.as_str()), "{key}");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        let resources: Vec<Value> = String::from_utf8(bytes.to_vec())
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one resource"))
            .collect();
        let rt = key.split('/').next().expect("type folder");
        assert!(resources.iter().all(|r| r["resourceType"] == rt), "{key} holds only {rt}");
        assert!(
            resources.iter().all(|r| r["meta"]["versionId"] == "1" && r["meta"]["lastUpdated"].is_string())
        );
        if rt == "Patient" {
            let ids: Vec<&str> = resources.iter().filter_map(|r| r["id"].as_str()).collect();
            assert_eq!(ids, ["p1", "p2"], "ids in ascending order");
            assert_eq!(resources[0]["gender"], "female", "the stored resource itself");
        }
        counts.push(resources.len());
    }
    assert_eq!(counts, [5_000, 1, 1, 2]);
    env.sandbox.stop().await;
}

#[tokio::test]
async fn a_retried_export_start_with_its_client_token_returns_the_same_job() {
    let env = start(fast()).await;
    let start = |prefix: &'static str| {
        env.healthlake
            .start_fhir_export_job()
            .client_token("retry-1")
            .datastore_id(&env.seed.datastore_id)
            .data_access_role_arn(&env.seed.role_arn)
            .output_data_config(output(&env.seed, prefix))
            .send()
    };
    let first = start("export").await.expect("first");
    let again = start("export").await.expect("again");
    assert_eq!(first.job_id(), again.job_id());
    let err = start("elsewhere").await.expect_err("same token, different request");
    assert!(err.as_service_error().is_some_and(|e| e.is_validation_exception()), "{err:?}");
    env.sandbox.stop().await;
}

/// Describes A, then B, then A again: A IN_PROGRESS both times means it was running when B was described.
async fn seen_waiting(env: &Env, running: (&str, bool), waiting: (&str, bool)) -> bool {
    status(env, running).await == JobStatus::InProgress
        && status(env, waiting).await == JobStatus::Queued
        && status(env, running).await == JobStatus::InProgress
}

async fn status(env: &Env, (id, export): (&str, bool)) -> JobStatus {
    if export { env.export_status(id).await.0 } else { env.import_status(id).await.0 }
}

#[tokio::test]
async fn imports_and_exports_of_a_data_store_share_one_fifo_queue() {
    let env = start(slow_jobs()).await;
    env.put_lines("in/a.ndjson", &[basic("b1"), basic("b2")]).await;
    let import_1 = env.start_import("in").await;
    let export = env.start_export("between").await;
    let import_2 = env.start_import("in").await;

    let (mut export_waited, mut import_waited) = (false, false);
    for _ in 0..500 {
        export_waited |= seen_waiting(&env, (&import_1, false), (&export, true)).await;
        import_waited |= seen_waiting(&env, (&export, true), (&import_2, false)).await;
        if is_terminal(&env.import_status(&import_2).await.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(export_waited, "the export is QUEUED while the import submitted before it runs");
    assert!(import_waited, "the import is QUEUED while the export submitted before it runs");

    let (status_1, end_1) = env.import_status(&import_1).await;
    let (status_e, end_e) = env.export_status(&export).await;
    let (status_2, end_2) = env.import_status(&import_2).await;
    assert_eq!(
        (status_1, status_e, status_2),
        (JobStatus::Completed, JobStatus::Completed, JobStatus::Completed)
    );
    let ends = [end_1.expect("end"), end_e.expect("end"), end_2.expect("end")];
    assert!(ends[0] <= ends[1] && ends[1] <= ends[2], "they ran in submission order: {ends:?}");
    env.sandbox.stop().await;
}

#[tokio::test]
async fn list_fhir_export_jobs_pages_one_job_at_a_time_newest_first() {
    let env = start(fast()).await;
    let mut submitted = Vec::new();
    for name in ["first", "second", "third"] {
        submitted.push(env.start_export(name).await);
    }
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = env
            .healthlake
            .list_fhir_export_jobs()
            .datastore_id(&env.seed.datastore_id)
            .max_results(1)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("list");
        pages.push(
            page.export_job_properties_list().iter().map(|p| p.job_id().to_string()).collect::<Vec<_>>(),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 10, "pagination ends");
    }
    submitted.reverse();
    assert_eq!(pages, submitted.iter().map(|id| vec![id.clone()]).collect::<Vec<_>>());

    let named = env
        .healthlake
        .list_fhir_export_jobs()
        .datastore_id(&env.seed.datastore_id)
        .job_name("second")
        .send()
        .await
        .expect("filtered");
    assert_eq!(named.export_job_properties_list().len(), 1);
    let imports = env
        .healthlake
        .list_fhir_import_jobs()
        .datastore_id(&env.seed.datastore_id)
        .send()
        .await
        .expect("imports");
    assert!(imports.import_job_properties_list().is_empty(), "exports are not listed as imports");
    env.sandbox.stop().await;
}

#[tokio::test]
async fn every_healthlake_error_type_reaches_the_sdk_through_export_jobs() {
    let env = start(Pacing { datastore_creation: Duration::from_secs(600), ..fast() }).await;
    let (hl, seed) = (&env.healthlake, &env.seed);

    let err = hl
        .list_fhir_export_jobs()
        .datastore_id(&seed.datastore_id)
        .max_results(501)
        .send()
        .await
        .expect_err("501");
    assert!(err.as_service_error().is_some_and(|e| e.is_validation_exception()), "{err:?}");
    let err = hl
        .start_fhir_export_job()
        .datastore_id(&seed.datastore_id)
        .data_access_role_arn("not-a-role-arn-of-any-kind")
        .output_data_config(output(seed, "export"))
        .send()
        .await
        .expect_err("bad role ARN");
    assert!(err.as_service_error().is_some_and(|e| e.is_validation_exception()), "{err:?}");

    let err = hl
        .describe_fhir_export_job()
        .datastore_id("0123456789abcdef0123456789abcdef")
        .job_id("0123456789abcdef0123456789abcdef")
        .send()
        .await
        .expect_err("unknown data store");
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");
    let err = hl
        .describe_fhir_export_job()
        .datastore_id(&seed.datastore_id)
        .job_id("0123456789abcdef0123456789abcdef")
        .send()
        .await
        .expect_err("unknown job");
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");
    let import = env.start_import("nothing-here").await;
    let err = hl
        .describe_fhir_export_job()
        .datastore_id(&seed.datastore_id)
        .job_id(&import)
        .send()
        .await
        .expect_err("an import is not an export");
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");

    let creating = hl
        .create_fhir_datastore()
        .datastore_type_version(aws_sdk_healthlake::types::FhirVersion::R4)
        .send()
        .await
        .expect("create");
    let err = hl
        .delete_fhir_datastore()
        .datastore_id(creating.datastore_id())
        .send()
        .await
        .expect_err("still CREATING");
    assert!(err.as_service_error().is_some_and(|e| e.is_conflict_exception()), "{err:?}");

    let kms = aws_sdk_kms::Client::new(&env.sdk);
    let key = kms.create_key().send().await.expect("key");
    let key_id = key.key_metadata().expect("meta").key_id().to_string();
    kms.disable_key().key_id(&key_id).send().await.expect("disable");
    let err = hl
        .start_fhir_export_job()
        .datastore_id(&seed.datastore_id)
        .data_access_role_arn(&seed.role_arn)
        .output_data_config(OutputDataConfig::S3Configuration(
            S3Configuration::builder()
                .s3_uri(format!("s3://{}/export/", seed.output_bucket))
                .kms_key_id(&key_id)
                .build()
                .expect("output"),
        ))
        .send()
        .await
        .expect_err("disabled key");
    assert!(err.as_service_error().is_some_and(|e| e.is_failed_dependency_exception()), "{err:?}");

    let err = hl
        .start_fhir_export_job()
        .datastore_id(&seed.datastore_id)
        .data_access_role_arn("arn:aws:iam::111122223333:role/Elsewhere")
        .output_data_config(output(seed, "export"))
        .send()
        .await
        .expect_err("a role HealthLake cannot assume");
    assert!(err.as_service_error().is_some_and(|e| e.is_access_denied_exception()), "{err:?}");
    env.sandbox.stop().await;
}

#[tokio::test]
async fn a_data_directory_from_before_exports_keeps_its_import_jobs() {
    let env = start(fast()).await;
    env.put_lines("in/a.ndjson", &[basic("b1")]).await;
    let import = env.start_import("in").await;
    assert_eq!(env.wait_import(&import).await, JobStatus::Completed);
    let Env { sandbox, dir, .. } = env;
    sandbox.stop().await;
    {
        // The jobs table as sandboxes before export jobs made it.
        let db = rusqlite::Connection::open(dir.path().join("sandbox.db")).expect("open");
        db.execute_batch("ALTER TABLE import_jobs DROP COLUMN kind").expect("old schema");
    }
    let env = start_in(dir, fast()).await;
    assert_eq!(env.import_status(&import).await.0, JobStatus::Completed, "the old job is an import");
    let export = env.start_export("after-upgrade").await;
    assert_eq!(env.wait_export(&export).await, JobStatus::Completed);
    env.sandbox.stop().await;
}

// ---- FHIR REST ----------------------------------------------------------------------------------------------

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request to the sandbox, SigV4-signed for `healthlake` unless `secret` is `None`.
async fn request(env: &Env, secret: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> Reply {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let host = env.sandbox.endpoint().trim_start_matches("http://").to_string();
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut headers = vec![("host".to_string(), host.clone())];
    if !body.is_empty() {
        headers.push(("content-type".into(), "application/fhir+json".into()));
    }
    if let Some(secret) = secret {
        let identity =
            aws_credential_types::Credentials::new(&env.seed.access_key_id, secret, None, None, "test")
                .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&env.seed.region)
            .name("healthlake")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let signable = SignableRequest::new(
            method,
            format!("http://{host}{path}"),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        for (name, value) in instructions.headers() {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    let mut text = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()));
    let mut stream = tokio::net::TcpStream::connect(&host).await.expect("connect");
    stream.write_all(text.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("answered in time")
        .expect("read");
    let raw = String::from_utf8(raw).expect("utf-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply { status, headers, body: body.to_string() }
}

async fn fhir(env: &Env, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let path = format!("/datastore/{}/r4/{path}", env.seed.datastore_id);
    request(env, Some(&env.seed.secret_access_key), method, &path, body).await
}

#[tokio::test]
async fn fhir_rest_creates_reads_updates_searches_and_deletes() {
    let env = start(fast()).await;

    let created =
        fhir(&env, "POST", "Patient", Some(&json!({"resourceType": "Patient", "gender": "female"}))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("content-type"), Some("application/fhir+json"));
    let id = created.json()["id"].as_str().expect("a server-assigned id").to_string();
    assert_eq!(created.json()["meta"]["versionId"], "1");
    let location = created.header("location").expect("Location");
    assert!(location.ends_with(&format!("/r4/Patient/{id}/_history/1")), "{location}");

    let read = fhir(&env, "GET", &format!("Patient/{id}"), None).await;
    assert_eq!(read.status, 200);
    let resource = read.json();
    assert_eq!(
        (resource["resourceType"].as_str(), resource["gender"].as_str()),
        (Some("Patient"), Some("female"))
    );
    assert_eq!(resource["meta"]["versionId"], "1");
    assert!(resource["meta"]["lastUpdated"].as_str().is_some_and(|t| t.ends_with('Z')), "{resource}");

    let updated = fhir(
        &env,
        "PUT",
        &format!("Patient/{id}"),
        Some(&json!({"resourceType": "Patient", "id": id, "gender": "male"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.json()["meta"]["versionId"], "2");
    assert_eq!(fhir(&env, "GET", &format!("Patient/{id}"), None).await.json()["gender"], "male");
    assert_eq!(fhir(&env, "GET", &format!("Patient/{id}/_history/2"), None).await.status, 200);
    assert_eq!(fhir(&env, "GET", &format!("Patient/{id}/_history/1"), None).await.status, 404, "no history");

    let put_new =
        fhir(&env, "PUT", "Patient/chosen-id", Some(&json!({"resourceType": "Patient", "id": "chosen-id"})))
            .await;
    assert_eq!(put_new.status, 201, "an update of an unknown id creates it: {}", put_new.body);

    let search = fhir(&env, "GET", &format!("Patient?_id={id},chosen-id,missing&_count=1"), None).await;
    assert_eq!(search.status, 200, "{}", search.body);
    let bundle = search.json();
    assert_eq!(
        (bundle["resourceType"].as_str(), bundle["type"].as_str()),
        (Some("Bundle"), Some("searchset"))
    );
    assert_eq!(bundle["total"], 2, "both known ids match");
    let entries = bundle["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "_count bounds the page");
    let first = if id.as_str() < "chosen-id" { id.clone() } else { "chosen-id".to_string() };
    assert_eq!(entries[0]["resource"]["id"], first.as_str());
    assert!(entries[0]["fullUrl"].as_str().is_some_and(|u| u.ends_with(&format!("/r4/Patient/{first}"))));
    let all = fhir(&env, "GET", "Patient", None).await.json();
    assert_eq!((all["total"].as_u64(), all["entry"].as_array().map(Vec::len)), (Some(2), Some(2)));

    let deleted = fhir(&env, "DELETE", &format!("Patient/{id}"), None).await;
    assert_eq!(deleted.status, 204);
    let gone = fhir(&env, "GET", &format!("Patient/{id}"), None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["resourceType"], "OperationOutcome");
    env.sandbox.stop().await;
}

#[tokio::test]
async fn fhir_rest_refuses_what_an_import_would_refuse_with_an_operation_outcome() {
    let env = start(fast()).await;
    let bad_type =
        fhir(&env, "PUT", "Patient/p1", Some(&json!({"resourceType": "Patient123", "id": "p1"}))).await;
    assert_eq!(bad_type.status, 400);
    let outcome = bad_type.json();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert!(outcome["issue"].as_array().is_some_and(|i| !i.is_empty() && i[0]["severity"] == "error"));

    let other_id =
        fhir(&env, "PUT", "Patient/p1", Some(&json!({"resourceType": "Patient", "id": "p2"}))).await;
    assert_eq!(other_id.status, 400, "the body's id must be the URL's");
    let other_type = fhir(&env, "POST", "Patient", Some(&json!({"resourceType": "Observation"}))).await;
    assert_eq!(other_type.status, 400, "the body's type must be the URL's");
    let unsupported = fhir(&env, "GET", "Patient?name=smith", None).await;
    assert_eq!(
        unsupported.status, 400,
        "a search parameter the sandbox cannot apply is refused, not ignored"
    );
    assert_eq!(fhir(&env, "GET", "Patient/p1", None).await.status, 404, "nothing was stored");
    env.sandbox.stop().await;
}

#[tokio::test]
async fn fhir_rest_requires_a_signature_and_a_known_data_store() {
    let env = start(fast()).await;
    let path = format!("/datastore/{}/r4/Patient/p1", env.seed.datastore_id);
    let unsigned = request(&env, None, "GET", &path, None).await;
    assert_eq!(unsigned.status, 403, "{}", unsigned.body);
    assert_eq!(unsigned.json()["resourceType"], "OperationOutcome");
    let wrong_secret = request(&env, Some("not-the-secret"), "GET", &path, None).await;
    assert_eq!(wrong_secret.status, 403, "{}", wrong_secret.body);
    let unknown = request(
        &env,
        Some(&env.seed.secret_access_key),
        "GET",
        "/datastore/0123456789abcdef0123456789abcdef/r4/Patient/p1",
        None,
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    env.sandbox.stop().await;
}

#[tokio::test]
async fn fhir_rest_reads_and_writes_while_an_import_runs() {
    let env = start(slow_jobs()).await;
    let kept_body: Value = serde_json::from_str(&basic("kept")).expect("json");
    let kept = fhir(&env, "PUT", "Basic/kept", Some(&kept_body)).await;
    assert_eq!(kept.status, 201, "{}", kept.body);
    env.put_lines("in/a.ndjson", &(0..5_000).map(|n| basic(&format!("b{n}"))).collect::<Vec<_>>()).await;
    let import = env.start_import("in").await;

    let mut served_during_the_run = 0;
    loop {
        let (before, _) = env.import_status(&import).await;
        if is_terminal(&before) {
            break;
        }
        let read = fhir(&env, "GET", "Basic/kept", None).await;
        assert_eq!(read.status, 200, "{}", read.body);
        let write = fhir(&env, "PUT", "Basic/kept", Some(&kept_body)).await;
        assert_eq!(write.status, 200, "{}", write.body);
        if before == JobStatus::InProgress && env.import_status(&import).await.0 == JobStatus::InProgress {
            served_during_the_run += 1;
        }
    }
    assert!(served_during_the_run > 0, "some requests were served while the import was IN_PROGRESS");
    assert_eq!(env.wait_import(&import).await, JobStatus::Completed);
    env.sandbox.stop().await;
}

#[tokio::test]
async fn at_minimal_a_structure_problem_is_imported_with_a_warning_not_rejected() {
    let env = start(fast()).await;
    let flawed = json!({"resourceType": "Patient", "id": "p-flawed", "gender": "dude"}).to_string();
    env.put_lines("minimal/Patient.ndjson", &[basic("b-fine"), flawed.clone()]).await;
    env.put_lines("structure/Patient.ndjson", &[basic("b-fine-2"), flawed.replace("p-flawed", "p-flawed-2")])
        .await;

    let minimal = env.start_import_at("minimal", Some(ValidationLevel::Minimal)).await;
    assert_eq!(env.wait_import(&minimal).await, JobStatus::Completed);
    let folder = format!("import-out/{}-FHIR_IMPORT-{minimal}/", env.seed.datastore_id);
    let warned = env.object(&format!("{folder}SUCCESS_WITH_SEARCH_VALIDATION_FAILURES/Patient.ndjson")).await;
    let warned = String::from_utf8(warned.body.collect().await.expect("body").to_vec()).expect("utf8");
    let line: Value = serde_json::from_str(warned.trim()).expect("one JSON line");
    assert_eq!((line["lineId"].as_u64(), line["resourceId"].as_str()), (Some(2), Some("p-flawed")));
    let success = env.object(&format!("{folder}SUCCESS/Patient.ndjson")).await;
    let success = String::from_utf8(success.body.collect().await.expect("body").to_vec()).expect("utf8");
    assert_eq!(success.lines().count(), 1, "only the clean line is in SUCCESS/");

    let stored = fhir(&env, "GET", "Patient/p-flawed", None).await;
    assert_eq!(stored.status, 200);
    let stored: Value = serde_json::from_str(&stored.body).expect("resource");
    let extension = &stored["extension"][0];
    assert_eq!(extension["url"], "urn:lakedrop:sandbox:search-validation-failure");
    assert!(
        extension["valueString"].as_str().is_some_and(|s| s.starts_with("Patient.gender:")),
        "{extension}"
    );

    let strict = env.start_import_at("structure", Some(ValidationLevel::StructureOnly)).await;
    assert_eq!(env.wait_import(&strict).await, JobStatus::CompletedWithErrors);
    let folder = format!("import-out/{}-FHIR_IMPORT-{strict}/", env.seed.datastore_id);
    env.object(&format!("{folder}FAILURE/Patient.ndjson")).await;
}

#[tokio::test]
async fn fhir_searches_by_identifier_and_reference_and_pages_hold_their_place() {
    let env = start(fast()).await;
    for (id, system, value) in
        [("p1", "urn:mrn", "111"), ("p2", "urn:mrn", "222"), ("p3", "urn:other", "111")]
    {
        let patient =
            json!({"resourceType": "Patient", "id": id, "identifier": [{"system": system, "value": value}]});
        assert_eq!(fhir(&env, "PUT", &format!("Patient/{id}"), Some(&patient)).await.status, 201);
    }
    for n in 0..5 {
        let subject = if n < 3 { "Patient/p1" } else { "Patient/p2" };
        let observation = json!({"resourceType": "Observation", "id": format!("o{n}"), "status": "final",
                                 "code": {"text": "x"}, "subject": {"reference": subject}});
        assert_eq!(fhir(&env, "PUT", &format!("Observation/o{n}"), Some(&observation)).await.status, 201);
    }
    let ids = |bundle: &Value| -> Vec<String> {
        bundle["entry"].as_array().map_or(Vec::new(), |e| {
            e.iter().filter_map(|e| e["resource"]["id"].as_str().map(str::to_string)).collect()
        })
    };
    let by_value = fhir(&env, "GET", "Patient?identifier=111", None).await.json();
    assert_eq!(ids(&by_value), ["p1", "p3"]);
    let by_system = fhir(&env, "GET", "Patient?identifier=urn%3Amrn%7C111", None).await.json();
    assert_eq!(ids(&by_system), ["p1"]);
    let by_subject = fhir(&env, "GET", "Observation?subject=Patient%2Fp1", None).await.json();
    assert_eq!(
        (ids(&by_subject), by_subject["total"].as_u64()),
        (vec!["o0".into(), "o1".into(), "o2".into()], Some(3))
    );
    let by_patient = fhir(&env, "GET", "Observation?patient=p2", None).await.json();
    assert_eq!(ids(&by_patient), ["o3", "o4"]);

    // Two at a time: the next link carries the filter and the place; a resource added before that place
    // between two pages does not make the next page repeat one.
    let first = fhir(&env, "GET", "Observation?subject=Patient%2Fp1&_count=2", None).await.json();
    assert_eq!(ids(&first), ["o0", "o1"]);
    let next = first["link"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["relation"] == "next"))
        .and_then(|l| l["url"].as_str())
        .expect("a next link")
        .to_string();
    let early = json!({"resourceType": "Observation", "id": "a0", "status": "final", "code": {"text": "x"},
                       "subject": {"reference": "Patient/p1"}});
    assert_eq!(fhir(&env, "PUT", "Observation/a0", Some(&early)).await.status, 201);
    let path = next.split_once("/r4/").expect("on the endpoint").1;
    let second = fhir(&env, "GET", path, None).await.json();
    assert_eq!(ids(&second), ["o2"]);
    assert!(second["link"].as_array().is_some_and(|l| l.iter().all(|l| l["relation"] != "next")), "{second}");

    let unknown = fhir(&env, "GET", "Observation?code=x", None).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("not code"), "{}", unknown.body);
    env.sandbox.stop().await;
}
