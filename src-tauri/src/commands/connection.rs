use lakedrop_aws::catalog::{self, BucketChoice, DatastoreChoice, KeyChoice, ProfileChoice};
use lakedrop_aws::destination::{Choices, resolve};
use lakedrop_core::connection::{Connection, ConnectionKind};
use lakedrop_core::settings::RememberedDestination;
use lakedrop_validate::Level;
use serde::{Deserialize, Serialize};

use crate::{AppState, ErrorCode, IpcError};

/// The active destination (the sandbox until an AWS profile is chosen and its destination picked).
#[tauri::command]
#[specta::specta]
pub async fn connection(state: tauri::State<'_, AppState>) -> Result<Connection, IpcError> {
    state.session().await?.destination()
}

/// Where the app is connected, and the destination if one is chosen.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    pub kind: ConnectionKind,
    pub label: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub destination: Option<Connection>,
    /// The destination last chosen on this connection (in an earlier run, perhaps), to preselect when it is
    /// still among the choices.
    pub remembered: Option<RememberedDestination>,
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
    let destination = s.destination().ok();
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
    if let Some(code) = &mfa_code {
        if !lakedrop_aws::connect::valid_mfa_code(code) {
            return Err(IpcError::new(
                ErrorCode::InvalidInput,
                "an MFA code is the six digits the device shows",
            ));
        }
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

/// What the analyst picked for this connection.
#[derive(Debug, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DestinationChoices {
    pub datastore_id: String,
    pub kms_key_id: String,
    pub input_bucket: String,
    pub output_uri: String,
    pub role_arn: String,
}

impl From<DestinationChoices> for RememberedDestination {
    fn from(c: DestinationChoices) -> RememberedDestination {
        RememberedDestination {
            datastore_id: c.datastore_id,
            kms_key_id: c.kms_key_id,
            input_bucket: c.input_bucket,
            output_uri: c.output_uri,
            role_arn: c.role_arn,
        }
    }
}

/// Sets the destination (resolving the key to its ARN) and remembers it for this connection, and the role for
/// the data store.
#[tauri::command]
#[specta::specta]
pub async fn set_destination(
    state: tauri::State<'_, AppState>,
    choices: DestinationChoices,
) -> Result<Connection, IpcError> {
    use super::bounds::{id, name, text};
    id("the data store id", &choices.datastore_id, 64)?;
    name("the KMS key", &choices.kms_key_id, 2048)?;
    name("the input bucket", &choices.input_bucket, 63)?;
    text("the output location", &choices.output_uri, 1024)?;
    name("the role ARN", &choices.role_arn, 2048)?;
    let s = state.session().await?;
    let picked = Choices {
        datastore_id: Some(choices.datastore_id.clone()),
        kms_key: Some(choices.kms_key_id.clone()),
        input_bucket: Some(choices.input_bucket.clone()),
        output_uri: Some(choices.output_uri.clone()),
        role_arn: Some(choices.role_arn.clone()),
    };
    let connection = resolve(&s.clients, picked, s.kind, &s.label, s.endpoint.as_deref()).await?;
    s.set_destination(connection.clone());
    let remembered = state.settings().update(|st| {
        st.roles.insert(choices.datastore_id.clone(), choices.role_arn.clone());
        st.destinations.insert(s.key(), choices.into());
    });
    if let Err(e) = remembered {
        tracing::warn!(error = %e, "could not remember the destination");
    }
    Ok(connection)
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
