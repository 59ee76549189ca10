//! Every `Message` a job can end with, in one place, and the rule that makes each fit the service model.
//!
//! The model's `Message` shape allows letters, digits, separators and `_.:/=+-%@` only, 1 to 2,048 characters.
//! A message quotes what the caller wrote (an S3 URI, a key id), which may hold anything S3 allows in a key:
//! `(`, `,`, quotes, emoji. Such characters are percent-encoded as UTF-8 (`%` is in the class), so the message
//! stays exact and readable and the response always conforms; the debug self-check would otherwise answer 500
//! for the job and for every list that shows it.

use std::fmt::Write as _;
use std::sync::OnceLock;

use regex::Regex;

/// The model's `Message` maximum length, in characters.
const MAX_CHARS: usize = 2048;

/// Why a job ended FAILED, or what happened to a job that ended otherwise; [`JobMessage::text`] gives the
/// stored `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobMessage {
    InvalidInputUri(String),
    InputBucketMissing(String),
    NoInputFiles(String),
    TooManyFiles {
        files: usize,
        limit: usize,
    },
    InvalidOutputUri,
    OutputBucketMissing(String),
    KeyUnusable(String),
    Internal,
    /// A job the sandbox was running when it stopped, resumed after the last batch it had committed.
    Resumed {
        key: String,
        line: u64,
    },
}

impl JobMessage {
    /// The message as stored and answered: always within the model's `Message` constraints.
    pub fn text(&self) -> String {
        let raw = match self {
            JobMessage::InvalidInputUri(uri) => format!("Input S3 URI {uri} is not valid"),
            JobMessage::InputBucketMissing(bucket) => format!("Input S3 bucket {bucket} does not exist"),
            JobMessage::NoInputFiles(uri) => format!("No input files found at {uri}"),
            JobMessage::TooManyFiles { files, limit } => {
                format!("Number of input files {files} exceeds the limit of {limit} files per import job")
            }
            JobMessage::InvalidOutputUri => "Output S3 URI is not valid".into(),
            JobMessage::OutputBucketMissing(bucket) => format!("Output S3 bucket {bucket} does not exist"),
            JobMessage::KeyUnusable(key) => format!("KMS key {key} is disabled or does not exist"),
            JobMessage::Internal => "Internal error while running the job".into(),
            JobMessage::Resumed { key, line } => format!(
                "The sandbox stopped while this job ran: it resumed at line {line} of {key} after the last \
                 committed batch and no resource was written twice"
            ),
        };
        fit(&raw)
    }
}

/// Whether `c` is in the model's class, by the model's own class (the regex crate's Unicode categories are
/// Java's): `char::is_alphanumeric` would also take combining marks, which `\p{L}` does not.
fn allowed(c: char) -> bool {
    static CLASS: OnceLock<Option<Regex>> = OnceLock::new();
    let class = CLASS.get_or_init(|| Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-%@]$").ok());
    let mut buf = [0u8; 4];
    class.as_ref().is_some_and(|r| r.is_match(c.encode_utf8(&mut buf)))
}

/// `raw` with every character outside the class percent-encoded, cut to the maximum length at a character
/// boundary that does not split an escape; never empty.
pub(crate) fn fit(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = 0;
    for c in raw.chars() {
        let piece = if allowed(c) {
            c.to_string()
        } else {
            let mut encoded = String::new();
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(encoded, "%{b:02X}");
            }
            encoded
        };
        let n = piece.chars().count();
        if chars + n > MAX_CHARS {
            break;
        }
        chars += n;
        out.push_str(&piece);
    }
    if out.is_empty() { "-".into() } else { out }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::healthlake::model::validate_output;

    /// Inputs a caller can put in a URI or key id: what S3 keys and file names allow.
    const HOSTILE: &[&str] = &[
        "s3://input/nothing (here)/",
        "s3://input/a,b;c'd\"e/",
        "s3://input/tab\there\nnewline/",
        "s3://input/emoji 🩺/ü/",
        "",
        "%%%",
    ];

    fn every_message(s: &str) -> Vec<JobMessage> {
        vec![
            JobMessage::InvalidInputUri(s.into()),
            JobMessage::InputBucketMissing(s.into()),
            JobMessage::NoInputFiles(s.into()),
            JobMessage::TooManyFiles { files: 10_001, limit: 10_000 },
            JobMessage::InvalidOutputUri,
            JobMessage::OutputBucketMissing(s.into()),
            JobMessage::KeyUnusable(s.into()),
            JobMessage::Internal,
            JobMessage::Resumed { key: s.into(), line: 1501 },
        ]
    }

    #[test]
    fn every_message_the_sandbox_writes_conforms_to_the_model() {
        let long = "(".repeat(5000);
        for input in HOSTILE.iter().copied().chain([long.as_str()]) {
            for message in every_message(input) {
                let text = message.text();
                let job = json!({"JobId": "0123456789abcdef0123456789abcdef", "JobStatus": "FAILED",
                    "SubmitTime": 1.0, "DatastoreId": "0123456789abcdef0123456789abcdef",
                    "InputDataConfig": {"S3Uri": "s3://input/x/"}, "Message": text});
                let describe = json!({"ImportJobProperties": job});
                assert!(validate_output("DescribeFHIRImportJob", &describe).is_ok(), "{message:?}: {text}");
                let list = json!({"ImportJobPropertiesList": [job]});
                assert!(validate_output("ListFHIRImportJobs", &list).is_ok(), "{message:?}: {text}");
            }
        }
    }

    #[test]
    fn characters_outside_the_class_are_percent_encoded_and_the_rest_kept() {
        assert_eq!(
            JobMessage::NoInputFiles("s3://input/nothing (here)/".into()).text(),
            "No input files found at s3://input/nothing %28here%29/"
        );
        assert_eq!(fit("ü 🩺"), "ü %F0%9F%A9%BA");
        assert_eq!(fit("e\u{301}"), "e%CC%81", "a combining mark is not a letter");
        assert_eq!(fit("").len(), 1);
        let cut = fit(&"(".repeat(1000));
        assert_eq!(cut.chars().count(), 2046, "682 whole escapes, none split");
        assert!(cut.ends_with("%28"));
    }
}
