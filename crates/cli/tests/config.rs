//! The real-AWS path as people configure it, proven without AWS: real `~/.aws/config` files in a temporary HOME,
//! pointed at a served sandbox with `endpoint_url`, driven through the real `lakedrop` binary (`jobs list`, and
//! `import --wait` for each way of signing in). Each case checks success or the exact words a person reads.
//!
//! The network cases put what IT departments put between a laptop and AWS in front of the sandbox: a TLS
//! endpoint whose certificate a throwaway CA signed (trusted only through `AWS_CA_BUNDLE` or `ca_bundle`), and an
//! HTTP CONNECT proxy (`HTTPS_PROXY`, `NO_PROXY`), which can also refuse.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_lakedrop");

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients").join(name)
}

/// A `lakedrop sandbox serve` child, killed on drop, and what it printed.
struct Server {
    child: Child,
    endpoint: String,
    addr: SocketAddr,
    key: String,
    secret: String,
    region: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["sandbox", "serve", "--port", "0", "--data"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut env = std::collections::HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|kv| kv.split_once('=')) {
            env.insert(k.to_string(), v.to_string());
        }
        if line.starts_with("role") {
            break;
        }
    }
    let endpoint = env["AWS_ENDPOINT_URL"].clone();
    let addr = endpoint.trim_start_matches("http://").parse().expect("addr");
    Server {
        child,
        addr,
        endpoint,
        key: env["AWS_ACCESS_KEY_ID"].clone(),
        secret: env["AWS_SECRET_ACCESS_KEY"].clone(),
        region: env["AWS_REGION"].clone(),
    }
}

/// A temporary HOME holding `~/.aws/config` (and whatever else a case writes there).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(config: &str) -> Home {
        let dir = tempfile::tempdir().expect("home");
        std::fs::create_dir_all(dir.path().join(".aws")).expect("~/.aws");
        std::fs::write(dir.path().join(".aws/config"), config).expect("config");
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `lakedrop` as a person runs it: their HOME, none of this machine's AWS variables.
    fn lakedrop(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.args(args).env("HOME", self.path()).env("LAKEDROP_DATA_DIR", self.path().join("lakedrop"));
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_")
                || name.ends_with("_PROXY")
                || name.ends_with("_proxy")
                || name == "LAKEDROP_LOG"
                || name == "LAKEDROP_MFA_CODE"
            {
                command.env_remove(name);
            }
        }
        command.stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.lakedrop(args).envs(env.iter().copied()).output().expect("lakedrop runs")
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Succeeded, and said nothing on stderr but what a person should see: no SDK warnings, no instance-metadata
/// probing (issue 21: four IMDS warnings with debug dumps preceded every error).
fn assert_clean_success(out: &Output, case: &str) {
    let err = stderr(out);
    assert!(out.status.success(), "{case}: exit {:?}, stderr: {err}", out.status.code());
    for noise in ["IMDS", "imds", "No HTTP client", "WARN", "169.254.169.254"] {
        assert!(!err.contains(noise), "{case}: stderr mentions {noise}: {err}");
    }
}

/// Failed with exit 2 and the given words, and no debug dump.
fn assert_says(out: &Output, words: &str, case: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{case}: stderr: {err}");
    assert!(err.contains(words), "{case}: expected «{words}» in: {err}");
    for dump in ["DispatchFailure", "ConnectorError", "ServiceError", "{ ", "Some("] {
        assert!(!err.contains(dump), "{case}: a debug dump ({dump}) in: {err}");
    }
}

fn keys_profile(name: &str, server: &Server, extra: &str) -> String {
    format!(
        "[profile {name}]\nregion = {}\nendpoint_url = {}\naws_access_key_id = {}\naws_secret_access_key = {}\n{extra}\n",
        server.region, server.endpoint, server.key, server.secret
    )
}

// Regression (issue 21): `lakedrop jobs list --profile analyst` stopped with "no AWS Region is configured"
// although the profile sets one, after four IMDS warnings.
#[test]
fn a_profile_written_by_aws_configure_connects_with_its_region_and_endpoint() {
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &[]);
    let home = Home::new(&keys_profile("analyst", &server, ""));
    let out = home.run(&["jobs", "list", "--profile", "analyst"], &[]);
    assert_clean_success(&out, "--profile");
    let out = home.run(&["jobs", "list"], &[("AWS_PROFILE", "analyst")]);
    assert_clean_success(&out, "AWS_PROFILE");
    // A default profile, found with nothing named.
    let home = Home::new(&keys_profile("default", &server, "").replace("[profile default]", "[default]"));
    assert_clean_success(&home.run(&["jobs", "list"], &[]), "the default profile");
}

// Regression (issue 21): `--profile nosuch` said that no Region was configured.
#[test]
fn a_missing_profile_or_region_is_named_as_such() {
    let home = Home::new("[profile analyst]\naws_access_key_id = AKIA\naws_secret_access_key = s\n");
    let out = home.run(&["jobs", "list", "--profile", "nosuch"], &[]);
    assert_says(
        &out,
        "there is no profile `nosuch` in ~/.aws/config or ~/.aws/credentials",
        "--profile nosuch",
    );
    let out = home.run(&["jobs", "list"], &[("AWS_PROFILE", "gone")]);
    assert_says(&out, "there is no profile `gone`", "AWS_PROFILE=gone");
    let out = home.run(&["jobs", "list", "--profile", "analyst"], &[]);
    assert_says(&out, "the profile `analyst` sets no Region: add `region = us-east-1`", "no region");
}

// The AWS CLI's precedence: --region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile; a profile named
// on the command line wins over keys in the environment, and keys in the environment over AWS_PROFILE.
#[test]
fn regions_and_credentials_follow_the_aws_cli_precedence() {
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &[]);
    // The profile's Region is not the sandbox's: signed for it, requests are refused as AWS refuses them (which
    // proves the profile's Region was used); only the overrides reach the data store.
    let home = Home::new(
        &keys_profile("analyst", &server, "")
            .replace(&format!("region = {}", server.region), "region = ap-south-2"),
    );
    let region = server.region.as_str();
    let listed_in = |out: &Output| -> String {
        assert!(out.status.success(), "{}", stderr(out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        json["region"].as_str().unwrap_or_default().to_string()
    };
    let list = ["jobs", "list", "--profile", "analyst", "--output", "json"];
    let refused = home.run(&list, &[]);
    assert!(!refused.status.success(), "signed for ap-south-2, the sandbox in {region} refuses");
    assert_says(&refused, "not 'ap-south-2'", "the profile's Region");
    assert_says(&refused, "signed for a Region this endpoint does not serve", "said as a Region problem");
    assert_eq!(listed_in(&home.run(&list, &[("AWS_DEFAULT_REGION", region)])), region);
    let both = [("AWS_DEFAULT_REGION", "eu-west-3"), ("AWS_REGION", region)];
    assert_eq!(listed_in(&home.run(&list, &both)), region);
    let mut flagged = list.to_vec();
    flagged.extend(["--region", region]);
    assert_eq!(listed_in(&home.run(&flagged, &[("AWS_REGION", "eu-west-3")])), region);

    // Keys in the environment that the sandbox does not know: a named profile wins over them, AWS_PROFILE not.
    let wrong = [
        ("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0"),
        ("AWS_SECRET_ACCESS_KEY", "wrong"),
        ("AWS_REGION", region),
    ];
    let out = home.run(&["jobs", "list", "--profile", "analyst"], &wrong);
    assert_clean_success(&out, "--profile over environment keys");
    let mut env = wrong.to_vec();
    env.push(("AWS_PROFILE", "analyst"));
    env.push(("AWS_ENDPOINT_URL", &server.endpoint));
    let out = home.run(&["jobs", "list"], &env);
    assert_says(&out, "AWS refused the credentials", "environment keys over AWS_PROFILE");
}

// `endpoint_url` in a profile is one way; `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` are the others the
// SDKs and the AWS CLI honour.
#[test]
fn endpoints_come_from_the_environment_too() {
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &[]);
    let profile = keys_profile("analyst", &server, "");
    let without_endpoint: String =
        profile.lines().filter(|l| !l.starts_with("endpoint_url")).collect::<Vec<_>>().join("\n");
    let home = Home::new(&without_endpoint);
    let out = home.run(&["jobs", "list", "--profile", "analyst"], &[("AWS_ENDPOINT_URL", &server.endpoint)]);
    assert_clean_success(&out, "AWS_ENDPOINT_URL");
    let out = home
        .run(&["jobs", "list", "--profile", "analyst"], &[("AWS_ENDPOINT_URL_HEALTHLAKE", &server.endpoint)]);
    assert_clean_success(&out, "AWS_ENDPOINT_URL_HEALTHLAKE");
}

#[test]
fn a_credential_process_gives_the_credentials() {
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &[]);
    let home = Home::new("");
    let script = home.path().join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{}\", \"SecretAccessKey\": \"{}\"}}'\n",
            server.key, server.secret
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("mode");
    let failing = home.path().join("fails.sh");
    std::fs::write(&failing, "#!/bin/sh\necho 'the vault is sealed' >&2\nexit 3\n").expect("script");
    std::fs::set_permissions(&failing, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("mode");
    let config = format!(
        "[profile vault]\nregion = {r}\nendpoint_url = {e}\ncredential_process = {s}\n\n[profile sealed]\nregion = {r}\nendpoint_url = {e}\ncredential_process = {f}\n",
        r = server.region,
        e = server.endpoint,
        s = script.display(),
        f = failing.display()
    );
    std::fs::write(home.path().join(".aws/config"), config).expect("config");
    assert_clean_success(&home.run(&["jobs", "list", "--profile", "vault"], &[]), "credential_process");
    import_completes(&home, &["--profile", "vault"], &[], "a credential_process profile");
    let out = home.run(&["jobs", "list", "--profile", "sealed"], &[]);
    assert_says(
        &out,
        "the credentials of profile `sealed` could not be loaded",
        "a failing credential_process",
    );
}

#[test]
fn unreachable_endpoints_are_said_in_words() {
    let refused = TcpListener::local_addr(
        &tokio::runtime::Runtime::new()
            .expect("rt")
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind"),
    )
    .expect("addr");
    // The listener is gone when the runtime is: nothing listens there now.
    let config = format!(
        "[profile closed]\nregion = us-east-1\nendpoint_url = http://{refused}\naws_access_key_id = AKIA0000000000000000\naws_secret_access_key = s\n\n\
         [profile nowhere]\nregion = us-east-1\nendpoint_url = http://lakedrop-test.invalid\naws_access_key_id = AKIA0000000000000000\naws_secret_access_key = s\n"
    );
    let home = Home::new(&config);
    let out = home.run(&["jobs", "list", "--profile", "closed"], &[]);
    assert_says(&out, "the connection was refused", "refused");
    let out = home.run(&["jobs", "list", "--profile", "nowhere"], &[]);
    assert_says(&out, "host name could not be resolved", "DNS");
}

/// A TLS endpoint in front of the sandbox whose certificate (for 127.0.0.1) a throwaway CA signed.
struct TlsFront {
    url: String,
    ca_pem: PathBuf,
}

fn tls_front(runtime: &tokio::runtime::Runtime, backend: SocketAddr, dir: &Path) -> TlsFront {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Lakedrop test proxy CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    let ca_pem = dir.join("corporate-ca.pem");
    std::fs::write(&ca_pem, ca.pem()).expect("ca pem");

    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else { return };
                let Ok(mut upstream) = TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    TlsFront { url: format!("https://{addr}"), ca_pem }
}

/// An HTTP CONNECT proxy on loopback that counts the tunnels it opened, or refuses each with 403.
fn connect_proxy(runtime: &tokio::runtime::Runtime, refuse: bool) -> (String, Arc<AtomicUsize>) {
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let tunnels = Arc::new(AtomicUsize::new(0));
    let counted = tunnels.clone();
    runtime.spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    match socket.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let Some(target) = head.strip_prefix("CONNECT ").and_then(|r| r.split_whitespace().next())
                else {
                    let _ = socket
                        .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                };
                if refuse {
                    let _ = socket.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await;
                    return;
                }
                let Ok(mut upstream) = TcpStream::connect(target).await else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                if socket.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
                }
            });
        }
    });
    (format!("http://{addr}"), tunnels)
}

#[test]
fn a_corporate_ca_and_proxy_are_honoured() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &[]);
    let home = Home::new("");
    let front = tls_front(&runtime, server.addr, home.path());
    let profile = |name: &str, extra: &str| {
        format!(
            "[profile {name}]\nregion = {}\nendpoint_url = {}\naws_access_key_id = {}\naws_secret_access_key = {}\n{extra}\n",
            server.region, front.url, server.key, server.secret
        )
    };
    let config =
        profile("corp", "") + &profile("bundled", &format!("ca_bundle = {}", front.ca_pem.display()));
    std::fs::write(home.path().join(".aws/config"), config).expect("config");
    let ca = front.ca_pem.to_str().expect("utf-8 path");

    let out = home.run(&["jobs", "list", "--profile", "corp"], &[]);
    assert_says(&out, "the server's certificate is not trusted", "an unknown CA");
    assert_clean_success(
        &home.run(&["jobs", "list", "--profile", "corp"], &[("AWS_CA_BUNDLE", ca)]),
        "AWS_CA_BUNDLE",
    );
    assert_clean_success(&home.run(&["jobs", "list", "--profile", "bundled"], &[]), "ca_bundle");
    let missing = home.path().join("nosuch.pem");
    let out = home
        .run(&["jobs", "list", "--profile", "corp"], &[("AWS_CA_BUNDLE", missing.to_str().expect("path"))]);
    assert_says(&out, "cannot read the CA bundle", "a CA bundle that is not there");

    let (proxy, tunnels) = connect_proxy(&runtime, false);
    let out =
        home.run(&["jobs", "list", "--profile", "corp"], &[("AWS_CA_BUNDLE", ca), ("HTTPS_PROXY", &proxy)]);
    assert_clean_success(&out, "through the proxy");
    assert!(tunnels.load(Ordering::SeqCst) >= 1, "the requests went through the proxy");

    let (refusing, _) = connect_proxy(&runtime, true);
    let out = home
        .run(&["jobs", "list", "--profile", "corp"], &[("AWS_CA_BUNDLE", ca), ("HTTPS_PROXY", &refusing)]);
    assert_says(&out, "the proxy refused the connection", "a refusing proxy");
    let out = home.run(
        &["jobs", "list", "--profile", "corp"],
        &[("AWS_CA_BUNDLE", ca), ("HTTPS_PROXY", &refusing), ("NO_PROXY", "127.0.0.1")],
    );
    assert_clean_success(&out, "NO_PROXY past a refusing proxy");

    // The whole import, through the proxy and the re-signing endpoint.
    let out = home
        .lakedrop(&["import", "--wait", "--output", "json", "--profile", "corp"])
        .arg(sample("Organization.000.ndjson"))
        .envs([("AWS_CA_BUNDLE", ca), ("HTTPS_PROXY", proxy.as_str())])
        .output()
        .expect("import runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["job"]["status"], "COMPLETED", "{json}");
}

/// Clients for the served sandbox with its seeded keys: the administrator's, not a profile's.
async fn seeded_clients(server: &Server) -> lakedrop_aws::Clients {
    let target = lakedrop_aws::Target::Endpoint {
        url: server.endpoint.clone(),
        region: server.region.clone(),
        access_key_id: server.key.clone(),
        secret_access_key: server.secret.clone(),
    };
    lakedrop_aws::connect(&target).await.expect("connect")
}

/// Creates roles in the served sandbox's IAM, each with its trust policy, as an administrator would.
fn create_roles(server: &Server, roles: &[(&str, serde_json::Value)]) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let clients = seeded_clients(server).await;
        for (name, trust) in roles {
            clients
                .iam
                .create_role()
                .role_name(*name)
                .assume_role_policy_document(trust.to_string())
                .send()
                .await
                .expect("create role");
        }
    });
}

fn trust(principal: &str, condition: serde_json::Value) -> serde_json::Value {
    let mut statement = serde_json::json!({
        "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole",
    });
    if !condition.is_null() {
        statement["Condition"] = condition;
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": [statement]})
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::000000000000:role/{name}")
}

/// A role profile: `role_arn` with `source_profile` and whatever else, at the server.
fn role_profile(name: &str, server: &Server, role: &str, source: &str, extra: &str) -> String {
    format!(
        "[profile {name}]\nregion = {}\nendpoint_url = {}\nrole_arn = {}\nsource_profile = {source}\n{extra}\n",
        server.region,
        server.endpoint,
        role_arn(role)
    )
}

/// `lakedrop import --wait` of one sample file with the profile; the job must complete.
fn import_completes(home: &Home, args: &[&str], env: &[(&str, &str)], case: &str) {
    let out = home
        .lakedrop(&["import", "--wait", "--output", "json"])
        .args(args)
        .arg(sample("Organization.000.ndjson"))
        .envs(env.iter().copied())
        .output()
        .expect("import runs");
    assert!(out.status.success(), "{case}: {}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["job"]["status"], "COMPLETED", "{case}: {json}");
}

// Role chains as IT departments write them: a base profile with keys, a role it may assume, and a role only that
// role may assume, with an external id.
#[test]
fn role_chains_with_source_profiles_and_external_ids_assume_their_roles() {
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &[]);
    create_roles(
        &server,
        &[
            ("Analyst", trust("arn:aws:iam::000000000000:root", serde_json::Value::Null)),
            (
                "Importer",
                trust(
                    &role_arn("Analyst"),
                    serde_json::json!({"StringEquals": {"sts:ExternalId": "lakedrop-42"}}),
                ),
            ),
        ],
    );
    let config = keys_profile("base", &server, "")
        + &role_profile("analyst", &server, "Analyst", "base", "")
        + &role_profile("importer", &server, "Importer", "analyst", "external_id = lakedrop-42")
        + &role_profile("wrong-id", &server, "Importer", "analyst", "external_id = guessed")
        + &role_profile("skipped", &server, "Importer", "base", "external_id = lakedrop-42");
    let home = Home::new(&config);
    assert_clean_success(&home.run(&["jobs", "list", "--profile", "analyst"], &[]), "one role");
    assert_clean_success(&home.run(&["jobs", "list", "--profile", "importer"], &[]), "a chain of two");
    let out = home.run(&["jobs", "list", "--profile", "wrong-id"], &[]);
    assert_says(&out, "profile `wrong-id` could not assume its role", "a wrong external id");
    assert_says(&out, "external_id", "a wrong external id");
    // The base keys are not the role Importer trusts.
    let out = home.run(&["jobs", "list", "--profile", "skipped"], &[]);
    assert_says(&out, "profile `skipped` could not assume its role", "an untrusted source");
    import_completes(&home, &["--profile", "importer"], &[], "a role chain");
}

// `mfa_serial`: the code is asked for (on the terminal, or with --mfa-code); a wrong code is refused in words.
#[test]
fn a_role_that_asks_for_mfa_takes_the_code() {
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &[]);
    create_roles(
        &server,
        &[(
            "Guarded",
            trust(
                "arn:aws:iam::000000000000:root",
                serde_json::json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
            ),
        )],
    );
    let serial = "arn:aws:iam::000000000000:mfa/analyst";
    let config = keys_profile("base", &server, "")
        + &role_profile("guarded", &server, "Guarded", "base", &format!("mfa_serial = {serial}"));
    let home = Home::new(&config);
    let out = home.run(&["jobs", "list", "--profile", "guarded"], &[]);
    assert_says(
        &out,
        &format!(
            "the profile `guarded` assumes its role with the MFA device {serial}: enter the six-digit code"
        ),
        "no code",
    );
    assert_says(&out, "--mfa-code", "no code");
    let out = home.run(&["jobs", "list", "--profile", "guarded", "--mfa-code", "000000"], &[]);
    assert_says(&out, "check the code, which changes every 30 seconds", "a wrong code");
    let out = home.run(&["jobs", "list", "--profile", "guarded", "--mfa-code", "12345"], &[]);
    assert_says(&out, "must be the six digits the device shows", "not a code");
    assert_clean_success(
        &home.run(&["jobs", "list", "--profile", "guarded", "--mfa-code", "123456"], &[]),
        "--mfa-code",
    );
    assert_clean_success(
        &home.run(&["jobs", "list", "--profile", "guarded"], &[("LAKEDROP_MFA_CODE", "654321")]),
        "LAKEDROP_MFA_CODE",
    );
    import_completes(&home, &["--profile", "guarded", "--mfa-code", "123456"], &[], "an MFA role");
}

/// The AWS CLI's SSO token cache entry for a session name (sso-session profiles) or start URL (legacy ones).
fn write_sso_cache(home: &Home, cache_key: &str, start_url: &str, token: &str, expires_at: &str) {
    use sha1::Digest;
    let name = hex::encode(sha1::Sha1::digest(cache_key.as_bytes()));
    let dir = home.path().join(".aws/sso/cache");
    std::fs::create_dir_all(&dir).expect("cache dir");
    let entry = serde_json::json!({
        "startUrl": start_url, "region": "us-east-1", "accessToken": token, "expiresAt": expires_at,
    });
    std::fs::write(dir.join(format!("{name}.json")), entry.to_string()).expect("cache entry");
}

// IAM Identity Center, as `aws configure sso` writes it (an `sso-session` section) and as older CLIs did (the
// start URL in the profile), with the token `aws sso login` left in the cache; an expired one says what to run.
#[test]
fn sso_profiles_use_the_aws_cli_token_cache() {
    let data = tempfile::tempdir().expect("data");
    let home = Home::new("");
    let token_file = home.path().join("sso-token");
    let server = serve(data.path(), &["--sso-token-file", token_file.to_str().expect("path")]);
    let token = std::fs::read_to_string(&token_file).expect("token").trim().to_string();
    let start_url = "https://corp.awsapps.com/start";
    let config = format!(
        "[profile modern]\nsso_session = corp\nsso_account_id = 000000000000\nsso_role_name = Analyst\nregion = {r}\nendpoint_url = {e}\n\n\
         [sso-session corp]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n\
         [profile legacy]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_account_id = 000000000000\nsso_role_name = Analyst\nregion = {r}\nendpoint_url = {e}\n",
        r = server.region,
        e = server.endpoint
    );
    std::fs::write(home.path().join(".aws/config"), config).expect("config");

    // Not signed in yet: no cache entry.
    let out = home.run(&["jobs", "list", "--profile", "modern"], &[]);
    assert_says(&out, "run `aws sso login --profile modern`", "never signed in");

    write_sso_cache(&home, "corp", start_url, &token, "2099-01-01T00:00:00Z");
    write_sso_cache(&home, start_url, start_url, &token, "2099-01-01T00:00:00Z");
    assert_clean_success(&home.run(&["jobs", "list", "--profile", "modern"], &[]), "sso-session");
    assert_clean_success(&home.run(&["jobs", "list", "--profile", "legacy"], &[]), "legacy SSO");
    import_completes(&home, &["--profile", "modern"], &[], "an SSO profile");

    // Expired: the SDK sees it in the cache (and has no refresh token to renew it with), or, for a legacy profile,
    // which the SDK does not check, the portal refuses it; or revoked by the portal.
    write_sso_cache(&home, "corp", start_url, &token, "2020-01-01T00:00:00Z");
    let out = home.run(&["jobs", "list", "--profile", "modern"], &[]);
    assert_says(&out, "run `aws sso login --profile modern`", "an expired token");
    write_sso_cache(&home, start_url, start_url, "expired-at-the-portal", "2020-01-01T00:00:00Z");
    let out = home.run(&["jobs", "list", "--profile", "legacy"], &[]);
    assert_says(&out, "run `aws sso login --profile legacy`", "an expired legacy token");
    write_sso_cache(&home, "corp", start_url, "revoked-token", "2099-01-01T00:00:00Z");
    let out = home.run(&["jobs", "list", "--profile", "modern"], &[]);
    assert_says(&out, "run `aws sso login --profile modern`", "a token the portal refuses");
}

/// A file of `mib` MiB of varied bytes (a multipart upload of 8-MiB parts), and its SHA-256.
fn big_file(dir: &Path, name: &str, mib: usize) -> (PathBuf, Vec<u8>) {
    use sha2::Digest;
    let mut bytes = vec![0u8; mib * 1024 * 1024];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ name.len() as u64;
    for chunk in bytes.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("file");
    (path, sha2::Sha256::digest(&bytes).to_vec())
}

/// The SHA-256 of an object in the served sandbox, read with its seeded keys.
fn object_digest(server: &Server, bucket: &str, key: &str) -> Vec<u8> {
    use sha2::Digest;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let clients = seeded_clients(server).await;
        let object = clients.s3.get_object().bucket(bucket).key(key).send().await.expect("object");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        sha2::Sha256::digest(&bytes).to_vec()
    })
}

/// Temporary credentials from the sandbox's STS (GetSessionToken with the seeded keys), as a person exports them.
fn session_credentials(server: &Server) -> (String, String, String) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let http = lakedrop_aws::connect::Network::default().http_client().expect("http");
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .http_client(http)
            .endpoint_url(&server.endpoint)
            .region(aws_sdk_sts::config::Region::new(server.region.clone()))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                &server.key,
                &server.secret,
                None,
                None,
                "seed",
            ))
            .build();
        let out = aws_sdk_sts::Client::from_conf(config).get_session_token().send().await.expect("session");
        let c = out.credentials().expect("credentials");
        (c.access_key_id().to_string(), c.secret_access_key().to_string(), c.session_token().to_string())
    })
}

fn upload_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("json; stderr: {}", stderr(out)))
}

// Credentials that live 20 seconds, and an upload held to take longer (five 8-MiB parts, one at a time, each
// held 5 s): a role the SDK can assume again is refreshed and the upload finishes; keys exported by hand stop it
// with words, and the next run, with new keys, resumes it. Either way the object is the file, byte for byte.
#[test]
fn credentials_that_expire_during_an_upload_are_refreshed_or_stop_it_to_resume() {
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &["--session-seconds", "20", "--faults", "hold-before:UploadPart=5000"]);
    create_roles(&server, &[("Analyst", trust("arn:aws:iam::000000000000:root", serde_json::Value::Null))]);
    let home = Home::new(
        &(keys_profile("base", &server, "") + &role_profile("analyst", &server, "Analyst", "base", "")),
    );
    fn upload<'a>(file: &'a Path, to: &'a str) -> Vec<&'a str> {
        vec!["upload", "--to", to, "--concurrency", "1", "--output", "json", file.to_str().expect("path")]
    }

    let (refreshed, digest) = big_file(home.path(), "refreshed.ndjson", 40);
    let out = home.run(
        &[&upload(&refreshed, "s3://lakedrop-input/expiry/")[..], &["--profile", "analyst"]].concat(),
        &[],
    );
    assert!(out.status.success(), "refreshing role: {}", stderr(&out));
    assert_eq!(upload_json(&out)["files"][0]["result"], "uploaded");
    assert_eq!(object_digest(&server, "lakedrop-input", "expiry/refreshed.ndjson"), digest);

    let (by_hand, digest) = big_file(home.path(), "by-hand.ndjson", 40);
    let exported = |creds: &(String, String, String)| {
        vec![
            ("AWS_ACCESS_KEY_ID", creds.0.clone()),
            ("AWS_SECRET_ACCESS_KEY", creds.1.clone()),
            ("AWS_SESSION_TOKEN", creds.2.clone()),
            ("AWS_REGION", server.region.clone()),
            ("AWS_ENDPOINT_URL", server.endpoint.clone()),
        ]
    };
    let first = exported(&session_credentials(&server));
    let env: Vec<(&str, &str)> = first.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = home.run(&upload(&by_hand, "s3://lakedrop-input/expiry/"), &env);
    assert_eq!(out.status.code(), Some(2), "expired keys: {}", stderr(&out));
    let json = upload_json(&out);
    assert_eq!(json["error"]["code"], "credentials", "{json}");
    let error = json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.contains("the credentials expired during") && error.contains("the upload resumes"),
        "{error}"
    );
    let again = exported(&session_credentials(&server));
    let env: Vec<(&str, &str)> = again.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = home.run(&upload(&by_hand, "s3://lakedrop-input/expiry/"), &env);
    assert!(out.status.success(), "new keys: {}", stderr(&out));
    let json = upload_json(&out);
    assert_eq!(json["files"][0]["result"], "resumed", "{json}");
    assert!(json["files"][0]["partsReused"].as_u64().unwrap_or(0) >= 1, "{json}");
    assert_eq!(object_digest(&server, "lakedrop-input", "expiry/by-hand.ndjson"), digest);
}

// HealthLake throttles its list and describe calls; a profile's `jobs list` and `import --wait` ride it out.
#[test]
fn throttled_list_and_describe_calls_are_retried() {
    let data = tempfile::tempdir().expect("data");
    let server = serve(data.path(), &["--faults", "healthlake:slowdown=0.4,seed=21"]);
    let home = Home::new(&keys_profile("analyst", &server, ""));
    for attempt in 0..3 {
        let out = home.run(&["jobs", "list", "--profile", "analyst"], &[]);
        assert_clean_success(&out, &format!("jobs list under throttling, run {attempt}"));
    }
    import_completes(&home, &["--profile", "analyst"], &[], "an import followed under throttling");
}
