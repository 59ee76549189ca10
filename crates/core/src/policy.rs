//! The IAM policies HealthLake's import needs, filled in for one data store, bucket pair and key, and a check of
//! a role's trust policy against them. Pure functions: the AWS side reads roles, this side judges them.
//!
//! From HealthLake's setup guide: the role must trust `healthlake.amazonaws.com`, conditioned on
//! `aws:SourceAccount` and `aws:SourceArn`; it needs to list and read the input bucket, check the output bucket's
//! Block Public Access and encryption, write the output, and use the KMS key. `kms:Decrypt` is added because
//! Lakedrop uploads input with SSE-KMS, which HealthLake must decrypt to read.

use serde_json::{Value, json};

/// What the policies are about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTarget {
    pub partition: String,
    pub account_id: String,
    pub region: String,
    pub datastore_id: String,
    pub input_bucket: String,
    pub output_bucket: String,
    pub kms_key_arn: String,
}

impl PolicyTarget {
    pub fn datastore_arn(&self) -> String {
        format!(
            "arn:{}:healthlake:{}:{}:datastore/fhir/{}",
            self.partition, self.region, self.account_id, self.datastore_id
        )
    }
}

/// The role's trust policy: HealthLake, for this account and data store only.
pub fn trust_policy(t: &PolicyTarget) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": ["healthlake.amazonaws.com"]},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": t.account_id},
                "ArnEquals": {"aws:SourceArn": t.datastore_arn()}
            }
        }]
    })
}

/// The role's permissions policy.
pub fn permissions_policy(t: &PolicyTarget) -> Value {
    let bucket = |b: &str| format!("arn:{}:s3:::{b}", t.partition);
    let mut buckets = vec![bucket(&t.input_bucket)];
    if t.output_bucket != t.input_bucket {
        buckets.push(bucket(&t.output_bucket));
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListAndCheckBuckets", "Effect": "Allow",
             "Action": ["s3:ListBucket", "s3:GetBucketPublicAccessBlock", "s3:GetEncryptionConfiguration"],
             "Resource": buckets},
            {"Sid": "ReadInput", "Effect": "Allow", "Action": ["s3:GetObject"],
             "Resource": [format!("{}/*", bucket(&t.input_bucket))]},
            {"Sid": "WriteOutput", "Effect": "Allow", "Action": ["s3:PutObject"],
             "Resource": [format!("{}/*", bucket(&t.output_bucket))]},
            {"Sid": "UseKey", "Effect": "Allow",
             "Action": ["kms:DescribeKey", "kms:GenerateDataKey*", "kms:Decrypt"],
             "Resource": [t.kms_key_arn]}
        ]
    })
}

/// What the person checking an import needs to read resources back from the data store's FHIR API (a look-up,
/// `lakedrop fhir`, "Verify a sample"): HealthLake's read and search-by-GET actions on this data store only.
pub fn read_back_policy(t: &PolicyTarget) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReadImportedResources",
            "Effect": "Allow",
            "Action": READ_BACK_ACTIONS,
            "Resource": t.datastore_arn()
        }]
    })
}

/// The actions [`read_back_policy`] allows, as an access-denied message names them.
pub const READ_BACK_ACTIONS: [&str; 2] = ["healthlake:ReadResource", "healthlake:SearchWithGet"];

/// One statement allowing `action` on `resource`, as an access-denied message suggests adding.
pub fn statement_allowing(action: &str, resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": resource})
}

/// What the person who starts imports needs on top of HealthLake access: passing the role to HealthLake.
pub fn pass_role_policy(role_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "healthlake.amazonaws.com"}}
        }]
    })
}

/// How a role's trust policy stands for this data store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustVerdict {
    /// HealthLake may assume it, with the recommended conditions.
    Trusted,
    /// HealthLake may assume it, but without conditions tying it to this account and data store.
    TrustedWithoutConditions(String),
    /// HealthLake may not assume it (with why).
    NotTrusted(String),
}

/// Judges a trust policy document (as IAM returns it, URL-decoded) for this target.
pub fn check_trust(document: &Value, t: &PolicyTarget) -> TrustVerdict {
    let statements = match &document["Statement"] {
        Value::Array(items) => items.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => return TrustVerdict::NotTrusted("the trust policy has no statements".into()),
    };
    let mut allowed_without_conditions = false;
    for statement in &statements {
        let allows = statement["Effect"] == "Allow";
        let service = policy_strings(&statement["Principal"]["Service"]);
        let actions = policy_strings(&statement["Action"]);
        if !allows
            || !service.iter().any(|s| s == "healthlake.amazonaws.com")
            || !actions.iter().any(|a| a == "sts:AssumeRole" || a == "sts:*" || a == "*")
        {
            continue;
        }
        let conditions = &statement["Condition"];
        let account = condition_values(conditions, "aws:SourceAccount");
        let source_arn = condition_values(conditions, "aws:SourceArn");
        if account.is_empty() && source_arn.is_empty() {
            allowed_without_conditions = true;
            continue;
        }
        if !account.is_empty() && !account.contains(&t.account_id) {
            return TrustVerdict::NotTrusted(format!(
                "aws:SourceAccount is {}, not this data store's account {}",
                account.join(", "),
                t.account_id
            ));
        }
        let arn = t.datastore_arn();
        if !source_arn.is_empty() && !source_arn.iter().any(|pattern| wildcard_match(pattern, &arn)) {
            return TrustVerdict::NotTrusted(format!("aws:SourceArn does not match {arn}"));
        }
        return TrustVerdict::Trusted;
    }
    if allowed_without_conditions {
        return TrustVerdict::TrustedWithoutConditions(
            "add aws:SourceAccount and aws:SourceArn conditions so only this data store can use the role"
                .into(),
        );
    }
    TrustVerdict::NotTrusted("no statement lets healthlake.amazonaws.com assume the role".into())
}

/// A policy element's values as text: one value or a list of them, strings as they are and booleans and numbers
/// as JSON writes them (`"Bool": {"aws:SecureTransport": false}` is as common as `"false"`).
pub fn policy_strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Bool(_) | Value::Number(_) => vec![value.to_string()],
        Value::Array(items) => items.iter().flat_map(policy_strings).collect(),
        _ => Vec::new(),
    }
}

/// The values a condition key has under any operator (StringEquals, ArnLike, ...).
fn condition_values(conditions: &Value, key: &str) -> Vec<String> {
    let Value::Object(operators) = conditions else { return Vec::new() };
    operators.values().flat_map(|op| policy_strings(&op[key])).collect()
}

/// IAM's `*` and `?` wildcards (ArnLike, actions, resources); without them, equality.
pub fn wildcard_match(pattern: &str, arn: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), arn.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> PolicyTarget {
        PolicyTarget {
            partition: "aws".into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            datastore_id: "0123456789abcdef0123456789abcdef".into(),
            input_bucket: "in-bucket".into(),
            output_bucket: "out-bucket".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
        }
    }

    #[test]
    fn the_generated_trust_policy_is_judged_trusted() {
        let t = target();
        assert_eq!(check_trust(&trust_policy(&t), &t), TrustVerdict::Trusted);
        let arn = &trust_policy(&t)["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"];
        assert_eq!(
            arn,
            "arn:aws:healthlake:us-east-1:111122223333:datastore/fhir/0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn the_permissions_name_both_buckets_and_the_key() {
        let p = permissions_policy(&target());
        assert_eq!(
            p["Statement"][0]["Resource"],
            json!(["arn:aws:s3:::in-bucket", "arn:aws:s3:::out-bucket"])
        );
        assert_eq!(p["Statement"][2]["Resource"], json!(["arn:aws:s3:::out-bucket/*"]));
        assert_eq!(p["Statement"][3]["Resource"], json!(["arn:aws:kms:us-east-1:111122223333:key/k"]));
    }

    #[test]
    fn trust_without_conditions_is_flagged_and_another_service_is_not_trust() {
        let t = target();
        let open = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "healthlake.amazonaws.com"}, "Action": "sts:AssumeRole"}});
        assert!(matches!(check_trust(&open, &t), TrustVerdict::TrustedWithoutConditions(_)));
        let ec2 = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        assert!(matches!(check_trust(&ec2, &t), TrustVerdict::NotTrusted(_)));
    }

    #[test]
    fn wrong_account_or_data_store_is_not_trust_and_wildcards_match() {
        let t = target();
        let mut doc = trust_policy(&t);
        doc["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] = json!("999999999999");
        assert!(matches!(check_trust(&doc, &t), TrustVerdict::NotTrusted(m) if m.contains("999999999999")));
        let mut doc = trust_policy(&t);
        doc["Statement"][0]["Condition"]["ArnEquals"] = json!({});
        doc["Statement"][0]["Condition"]["ArnLike"] =
            json!({"aws:SourceArn": "arn:aws:healthlake:us-east-1:111122223333:datastore/fhir/*"});
        assert_eq!(check_trust(&doc, &t), TrustVerdict::Trusted);
        doc["Statement"][0]["Condition"]["ArnLike"] =
            json!({"aws:SourceArn": "arn:aws:healthlake:us-east-1:111122223333:datastore/fhir/other"});
        assert!(matches!(check_trust(&doc, &t), TrustVerdict::NotTrusted(_)));
    }
}
