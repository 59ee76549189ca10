//! The sandbox: a local, AWS-wire-compatible stand-in for S3, KMS and HealthLake, served on one loopback
//! endpoint so that `AWS_ENDPOINT_URL` works for all three. The app embeds it as its default destination, the
//! CLI serves it (`lakedrop sandbox serve`), and the tests run every AWS SDK call against it.
//!
//! It speaks the real wire protocols (S3 REST via `s3s`, AWS JSON 1.0 and 1.1, IAM's and STS's Query protocol,
//! the SSO portal's and SSO OIDC's REST JSON, FHIR REST for imported resources), runs import and export jobs,
//! checks SigV4 signatures on every request (the seeded key, or temporary credentials from STS and SSO, so
//! `~/.aws/config` profiles with role chains, MFA and SSO work against it), and keeps its state in a data
//! directory so it survives restarts (temporary credentials and SSO sessions excepted). It is deliberately not a
//! general AWS emulator: only what Lakedrop and its users' tools touch is implemented, and it never listens on
//! anything but loopback unless told to.

mod db;
pub mod faults;
mod fhir;
pub mod healthlake;
mod iam;
mod identity;
mod kms;
mod private;
mod protocol;
mod query;
pub mod s3;
mod seed;
mod server;
mod sigv4;
mod sso;
mod sts;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use faults::Faults;

pub use healthlake::Pacing;

/// The operations the sandbox implements, by service (botocore's service names: `healthlake`, `kms`, `s3`).
pub fn supported_operations() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("healthlake", healthlake::SUPPORTED_OPERATIONS),
        ("kms", kms::SUPPORTED_OPERATIONS),
        ("s3", s3::SUPPORTED_OPERATIONS),
    ]
}
pub use seed::Seed;

/// The account id the sandbox's ARNs use.
pub const ACCOUNT_ID: &str = "000000000000";

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where all state lives; created if missing.
    pub data_dir: PathBuf,
    /// The address to listen on; port 0 picks a free one. Loopback unless the caller insists.
    pub listen: SocketAddr,
    pub region: String,
    pub pacing: Pacing,
    /// Injected failures for tests (`Faults::parse("s3:5xx=0.1")`); none by default.
    pub faults: Faults,
    /// Ways other S3 implementations answer differently, reproduced on purpose so clients can be tested against
    /// them; none by default.
    pub quirks: Quirks,
    /// The longest temporary credentials (STS AssumeRole and GetSessionToken, SSO role credentials) may live, in
    /// seconds; `None` leaves only STS's own limits. Unlike STS, which refuses less than 900 seconds, the cap may
    /// be as short as a test needs (say 20 s, to watch a client refresh), since it bounds what was asked for
    /// rather than being asked for.
    pub session_seconds: Option<u64>,
}

/// Behaviours of other S3 implementations the sandbox can reproduce, each off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quirks {
    /// ListParts answers without each part's checksum (as moto 5.2.6 does), so a client cannot tell a part's
    /// bytes from the listing alone.
    pub list_parts_without_checksums: bool,
}

impl Quirks {
    /// Parses a quirk's name as `sandbox serve --quirk` takes it.
    pub fn enable(&mut self, name: &str) -> Result<(), String> {
        match name {
            "list-parts-without-checksums" => self.list_parts_without_checksums = true,
            other => {
                return Err(format!(
                    "unknown quirk '{other}': the sandbox knows list-parts-without-checksums"
                ));
            }
        }
        Ok(())
    }
}

impl SandboxConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> SandboxConfig {
        SandboxConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".into(),
            pacing: Pacing::default(),
            faults: Faults::default(),
            quirks: Quirks::default(),
            session_seconds: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The data directory could not be created or read.
    #[error("sandbox data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    /// The listening socket could not be bound (port in use?).
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    /// The state database could not be opened.
    #[error("sandbox database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The S3 store could not be opened.
    #[error("sandbox S3 store: {0}")]
    Store(String),
    /// Seeding the data store, key and buckets failed.
    #[error("sandbox seed: {0}")]
    Seed(String),
}

/// A running sandbox. Dropping it does not stop the server: call [`Sandbox::stop`].
pub struct Sandbox {
    endpoint: String,
    seed: Seed,
    sso: Arc<sso::Sso>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let dir = &config.data_dir;
        // Patient data lives here: only its owner may read it (see private.rs). Only what the sandbox wrote is
        // tightened (the store tightens its own folder), never anything else a user keeps in the directory.
        private::make_dir(dir)
            .and_then(|()| private::tighten_file(&dir.join(seed::SEED_FILE)))
            .map_err(|source| SandboxError::DataDir { path: dir.clone(), source })?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Bind { addr: config.listen, source })?;
        let addr =
            listener.local_addr().map_err(|source| SandboxError::Bind { addr: config.listen, source })?;
        // Listening on every interface (0.0.0.0 or ::) is not an address a client can use: the endpoint the
        // sandbox gives (and puts in DatastoreEndpoint) is this machine's loopback on the same port.
        let reachable = match addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
            }
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), addr.port())
            }
            _ => addr,
        };
        let endpoint = format!("http://{reachable}");

        let db_path = dir.join("sandbox.db");
        private::prepare_database(&db_path)
            .map_err(|source| SandboxError::DataDir { path: db_path.clone(), source })?;
        let db = Arc::new(db::Db::open(&db_path)?);
        let kms = Arc::new(kms::Kms::new(db.clone(), &config.region, ACCOUNT_ID));
        // The store seals SSE-KMS objects' data keys under their keys in the sandbox's KMS.
        let store = Arc::new(
            s3::ObjectStore::open(&dir.join("s3"))
                .map_err(|e| SandboxError::Store(e.to_string()))?
                .with_kms(kms.clone()),
        );
        let iam = Arc::new(iam::Iam::new(db.clone(), ACCOUNT_ID)?);
        let deps = healthlake::Dependencies {
            db: db.clone(),
            store: store.clone(),
            kms: kms.clone(),
            iam: iam.clone(),
        };
        let mut pacing = config.pacing.clone();
        if let Some(hold) = config.faults.hold("ImportBatch", faults::When::After) {
            pacing.batch_hold = hold;
        }
        let healthlake =
            Arc::new(healthlake::HealthLake::new(deps, &config.region, ACCOUNT_ID, &endpoint, pacing));
        let seed = seed::ensure(dir, &config.region, &store, &kms, &healthlake)?;
        seed::ensure_role(&iam, &seed)?;

        let shutdown = CancellationToken::new();
        let identities = Arc::new(identity::Identities::new(
            &seed.access_key_id,
            &seed.secret_access_key,
            ACCOUNT_ID,
            config.session_seconds.map(Duration::from_secs),
        ));
        let sso = Arc::new(sso::Sso::new(identities.clone(), &endpoint));
        let router = Arc::new(server::Router::new(
            store,
            kms,
            healthlake.clone(),
            iam,
            identities,
            sso.clone(),
            &config,
        ));
        let tasks = vec![
            tokio::spawn(server::serve(listener, router, shutdown.clone())),
            tokio::spawn(healthlake::run_jobs(healthlake, shutdown.clone())),
        ];
        tracing::info!(%endpoint, "sandbox listening");
        Ok(Sandbox { endpoint, seed, sso, shutdown, tasks })
    }

    /// The one URL that serves S3, KMS and HealthLake, e.g. `http://127.0.0.1:4599`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The seeded data store, key, buckets, role and credentials.
    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// The ARN the seeded credentials sign as (what `aws sts get-caller-identity` reports for them).
    pub fn seeded_user_arn(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT_ID}:user/{}", identity::SEEDED_USER)
    }

    /// An IAM Identity Center access token, valid at the SSO portal for `lifetime` from now, as if `aws sso login`
    /// had just finished: tests write it into an SSO token cache file instead of running the device flow.
    /// `Duration::ZERO` gives a token that is already expired.
    pub fn issue_sso_token(&self, lifetime: Duration) -> String {
        self.sso.issue_token(lifetime, SystemTime::now())
    }

    /// Stops serving and waits for the server and the job loop to end; a running job is left IN_PROGRESS and
    /// re-run at the next start.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
