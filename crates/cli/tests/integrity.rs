//! The data-integrity promises, proven on the real `lakedrop` binary against a served sandbox (another process):
//! every file arrives whole, once, exactly as it was checked; nothing is silently dropped, duplicated or mixed.
//!
//! The processes are killed with SIGKILL (no cleanup runs) at chosen points: between parts, while S3 completes
//! an upload (before and after it acted, using the sandbox's holds), while a job is started, and after it
//! started. Each kill is followed by a rerun of the same command, after which the object's bytes must equal the
//! file's and each batch must have exactly one job. Files rewritten or grown during an upload, two files with one
//! name, and a 20 % fault rate on every service follow. The kill test prints a summary line.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lakedrop_aws::{Clients, Target, connect};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_lakedrop");
const MIB: usize = 1024 * 1024;

/// A `lakedrop sandbox serve` child, killed on drop.
struct Server {
    child: Child,
    env: Vec<(String, String)>,
    datastore: String,
    bucket: String,
    output_bucket: String,
    kms_key: String,
    role: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, faults: Option<&str>) -> Server {
    let mut command = Command::new(BIN);
    command.args(["sandbox", "serve", "--port", "0", "--data"]).arg(data);
    if let Some(spec) = faults {
        command.args(["--faults", spec]);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let (mut env, mut datastore, mut bucket) = (Vec::new(), String::new(), String::new());
    let (mut output_bucket, mut kms_key, mut role) = (String::new(), String::new(), String::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(kv) = line.strip_prefix("export ") {
            let (k, v) = kv.split_once('=').expect("k=v");
            env.push((k.to_string(), v.to_string()));
        } else if let Some(rest) = line.strip_prefix("data store  ") {
            datastore = rest.split_whitespace().next().unwrap_or_default().to_string();
        } else if let Some(rest) = line.strip_prefix("buckets     s3://") {
            bucket = rest.split_whitespace().next().unwrap_or_default().to_string();
            output_bucket = rest
                .split("s3://")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or_default()
                .to_string();
        } else if let Some(rest) = line.strip_prefix("KMS key     ") {
            kms_key = rest.split_whitespace().next().unwrap_or_default().to_string();
        }
        if let Some(rest) = line.strip_prefix("role        ") {
            role = rest.trim().to_string();
            break;
        }
    }
    assert_eq!(env.len(), 5, "endpoint, keys and both Region variables are printed: {env:?}");
    Server { child, env, datastore, bucket, output_bucket, kms_key, role }
}

impl Server {
    fn lakedrop(&self, client: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("LAKEDROP_DATA_DIR", client)
            .env_remove("LAKEDROP_LOG");
        command
    }

    async fn clients(&self) -> Clients {
        let get = |k: &str| self.env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).expect("env");
        connect(&Target::Endpoint {
            url: get("AWS_ENDPOINT_URL"),
            region: get("AWS_REGION"),
            access_key_id: get("AWS_ACCESS_KEY_ID"),
            secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
        })
        .await
        .expect("clients")
    }

    /// The object's bytes, read back through the SDK (retrying what the fault injection breaks).
    async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let clients = self.clients().await;
        for _ in 0..20 {
            match clients.s3.get_object().bucket(&self.bucket).key(key).send().await {
                Ok(out) => {
                    if let Ok(body) = out.body.collect().await {
                        return Some(body.to_vec());
                    }
                }
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return None,
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not read s3://{}/{key}", self.bucket);
    }

    /// Whether an object is at the key.
    async fn head(&self, key: &str) -> bool {
        let clients = self.clients().await;
        clients.s3.head_object().bucket(&self.bucket).key(key).send().await.is_ok()
    }

    /// Every import job of the seeded data store, from a test without a runtime.
    fn jobs_blocking(&self) -> Vec<lakedrop_core::job::Job> {
        tokio::runtime::Runtime::new().expect("runtime").block_on(self.jobs())
    }

    /// Every import job of the seeded data store.
    async fn jobs(&self) -> Vec<lakedrop_core::job::Job> {
        lakedrop_aws::jobs::list(&self.clients().await, &self.datastore, None).await.expect("jobs")
    }
}

/// Runs a future to its end from synchronous code inside the (multi-threaded) test runtime.
fn blocking<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

/// Runs a command to its end, with its output.
fn finish(mut command: Command) -> (ExitStatus, String, String) {
    let out = command.output().expect("runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts a command and SIGKILLs it once a line of its standard error satisfies `when` and `delay` has passed,
/// or fails the test if it ends first or takes over a minute.
fn kill_when(command: Command, when: impl Fn(&str) -> bool + Send + 'static, delay: Duration) {
    kill_once(command, when, || {
        std::thread::sleep(delay);
        true
    });
}

/// Like [`kill_when`], but after the line, waits (up to a minute) until `acted` says the server has done what the
/// kill must come after, e.g. completed the upload the client still waits on; timing alone would depend on the
/// machine's load.
fn kill_once(
    mut command: Command,
    when: impl Fn(&str) -> bool + Send + 'static,
    mut acted: impl FnMut() -> bool,
) {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let (seen, heard) = mpsc::channel();
    std::thread::spawn(move || {
        let mut said = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if when(&line) {
                let _ = seen.send(Ok(()));
                return;
            }
            said.push(line);
        }
        let _ = seen.send(Err(said.join("\n")));
    });
    match heard.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(())) => {
            let started = Instant::now();
            while !acted() {
                assert!(started.elapsed() < Duration::from_secs(60), "the server never acted");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(Err(said)) => panic!("the command ended before the kill point; it said:\n{said}"),
        Err(_) => panic!("the kill point never came"),
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

/// The bytes done a progress line says: `… (25,427,968 of 41,945,116 bytes done)`.
fn bytes_done(line: &str) -> u64 {
    let done =
        line.split_once('(').and_then(|(_, rest)| rest.split_once(" of ")).map_or("", |(done, _)| done);
    done.replace(',', "").parse().unwrap_or(0)
}

/// `len` bytes that depend on `seed`, so that two files differ everywhere.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 4);
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An NDJSON file of about `len` bytes of valid Patients (the sample's, with fresh ids).
fn patients(path: &Path, len: usize, seed: u32) -> PathBuf {
    let sample = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../samples/synthea-10-patients/Patient.000.ndjson"),
    )
    .expect("sample");
    let lines: Vec<&str> = sample.lines().collect();
    let mut out = String::with_capacity(len + 20_000);
    let mut n = 0usize;
    while out.len() < len {
        let line = lines[n % lines.len()];
        let start = line.find("\"id\":\"").expect("an id") + 6;
        let end = start + line[start..].find('"').expect("id ends");
        out.push_str(&line[..start]);
        out.push_str(&format!("s{seed}-{n}"));
        out.push_str(&line[end..]);
        out.push('\n');
        n += 1;
    }
    std::fs::write(path, out).expect("write");
    path.to_path_buf()
}

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts what the kill test proved, for its summary line.
#[derive(Default)]
struct Tally {
    kills: u32,
    reruns: u32,
    bytes_compared: u64,
}

impl Tally {
    /// The object must hold exactly the file's bytes.
    async fn same(&mut self, server: &Server, key: &str, file: &Path) {
        let object = server.object(key).await.unwrap_or_else(|| panic!("no object at {key}"));
        let local = std::fs::read(file).expect("read");
        assert_eq!(object.len(), local.len(), "{key}: sizes");
        assert_eq!(sha(&object), sha(&local), "{key}: the object is not the file");
        self.bytes_compared += local.len() as u64;
    }

    fn rerun(&mut self, command: Command) -> String {
        let (status, stdout, stderr) = finish(command);
        assert!(status.success(), "the rerun failed:\n{stdout}\n{stderr}");
        self.reruns += 1;
        format!("{stdout}\n{stderr}")
    }
}

/// The upload of a 60 MiB file in 12 parts sent one at a time, each held 150 ms by the sandbox so that the kill
/// points fall where they are aimed.
fn upload(server: &Server, client: &Path, file: &Path, to: &str) -> Command {
    let file = file.to_str().expect("utf-8 path");
    server.lakedrop(client, &["upload", file, "--to", to, "--part-size", "5", "--concurrency", "1"])
}

fn part_done(n: u32) -> impl Fn(&str) -> bool + Send + 'static {
    move |line: &str| line.contains(&format!(": part {n}/"))
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_anywhere_then_rerun_gives_the_files_bytes_and_one_job_per_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let holds = "hold-before:UploadPart=150,hold-after:CompleteMultipartUpload=3000,\
                 hold-after:StartFHIRImportJob=3000";
    let server = serve(&dir.path().join("sandbox"), Some(holds));
    let client = dir.path().join("client");
    let bucket = server.bucket.clone();
    let mut tally = Tally::default();

    // Between parts: after 1, 5, 9 and 11 of 12; each rerun continues and a later kill interrupts it again.
    let file = dir.path().join("between.bin");
    std::fs::write(&file, bytes(60 * MIB, 1)).expect("write");
    let to = format!("s3://{bucket}/kills/");
    for parts in [1, 5, 9, 11] {
        kill_when(upload(&server, &client, &file, &to), part_done(parts), Duration::ZERO);
        tally.kills += 1;
    }
    let said = tally.rerun(upload(&server, &client, &file, &to));
    assert!(said.contains("resumed"), "the rerun resumed: {said}");
    tally.same(&server, "kills/between.bin", &file).await;

    // While S3 completes the upload: it has acted (held after), so the rerun must see at once that the object is
    // this file and send nothing.
    let file = dir.path().join("completing.bin");
    std::fs::write(&file, bytes(60 * MIB, 2)).expect("write");
    // Killed once the object exists, while the sandbox still holds the answer.
    kill_once(upload(&server, &client, &file, &to), part_done(12), || {
        blocking(server.head("kills/completing.bin"))
    });
    tally.kills += 1;
    let started = Instant::now();
    let said = tally.rerun(upload(&server, &client, &file, &to));
    assert!(said.contains("skipped (already there, identical)") && said.contains("0 bytes sent"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(20), "recognised at once: {:?}", started.elapsed());
    tally.same(&server, "kills/completing.bin", &file).await;

    // Imports: killed while checking and uploading (at its start, early, past 16 MiB), while the job is being
    // started (HealthLake has created it: held after), and while following the started job. Every rerun is the
    // same command.
    let export = dir.path().join("export");
    std::fs::create_dir(&export).expect("mkdir");
    let patients_file = patients(&export.join("Patient.ndjson"), 40 * MIB, 3);
    let import = || server.lakedrop(&client, &["import", export.to_str().expect("utf-8"), "--wait"]);
    let uploading = "checking and uploading Patient.ndjson (";
    kill_when(import(), move |l| l.starts_with(uploading), Duration::from_millis(50));
    kill_when(import(), move |l| l.starts_with(uploading), Duration::from_millis(200));
    kill_when(
        import(),
        move |l| l.starts_with(uploading) && bytes_done(l) >= 16 * MIB as u64,
        Duration::ZERO,
    );
    // Killed once HealthLake has the job, while the sandbox still holds the answer.
    kill_once(import(), |l| l.starts_with("starting the import job"), || !blocking(server.jobs()).is_empty());
    kill_when(import(), |l| l.contains("submitted") || l.contains("already imported"), Duration::ZERO);
    tally.kills += 5;
    let said = tally.rerun(import());
    assert!(said.contains("COMPLETED"), "{said}");
    let jobs = server.jobs().await;
    assert_eq!(jobs.len(), 1, "one batch, one job: {jobs:?}");
    let prefix = jobs[0]
        .input_uri
        .as_deref()
        .expect("input")
        .trim_start_matches(&format!("s3://{bucket}/"))
        .to_string();
    tally.same(&server, &format!("{prefix}Patient.ndjson"), &patients_file).await;

    // Run again as people do: the same job is found and followed, no second one.
    let said = tally.rerun(import());
    assert!(said.contains("already imported"), "{said}");
    assert_eq!(server.jobs().await.len(), 1, "a rerun starts no second job");
    // On purpose, it is possible: a second job from a new batch.
    let (status, _, stderr) =
        finish(server.lakedrop(&client, &["import", export.to_str().expect("utf-8"), "--again"]));
    assert!(status.success(), "{stderr}");
    assert_eq!(server.jobs().await.len(), 2, "--again imports again");

    // Nothing of Lakedrop's is left half-uploaded in the bucket.
    let clients = server.clients().await;
    let left = clients.s3.list_multipart_uploads().bucket(&bucket).send().await.expect("list");
    let ours: Vec<_> = left.uploads().iter().filter_map(|u| u.key()).collect();
    assert!(ours.is_empty(), "abandoned uploads left: {ours:?}");

    assert!(tally.kills >= 10, "{} kills", tally.kills);
    let summary = format!(
        "integrity: {} kills survived (each followed by the same command again), {} reruns to completion, {} bytes compared, jobs per batch: 1",
        tally.kills, tally.reruns, tally.bytes_compared
    );
    println!("{summary}");
    // cargo test shows a passing test's output only on request; scripts/test.sh prints this file after the run.
    std::fs::write(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("integrity-summary.txt"), summary + "\n")
        .expect("summary");
}

/// Waits until the upload has sent `parts` parts, then lets `change` rewrite the file; the upload must fail and
/// say so, and leave no object; the rerun sends the file as it is then.
async fn changed_during_upload(name: &str, change: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"), Some("hold-before:UploadPart=150"));
    let client = dir.path().join("client");
    let file = dir.path().join(name);
    std::fs::write(&file, bytes(40 * MIB, 4)).expect("write");
    let to = format!("s3://{}/changed/", server.bucket);
    let mut child = upload(&server, &client, &file, &to)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    let mut said = String::new();
    for line in lines.by_ref() {
        said.push_str(&line);
        said.push('\n');
        if line.contains(": part 2/") {
            break;
        }
    }
    change(&file);
    said.extend(lines.map(|l| l + "\n"));
    let status = child.wait().expect("ends");
    assert_eq!(status.code(), Some(2), "a changed file fails the upload:\n{said}");
    assert!(said.contains("changed while it was being uploaded"), "{said}");
    assert_eq!(server.object(&format!("changed/{name}")).await, None, "no object mixes two versions");

    let (status, _, stderr) = finish(upload(&server, &client, &file, &to));
    assert!(status.success(), "{stderr}");
    let object = server.object(&format!("changed/{name}")).await.expect("uploaded");
    assert_eq!(sha(&object), sha(&std::fs::read(&file).expect("read")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_rewritten_during_upload_with_its_size_and_time_kept_is_never_half_uploaded() {
    changed_during_upload("rewritten.bin", |file| {
        let mtime = std::fs::metadata(file).expect("meta").modified().expect("mtime");
        std::fs::write(file, bytes(40 * MIB, 5)).expect("rewrite");
        std::fs::File::options().write(true).open(file).expect("open").set_modified(mtime).expect("mtime");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_grown_during_upload_is_never_half_uploaded() {
    changed_during_upload("grown.bin", |file| {
        use std::io::Write;
        let mut f = std::fs::File::options().append(true).open(file).expect("open");
        f.write_all(&bytes(MIB, 6)).expect("append");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_files_with_one_name_are_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"), None);
    for (sub, seed) in [("a", 7), ("b", 8)] {
        std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        std::fs::write(dir.path().join(sub).join("data.ndjson"), bytes(1000, seed)).expect("write");
    }
    let (a, b) = (dir.path().join("a/data.ndjson"), dir.path().join("b/data.ndjson"));
    let to = format!("s3://{}/p/", server.bucket);
    let args = ["upload", a.to_str().expect("utf-8"), b.to_str().expect("utf-8"), "--to", &to];
    let (status, stdout, stderr) = finish(server.lakedrop(&dir.path().join("client"), &args));
    assert_eq!(status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("same name") && stderr.contains("a/data.ndjson"), "{stderr}");
    assert_eq!(server.object("p/data.ndjson").await, None, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_through_a_20_percent_fault_rate_on_every_service_arrive_whole_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"), Some("5xx=0.1,reset=0.05,slowdown=0.05,seed=11"));
    let client = dir.path().join("client");
    let mut expected = Vec::new();
    for n in 0..3u32 {
        let export = dir.path().join(format!("export-{n}"));
        std::fs::create_dir(&export).expect("mkdir");
        let file = patients(&export.join("Patient.ndjson"), (12 + 3 * n as usize) * MIB, 20 + n);
        let (status, stdout, stderr) =
            finish(server.lakedrop(
                &client,
                &["import", export.to_str().expect("utf-8"), "--wait", "--output", "json"],
            ));
        assert!(status.success(), "import {n} under faults:\n{stdout}\n{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!(json["job"]["status"], "COMPLETED", "{stdout}");
        expected.push((json["import"]["inputUri"].as_str().expect("uri").to_string(), file));
    }
    let jobs = server.jobs().await;
    assert_eq!(jobs.len(), 3, "one job per batch");
    for (uri, file) in expected {
        let key = format!("{}Patient.ndjson", uri.trim_start_matches(&format!("s3://{}/", server.bucket)));
        let object = server.object(&key).await.expect("object");
        assert_eq!(sha(&object), sha(&std::fs::read(&file).expect("read")), "{key}");
    }
}

/// Runs a command with a deadline; a command still running then is killed and the test fails.
fn finish_within(mut command: Command, limit: Duration) -> (ExitStatus, String) {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("starts");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut said = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut said)
                .expect("read");
            return (status, said);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}: a pipe or a device was opened");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// Regression (issue 16): a named pipe, or a link to /dev/zero or /dev/urandom, under an NDJSON name made validate
// and import block forever or spin at 100 % CPU.
#[test]
fn pipes_and_devices_in_a_folder_are_refused_in_bounded_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"), None);
    let client = dir.path().join("client");
    for (name, make) in [
        (
            "pipe",
            Box::new(|p: &Path| {
                assert!(Command::new("mkfifo").arg(p).status().expect("mkfifo").success());
            }) as Box<dyn Fn(&Path)>,
        ),
        ("zero", Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).expect("symlink"))),
        ("urandom", Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/urandom", p).expect("symlink"))),
    ] {
        let export = dir.path().join(name);
        std::fs::create_dir(&export).expect("mkdir");
        patients(&export.join("Patient.ndjson"), 10_000, 30);
        make(&export.join(format!("{name}.ndjson")));
        for command in ["validate", "import"] {
            let (status, said) = finish_within(
                server.lakedrop(&client, &[command, export.to_str().expect("utf-8")]),
                Duration::from_secs(20),
            );
            assert_eq!(status.code(), Some(2), "{command} {name}: {said}");
            assert!(
                said.contains(&format!("{name}.ndjson")) && said.contains("not a regular file"),
                "{said}"
            );
        }
    }
    assert!(server.jobs_blocking().is_empty(), "nothing was imported");
}

// Regression (issue 16): a zero-byte state file silently reset history and resume records, and a corrupt one
// stopped every command with the same message and no way forward.
#[tokio::test(flavor = "multi_thread")]
async fn truncated_empty_or_garbage_state_is_set_aside_and_the_upload_still_lands_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("sandbox"), Some("hold-before:UploadPart=100"));
    let client = dir.path().join("client");
    let file = dir.path().join("state.bin");
    std::fs::write(&file, bytes(30 * MIB, 9)).expect("write");
    let to = format!("s3://{}/state/", server.bucket);
    let state = client.join("state.db");
    for (n, damage) in ["truncated", "empty", "garbage"].into_iter().enumerate() {
        kill_when(upload(&server, &client, &file, &to), part_done(2), Duration::ZERO);
        let whole = std::fs::read(&state).expect("state written");
        let _ = std::fs::remove_file(client.join("state.db-wal"));
        match damage {
            "truncated" => std::fs::write(&state, &whole[..whole.len() / 3]).expect("truncate"),
            "empty" => std::fs::write(&state, b"").expect("empty"),
            _ => std::fs::write(&state, b"garbage ".repeat(4096)).expect("garbage"),
        }
        let (status, stdout, stderr) = finish(upload(&server, &client, &file, &to));
        assert!(status.success(), "{damage}: {stdout}{stderr}");
        assert!(stderr.contains("was damaged") && stderr.contains("state.db.damaged-"), "{damage}: {stderr}");
        let aside = std::fs::read_dir(&client)
            .expect("list")
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().contains(".damaged-")))
            .count();
        assert!(aside > n, "{damage}: the damaged file is kept ({aside})");
        let object = server.object("state/state.bin").await.expect("uploaded");
        assert_eq!(sha(&object), sha(&std::fs::read(&file).expect("read")), "{damage}");
        // The next round starts a fresh upload of the same key.
        let clients = server.clients().await;
        clients
            .s3
            .delete_object()
            .bucket(&server.bucket)
            .key("state/state.bin")
            .send()
            .await
            .expect("delete");
    }
}

/// An import job's properties, as DescribeFHIRImportJob answers them.
async fn import_job(
    clients: &Clients,
    datastore: &str,
    job: &str,
) -> aws_sdk_healthlake::types::ImportJobProperties {
    let described = clients
        .healthlake
        .describe_fhir_import_job()
        .datastore_id(datastore)
        .job_id(job)
        .send()
        .await
        .expect("the job is described");
    described.import_job_properties.expect("props")
}

/// The sandbox killed with SIGKILL in the middle of an import, after some batches committed and before others:
/// restarted on the same data, it resumes the job after the last committed batch, so every resource is written
/// once (all 201, version 1, none reported as an update) and the job's Message says where it resumed.
#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_killed_mid_import_resumes_it_without_writing_any_resource_twice() {
    use aws_sdk_healthlake::types::{InputDataConfig, JobStatus, OutputDataConfig, S3Configuration};
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox");
    const LINES: usize = 3_000;
    let body: String = (0..LINES)
        .map(|n| format!("{{\"resourceType\":\"Patient\",\"id\":\"r-{n}\",\"gender\":\"female\"}}\n"))
        .collect();

    // Each committed batch of 500 lines is held 300 ms, so the kill lands between batches.
    let server = serve(&data, Some("hold-after:ImportBatch=300"));
    let clients = server.clients().await;
    clients
        .s3
        .put_object()
        .bucket(&server.bucket)
        .key("resume/part.ndjson")
        .body(body.into_bytes().into())
        .send()
        .await
        .expect("put");
    let output = OutputDataConfig::S3Configuration(
        S3Configuration::builder()
            .s3_uri(format!("s3://{}/resume-out/", server.output_bucket))
            .kms_key_id(&server.kms_key)
            .build()
            .expect("output"),
    );
    let job = clients
        .healthlake
        .start_fhir_import_job()
        .datastore_id(&server.datastore)
        .data_access_role_arn(&server.role)
        .input_data_config(InputDataConfig::S3Uri(format!("s3://{}/resume/", server.bucket)))
        .job_output_data_config(output)
        .send()
        .await
        .expect("start")
        .job_id
        .clone();
    let imported_at_kill = loop {
        let props = import_job(&clients, &server.datastore, &job).await;
        let imported = props
            .job_progress_report
            .as_ref()
            .and_then(|p| p.total_number_of_resources_imported)
            .unwrap_or(0);
        if imported >= 1_000 {
            break imported;
        }
        assert_ne!(props.job_status, JobStatus::Completed, "the job ended before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(imported_at_kill < LINES as i64, "killed mid-job: {imported_at_kill} imported");
    drop(server);

    let server = serve(&data, None);
    let clients = server.clients().await;
    let props = loop {
        let props = import_job(&clients, &server.datastore, &job).await;
        if props.job_status == JobStatus::Completed {
            break props;
        }
        assert!(
            matches!(props.job_status, JobStatus::Queued | JobStatus::InProgress | JobStatus::Submitted),
            "{:?}: {:?}",
            props.job_status,
            props.message
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let message = props.message.clone().unwrap_or_default();
    assert!(message.contains("resumed at line"), "the record says it was interrupted: {message}");
    let key = format!("resume-out/{}-FHIR_IMPORT-{job}/SUCCESS/part.ndjson", server.datastore);
    let success = clients
        .s3
        .get_object()
        .bucket(&server.output_bucket)
        .key(&key)
        .send()
        .await
        .expect("SUCCESS file")
        .body
        .collect()
        .await
        .expect("body")
        .to_vec();
    let lines: Vec<serde_json::Value> = String::from_utf8(success)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), LINES, "every line reported once");
    let mut ids: Vec<u64> = lines.iter().map(|l| l["lineId"].as_u64().expect("lineId")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), LINES, "no line reported twice");
    let updates = lines
        .iter()
        .filter(|l| {
            l["UpdateResourceResponse"]["statusCode"] != 201
                || l["UpdateResourceResponse"]["jsonBlob"]["meta"]["versionId"] != "1"
        })
        .count();
    assert_eq!(updates, 0, "no resource written twice (a resumed batch would be an update)");
    eprintln!("killed after {imported_at_kill} of {LINES} imported; resumed: {message}");
}
