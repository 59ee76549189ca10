//! STS, as `~/.aws/config` profiles use it (Query protocol, version 2011-06-15): AssumeRole judged by the role's
//! trust policy in the sandbox's IAM (principals, `sts:ExternalId`, `aws:MultiFactorAuthPresent`), GetSessionToken
//! and GetCallerIdentity. The credentials it issues sign requests to every service (see identity.rs).
//!
//! Not modelled: session policies and tags, source identity, SAML and web identity federation, permission
//! policies (a trusted caller may assume a role whatever the caller's own policies say), role paths in session
//! ARNs. MFA devices are not registered anywhere: any serial number is accepted, and a code is valid when it is
//! six digits other than `000000`, so a test can ask for a failure.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::iam::Iam;
use crate::identity::{Caller, Identities, Issued};
use crate::protocol::ApiError;
use crate::query::{self, Form, QueryResponse, escape};

pub(crate) const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The actions STS answers; a request signed for no service is routed here by its `Action`.
pub(crate) const ACTIONS: [&str; 3] = ["AssumeRole", "GetSessionToken", "GetCallerIdentity"];

/// A role's MaxSessionDuration (iam.rs reports 3600 for every role).
const MAX_ROLE_SESSION: u64 = 3600;

pub(crate) struct Sts {
    iam: Arc<Iam>,
    identities: Arc<Identities>,
    account: String,
}

/// What a trust policy's conditions can ask about an AssumeRole call.
struct Context<'a> {
    caller: &'a Caller,
    external_id: Option<&'a str>,
    mfa: bool,
}

impl Sts {
    pub fn new(iam: Arc<Iam>, identities: Arc<Identities>, account: &str) -> Sts {
        Sts { iam, identities, account: account.into() }
    }

    /// Answers one request from `caller`, whose signature has been checked.
    pub fn handle(&self, caller: &Caller, body: &[u8], now: SystemTime) -> QueryResponse {
        let form = Form::parse(body);
        let action = form.action();
        let result = match action {
            "AssumeRole" => self.assume_role(caller, &form, now),
            "GetSessionToken" => self.get_session_token(caller, &form, now),
            "GetCallerIdentity" => Ok(format!(
                "<UserId>{}</UserId><Account>{}</Account><Arn>{}</Arn>",
                escape(&caller.user_id),
                escape(&caller.account),
                escape(&caller.arn)
            )),
            other => Err(ApiError::new(
                "InvalidAction",
                400,
                format!("Could not find operation {other} for version 2011-06-15"),
            )),
        };
        query::respond(NAMESPACE, action, result)
    }

    fn assume_role(&self, caller: &Caller, form: &Form, now: SystemTime) -> Result<String, ApiError> {
        let role_arn = form.required("RoleArn")?;
        let session = form.required("RoleSessionName")?;
        if !valid_session_name(session) {
            return Err(ApiError::new(
                "ValidationError",
                400,
                format!(
                    "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
                ),
            ));
        }
        let duration = duration(form, 3600, MAX_ROLE_SESSION)?;
        let mfa = caller.mfa || mfa_code(form)?;
        let denied = || {
            ApiError::new(
                "AccessDenied",
                403,
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.arn
                ),
            )
        };
        let name = role_name(role_arn, &self.account).ok_or_else(denied)?;
        let role = self.iam.role_trust(name)?.filter(|r| r.arn == role_arn).ok_or_else(denied)?;
        let policy: Value = serde_json::from_str(&role.trust_policy).map_err(|_| denied())?;
        let context = Context { caller, external_id: form.get("ExternalId"), mfa };
        if !trust_allows(&policy, &context) {
            return Err(denied());
        }
        let session_caller = Caller {
            arn: format!("arn:aws:sts::{}:assumed-role/{name}/{session}", self.account),
            user_id: format!("{}:{session}", role.id),
            account: self.account.clone(),
            mfa,
            temporary: true,
        };
        let issued = self.identities.issue(session_caller.clone(), duration, now);
        Ok(format!(
            "{}<AssumedRoleUser><AssumedRoleId>{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
            credentials_xml(&issued),
            escape(&session_caller.user_id),
            escape(&session_caller.arn)
        ))
    }

    fn get_session_token(&self, caller: &Caller, form: &Form, now: SystemTime) -> Result<String, ApiError> {
        if caller.temporary {
            return Err(ApiError::new(
                "AccessDenied",
                403,
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        // GetSessionToken's own default and range (12 hours; 15 minutes to 36 hours), as STS documents them.
        let duration = duration(form, 43_200, 129_600)?;
        let mfa = mfa_code(form)?;
        let issued = self.identities.issue(Caller { mfa, ..caller.clone() }, duration, now);
        Ok(credentials_xml(&issued))
    }
}

/// The requested lifetime: `DurationSeconds` (or `default`) within STS's 900 s minimum and `max`. The sandbox's
/// own cap (`session_seconds`) applies afterwards, when the credentials are issued.
fn duration(form: &Form, default: u64, max: u64) -> Result<Duration, ApiError> {
    let Some(text) = form.get("DurationSeconds") else {
        return Ok(Duration::from_secs(default));
    };
    let seconds: u64 = text.parse().map_err(|_| {
        ApiError::new("ValidationError", 400, format!("Value '{text}' at 'durationSeconds' is not a number"))
    })?;
    if seconds < 900 {
        return Err(ApiError::new(
            "ValidationError",
            400,
            format!(
                "1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
            ),
        ));
    }
    if seconds > max {
        return Err(ApiError::new(
            "ValidationError",
            400,
            format!(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({max} seconds)."
            ),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// Whether the call carries a valid MFA code; an invalid one, or half of the pair, is refused outright.
fn mfa_code(form: &Form) -> Result<bool, ApiError> {
    match (form.get("SerialNumber"), form.get("TokenCode")) {
        (None, None) => Ok(false),
        (Some(_), Some(code)) if valid_mfa_code(code) => Ok(true),
        (Some(_), Some(_)) => Err(ApiError::new(
            "AccessDenied",
            403,
            "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
        )),
        _ => Err(ApiError::new(
            "AccessDenied",
            403,
            "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.",
        )),
    }
}

/// The sandbox's rule for MFA codes: six ASCII digits, except `000000`, which stands for a wrong code.
pub(crate) fn valid_mfa_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) && code != "000000"
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// The role name in `arn:aws:iam::ACCOUNT:role/[PATH/]NAME`, if the ARN is one of this account's roles.
fn role_name<'a>(arn: &'a str, account: &str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (arn_account, resource) = rest.split_once(':')?;
    let path = resource.strip_prefix("role/")?;
    let name = path.rsplit('/').next()?;
    (arn_account == account && !name.is_empty()).then_some(name)
}

fn credentials_xml(issued: &Issued) -> String {
    format!(
        "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials>",
        issued.access_key,
        escape(&issued.secret),
        escape(&issued.token),
        iso8601(issued.expires)
    )
}

/// `2026-12-06T14:36:15Z`, as STS writes expirations (whole seconds).
fn iso8601(t: SystemTime) -> String {
    let seconds = t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).unwrap_or(0))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Judges a trust policy as IAM does for `sts:AssumeRole`: some statement allows the caller and none denies it.
fn trust_allows(policy: &Value, context: &Context<'_>) -> bool {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return false,
    };
    let applies = |s: &&Value| {
        grants_assume_role(s.get("Action")) && names_caller(s.get("Principal"), context.caller) && {
            conditions_hold(s.get("Condition"), context)
        }
    };
    let has_effect = |s: &&Value, effect: &str| s.get("Effect").and_then(Value::as_str) == Some(effect);
    let matching: Vec<&Value> = statements.into_iter().filter(applies).collect();
    !matching.iter().any(|s| has_effect(s, "Deny")) && matching.iter().any(|s| has_effect(s, "Allow"))
}

/// A string or an array of strings (and, in conditions, booleans), as policies write values.
fn strings(value: Option<&Value>) -> Vec<String> {
    value.map(lakedrop_core::policy::policy_strings).unwrap_or_default()
}

fn grants_assume_role(action: Option<&Value>) -> bool {
    strings(action).iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == "sts:assumerole" || a == "sts:*" || a == "*"
    })
}

fn names_caller(principal: Option<&Value>, caller: &Caller) -> bool {
    let values = match principal {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Object(map)) => strings(map.get("AWS")),
        _ => Vec::new(),
    };
    values.iter().any(|v| principal_matches(v, caller))
}

/// Whether one `Principal.AWS` value names the caller: `*`, the caller's account (root ARN or bare id), the
/// caller's own ARN, or the role whose session the caller is.
fn principal_matches(value: &str, caller: &Caller) -> bool {
    let account_root = format!("arn:aws:iam::{}:root", caller.account);
    if value == "*" || value == caller.account || value == account_root || value == caller.arn {
        return true;
    }
    let role_prefix = format!("arn:aws:iam::{}:role/", caller.account);
    match (value.strip_prefix(&role_prefix), caller.assumed_role()) {
        (Some(path), Some(role)) => path.rsplit('/').next() == Some(role),
        _ => false,
    }
}

/// Whether every condition holds; an operator or key the sandbox does not know never holds, so a policy is
/// never more permissive here than on AWS.
fn conditions_hold(condition: Option<&Value>, context: &Context<'_>) -> bool {
    let Some(condition) = condition else {
        return true;
    };
    let Some(operators) = condition.as_object() else {
        return false;
    };
    operators.iter().all(|(operator, block)| {
        let Some(block) = block.as_object() else {
            return false;
        };
        block.iter().all(|(key, expected)| {
            let expected = strings(Some(expected));
            let actual = context_value(key, context);
            match operator.as_str() {
                "StringEquals" => actual.is_some_and(|a| expected.contains(&a)),
                "Bool" => actual.is_some_and(|a| expected.iter().any(|e| e.eq_ignore_ascii_case(&a))),
                "BoolIfExists" => actual.is_none_or(|a| expected.iter().any(|e| e.eq_ignore_ascii_case(&a))),
                _ => false,
            }
        })
    })
}

/// A condition key's value for this call; `None` when the key is absent from the request context (as
/// `aws:MultiFactorAuthPresent` is for long-term keys used without MFA).
fn context_value(key: &str, context: &Context<'_>) -> Option<String> {
    match key.to_ascii_lowercase().as_str() {
        "sts:externalid" => context.external_id.map(str::to_string),
        "aws:multifactorauthpresent" if context.mfa => Some("true".into()),
        "aws:multifactorauthpresent" if context.caller.temporary => Some("false".into()),
        "aws:principalaccount" => Some(context.caller.account.clone()),
        "aws:principalarn" => Some(context.caller.arn.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Caller {
        Caller {
            arn: "arn:aws:iam::000000000000:user/sandbox".into(),
            user_id: "AIDA".into(),
            account: "000000000000".into(),
            mfa: false,
            temporary: false,
        }
    }

    fn session_of(role: &str) -> Caller {
        Caller {
            arn: format!("arn:aws:sts::000000000000:assumed-role/{role}/s"),
            user_id: "AROA:s".into(),
            account: "000000000000".into(),
            mfa: false,
            temporary: true,
        }
    }

    fn allows(policy: Value, caller: &Caller, external_id: Option<&str>, mfa: bool) -> bool {
        trust_allows(&policy, &Context { caller, external_id, mfa })
    }

    fn trusting(principal: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})
    }

    #[test]
    fn principals_match_the_account_the_user_or_the_role_of_a_session() {
        let root = trusting(json!({"AWS": "arn:aws:iam::000000000000:root"}));
        assert!(allows(root.clone(), &user(), None, false));
        assert!(allows(root, &session_of("A"), None, false));
        assert!(allows(trusting(json!({"AWS": "000000000000"})), &user(), None, false));
        assert!(!allows(trusting(json!({"AWS": "111111111111"})), &user(), None, false));
        assert!(allows(trusting(json!("*")), &user(), None, false));
        let role_a = trusting(json!({"AWS": ["arn:aws:iam::000000000000:role/A"]}));
        assert!(allows(role_a.clone(), &session_of("A"), None, false));
        assert!(!allows(role_a.clone(), &session_of("B"), None, false));
        assert!(!allows(role_a, &user(), None, false));
        assert!(allows(
            trusting(json!({"AWS": "arn:aws:iam::000000000000:user/sandbox"})),
            &user(),
            None,
            false
        ));
        assert!(!allows(trusting(json!({"Service": "healthlake.amazonaws.com"})), &user(), None, false));
    }

    #[test]
    fn conditions_on_external_id_and_mfa_must_hold_and_deny_wins() {
        let with = |condition: Value| json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:*"], "Condition": condition}});
        let external = with(json!({"StringEquals": {"sts:ExternalId": "abc"}}));
        assert!(allows(external.clone(), &user(), Some("abc"), false));
        assert!(!allows(external.clone(), &user(), Some("abd"), false));
        assert!(!allows(external, &user(), None, false));
        let mfa = with(json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}));
        assert!(allows(mfa.clone(), &user(), None, true));
        assert!(!allows(mfa, &user(), None, false));
        assert!(!allows(
            with(json!({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})),
            &user(),
            None,
            true
        ));
        let deny = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/sandbox"}, "Action": "*"}
        ]});
        assert!(!allows(deny.clone(), &user(), None, false));
        assert!(allows(deny, &session_of("A"), None, false));
    }

    #[test]
    fn mfa_codes_and_role_arns() {
        assert!(valid_mfa_code("123456"));
        for bad in ["000000", "12345", "1234567", "12345a", "１２３４５６"] {
            assert!(!valid_mfa_code(bad), "{bad}");
        }
        assert_eq!(role_name("arn:aws:iam::000000000000:role/A", "000000000000"), Some("A"));
        assert_eq!(role_name("arn:aws:iam::000000000000:role/path/B", "000000000000"), Some("B"));
        assert_eq!(role_name("arn:aws:iam::111111111111:role/A", "000000000000"), None);
        assert_eq!(role_name("arn:aws:iam::000000000000:user/A", "000000000000"), None);
        assert_eq!(
            iso8601(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_336_440)),
            "2026-11-22T08:34:00Z"
        );
    }
}
