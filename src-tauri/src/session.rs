//! The app's state: the active connection (the embedded sandbox unless an AWS profile is chosen), the
//! destination picked there, the local history, remembered settings, and the cancellation tokens of running
//! operations. Switching connections replaces the session; the old one is closed (its sandbox stopped).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use lakedrop_aws::{Session, Target, connect};
use lakedrop_core::CancellationToken;
use lakedrop_core::destination::{ConnectionKind, Destination, ResolvedDestination};
use lakedrop_core::settings::SettingsFile;
use lakedrop_core::state::State;
use lakedrop_sandbox::{Sandbox, SandboxConfig};
use tokio::sync::{OnceCell, RwLock};

use crate::{ErrorCode, IpcError};

/// A finished job's failures with their sources opened for joining, kept while the app runs.
pub struct JobFailures {
    pub failures: Vec<lakedrop_core::results::Failure>,
    pub groups: Vec<lakedrop_core::results::Group>,
    pub unreadable: lakedrop_core::results::Unreadable,
    pub sources: lakedrop_aws::results::Sources,
}

/// The chosen destination, or an error that says what to choose.
pub fn chosen(session: &Session) -> Result<ResolvedDestination, IpcError> {
    session.chosen().ok_or_else(|| {
        IpcError::new(
            ErrorCode::InvalidInput,
            "choose a data store, KMS key, output location and IAM role for this connection first",
        )
    })
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    initial_paths: Vec<String>,
    session: RwLock<Option<Arc<Session>>>,
    history: OnceCell<Arc<State>>,
    operations: Mutex<HashMap<String, CancellationToken>>,
    /// Failures of finished jobs, by job id: a finished job's output never changes.
    failures: Mutex<HashMap<String, Arc<JobFailures>>>,
    /// Lines repaired by hand and kept (the person saved them), by job, then file and lineId: re-imported with
    /// that job's fixed lines. In memory only: they hold patient data.
    by_hand: Mutex<HashMap<String, ByHand>>,
    /// The change records, with values, of the retries this run started, by the new job's id: what "Save the
    /// change record" writes. In memory only; the local state keeps their paths without values.
    change_records: Mutex<HashMap<String, Arc<Vec<lakedrop_core::repair::ChangeRecord>>>>,
    /// The native save dialog, installed by the real app (tests have none).
    save_dialog: Mutex<Option<SaveDialog>>,
    /// The native open dialog (files, or a folder when `true`), installed by the real app.
    pick_dialog: Mutex<Option<PickDialog>>,
    /// The person's browser, installed by the real app (tests install their own).
    browser: Mutex<Option<Browser>>,
    /// Where the bundled sample is installed, when it is.
    sample_dir: Mutex<Option<PathBuf>>,
    /// The CRC32C of each file's bytes as the Files step last checked them: the import's one pass proves it
    /// uploads those very bytes.
    checked: Mutex<std::collections::BTreeMap<PathBuf, u32>>,
    /// What the person dropped, picked or named on the command line, canonicalized: the only places commands
    /// may read from. The webview can ask for any path; only these are honoured.
    picks: Mutex<Vec<PathBuf>>,
}

/// A job's lines repaired by hand, by file and lineId.
pub type ByHand = std::collections::BTreeMap<(String, u64), String>;

/// What an open dialog asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// NDJSON files to validate and import.
    Files,
    /// A folder of them.
    Folder,
    /// A repair plan (JSON).
    Plan,
}

/// Opens a web page in the person's browser (IAM Identity Center's sign-in page), installed by the real app.
pub type Browser = Arc<dyn Fn(&str) + Send + Sync>;

/// Asks which files, folder or plan to open; empty when cancelled.
pub type PickDialog = Arc<dyn Fn(Pick) -> Vec<PathBuf> + Send + Sync>;

/// Asks where to save a file with this default name (its extension says which kind of file); `None` when
/// cancelled.
pub type SaveDialog = Arc<dyn Fn(&str) -> Option<PathBuf> + Send + Sync>;

impl AppState {
    pub fn new(data_dir: PathBuf, initial_paths: Vec<String>) -> AppState {
        let initial_paths_for_picks: Vec<PathBuf> = initial_paths.iter().map(PathBuf::from).collect();
        AppState {
            inner: Arc::new(Inner {
                data_dir,
                initial_paths,
                session: RwLock::new(None),
                history: OnceCell::new(),
                operations: Mutex::new(HashMap::new()),
                failures: Mutex::new(HashMap::new()),
                by_hand: Mutex::new(HashMap::new()),
                change_records: Mutex::new(HashMap::new()),
                save_dialog: Mutex::new(None),
                pick_dialog: Mutex::new(None),
                browser: Mutex::new(None),
                sample_dir: Mutex::new(None),
                checked: Mutex::new(std::collections::BTreeMap::new()),
                picks: Mutex::new(Vec::new()),
            }),
        }
        .with_picks(&initial_paths_for_picks)
    }

    fn with_picks(self, paths: &[PathBuf]) -> AppState {
        self.allow_paths(paths);
        self
    }

    /// Records paths the person dropped or picked through the OS (never what the webview claims).
    /// Notes the bytes each file's check read (its CRC32C), replacing what an earlier check noted.
    pub fn note_checked(&self, files: &[lakedrop_validate::FileReport]) {
        let mut checked = self.inner.checked.lock().unwrap_or_else(PoisonError::into_inner);
        for file in files {
            if let Some(crc) = file.crc32c {
                checked.insert(PathBuf::from(&file.path), crc);
            }
        }
    }

    /// What the Files step's checks read of these files, for the import to prove against.
    pub fn checked_of(&self, paths: &[PathBuf]) -> std::collections::BTreeMap<PathBuf, u32> {
        let checked = self.inner.checked.lock().unwrap_or_else(PoisonError::into_inner);
        let files = lakedrop_core::files::expand_paths(paths).unwrap_or_default();
        files.into_iter().filter_map(|p| checked.get(&p).map(|&crc| (p, crc))).collect()
    }

    pub fn allow_paths(&self, paths: &[PathBuf]) {
        let mut picks = self.inner.picks.lock().unwrap_or_else(PoisonError::into_inner);
        for path in paths {
            if let Ok(path) = std::fs::canonicalize(path)
                && !picks.contains(&path)
            {
                picks.push(path);
            }
        }
    }

    /// The canonical form of `path` if it is, or lies under, something the person dropped or picked; otherwise
    /// an `invalid-input` error, so a compromised webview cannot read other files.
    pub fn checked_path(&self, path: &str) -> Result<PathBuf, IpcError> {
        let refused = || {
            IpcError::new(
                ErrorCode::InvalidInput,
                format!(
                    "{path} was not dropped or picked in this window; drop it or choose it with the picker"
                ),
            )
        };
        let canonical = std::fs::canonicalize(path).map_err(|_| refused())?;
        let picks = self.inner.picks.lock().unwrap_or_else(PoisonError::into_inner);
        if picks.iter().any(|pick| canonical.starts_with(pick)) { Ok(canonical) } else { Err(refused()) }
    }

    pub fn set_sample_dir(&self, dir: PathBuf) {
        *self.inner.sample_dir.lock().unwrap_or_else(PoisonError::into_inner) = Some(dir);
    }

    pub fn sample_dir(&self) -> Option<PathBuf> {
        self.inner.sample_dir.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_pick_dialog(&self, dialog: PickDialog) {
        *self.inner.pick_dialog.lock().unwrap_or_else(PoisonError::into_inner) = Some(dialog);
    }

    pub fn pick_dialog(&self) -> Option<PickDialog> {
        self.inner.pick_dialog.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn initial_paths(&self) -> &[String] {
        &self.inner.initial_paths
    }

    pub fn settings(&self) -> SettingsFile {
        SettingsFile::new(&self.inner.data_dir)
    }

    /// The active session, starting the embedded sandbox on first use.
    pub async fn session(&self) -> Result<Arc<Session>, IpcError> {
        if let Some(session) = self.inner.session.read().await.as_ref() {
            return Ok(session.clone());
        }
        let mut slot = self.inner.session.write().await;
        if let Some(session) = slot.as_ref() {
            return Ok(session.clone());
        }
        let session = Arc::new(self.first_session().await?);
        *slot = Some(session.clone());
        Ok(session)
    }

    /// The connection the app starts on: the AWS profile it was last connected to, if that profile is still
    /// in the AWS config, else the sandbox.
    async fn first_session(&self) -> Result<Session, IpcError> {
        let settings = self.settings().load();
        if let Some(profile) = settings.profile {
            let known = lakedrop_aws::catalog::profiles().await.iter().any(|p| p.name == profile);
            if known {
                match aws_session(&profile, settings.region, None).await {
                    Ok(session) => return Ok(session),
                    Err(e) => {
                        tracing::warn!(error = %e, "the last profile did not connect; starting on the sandbox")
                    }
                }
            } else {
                tracing::info!("the last profile is no longer in the AWS config; starting on the sandbox");
            }
        }
        sandbox_session(&self.inner.data_dir).await
    }

    /// Replaces the session with the sandbox, or with an AWS profile (whose destination is then to be chosen).
    pub async fn switch(
        &self,
        profile: Option<String>,
        region: Option<String>,
        mfa_code: Option<String>,
    ) -> Result<Arc<Session>, IpcError> {
        let session = Arc::new(match &profile {
            None => sandbox_session(&self.inner.data_dir).await?,
            Some(name) => aws_session(name, region.clone(), mfa_code).await?,
        });
        let old = self.inner.session.write().await.replace(session.clone());
        // Another connection's jobs are other jobs.
        self.inner.failures.lock().unwrap_or_else(PoisonError::into_inner).clear();
        if let Some(old) = old {
            old.close().await;
        }
        let remembered = self.settings().update(|s| {
            s.profile = profile;
            s.region = region;
        });
        if let Err(e) = remembered {
            tracing::warn!(error = %e, "could not remember the connection");
        }
        Ok(session)
    }

    /// The local history (batches and their jobs), opened once.
    pub async fn history(&self) -> Result<Arc<State>, IpcError> {
        self.inner
            .history
            .get_or_try_init(|| async {
                std::fs::create_dir_all(&self.inner.data_dir).map_err(|e| {
                    IpcError::new(
                        ErrorCode::Io,
                        format!("cannot create {}: {e}", self.inner.data_dir.display()),
                    )
                })?;
                State::open(&self.inner.data_dir.join("state.db"))
                    .map(Arc::new)
                    .map_err(|e| IpcError::new(ErrorCode::LocalState, e.to_string()))
            })
            .await
            .cloned()
    }

    /// Registers a cancellable operation under the UI's id; the token is dropped by [`AppState::finish`].
    pub fn begin(&self, op_id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.operations().insert(op_id.to_string(), token.clone());
        token
    }

    pub fn finish(&self, op_id: &str) {
        self.operations().remove(op_id);
    }

    /// Cancels the operation; unknown ids (already finished) are fine.
    pub fn cancel(&self, op_id: &str) {
        if let Some(token) = self.operations().get(op_id) {
            token.cancel();
        }
    }

    pub fn set_save_dialog(&self, dialog: SaveDialog) {
        *self.inner.save_dialog.lock().unwrap_or_else(PoisonError::into_inner) = Some(dialog);
    }

    pub fn set_browser(&self, browser: Browser) {
        *self.inner.browser.lock().unwrap_or_else(PoisonError::into_inner) = Some(browser);
    }

    pub fn browser(&self) -> Option<Browser> {
        self.inner.browser.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn save_dialog(&self) -> Option<SaveDialog> {
        self.inner.save_dialog.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn cached_failures(&self, job_id: &str) -> Option<Arc<JobFailures>> {
        self.inner.failures.lock().unwrap_or_else(PoisonError::into_inner).get(job_id).cloned()
    }

    pub fn cache_failures(&self, job_id: &str, failures: Arc<JobFailures>) {
        self.inner
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(job_id.to_string(), failures);
    }

    /// A job's lines repaired by hand and kept.
    pub fn by_hand(&self, job_id: &str) -> ByHand {
        self.inner
            .by_hand
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(job_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Keeps a line repaired by hand (`Some`), or forgets it (`None`); returns how many the job now has.
    pub fn set_by_hand(&self, job_id: &str, file: &str, line_id: u64, line: Option<String>) -> usize {
        let mut all = self.inner.by_hand.lock().unwrap_or_else(PoisonError::into_inner);
        let lines = all.entry(job_id.to_string()).or_default();
        let key = (file.to_string(), line_id);
        match line {
            Some(line) => lines.insert(key, line),
            None => lines.remove(&key),
        };
        lines.len()
    }

    /// Forgets a job's repairs by hand (once they went into a retry).
    pub fn clear_by_hand(&self, job_id: &str) {
        self.inner.by_hand.lock().unwrap_or_else(PoisonError::into_inner).remove(job_id);
    }

    pub fn keep_change_record(&self, job_id: &str, records: Vec<lakedrop_core::repair::ChangeRecord>) {
        self.inner
            .change_records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(job_id.to_string(), Arc::new(records));
    }

    /// The change record with values of a retry this run started.
    pub fn change_record(&self, job_id: &str) -> Option<Arc<Vec<lakedrop_core::repair::ChangeRecord>>> {
        self.inner.change_records.lock().unwrap_or_else(PoisonError::into_inner).get(job_id).cloned()
    }

    fn operations(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.inner.operations.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn sandbox_session(data_dir: &std::path::Path) -> Result<Session, IpcError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| IpcError::new(ErrorCode::Io, format!("cannot create {}: {e}", data_dir.display())))?;
    let sandbox = Sandbox::start(SandboxConfig::new(data_dir.join("sandbox")))
        .await
        .map_err(|e| IpcError::new(ErrorCode::Sandbox, format!("the sandbox did not start: {e}")))?;
    let seed = sandbox.seed().clone();
    let target = Target::Endpoint {
        url: sandbox.endpoint().to_string(),
        region: seed.region.clone(),
        access_key_id: seed.access_key_id.clone(),
        secret_access_key: seed.secret_access_key.clone(),
    };
    let clients = connect(&target).await?;
    let seeded = Destination {
        datastore_id: Some(seed.datastore_id.clone()),
        kms_key_id: Some(seed.kms_key_alias.clone()),
        input_bucket: Some(seed.input_bucket.clone()),
        output_uri: Some(format!("s3://{}/lakedrop-output/", seed.output_bucket)),
        role_arn: Some(seed.role_arn.clone()),
    };
    let session = Session::new(clients, ConnectionKind::Sandbox, "Sandbox");
    let destination = match session.resolve(&seeded).await {
        Ok(destination) => destination,
        Err(e) => {
            sandbox.stop().await;
            return Err(e.into());
        }
    };
    session.choose(destination);
    Ok(session.on_close(move || sandbox.stop()))
}

async fn aws_session(
    profile: &str,
    region: Option<String>,
    mfa_code: Option<String>,
) -> Result<Session, IpcError> {
    let clients = connect(&Target::Aws { profile: Some(profile.to_string()), region, mfa_code }).await?;
    // A profile's `endpoint_url` (a sandbox, a stand-in) lets the destination take the sandbox's defaults.
    Ok(Session::new(clients, ConnectionKind::Aws, profile))
}
