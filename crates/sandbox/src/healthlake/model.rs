//! Request validation driven by HealthLake's own service model (botocore's `service-2.json`, shipped in
//! `model/`): required members, lengths, patterns, enums and ranges are checked exactly as the model states,
//! and reported in AWS's wording ("N validation errors detected: Value 'x' at 'jobName' failed to satisfy
//! constraint: ...").

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::protocol::ApiError;

const MODEL_JSON: &str = include_str!("../../model/healthlake-2017-07-01.service-2.json");

struct Model {
    doc: Value,
    patterns: std::sync::Mutex<HashMap<String, Option<Regex>>>,
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model {
        // The model is compiled in and checked by a test; a parse failure here is a build defect.
        doc: serde_json::from_str(MODEL_JSON).unwrap_or(Value::Null),
        patterns: std::sync::Mutex::new(HashMap::new()),
    })
}

/// Whether the model defines this operation.
pub fn has_operation(operation: &str) -> bool {
    model().doc["operations"].get(operation).is_some()
}

/// Checks a request body against the operation's input shape.
pub fn validate_input(operation: &str, input: &Value) -> Result<(), ApiError> {
    let m = model();
    let Some(shape) = m.doc["operations"][operation]["input"]["shape"].as_str() else { return Ok(()) };
    let mut errors = Vec::new();
    check(m, shape, input, "", &mut errors)?;
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    let noun = if n == 1 { "error" } else { "errors" };
    Err(ApiError::validation(format!("{n} validation {noun} detected: {}", errors.join("; "))))
}

/// Checks a response against the operation's output shape: the sandbox must answer exactly as the model says
/// (required members present, types, lengths, patterns, enums), because SDKs silently fill what is missing.
pub fn validate_output(operation: &str, output: &Value) -> Result<(), String> {
    let m = model();
    let Some(shape) = m.doc["operations"][operation]["output"]["shape"].as_str() else { return Ok(()) };
    let mut errors = Vec::new();
    check(m, shape, output, "", &mut errors).map_err(|e| e.message)?;
    if errors.is_empty() { Ok(()) } else { Err(format!("{operation} response: {}", errors.join("; "))) }
}

fn member_path(parent: &str, member: &str) -> String {
    let mut chars = member.chars();
    let lower: String = chars.next().map(|c| c.to_ascii_lowercase()).into_iter().chain(chars).collect();
    if parent.is_empty() { lower } else { format!("{parent}.{lower}") }
}

fn serialization(message: String) -> ApiError {
    ApiError::new("SerializationException", 400, message)
}

fn check(
    m: &Model,
    shape_name: &str,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
) -> Result<(), ApiError> {
    let shape = &m.doc["shapes"][shape_name];
    match shape["type"].as_str().unwrap_or("") {
        "structure" => {
            let Value::Object(object) = value else {
                return Err(serialization(format!("Expected an object at '{path}'")));
            };
            for required in shape["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if object.get(required).is_none_or(Value::is_null) {
                    errors.push(format!(
                        "Value null at '{}' failed to satisfy constraint: Member must not be null",
                        member_path(path, required)
                    ));
                }
            }
            let members = shape["members"].as_object();
            if shape["union"].as_bool() == Some(true) && object.len() != 1 {
                errors.push(format!(
                    "Value at '{path}' failed to satisfy constraint: Member must set exactly one union member"
                ));
            }
            for (name, child) in object {
                if child.is_null() {
                    continue;
                }
                if let Some(member_shape) =
                    members.and_then(|ms| ms.get(name)).and_then(|ms| ms["shape"].as_str())
                {
                    check(m, member_shape, child, &member_path(path, name), errors)?;
                }
            }
        }
        "list" => {
            let Value::Array(items) = value else {
                return Err(serialization(format!("Expected a list at '{path}'")));
            };
            check_length(shape, items.len(), value, path, errors);
            if let Some(member) = shape["member"]["shape"].as_str() {
                for (i, item) in items.iter().enumerate() {
                    check(m, member, item, &format!("{path}.{}", i + 1), errors)?;
                }
            }
        }
        "string" => {
            let Value::String(s) = value else {
                return Err(serialization(format!("Expected a string at '{path}'")));
            };
            check_length(shape, s.chars().count(), value, path, errors);
            if let Some(values) = shape["enum"].as_array()
                && !values.iter().any(|v| v.as_str() == Some(s))
            {
                let list: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                errors.push(format!(
                    "Value '{s}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    list.join(", ")
                ));
            }
            if let Some(pattern) = shape["pattern"].as_str()
                && !pattern_matches(m, pattern, s)
            {
                errors.push(format!(
                    "Value '{s}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
                ));
            }
        }
        "integer" | "long" => {
            let Some(n) = value.as_i64() else {
                return Err(serialization(format!("Expected an integer at '{path}'")));
            };
            if let Some(min) = shape["min"].as_i64()
                && n < min
            {
                errors.push(format!("Value '{n}' at '{path}' failed to satisfy constraint: Member must have value greater than or equal to {min}"));
            }
            if let Some(max) = shape["max"].as_i64()
                && n > max
            {
                errors.push(format!("Value '{n}' at '{path}' failed to satisfy constraint: Member must have value less than or equal to {max}"));
            }
        }
        "boolean" if !value.is_boolean() => {
            return Err(serialization(format!("Expected a boolean at '{path}'")));
        }
        "timestamp" if !value.is_number() => {
            return Err(serialization(format!("Expected a timestamp (epoch seconds) at '{path}'")));
        }
        _ => {}
    }
    Ok(())
}

fn check_length(shape: &Value, len: usize, value: &Value, path: &str, errors: &mut Vec<String>) {
    let shown = value.as_str().map_or_else(|| value.to_string(), str::to_string);
    if let Some(min) = shape["min"].as_u64()
        && (len as u64) < min
    {
        errors.push(format!("Value '{shown}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {min}"));
    }
    if let Some(max) = shape["max"].as_u64()
        && (len as u64) > max
    {
        errors.push(format!("Value '{shown}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}"));
    }
}

/// Model patterns are Java regexes matched against the whole value (botocore's are unanchored, the Smithy
/// model's anchored: the same rule either way).
fn pattern_matches(m: &Model, pattern: &str, s: &str) -> bool {
    let mut cache = m.patterns.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let regex = cache
        .entry(pattern.to_string())
        .or_insert_with(|| {
            let body = pattern.trim_start_matches('^').trim_end_matches('$');
            Regex::new(&format!("^(?:{body})$")).ok()
        })
        .clone();
    drop(cache);
    // A pattern the regex engine cannot compile is not enforced rather than rejecting every request.
    regex.is_none_or(|r| r.is_match(s))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_model_loads_and_knows_the_import_operations() {
        assert!(model().doc.is_object());
        for op in ["StartFHIRImportJob", "DescribeFHIRImportJob", "ListFHIRImportJobs", "CreateFHIRDatastore"]
        {
            assert!(has_operation(op), "{op}");
        }
        assert!(!has_operation("CancelFHIRImportJob"));
    }

    #[test]
    fn reports_every_violation_in_aws_wording() {
        let err = validate_input(
            "StartFHIRImportJob",
            &json!({"InputDataConfig": {"S3Uri": "s3://input/x/"}, "DatastoreId": "ds",
                    "DataAccessRoleArn": "arn:aws:iam::role/no-account",
                    "JobOutputDataConfig": {"S3Configuration": {"S3Uri": "s3://output/x/"}}, "ValidationLevel": "lenient"}),
        )
        .expect_err("invalid");
        assert_eq!(err.type_name, "ValidationException");
        assert!(err.message.starts_with("3 validation errors detected: "), "{}", err.message);
        assert!(err.message.contains("at 'dataAccessRoleArn' failed to satisfy constraint: Member must satisfy regular expression pattern"));
        assert!(err.message.contains("Value null at 'jobOutputDataConfig.s3Configuration.kmsKeyId'"));
        assert!(
            err.message.contains("Member must satisfy enum value set: [strict, structure-only, minimal]")
        );
    }

    #[test]
    fn bucket_names_follow_the_model_pattern() {
        let err = validate_input("ListFHIRImportJobs", &json!({"DatastoreId": "ds"}));
        assert!(err.is_ok());
        let start = |uri: &str| {
            validate_input(
                "StartFHIRImportJob",
                &json!({"InputDataConfig": {"S3Uri": uri}, "DatastoreId": "ds",
                        "DataAccessRoleArn": "arn:aws:iam::000000000000:role/r",
                        "JobOutputDataConfig": {"S3Configuration": {"S3Uri": "s3://output/x/", "KmsKeyId": "alias/k"}}}),
            )
        };
        assert!(start("s3://input/x/").is_ok());
        let err = start("s3://in/x/").expect_err("two-letter bucket");
        assert!(err.message.contains("at 'inputDataConfig.s3Uri'"), "{}", err.message);
    }

    #[test]
    fn every_model_pattern_compiles() {
        let m = model();
        let shapes = m.doc["shapes"].as_object().expect("shapes");
        for (name, shape) in shapes {
            if let Some(pattern) = shape["pattern"].as_str() {
                let body = pattern.trim_start_matches('^').trim_end_matches('$');
                assert!(Regex::new(&format!("^(?:{body})$")).is_ok(), "{name}: {pattern}");
            }
        }
    }

    #[test]
    fn max_results_is_bounded_and_types_are_enforced() {
        let err = validate_input("ListFHIRImportJobs", &json!({"DatastoreId": "ds", "MaxResults": 501}))
            .expect_err("too big");
        assert!(err.message.contains("less than or equal to 500"));
        let err = validate_input("ListFHIRImportJobs", &json!({"DatastoreId": 5})).expect_err("wrong type");
        assert_eq!(err.type_name, "SerializationException");
        assert!(validate_input("ListFHIRImportJobs", &json!({"DatastoreId": "ds", "MaxResults": 1})).is_ok());
    }
}

#[cfg(test)]
mod output_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_response_missing_a_required_member_is_caught() {
        let ok = json!({"JobId": "0123456789abcdef0123456789abcdef", "JobStatus": "SUBMITTED", "DatastoreId": "ds"});
        assert!(validate_output("StartFHIRImportJob", &ok).is_ok());
        let missing = json!({"JobStatus": "SUBMITTED"});
        let err = validate_output("StartFHIRImportJob", &missing).expect_err("JobId is required");
        assert!(err.contains("'jobId'"), "{err}");
        let bad_enum = json!({"JobId": "j", "JobStatus": "DONE"});
        assert!(validate_output("StartFHIRImportJob", &bad_enum).is_err());
    }
}
