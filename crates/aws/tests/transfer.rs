//! The transfer engine against two S3 implementations: the sandbox, and moto's server (from PyPI, written by
//! nobody here). Single PUT, multipart, SSE-KMS read back, a part whose bytes do not match its checksum,
//! resuming after an interruption, a file changed in between, an identical object skipped, abandoned uploads
//! aborted, and (sandbox only) an upload through injected 5xx, resets and SlowDown.
//!
//! moto's server comes from `scripts/deps.sh --test` (target/awscli); under CI a missing server fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use lakedrop_aws::transfer::{
    Encryption, ObjectTarget, Outcome, TransferOptions, TransferProgress, clean_orphans, crc_base64,
    send_part, upload_file,
};
use lakedrop_aws::{AwsError, Clients, Target, connect};
use lakedrop_core::CancellationToken;
use lakedrop_core::state::State;
use lakedrop_sandbox::{Faults, Pacing, Quirks, Sandbox, SandboxConfig};

mod support;

const MIB: usize = 1024 * 1024;

/// An S3 to test against, with a bucket and a KMS key in it.
struct Peer {
    clients: Clients,
    bucket: String,
    kms_key: String,
    _sandbox: Option<Sandbox>,
    _moto: Option<MotoServer>,
    _dir: tempfile::TempDir,
}

async fn sandbox_peer(faults: Option<&str>) -> Peer {
    sandbox_peer_with(faults, Quirks::default()).await
}

async fn sandbox_peer_with(faults: Option<&str>, quirks: Quirks) -> Peer {
    let dir = tempfile::tempdir().expect("tempdir");
    let pacing = Pacing {
        datastore_creation: Duration::from_millis(100),
        job_start_delay: Duration::ZERO,
        ..Pacing::default()
    };
    let (sandbox, clients) = match faults {
        None if quirks == Quirks::default() => support::start(&dir, pacing).await,
        spec => {
            let mut config = SandboxConfig::new(dir.path().join("sandbox"));
            config.pacing = pacing;
            config.quirks = quirks;
            config.faults = spec.map(|spec| Faults::parse(spec).expect("fault spec")).unwrap_or_default();
            let sandbox = Sandbox::start(config).await.expect("sandbox");
            let clients = connect(&support::target(&sandbox)).await.expect("clients");
            (sandbox, clients)
        }
    };
    let seed = sandbox.seed().clone();
    Peer {
        clients,
        bucket: seed.input_bucket,
        kms_key: seed.kms_key_arn,
        _sandbox: Some(sandbox),
        _moto: None,
        _dir: dir,
    }
}

struct MotoServer(Child);

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// moto's server on a free port, a bucket and a KMS key created through the SDK; `None` (skip) when moto is not
/// installed and this is not CI.
async fn moto_peer() -> Option<Peer> {
    let server = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/awscli/bin/moto_server");
    if !server.exists() {
        assert!(std::env::var_os("CI").is_none(), "moto_server missing under CI: run scripts/deps.sh --test");
        eprintln!("skipped: no moto_server (scripts/deps.sh --test installs it into target/awscli)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let child = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(std::env::temp_dir().join(format!("moto-{port}.log"))).expect("log"))
        .spawn()
        .expect("moto starts");
    let moto = MotoServer(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let clients = connect(&Target::Endpoint {
        url,
        region: "us-east-1".into(),
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    })
    .await
    .expect("clients");
    let bucket = "lakedrop-moto".to_string();
    clients.s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let key = clients.kms.create_key().send().await.expect("key");
    let kms_key = key.key_metadata().expect("metadata").arn().expect("arn").to_string();
    Some(Peer {
        clients,
        bucket,
        kms_key,
        _sandbox: None,
        _moto: Some(moto),
        _dir: tempfile::tempdir().expect("tempdir"),
    })
}

/// A file of `len` bytes whose content depends on `seed`, so that two files differ everywhere.
fn file(dir: &Path, name: &str, len: usize, seed: u8) -> PathBuf {
    let mut bytes = Vec::with_capacity(len);
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

async fn object_bytes(peer: &Peer, key: &str) -> Vec<u8> {
    let out = peer.clients.s3.get_object().bucket(&peer.bucket).key(key).send().await.expect("get");
    out.body.collect().await.expect("body").to_vec()
}

fn small_parts() -> TransferOptions {
    TransferOptions { single_put_max: 6 * MIB as u64, part_size: Some(5 * MIB as u64), concurrency: 3 }
}

async fn put(
    peer: &Peer,
    state: &State,
    key: &str,
    path: &Path,
    options: &TransferOptions,
) -> lakedrop_aws::transfer::Transferred {
    let encryption = Encryption::Kms(peer.kms_key.clone());
    let target = ObjectTarget { bucket: &peer.bucket, key, encryption: &encryption };
    upload_file(&peer.clients.s3, state, &target, path, options, &|_| {}, &CancellationToken::new())
        .await
        .expect("upload")
}

async fn single_multipart_and_kms(peer: &Peer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open_in_memory().expect("state");
    let small = file(dir.path(), "small.ndjson", 300_000, 1);
    let done = put(peer, &state, "t/small.ndjson", &small, &small_parts()).await;
    assert_eq!((done.outcome, done.bytes, done.bytes_sent), (Outcome::Uploaded, 300_000, 300_000));
    assert_eq!(done.server_side_encryption.as_deref(), Some("aws:kms"));
    assert!(
        done.kms_key_id
            .as_deref()
            .is_some_and(|k| k.contains(peer.kms_key.rsplit('/').next().unwrap_or("-")))
    );
    assert_eq!(object_bytes(peer, "t/small.ndjson").await, std::fs::read(&small).expect("read"));

    let big = file(dir.path(), "big.ndjson", 17 * MIB + 123, 2);
    let done = put(peer, &state, "t/big.ndjson", &big, &small_parts()).await;
    assert_eq!((done.outcome, done.bytes), (Outcome::Uploaded, 17 * MIB as u64 + 123));
    assert_eq!(done.server_side_encryption.as_deref(), Some("aws:kms"));
    assert_eq!(object_bytes(peer, "t/big.ndjson").await, std::fs::read(&big).expect("read"));
    assert!(state.pending_uploads(&peer.bucket).expect("state").is_empty(), "a finished upload is forgotten");

    let again = put(peer, &state, "t/big.ndjson", &big, &small_parts()).await;
    assert_eq!((again.outcome, again.bytes_sent), (Outcome::SkippedIdentical, 0));
}

/// Starts a multipart upload and cancels it once `parts` parts are done; returns the parts done.
async fn interrupted(peer: &Peer, state: &State, key: &str, path: &Path, parts: u32) -> u32 {
    let encryption = Encryption::Kms(peer.kms_key.clone());
    let target = ObjectTarget { bucket: &peer.bucket, key, encryption: &encryption };
    let cancel = CancellationToken::new();
    let seen = Mutex::new(0u32);
    let options = TransferOptions { concurrency: 1, ..small_parts() };
    let progress = |p: TransferProgress| {
        *seen.lock().expect("lock") = p.parts_done;
        if p.parts_done >= parts {
            cancel.cancel();
        }
    };
    let err = upload_file(&peer.clients.s3, state, &target, path, &options, &progress, &cancel)
        .await
        .expect_err("cancelled");
    assert!(matches!(err, AwsError::Cancelled), "{err}");
    *seen.lock().expect("lock")
}

async fn resume_and_changed_file(peer: &Peer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open_in_memory().expect("state");
    let path = file(dir.path(), "resume.ndjson", 26 * MIB, 3);
    let done = interrupted(peer, &state, "t/resume.ndjson", &path, 2).await;
    assert!(done >= 2);
    assert_eq!(state.pending_uploads(&peer.bucket).expect("state").len(), 1, "the upload is remembered");

    let resumed = put(peer, &state, "t/resume.ndjson", &path, &small_parts()).await;
    assert_eq!(resumed.outcome, Outcome::Resumed { parts_reused: done });
    assert_eq!(
        resumed.bytes_sent,
        26 * MIB as u64 - u64::from(done) * 5 * MIB as u64,
        "only missing parts sent"
    );
    assert_eq!(object_bytes(peer, "t/resume.ndjson").await, std::fs::read(&path).expect("read"));

    // Interrupted again, then the file changes (same size, same mtime restored would still differ in bytes).
    let path = file(dir.path(), "changed.ndjson", 21 * MIB, 4);
    interrupted(peer, &state, "t/changed.ndjson", &path, 1).await;
    let meta = std::fs::metadata(&path).expect("meta");
    let changed = file(dir.path(), "changed.ndjson", 21 * MIB, 5);
    // Keep the modification time, so only the bytes tell: the parts S3 holds no longer match the file.
    let file = std::fs::File::options().write(true).open(&changed).expect("open");
    file.set_modified(meta.modified().expect("mtime")).expect("set mtime");
    drop(file);
    let restarted = put(peer, &state, "t/changed.ndjson", &changed, &small_parts()).await;
    assert_eq!((restarted.outcome, restarted.bytes_sent), (Outcome::Restarted, 21 * MIB as u64));
    assert_eq!(object_bytes(peer, "t/changed.ndjson").await, std::fs::read(&changed).expect("read"));
}

async fn checksum_mismatch_is_refused(peer: &Peer) {
    let s3 = &peer.clients.s3;
    let created =
        s3.create_multipart_upload().bucket(&peer.bucket).key("t/bad.ndjson").send().await.expect("create");
    let upload_id = created.upload_id().expect("id");
    let encryption = Encryption::BucketDefault;
    let target = ObjectTarget { bucket: &peer.bucket, key: "t/bad.ndjson", encryption: &encryption };
    let body = vec![7u8; 5 * MIB];
    let wrong = crc_base64(crc_fast::crc32_iscsi(b"something else"));
    let err = send_part(s3, &target, upload_id, 1, body.clone(), &wrong).await.expect_err("mismatch refused");
    assert!(!matches!(err, AwsError::Cancelled | AwsError::Network { .. }), "{err}");
    let right = crc_base64(crc_fast::crc32_iscsi(&body));
    send_part(s3, &target, upload_id, 1, body, &right).await.expect("the right checksum passes");
}

/// A part that S3 holds but that is not the file's (replaced behind the engine's back after an interruption) never
/// makes it into the object: the upload starts over and the object holds the file.
async fn replaced_part_is_not_kept(peer: &Peer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open_in_memory().expect("state");
    let path = file(dir.path(), "replaced.ndjson", 16 * MIB, 9);
    interrupted(peer, &state, "t/replaced.ndjson", &path, 2).await;
    let pending = state.pending_uploads(&peer.bucket).expect("state").pop().expect("remembered");
    let encryption = Encryption::BucketDefault;
    let target = ObjectTarget { bucket: &peer.bucket, key: "t/replaced.ndjson", encryption: &encryption };
    let other = vec![0x5a_u8; 5 * MIB];
    let other_crc = crc_base64(crc_fast::crc32_iscsi(&other));
    send_part(&peer.clients.s3, &target, &pending.upload_id, 1, other, &other_crc).await.expect("replaced");

    let finished = put(peer, &state, "t/replaced.ndjson", &path, &small_parts()).await;
    match finished.outcome {
        // S3 listed the parts (with checksums, or with ETags the engine recorded): only the replaced part 1 and
        // the parts never sent go again.
        Outcome::Resumed { parts_reused } => {
            assert_eq!(parts_reused, 1, "part 2 kept, part 1 not");
            assert_eq!(finished.bytes_sent, 11 * MIB as u64);
        }
        // S3 could not list them readably: the engine trusted its record, S3 refused the stale part at
        // completion, and the upload started over.
        Outcome::Restarted => assert!(finished.bytes_sent >= 16 * MIB as u64, "{}", finished.bytes_sent),
        other => panic!("{other:?}"),
    }
    assert_eq!(object_bytes(peer, "t/replaced.ndjson").await, std::fs::read(&path).expect("read"));
    assert!(state.pending_uploads(&peer.bucket).expect("state").is_empty());
}

async fn orphans(peer: &Peer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open_in_memory().expect("state");
    let kept = file(dir.path(), "kept.ndjson", 16 * MIB, 6);
    let gone = file(dir.path(), "gone.ndjson", 16 * MIB, 7);
    interrupted(peer, &state, "o/kept.ndjson", &kept, 1).await;
    interrupted(peer, &state, "o/gone.ndjson", &gone, 1).await;
    std::fs::remove_file(&gone).expect("remove");
    let foreign =
        peer.clients.s3.create_multipart_upload().bucket(&peer.bucket).key("o/foreign").send().await;
    let foreign_id = foreign.expect("foreign").upload_id().expect("id").to_string();

    let found = clean_orphans(&peer.clients.s3, &state, &peer.bucket, "o/", Duration::from_secs(7 * 86_400))
        .await
        .expect("clean");
    assert_eq!(found.aborted.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["o/gone.ndjson"]);
    assert_eq!(found.others.iter().map(|o| o.upload_id.as_str()).collect::<Vec<_>>(), [foreign_id.as_str()]);
    let left = peer
        .clients
        .s3
        .list_multipart_uploads()
        .bucket(&peer.bucket)
        .prefix("o/")
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = left.uploads().iter().filter_map(|u| u.key()).collect();
    assert!(keys.contains(&"o/kept.ndjson") && !keys.contains(&"o/gone.ndjson"), "{keys:?}");
    assert_eq!(state.pending_uploads(&peer.bucket).expect("state").len(), 1);
}

#[tokio::test]
async fn sandbox_single_multipart_kms_and_identical_skip() {
    single_multipart_and_kms(&sandbox_peer(None).await).await;
}

#[tokio::test]
async fn moto_single_multipart_kms_and_identical_skip() {
    if let Some(peer) = moto_peer().await {
        single_multipart_and_kms(&peer).await;
    }
}

#[tokio::test]
async fn sandbox_resumes_an_interrupted_upload_and_restarts_a_changed_file() {
    resume_and_changed_file(&sandbox_peer(None).await).await;
}

#[tokio::test]
async fn moto_resumes_an_interrupted_upload_and_restarts_a_changed_file() {
    if let Some(peer) = moto_peer().await {
        resume_and_changed_file(&peer).await;
    }
}

#[tokio::test]
async fn sandbox_refuses_a_part_whose_bytes_do_not_match_its_checksum() {
    checksum_mismatch_is_refused(&sandbox_peer(None).await).await;
}

/// The sandbox answering ListParts without part checksums, as moto 5.2.6 does: whatever moto's version, the path
/// where only the recorded ETags and checksums tell parts apart is tested.
async fn without_part_checksums() -> Peer {
    let peer = sandbox_peer_with(None, Quirks { list_parts_without_checksums: true }).await;
    let s3 = &peer.clients.s3;
    let created =
        s3.create_multipart_upload().bucket(&peer.bucket).key("q/probe").send().await.expect("create");
    let upload_id = created.upload_id().expect("id");
    let body = vec![1u8; 5 * MIB];
    let crc = crc_base64(crc_fast::crc32_iscsi(&body));
    let target =
        ObjectTarget { bucket: &peer.bucket, key: "q/probe", encryption: &Encryption::BucketDefault };
    send_part(s3, &target, upload_id, 1, body, &crc).await.expect("part");
    let listed =
        s3.list_parts().bucket(&peer.bucket).key("q/probe").upload_id(upload_id).send().await.expect("list");
    assert_eq!(listed.parts().len(), 1);
    assert_eq!(listed.parts()[0].checksum_crc32_c(), None, "the quirk lists no checksums");
    peer
}

#[tokio::test]
async fn sandbox_without_part_checksums_resumes_and_restarts_a_changed_file() {
    resume_and_changed_file(&without_part_checksums().await).await;
}

#[tokio::test]
async fn sandbox_without_part_checksums_never_keeps_a_part_that_is_not_the_one_recorded() {
    replaced_part_is_not_kept(&without_part_checksums().await).await;
}

// The sandbox lists each part's CRC32C, which for the replaced part is not the file's.
#[tokio::test]
async fn sandbox_restarts_when_a_part_it_holds_is_not_the_files() {
    replaced_part_is_not_kept(&sandbox_peer(None).await).await;
}

// moto 5.2.6 lists parts without checksums, so only the ETags recorded when S3 acknowledged each part tell the
// replaced part apart (earlier versions answered ListParts in a form the SDK could not read, so the engine resumed
// from its own record and CompleteMultipartUpload refused the stale ETag: InvalidPart, and a restart).
#[tokio::test]
async fn moto_restarts_when_a_part_it_holds_is_not_the_one_recorded() {
    if let Some(peer) = moto_peer().await {
        replaced_part_is_not_kept(&peer).await;
    }
}

// moto (5.x) stores an UploadPart whatever its x-amz-checksum-crc32c says, so there the engine's own check at
// completion (the object's composite checksum against the parts sent) is what catches a corrupted part; the
// sandbox, like S3, refuses the part itself.

#[tokio::test]
async fn sandbox_abandoned_uploads_are_aborted_and_others_listed() {
    orphans(&sandbox_peer(None).await).await;
}

#[tokio::test]
async fn moto_abandoned_uploads_are_aborted_and_others_listed() {
    if let Some(peer) = moto_peer().await {
        orphans(&peer).await;
    }
}

#[tokio::test]
async fn an_upload_completes_through_5xx_resets_and_slowdown() {
    let peer = sandbox_peer(Some("s3:5xx=0.1,s3:reset=0.1,s3:slowdown=0.1,seed=7")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open_in_memory().expect("state");
    let path = file(dir.path(), "faulty.ndjson", 23 * MIB, 8);
    let done = put(&peer, &state, "t/faulty.ndjson", &path, &small_parts()).await;
    assert_eq!(done.bytes, 23 * MIB as u64);
    // Read back without faults getting in the way of the check itself: retry the GET a few times.
    let mut bytes = Vec::new();
    for _ in 0..10 {
        if let Ok(out) = peer.clients.s3.get_object().bucket(&peer.bucket).key("t/faulty.ndjson").send().await
            && let Ok(body) = out.body.collect().await
        {
            bytes = body.to_vec();
            break;
        }
    }
    assert_eq!(bytes, std::fs::read(&path).expect("read"));
}
