//! Planning an upload: the file as it is when the upload begins, cut into parts, each part's CRC32C read once.
//!
//! The plan is the reference every later step proves against: a part S3 already holds is kept only if its
//! checksum is the plan's, a part read to be sent must have the plan's checksum (or the file changed while it was
//! being sent), and the object must end with the plan's composite checksum. One read of the file buys all three.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::AwsError;

/// A file as it was when its upload was planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub path: PathBuf,
    /// The bytes the object holds: the file's, or the NDJSON made from it (decompressed, unbundled).
    pub size: u64,
    /// The file's own size on disk, which `unchanged` checks (`size` for a file sent as it is).
    pub file_size: u64,
    /// Modification time in nanoseconds since the epoch (0 where the file system does not say).
    pub mtime_ns: i64,
    /// Bytes per part; the last part may be shorter. A file sent in one PUT is one part.
    pub part_size: u64,
    /// Each part's CRC32C, part 1 first.
    pub part_crcs: Vec<u32>,
    /// The CRC32C of the whole file.
    pub crc32c: u32,
}

/// Size and modification time: what a rewrite of the file changes (a rewrite that restores both is caught by the
/// parts' checksums instead).
pub(super) fn stamp(path: &Path) -> Result<(u64, i64), AwsError> {
    let meta = std::fs::metadata(path).map_err(|source| AwsError::Io { path: path.into(), source })?;
    if !meta.is_file() {
        return Err(AwsError::Input(format!(
            "{}: not a regular file; only regular files can be uploaded",
            path.display()
        )));
    }
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    Ok((meta.len(), mtime_ns))
}

impl Plan {
    /// Reads the file once, part by part. Blocking: call it off the async threads.
    pub fn read(path: &Path, part_size_for: impl Fn(u64) -> u64) -> Result<Plan, AwsError> {
        let io = |source| AwsError::Io { path: path.into(), source };
        let (size, mtime_ns) = stamp(path)?;
        let part_size = part_size_for(size).max(1);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut buf = vec![0u8; part_size.min(size.max(1)) as usize];
        let mut part_crcs = Vec::with_capacity(size.div_ceil(part_size) as usize);
        let mut whole: Option<u64> = None;
        let mut read_total = 0u64;
        loop {
            let len = part_len(part_crcs.len() as u32 + 1, part_size, size) as usize;
            if len == 0 {
                break;
            }
            file.read_exact(&mut buf[..len]).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    changed(path, "it became shorter while it was being read")
                }
                _ => io(e),
            })?;
            let crc = crc_fast::crc32_iscsi(&buf[..len]);
            whole = Some(match whole {
                None => u64::from(crc),
                Some(c) => crc_fast::checksum_combine(
                    crc_fast::CrcAlgorithm::Crc32Iscsi,
                    c,
                    u64::from(crc),
                    len as u64,
                ),
            });
            part_crcs.push(crc);
            read_total += len as u64;
        }
        let plan = Plan {
            path: path.into(),
            size: read_total,
            file_size: read_total,
            mtime_ns,
            part_size,
            part_crcs,
            crc32c: whole.map_or(0, |c| c as u32),
        };
        // Written to while it was read: the parts may mix two versions of the file.
        plan.unchanged()?;
        Ok(plan)
    }

    /// Fails when the file's size or modification time is no longer what the plan saw.
    pub fn unchanged(&self) -> Result<(), AwsError> {
        let (size, mtime_ns) = stamp(&self.path)?;
        if size != self.file_size {
            return Err(changed(&self.path, &format!("it was {} bytes and is now {size}", self.file_size)));
        }
        if mtime_ns != self.mtime_ns {
            return Err(changed(&self.path, "it was modified"));
        }
        Ok(())
    }

    pub fn parts_total(&self) -> u32 {
        self.part_crcs.len() as u32
    }

    /// Where part `number` (1-based) starts, and its length.
    pub fn part_range(&self, number: u32) -> (u64, u64) {
        ((u64::from(number) - 1) * self.part_size, part_len(number, self.part_size, self.size))
    }

    /// Part `number`'s CRC32C as S3 writes it.
    pub fn part_checksum(&self, number: u32) -> String {
        self.part_crcs.get(number as usize - 1).map_or_else(String::new, |&c| crc_base64(c))
    }

    /// The whole file's CRC32C as S3 writes it.
    pub fn checksum(&self) -> String {
        crc_base64(self.crc32c)
    }

    /// S3's checksum of the object a multipart upload of this plan makes: the CRC32C of the parts' CRC32Cs
    /// (big-endian, in order), then `-N`.
    pub fn composite_checksum(&self) -> String {
        let joined: Vec<u8> = self.part_crcs.iter().flat_map(|c| c.to_be_bytes()).collect();
        format!("{}-{}", crc_base64(crc_fast::crc32_iscsi(&joined)), self.part_crcs.len())
    }

    /// Reads part `number` and proves it is the plan's: the bytes read now must have the CRC32C read when the
    /// upload was planned, or the file changed under the upload.
    pub async fn read_part(&self, number: u32) -> Result<Vec<u8>, AwsError> {
        let (start, len) = self.part_range(number);
        let body = read_range(&self.path, start, len).await?;
        let crc = crc_fast::crc32_iscsi(&body);
        if Some(&crc) != self.part_crcs.get(number as usize - 1) {
            return Err(changed(
                &self.path,
                &format!("part {number} (bytes {start} to {}) no longer holds what it held", start + len),
            ));
        }
        Ok(body)
    }
}

/// The byte length of part `number` (1-based).
pub fn part_len(number: u32, part_size: u64, size: u64) -> u64 {
    let start = (u64::from(number) - 1) * part_size;
    part_size.min(size.saturating_sub(start))
}

/// CRC32C as S3 writes it: the 4 big-endian bytes, base64.
pub fn crc_base64(crc: u32) -> String {
    aws_smithy_types::base64::encode(crc.to_be_bytes())
}

/// The file changed while Lakedrop was uploading it: nothing of it is kept as the object.
pub fn changed(path: &Path, how: &str) -> AwsError {
    AwsError::FileChanged {
        path: path.into(),
        message: format!(
            "the file changed while it was being uploaded ({how}), so nothing of it was kept in S3; run the same \
             command again once nothing is writing to it"
        ),
    }
}

async fn read_range(path: &Path, start: u64, len: u64) -> Result<Vec<u8>, AwsError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::{Seek, SeekFrom};
        let io = |source| AwsError::Io { path: path.clone(), source };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut body = vec![0u8; len as usize];
        file.read_exact(&mut body).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => changed(&path, "it became shorter during the upload"),
            _ => io(e),
        })?;
        Ok(body)
    })
    .await
    .map_err(|e| AwsError::Input(format!("reading a part stopped: {e}")))?
}

/// Plans an upload off the async threads.
pub async fn plan(
    path: &Path,
    part_size_for: impl Fn(u64) -> u64 + Send + 'static,
) -> Result<Plan, AwsError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || Plan::read(&path, part_size_for))
        .await
        .map_err(|e| AwsError::Input(format!("reading the file stopped: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
        let path = dir.join("f.ndjson");
        std::fs::write(&path, bytes).expect("write");
        path
    }

    #[test]
    fn a_plan_holds_each_parts_crc_and_the_whole_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let path = write(dir.path(), &data);
        let plan = Plan::read(&path, |_| 8192).expect("plan");
        assert_eq!(plan.parts_total(), 3);
        assert_eq!(plan.part_range(3), (16_384, 20_000 - 16_384));
        assert_eq!(plan.crc32c, crc_fast::crc32_iscsi(&data));
        assert_eq!(plan.part_checksum(2), crc_base64(crc_fast::crc32_iscsi(&data[8192..16_384])));
        let joined: Vec<u8> =
            data.chunks(8192).flat_map(|c| crc_fast::crc32_iscsi(c).to_be_bytes()).collect();
        assert_eq!(plan.composite_checksum(), format!("{}-3", crc_base64(crc_fast::crc32_iscsi(&joined))));
    }

    #[test]
    fn an_empty_file_is_no_parts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = Plan::read(&write(dir.path(), b""), |_| 8192).expect("plan");
        assert_eq!((plan.size, plan.parts_total(), plan.crc32c), (0, 0, 0));
    }

    #[tokio::test]
    async fn a_part_rewritten_after_planning_is_refused_even_with_size_and_time_restored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), &[1u8; 10_000]);
        let plan = Plan::read(&path, |_| 4096).expect("plan");
        let mtime = std::fs::metadata(&path).expect("meta").modified().expect("mtime");
        let mut data = vec![1u8; 10_000];
        data[5000] = 2;
        std::fs::write(&path, &data).expect("rewrite");
        std::fs::File::options().write(true).open(&path).expect("open").set_modified(mtime).expect("mtime");
        plan.unchanged().expect("size and time are restored");
        assert_eq!(plan.read_part(1).await.expect("part 1 unchanged"), vec![1u8; 4096]);
        let err = plan.read_part(2).await.expect_err("part 2 changed");
        assert!(err.to_string().contains("part 2"), "{err}");
    }

    #[test]
    fn a_grown_file_is_seen_as_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), &[1u8; 100]);
        let plan = Plan::read(&path, |_| 4096).expect("plan");
        std::fs::write(&path, [1u8; 101]).expect("grow");
        let err = plan.unchanged().expect_err("grown");
        assert!(err.to_string().contains("was 100 bytes and is now 101"), "{err}");
    }

    #[test]
    fn crc32c_is_written_as_s3_writes_it() {
        // The CRC-32C check value of "123456789" is 0xE3069283.
        assert_eq!(crc_fast::crc32_iscsi(b"123456789"), 0xe306_9283);
        assert_eq!(crc_base64(0xe306_9283), "4waSgw==");
    }

    #[test]
    fn parts_lengths() {
        assert_eq!(part_len(3, 8, 20), 4);
        assert_eq!(part_len(2, 8, 16), 8);
        assert_eq!(part_len(3, 8, 16), 0);
    }
}
