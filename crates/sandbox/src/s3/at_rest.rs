//! Objects at rest: S3's envelope encryption. Every object and every part is sealed under a data key of its
//! own, made when its bytes arrive; the data key is kept beside the object's metadata wrapped by a key that never
//! leaves the sandbox: the object's SSE-KMS key in the sandbox's KMS (so a disabled key makes the object
//! unreadable, as on AWS), or for SSE-S3 and S3's AWS-managed `aws/s3` key, the store's own root key, kept in the
//! store's database the way S3 keeps its managed keys to itself.
//!
//! The bytes are sealed with AES-256-GCM in chunks of 64 KiB, so that ranged reads decrypt only the chunks they
//! touch and nothing ever holds a whole object in memory. A sealed file is a 16-byte header (magic, chunk size,
//! an 8-byte random nonce prefix) followed by the chunks, each its ciphertext and 16-byte tag. A chunk's nonce is
//! the prefix and the chunk's index, and its associated data is the index plus whether it is the last chunk, so
//! chunks can be neither reordered nor dropped from the end without failing authentication. Checksums and ETags
//! are computed over the plaintext as it arrives, as S3 computes them.
//!
//! Files written before encryption at rest existed have no envelope and are read as they are.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::KeyProblem;

/// Plaintext bytes per chunk.
pub(crate) const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const MAGIC: &[u8; 4] = b"LDC1";
/// Magic, chunk size (u32, big-endian), nonce prefix.
const HEADER: usize = 16;
/// Chunk sizes a reader accepts from a header: room to change [`CHUNK`] later without trusting any size.
const MAX_CHUNK: usize = 16 * 1024 * 1024;

/// A 256-bit data key.
pub(crate) type DataKey = [u8; 32];

/// Data keys under KMS keys, for SSE-KMS objects: the sandbox's KMS, with GenerateDataKey's and Decrypt's
/// semantics (a missing or disabled key refuses both).
pub trait DataKeys: Send + Sync + 'static {
    /// A new data key under the KMS key `key_arn`: its plaintext and its wrapped form.
    fn generate(&self, key_arn: &str) -> Result<(DataKey, Vec<u8>), DataKeyError>;
    /// The plaintext of a data key `generate` wrapped.
    fn unwrap(&self, wrapped: &[u8]) -> Result<DataKey, DataKeyError>;
}

/// Why a data key could not be made or unwrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataKeyError {
    /// The KMS key is missing or disabled (S3 answers `KMS.NotFoundException` or `KMS.DisabledException`).
    #[error("the KMS key {key} cannot be used: {problem:?}")]
    Key { problem: KeyProblem, key: String },
    /// Anything else: no randomness, a wrapped key that does not open.
    #[error("data key: {0}")]
    Failed(String),
}

/// Which key wrapped an object's data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WrappedBy {
    /// The store's root key (SSE-S3, the AWS-managed `aws/s3` key, or no KMS attached to the store).
    Store,
    /// The object's KMS key, in the sandbox's KMS.
    Kms,
}

/// What is kept beside an object's metadata to open its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub wrapped_by: WrappedBy,
    /// The wrapped data key, base64.
    pub key: String,
}

impl Envelope {
    pub fn new(wrapped_by: WrappedBy, wrapped: &[u8]) -> Envelope {
        Envelope { wrapped_by, key: BASE64.encode(wrapped) }
    }

    pub fn wrapped(&self) -> io::Result<Vec<u8>> {
        BASE64.decode(&self.key).map_err(|_| invalid("an object's wrapped data key is not base64"))
    }
}

pub(crate) fn random<const N: usize>() -> io::Result<[u8; N]> {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(format!("no randomness: {e}")))?;
    Ok(bytes)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

fn cipher(key: &DataKey) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

/// Wraps a data key under the store's root key: a random nonce, then the sealed key.
pub(crate) fn wrap(root: &DataKey, key: &DataKey) -> io::Result<Vec<u8>> {
    let nonce = random::<12>()?;
    let mut sealed = key.to_vec();
    let tag = cipher(root)
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"data key", &mut sealed)
        .map_err(|_| io::Error::other("cannot wrap a data key"))?;
    Ok([nonce.as_slice(), &sealed, tag.as_slice()].concat())
}

/// Opens a data key [`wrap`] sealed.
pub(crate) fn unwrap(root: &DataKey, wrapped: &[u8]) -> io::Result<DataKey> {
    if wrapped.len() != 12 + 32 + TAG {
        return Err(invalid("an object's wrapped data key has the wrong length"));
    }
    let (nonce, rest) = wrapped.split_at(12);
    let (sealed, tag) = rest.split_at(32);
    let mut key: DataKey = sealed.try_into().map_err(|_| invalid("wrapped data key"))?;
    cipher(root)
        .decrypt_in_place_detached(Nonce::from_slice(nonce), b"data key", &mut key, Tag::from_slice(tag))
        .map_err(|_| invalid("an object's data key does not open under the store's root key"))?;
    Ok(key)
}

fn nonce(prefix: &[u8; 8], index: u64) -> io::Result<[u8; 12]> {
    let index = u32::try_from(index).map_err(|_| io::Error::other("object too large to seal"))?;
    let mut nonce = [0; 12];
    nonce[..8].copy_from_slice(prefix);
    nonce[8..].copy_from_slice(&index.to_be_bytes());
    Ok(nonce)
}

/// The associated data of a chunk: its index and whether it ends the object.
fn chunk_aad(index: u64, last: bool) -> [u8; 9] {
    let mut aad = [0; 9];
    aad[..8].copy_from_slice(&index.to_be_bytes());
    aad[8] = u8::from(last);
    aad
}

/// Seals what is written to it into `inner`, a chunk at a time. The chunk in progress is sealed only when more
/// bytes follow or at [`SealingWriter::finish`], so that the last chunk is known to be last.
pub(crate) struct SealingWriter<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    prefix: [u8; 8],
    buf: Vec<u8>,
    index: u64,
}

impl<W: Write> SealingWriter<W> {
    pub fn new(mut inner: W, key: &DataKey) -> io::Result<SealingWriter<W>> {
        let prefix = random::<8>()?;
        let chunk = u32::try_from(CHUNK).map_err(|_| io::Error::other("chunk size"))?;
        inner.write_all(MAGIC)?;
        inner.write_all(&chunk.to_be_bytes())?;
        inner.write_all(&prefix)?;
        Ok(SealingWriter { inner, cipher: cipher(key), prefix, buf: Vec::with_capacity(CHUNK), index: 0 })
    }

    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let nonce = nonce(&self.prefix, self.index)?;
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &chunk_aad(self.index, last), &mut self.buf)
            .map_err(|_| io::Error::other("cannot seal a chunk"))?;
        self.inner.write_all(&self.buf)?;
        self.inner.write_all(&tag)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals the last chunk (empty for an empty object) and hands back the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal_chunk(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.buf.len() == CHUNK {
            self.seal_chunk(false)?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads the plaintext of a sealed file of `len` plaintext bytes, with seeking; holds one chunk at a time.
pub(crate) struct OpeningReader<R: Read + Seek> {
    inner: R,
    cipher: Aes256Gcm,
    prefix: [u8; 8],
    chunk_size: u64,
    len: u64,
    pos: u64,
    /// The chunk in `buf`, decrypted.
    loaded: Option<u64>,
    buf: Vec<u8>,
    /// Where `inner` is, so that sequential reads need no seek.
    inner_pos: Option<u64>,
}

impl<R: Read + Seek> OpeningReader<R> {
    pub fn new(mut inner: R, key: &DataKey, len: u64) -> io::Result<OpeningReader<R>> {
        let mut header = [0; HEADER];
        inner.seek(SeekFrom::Start(0))?;
        inner.read_exact(&mut header).map_err(|_| invalid("sealed object data has no header"))?;
        if &header[..4] != MAGIC {
            return Err(invalid("object data is not sealed by this sandbox"));
        }
        let chunk_size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if chunk_size == 0 || chunk_size > MAX_CHUNK {
            return Err(invalid("sealed object data has an impossible chunk size"));
        }
        let mut prefix = [0; 8];
        prefix.copy_from_slice(&header[8..]);
        Ok(OpeningReader {
            inner,
            cipher: cipher(key),
            prefix,
            chunk_size: chunk_size as u64,
            len,
            pos: 0,
            loaded: None,
            buf: Vec::new(),
            inner_pos: Some(HEADER as u64),
        })
    }

    fn chunk_count(&self) -> u64 {
        self.len.div_ceil(self.chunk_size).max(1)
    }

    fn load(&mut self, index: u64) -> io::Result<()> {
        let start = index * self.chunk_size;
        let plain = usize::try_from(self.chunk_size.min(self.len - start)).map_err(io::Error::other)?;
        let offset = HEADER as u64 + index * (self.chunk_size + TAG as u64);
        if self.inner_pos != Some(offset) {
            self.inner.seek(SeekFrom::Start(offset))?;
        }
        self.loaded = None;
        self.inner_pos = None;
        self.buf.resize(plain + TAG, 0);
        self.inner.read_exact(&mut self.buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => invalid("object data is shorter than recorded"),
            _ => e,
        })?;
        let aad = chunk_aad(index, index + 1 == self.chunk_count());
        let nonce = nonce(&self.prefix, index)?;
        let (data, tag) = self.buf.split_at_mut(plain);
        let tag = Tag::clone_from_slice(tag);
        self.cipher
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, data, &tag)
            .map_err(|_| invalid("object data failed authentication: it was changed or damaged on disk"))?;
        self.buf.truncate(plain);
        self.inner_pos = Some(offset + (plain + TAG) as u64);
        self.loaded = Some(index);
        Ok(())
    }
}

impl<R: Read + Seek> Read for OpeningReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            return Ok(0);
        }
        let index = self.pos / self.chunk_size;
        if self.loaded != Some(index) {
            self.load(index)?;
        }
        let offset = usize::try_from(self.pos - index * self.chunk_size).map_err(io::Error::other)?;
        let n = out.len().min(self.buf.len() - offset);
        out[..n].copy_from_slice(&self.buf[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for OpeningReader<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos =
            target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// An object's (or part's) bytes as stored, read as plaintext: sealed, or plain if written before encryption at
/// rest.
pub struct ObjectReader(Stored);

enum Stored {
    Plain(File),
    Sealed(Box<OpeningReader<File>>),
}

impl ObjectReader {
    pub(crate) fn plain(file: File) -> ObjectReader {
        ObjectReader(Stored::Plain(file))
    }

    pub(crate) fn sealed(reader: OpeningReader<File>) -> ObjectReader {
        ObjectReader(Stored::Sealed(Box::new(reader)))
    }
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            Stored::Plain(file) => file.read(out),
            Stored::Sealed(reader) => reader.read(out),
        }
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match &mut self.0 {
            Stored::Plain(file) => file.seek(to),
            Stored::Sealed(reader) => reader.seek(to),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn seal(key: &DataKey, plain: &[u8]) -> Vec<u8> {
        let mut writer = SealingWriter::new(Vec::new(), key).expect("writer");
        // Uneven writes, as network chunks arrive.
        for piece in plain.chunks(10_007) {
            writer.write_all(piece).expect("write");
        }
        writer.finish().expect("finish")
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn sealed_bytes_read_back_whole_and_by_range_at_every_chunk_edge() {
        let key = random::<32>().expect("key");
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plain = sample(len);
            let sealed = seal(&key, &plain);
            assert_eq!(sealed.len(), HEADER + len + TAG * len.div_ceil(CHUNK).max(1), "len {len}");
            let mut reader = OpeningReader::new(Cursor::new(&sealed), &key, len as u64).expect("open");
            let mut back = Vec::new();
            reader.read_to_end(&mut back).expect("read");
            assert_eq!(back, plain, "len {len}");
            for start in [0, 1, CHUNK.saturating_sub(1), CHUNK, len.saturating_sub(5)] {
                let start = start.min(len);
                let end = (start + CHUNK + 3).min(len);
                reader.seek(SeekFrom::Start(start as u64)).expect("seek");
                let mut part = vec![0; end - start];
                reader.read_exact(&mut part).expect("read range");
                assert_eq!(part, plain[start..end], "len {len} range {start}..{end}");
            }
        }
    }

    #[test]
    fn the_plaintext_does_not_appear_in_the_sealed_bytes() {
        let key = random::<32>().expect("key");
        let plain = b"PATIENT-MARKER ".repeat(10_000);
        let sealed = seal(&key, &plain);
        assert!(!sealed.windows(15).any(|w| w == b"PATIENT-MARKER "));
    }

    #[test]
    fn a_changed_reordered_or_truncated_file_fails_authentication() {
        let key = random::<32>().expect("key");
        let plain = sample(3 * CHUNK);
        let sealed = seal(&key, &plain);
        let read = |bytes: Vec<u8>| {
            let mut reader = OpeningReader::new(Cursor::new(bytes), &key, plain.len() as u64)?;
            let mut back = Vec::new();
            reader.read_to_end(&mut back).map(|_| back)
        };
        let mut flipped = sealed.clone();
        flipped[HEADER + 5] ^= 1;
        assert_eq!(read(flipped).expect_err("flipped").kind(), io::ErrorKind::InvalidData);
        let c = CHUNK + TAG;
        let mut swapped = sealed[..HEADER].to_vec();
        swapped.extend_from_slice(&sealed[HEADER + c..HEADER + 2 * c]);
        swapped.extend_from_slice(&sealed[HEADER..HEADER + c]);
        swapped.extend_from_slice(&sealed[HEADER + 2 * c..]);
        assert!(read(swapped).is_err(), "reordered chunks");
        // Two whole chunks, read as a two-chunk object: the second was not sealed as the last.
        let truncated = sealed[..HEADER + 2 * c].to_vec();
        let mut reader = OpeningReader::new(Cursor::new(truncated), &key, 2 * CHUNK as u64).expect("open");
        assert!(reader.read_to_end(&mut Vec::new()).is_err(), "truncated object");
        let other = random::<32>().expect("key");
        let mut reader = OpeningReader::new(Cursor::new(&sealed), &other, plain.len() as u64).expect("open");
        assert!(reader.read_to_end(&mut Vec::new()).is_err(), "another key");
    }

    #[test]
    fn data_keys_wrap_under_the_root_key_only() {
        let (root, key) = (random::<32>().expect("root"), random::<32>().expect("key"));
        let wrapped = wrap(&root, &key).expect("wrap");
        assert_eq!(unwrap(&root, &wrapped).expect("unwrap"), key);
        assert!(unwrap(&random::<32>().expect("other"), &wrapped).is_err());
    }
}
