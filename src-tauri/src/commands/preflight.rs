use lakedrop_aws::preflight::{self, Check, Plan, PolicySource};
use lakedrop_core::policy::{pass_role_policy, permissions_policy, read_back_policy, trust_policy};
use serde::Serialize;

use crate::{AppState, ErrorCode, IpcError};

/// Checks the AWS setup for importing `fileCount` files into the chosen destination.
#[tauri::command]
#[specta::specta]
pub async fn preflight(state: tauri::State<'_, AppState>, file_count: u32) -> Result<Vec<Check>, IpcError> {
    let s = state.session().await?;
    let d = crate::session::chosen(&s)?;
    let plan = Plan {
        datastore_id: d.datastore_id,
        output_uri: d.output_uri,
        kms_key_id: d.kms_key_id,
        role_arn: d.role_arn,
        input_uri: None,
        batch_keys: Vec::new(),
        file_count: file_count as usize,
        policies: PolicySource::App,
    };
    Ok(preflight::run(&s.clients, &plan).await)
}

/// The IAM policies for the chosen destination, as pretty JSON ready to copy.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Policies {
    pub trust_policy: String,
    pub permissions_policy: String,
    pub pass_role_policy: String,
    /// What reading imported resources back (a look-up, "Verify a sample") needs.
    pub read_back_policy: String,
}

#[tauri::command]
#[specta::specta]
pub async fn policies(state: tauri::State<'_, AppState>) -> Result<Policies, IpcError> {
    let s = state.session().await?;
    let d = crate::session::chosen(&s)?;
    let target = preflight::policy_target(&s.clients, &d).await?;
    let pretty = |v: serde_json::Value| {
        serde_json::to_string_pretty(&v).map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))
    };
    Ok(Policies {
        trust_policy: pretty(trust_policy(&target))?,
        permissions_policy: pretty(permissions_policy(&target))?,
        pass_role_policy: pretty(pass_role_policy(&d.role_arn))?,
        read_back_policy: pretty(read_back_policy(&target))?,
    })
}
