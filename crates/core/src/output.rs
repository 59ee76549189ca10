//! Lines of HealthLake's `SUCCESS/` and `FAILURE/` output files.
//!
//! Documented shape: `{"lineId": 3, "UpdateResourceResponse": {"jsonBlob": <OperationOutcome>, "statusCode": 400}}`;
//! real files also carry `resourceType` and `resourceId` (observed by third parties). Whether `lineId` counts from
//! 0 or 1 is undocumented: the sandbox writes 1-based ids and readers must decide from the evidence.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputLine {
    #[serde(rename = "lineId")]
    pub line_id: u64,
    #[serde(rename = "resourceType", default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(rename = "resourceId", default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(rename = "UpdateResourceResponse", default, skip_serializing_if = "Option::is_none")]
    pub update_resource_response: Option<UpdateResourceResponse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateResourceResponse {
    #[serde(rename = "jsonBlob")]
    pub json_blob: Value,
    #[serde(rename = "statusCode")]
    pub status_code: u16,
}

/// An OperationOutcome with one issue, as HealthLake puts in FAILURE lines.
pub fn operation_outcome(severity: &str, code: &str, diagnostics: &str, location: Option<&str>) -> Value {
    let mut issue = json!({"severity": severity, "code": code, "diagnostics": diagnostics});
    if let Some(location) = location {
        issue["location"] = json!([location]);
    }
    json!({"resourceType": "OperationOutcome", "issue": [issue]})
}

impl OutputLine {
    /// The diagnostics of every issue in the OperationOutcome, in order.
    pub fn diagnostics(&self) -> Vec<&str> {
        self.update_resource_response
            .as_ref()
            .and_then(|r| r.json_blob.get("issue"))
            .and_then(Value::as_array)
            .map(|issues| {
                issues.iter().filter_map(|i| i.get("diagnostics").and_then(Value::as_str)).collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_line_round_trips_in_healthlake_shape() {
        let line = OutputLine {
            line_id: 9,
            resource_type: Some("Patient".into()),
            resource_id: None,
            update_resource_response: Some(UpdateResourceResponse {
                json_blob: operation_outcome(
                    "error",
                    "processing",
                    "Missing required id field in resource json",
                    None,
                ),
                status_code: 400,
            }),
        };
        let text = serde_json::to_string(&line).expect("serializes");
        assert!(
            text.starts_with(r#"{"lineId":9,"resourceType":"Patient","UpdateResourceResponse":{"jsonBlob":"#)
        );
        let back: OutputLine = serde_json::from_str(&text).expect("parses");
        assert_eq!(back.diagnostics(), vec!["Missing required id field in resource json"]);
    }
}
