//! Fault injection for tests: with a spec such as `s3:5xx=0.1,s3:reset=0.05,slowdown=0.05`, a share of requests
//! fail before they are handled, the way AWS fails under load: a 500, a 503 SlowDown (or ThrottlingException), or
//! a connection dropped without an answer. Faults strike before any state changes, so a client's retry is always
//! safe, which is what retrying clients assume of AWS too. Off by default.
//!
//! Holds make crash tests deterministic: `hold-before:UploadPart=150` waits 150 ms before handling each
//! UploadPart, `hold-after:CompleteMultipartUpload=3000` handles the request, commits what it changes, then waits
//! 3 s before answering, so a client killed meanwhile leaves the change done but never hears of it, as when a
//! connection dies after AWS acted. Operations are named as the API names them (S3's from the request's method and
//! query, the JSON services' from `X-Amz-Target`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    S3,
    Kms,
    HealthLake,
}

impl Service {
    fn parse(s: &str) -> Option<Service> {
        match s {
            "s3" => Some(Service::S3),
            "kms" => Some(Service::Kms),
            "healthlake" => Some(Service::HealthLake),
            _ => None,
        }
    }
}

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// An internal error (HTTP 500).
    ServerError,
    /// The connection is dropped without a response.
    Reset,
    /// Throttling: S3's 503 SlowDown, the JSON services' ThrottlingException.
    SlowDown,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    service: Option<Service>,
    fault: Fault,
    probability: f64,
}

/// When a hold waits: before the operation is handled, or after it was handled and before its answer is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Before,
    After,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hold {
    when: When,
    operation: String,
    duration: Duration,
}

/// A parsed fault spec with its random source.
#[derive(Debug)]
pub struct Faults {
    rules: Vec<Rule>,
    holds: Vec<Hold>,
    state: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults { rules: Vec::new(), holds: Vec::new(), state: AtomicU64::new(0x9E37_79B9_7F4A_7C15) }
    }
}

impl Clone for Faults {
    fn clone(&self) -> Self {
        Faults {
            rules: self.rules.clone(),
            holds: self.holds.clone(),
            state: AtomicU64::new(self.state.load(Ordering::Relaxed)),
        }
    }
}

impl Faults {
    /// Parses `[service:]kind=probability,...` (kinds `5xx`, `reset`, `slowdown`; services `s3`, `kms`,
    /// `healthlake`, or none for all), `hold-before:Operation=ms` and `hold-after:Operation=ms`, plus an optional
    /// `seed=N` for a reproducible sequence.
    pub fn parse(spec: &str) -> Result<Faults, String> {
        let mut faults = Faults::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("fault '{item}' needs a value, e.g. s3:5xx=0.1"))?;
            if let Some((kind, operation)) = key.split_once(':')
                && let Some(when) = match kind {
                    "hold-before" => Some(When::Before),
                    "hold-after" => Some(When::After),
                    _ => None,
                }
            {
                let ms: u64 = value.parse().map_err(|_| {
                    format!("hold '{item}' needs milliseconds, e.g. hold-after:UploadPart=500")
                })?;
                if operation.is_empty() || !operation.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!(
                        "hold '{item}' needs an operation as the API names it, e.g. hold-after:CompleteMultipartUpload=3000"
                    ));
                }
                faults.holds.push(Hold {
                    when,
                    operation: operation.to_string(),
                    duration: Duration::from_millis(ms),
                });
                continue;
            }
            if key == "seed" {
                let seed: u64 = value.parse().map_err(|_| format!("seed '{value}' is not a number"))?;
                faults.state = AtomicU64::new(seed.max(1));
                continue;
            }
            let (service, kind) = match key.split_once(':') {
                Some((service, kind)) => (
                    Some(Service::parse(service).ok_or_else(|| {
                        format!("unknown service '{service}' in '{item}': use s3, kms or healthlake")
                    })?),
                    kind,
                ),
                None => (None, key),
            };
            let fault = match kind {
                "5xx" => Fault::ServerError,
                "reset" => Fault::Reset,
                "slowdown" | "throttle" => Fault::SlowDown,
                other => {
                    return Err(format!("unknown fault '{other}' in '{item}': use 5xx, reset or slowdown"));
                }
            };
            let probability: f64 = value
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("probability '{value}' in '{item}' must be between 0 and 1"))?;
            faults.rules.push(Rule { service, fault, probability });
        }
        Ok(faults)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.holds.is_empty()
    }

    /// How long to hold `operation` at `when`, if a hold names it.
    pub fn hold(&self, operation: &str, when: When) -> Option<Duration> {
        self.holds.iter().find(|h| h.when == when && h.operation == operation).map(|h| h.duration)
    }

    /// Whether any hold is set (the router then works out each request's operation).
    pub fn holds_any(&self) -> bool {
        !self.holds.is_empty()
    }

    /// Draws whether this request fails, and how.
    pub fn draw(&self, service: Service) -> Option<Fault> {
        if self.rules.is_empty() {
            return None;
        }
        let roll = self.next_unit();
        let mut threshold = 0.0;
        for rule in self.rules.iter().filter(|r| r.service.is_none_or(|s| s == service)) {
            threshold += rule.probability;
            if roll < threshold {
                return Some(rule.fault);
            }
        }
        None
    }

    /// A uniform number in [0, 1) from a shared xorshift64* state: cheap, lock-free and reproducible with a seed.
    fn next_unit(&self) -> f64 {
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let mut x = current;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            match self.state.compare_exchange_weak(current, x, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_spec() {
        let faults = Faults::parse("s3:5xx=0.1,s3:reset=0.05,slowdown=0.05").expect("parses");
        assert_eq!(faults.rules.len(), 3);
        assert_eq!(
            faults.rules[0],
            Rule { service: Some(Service::S3), fault: Fault::ServerError, probability: 0.1 }
        );
        assert_eq!(faults.rules[2].service, None, "no service means every service");
        assert!(Faults::parse("").expect("empty").is_empty());
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert!(Faults::parse("s3:5xx").expect_err("no value").contains("needs a value"));
        assert!(Faults::parse("ec2:5xx=0.1").expect_err("service").contains("unknown service 'ec2'"));
        assert!(Faults::parse("s3:boom=0.1").expect_err("kind").contains("unknown fault 'boom'"));
        assert!(Faults::parse("s3:5xx=2").expect_err("range").contains("between 0 and 1"));
        assert!(Faults::parse("hold-after:UploadPart=soon").expect_err("ms").contains("milliseconds"));
        assert!(Faults::parse("hold-before:=5").expect_err("op").contains("operation"));
    }

    #[test]
    fn holds_name_an_operation_and_a_moment() {
        let faults =
            Faults::parse("hold-before:UploadPart=150,hold-after:CompleteMultipartUpload=3000,s3:5xx=0.1")
                .expect("parses");
        assert_eq!(faults.hold("UploadPart", When::Before), Some(Duration::from_millis(150)));
        assert_eq!(faults.hold("UploadPart", When::After), None);
        assert_eq!(faults.hold("CompleteMultipartUpload", When::After), Some(Duration::from_secs(3)));
        assert_eq!(faults.rules.len(), 1);
    }

    #[test]
    fn faults_strike_at_about_their_rate_and_only_their_service() {
        let faults = Faults::parse("s3:5xx=0.2,seed=7").expect("parses");
        let n = 20_000;
        let hits = (0..n).filter(|_| faults.draw(Service::S3).is_some()).count();
        let rate = hits as f64 / n as f64;
        assert!((0.18..0.22).contains(&rate), "rate {rate}");
        assert!((0..1000).all(|_| faults.draw(Service::Kms).is_none()));
        let always = Faults::parse("kms:slowdown=1").expect("parses");
        assert_eq!(always.draw(Service::Kms), Some(Fault::SlowDown));
    }
}
