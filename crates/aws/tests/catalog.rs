//! The pickers' lists against the sandbox, and profiles read from a config file.

use std::time::Duration;

use aws_types::os_shim_internal::{Env, Fs};
use lakedrop_aws::catalog::{ProfileKind, buckets, datastores, kms_keys, profiles_in};
use lakedrop_sandbox::Pacing;

mod support;

#[tokio::test]
async fn data_stores_keys_and_buckets_are_listed_with_what_makes_them_usable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pacing = Pacing { datastore_creation: Duration::from_secs(600), ..Pacing::default() };
    let (sandbox, clients) = support::start(&dir, pacing).await;
    let seed = sandbox.seed().clone();

    clients
        .healthlake
        .create_fhir_datastore()
        .datastore_type_version(aws_sdk_healthlake::types::FhirVersion::R4)
        .datastore_name("another")
        .send()
        .await
        .expect("create");
    let stores = datastores(&clients).await.expect("data stores");
    assert_eq!(stores.len(), 2);
    assert_eq!(stores[0].id, seed.datastore_id, "ACTIVE first");
    assert!(stores[0].selectable);
    assert_eq!((stores[1].status.as_str(), stores[1].selectable), ("CREATING", false));
    assert_eq!(stores[1].region, "us-east-1");

    let plain = clients.kms.create_key().description("no alias").send().await.expect("key");
    let plain_id = plain.key_metadata().expect("meta").key_id().to_string();
    clients.kms.disable_key().key_id(&plain_id).send().await.expect("disable");
    let keys = kms_keys(&clients).await.expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].aliases, ["alias/lakedrop-sandbox"], "keys with aliases first");
    assert!(keys[0].selectable && keys[0].symmetric);
    assert_eq!(keys[1].key_id, plain_id);
    assert!(!keys[1].enabled && !keys[1].selectable);

    let list = buckets(&clients).await.expect("buckets");
    let names: Vec<&str> = list.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["lakedrop-input", "lakedrop-output"]);
    assert!(list.iter().all(|b| b.region.as_deref() == Some("us-east-1")));
    sandbox.stop().await;
}

#[tokio::test]
async fn profiles_are_read_from_the_config_with_their_kind_and_never_their_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile analyst]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Analyst\nregion = eu-west-1\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n\n\
         [profile vault]\ncredential_process = /usr/bin/vault-aws\n\n\
         [default]\nregion = us-east-1\n",
    )
    .expect("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, "[ops]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n")
        .expect("creds");
    let env = Env::from_slice(&[
        ("AWS_CONFIG_FILE", config.to_str().expect("utf-8")),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().expect("utf-8")),
    ]);
    let list = profiles_in(&Fs::real(), &env).await;
    let summary: Vec<(&str, ProfileKind, Option<&str>)> =
        list.iter().map(|p| (p.name.as_str(), p.kind, p.region.as_deref())).collect();
    assert_eq!(
        summary,
        [
            ("default", ProfileKind::Other, Some("us-east-1")),
            ("analyst", ProfileKind::Sso, Some("eu-west-1")),
            ("ops", ProfileKind::AccessKeys, None),
            ("vault", ProfileKind::CredentialProcess, None),
        ]
    );
    let json = serde_json::to_string(&list).expect("json");
    assert!(
        !json.contains("secret") && !json.contains("AKIDEXAMPLE"),
        "no credentials leave the config: {json}"
    );
}
