//! Where imports go. A [`Destination`] is what the analyst picks or types on a connection (data store, KMS key,
//! input bucket, output location, IAM role): the same type is remembered in the settings, sent by the app's
//! destination form, parsed from the CLI's flags and resolved by `lakedrop_aws::Session::resolve` into a
//! [`ResolvedDestination`], which every import uses.

use serde::{Deserialize, Serialize};

/// Where a session talks to: the sandbox (or another AWS-compatible stand-in) or an AWS account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionKind {
    Sandbox,
    Aws,
}

/// The destination as chosen: each part given, or left to be looked up (the only ACTIVE data store) or, on a
/// sandbox, taken from its seed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(rename_all = "camelCase", default)]
pub struct Destination {
    /// The HealthLake data store id (default: the only ACTIVE one).
    #[cfg_attr(feature = "clap", arg(long = "datastore"))]
    pub datastore_id: Option<String>,
    /// The KMS key for uploads and job output (id, ARN or alias/...).
    #[cfg_attr(feature = "clap", arg(long = "kms-key"))]
    pub kms_key_id: Option<String>,
    /// The bucket the files are uploaded to (each import gets its own prefix).
    #[cfg_attr(feature = "clap", arg(long))]
    pub input_bucket: Option<String>,
    /// Where HealthLake writes its output, s3://bucket/prefix/.
    #[cfg_attr(feature = "clap", arg(long))]
    pub output_uri: Option<String>,
    /// The IAM role HealthLake assumes to read the input and write the output.
    #[cfg_attr(feature = "clap", arg(long = "role"))]
    pub role_arn: Option<String>,
}

impl Destination {
    /// Each part as given, with blanks (an emptied field, an older settings file) counted as not given.
    pub fn trimmed(&self) -> Destination {
        let given =
            |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        Destination {
            datastore_id: given(&self.datastore_id),
            kms_key_id: given(&self.kms_key_id),
            input_bucket: given(&self.input_bucket),
            output_uri: given(&self.output_uri),
            role_arn: given(&self.role_arn),
        }
    }
}

/// The active destination, resolved on its connection (the key's ARN, the data store's name), as shown in the
/// app's header and used by every import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ResolvedDestination {
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
    /// The KMS key's ARN, for uploads and job output.
    pub kms_key_id: String,
    pub kms_key_alias: Option<String>,
    pub role_arn: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_are_not_choices() {
        let typed = Destination {
            datastore_id: Some("  ".into()),
            kms_key_id: Some(" alias/k ".into()),
            ..Destination::default()
        };
        let trimmed = typed.trimmed();
        assert_eq!(trimmed.datastore_id, None);
        assert_eq!(trimmed.kms_key_id.as_deref(), Some("alias/k"));
    }

    #[test]
    fn an_older_settings_entry_reads_as_a_destination() {
        let old =
            r#"{"datastoreId":"ds","kmsKeyId":"","inputBucket":"in","outputUri":"s3://o/p/","roleArn":"r"}"#;
        let read: Destination = serde_json::from_str(old).expect("reads");
        assert_eq!(read.trimmed().kms_key_id, None);
        assert_eq!(read.input_bucket.as_deref(), Some("in"));
    }
}
