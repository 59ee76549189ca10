//! The sandbox's S3 through the real `aws-sdk-s3` client over loopback: `s3s` checks the signatures, and
//! `SandboxS3` over an `ObjectStore` in a temporary directory does the rest.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lakedrop_sandbox::s3::{KeyProblem, KeyResolver, ObjectStore, SandboxS3};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use tokio::task::{JoinHandle, JoinSet};

const ACCESS_KEY: &str = "AKIDSANDBOX";
const SECRET_KEY: &str = "sandbox-secret";
const MIB: usize = 1024 * 1024;

const ENABLED_KEY_ID: &str = "11111111-1111-1111-1111-111111111111";
const ENABLED_KEY_ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/11111111-1111-1111-1111-111111111111";
const DISABLED_KEY_ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/22222222-2222-2222-2222-222222222222";
/// A key the test can disable after objects were written under it.
const SWITCHABLE_KEY_ARN: &str =
    "arn:aws:kms:us-east-1:000000000000:key/33333333-3333-3333-3333-333333333333";

/// A stand-in KMS: one enabled key (also reachable by id and alias), one disabled key, one the test switches.
#[derive(Default)]
struct TestKeys {
    switchable_disabled: AtomicBool,
}

impl KeyResolver for TestKeys {
    fn resolve_enabled_key(&self, key: &str) -> Result<String, KeyProblem> {
        match key {
            ENABLED_KEY_ID | ENABLED_KEY_ARN | "alias/enabled" => Ok(ENABLED_KEY_ARN.to_string()),
            DISABLED_KEY_ARN | "alias/disabled" => Err(KeyProblem::Disabled),
            SWITCHABLE_KEY_ARN if self.switchable_disabled.load(Ordering::SeqCst) => {
                Err(KeyProblem::Disabled)
            }
            SWITCHABLE_KEY_ARN => Ok(SWITCHABLE_KEY_ARN.to_string()),
            _ => Err(KeyProblem::NotFound),
        }
    }
}

struct Server {
    url: String,
    keys: Arc<TestKeys>,
    store: Weak<ObjectStore>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(dir: &Path) -> Server {
        let store = Arc::new(ObjectStore::open(dir).expect("the store opens"));
        let keys = Arc::new(TestKeys::default());
        let weak = Arc::downgrade(&store);
        let mut builder = s3s::service::S3ServiceBuilder::new(SandboxS3::new(
            store,
            keys.clone() as Arc<dyn KeyResolver>,
            "us-east-1",
        ));
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            // Connections live in the set, so aborting the server drops them (and the store) too.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let service = service.clone();
                connections.spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Server { url, keys, store: weak, task }
    }

    fn client(&self) -> Client {
        client(&self.url, SECRET_KEY)
    }

    /// Stops serving and waits until the store has been dropped.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        for _ in 0..200 {
            if self.store.upgrade().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the store outlived its server");
    }
}

fn client(url: &str, secret: &str) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .force_path_style(true)
            .credentials_provider(Credentials::new(ACCESS_KEY, secret, None, None, "test"))
            .http_client(http)
            .build(),
    )
}

/// A fresh server over a fresh directory, with one bucket.
async fn with_bucket(bucket: &str) -> (tempfile::TempDir, Server, Client) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let client = server.client();
    client.create_bucket().bucket(bucket).send().await.expect("create bucket");
    (dir, server, client)
}

fn code<E: ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("<no code>").to_string()
}

fn quoted_md5(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(bytes)))
}

fn sha256_b64(bytes: &[u8]) -> String {
    BASE64.encode(Sha256::digest(bytes))
}

fn crc32c(bytes: &[u8]) -> Vec<u8> {
    use s3s::crypto::Checksum as _;
    s3s::crypto::Crc32c::checksum(bytes).as_ref().to_vec()
}

/// Reads a whole object; the SDK checks the body against the full-object checksum the sandbox returns.
async fn read_all(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let got = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("get");
    got.body.collect().await.expect("read body").into_bytes().to_vec()
}

async fn upload_part(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    number: i32,
    bytes: Vec<u8>,
) -> String {
    client
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .expect("upload part")
        .e_tag
        .expect("part ETag")
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(*etag).build())
                .collect(),
        ))
        .build()
}

async fn create_upload(client: &Client, bucket: &str, key: &str) -> String {
    client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("create upload")
        .upload_id
        .expect("upload id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_buckets_get_todays_aws_defaults_sse_s3_and_all_public_access_blocked() {
    let (_dir, _server, client) = with_bucket("defaults").await;

    let encryption = client.get_bucket_encryption().bucket("defaults").send().await.expect("get encryption");
    let rules = encryption.server_side_encryption_configuration.expect("configuration").rules;
    let default = rules[0].apply_server_side_encryption_by_default.as_ref().expect("default rule");
    assert_eq!(default.sse_algorithm, ServerSideEncryption::Aes256);
    assert_eq!(default.kms_master_key_id, None);

    let block = client.get_public_access_block().bucket("defaults").send().await.expect("get block");
    let block = block.public_access_block_configuration.expect("configuration");
    assert_eq!(block.block_public_acls, Some(true));
    assert_eq!(block.ignore_public_acls, Some(true));
    assert_eq!(block.block_public_policy, Some(true));
    assert_eq!(block.restrict_public_buckets, Some(true));

    let head = client.head_bucket().bucket("defaults").send().await.expect("head bucket");
    assert_eq!(head.bucket_region.as_deref(), Some("us-east-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_errors_use_s3_codes() {
    let (_dir, _server, client) = with_bucket("taken").await;

    // In us-east-1 a bucket you own can be created again (S3's legacy); elsewhere it is BucketAlreadyOwnedByYou.
    client.create_bucket().bucket("taken").send().await.expect("us-east-1 creates again");
    let eu = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    client
        .create_bucket()
        .bucket("taken-eu")
        .create_bucket_configuration(eu.clone())
        .send()
        .await
        .expect("eu");
    let again = client
        .create_bucket()
        .bucket("taken-eu")
        .create_bucket_configuration(eu)
        .send()
        .await
        .expect_err("second create in eu-west-1 fails");
    assert_eq!(code(&again), "BucketAlreadyOwnedByYou");

    client
        .put_object()
        .bucket("taken")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put");
    let delete = client.delete_bucket().bucket("taken").send().await.expect_err("non-empty bucket stays");
    assert_eq!(code(&delete), "BucketNotEmpty");

    let missing = client.get_object().bucket("absent").key("k").send().await.expect_err("no bucket");
    assert_eq!(code(&missing), "NoSuchBucket");
    let missing = client.get_object().bucket("taken").key("absent").send().await.expect_err("no key");
    assert_eq!(code(&missing), "NoSuchKey");

    client.delete_object().bucket("taken").key("k").send().await.expect("delete object");
    client.delete_bucket().bucket("taken").send().await.expect("empty bucket deletes");
    let listed = client.list_buckets().send().await.expect("list buckets");
    assert!(listed.buckets().iter().all(|b| b.name() != Some("taken")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_head_round_trip_with_crc32c_and_sha256_checksums() {
    let (_dir, _server, client) = with_bucket("sums").await;
    // The standard CRC32C check value: CRC32C("123456789") = 0xE3069283.
    let body = b"123456789";

    let put = client
        .put_object()
        .bucket("sums")
        .key("crc32c.txt")
        .content_type("text/plain")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .expect("put with CRC32C");
    assert_eq!(put.checksum_crc32_c.as_deref(), Some("4waSgw=="));
    assert_eq!(put.e_tag.as_deref(), Some(quoted_md5(body).as_str()));
    assert_eq!(put.server_side_encryption, Some(ServerSideEncryption::Aes256));

    let put = client
        .put_object()
        .bucket("sums")
        .key("sha256.txt")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .expect("put with SHA256");
    assert_eq!(put.checksum_sha256.as_deref(), Some(sha256_b64(body).as_str()));

    let head = client
        .head_object()
        .bucket("sums")
        .key("crc32c.txt")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_length, Some(9));
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(head.checksum_crc32_c.as_deref(), Some("4waSgw=="));
    assert_eq!(head.e_tag.as_deref(), Some(quoted_md5(body).as_str()));

    // With ChecksumMode enabled the SDK also validates the body against the returned checksum.
    let got = client
        .get_object()
        .bucket("sums")
        .key("sha256.txt")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("get");
    assert_eq!(got.checksum_sha256.as_deref(), Some(sha256_b64(body).as_str()));
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), body);

    let ranged =
        client.get_object().bucket("sums").key("crc32c.txt").range("bytes=2-4").send().await.expect("range");
    assert_eq!(ranged.content_range.as_deref(), Some("bytes 2-4/9"));
    assert_eq!(ranged.body.collect().await.expect("body").into_bytes().as_ref(), b"345");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_checksum_is_rejected_with_bad_digest_and_nothing_is_stored() {
    let (_dir, _server, client) = with_bucket("bad").await;

    let err = client
        .put_object()
        .bucket("bad")
        .key("k")
        .checksum_crc32_c("AAAAAA==")
        .body(ByteStream::from_static(b"123456789"))
        .send()
        .await
        .expect_err("a mismatching CRC32C is refused");
    assert_eq!(code(&err), "BadDigest");

    let head = client.head_object().bucket("bad").key("k").send().await.expect_err("nothing was stored");
    assert_eq!(code(&head), "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_upload_with_a_trailing_checksum_is_verified_and_kept() {
    let (dir, _server, client) = with_bucket("stream").await;
    // A file body makes the SDK send aws-chunked with the checksum as a signed trailer.
    let path = dir.path().join("body.bin");
    let bytes = vec![b'z'; 300_000];
    std::fs::write(&path, &bytes).expect("write body file");
    let expected = BASE64.encode(crc32c(&bytes));

    let put = client
        .put_object()
        .bucket("stream")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from_path(&path).await.expect("file body"))
        .send()
        .await
        .expect("streamed put");
    assert_eq!(put.checksum_crc32_c.as_deref(), Some(expected.as_str()));
    let head = client
        .head_object()
        .bucket("stream")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_crc32_c.as_deref(), Some(expected.as_str()));
    assert_eq!(head.content_length, Some(300_000));
    assert!(read_all(&client, "stream", "k").await == bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_of_parts_sent_out_of_order_completes_with_the_right_bytes_and_etag() {
    let (_dir, _server, client) = with_bucket("mpu").await;
    let upload_id = create_upload(&client, "mpu", "big.bin").await;
    let parts: Vec<Vec<u8>> = vec![vec![b'a'; 5 * MIB], vec![b'b'; 5 * MIB], vec![b'c']];

    let etag3 = upload_part(&client, "mpu", "big.bin", &upload_id, 3, parts[2].clone()).await;
    let etag1 = upload_part(&client, "mpu", "big.bin", &upload_id, 1, parts[0].clone()).await;
    let etag2 = upload_part(&client, "mpu", "big.bin", &upload_id, 2, parts[1].clone()).await;
    assert_eq!(etag1, quoted_md5(&parts[0]));

    let done = client
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big.bin")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(1, &etag1), (2, &etag2), (3, &etag3)]))
        .send()
        .await
        .expect("complete");
    let mut md5s = Md5::new();
    for part in &parts {
        md5s.update(Md5::digest(part));
    }
    let expected_etag = format!("\"{}-3\"", hex::encode(md5s.finalize()));
    assert_eq!(done.e_tag.as_deref(), Some(expected_etag.as_str()));

    let whole: Vec<u8> = parts.concat();
    let bytes = read_all(&client, "mpu", "big.bin").await;
    assert_eq!(bytes.len(), 10 * MIB + 1);
    assert!(bytes == whole, "the object is the parts in part-number order");

    let uploads = client.list_multipart_uploads().bucket("mpu").send().await.expect("list uploads");
    assert!(uploads.uploads().is_empty(), "a completed upload is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_with_crc32c_gets_a_composite_checksum_of_its_parts() {
    let (_dir, _server, client) = with_bucket("composite").await;
    let created = client
        .create_multipart_upload()
        .bucket("composite")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .send()
        .await
        .expect("create");
    assert_eq!(created.checksum_type, Some(aws_sdk_s3::types::ChecksumType::Composite));
    let upload_id = created.upload_id.expect("upload id");
    let parts = [vec![b'p'; 5 * MIB], b"tail".to_vec()];
    let mut completed_parts = Vec::new();
    for (i, bytes) in parts.iter().enumerate() {
        let number = i32::try_from(i + 1).expect("small");
        let out = client
            .upload_part()
            .bucket("composite")
            .key("k")
            .upload_id(&upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(ByteStream::from(bytes.clone()))
            .send()
            .await
            .expect("upload part");
        assert_eq!(out.checksum_crc32_c.as_deref(), Some(BASE64.encode(crc32c(bytes)).as_str()));
        completed_parts.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(out.e_tag.expect("ETag"))
                .checksum_crc32_c(out.checksum_crc32_c.expect("part checksum"))
                .build(),
        );
    }
    let done = client
        .complete_multipart_upload()
        .bucket("composite")
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed_parts)).build())
        .send()
        .await
        .expect("complete");
    let part_sums: Vec<u8> = parts.iter().flat_map(|p| crc32c(p)).collect();
    let expected = format!("{}-2", BASE64.encode(crc32c(&part_sums)));
    assert_eq!(done.checksum_crc32_c.as_deref(), Some(expected.as_str()));
    assert_eq!(done.checksum_type, Some(aws_sdk_s3::types::ChecksumType::Composite));
    let head = client
        .head_object()
        .bucket("composite")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_crc32_c.as_deref(), Some(expected.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parts_is_sorted_by_part_number_and_paginates() {
    let (_dir, _server, client) = with_bucket("parts").await;
    let upload_id = create_upload(&client, "parts", "k").await;
    for number in [3, 1, 2] {
        upload_part(&client, "parts", "k", &upload_id, number, vec![b'x'; number as usize]).await;
    }

    let all =
        client.list_parts().bucket("parts").key("k").upload_id(&upload_id).send().await.expect("list parts");
    let numbers: Vec<_> = all.parts().iter().map(|p| p.part_number.unwrap_or(0)).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(all.parts()[2].size, Some(3));

    let first = client
        .list_parts()
        .bucket("parts")
        .key("k")
        .upload_id(&upload_id)
        .max_parts(2)
        .send()
        .await
        .expect("page 1");
    assert_eq!(first.parts().iter().map(|p| p.part_number.unwrap_or(0)).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(first.is_truncated, Some(true));
    let next = first.next_part_number_marker.expect("a marker for the next page");
    let second = client
        .list_parts()
        .bucket("parts")
        .key("k")
        .upload_id(&upload_id)
        .part_number_marker(next)
        .send()
        .await
        .expect("page 2");
    assert_eq!(second.parts().iter().map(|p| p.part_number.unwrap_or(0)).collect::<Vec<_>>(), [3]);
    assert_eq!(second.is_truncated, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_with_a_wrong_etag_fails_and_the_upload_survives_to_complete_later() {
    let (_dir, _server, client) = with_bucket("retry").await;
    let upload_id = create_upload(&client, "retry", "k").await;
    let first = vec![b'1'; 5 * MIB];
    let etag1 = upload_part(&client, "retry", "k", &upload_id, 1, first.clone()).await;
    let etag2 = upload_part(&client, "retry", "k", &upload_id, 2, b"2".to_vec()).await;

    let wrong = "\"00000000000000000000000000000000\"";
    let err = client
        .complete_multipart_upload()
        .bucket("retry")
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(1, wrong), (2, &etag2)]))
        .send()
        .await
        .expect_err("a wrong ETag fails");
    assert_eq!(code(&err), "InvalidPart");

    let uploads = client.list_multipart_uploads().bucket("retry").send().await.expect("list uploads");
    assert_eq!(
        uploads.uploads().iter().filter_map(|u| u.upload_id()).collect::<Vec<_>>(),
        [upload_id.as_str()]
    );
    let parts =
        client.list_parts().bucket("retry").key("k").upload_id(&upload_id).send().await.expect("list parts");
    assert_eq!(parts.parts().len(), 2, "no part was lost");

    client
        .complete_multipart_upload()
        .bucket("retry")
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(1, &etag1), (2, &etag2)]))
        .send()
        .await
        .expect("the retry completes");
    let bytes = read_all(&client, "retry", "k").await;
    assert!(bytes == [first, b"2".to_vec()].concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_upload_id_is_no_such_upload_everywhere() {
    let (_dir, _server, client) = with_bucket("unknown").await;
    let bogus = "not-an-upload";

    let err = client
        .upload_part()
        .bucket("unknown")
        .key("k")
        .upload_id(bogus)
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("upload part");
    assert_eq!(code(&err), "NoSuchUpload");
    let err =
        client.list_parts().bucket("unknown").key("k").upload_id(bogus).send().await.expect_err("list parts");
    assert_eq!(code(&err), "NoSuchUpload");
    let err = client
        .complete_multipart_upload()
        .bucket("unknown")
        .key("k")
        .upload_id(bogus)
        .multipart_upload(completed(&[(1, "\"x\"")]))
        .send()
        .await
        .expect_err("complete");
    assert_eq!(code(&err), "NoSuchUpload");
    let err = client
        .abort_multipart_upload()
        .bucket("unknown")
        .key("k")
        .upload_id(bogus)
        .send()
        .await
        .expect_err("abort");
    assert_eq!(code(&err), "NoSuchUpload");

    // An upload id is bound to its key.
    let real = create_upload(&client, "unknown", "k").await;
    let err = client
        .list_parts()
        .bucket("unknown")
        .key("other")
        .upload_id(&real)
        .send()
        .await
        .expect_err("other key");
    assert_eq!(code(&err), "NoSuchUpload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_under_5_mib_that_is_not_last_is_entity_too_small_and_order_is_checked() {
    let (_dir, _server, client) = with_bucket("small").await;
    let upload_id = create_upload(&client, "small", "k").await;
    let etag1 = upload_part(&client, "small", "k", &upload_id, 1, b"tiny".to_vec()).await;
    let etag2 = upload_part(&client, "small", "k", &upload_id, 2, b"last".to_vec()).await;

    let err = client
        .complete_multipart_upload()
        .bucket("small")
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(1, &etag1), (2, &etag2)]))
        .send()
        .await
        .expect_err("too small");
    assert_eq!(code(&err), "EntityTooSmall");

    let err = client
        .complete_multipart_upload()
        .bucket("small")
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(2, &etag2), (1, &etag1)]))
        .send()
        .await
        .expect_err("descending");
    assert_eq!(code(&err), "InvalidPartOrder");

    // A single small part is fine: it is the last one.
    client
        .complete_multipart_upload()
        .bucket("small")
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(2, &etag2)]))
        .send()
        .await
        .expect("one small last part completes");
    assert_eq!(read_all(&client, "small", "k").await, b"last");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_objects_v2_groups_by_delimiter_and_paginates_with_continuation_tokens() {
    let (_dir, _server, client) = with_bucket("list").await;
    for key in ["logs/a", "logs/b", "logs/2024/x", "logs/2024/y", "other", "p/1", "p/2", "p/3", "p/4", "p/5"]
    {
        client
            .put_object()
            .bucket("list")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .expect("put");
    }

    let grouped = client
        .list_objects_v2()
        .bucket("list")
        .prefix("logs/")
        .delimiter("/")
        .send()
        .await
        .expect("delimited");
    assert_eq!(grouped.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["logs/a", "logs/b"]);
    assert_eq!(
        grouped.common_prefixes().iter().filter_map(|p| p.prefix()).collect::<Vec<_>>(),
        ["logs/2024/"]
    );
    assert_eq!(grouped.key_count, Some(3));

    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket("list")
            .prefix("p/")
            .max_keys(2)
            .set_continuation_token(token)
            .send()
            .await
            .expect("page");
        pages.push(page.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>());
        if page.is_truncated != Some(true) {
            assert_eq!(page.next_continuation_token, None);
            break;
        }
        token = Some(page.next_continuation_token.expect("a truncated page has a token"));
    }
    assert_eq!(pages, [vec!["p/1", "p/2"], vec!["p/3", "p/4"], vec!["p/5"]]);

    let after =
        client.list_objects_v2().bucket("list").prefix("p/").start_after("p/3").send().await.expect("after");
    assert_eq!(after.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["p/4", "p/5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_with_an_enabled_key_is_reported_as_aws_kms_with_the_key_arn() {
    let (_dir, _server, client) = with_bucket("kms").await;

    let put = client
        .put_object()
        .bucket("kms")
        .key("secret")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/enabled")
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .expect("put under the enabled key");
    assert_eq!(put.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    assert_eq!(put.ssekms_key_id.as_deref(), Some(ENABLED_KEY_ARN));

    let head = client.head_object().bucket("kms").key("secret").send().await.expect("head");
    assert_eq!(head.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id.as_deref(), Some(ENABLED_KEY_ARN));
    assert_eq!(read_all(&client, "kms", "secret").await, b"data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_with_a_disabled_or_missing_key_is_refused_and_nothing_is_stored() {
    let (_dir, _server, client) = with_bucket("kms-bad").await;

    let err = client
        .put_object()
        .bucket("kms-bad")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(DISABLED_KEY_ARN)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .expect_err("a disabled key is refused");
    assert_eq!(code(&err), "KMS.DisabledException");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));

    let err = client
        .create_multipart_upload()
        .bucket("kms-bad")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/nonexistent")
        .send()
        .await
        .expect_err("a missing key is refused");
    assert_eq!(code(&err), "KMS.NotFoundException");

    let listed = client.list_objects_v2().bucket("kms-bad").send().await.expect("list");
    assert!(listed.contents().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_becomes_unreadable_when_its_kms_key_is_disabled() {
    let (_dir, server, client) = with_bucket("kms-read").await;
    client
        .put_object()
        .bucket("kms-read")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(SWITCHABLE_KEY_ARN)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .expect("put while the key is enabled");

    server.keys.switchable_disabled.store(true, Ordering::SeqCst);
    let err = client.get_object().bucket("kms-read").key("k").send().await.expect_err("read refused");
    assert_eq!(code(&err), "KMS.DisabledException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_default_kms_key_applies_to_puts_without_encryption_headers() {
    let (_dir, _server, client) = with_bucket("kms-default").await;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(ENABLED_KEY_ID)
                .build()
                .expect("rule"),
        )
        .build();
    client
        .put_bucket_encryption()
        .bucket("kms-default")
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder().rules(rule).build().expect("configuration"),
        )
        .send()
        .await
        .expect("put bucket encryption");

    client
        .put_object()
        .bucket("kms-default")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put");
    let head = client.head_object().bucket("kms-default").key("k").send().await.expect("head");
    assert_eq!(head.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id.as_deref(), Some(ENABLED_KEY_ARN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_object_copies_bytes_and_metadata() {
    let (_dir, _server, client) = with_bucket("copy").await;
    client
        .put_object()
        .bucket("copy")
        .key("src")
        .content_type("application/json")
        .metadata("origin", "test")
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .expect("put");

    let copied =
        client.copy_object().bucket("copy").key("dst").copy_source("copy/src").send().await.expect("copy");
    assert_eq!(copied.copy_object_result.and_then(|r| r.e_tag), Some(quoted_md5(b"{}")));
    let head = client.head_object().bucket("copy").key("dst").send().await.expect("head copy");
    assert_eq!(head.content_type.as_deref(), Some("application/json"));
    assert_eq!(head.metadata.and_then(|m| m.get("origin").cloned()).as_deref(), Some("test"));
    assert_eq!(read_all(&client, "copy", "dst").await, b"{}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_closing_and_reopening_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let client = server.client();
    client.create_bucket().bucket("durable").send().await.expect("create bucket");
    client
        .put_object()
        .bucket("durable")
        .key("kept.txt")
        .body(ByteStream::from_static(b"still here"))
        .send()
        .await
        .expect("put");
    let upload_id = create_upload(&client, "durable", "pending").await;
    drop(client);
    server.stop().await;

    let server = Server::start(dir.path()).await;
    let client = server.client();
    assert_eq!(read_all(&client, "durable", "kept.txt").await, b"still here");
    let uploads = client.list_multipart_uploads().bucket("durable").send().await.expect("list uploads");
    assert_eq!(
        uploads.uploads().iter().filter_map(|u| u.upload_id()).collect::<Vec<_>>(),
        [upload_id.as_str()]
    );
    let block = client.get_public_access_block().bucket("durable").send().await.expect("block survives");
    assert_eq!(block.public_access_block_configuration.and_then(|c| c.block_public_acls), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_with_the_wrong_secret_is_rejected() {
    let (_dir, server, _client) = with_bucket("signed").await;
    let impostor = client(&server.url, "not-the-secret");

    let err = impostor.list_buckets().send().await.expect_err("a bad signature is refused");
    assert_eq!(code(&err), "SignatureDoesNotMatch");
    let err = impostor
        .put_object()
        .bucket("signed")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("no write either");
    assert_eq!(code(&err), "SignatureDoesNotMatch");
    let listed = server.client().list_objects_v2().bucket("signed").send().await.expect("list");
    assert!(listed.contents().is_empty());
}
