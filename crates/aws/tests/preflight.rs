//! Preflight against the sandbox: every check passing on the seeded setup, and each failing for its own cause.

use std::time::Duration;

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
};
use lakedrop_aws::Clients;
use lakedrop_aws::preflight::{Check, Plan, PolicySource, Status, blocks, run};
use lakedrop_sandbox::{Pacing, Sandbox, Seed};

mod support;

async fn fixture() -> (Sandbox, Clients, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    // New data stores stay CREATING for the whole test.
    let pacing = Pacing {
        datastore_creation: Duration::from_secs(600),
        job_start_delay: Duration::from_millis(10),
        ..Pacing::default()
    };
    let (sandbox, clients) = support::start(&dir, pacing).await;
    (sandbox, clients, dir)
}

fn plan(seed: &Seed) -> Plan {
    Plan {
        datastore_id: seed.datastore_id.clone(),
        output_uri: format!("s3://{}/out/", seed.output_bucket),
        kms_key_id: seed.kms_key_alias.clone(),
        role_arn: seed.role_arn.clone(),
        input_uri: None,
        batch_keys: Vec::new(),
        file_count: 13,
        policies: PolicySource::Cli,
    }
}

fn status(checks: &[Check], id: &str) -> Status {
    checks.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no check {id}: {checks:?}")).status
}

#[tokio::test]
async fn the_seeded_setup_passes_every_check_it_can_see() {
    let (sandbox, clients, _dir) = fixture().await;
    let checks = run(&clients, &plan(sandbox.seed())).await;
    for check in &checks {
        assert_eq!(check.status, Status::Pass, "{check:?}");
    }
    assert!(!blocks(&checks));
    let seed = sandbox.seed();
    assert_eq!(
        checks[0].detail,
        format!("data store {} ({}) is ACTIVE", seed.datastore_name, seed.datastore_id)
    );
    assert_eq!(
        checks.iter().map(|c| c.id).collect::<Vec<_>>(),
        [
            "datastore-active",
            "output-bucket-region",
            "output-bucket-public-access",
            "output-bucket-encryption",
            "kms-key-usable",
            "role-arn",
            "role-trust",
            "file-count"
        ]
    );
}

#[tokio::test]
async fn a_bucket_with_public_access_allowed_fails_with_the_fix() {
    let (sandbox, clients, _dir) = fixture().await;
    clients.s3.create_bucket().bucket("open-bucket").send().await.expect("bucket");
    let off = PublicAccessBlockConfiguration::builder()
        .block_public_acls(false)
        .ignore_public_acls(false)
        .block_public_policy(false)
        .restrict_public_buckets(false)
        .build();
    clients
        .s3
        .put_public_access_block()
        .bucket("open-bucket")
        .public_access_block_configuration(off)
        .send()
        .await
        .expect("bpa");
    let checks =
        run(&clients, &Plan { output_uri: "s3://open-bucket/out/".into(), ..plan(sandbox.seed()) }).await;
    let check = checks.iter().find(|c| c.id == "output-bucket-public-access").expect("check");
    assert_eq!(check.status, Status::Fail);
    assert!(
        check.fix.as_deref().is_some_and(|f| f.contains("put-public-access-block --bucket open-bucket")),
        "{check:?}"
    );
    assert!(blocks(&checks));
}

#[tokio::test]
async fn a_disabled_key_fails() {
    let (sandbox, clients, _dir) = fixture().await;
    let key = clients.kms.create_key().send().await.expect("key");
    let key_id = key.key_metadata().expect("meta").key_id().to_string();
    clients.kms.disable_key().key_id(&key_id).send().await.expect("disable");
    let checks = run(&clients, &Plan { kms_key_id: key_id.clone(), ..plan(sandbox.seed()) }).await;
    assert_eq!(status(&checks, "kms-key-usable"), Status::Fail);
    // A key without an alias goes by its ARN.
    let check = checks.iter().find(|c| c.id == "kms-key-usable").expect("check");
    assert!(
        check.detail.starts_with("KMS key arn:aws:kms:")
            && check.detail.ends_with(&format!("{key_id} is disabled")),
        "{check:?}"
    );
}

#[tokio::test]
async fn a_data_store_still_creating_fails() {
    let (sandbox, clients, _dir) = fixture().await;
    let created = clients
        .healthlake
        .create_fhir_datastore()
        .datastore_type_version(aws_sdk_healthlake::types::FhirVersion::R4)
        .datastore_name("new-store")
        .send()
        .await
        .expect("create");
    let checks =
        run(&clients, &Plan { datastore_id: created.datastore_id().into(), ..plan(sandbox.seed()) }).await;
    let check = checks.iter().find(|c| c.id == "datastore-active").expect("check");
    assert_eq!(check.status, Status::Fail);
    assert!(check.detail.contains("CREATING"), "{check:?}");
}

#[tokio::test]
async fn an_output_bucket_in_another_region_fails() {
    let (sandbox, clients, _dir) = fixture().await;
    let config =
        CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest1).build();
    clients
        .s3
        .create_bucket()
        .bucket("far-bucket")
        .create_bucket_configuration(config)
        .send()
        .await
        .expect("bucket");
    let checks =
        run(&clients, &Plan { output_uri: "s3://far-bucket/out/".into(), ..plan(sandbox.seed()) }).await;
    let check = checks.iter().find(|c| c.id == "output-bucket-region").expect("check");
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(check.detail.contains("eu-west-1"), "{check:?}");
}

#[tokio::test]
async fn a_missing_output_bucket_fails() {
    let (sandbox, clients, _dir) = fixture().await;
    let checks =
        run(&clients, &Plan { output_uri: "s3://no-such-bucket/out/".into(), ..plan(sandbox.seed()) }).await;
    assert_eq!(status(&checks, "output-bucket-region"), Status::Fail);
}

#[tokio::test]
async fn more_than_ten_thousand_files_are_split_into_jobs_unless_they_are_one_prefix_already() {
    let (sandbox, clients, _dir) = fixture().await;
    let detail = |checks: &[Check]| checks.iter().find(|c| c.id == "file-count").map(|c| c.detail.clone());
    let checks = run(&clients, &Plan { file_count: 10_001, ..plan(sandbox.seed()) }).await;
    assert_eq!(status(&checks, "file-count"), Status::Warn);
    assert_eq!(
        detail(&checks).as_deref(),
        Some(
            "10,001 files: more than HealthLake's 10,000 per job, so they are imported as 2 jobs, one after the other"
        )
    );
    let prefix = Some(format!("s3://{}/somewhere/", sandbox.seed().input_bucket));
    let checks = run(&clients, &Plan { file_count: 10_001, input_uri: prefix, ..plan(sandbox.seed()) }).await;
    assert_eq!(status(&checks, "file-count"), Status::Fail);
    let checks = run(&clients, &Plan { file_count: 10_000, ..plan(sandbox.seed()) }).await;
    assert_eq!(status(&checks, "file-count"), Status::Pass);
    assert_eq!(detail(&checks).as_deref(), Some("10,000 files, within HealthLake's 10,000 per job"));
}

#[tokio::test]
async fn foreign_objects_under_the_input_prefix_fail_and_an_exact_batch_passes() {
    let (sandbox, clients, _dir) = fixture().await;
    let bucket = sandbox.seed().input_bucket.clone();
    for key in ["batch/a.ndjson", "batch/b.ndjson"] {
        clients
            .s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"{}".to_vec().into())
            .send()
            .await
            .expect("put");
    }
    let exact = Plan {
        input_uri: Some(format!("s3://{bucket}/batch/")),
        batch_keys: vec!["batch/a.ndjson".into(), "batch/b.ndjson".into()],
        ..plan(sandbox.seed())
    };
    assert_eq!(status(&run(&clients, &exact).await, "input-prefix"), Status::Pass);
    clients
        .s3
        .put_object()
        .bucket(&bucket)
        .key("batch/stray.ndjson")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .expect("put");
    let checks = run(&clients, &exact).await;
    let check = checks.iter().find(|c| c.id == "input-prefix").expect("check");
    assert_eq!(check.status, Status::Fail);
    assert!(check.detail.contains("batch/stray.ndjson"), "{check:?}");
}

#[tokio::test]
async fn a_malformed_role_arn_fails() {
    let (sandbox, clients, _dir) = fixture().await;
    let checks =
        run(&clients, &Plan { role_arn: "arn:aws:iam::12:user/bob".into(), ..plan(sandbox.seed()) }).await;
    assert_eq!(status(&checks, "role-arn"), Status::Fail);
}

#[tokio::test]
async fn a_role_that_does_not_trust_healthlake_or_does_not_exist_fails() {
    let (sandbox, clients, _dir) = fixture().await;
    let seed = sandbox.seed().clone();
    let name = seed.role_arn.rsplit('/').next().expect("name").to_string();
    let ec2 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    clients
        .iam
        .update_assume_role_policy()
        .role_name(&name)
        .policy_document(ec2)
        .send()
        .await
        .expect("update");
    let checks = run(&clients, &plan(&seed)).await;
    let check = checks.iter().find(|c| c.id == "role-trust").expect("check");
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(check.detail.contains("healthlake.amazonaws.com"), "{check:?}");

    let open = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"healthlake.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    clients
        .iam
        .update_assume_role_policy()
        .role_name(&name)
        .policy_document(open)
        .send()
        .await
        .expect("update");
    let checks = run(&clients, &plan(&seed)).await;
    assert_eq!(status(&checks, "role-trust"), Status::Warn, "trust without conditions is a warning");

    let missing = Plan { role_arn: "arn:aws:iam::000000000000:role/Nobody".into(), ..plan(&seed) };
    let checks = run(&clients, &missing).await;
    let check = checks.iter().find(|c| c.id == "role-trust").expect("check");
    assert_eq!(check.status, Status::Fail);
    assert!(check.detail.contains("does not exist"), "{check:?}");
    // The fix says where the policies are: the CLI's command, or the app's panel below the checks.
    assert_eq!(
        check.fix.as_deref(),
        Some("create it with the trust and permissions policies that `lakedrop policy` prints")
    );
    let checks = run(&clients, &Plan { policies: PolicySource::App, ..missing }).await;
    let check = checks.iter().find(|c| c.id == "role-trust").expect("check");
    assert_eq!(
        check.fix.as_deref(),
        Some(
            "create it with the trust and permissions policies under \"IAM policies for this destination\", below"
        )
    );
}
