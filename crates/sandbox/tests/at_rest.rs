//! Patient data at rest: objects reach the disk sealed under their data keys, never as the bytes uploaded, and
//! everything in the data directory is readable by its owner only. Through the real SDK and the whole sandbox
//! (its KMS wraps the data keys).

use std::path::{Path, PathBuf};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use lakedrop_sandbox::{Sandbox, SandboxConfig};

mod support;

const MIB: usize = 1024 * 1024;
const MARKER: &[u8] = b"LAKEDROP-AT-REST-PATIENT-MARKER";

/// Bytes that do not repeat (so any 4 KiB window of them is distinctive), with the marker every 100 KiB.
fn patient_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for at in (0..len.saturating_sub(MARKER.len())).step_by(100 * 1024) {
        bytes[at..at + MARKER.len()].copy_from_slice(MARKER);
    }
    bytes
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn get_range(client: &aws_sdk_s3::Client, bucket: &str, key: &str, range: Option<String>) -> Vec<u8> {
    let got = client.get_object().bucket(bucket).key(key).set_range(range).send().await.expect("get");
    got.body.collect().await.expect("body").into_bytes().to_vec()
}

/// Whole and ranged reads (across chunk edges, one byte, the tail) are byte-identical to what was uploaded.
async fn reads_back(client: &aws_sdk_s3::Client, bucket: &str, key: &str, bytes: &[u8]) {
    assert!(get_range(client, bucket, key, None).await == bytes, "{key}: whole object");
    let len = bytes.len();
    let chunk = 64 * 1024;
    for (start, end) in [
        (0, 0),
        (chunk - 1, chunk),
        (chunk - 10, 3 * chunk + 10),
        (len / 2, (len / 2 + MIB).min(len - 1)),
        (len - 7, len - 1),
    ] {
        let got = get_range(client, bucket, key, Some(format!("bytes={start}-{end}"))).await;
        assert!(got == bytes[start..=end], "{key}: bytes {start}-{end}");
    }
    let tail = get_range(client, bucket, key, Some("bytes=-100".into())).await;
    assert!(tail == bytes[len - 100..], "{key}: suffix range");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_bytes_never_reach_the_disk_in_the_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox");
    let sandbox = Sandbox::start(SandboxConfig::new(&data)).await.expect("starts");
    let config = support::sdk(&sandbox, None).await;
    let client = support::s3(&config);
    let seed = sandbox.seed().clone();
    let bucket = &seed.input_bucket;

    // A single PUT under the seeded KMS key, and one under the bucket's default (SSE-S3).
    let single = patient_bytes(700 * 1024, 1);
    client
        .put_object()
        .bucket(bucket)
        .key("single.ndjson")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&seed.kms_key_arn)
        .body(ByteStream::from(single.clone()))
        .send()
        .await
        .expect("put under SSE-KMS");
    let default = patient_bytes(300 * 1024, 2);
    let put = client
        .put_object()
        .bucket(bucket)
        .key("default.ndjson")
        .body(ByteStream::from(default.clone()))
        .send()
        .await
        .expect("put under the bucket default");
    assert_eq!(put.server_side_encryption, Some(ServerSideEncryption::Aes256));

    // A multipart upload of about 12 MiB under SSE-KMS, its parts sealed each under its own data key.
    let big = patient_bytes(12 * MIB + 12_345, 3);
    let upload_id = client
        .create_multipart_upload()
        .bucket(bucket)
        .key("big.ndjson")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&seed.kms_key_arn)
        .send()
        .await
        .expect("create upload")
        .upload_id
        .expect("upload id");
    let mut parts = Vec::new();
    for (index, part) in big.chunks(5 * MIB).enumerate() {
        let number = i32::try_from(index + 1).expect("part number");
        let etag = client
            .upload_part()
            .bucket(bucket)
            .key("big.ndjson")
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(part.to_vec()))
            .send()
            .await
            .expect("upload part")
            .e_tag
            .expect("ETag");
        parts.push(CompletedPart::builder().part_number(number).e_tag(etag).build());
    }
    // A part of another upload, left unfinished: parts on disk are sealed too.
    let pending = client
        .create_multipart_upload()
        .bucket(bucket)
        .key("pending.ndjson")
        .send()
        .await
        .expect("create upload")
        .upload_id
        .expect("upload id");
    let pending_part = patient_bytes(MIB, 4);
    client
        .upload_part()
        .bucket(bucket)
        .key("pending.ndjson")
        .upload_id(&pending)
        .part_number(1)
        .body(ByteStream::from(pending_part.clone()))
        .send()
        .await
        .expect("upload part");
    let done = client
        .complete_multipart_upload()
        .bucket(bucket)
        .key("big.ndjson")
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .expect("complete");
    assert_eq!(done.ssekms_key_id.as_deref(), Some(seed.kms_key_arn.as_str()));

    reads_back(&client, bucket, "single.ndjson", &single).await;
    reads_back(&client, bucket, "default.ndjson", &default).await;
    reads_back(&client, bucket, "big.ndjson", &big).await;
    let copied = client
        .copy_object()
        .bucket(bucket)
        .key("copy.ndjson")
        .copy_source(format!("{bucket}/single.ndjson"))
        .send()
        .await;
    copied.expect("copy");
    assert!(get_range(&client, bucket, "copy.ndjson", None).await == single, "the copy reads back");

    // Now every file the sandbox wrote: databases, their WAL, the seed, objects and parts.
    let files = files_under(&data);
    assert!(files.len() >= 6, "objects, a part and the databases: {files:?}");
    for file in &files {
        let bytes = std::fs::read(file).expect("read");
        assert!(!contains(&bytes, MARKER), "the marker is readable in {}", file.display());
        for (name, plain) in
            [("single", &single), ("default", &default), ("big", &big), ("pending", &pending_part)]
        {
            for at in [0, plain.len() / 3, plain.len() - 4096] {
                let window = &plain[at..at + 4096];
                assert!(
                    !contains(&bytes, window),
                    "4 KiB of {name} at {at} is readable in {}",
                    file.display()
                );
            }
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        for file in &files {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
        for folder in [data.clone(), data.join("s3"), data.join("s3/data")] {
            assert_eq!(mode(&folder), 0o700, "{}", folder.display());
        }
    }
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_under_a_disabled_key_cannot_be_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::start(SandboxConfig::new(dir.path())).await.expect("starts");
    let config = support::sdk(&sandbox, None).await;
    let (client, kms) = (support::s3(&config), aws_sdk_kms::Client::new(&config));
    let key = kms.create_key().send().await.expect("key").key_metadata.expect("metadata").arn.expect("ARN");
    let bucket = &sandbox.seed().input_bucket;
    client
        .put_object()
        .bucket(bucket)
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key)
        .body(ByteStream::from_static(b"under a key of its own"))
        .send()
        .await
        .expect("put");
    kms.disable_key().key_id(&key).send().await.expect("disable");
    let err = client.get_object().bucket(bucket).key("k").send().await.expect_err("unreadable");
    assert_eq!(err.code(), Some("KMS.DisabledException"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    kms.enable_key().key_id(&key).send().await.expect("enable");
    assert_eq!(get_range(&client, bucket, "k", None).await, b"under a key of its own");
    sandbox.stop().await;
}

/// Not a test: `cargo test --release -p lakedrop-sandbox --test at_rest -- --ignored --nocapture` prints what a
/// 256 MiB PutObject and GetObject cost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement"]
async fn measure_a_256_mib_put_and_get() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::start(SandboxConfig::new(dir.path())).await.expect("starts");
    let config = support::sdk(&sandbox, None).await;
    let client = support::s3(&config);
    let bucket = &sandbox.seed().input_bucket;
    let bytes = bytes::Bytes::from(patient_bytes(256 * MIB, 5));
    for round in 0..3 {
        let started = std::time::Instant::now();
        client
            .put_object()
            .bucket(bucket)
            .key("big")
            .body(ByteStream::from(bytes.clone()))
            .send()
            .await
            .expect("put");
        let put = started.elapsed();
        let started = std::time::Instant::now();
        let got = client.get_object().bucket(bucket).key("big").send().await.expect("get");
        let len = got.body.collect().await.expect("body").into_bytes().len();
        let get = started.elapsed();
        assert_eq!(len, bytes.len());
        println!("round {round}: PutObject 256 MiB {put:?}, GetObject 256 MiB {get:?}");
    }
    sandbox.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_left_readable_by_an_older_version_is_tightened_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox");
    let sandbox = Sandbox::start(SandboxConfig::new(&data)).await.expect("starts");
    let client = support::s3(&support::sdk(&sandbox, None).await);
    let bucket = sandbox.seed().input_bucket.clone();
    client
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put");
    sandbox.stop().await;
    // What older versions left: folders 0755, files 0644.
    let set = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    for folder in [data.clone(), data.join("s3"), data.join("s3/data")] {
        set(&folder, 0o755);
    }
    for file in files_under(&data) {
        set(&file, 0o644);
    }
    let sandbox = Sandbox::start(SandboxConfig::new(&data)).await.expect("restarts");
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    for folder in [data.clone(), data.join("s3"), data.join("s3/data")] {
        assert_eq!(mode(&folder), 0o700, "{}", folder.display());
    }
    for file in files_under(&data) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let client = support::s3(&support::sdk(&sandbox, None).await);
    assert_eq!(get_range(&client, &bucket, "k", None).await, b"x");
    sandbox.stop().await;
}
