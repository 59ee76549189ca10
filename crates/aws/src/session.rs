//! A live connection, as the CLI and the app both hold it: the clients, what kind of place they talk to, its
//! label, the destination chosen there, and what the session keeps running (the embedded sandbox), stopped when
//! it closes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use lakedrop_core::destination::{ConnectionKind, Destination, ResolvedDestination};

use crate::{AwsError, Clients};

/// What closing a session runs: stopping what it kept running.
type Closer = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

pub struct Session {
    pub clients: Clients,
    pub kind: ConnectionKind,
    /// A short label: "Sandbox", the AWS profile's name, or the endpoint.
    pub label: String,
    /// A custom endpoint (the sandbox's, a profile's `endpoint_url`), or `None` for AWS's own.
    pub endpoint: Option<String>,
    chosen: Mutex<Option<ResolvedDestination>>,
    closer: Mutex<Option<Closer>>,
}

impl Session {
    pub fn new(clients: Clients, kind: ConnectionKind, label: impl Into<String>) -> Session {
        let endpoint = clients.endpoint.clone();
        Session {
            clients,
            kind,
            label: label.into(),
            endpoint,
            chosen: Mutex::new(None),
            closer: Mutex::new(None),
        }
    }

    /// Runs `close` when the session closes (the embedded sandbox's `stop`).
    pub fn on_close<F, Fut>(self, close: F) -> Session
    where
        F: FnOnce() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *self.closer.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Box::new(move || Box::pin(close())));
        self
    }

    /// Resolves a destination on this connection: what is given is checked (the data store described, the key
    /// resolved to its ARN), what is missing looked up or, on a sandbox endpoint, taken from its seed names.
    pub async fn resolve(&self, destination: &Destination) -> Result<ResolvedDestination, AwsError> {
        crate::destination::resolve(
            &self.clients,
            destination,
            self.kind,
            &self.label,
            self.endpoint.as_deref(),
        )
        .await
    }

    /// The data store a command is about: the one given, or the only ACTIVE one.
    pub async fn datastore_id(&self, given: Option<&str>) -> Result<String, AwsError> {
        match given {
            Some(id) => Ok(id.to_string()),
            None => Ok(crate::destination::only_active_datastore(&self.clients).await?.0),
        }
    }

    /// The destination chosen on this connection, if one is.
    pub fn chosen(&self) -> Option<ResolvedDestination> {
        self.chosen.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn choose(&self, destination: ResolvedDestination) {
        *self.chosen.lock().unwrap_or_else(PoisonError::into_inner) = Some(destination);
    }

    /// What this connection's remembered destination is kept under (`lakedrop_core::settings::connection_key`).
    pub fn key(&self) -> String {
        let profile = (self.kind == ConnectionKind::Aws).then_some(self.label.as_str());
        lakedrop_core::settings::connection_key(profile, &self.clients.region)
    }

    /// Stops what the session kept running; later calls do nothing.
    pub async fn close(&self) {
        let closer = self.closer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(close) = closer {
            close().await;
        }
    }
}
