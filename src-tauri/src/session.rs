//! The app's state: where imports go (the embedded sandbox unless an AWS profile is chosen), the local history,
//! and the cancellation tokens of running operations.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use lakedrop_aws::destination::{Choices, resolve};
use lakedrop_aws::{Clients, Target, connect};
use lakedrop_core::CancellationToken;
use lakedrop_core::connection::{Connection, ConnectionKind};
use lakedrop_core::state::State;
use lakedrop_sandbox::{Sandbox, SandboxConfig};
use tokio::sync::OnceCell;

use crate::{ErrorCode, IpcError};

/// A destination ready to use.
pub struct Session {
    pub clients: Clients,
    pub connection: Connection,
    pub history: State,
    /// Kept alive for as long as the session; the app's process end stops it.
    _sandbox: Option<Sandbox>,
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    initial_paths: Vec<String>,
    session: OnceCell<Session>,
    operations: Mutex<HashMap<String, CancellationToken>>,
}

impl AppState {
    pub fn new(data_dir: PathBuf, initial_paths: Vec<String>) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                data_dir,
                initial_paths,
                session: OnceCell::new(),
                operations: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn initial_paths(&self) -> &[String] {
        &self.inner.initial_paths
    }

    /// The active session, starting the embedded sandbox on first use.
    pub async fn session(&self) -> Result<&Session, IpcError> {
        self.inner.session.get_or_try_init(|| start_sandbox_session(self.inner.data_dir.clone())).await
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

    fn operations(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.inner.operations.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn start_sandbox_session(data_dir: PathBuf) -> Result<Session, IpcError> {
    std::fs::create_dir_all(&data_dir)
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
    let choices = Choices {
        datastore_id: Some(seed.datastore_id.clone()),
        kms_key: Some(seed.kms_key_alias.clone()),
        input_bucket: Some(seed.input_bucket.clone()),
        output_uri: Some(format!("s3://{}/lakedrop-output/", seed.output_bucket)),
        role_arn: Some(seed.role_arn.clone()),
    };
    let connection =
        resolve(&clients, choices, ConnectionKind::Sandbox, "Sandbox", Some(sandbox.endpoint())).await?;
    let history = State::open(&data_dir.join("state.db"))
        .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
    Ok(Session { clients, connection, history, _sandbox: Some(sandbox) })
}
