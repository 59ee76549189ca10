//! Proving what S3 already holds: an object at the key, or the parts of an interrupted upload. Something is
//! kept only when its bytes are proven to be the plan's (the file's when the upload began); anything that cannot
//! be proven is sent again.

use aws_sdk_s3::types::ChecksumMode;
use lakedrop_core::state::{DonePart, PendingUpload, State};
use md5::{Digest, Md5};

use super::plan::Plan;
use super::{ObjectTarget, Outcome, Transferred};
use crate::AwsError;
use crate::retry::with_retries;

/// A part S3 says an upload holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPart {
    pub number: u32,
    pub etag: String,
    /// Its CRC32C, when S3 lists it (some implementations, moto 5.2.6 among them, do not).
    pub checksum: Option<String>,
}

/// The parts of an interrupted upload that can be kept. A part S3 lists with a checksum is kept when that checksum
/// is the plan's; a part listed without one is kept only when it is the very part acknowledged to this machine
/// (the ETag recorded for it) and what was recorded as sent is the plan's. Anything else is sent again, which
/// replaces it under its number.
pub fn keepable(plan: &Plan, held: &[HeldPart], recorded: &[DonePart]) -> Vec<DonePart> {
    let recorded: std::collections::HashMap<u32, &DonePart> =
        recorded.iter().map(|p| (p.part_number, p)).collect();
    let mut keep: Vec<DonePart> = held
        .iter()
        .filter(|part| part.number >= 1 && part.number <= plan.parts_total())
        .filter(|part| {
            let wanted = plan.part_checksum(part.number);
            match &part.checksum {
                Some(listed) => *listed == wanted,
                None => recorded.get(&part.number).is_some_and(|r| r.etag == part.etag && r.crc32c == wanted),
            }
        })
        .map(|part| DonePart {
            part_number: part.number,
            etag: part.etag.clone(),
            crc32c: plan.part_checksum(part.number),
        })
        .collect();
    keep.sort_by_key(|p| p.part_number);
    keep.dedup_by_key(|p| p.part_number);
    keep
}

/// What S3 reports of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub transferred: Transferred,
    /// Its CRC32C as S3 reports it: of the whole object, or composite (`…-N`) for a multipart upload.
    pub checksum: Option<String>,
}

/// Whether an object is the plan's file, from what S3 reports and what this machine recorded. `records` are, in
/// order of preference: the CRC32C recorded when this machine finished uploading an object with that ETag, and the
/// parts recorded for an upload of this plan whose completion was never seen (S3's multipart ETag is the MD5 of its
/// parts' ETags, so the parts prove the object).
pub fn is_plan(plan: &Plan, head: &Head, recorded_crc: Option<&str>, recorded_parts: &[DonePart]) -> bool {
    if head.transferred.bytes != plan.size {
        return false;
    }
    if let Some(reported) = &head.checksum {
        match reported.split_once('-') {
            None if *reported == plan.checksum() => return true,
            None if plan.parts_total() <= 1 => return false,
            // The checksum of a multipart object without a part count: a full-object checksum that is not the
            // file's, or (moto) a composite one written without its count and not computable here. The records
            // decide.
            None => {}
            Some((_, count)) if count.parse::<u32>().ok() == Some(plan.parts_total()) => {
                return *reported == plan.composite_checksum();
            }
            // Cut into other parts than this plan's: the checksum cannot tell; the records may.
            Some(_) => {}
        }
    }
    if recorded_crc == Some(plan.checksum().as_str()) {
        return true;
    }
    let whole_plan = recorded_parts.len() as u32 == plan.parts_total()
        && recorded_parts
            .iter()
            .enumerate()
            .all(|(i, p)| p.part_number == i as u32 + 1 && p.crc32c == plan.part_checksum(p.part_number));
    whole_plan
        && !recorded_parts.is_empty()
        && multipart_etag(recorded_parts) == Some(head.transferred.etag.clone())
}

/// S3's ETag of a multipart object made of these parts: the MD5 of their binary MD5s, then `-N`, quoted.
fn multipart_etag(parts: &[DonePart]) -> Option<String> {
    let mut md5 = Md5::new();
    for part in parts {
        md5.update(hex::decode(part.etag.trim_matches('"')).ok()?);
    }
    Some(format!("\"{}-{}\"", hex::encode(md5.finalize()), parts.len()))
}

/// What S3 says about the object at the target; `None` when there is none.
pub async fn head(s3: &aws_sdk_s3::Client, target: &ObjectTarget<'_>) -> Result<Option<Head>, AwsError> {
    let out = with_retries("HeadObject", "the object's details", || {
        s3.head_object().bucket(target.bucket).key(target.key).checksum_mode(ChecksumMode::Enabled).send()
    })
    .await;
    let out = match out {
        Ok(out) => out,
        Err(AwsError::NotFound { .. }) => return Ok(None),
        // A HEAD on a missing key comes back as a bare 404 without an error code.
        Err(AwsError::Service { code, .. }) if code == "NotFound" || code == "Unknown" => return Ok(None),
        Err(e) => return Err(e),
    };
    let transferred = Transferred {
        key: target.key.to_string(),
        bytes: out.content_length().unwrap_or(0).max(0) as u64,
        bytes_sent: 0,
        outcome: Outcome::Uploaded,
        crc32c: out.checksum_crc32_c().unwrap_or_default().to_string(),
        server_side_encryption: out.server_side_encryption().map(|s| s.as_str().to_string()),
        kms_key_id: out.ssekms_key_id().map(str::to_string),
        etag: out.e_tag().unwrap_or_default().to_string(),
    };
    Ok(Some(Head { transferred, checksum: out.checksum_crc32_c().map(str::to_string) }))
}

/// The object at the target, if it is proven to hold the plan's file: uploaded before (by this machine or any
/// other), or completed on S3's side by an upload whose answer never arrived (a crash during completion).
pub async fn existing(
    s3: &aws_sdk_s3::Client,
    state: &State,
    target: &ObjectTarget<'_>,
    plan: &Plan,
    pending: Option<&PendingUpload>,
) -> Result<Option<Transferred>, AwsError> {
    let Some(head) = head(s3, target).await? else { return Ok(None) };
    if head.transferred.bytes != plan.size {
        return Ok(None);
    }
    let recorded_crc = state.uploaded_crc(target.bucket, target.key, &head.transferred.etag, plan.size)?;
    let recorded_parts = match pending {
        Some(p) if p.part_size == plan.part_size => state.done_parts(&p.upload_id)?,
        _ => Vec::new(),
    };
    Ok(is_plan(plan, &head, recorded_crc.as_deref(), &recorded_parts)
        .then(|| Transferred { crc32c: plan.checksum(), ..head.transferred }))
}

/// The parts S3 holds for an upload; `None` when S3 no longer knows the upload (aborted, or completed).
pub async fn listed_parts(
    s3: &aws_sdk_s3::Client,
    pending: &PendingUpload,
) -> Result<Option<Vec<HeldPart>>, AwsError> {
    let mut held = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let listed = with_retries("ListParts", "the parts already sent", || {
            s3.list_parts()
                .bucket(&pending.bucket)
                .key(&pending.key)
                .upload_id(&pending.upload_id)
                .set_part_number_marker(marker.clone())
                .send()
        })
        .await;
        let listed = match listed {
            Ok(listed) => listed,
            Err(AwsError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        for part in listed.parts() {
            let (Some(number), Some(etag)) = (part.part_number(), part.e_tag()) else { continue };
            held.push(HeldPart {
                number: number as u32,
                etag: etag.to_string(),
                checksum: part.checksum_crc32_c().map(str::to_string),
            });
        }
        marker = listed.next_part_number_marker().map(str::to_string);
        if listed.is_truncated() != Some(true) || marker.is_none() {
            break;
        }
    }
    Ok(Some(held))
}

/// The parts of an interrupted upload worth keeping, or `None` when S3 no longer knows the upload.
pub async fn resumable(
    s3: &aws_sdk_s3::Client,
    state: &State,
    pending: &PendingUpload,
    plan: &Plan,
) -> Result<Option<Vec<DonePart>>, AwsError> {
    let recorded = state.done_parts(&pending.upload_id)?;
    let held = match listed_parts(s3, pending).await {
        Ok(Some(held)) => held,
        Ok(None) => return Ok(None),
        // S3 could not say (moto before 5.2.6 answers ListParts in a form the SDK cannot read): fall back on the
        // parts recorded here as S3 acknowledged them; CompleteMultipartUpload still checks each ETag, and a part
        // replaced since makes it refuse (InvalidPart), which starts the upload over.
        Err(e) => {
            tracing::warn!(error = %e, "ListParts failed; resuming from the parts recorded locally");
            recorded
                .iter()
                .map(|p| HeldPart {
                    number: p.part_number,
                    etag: p.etag.clone(),
                    checksum: Some(p.crc32c.clone()),
                })
                .collect()
        }
    };
    Ok(Some(keepable(plan, &held, &recorded)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::plan::crc_base64;

    fn plan(parts: &[&[u8]]) -> Plan {
        let data: Vec<u8> = parts.concat();
        Plan {
            path: "f".into(),
            size: data.len() as u64,
            file_size: data.len() as u64,
            mtime_ns: 0,
            part_size: parts[0].len() as u64,
            part_crcs: parts.iter().map(|p| crc_fast::crc32_iscsi(p)).collect(),
            crc32c: crc_fast::crc32_iscsi(&data),
        }
    }

    fn done(number: u32, etag: &str, crc: &str) -> DonePart {
        DonePart { part_number: number, etag: etag.into(), crc32c: crc.into() }
    }

    #[test]
    fn a_listed_part_is_kept_only_with_the_plans_checksum() {
        let plan = plan(&[b"aaaa", b"bbbb", b"cc"]);
        let held = [
            HeldPart { number: 1, etag: "\"1\"".into(), checksum: Some(plan.part_checksum(1)) },
            HeldPart { number: 2, etag: "\"2\"".into(), checksum: Some(crc_base64(7)) },
        ];
        let keep = keepable(&plan, &held, &[]);
        assert_eq!(keep, vec![done(1, "\"1\"", &plan.part_checksum(1))]);
    }

    // Regression (issue 16): a part listed without a checksum was kept on its recorded ETag alone, though the file
    // had changed since (same size and modification time), and the object mixed the old part with the new rest.
    #[test]
    fn a_part_listed_without_checksum_needs_its_etag_and_the_recorded_checksum_to_be_the_plans() {
        let plan = plan(&[b"aaaa", b"bbbb", b"cc"]);
        let held = [
            HeldPart { number: 1, etag: "\"1\"".into(), checksum: None },
            HeldPart { number: 2, etag: "\"2\"".into(), checksum: None },
            HeldPart { number: 3, etag: "\"3\"".into(), checksum: None },
        ];
        let recorded = [
            done(1, "\"1\"", &plan.part_checksum(1)),
            // Sent from the file as it was before it changed.
            done(2, "\"2\"", &crc_base64(crc_fast::crc32_iscsi(b"BBBB"))),
            // Not the part S3 holds now.
            done(3, "\"other\"", &plan.part_checksum(3)),
        ];
        assert_eq!(keepable(&plan, &held, &recorded), vec![done(1, "\"1\"", &plan.part_checksum(1))]);
    }

    #[test]
    fn parts_beyond_the_plan_are_not_kept() {
        let plan = plan(&[b"aaaa"]);
        let held = [HeldPart { number: 2, etag: "\"2\"".into(), checksum: Some(plan.part_checksum(1)) }];
        assert!(keepable(&plan, &held, &[]).is_empty());
    }

    fn head(bytes: u64, etag: &str, checksum: Option<String>) -> Head {
        Head {
            transferred: Transferred {
                key: "k".into(),
                bytes,
                bytes_sent: 0,
                outcome: Outcome::Uploaded,
                crc32c: String::new(),
                server_side_encryption: None,
                kms_key_id: None,
                etag: etag.into(),
            },
            checksum,
        }
    }

    #[test]
    fn an_object_is_the_plan_by_its_reported_checksum() {
        let plan = plan(&[b"aaaa", b"bbbb", b"cc"]);
        assert!(is_plan(&plan, &head(10, "\"e\"", Some(plan.composite_checksum())), None, &[]));
        assert!(is_plan(&plan, &head(10, "\"e\"", Some(plan.checksum())), None, &[]));
        assert!(!is_plan(&plan, &head(10, "\"e\"", Some(crc_base64(1))), None, &[]));
        assert!(!is_plan(&plan, &head(11, "\"e\"", Some(plan.checksum())), None, &[]));
        // A composite checksum that disagrees is not overruled by a record, nor a single part's.
        let wrong_composite = format!("{}-3", crc_base64(1));
        assert!(!is_plan(&plan, &head(10, "\"e\"", Some(wrong_composite)), Some(&plan.checksum()), &[]));
        let one = self::plan(&[b"aaaa"]);
        assert!(!is_plan(&one, &head(4, "\"e\"", Some(crc_base64(1))), Some(&one.checksum()), &[]));
        // A multipart object's checksum without a count (moto's) cannot be computed here: the records decide.
        assert!(is_plan(&plan, &head(10, "\"e\"", Some(crc_base64(1))), Some(&plan.checksum()), &[]));
        assert!(!is_plan(&plan, &head(10, "\"e\"", Some(crc_base64(1))), None, &[]));
    }

    #[test]
    fn without_a_reported_checksum_the_records_prove_the_object() {
        let plan = plan(&[b"aaaa", b"bbbb", b"cc"]);
        assert!(is_plan(&plan, &head(10, "\"e\"", None), Some(&plan.checksum()), &[]));
        assert!(!is_plan(&plan, &head(10, "\"e\"", None), Some(&crc_base64(1)), &[]));
        // Completed on S3's side after a crash: the parts recorded make the object's ETag.
        let etags = [
            "0cc175b9c0f1b6a831c399e269772661",
            "92eb5ffee6ae2fec3ad71c777531578f",
            "4a8a08f09d37b73795649038408b5f33",
        ];
        let parts: Vec<DonePart> = etags
            .iter()
            .enumerate()
            .map(|(i, e)| done(i as u32 + 1, &format!("\"{e}\""), &plan.part_checksum(i as u32 + 1)))
            .collect();
        let etag = multipart_etag(&parts).expect("etag");
        assert!(etag.ends_with("-3\""), "{etag}");
        assert!(is_plan(&plan, &head(10, &etag, None), None, &parts));
        assert!(!is_plan(&plan, &head(10, "\"deadbeef-3\"", None), None, &parts));
        // Parts recorded from another version of the file prove nothing.
        let mut stale = parts.clone();
        stale[1].crc32c = crc_base64(5);
        assert!(!is_plan(&plan, &head(10, &multipart_etag(&stale).expect("etag"), None), None, &stale));
    }
}
