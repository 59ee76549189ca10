//! The data store's FHIR API through `lakedrop_aws::fhir`, signed with the connection's credentials: look-ups
//! answer while an import runs, and a search's pages are followed on the data store's endpoint only.

use std::path::PathBuf;
use std::time::Duration;

use lakedrop_aws::Session;
use lakedrop_aws::fhir::{Fhir, Found};
use lakedrop_aws::import::{ImportRequest, run};
use lakedrop_aws::jobs;
use lakedrop_core::CancellationToken;
use lakedrop_core::destination::{ConnectionKind, Destination};
use lakedrop_core::state::State;
use lakedrop_sandbox::Pacing;
use lakedrop_validate::Level;

mod support;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients").join(name)
}

#[tokio::test]
async fn a_look_up_answers_while_an_import_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Each job stays unfinished for two seconds: long enough to look up while the second one runs.
    let pacing = Pacing { job_start_delay: Duration::from_secs(2), ..Pacing::default() };
    let (sandbox, clients) = support::start(&dir, pacing).await;
    let destination = Session::new(clients.clone(), ConnectionKind::Sandbox, "Sandbox")
        .resolve(&Destination::default())
        .await
        .expect("destination");
    let datastore = destination.datastore_id.clone();
    let state = State::open_in_memory().expect("state");
    let import = |paths: Vec<PathBuf>, at: i64| {
        let request = ImportRequest {
            keep_bundles: false,
            paths,
            job_name: None,
            level: Level::StructureOnly,
            again: false,
            checked: Default::default(),
        };
        let (clients, destination, state) = (&clients, &destination, &state);
        async move {
            run(clients, destination, state, request, &|_| {}, &CancellationToken::new(), at)
                .await
                .expect("import")
        }
    };
    let first = import(vec![sample("Patient.000.ndjson")], 1_795_336_440).await;
    let mut on_update = |_: &lakedrop_core::job::Job| {};
    let cancel = CancellationToken::new();
    jobs::wait(&clients, &datastore, &first.job_id, Duration::from_millis(50), &mut on_update, &cancel)
        .await
        .expect("first job ends");
    let patient_line = std::fs::read_to_string(sample("Patient.000.ndjson")).expect("sample");
    let patient: serde_json::Value =
        serde_json::from_str(patient_line.lines().next().expect("a line")).expect("json");
    let patient_id = patient["id"].as_str().expect("id");

    let second = import(vec![sample("Procedure.000.ndjson")], 1_795_336_500).await;
    let fhir = Fhir::open(&clients, &datastore).await.expect("the FHIR API of an ACTIVE store");
    assert!(fhir.base().ends_with(&format!("/datastore/{datastore}/r4/")), "{}", fhir.base());
    let running = |job: &lakedrop_core::job::Job| !lakedrop_core::job::is_terminal(&job.status);
    assert!(running(&jobs::describe(&clients, &datastore, &second.job_id).await.expect("job")));
    let Found::Resource(read) = fhir.lookup(&format!("Patient/{patient_id}"), None).await.expect("read")
    else {
        panic!("the patient is there");
    };
    assert_eq!(read["id"], patient_id);
    let Found::Page(page) = fhir.lookup("Patient?_count=5", None).await.expect("search") else {
        panic!("a search answers with a page");
    };
    assert_eq!((page.resources.len(), page.total), (5, Some(13)));
    let next = page.next.clone().expect("a next link");
    assert_eq!(fhir.page(&next).await.expect("next page").resources.len(), 5);
    let absent = fhir.lookup("Patient/no-such-patient", None).await.expect("an answer");
    assert!(matches!(absent, Found::Absent { ref reference } if reference == "Patient/no-such-patient"));
    assert!(
        running(&jobs::describe(&clients, &datastore, &second.job_id).await.expect("job")),
        "still running"
    );

    // A signed request goes to the data store's own endpoint and nowhere else, whatever a next link says.
    let elsewhere = fhir.page("http://169.254.169.254/latest/Patient?page=x").await.expect_err("refused");
    assert!(elsewhere.to_string().contains("not on this data store's FHIR endpoint"), "{elsewhere}");
    let unsupported = fhir.lookup("Patient?birthdate=2000", None).await.expect_err("the sandbox refuses it");
    assert!(unsupported.to_string().contains("not birthdate"), "{unsupported}");
    assert!(
        fhir.lookup("patient/1", None)
            .await
            .expect_err("not a type")
            .to_string()
            .contains("not a resource type")
    );
    sandbox.stop().await;
}
