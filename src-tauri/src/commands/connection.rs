use lakedrop_aws::catalog::{self, BucketChoice, DatastoreChoice, KeyChoice, ProfileChoice};
use lakedrop_core::destination::{ConnectionKind, Destination, ResolvedDestination};
use lakedrop_validate::Level;
use serde::Serialize;

use crate::{AppState, ErrorCode, IpcError};

/// The active destination (the sandbox until an AWS profile is chosen and its destination picked).
#[tauri::command]
#[specta::specta]
pub async fn connection(state: tauri::State<'_, AppState>) -> Result<ResolvedDestination, IpcError> {
    crate::session::chosen(&*state.session().await?)
}

/// Where the app is connected, and the destination if one is chosen.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    pub kind: ConnectionKind,
    pub label: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub destination: Option<ResolvedDestination>,
    /// The destination last chosen on this connection (in an earlier run, perhaps), to preselect when it is
    /// still among the choices.
    pub remembered: Option<Destination>,
    /// The validation level of the last import started.
    pub level: Option<Level>,
}

#[tauri::command]
#[specta::specta]
pub async fn connection_status(state: tauri::State<'_, AppState>) -> Result<ConnectionStatus, IpcError> {
    let s = state.session().await?;
    let (kind, label, region, endpoint) =
        (s.kind, s.label.clone(), s.clients.region.clone(), s.endpoint.clone());
    let mut settings = state.settings().load();
    let remembered = settings.destinations.remove(&s.key());
    let destination = s.chosen();
    Ok(ConnectionStatus { kind, label, region, endpoint, destination, remembered, level: settings.level })
}

/// The AWS profiles in the user's config (names, kinds and Regions; never credentials).
#[tauri::command]
#[specta::specta]
pub async fn profiles() -> Vec<ProfileChoice> {
    catalog::profiles().await
}

/// Connects to an AWS profile (and Region), or back to the sandbox when `profile` is null. A profile whose role
/// asks for an MFA code answers `mfa-required` until it is called again with the code.
#[tauri::command]
#[specta::specta]
pub async fn use_connection(
    state: tauri::State<'_, AppState>,
    profile: Option<String>,
    region: Option<String>,
    mfa_code: Option<String>,
) -> Result<ConnectionStatus, IpcError> {
    if let Some(profile) = &profile {
        super::bounds::profile(profile)?;
    }
    if let Some(region) = &region {
        super::bounds::region(region)?;
    }
    if let Some(code) = &mfa_code
        && !lakedrop_aws::connect::valid_mfa_code(code)
    {
        return Err(IpcError::new(ErrorCode::InvalidInput, "an MFA code is the six digits the device shows"));
    }
    state.switch(profile, region, mfa_code).await?;
    connection_status(state).await
}

#[tauri::command]
#[specta::specta]
pub async fn datastores(state: tauri::State<'_, AppState>) -> Result<Vec<DatastoreChoice>, IpcError> {
    Ok(catalog::datastores(&state.session().await?.clients).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn kms_keys(state: tauri::State<'_, AppState>) -> Result<Vec<KeyChoice>, IpcError> {
    Ok(catalog::kms_keys(&state.session().await?.clients).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn buckets(state: tauri::State<'_, AppState>) -> Result<Vec<BucketChoice>, IpcError> {
    Ok(catalog::buckets(&state.session().await?.clients).await?)
}

/// Sets the destination (resolving the key to its ARN) and remembers it for this connection, and the role for
/// the data store.
#[tauri::command]
#[specta::specta]
pub async fn set_destination(
    state: tauri::State<'_, AppState>,
    destination: Destination,
) -> Result<ResolvedDestination, IpcError> {
    use super::bounds::{id, name, text};
    let picked = destination.trimmed();
    let given = |what: &str, value: &Option<String>| {
        value.clone().ok_or_else(|| IpcError::new(ErrorCode::InvalidInput, format!("choose {what}")))
    };
    let datastore_id = given("a data store", &picked.datastore_id)?;
    id("the data store id", &datastore_id, 64)?;
    name("the KMS key", &given("a KMS key", &picked.kms_key_id)?, 2048)?;
    name("the input bucket", &given("an input bucket", &picked.input_bucket)?, 63)?;
    text("the output location", &given("an output location", &picked.output_uri)?, 1024)?;
    let role_arn = given("an IAM role", &picked.role_arn)?;
    name("the role ARN", &role_arn, 2048)?;
    let s = state.session().await?;
    let resolved = s.resolve(&picked).await?;
    s.choose(resolved.clone());
    let remembered = state.settings().update(|st| {
        st.roles.insert(datastore_id, role_arn);
        st.destinations.insert(s.key(), picked);
    });
    if let Err(e) = remembered {
        tracing::warn!(error = %e, "could not remember the destination");
    }
    Ok(resolved)
}

/// The IAM role last used with this data store, if any.
#[tauri::command]
#[specta::specta]
pub fn remembered_role(state: tauri::State<'_, AppState>, datastore_id: String) -> Option<String> {
    // An id no data store can have has no role remembered.
    super::bounds::id("the data store id", &datastore_id, 64).ok()?;
    state.settings().load().roles.get(&datastore_id).cloned()
}

/// What signing in to IAM Identity Center shows while the browser page is open.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SignInProgress {
    /// The browser was sent to the verification page, which should show this code.
    #[serde(rename_all = "camelCase")]
    Waiting { user_code: String, verification_uri: String },
}

/// Signs in to IAM Identity Center for an SSO profile as `aws sso login` does (the browser opens on AWS's page;
/// the token goes to the AWS CLI's cache), then connects with the profile. Cancellable with `cancel(opId)`.
#[tauri::command]
#[specta::specta]
pub async fn sso_sign_in(
    state: tauri::State<'_, AppState>,
    op_id: String,
    profile: String,
    region: Option<String>,
    on_progress: tauri::ipc::Channel<SignInProgress>,
) -> Result<ConnectionStatus, IpcError> {
    super::bounds::id("the operation id", &op_id, 64)?;
    super::bounds::profile(&profile)?;
    if let Some(region) = &region {
        super::bounds::region(region)?;
    }
    let browser = state.browser();
    let open = move |url: &str| match &browser {
        Some(open) if url.starts_with("https://") || url.starts_with("http://") => open(url),
        _ => tracing::warn!("no browser to open the sign-in page in"),
    };
    let started = |code: lakedrop_aws::connect::sso::DeviceCode| {
        let waiting =
            SignInProgress::Waiting { user_code: code.user_code, verification_uri: code.verification_uri };
        if let Err(e) = on_progress.send(waiting) {
            tracing::warn!(error = %e, "the window did not take the sign-in code");
        }
    };
    let cancel = state.begin(&op_id);
    let signed_in = lakedrop_aws::connect::sso::sign_in(&profile, &open, &started, &cancel).await;
    state.finish(&op_id);
    signed_in?;
    state.switch(Some(profile), region, None).await?;
    connection_status(state).await
}
