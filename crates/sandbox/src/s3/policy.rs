//! Bucket policies: checked when put (the grammar S3 checks, `MalformedPolicy` otherwise), judged public or not
//! (GetBucketPolicyStatus, BlockPublicPolicy), and enforced: every signed request is the account's own, which an
//! Allow adds nothing to, so what a policy can change is an explicit Deny, evaluated as IAM does for the request's
//! action (`s3:GetObject`, ...), resource ARN, principal and condition keys.
//!
//! Condition operators: the String, Bool, Null and ArnLike families (with `IfExists`); an operator outside them
//! makes its statement not apply, and is refused when the policy is put. A key the request lacks makes a
//! condition false, except for the negated operators and `IfExists`, as IAM documents.

use lakedrop_core::policy::{policy_strings, wildcard_match as wildcard};
use serde_json::Value;

/// One request as a policy sees it.
pub struct RequestContext<'a> {
    /// `s3:GetObject`, ...
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: String,
    /// The caller's ARN and account.
    pub principal_arn: &'a str,
    pub account: &'a str,
    /// Condition keys present on the request (`aws:SecureTransport`, `s3:x-amz-server-side-encryption`, ...),
    /// names lower-case.
    pub keys: Vec<(&'static str, String)>,
}

/// Why a policy cannot be put: S3's `MalformedPolicy` message.
pub fn check(document: &str, bucket: &str) -> Result<Value, String> {
    let policy: Value =
        serde_json::from_str(document).map_err(|_| "Policies must be valid JSON".to_string())?;
    let statements = statements(&policy).ok_or("Missing required field Statement")?;
    for statement in statements {
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Err("Invalid effect".into()),
        }
        if statement.get("Principal").is_none() && statement.get("NotPrincipal").is_none() {
            return Err("Missing required field Principal".into());
        }
        if statement.get("Action").is_none() && statement.get("NotAction").is_none() {
            return Err("Missing required field Action".into());
        }
        for action in strings(statement.get("Action").or(statement.get("NotAction"))) {
            if action != "*" && !action.to_ascii_lowercase().starts_with("s3:") {
                return Err(format!("Policy has invalid action {action}"));
            }
        }
        let resources = strings(statement.get("Resource").or(statement.get("NotResource")));
        if resources.is_empty() {
            return Err("Missing required field Resource".into());
        }
        for resource in resources {
            let named = resource.strip_prefix("arn:aws:s3:::").map(|r| r.split('/').next().unwrap_or(""));
            if !named.is_some_and(|b| wildcard(b, bucket)) {
                return Err("Policy has invalid resource".into());
            }
        }
        if let Some(conditions) = statement.get("Condition") {
            let map = conditions.as_object().ok_or("Invalid Condition")?;
            if let Some(op) = map.keys().find(|op| operator(op).is_none()) {
                return Err(format!("Policy has an invalid condition operator: {op}"));
            }
        }
    }
    Ok(policy)
}

/// Whether the policy grants access to anyone (an Allow for `*` with no condition), as S3 judges "public".
pub fn is_public(policy: &Value) -> bool {
    statements(policy).into_iter().flatten().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && s.get("Condition").is_none()
            && s.get("Principal")
                .is_some_and(|p| p.as_str() == Some("*") || strings(p.get("AWS")).iter().any(|a| a == "*"))
    })
}

/// Whether an explicit Deny in the policy applies to the request.
pub fn denies(policy: &Value, request: &RequestContext<'_>) -> bool {
    statements(policy).into_iter().flatten().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Deny")
            && principal_matches(s, request)
            && listed(s, "Action", "NotAction", request.action, true)
            && listed(s, "Resource", "NotResource", &request.resource, false)
            && s.get("Condition").is_none_or(|c| conditions_hold(c, request))
    })
}

fn statements(policy: &Value) -> Option<Vec<&Value>> {
    match policy.get("Statement")? {
        Value::Array(list) => Some(list.iter().collect()),
        object @ Value::Object(_) => Some(vec![object]),
        _ => None,
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.map(policy_strings).unwrap_or_default()
}

fn listed(statement: &Value, field: &str, not_field: &str, value: &str, case_insensitive: bool) -> bool {
    let matches = |pattern: &String| {
        if case_insensitive {
            wildcard(&pattern.to_ascii_lowercase(), &value.to_ascii_lowercase())
        } else {
            wildcard(pattern, value)
        }
    };
    match statement.get(field) {
        Some(v) => strings(Some(v)).iter().any(matches),
        None => !strings(statement.get(not_field)).iter().any(matches),
    }
}

fn principal_matches(statement: &Value, request: &RequestContext<'_>) -> bool {
    let names = |p: &Value| -> bool {
        if p.as_str() == Some("*") {
            return true;
        }
        strings(p.get("AWS")).iter().any(|a| {
            a == "*"
                || a == request.account
                || a == &format!("arn:aws:iam::{}:root", request.account)
                || a == request.principal_arn
        })
    };
    match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(p), _) => names(p),
        (None, Some(p)) => !names(p),
        (None, None) => false,
    }
}

/// The family of a condition operator and whether it is negated; `None` for one not evaluated here.
fn operator(op: &str) -> Option<(&'static str, bool)> {
    let base = op.strip_suffix("IfExists").unwrap_or(op);
    Some(match base {
        "StringEquals" => ("string", false),
        "StringNotEquals" => ("string", true),
        "StringEqualsIgnoreCase" => ("string-i", false),
        "StringNotEqualsIgnoreCase" => ("string-i", true),
        "StringLike" => ("like", false),
        "StringNotLike" => ("like", true),
        "ArnEquals" | "ArnLike" => ("like", false),
        "ArnNotEquals" | "ArnNotLike" => ("like", true),
        "Bool" => ("bool", false),
        "Null" => ("null", false),
        _ => return None,
    })
}

fn conditions_hold(conditions: &Value, request: &RequestContext<'_>) -> bool {
    let Some(map) = conditions.as_object() else { return false };
    map.iter().all(|(op, tests)| {
        let Some((family, negated)) = operator(op) else { return false };
        let if_exists = op.ends_with("IfExists");
        tests.as_object().into_iter().flatten().all(|(key, expected)| {
            let key = key.to_ascii_lowercase();
            let actual = request.keys.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
            let expected = strings(Some(expected));
            if family == "null" {
                // "Null": true means the key must be absent.
                let want_absent = expected.iter().any(|e| e == "true");
                return actual.is_none() == want_absent;
            }
            let Some(actual) = actual else { return negated || if_exists };
            let hit = expected.iter().any(|e| match family {
                "string" => e == actual,
                "string-i" => e.eq_ignore_ascii_case(actual),
                "like" => wildcard(e, actual),
                _ => e.eq_ignore_ascii_case(actual),
            });
            hit != negated
        })
    })
}

/// The IAM action of an S3 operation, as bucket policies name it.
pub fn action_of(operation: &str) -> String {
    let action = match operation {
        "HeadObject" => "GetObject",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "CreateMultipartUpload"
        | "UploadPart"
        | "CompleteMultipartUpload"
        | "CopyObject"
        | "UploadPartCopy" => "PutObject",
        "ListParts" => "ListMultipartUploadParts",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "DeleteObjects" => "DeleteObject",
        "GetBucketEncryption" => "GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "PutEncryptionConfiguration",
        "GetPublicAccessBlock" => "GetBucketPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "PutBucketPublicAccessBlock",
        "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "PutLifecycleConfiguration",
        "GetBucketCors" => "GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "DeleteBucketTagging" => "PutBucketTagging",
        "DeleteBucketOwnershipControls" => "PutBucketOwnershipControls",
        "GetObjectAttributes" => "GetObjectAttributes",
        other => other,
    };
    format!("s3:{action}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(action: &'static str, resource: &str) -> RequestContext<'static> {
        RequestContext {
            action,
            resource: resource.into(),
            principal_arn: "arn:aws:iam::000000000000:root",
            account: "000000000000",
            keys: vec![("aws:securetransport", "false".into())],
        }
    }

    #[test]
    fn a_deny_applies_to_its_action_resource_and_conditions_only() {
        let policy = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:Get*",
            "Resource": "arn:aws:s3:::b/secret/*"}]});
        assert!(denies(&policy, &request("s3:GetObject", "arn:aws:s3:::b/secret/x")));
        assert!(!denies(&policy, &request("s3:PutObject", "arn:aws:s3:::b/secret/x")));
        assert!(!denies(&policy, &request("s3:GetObject", "arn:aws:s3:::b/public/x")));
        let tls = json!({"Statement": {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}});
        assert!(
            denies(&tls, &request("s3:ListBucket", "arn:aws:s3:::b")),
            "plain HTTP is not secure transport"
        );
        let sse = json!({"Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}});
        assert!(
            denies(&sse, &request("s3:PutObject", "arn:aws:s3:::b/k")),
            "a missing key makes a negated test true"
        );
    }

    #[test]
    fn malformed_and_public_policies_are_told_apart() {
        assert!(check("{not json", "b").is_err());
        assert!(check(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#, "b").is_err());
        let public = check(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#, "b").expect("valid");
        assert!(is_public(&public));
        let private = check(r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#, "b").expect("valid");
        assert!(!is_public(&private));
    }
}
