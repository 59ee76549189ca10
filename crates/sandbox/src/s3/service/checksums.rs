//! What a request says about its body's checksums (a header, a declared algorithm, a trailer), and the checks
//! of the received bytes against them, Content-MD5 and Content-Length.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;
use s3s::dto;
use s3s::{S3Result, s3_error};

use super::super::checksum::{ChecksumAlgorithm, Checksums};

use super::errors::*;

/// What a request says about the checksum of its body.
pub(super) struct ChecksumRequest {
    /// A value sent as a header (S3 allows one).
    header: Option<(ChecksumAlgorithm, String)>,
    /// `x-amz-sdk-checksum-algorithm`.
    declared: Option<ChecksumAlgorithm>,
    /// The checksum named in `x-amz-trailer`, whose value follows the aws-chunked body.
    trailer: Option<ChecksumAlgorithm>,
}

impl ChecksumRequest {
    pub(super) fn parse(
        values: [(ChecksumAlgorithm, Option<&String>); 5],
        declared: Option<&dto::ChecksumAlgorithm>,
        headers: &HeaderMap,
    ) -> S3Result<ChecksumRequest> {
        let mut given = values.into_iter().filter_map(|(a, v)| v.map(|v| (a, v.clone())));
        let header = given.next();
        if given.next().is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        if let Some((algorithm, value)) = &header
            && !algorithm.is_valid_value(value)
        {
            return Err(invalid_checksum_header(*algorithm));
        }
        let declared = declared
            .map(|d| {
                ChecksumAlgorithm::parse(d.as_str()).ok_or_else(|| {
                    s3_error!(
                        InvalidRequest,
                        "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"
                    )
                })
            })
            .transpose()?;
        let trailer = headers
            .get_all("x-amz-trailer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|name| {
                ChecksumAlgorithm::ALL.into_iter().find(|a| a.header().eq_ignore_ascii_case(name.trim()))
            });
        Ok(ChecksumRequest { header, declared, trailer })
    }

    /// The algorithm the client computed, if any.
    pub(super) fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.header.as_ref().map(|(a, _)| *a).or(self.trailer).or(self.declared)
    }

    /// The checksums to compute while receiving the body.
    pub(super) fn algorithms(&self, also: Option<ChecksumAlgorithm>) -> Vec<ChecksumAlgorithm> {
        let mut all: Vec<ChecksumAlgorithm> =
            [self.header.as_ref().map(|(a, _)| *a), self.trailer, self.declared, also]
                .into_iter()
                .flatten()
                .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Checks the received bytes against the header value and the trailer value (available once the body has
    /// been read).
    pub(super) fn verify(&self, computed: &Checksums, trailers: Option<HeaderMap>) -> S3Result<()> {
        let mut expected = Vec::new();
        if let Some((algorithm, value)) = &self.header {
            expected.push((*algorithm, value.clone()));
        }
        if let Some(algorithm) = self.trailer {
            let value = trailers
                .as_ref()
                .and_then(|t| t.get(algorithm.header()))
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| algorithm.is_valid_value(v))
                .ok_or_else(|| invalid_checksum_header(algorithm))?;
            expected.push((algorithm, value.to_string()));
        }
        for (algorithm, value) in expected {
            if computed.get(algorithm) != Some(value.as_str()) {
                return Err(bad_digest(algorithm));
            }
        }
        Ok(())
    }
}

pub(super) fn verify_content_md5(content_md5: Option<&String>, md5_hex: Option<String>) -> S3Result<()> {
    let Some(given) = content_md5 else { return Ok(()) };
    let given = BASE64
        .decode(given)
        .ok()
        .filter(|raw| raw.len() == 16)
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."))?;
    if md5_hex != Some(hex::encode(given)) {
        return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
    }
    Ok(())
}

pub(super) fn check_length(declared: Option<i64>, received: u64) -> S3Result<()> {
    match declared {
        Some(n) if u64::try_from(n).ok() != Some(received) => Err(s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        )),
        _ => Ok(()),
    }
}

/// The five `checksum_*` fields of a DTO, in [`ChecksumAlgorithm::ALL`] order.
macro_rules! checksum_fields {
    ($x:expr) => {
        [
            (ChecksumAlgorithm::Crc32, $x.checksum_crc32.as_ref()),
            (ChecksumAlgorithm::Crc32c, $x.checksum_crc32c.as_ref()),
            (ChecksumAlgorithm::Crc64Nvme, $x.checksum_crc64nvme.as_ref()),
            (ChecksumAlgorithm::Sha1, $x.checksum_sha1.as_ref()),
            (ChecksumAlgorithm::Sha256, $x.checksum_sha256.as_ref()),
        ]
    };
}

/// Sets a DTO's five `checksum_*` fields from stored checksums.
macro_rules! set_checksums {
    ($x:expr, $sums:expr) => {{
        let sums: &Checksums = $sums;
        $x.checksum_crc32 = sums.crc32.clone();
        $x.checksum_crc32c = sums.crc32c.clone();
        $x.checksum_crc64nvme = sums.crc64nvme.clone();
        $x.checksum_sha1 = sums.sha1.clone();
        $x.checksum_sha256 = sums.sha256.clone();
    }};
}

pub(super) fn checksums_from(values: [(ChecksumAlgorithm, Option<&String>); 5]) -> Checksums {
    let mut sums = Checksums::default();
    for (algorithm, value) in values {
        if let Some(value) = value {
            sums.set(algorithm, value.clone());
        }
    }
    sums
}

pub(super) fn checksum_mode_enabled(mode: Option<&dto::ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(dto::ChecksumMode::ENABLED))
}

pub(super) fn parse_checksum_algorithm(a: &dto::ChecksumAlgorithm) -> S3Result<ChecksumAlgorithm> {
    ChecksumAlgorithm::parse(a.as_str())
        .ok_or_else(|| s3_error!(InvalidRequest, "Checksum algorithm provided is unsupported."))
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use s3s::S3ErrorCode;

    use super::*;
    use crate::s3::{ChecksumAlgorithm, Checksums};

    fn trailer_request() -> ChecksumRequest {
        ChecksumRequest {
            header: None,
            declared: Some(ChecksumAlgorithm::Crc32),
            trailer: Some(ChecksumAlgorithm::Crc32),
        }
    }

    fn hello_world_crc32() -> Checksums {
        Checksums { crc32: Some("7ErD0A==".into()), ..Checksums::default() }
    }

    fn trailers(value: &str) -> HeaderMap {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-amz-checksum-crc32", value.parse().expect("header value"));
        trailers
    }

    #[test]
    fn a_trailing_checksum_is_checked_against_the_received_bytes() {
        let request = trailer_request();
        assert!(request.verify(&hello_world_crc32(), Some(trailers("7ErD0A=="))).is_ok());
        let mismatch =
            request.verify(&hello_world_crc32(), Some(trailers("AAAAAA=="))).expect_err("mismatch");
        assert_eq!(mismatch.code(), &S3ErrorCode::BadDigest);
    }

    #[test]
    fn an_announced_trailer_that_never_comes_is_an_invalid_request() {
        let missing = trailer_request().verify(&hello_world_crc32(), None).expect_err("missing trailer");
        assert_eq!(missing.code(), &S3ErrorCode::InvalidRequest);
        let garbled =
            trailer_request().verify(&hello_world_crc32(), Some(trailers("garbage"))).expect_err("garbled");
        assert_eq!(garbled.code(), &S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn two_checksum_headers_are_refused() {
        let crc32 = "7ErD0A==".to_string();
        let values = [
            (ChecksumAlgorithm::Crc32, Some(&crc32)),
            (ChecksumAlgorithm::Crc32c, Some(&crc32)),
            (ChecksumAlgorithm::Crc64Nvme, None),
            (ChecksumAlgorithm::Sha1, None),
            (ChecksumAlgorithm::Sha256, None),
        ];
        let err = ChecksumRequest::parse(values, None, &HeaderMap::new()).err().expect("refused");
        assert_eq!(err.code(), &S3ErrorCode::InvalidRequest);
    }
}
