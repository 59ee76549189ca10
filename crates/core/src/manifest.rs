//! HealthLake's import manifest (`Manifest.json`, documented as `manifest.json`), read tolerantly: unknown fields
//! are ignored and missing ones default, because its shape is only partly documented.

use serde::{Deserialize, Serialize};

/// The two names the manifest is known under: the real service writes `Manifest.json` (observed), the docs say
/// `manifest.json`. Readers try both, in this order.
pub const MANIFEST_NAMES: [&str; 2] = ["Manifest.json", "manifest.json"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Manifest {
    pub input_data_config: InputDataConfig,
    pub output_data_config: OutputDataConfig,
    pub success_output: SuccessOutput,
    pub failure_output: FailureOutput,
    pub number_of_scanned_files: u64,
    pub number_of_files_imported: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_files_read_with_success: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_files_read_with_customer_error: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_files_read_with_server_error: Option<u64>,
    #[serde(rename = "sizeOfScannedFilesInMB")]
    pub size_of_scanned_files_in_mb: f64,
    #[serde(rename = "sizeOfDataImportedSuccessfullyInMB")]
    pub size_of_data_imported_successfully_in_mb: f64,
    pub number_of_resources_scanned: u64,
    pub number_of_resources_imported_successfully: u64,
    pub number_of_resources_with_customer_error: u64,
    pub number_of_resources_with_server_error: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InputDataConfig {
    pub s3_uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutputDataConfig {
    pub s3_uri: Option<String>,
    #[serde(rename = "encryptionKeyID")]
    pub encryption_key_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SuccessOutput {
    pub success_output_s3_uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FailureOutput {
    pub failure_output_s3_uri: Option<String>,
}

impl Manifest {
    /// Parses a manifest; `Err` only when the bytes are not a JSON object at all.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn summary(&self) -> ManifestSummary {
        ManifestSummary {
            input_uri: self.input_data_config.s3_uri.clone(),
            output_uri: self.output_data_config.s3_uri.clone(),
            scanned_files: self.number_of_scanned_files,
            files_imported: self.number_of_files_imported,
            scanned_mb: self.size_of_scanned_files_in_mb,
            imported_mb: self.size_of_data_imported_successfully_in_mb,
            resources_scanned: self.number_of_resources_scanned,
            resources_imported: self.number_of_resources_imported_successfully,
            resources_with_customer_error: self.number_of_resources_with_customer_error,
            resources_with_server_error: self.number_of_resources_with_server_error,
        }
    }
}

/// The manifest's numbers, as the app and the CLI show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ManifestSummary {
    pub input_uri: Option<String>,
    pub output_uri: Option<String>,
    pub scanned_files: u64,
    pub files_imported: u64,
    pub scanned_mb: f64,
    pub imported_mb: f64,
    pub resources_scanned: u64,
    pub resources_imported: u64,
    pub resources_with_customer_error: u64,
    pub resources_with_server_error: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_example_and_tolerates_unknown_and_missing_fields() {
        let doc = br#"{"inputDataConfig":{"s3Uri":"s3://src/in/"},
          "outputDataConfig":{"s3Uri":"s3://log/ds-FHIR_IMPORT-j/","encryptionKeyID":"arn:aws:kms:us-west-2:1:key/k"},
          "successOutput":{"successOutputS3Uri":"s3://log/ds-FHIR_IMPORT-j/SUCCESS/"},
          "numberOfScannedFiles":1,"numberOfFilesImported":1,"sizeOfScannedFilesInMB":0.023627,
          "numberOfResourcesScanned":9,"numberOfResourcesImportedSuccessfully":4,
          "numberOfResourcesWithCustomerError":5,"someFutureField":{"x":1}}"#;
        let manifest = Manifest::parse(doc).expect("parses");
        let summary = manifest.summary();
        assert_eq!(summary.resources_scanned, 9);
        assert_eq!(summary.resources_imported, 4);
        assert_eq!(summary.resources_with_customer_error, 5);
        assert_eq!(summary.resources_with_server_error, 0, "missing counts default to zero");
        assert_eq!(manifest.failure_output.failure_output_s3_uri, None);
        assert_eq!(
            manifest.output_data_config.encryption_key_id.as_deref(),
            Some("arn:aws:kms:us-west-2:1:key/k")
        );
    }

    #[test]
    fn writes_the_field_names_healthlake_uses() {
        let json = serde_json::to_value(Manifest::default()).expect("serializes");
        for key in ["sizeOfScannedFilesInMB", "numberOfResourcesImportedSuccessfully", "inputDataConfig"] {
            assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
        assert!(json.get("numberOfFilesReadWithSuccess").is_none());
    }
}
