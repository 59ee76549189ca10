//! Where imports go: the sandbox or an AWS account, and the resources picked there.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionKind {
    Sandbox,
    Aws,
}

/// The active destination, as shown in the app's header and used by every import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub kind: ConnectionKind,
    /// A short label, e.g. "Sandbox" or the AWS profile name.
    pub label: String,
    pub region: String,
    /// A custom endpoint (the sandbox's), or `None` for AWS's own.
    pub endpoint: Option<String>,
    pub datastore_id: String,
    pub datastore_name: String,
    pub input_bucket: String,
    pub output_bucket: String,
    /// Where HealthLake writes job output: `s3://<output_bucket>/<prefix>/`.
    pub output_uri: String,
    /// The KMS key for uploads and job output (id, ARN or alias).
    pub kms_key_id: String,
    pub kms_key_alias: Option<String>,
    pub role_arn: String,
}
