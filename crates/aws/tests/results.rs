//! A job's failures against the sandbox: grouped by cause, joined back to exactly the lines that failed, from the
//! local file or, when it is gone, from S3.

use std::path::PathBuf;
use std::time::Duration;

use lakedrop_aws::Session;
use lakedrop_aws::import::{ImportRequest, run};
use lakedrop_aws::jobs;
use lakedrop_aws::results::{failures, join, retry};
use lakedrop_core::CancellationToken;
use lakedrop_core::destination::{ConnectionKind, Destination};
use lakedrop_core::results::{Cause, LineIdBase};
use lakedrop_core::state::State;
use lakedrop_sandbox::Pacing;

mod support;
use lakedrop_validate::Level;

fn sample_line(n: usize) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/synthea-10-patients/Patient.000.ndjson");
    std::fs::read_to_string(path).expect("sample").lines().nth(n).expect("line").to_string()
}

/// A sandbox whose jobs start at once, its clients, and the seeded destination.
async fn sandbox_and_destination(
    dir: &tempfile::TempDir,
) -> (lakedrop_sandbox::Sandbox, lakedrop_aws::Clients, lakedrop_core::destination::ResolvedDestination) {
    let pacing = Pacing { job_start_delay: Duration::from_millis(10), ..Pacing::default() };
    let (sandbox, clients) = support::start(dir, pacing).await;
    let destination = Session::new(clients.clone(), ConnectionKind::Sandbox, "Sandbox")
        .resolve(&Destination::default())
        .await
        .expect("destination");
    (sandbox, clients, destination)
}

#[tokio::test]
async fn failures_are_grouped_and_joined_to_exactly_the_lines_that_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, clients, destination) = sandbox_and_destination(&dir).await;
    let seed = sandbox.seed().clone();

    // Lines 2, 3 and 5 fail: no id, an unknown type (with an id, so the evidence can place it), broken JSON.
    let mut no_id: serde_json::Value = serde_json::from_str(&sample_line(1)).expect("json");
    no_id.as_object_mut().expect("object").remove("id");
    let mut unknown: serde_json::Value = serde_json::from_str(&sample_line(2)).expect("json");
    unknown["resourceType"] = "Patiennt".into();
    unknown["id"] = "p-unique".into();
    let lines = [
        sample_line(0),
        no_id.to_string(),
        unknown.to_string(),
        sample_line(3),
        "{\"resourceType\": \"Patient\", broken".to_string(),
    ];
    let source = dir.path().join("Patient.mixed.ndjson");
    std::fs::write(&source, lines.join("\n") + "\n").expect("write");
    let good = dir.path().join("Good.ndjson");
    std::fs::write(&good, sample_line(4) + "\n").expect("write");

    let state = State::open(&dir.path().join("state.db")).expect("state");
    let request = ImportRequest {
        keep_bundles: false,
        again: false,
        checked: Default::default(),
        paths: vec![source.clone(), good.clone()],
        job_name: None,
        level: Level::StructureOnly,
    };
    let started =
        run(&clients, &destination, &state, request, &|_| {}, &CancellationToken::new(), 1_795_336_440)
            .await
            .expect("import");
    let cancel = CancellationToken::new();
    let mut on_update = |_: &lakedrop_core::job::Job| {};
    let job = jobs::wait(
        &clients,
        &seed.datastore_id,
        &started.job_id,
        Duration::from_millis(20),
        &mut on_update,
        &cancel,
    )
    .await
    .expect("job ends");
    assert_eq!(job.status, "COMPLETED_WITH_ERRORS");

    let found = failures(&clients, &seed.datastore_id, &job.job_id).await.expect("failures");
    let mut ids: Vec<u64> = found.failures.iter().map(|f| f.line_id).collect();
    ids.sort();
    assert_eq!(ids, [2, 3, 5], "only the mixed file failed, on exactly its bad lines");
    let causes: Vec<(Cause, u64)> = {
        let mut c: Vec<(Cause, u64)> = found.groups.iter().map(|g| (g.cause, g.count)).collect();
        c.sort();
        c
    };
    assert_eq!(causes, [(Cause::InvalidJson, 1), (Cause::InvalidResourceType, 1), (Cause::MissingId, 1)]);
    assert!(found.groups.iter().all(|g| g.file == "Patient.mixed.ndjson"));
    assert_eq!(found.unreadable.lines, 0);

    let (joined, sources) =
        join(&clients, &state, &seed.datastore_id, &job.job_id, found.failures.clone()).await.expect("join");
    assert_eq!(sources[0].origin, "local");
    let decision = sources[0].decision.as_ref().expect("decision");
    assert_eq!(decision.base, LineIdBase::OneBased, "{decision:?}");
    for row in &joined {
        let expected = &lines[row.failure.line_id as usize - 1];
        assert_eq!(row.original.as_deref(), Some(expected.as_str()), "line {}", row.failure.line_id);
        assert!(!row.mismatch);
    }

    // The local file is gone: the same lines come from the input object in S3.
    std::fs::remove_file(&source).expect("remove");
    let (joined, sources) =
        join(&clients, &state, &seed.datastore_id, &job.job_id, found.failures).await.expect("join");
    assert_eq!(sources[0].origin, "s3");
    assert!(
        joined.iter().all(|r| r.original.as_deref() == Some(lines[r.failure.line_id as usize - 1].as_str()))
    );

    // A job where nothing failed has no FAILURE folder at all, and that is fine.
    let request = ImportRequest {
        keep_bundles: false,
        paths: vec![good],
        job_name: None,
        level: Level::StructureOnly,
        again: false,
        checked: Default::default(),
    };
    let clean =
        run(&clients, &destination, &state, request, &|_| {}, &CancellationToken::new(), 1_795_336_441)
            .await
            .expect("import");
    jobs::wait(
        &clients,
        &seed.datastore_id,
        &clean.job_id,
        Duration::from_millis(20),
        &mut on_update,
        &cancel,
    )
    .await
    .expect("ends");
    let none = failures(&clients, &seed.datastore_id, &clean.job_id).await.expect("failures");
    assert!(none.failures.is_empty() && none.groups.is_empty());
    sandbox.stop().await;
}

#[tokio::test]
async fn a_retry_runs_at_the_first_jobs_level_unless_told_otherwise_and_may_be_sent_again_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, clients, destination) = sandbox_and_destination(&dir).await;
    let seed = sandbox.seed().clone();
    // Broken JSON fails at every level.
    let source = dir.path().join("Patient.broken.ndjson");
    std::fs::write(&source, format!("{}\n{{\"resourceType\": \"Patient\", broken\n", sample_line(0)))
        .expect("write");
    let state = State::open(&dir.path().join("state.db")).expect("state");
    let request = ImportRequest {
        keep_bundles: false,
        paths: vec![source],
        job_name: None,
        level: Level::Minimal,
        again: false,
        checked: Default::default(),
    };
    let started =
        run(&clients, &destination, &state, request, &|_| {}, &CancellationToken::new(), 1_795_336_440)
            .await
            .expect("import");
    let cancel = CancellationToken::new();
    let mut on_update = |_: &lakedrop_core::job::Job| {};
    let job = jobs::wait(
        &clients,
        &seed.datastore_id,
        &started.job_id,
        Duration::from_millis(20),
        &mut on_update,
        &cancel,
    )
    .await
    .expect("job ends");
    assert_eq!(job.status, "COMPLETED_WITH_ERRORS");

    let level_of = async |job_id: &str| {
        let out = clients
            .healthlake
            .describe_fhir_import_job()
            .datastore_id(&seed.datastore_id)
            .job_id(job_id)
            .send()
            .await
            .expect("describe");
        out.import_job_properties().and_then(|p| p.validation_level()).map(|l| l.as_str().to_string())
    };
    let same = retry(
        &clients,
        &state,
        &destination,
        std::slice::from_ref(&job.job_id),
        &None.into(),
        None,
        1_795_336_500,
    )
    .await
    .expect("retry");
    assert_eq!(same.lines, 1);
    assert_eq!(level_of(&same.job_id).await.as_deref(), Some("minimal"));
    let strict = retry(
        &clients,
        &state,
        &destination,
        std::slice::from_ref(&job.job_id),
        &None.into(),
        Some(Level::Strict),
        1_795_336_501,
    )
    .await
    .expect("retry");
    assert_eq!(level_of(&strict.job_id).await.as_deref(), Some("strict"));
    // The same retry sent twice at once (a double click) is one job; sent again later, it is a new one.
    let twice = retry(
        &clients,
        &state,
        &destination,
        std::slice::from_ref(&job.job_id),
        &None.into(),
        None,
        1_795_336_500,
    )
    .await
    .expect("retry");
    assert_eq!(twice.job_id, same.job_id);
    let later = retry(
        &clients,
        &state,
        &destination,
        std::slice::from_ref(&job.job_id),
        &None.into(),
        None,
        1_795_336_900,
    )
    .await
    .expect("retry");
    assert_ne!(later.job_id, same.job_id);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_retry_with_a_plan_imports_only_the_lines_it_repaired_and_holds_back_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, clients, destination) = sandbox_and_destination(&dir).await;
    let seed = sandbox.seed().clone();
    let mut bad_code: serde_json::Value = serde_json::from_str(&sample_line(1)).expect("json");
    bad_code["gender"] = "M".into();
    let mut unknown: serde_json::Value = serde_json::from_str(&sample_line(2)).expect("json");
    unknown["legacyCode"] = "A1".into();
    let source = dir.path().join("Patient.mixed.ndjson");
    std::fs::write(
        &source,
        format!("{}\n{bad_code}\n{unknown}\n{{\"resourceType\": \"Patient\", broken\n", sample_line(0)),
    )
    .expect("write");
    let state = State::open(&dir.path().join("state.db")).expect("state");
    let request = ImportRequest {
        keep_bundles: false,
        paths: vec![source],
        job_name: None,
        level: Level::StructureOnly,
        again: false,
        checked: Default::default(),
    };
    let started =
        run(&clients, &destination, &state, request, &|_| {}, &CancellationToken::new(), 1_795_336_440)
            .await
            .expect("import");
    let cancel = CancellationToken::new();
    let wait = async |job_id: &str| {
        jobs::wait(&clients, &seed.datastore_id, job_id, Duration::from_millis(20), &mut |_| {}, &cancel)
            .await
            .expect("job ends")
    };
    assert_eq!(wait(&started.job_id).await.status, "COMPLETED_WITH_ERRORS");

    let plan = lakedrop_core::repair::RepairPlan::parse(
        r#"{"version":1,"rules":[
          {"resourceType":"Patient","path":"gender","action":"replace-code","map":{"M":"male"}},
          {"resourceType":"Patient","path":"legacyCode","action":"remove"}]}"#,
    )
    .expect("plan");
    let which =
        lakedrop_aws::results::RetryLines { cause: None, plan: Some(plan.clone()), ..Default::default() };
    let retried = retry(
        &clients,
        &state,
        &destination,
        std::slice::from_ref(&started.job_id),
        &which,
        None,
        1_795_336_500,
    )
    .await
    .expect("retry");
    assert_eq!((retried.lines, retried.repaired, retried.held_back), (2, 2, 1));
    assert_eq!(retried.held_back_lines[0].line_id, 4);
    assert!(retried.held_back_lines[0].reason.contains("no rule"), "{}", retried.held_back_lines[0].reason);
    let paths: Vec<&str> = retried.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["gender", "legacyCode"]);
    let job = wait(&retried.job_id).await;
    assert_eq!(job.status, "COMPLETED", "every repaired line is imported");

    // The line that is not JSON, repaired by hand, goes too; one repaired by hand into another wrong line does not.
    let mut by_hand = std::collections::BTreeMap::new();
    let fixed = r#"{"resourceType":"Patient","id":"by-hand","gender":"female"}"#;
    by_hand.insert(("Patient.mixed.ndjson".to_string(), 4), fixed.to_string());
    by_hand.insert(
        ("Patient.mixed.ndjson".to_string(), 2),
        r#"{"resourceType":"Patient","id":"x","gender":"F"}"#.into(),
    );
    let which = lakedrop_aws::results::RetryLines { cause: None, plan: Some(plan), by_hand };
    let retried = retry(
        &clients,
        &state,
        &destination,
        std::slice::from_ref(&started.job_id),
        &which,
        None,
        1_795_336_600,
    )
    .await
    .expect("retry");
    assert_eq!((retried.lines, retried.repaired, retried.by_hand, retried.held_back), (2, 1, 1, 1));
    assert_eq!(retried.held_back_lines[0].line_id, 2, "a repair by hand is not overridden by the plan");
    assert!(retried.held_back_lines[0].reason.contains("gender"), "{}", retried.held_back_lines[0].reason);
    let whole = retried.changes.last().expect("a change by hand");
    assert_eq!((whole.path.as_str(), whole.rule), (lakedrop_core::quickfix::WHOLE_LINE, None));
    assert_eq!(whole.after.as_ref().and_then(|v| v["id"].as_str()), Some("by-hand"));
    // The local state keeps where the changes were, never what they were.
    let kept = state.repairs(&retried.job_id).expect("repairs");
    assert_eq!(kept.len(), retried.changes.len());
    assert!(kept.iter().all(|c| c.before.is_none() && c.after.is_none()));
    assert_eq!(kept.iter().map(|c| c.line).collect::<Vec<_>>(), [3, 4]);
    let job = wait(&retried.job_id).await;
    assert_eq!(job.status, "COMPLETED", "every repaired line is imported");
    let none = failures(&clients, &seed.datastore_id, &retried.job_id).await.expect("failures");
    assert!(none.failures.is_empty());
    sandbox.stop().await;
}
