//! Limits on what the webview may send: every string and list argument has a size, every id its alphabet, so
//! that a compromised or buggy window cannot make the backend allocate, log or forward arbitrary input.

use crate::{ErrorCode, IpcError};

/// Longest path the app accepts from the window (Linux's PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// Most paths in one request: more than HealthLake imports in a job, fewer than would strain the backend.
pub const MAX_PATHS: usize = 100_000;

fn refuse(what: &str, why: String) -> IpcError {
    IpcError::new(ErrorCode::InvalidInput, format!("{what} {why}"))
}

/// A free-text argument of at most `max` characters.
pub fn text(what: &str, value: &str, max: usize) -> Result<(), IpcError> {
    if value.chars().count() > max {
        return Err(refuse(what, format!("is longer than {max} characters")));
    }
    Ok(())
}

/// An id of letters, digits, `-` and `_` (job, data store and operation ids), 1 to `max` long.
pub fn id(what: &str, value: &str, max: usize) -> Result<(), IpcError> {
    chars(what, value, max, b"-_")
}

/// Most jobs reviewed together: the jobs of one import of a million files.
pub const MAX_JOBS: usize = 100;

/// The jobs an answer is about (one, or the jobs of one import), each a valid job id; returns the key their
/// failures are kept under in memory.
pub fn jobs(job_ids: &[String]) -> Result<String, IpcError> {
    if job_ids.is_empty() || job_ids.len() > MAX_JOBS {
        return Err(refuse("the request", format!("names {} jobs; name 1 to {MAX_JOBS}", job_ids.len())));
    }
    for job_id in job_ids {
        id("the job id", job_id, 64)?;
    }
    Ok(job_ids.join(","))
}

/// A name or ARN (bucket, key id, alias or ARN, role ARN): letters, digits and `-_.:/+=@`, 1 to `max` long.
pub fn name(what: &str, value: &str, max: usize) -> Result<(), IpcError> {
    chars(what, value, max, b"-_.:/+=@")
}

fn chars(what: &str, value: &str, max: usize, extra: &[u8]) -> Result<(), IpcError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    if ok { Ok(()) } else { Err(refuse(what, format!("{value:.80?} is not valid here"))) }
}

/// An AWS profile name as `~/.aws/config` may hold it: 1 to 128 printable characters, no control characters.
pub fn profile(value: &str) -> Result<(), IpcError> {
    let ok = (1..=128).contains(&value.chars().count()) && !value.chars().any(char::is_control);
    if ok { Ok(()) } else { Err(refuse("the profile name", format!("{value:.80?} is not valid here"))) }
}

/// An AWS Region code, e.g. `us-east-1`: lowercase letters, digits and `-`, at most 32.
pub fn region(value: &str) -> Result<(), IpcError> {
    let ok = (1..=32).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(refuse("the Region", format!("{value:.80?} is not valid here"))) }
}

/// A list of paths, each of bounded length.
pub fn paths(paths: &[String]) -> Result<(), IpcError> {
    if paths.len() > MAX_PATHS {
        return Err(refuse(
            "the request",
            format!("names {} paths; at most {MAX_PATHS} at once", paths.len()),
        ));
    }
    for path in paths {
        text("a path", path, MAX_PATH)?;
    }
    Ok(())
}

/// HealthLake's JobName: 1-64 characters of letters, digits, spaces and `_.:/=+-@`.
pub fn job_name(name: &str) -> Result<(), IpcError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(refuse("the job name", "must be 1-64 letters, digits, spaces or _.:/=+-@".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_and_regions_are_bounded() {
        assert!(profile("analyst").is_ok() && profile("team.prod@acme").is_ok());
        assert!(profile("").is_err() && profile(&"p".repeat(129)).is_err() && profile("a\nb").is_err());
        assert!(region("us-east-1").is_ok() && region("eu-central-2").is_ok());
        assert!(region("").is_err() && region("US-EAST-1").is_err() && region(&"a".repeat(33)).is_err());
    }
}
