//! Who signs a request: the seeded long-term key, or temporary credentials the sandbox issued (STS AssumeRole and
//! GetSessionToken, the SSO portal). Every service's signature check asks this one store for a key's secret, so a
//! key that works for STS works for S3, KMS, HealthLake and the FHIR API alike.
//!
//! Temporary credentials live in memory only: a restart forgets them, as if every session had ended, which is
//! all a client must cope with anyway. Expired ones are kept for a day so that their use is reported as expired
//! rather than unknown.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How long an expired key is still recognised (and answered with "expired").
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The principal behind a key, as GetCallerIdentity reports it and trust policies match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// `arn:aws:iam::ACCOUNT:user/NAME` or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// `AIDA…` for a user, `AROA…:SESSION` for a role session.
    pub user_id: String,
    pub account: String,
    /// Whether the credentials were issued against a valid MFA code (`aws:MultiFactorAuthPresent`).
    pub mfa: bool,
    /// Whether these are temporary credentials (GetSessionToken refuses them).
    pub temporary: bool,
}

impl Caller {
    /// The role name when the caller is a role session.
    pub fn assumed_role(&self) -> Option<&str> {
        let rest = self.arn.split_once(":assumed-role/")?.1;
        rest.split('/').next()
    }
}

/// A key's secret and, for temporary credentials, the session token that must come with it.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub secret: String,
    pub token: Option<String>,
    pub caller: Caller,
}

impl Key {
    /// Whether the request's `X-Amz-Security-Token` (if any) is the one this key needs.
    pub fn accepts_token(&self, presented: Option<&str>) -> bool {
        match (&self.token, presented) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(token), presented) => presented == Some(token.as_str()),
        }
    }
}

/// Why a key cannot sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// Neither the seeded key nor one the sandbox issued (or issued before a restart).
    Unknown,
    /// Temporary credentials past their expiry.
    Expired,
}

/// Credentials just issued, as STS and the SSO portal hand them out.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_key: String,
    pub secret: String,
    pub token: String,
    pub expires: SystemTime,
}

struct Temporary {
    key: Key,
    expires: SystemTime,
}

pub(crate) struct Identities {
    seeded_key: String,
    seeded: Key,
    cap: Option<Duration>,
    temporary: Mutex<HashMap<String, Temporary>>,
}

impl Identities {
    /// `cap` bounds every issued lifetime (`SandboxConfig::session_seconds`).
    pub fn new(access_key: &str, secret: &str, account: &str, cap: Option<Duration>) -> Identities {
        let caller = Caller {
            arn: format!("arn:aws:iam::{account}:user/{SEEDED_USER}"),
            user_id: SEEDED_USER_ID.into(),
            account: account.into(),
            mfa: false,
            temporary: false,
        };
        Identities {
            seeded_key: access_key.into(),
            seeded: Key { secret: secret.into(), token: None, caller },
            cap,
            temporary: Mutex::new(HashMap::new()),
        }
    }

    /// The identity of the seeded long-term key.
    #[cfg(test)]
    pub fn seeded_caller(&self) -> &Caller {
        &self.seeded.caller
    }

    /// Finds the key a request was signed with.
    pub fn lookup(&self, access_key: &str, now: SystemTime) -> Result<Key, KeyError> {
        if access_key == self.seeded_key {
            return Ok(self.seeded.clone());
        }
        let temporary = self.temporary.lock().unwrap_or_else(|p| p.into_inner());
        match temporary.get(access_key) {
            None => Err(KeyError::Unknown),
            Some(t) if t.expires <= now => Err(KeyError::Expired),
            Some(t) => Ok(t.key.clone()),
        }
    }

    /// The lifetime credentials asked for `requested` get: the request, bounded by the configured cap.
    pub fn lifetime(&self, requested: Duration) -> Duration {
        self.cap.map_or(requested, |cap| requested.min(cap))
    }

    /// Issues temporary credentials for `caller`, living `lifetime(requested)` from `now`.
    pub fn issue(&self, caller: Caller, requested: Duration, now: SystemTime) -> Issued {
        let issued = Issued {
            access_key: format!("ASIA{}", random_upper(16)),
            secret: random_secret(40),
            token: random_secret(200),
            expires: now + self.lifetime(requested),
        };
        let key = Key {
            secret: issued.secret.clone(),
            token: Some(issued.token.clone()),
            caller: Caller { temporary: true, ..caller },
        };
        let mut temporary = self.temporary.lock().unwrap_or_else(|p| p.into_inner());
        temporary.retain(|_, t| t.expires + FORGET_AFTER > now);
        temporary.insert(issued.access_key.clone(), Temporary { key, expires: issued.expires });
        issued
    }
}

/// The seeded key's user: `arn:aws:iam::000000000000:user/sandbox`.
pub(crate) const SEEDED_USER: &str = "sandbox";
const SEEDED_USER_ID: &str = "AIDALAKEDROPSANDBOX";

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `n` random characters from `alphabet` (rejection sampling, so each is equally likely).
pub(crate) fn random_from(alphabet: &[u8], n: usize) -> String {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        for b in bytes {
            if usize::from(b) < limit && out.len() < n {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    out
}

pub(crate) fn random_upper(n: usize) -> String {
    random_from(UPPER_ALNUM, n)
}

pub(crate) fn random_secret(n: usize) -> String {
    random_from(SECRET_CHARS, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_caller() -> Caller {
        Caller {
            arn: "arn:aws:sts::000000000000:assumed-role/Reader/s1".into(),
            user_id: "AROAEXAMPLE:s1".into(),
            account: "000000000000".into(),
            mfa: false,
            temporary: false,
        }
    }

    #[test]
    fn issued_keys_sign_until_they_expire_and_then_say_so() {
        let ids = Identities::new("AKIASEED", "seedsecret", "000000000000", None);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let issued = ids.issue(role_caller(), Duration::from_secs(900), now);
        assert!(issued.access_key.starts_with("ASIA") && issued.access_key.len() == 20);
        assert!(issued.access_key[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        let key = ids.lookup(&issued.access_key, now + Duration::from_secs(899)).expect("live");
        assert_eq!(key.secret, issued.secret);
        assert!(key.caller.temporary);
        assert!(key.accepts_token(Some(&issued.token)));
        assert!(!key.accepts_token(None));
        assert!(!key.accepts_token(Some("other")));
        assert_eq!(
            ids.lookup(&issued.access_key, now + Duration::from_secs(900)).err(),
            Some(KeyError::Expired)
        );
        assert_eq!(ids.lookup("ASIANOTISSUED", now).err(), Some(KeyError::Unknown));
        let seeded = ids.lookup("AKIASEED", now).expect("seeded");
        assert!(seeded.accepts_token(None) && !seeded.accepts_token(Some("x")));
        assert_eq!(seeded.caller.arn, "arn:aws:iam::000000000000:user/sandbox");
    }

    #[test]
    fn the_cap_bounds_every_lifetime() {
        let ids = Identities::new("AKIASEED", "s", "000000000000", Some(Duration::from_secs(20)));
        assert_eq!(ids.lifetime(Duration::from_secs(3600)), Duration::from_secs(20));
        assert_eq!(ids.lifetime(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(role_caller().assumed_role(), Some("Reader"));
        assert_eq!(ids.seeded_caller().assumed_role(), None);
    }
}
