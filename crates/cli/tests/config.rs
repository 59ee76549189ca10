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
    // The profile's Region is not the sandbox's: only the overrides reach its data store.
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
    assert_eq!(listed_in(&home.run(&list, &[])), "ap-south-2");
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
