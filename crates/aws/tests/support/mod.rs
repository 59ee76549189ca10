//! What every test of this crate starts from: a sandbox in a fresh directory and the SDK clients pointed at it.

use lakedrop_aws::{Clients, Target, connect};
use lakedrop_sandbox::{Pacing, Sandbox, SandboxConfig};

/// The clients' target for a running sandbox, with its own credentials.
pub fn target(sandbox: &Sandbox) -> Target {
    let seed = sandbox.seed();
    Target::Endpoint {
        url: sandbox.endpoint().into(),
        region: seed.region.clone(),
        access_key_id: seed.access_key_id.clone(),
        secret_access_key: seed.secret_access_key.clone(),
    }
}

/// A sandbox in `dir/sandbox` paced as given, and clients for it.
pub async fn start(dir: &tempfile::TempDir, pacing: Pacing) -> (Sandbox, Clients) {
    let mut config = SandboxConfig::new(dir.path().join("sandbox"));
    config.pacing = pacing;
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let clients = connect(&target(&sandbox)).await.expect("clients");
    (sandbox, clients)
}
