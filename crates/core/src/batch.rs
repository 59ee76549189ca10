//! An import batch: the set of local files that go to one fresh S3 prefix and one import job.
//!
//! HealthLake imports everything under the prefix it is given, so every batch gets its own prefix; and the job's
//! `ClientToken` is derived from the batch, so a retried or double-clicked submit never starts two jobs.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A file that goes into a batch, identified by what it is, not only where it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchFile {
    pub local_path: String,
    /// The object key under the batch prefix (the file name, made unique within the batch).
    pub key_name: String,
    pub bytes: u64,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// CRC32C of the same bytes, read in the same pass: the upload must send exactly what was checked. Absent in
    /// batches recorded by older versions.
    #[serde(default)]
    pub crc32c: Option<u32>,
    /// The file's modification time (ns since the epoch) when it was listed for the batch: with its path and
    /// size, what finds the batch again before the file is read (absent in older records, which then match
    /// nothing).
    #[serde(default)]
    pub mtime_ns: Option<i64>,
    /// The object is NDJSON made from the file (decompressed, unbundled), not the file's bytes.
    #[serde(default)]
    pub derived: bool,
    /// The file's check kept it out of the import (not FHIR, no line HealthLake would accept): nothing of it is
    /// in S3.
    #[serde(default)]
    pub skipped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    pub datastore_id: String,
    pub input_bucket: String,
    /// The prefix in the input bucket, ending in `/`.
    pub prefix: String,
    pub files: Vec<BatchFile>,
}

impl Batch {
    /// A new batch id, sortable by time: `20261122T083400Z-<8 hex>`; `now_unix` and `entropy` are passed in so
    /// tests are deterministic.
    pub fn new_id(now_unix: i64, entropy: u32) -> String {
        let t = time_parts(now_unix);
        format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z-{entropy:08x}", t.0, t.1, t.2, t.3, t.4, t.5)
    }

    pub fn prefix_for(id: &str) -> String {
        format!("lakedrop/{id}/")
    }

    pub fn input_uri(&self) -> String {
        format!("s3://{}/{}", self.input_bucket, self.prefix)
    }

    /// The `ClientToken` for this batch's import job: the same batch (same data store, prefix and file contents)
    /// always gives the same token, and it fits HealthLake's `[a-zA-Z0-9-]{1,64}`.
    pub fn client_token(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.datastore_id.as_bytes());
        hash.update([0]);
        hash.update(self.input_uri().as_bytes());
        for file in self.files.iter().filter(|f| !f.skipped) {
            hash.update([0]);
            hash.update(file.key_name.as_bytes());
            hash.update([0]);
            hash.update(file.sha256.as_bytes());
        }
        hex::encode(hash.finalize())
    }
}

/// Gives each file a key name unique within the batch (`a.ndjson`, `a-2.ndjson`, ...), keeping the extension so
/// HealthLake's output files stay recognisable.
pub fn unique_key_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .map(|name| {
            let name: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' })
                .collect();
            let (stem, ext) = match name.find('.') {
                Some(i) => (name[..i].to_string(), name[i..].to_string()),
                None => (name.clone(), String::new()),
            };
            let mut candidate = name.clone();
            let mut n = 2;
            while !seen.insert(candidate.clone()) {
                candidate = format!("{stem}-{n}{ext}");
                n += 1;
            }
            candidate
        })
        .collect()
}

/// (year, month, day, hour, minute, second) in UTC, from Unix seconds (civil-from-days, Howard Hinnant).
fn time_parts(unix: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, (secs / 3600) as u32, ((secs % 3600) / 60) as u32, (secs % 60) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(sha: &str) -> Batch {
        Batch {
            id: "b".into(),
            datastore_id: "ds".into(),
            input_bucket: "in".into(),
            prefix: "lakedrop/b/".into(),
            files: vec![BatchFile {
                local_path: "/x/a.ndjson".into(),
                key_name: "a.ndjson".into(),
                bytes: 1,
                sha256: sha.into(),
                ..BatchFile::default()
            }],
        }
    }

    #[test]
    fn ids_sort_by_time() {
        assert_eq!(Batch::new_id(1_795_336_440, 0xab), "20261122T083400Z-000000ab");
        assert!(Batch::new_id(1_000, 0xffff_ffff) < Batch::new_id(2_000, 0));
    }

    #[test]
    fn the_client_token_is_stable_fits_healthlake_and_changes_with_content() {
        let token = batch("aa").client_token();
        assert_eq!(token, batch("aa").client_token());
        assert_ne!(token, batch("bb").client_token());
        assert!(token.len() <= 64 && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn key_names_are_unique_and_safe() {
        let names = unique_key_names(["Patient.000.ndjson", "Patient.000.ndjson", "a b.ndjson"]);
        assert_eq!(names, ["Patient.000.ndjson", "Patient-2.000.ndjson", "a_b.ndjson"]);
    }
}
