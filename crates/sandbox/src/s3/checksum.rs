//! S3's additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) as the store keeps them: base64 strings
//! exactly as they travel in `x-amz-checksum-*` headers, plus the digests that compute them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use serde::{Deserialize, Serialize};

/// One of the checksum algorithms S3 accepts in `x-amz-checksum-*` headers and trailers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The name S3 uses on the wire (`x-amz-checksum-algorithm`, XML `ChecksumAlgorithm`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// Parses a wire name; S3 accepts any letter case.
    pub fn parse(name: &str) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    /// The header (or aws-chunked trailer) that carries this checksum.
    pub fn header(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// Whether `value` is the base64 of a digest of the right length: S3 answers `InvalidRequest` otherwise,
    /// before it looks at the body.
    pub fn is_valid_value(self, value: &str) -> bool {
        BASE64.decode(value).is_ok_and(|raw| raw.len() == self.digest_len())
    }

    /// Whether S3 can combine per-part checksums of this algorithm into a composite one. CRC64NVME exists
    /// only as a full-object checksum.
    pub fn supports_composite(self) -> bool {
        self != ChecksumAlgorithm::Crc64Nvme
    }

    /// Whether S3 can give a multipart object a full-object checksum of this algorithm: only the CRCs
    /// combine across parts.
    pub fn supports_full_object(self) -> bool {
        matches!(self, ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme)
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ChecksumAlgorithm::Crc32 => Crc32::checksum(data).as_ref().to_vec(),
            ChecksumAlgorithm::Crc32c => Crc32c::checksum(data).as_ref().to_vec(),
            ChecksumAlgorithm::Crc64Nvme => Crc64Nvme::checksum(data).as_ref().to_vec(),
            ChecksumAlgorithm::Sha1 => Sha1::checksum(data).as_ref().to_vec(),
            ChecksumAlgorithm::Sha256 => Sha256::checksum(data).as_ref().to_vec(),
        }
    }
}

/// Whether an object's checksum covers its bytes as a whole or is a checksum of its parts' checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    FullObject,
    Composite,
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }

    pub fn parse(name: &str) -> Option<ChecksumType> {
        [ChecksumType::FullObject, ChecksumType::Composite]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

/// Base64 checksum values, one optional slot per algorithm, as S3 returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Checksums {
    fn slot(&self, algorithm: ChecksumAlgorithm) -> &Option<String> {
        match algorithm {
            ChecksumAlgorithm::Crc32 => &self.crc32,
            ChecksumAlgorithm::Crc32c => &self.crc32c,
            ChecksumAlgorithm::Crc64Nvme => &self.crc64nvme,
            ChecksumAlgorithm::Sha1 => &self.sha1,
            ChecksumAlgorithm::Sha256 => &self.sha256,
        }
    }

    pub fn get(&self, algorithm: ChecksumAlgorithm) -> Option<&str> {
        self.slot(algorithm).as_deref()
    }

    pub fn set(&mut self, algorithm: ChecksumAlgorithm, value: String) {
        let slot = match algorithm {
            ChecksumAlgorithm::Crc32 => &mut self.crc32,
            ChecksumAlgorithm::Crc32c => &mut self.crc32c,
            ChecksumAlgorithm::Crc64Nvme => &mut self.crc64nvme,
            ChecksumAlgorithm::Sha1 => &mut self.sha1,
            ChecksumAlgorithm::Sha256 => &mut self.sha256,
        };
        *slot = Some(value);
    }

    /// The values present, in a fixed algorithm order.
    pub fn iter(&self) -> impl Iterator<Item = (ChecksumAlgorithm, &str)> {
        ChecksumAlgorithm::ALL.into_iter().filter_map(|a| self.get(a).map(|v| (a, v)))
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// MD5 (for the ETag) and any additional checksums, computed in one pass over the bytes.
pub(crate) struct Digester {
    md5: Option<Md5>,
    sums: ChecksumHasher,
}

impl Digester {
    pub(crate) fn new(md5: bool, algorithms: &[ChecksumAlgorithm]) -> Digester {
        let mut sums = ChecksumHasher::default();
        for algorithm in algorithms {
            match algorithm {
                ChecksumAlgorithm::Crc32 => sums.crc32 = Some(Crc32::new()),
                ChecksumAlgorithm::Crc32c => sums.crc32c = Some(Crc32c::new()),
                ChecksumAlgorithm::Crc64Nvme => sums.crc64nvme = Some(Crc64Nvme::new()),
                ChecksumAlgorithm::Sha1 => sums.sha1 = Some(Sha1::new()),
                ChecksumAlgorithm::Sha256 => sums.sha256 = Some(Sha256::new()),
            }
        }
        Digester { md5: md5.then(Md5::new), sums }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        self.sums.update(data);
    }

    pub(crate) fn finish(self) -> (Option<[u8; 16]>, Checksums) {
        let md5 = self.md5.map(|m| m.finalize().into());
        let sums = self.sums.finalize();
        let checksums = Checksums {
            crc32: sums.checksum_crc32,
            crc32c: sums.checksum_crc32c,
            crc64nvme: sums.checksum_crc64nvme,
            sha1: sums.checksum_sha1,
            sha256: sums.checksum_sha256,
        };
        (md5, checksums)
    }
}

/// S3's composite checksum of a multipart object: the checksum of the concatenated raw part checksums,
/// suffixed with the part count. `None` if a part value is not valid base64.
pub(crate) fn composite(algorithm: ChecksumAlgorithm, part_values: &[&str]) -> Option<String> {
    let mut raw = Vec::with_capacity(part_values.len() * algorithm.digest_len());
    for value in part_values {
        raw.extend(BASE64.decode(value).ok()?);
    }
    Some(format!("{}-{}", BASE64.encode(algorithm.digest(&raw)), part_values.len()))
}

/// The multipart ETag: MD5 of the concatenated binary part MD5s, then `-<part count>`.
pub(crate) fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut md5 = Md5::new();
    for part in part_md5s {
        md5.update(part);
    }
    format!("{}-{}", hex::encode(md5.finalize()), part_md5s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_and_md5_of_hello_world_match_zlib_and_md5sum() {
        let mut digester = Digester::new(true, &[ChecksumAlgorithm::Crc32]);
        digester.update(b"Hello, World!");
        let (md5, sums) = digester.finish();
        assert_eq!(sums.crc32.as_deref(), Some("7ErD0A=="));
        assert_eq!(md5.map(hex::encode).as_deref(), Some("65a8e27d8879283831b664bd8b7f0ad4"));
    }

    #[test]
    fn checksum_values_must_be_base64_of_the_digest_length() {
        assert!(ChecksumAlgorithm::Crc32.is_valid_value("7ErD0A=="));
        assert!(!ChecksumAlgorithm::Crc32.is_valid_value("not base64"));
        assert!(!ChecksumAlgorithm::Sha256.is_valid_value("7ErD0A=="));
    }

    #[test]
    fn multipart_etag_has_the_part_count_suffix() {
        assert!(multipart_etag(&[[0; 16], [1; 16], [2; 16]]).ends_with("-3"));
    }
}
