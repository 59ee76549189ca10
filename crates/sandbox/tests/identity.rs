//! The identity calls `~/.aws/config` profiles make, through the real SDK clients (STS, SSO OIDC, the SSO
//! portal) and aws-config's profile providers: AssumeRole judged by trust policies (principals, external ids, MFA,
//! role chains), GetSessionToken and GetCallerIdentity, the SSO device flow, and the temporary credentials they
//! issue signing S3, HealthLake and KMS requests until they expire.

#[path = "support/aws_cli.rs"]
mod aws_cli;

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use lakedrop_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const ACCOUNT: &str = "000000000000";

struct World {
    _dir: tempfile::TempDir,
    sandbox: Sandbox,
    /// Signed with the seeded key.
    config: aws_config::SdkConfig,
}

async fn start(session_seconds: Option<u64>) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(dir.path().join("sandbox"));
    config.session_seconds = session_seconds;
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let config = support::sdk(&sandbox, Some(1)).await;
    World { _dir: dir, sandbox, config }
}

impl World {
    /// The SDK config signing with `credentials` instead of the seeded key.
    fn signing_as(&self, credentials: Credentials) -> aws_config::SdkConfig {
        self.config
            .to_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .build()
    }

    fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    async fn create_role(&self, name: &str, trust: Value) {
        aws_sdk_iam::Client::new(&self.config)
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("create role");
    }
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn trusting(principal: Value, condition: Option<Value>) -> Value {
    let mut statement =
        json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"});
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    json!({"Version": "2012-10-17", "Statement": [statement]})
}

/// Temporary credentials as the SDK signs with them (no expiry, so the client never refuses them itself).
fn temporary(credentials: &aws_sdk_sts::types::Credentials) -> Credentials {
    Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        Some(credentials.session_token().to_string()),
        None,
        "test",
    )
}

fn code<E: ProvideErrorMetadata>(e: &aws_sdk_s3::error::SdkError<E>) -> String {
    e.as_service_error().and_then(|s| s.code()).unwrap_or("(no service error)").to_string()
}

fn message<E: ProvideErrorMetadata>(e: &aws_sdk_s3::error::SdkError<E>) -> String {
    e.as_service_error().and_then(|s| s.message()).unwrap_or("").to_string()
}

async fn assume(
    sts: &aws_sdk_sts::Client,
    role: &str,
    session: &str,
) -> Result<aws_sdk_sts::operation::assume_role::AssumeRoleOutput, String> {
    sts.assume_role()
        .role_arn(role_arn(role))
        .role_session_name(session)
        .send()
        .await
        .map_err(|e| format!("{}: {}", code(&e), message(&e)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_is_allowed_only_when_the_trust_policy_names_the_caller() {
    let w = start(None).await;
    w.create_role("Trusting", trusting(json!(format!("arn:aws:iam::{ACCOUNT}:root")), None)).await;
    w.create_role("Stranger", trusting(json!("arn:aws:iam::111111111111:root"), None)).await;

    let before = SystemTime::now();
    let out = assume(&w.sts(), "Trusting", "s1").await.expect("trusted");
    let credentials = out.credentials().expect("credentials");
    let key = credentials.access_key_id();
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert!(key[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{key}");
    assert!(!credentials.session_token().is_empty());
    let expires = SystemTime::try_from(*credentials.expiration()).expect("expiration");
    let lifetime = expires.duration_since(before).expect("in the future");
    assert!((3595..=3601).contains(&lifetime.as_secs()), "{lifetime:?}");
    let user = out.assumed_role_user().expect("assumed role user");
    assert_eq!(user.arn(), format!("arn:aws:sts::{ACCOUNT}:assumed-role/Trusting/s1"));
    assert!(user.assumed_role_id().starts_with("AROA") && user.assumed_role_id().ends_with(":s1"));

    let denied = assume(&w.sts(), "Stranger", "s1").await.expect_err("not trusted");
    assert_eq!(
        denied,
        format!(
            "AccessDenied: User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            w.sandbox.seeded_user_arn(),
            role_arn("Stranger")
        )
    );
    let missing = assume(&w.sts(), "NoSuchRole", "s1").await.expect_err("no role");
    assert!(missing.starts_with("AccessDenied: "), "{missing}");
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_id_condition_needs_the_same_external_id() {
    let w = start(None).await;
    let condition = json!({"StringEquals": {"sts:ExternalId": "lakedrop-42"}});
    w.create_role("Partner", trusting(json!(ACCOUNT), Some(condition))).await;
    let call = |external_id: Option<&str>| {
        w.sts()
            .assume_role()
            .role_arn(role_arn("Partner"))
            .role_session_name("ext")
            .set_external_id(external_id.map(str::to_string))
            .send()
    };
    assert!(call(Some("lakedrop-42")).await.is_ok());
    let wrong = call(Some("lakedrop-43")).await.expect_err("wrong id");
    assert_eq!(code(&wrong), "AccessDenied");
    let none = call(None).await.expect_err("no id");
    assert_eq!(code(&none), "AccessDenied");
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_condition_needs_a_valid_code() {
    let w = start(None).await;
    let condition = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
    w.create_role("Guarded", trusting(json!(format!("arn:aws:iam::{ACCOUNT}:root")), Some(condition))).await;
    let serial = format!("arn:aws:iam::{ACCOUNT}:mfa/sandbox");
    let call = |code: Option<&str>| {
        w.sts()
            .assume_role()
            .role_arn(role_arn("Guarded"))
            .role_session_name("mfa")
            .set_serial_number(code.map(|_| serial.clone()))
            .set_token_code(code.map(str::to_string))
            .send()
    };
    let ok = call(Some("123456")).await.expect("valid code");
    assert!(ok.credentials().is_some());
    let bad = call(Some("000000")).await.expect_err("invalid code");
    assert_eq!(code(&bad), "AccessDenied");
    assert_eq!(message(&bad), "MultiFactorAuthentication failed with invalid MFA one time pass code. ");
    let none = call(None).await.expect_err("no code");
    assert_eq!(code(&none), "AccessDenied");
    assert!(message(&none).contains("is not authorized to perform: sts:AssumeRole"), "{}", message(&none));

    // GetSessionToken with a valid code gives credentials that count as MFA-authenticated.
    let session = w
        .sts()
        .get_session_token()
        .serial_number(&serial)
        .token_code("654321")
        .send()
        .await
        .expect("session token");
    let as_session = aws_sdk_sts::Client::new(&w.signing_as(temporary(session.credentials().expect("c"))));
    assert!(assume(&as_session, "Guarded", "via-session").await.is_ok());
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_session_assumes_a_role_that_trusts_its_role() {
    let w = start(None).await;
    w.create_role("A", trusting(json!(format!("arn:aws:iam::{ACCOUNT}:root")), None)).await;
    w.create_role("B", trusting(json!([role_arn("A")]), None)).await;

    let me = w.sts().get_caller_identity().send().await.expect("who am i");
    assert_eq!(me.arn(), Some(w.sandbox.seeded_user_arn().as_str()));
    assert_eq!(me.account(), Some(ACCOUNT));

    let a = assume(&w.sts(), "A", "first").await.expect("A");
    let as_a = aws_sdk_sts::Client::new(&w.signing_as(temporary(a.credentials().expect("c"))));
    let who = as_a.get_caller_identity().send().await.expect("who is A");
    assert_eq!(who.arn(), Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/A/first").as_str()));
    assert!(who.user_id().is_some_and(|id| id.starts_with("AROA") && id.ends_with(":first")));

    let b = assume(&as_a, "B", "second").await.expect("A's session assumes B");
    let as_b = aws_sdk_sts::Client::new(&w.signing_as(temporary(b.credentials().expect("c"))));
    let who = as_b.get_caller_identity().send().await.expect("who is B");
    assert_eq!(who.arn(), Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/B/second").as_str()));

    // B trusts role A only: neither the user nor B's own session may assume it.
    let denied = assume(&w.sts(), "B", "direct").await.expect_err("the user is not role A");
    assert!(denied.contains("User: arn:aws:iam::000000000000:user/sandbox is not authorized"), "{denied}");
    let denied = assume(&as_b, "B", "again").await.expect_err("B is not A");
    assert!(denied.contains("assumed-role/B/second is not authorized"), "{denied}");
    let refused = as_a.get_session_token().send().await.expect_err("session credentials");
    assert_eq!(code(&refused), "AccessDenied");
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_credentials_sign_s3_healthlake_and_kms() {
    let w = start(None).await;
    w.create_role("Uploader", trusting(json!(ACCOUNT), None)).await;
    let out = assume(&w.sts(), "Uploader", "up").await.expect("assume");
    let config = w.signing_as(temporary(out.credentials().expect("c")));
    let bucket = w.sandbox.seed().input_bucket.clone();

    let s3 = support::s3(&config);
    s3.put_object()
        .bucket(&bucket)
        .key("temp/hello.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .expect("put with temporary credentials");
    let got = s3.get_object().bucket(&bucket).key("temp/hello.txt").send().await.expect("get");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"hello");

    let stores = aws_sdk_healthlake::Client::new(&config).list_fhir_datastores().send().await.expect("list");
    assert!(
        stores.datastore_properties_list().iter().any(|d| d.datastore_id() == w.sandbox.seed().datastore_id)
    );
    let keys = aws_sdk_kms::Client::new(&config).list_keys().send().await.expect("keys");
    assert!(!keys.keys().is_empty());

    // GetSessionToken's credentials sign as the user.
    let session = w.sts().get_session_token().send().await.expect("session token");
    let as_user = w.signing_as(temporary(session.credentials().expect("c")));
    let who = aws_sdk_sts::Client::new(&as_user).get_caller_identity().send().await.expect("who");
    assert_eq!(who.arn(), Some(w.sandbox.seeded_user_arn().as_str()));
    support::s3(&as_user).head_object().bucket(&bucket).key("temp/hello.txt").send().await.expect("head");
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_credentials_are_refused_as_expired_by_every_service() {
    let w = start(Some(1)).await;
    w.create_role("Brief", trusting(json!(ACCOUNT), None)).await;
    let before = SystemTime::now();
    let out = assume(&w.sts(), "Brief", "brief").await.expect("assume");
    let credentials = out.credentials().expect("c");
    let expires = SystemTime::try_from(*credentials.expiration()).expect("expiration");
    assert!(expires <= before + Duration::from_secs(2), "the cap of 1 s shortens the default hour");
    let config = w.signing_as(temporary(credentials));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let bucket = w.sandbox.seed().input_bucket.clone();
    let s3 = support::s3(&config).list_objects_v2().bucket(&bucket).send().await.expect_err("expired");
    assert_eq!(code(&s3), "ExpiredToken");
    let raw = s3.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(400));
    let hl =
        aws_sdk_healthlake::Client::new(&config).list_fhir_datastores().send().await.expect_err("expired");
    assert_eq!(code(&hl), "ExpiredTokenException");
    assert_eq!(message(&hl), "The security token included in the request is expired");
    let kms = aws_sdk_kms::Client::new(&config).list_keys().send().await.expect_err("expired");
    assert_eq!(code(&kms), "ExpiredTokenException");
    let sts = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.expect_err("expired");
    assert_eq!(code(&sts), "ExpiredToken");
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_key_is_refused_without_its_session_token() {
    let w = start(None).await;
    w.create_role("Tokened", trusting(json!(ACCOUNT), None)).await;
    let out = assume(&w.sts(), "Tokened", "tk").await.expect("assume");
    let c = out.credentials().expect("c");
    let bucket = w.sandbox.seed().input_bucket.clone();
    for token in [None, Some("not-the-session-token".to_string())] {
        let config = w.signing_as(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            token.clone(),
            None,
            "t",
        ));
        let s3 = support::s3(&config).list_objects_v2().bucket(&bucket).send().await.expect_err("no token");
        assert_eq!(code(&s3), "InvalidToken", "{token:?}");
        let hl =
            aws_sdk_healthlake::Client::new(&config).list_fhir_datastores().send().await.expect_err("no");
        assert_eq!(code(&hl), "UnrecognizedClientException", "{token:?}");
        let sts = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.expect_err("no");
        assert_eq!(code(&sts), "InvalidClientTokenId", "{token:?}");
    }
    // The seeded key never takes a token.
    let seed = w.sandbox.seed();
    let config = w.signing_as(Credentials::new(
        &seed.access_key_id,
        &seed.secret_access_key,
        Some(c.session_token().to_string()),
        None,
        "t",
    ));
    let s3 = support::s3(&config).list_objects_v2().bucket(&bucket).send().await.expect_err("stray token");
    assert_eq!(code(&s3), "InvalidToken");
    w.sandbox.stop().await;
}

/// Opens a URL the way a browser would (a plain HTTP/1.1 GET), answering the status and the body.
async fn browse(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').expect("a path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sso_device_flow_signs_in_and_its_role_credentials_sign_s3() {
    let w = start(None).await;
    let oidc = aws_sdk_ssooidc::Client::new(&w.config);
    let client = oidc.register_client().client_name("lakedrop-test").client_type("public").send().await;
    let client = client.expect("register client");
    let (id, secret) = (client.client_id().expect("id"), client.client_secret().expect("secret"));
    assert!(client.client_secret_expires_at() > client.client_id_issued_at());
    let device = oidc
        .start_device_authorization()
        .client_id(id)
        .client_secret(secret)
        .start_url("https://lakedrop-sandbox.awsapps.com/start")
        .send()
        .await
        .expect("device authorization");
    let user_code = device.user_code().expect("user code");
    assert!(
        user_code.len() == 9
            && user_code.as_bytes()[4] == b'-'
            && user_code.bytes().filter(|b| *b != b'-').all(|b| b.is_ascii_uppercase()),
        "{user_code}"
    );
    assert_eq!(device.verification_uri(), Some(format!("{}/sso/approve", w.sandbox.endpoint()).as_str()));
    assert_eq!((device.expires_in(), device.interval()), (600, 1));
    let device_code = device.device_code().expect("device code");
    let token = || {
        oidc.create_token()
            .client_id(id)
            .client_secret(secret)
            .grant_type("urn:ietf:params:oauth:grant-type:device_code")
            .device_code(device_code)
            .send()
    };
    let pending = token().await.expect_err("not yet approved");
    let pending = pending.into_service_error();
    assert!(pending.is_authorization_pending_exception(), "{pending:?}");

    let (status, page) = browse(device.verification_uri_complete().expect("complete uri")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in; you can close this window"), "{page}");
    let (status, _) = browse(&format!("{}/sso/approve?user_code=ZZZZ-ZZZZ", w.sandbox.endpoint())).await;
    assert_eq!(status, 404);

    let tokens = token().await.expect("approved");
    assert_eq!((tokens.token_type(), tokens.expires_in()), (Some("Bearer"), 28_800));
    let access_token = tokens.access_token().expect("access token").to_string();
    let used = token().await.expect_err("a device code is good for one token").into_service_error();
    assert!(used.is_invalid_grant_exception(), "{used:?}");
    let refreshed = oidc
        .create_token()
        .client_id(id)
        .client_secret(secret)
        .grant_type("refresh_token")
        .refresh_token(tokens.refresh_token().expect("refresh token"))
        .send()
        .await
        .expect("refresh");
    assert_ne!(refreshed.access_token(), Some(access_token.as_str()));

    let portal = aws_sdk_sso::Client::new(&w.config);
    for bearer in [access_token.as_str(), refreshed.access_token().expect("token")] {
        let role = portal
            .get_role_credentials()
            .role_name("DataEngineer")
            .account_id(ACCOUNT)
            .access_token(bearer)
            .send()
            .await
            .expect("role credentials");
        let rc = role.role_credentials().expect("credentials");
        let expires_ms = u64::try_from(rc.expiration()).expect("positive");
        let now_ms =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("now").as_millis() as u64;
        assert!((3_590_000..=3_601_000).contains(&(expires_ms - now_ms)), "{expires_ms} vs {now_ms}");
        let key = rc.access_key_id().expect("key id");
        assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
        let config = w.signing_as(Credentials::new(
            key,
            rc.secret_access_key().expect("secret"),
            rc.session_token().map(str::to_string),
            None,
            "sso",
        ));
        let bucket = &w.sandbox.seed().input_bucket;
        let s3 = support::s3(&config);
        s3.put_object()
            .bucket(bucket)
            .key("sso.txt")
            .body(ByteStream::from_static(b"sso"))
            .send()
            .await
            .expect("put");
        let got = s3.get_object().bucket(bucket).key("sso.txt").send().await.expect("get");
        assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"sso");
        let who = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.expect("who");
        let arn = who.arn().expect("arn");
        assert!(
            arn.starts_with(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_DataEngineer_")),
            "{arn}"
        );
    }
    w.sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sso_portal_refuses_unknown_and_expired_tokens() {
    let w = start(Some(20)).await;
    let portal = aws_sdk_sso::Client::new(&w.config);
    let call = |token: String| {
        portal.get_role_credentials().role_name("DataEngineer").account_id(ACCOUNT).access_token(token).send()
    };
    for token in ["aoa-not-issued".to_string(), w.sandbox.issue_sso_token(Duration::ZERO)] {
        let err = call(token).await.expect_err("refused").into_service_error();
        assert!(err.is_unauthorized_exception(), "{err:?}");
        assert_eq!(err.meta().message(), Some("Session token not found or invalid"));
    }
    let live = call(w.sandbox.issue_sso_token(Duration::from_secs(3600))).await.expect("a live token works");
    let expires_ms = live.role_credentials().expect("credentials").expiration();
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("now").as_millis() as i64;
    assert!((expires_ms - now_ms) <= 20_000, "the 20-s cap applies to SSO role credentials too");

    let oidc = aws_sdk_ssooidc::Client::new(&w.config);
    let err = oidc
        .create_token()
        .client_id("nobody")
        .client_secret("nothing")
        .grant_type("refresh_token")
        .refresh_token("r")
        .send()
        .await
        .expect_err("unregistered client")
        .into_service_error();
    assert!(err.is_invalid_client_exception(), "{err:?}");
    w.sandbox.stop().await;
}

/// aws-config's own profile providers, as a user's `~/.aws/config` drives them: a role chain whose source profile
/// holds the seeded key, with the sandbox as each profile's endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_role_chain_resolves_through_aws_config() {
    let w = start(None).await;
    w.create_role("Hop1", trusting(json!(format!("arn:aws:iam::{ACCOUNT}:root")), None)).await;
    w.create_role(
        "Hop2",
        trusting(json!(role_arn("Hop1")), Some(json!({"StringEquals": {"sts:ExternalId": "x-9"}}))),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = w.sandbox.endpoint();
    let seed = w.sandbox.seed();
    let config_file = dir.path().join("config");
    std::fs::write(
        &config_file,
        format!(
            "[profile base]\nregion = us-east-1\nendpoint_url = {endpoint}\n\n\
             [profile hop1]\nregion = us-east-1\nendpoint_url = {endpoint}\nrole_arn = {}\nsource_profile = base\n\n\
             [profile hop2]\nregion = us-east-1\nendpoint_url = {endpoint}\nrole_arn = {}\nexternal_id = x-9\nrole_session_name = chained\nsource_profile = hop1\n",
            role_arn("Hop1"),
            role_arn("Hop2")
        ),
    )
    .expect("config");
    let credentials_file = dir.path().join("credentials");
    std::fs::write(
        &credentials_file,
        format!(
            "[base]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            seed.access_key_id, seed.secret_access_key
        ),
    )
    .expect("credentials");
    use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
    let files = EnvConfigFiles::builder()
        .with_file(EnvConfigFileKind::Config, &config_file)
        .with_file(EnvConfigFileKind::Credentials, &credentials_file)
        .build();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .profile_files(files)
        .profile_name("hop2")
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .load()
        .await;
    let who = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.expect("who");
    assert_eq!(who.arn(), Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/Hop2/chained").as_str()));
    let keys =
        aws_sdk_kms::Client::new(&config).list_keys().send().await.expect("the chain's credentials sign");
    assert!(!keys.keys().is_empty());
    w.sandbox.stop().await;
}

fn run_cli(bin: &Path, env: &[(&str, String)], args: &[&str]) -> Value {
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(bin).args(args).env_clear().envs(env.iter().map(|(k, v)| (k, v))).output()
    })
    .expect("aws runs");
    assert!(out.status.success(), "aws {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_asks_sts_who_it_is_and_assumes_a_role() {
    let Some(bin) = aws_cli::find() else { return };
    let w = start(None).await;
    w.create_role("CliRole", trusting(json!(format!("arn:aws:iam::{ACCOUNT}:root")), None)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = w.sandbox.seed();
    let config_file = dir.path().join("config");
    let start_url = "https://lakedrop-sandbox.awsapps.com/start";
    std::fs::write(
        &config_file,
        format!(
            "[default]\nregion = us-east-1\n\n[profile chained]\nregion = us-east-1\nrole_arn = {}\nsource_profile = default\n\n\
             [profile sso]\nregion = us-east-1\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_account_id = {ACCOUNT}\nsso_role_name = Analyst\n",
            role_arn("CliRole")
        ),
    )
    .expect("config");
    let credentials_file = dir.path().join("credentials");
    std::fs::write(
        &credentials_file,
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            seed.access_key_id, seed.secret_access_key
        ),
    )
    .expect("credentials");
    let env = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", dir.path().display().to_string()),
        ("AWS_ENDPOINT_URL", w.sandbox.endpoint().to_string()),
        ("AWS_CONFIG_FILE", config_file.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials_file.display().to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ];

    let me = run_cli(&bin, &env, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], w.sandbox.seeded_user_arn().as_str());
    assert_eq!(me["Account"], ACCOUNT);
    let assumed = run_cli(
        &bin,
        &env,
        &["sts", "assume-role", "--role-arn", &role_arn("CliRole"), "--role-session-name", "cli"],
    );
    assert!(
        assumed["Credentials"]["AccessKeyId"].as_str().is_some_and(|k| k.starts_with("ASIA")),
        "{assumed}"
    );
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/CliRole/cli").as_str()
    );
    let chained = run_cli(&bin, &env, &["sts", "get-caller-identity", "--profile", "chained"]);
    assert!(
        chained["Arn"]
            .as_str()
            .is_some_and(|a| a.starts_with(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/CliRole/"))),
        "{chained}"
    );

    // The legacy SSO profile reads its token from the cache file `aws sso login` would have written.
    let cache = dir.path().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).expect("cache dir");
    let name = {
        use sha1::Digest as _;
        hex::encode(sha1::Sha1::digest(start_url.as_bytes()))
    };
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(8);
    let expires = expires.format(&time::format_description::well_known::Rfc3339).expect("date");
    let token = w.sandbox.issue_sso_token(Duration::from_secs(8 * 3600));
    std::fs::write(
        cache.join(format!("{name}.json")),
        json!({"startUrl": start_url, "region": "us-east-1", "accessToken": token, "expiresAt": expires})
            .to_string(),
    )
    .expect("token cache");
    let via_sso = run_cli(&bin, &env, &["sts", "get-caller-identity", "--profile", "sso"]);
    assert!(
        via_sso["Arn"].as_str().is_some_and(|a| a.contains(":assumed-role/AWSReservedSSO_Analyst_")),
        "{via_sso}"
    );
    w.sandbox.stop().await;
}
