//! The object store: S3's storage semantics over a directory, with no knowledge of HTTP or of `s3s`.
//!
//! Metadata (buckets, objects, multipart uploads, parts) lives in one SQLite file, `<dir>/s3.db`; bytes live in
//! files `<dir>/data/<uuid>`, sealed under a data key of their own (`at_rest.rs`), with the wrapped data key in
//! the metadata. The directory is 0700 and its files 0600 (`private.rs`). Bytes are always written to a `tmp-*` file in the same directory first and
//! renamed into place before the metadata that names them is committed, so a crash leaves at worst an
//! unreferenced file (swept at the next open), never a visible half object. Because of that sweep, one
//! directory belongs to one open store at a time.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::KeyProblem;
use super::at_rest::{
    self, DataKey, DataKeyError, DataKeys, Envelope, ObjectReader, OpeningReader, SealingWriter, WrappedBy,
};
use super::checksum::{self, ChecksumAlgorithm, ChecksumType, Checksums, Digester};
use crate::private;

/// S3's minimum size for every part of a multipart upload but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Where the store gets "now" from; tests pass a fixed clock.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    encryption TEXT NOT NULL,
    public_access_block TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    sse TEXT NOT NULL,
    checksums TEXT NOT NULL,
    checksum_type TEXT,
    parts_count INTEGER,
    blob TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    sse TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated_ms);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    checksums TEXT NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS root_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    material BLOB NOT NULL
);
";

/// Columns added after the first release, as (table, column, declaration), added when missing (see `db.rs`).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // The wrapped data key of sealed bytes; NULL for bytes written before encryption at rest, read as they are.
    ("objects", "envelope", "TEXT"),
    ("parts", "envelope", "TEXT"),
    // Object tags (JSON, key to value); NULL for none.
    ("objects", "tags", "TEXT"),
    // The sizes of a multipart object's parts, in order (JSON), for HeadObject/GetObject by part number.
    ("objects", "part_sizes", "TEXT"),
    ("uploads", "tags", "TEXT"),
];

/// Bucket configurations the store keeps without interpreting them beyond what S3 checks: `(bucket, kind)` to
/// a value the S3 layer wrote (the configuration's XML, or the policy's JSON).
const SETTINGS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bucket_settings (
    bucket TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
";

/// Errors of the object store. Each S3-facing variant maps to one S3 error code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bucket does not exist (`NoSuchBucket`).
    #[error("the bucket {0} does not exist")]
    NoSuchBucket(String),
    /// CreateBucket for a name that already exists; everything here belongs to the one sandbox account
    /// (`BucketAlreadyOwnedByYou`).
    #[error("the bucket {0} already exists and is owned by you")]
    BucketAlreadyOwnedByYou(String),
    /// DeleteBucket while objects remain (`BucketNotEmpty`).
    #[error("the bucket {0} is not empty")]
    BucketNotEmpty(String),
    /// No object under that key (`NoSuchKey`).
    #[error("no object {key} in bucket {bucket}")]
    NoSuchKey { bucket: String, key: String },
    /// The upload id is unknown, finished, aborted, or belongs to another bucket or key (`NoSuchUpload`).
    #[error("no multipart upload {0}")]
    NoSuchUpload(String),
    /// CompleteMultipartUpload listed no parts (`MalformedXML`).
    #[error("CompleteMultipartUpload must list at least one part")]
    NoParts,
    /// CompleteMultipartUpload listed parts out of ascending order (`InvalidPartOrder`).
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    /// CompleteMultipartUpload named a part that was not uploaded, or gave another ETag or checksum for it
    /// (`InvalidPart`).
    #[error("part {part_number} was not uploaded, or its ETag or checksum does not match")]
    InvalidPart { part_number: u32 },
    /// A part other than the last is smaller than 5 MiB (`EntityTooSmall`).
    #[error("part {part_number} is {size} bytes; every part but the last must be at least 5 MiB")]
    EntityTooSmall { part_number: u32, size: u64 },
    /// A whole-object checksum the client gave does not match the bytes (`BadDigest`).
    #[error("the {} you specified did not match the calculated checksum", algorithm.as_str())]
    BadDigest { algorithm: ChecksumAlgorithm },
    /// The object's KMS key is missing or disabled, so its data key cannot be made or unwrapped
    /// (`KMS.NotFoundException`, `KMS.DisabledException`).
    #[error("the KMS key {key} cannot be used ({problem:?})")]
    Key { problem: KeyProblem, key: String },
    /// Reading or writing object bytes failed.
    #[error("object data: {0}")]
    Io(#[from] io::Error),
    /// The metadata database failed.
    #[error("object metadata: {0}")]
    Database(#[from] rusqlite::Error),
}

/// How an object is encrypted at rest: which key wraps the data key its bytes are sealed under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm")]
pub enum Sse {
    /// SSE-S3, `AES256`.
    #[serde(rename = "AES256")]
    S3,
    /// SSE-KMS, `aws:kms`, under the key with this ARN.
    #[serde(rename = "aws:kms")]
    Kms { key_arn: String },
}

impl Sse {
    /// The `x-amz-server-side-encryption` value.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Sse::S3 => "AES256",
            Sse::Kms { .. } => "aws:kms",
        }
    }

    pub fn kms_key_arn(&self) -> Option<&str> {
        match self {
            Sse::S3 => None,
            Sse::Kms { key_arn } => Some(key_arn),
        }
    }
}

/// A bucket's default encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm")]
pub enum DefaultSse {
    #[serde(rename = "AES256")]
    S3,
    /// `aws:kms` with the configured key (id, ARN or alias, as given), or S3's AWS-managed key when `None`.
    #[serde(rename = "aws:kms")]
    Kms { key_id: Option<String> },
}

/// A bucket's default encryption configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    pub default: DefaultSse,
    pub bucket_key_enabled: bool,
}

impl Default for BucketEncryption {
    /// What S3 gives every new bucket since January 2023: SSE-S3.
    fn default() -> Self {
        BucketEncryption { default: DefaultSse::S3, bucket_key_enabled: false }
    }
}

/// A bucket's Block Public Access settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// What S3 gives every new bucket since April 2023: all four on.
    pub const ALL_BLOCKED: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    pub fn all_blocked(&self) -> bool {
        *self == PublicAccessBlock::ALL_BLOCKED
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub region: String,
    pub created: OffsetDateTime,
    pub encryption: BucketEncryption,
    pub public_access_block: Option<PublicAccessBlock>,
}

/// What a writer says about a new object besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectWrite {
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`), names lower-case without the prefix.
    pub metadata: BTreeMap<String, String>,
    /// `None` applies the bucket's default encryption as configured; the store does not consult KMS, so a
    /// caller that must check a key (as the S3 API does) resolves it first and passes `Some`.
    pub sse: Option<Sse>,
    /// Object tags (`x-amz-tagging`).
    pub tags: BTreeMap<String, String>,
}

impl ObjectWrite {
    /// SSE-KMS under a key ARN the caller has already checked.
    pub fn kms(key_arn: &str) -> ObjectWrite {
        ObjectWrite { sse: Some(Sse::Kms { key_arn: key_arn.to_string() }), ..ObjectWrite::default() }
    }

    /// The same write with `Content-Type: application/json`.
    pub fn json(self) -> ObjectWrite {
        self.with_content_type("application/json")
    }

    pub fn with_content_type(mut self, content_type: &str) -> ObjectWrite {
        self.content_type = Some(content_type.to_string());
        self
    }
}

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// Quoted, as S3 sends it: `"<md5 hex>"`, or `"<md5 of part md5s>-<part count>"` for multipart objects.
    pub etag: String,
    pub last_modified: OffsetDateTime,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub sse: Sse,
    pub checksums: Checksums,
    pub checksum_type: Option<ChecksumType>,
    /// The number of parts, for objects made by CompleteMultipartUpload.
    pub parts_count: Option<u32>,
    /// The object's tags.
    pub tags: BTreeMap<String, String>,
    /// A multipart object's part sizes, in part order; empty for others (and for those completed before part
    /// sizes were kept).
    pub part_sizes: Vec<u64>,
}

/// An unfinished multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: OffsetDateTime,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Resolved when the upload was created (the bucket default applied), and given to the object.
    pub sse: Sse,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// The tags the object gets when the upload completes.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub part_number: u32,
    pub size: u64,
    /// Quoted MD5 hex.
    pub etag: String,
    pub last_modified: OffsetDateTime,
    pub checksums: Checksums,
}

/// One entry of a CompleteMultipartUpload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    pub part_number: u32,
    /// Quoted or not.
    pub etag: String,
    /// Part checksums the client restates; each must equal the stored one.
    pub checksums: Checksums,
}

/// One page of a bucket listing, in UTF-8 binary key order as S3 lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub prefix: String,
    /// Keys that contain the delimiter after the prefix roll up into one common prefix.
    pub delimiter: Option<String>,
    /// Only keys (and common prefixes) after this one: S3's `marker`/`start-after`, or a previous page's
    /// `next_after`.
    pub after: Option<String>,
    /// Keys plus common prefixes per page.
    pub max_keys: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectInfo>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// When truncated: the last key or common prefix returned, where the next page starts after.
    pub next_after: Option<String>,
}

/// Bytes received into a temporary file of the store, not yet part of any object. Dropping it deletes the file.
pub struct Blob {
    file: TempFile,
    size: u64,
    md5: Option<[u8; 16]>,
    checksums: Checksums,
    envelope: Envelope,
}

impl Blob {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn md5_hex(&self) -> Option<String> {
        self.md5.map(hex::encode)
    }

    /// The checksums computed over the bytes, for the algorithms the writer was asked for.
    pub fn checksums(&self) -> &Checksums {
        &self.checksums
    }
}

/// An object about to be installed: its received bytes and everything its metadata row records besides them.
struct NewObject {
    blob: Blob,
    /// Unquoted: the MD5 of the bytes, or a multipart ETag (`<md5 of the parts' md5s>-<n>`).
    etag: String,
    write: ObjectWrite,
    checksums: Checksums,
    checksum_type: Option<ChecksumType>,
    parts_count: Option<u32>,
    part_sizes: Vec<u64>,
}

/// Receives bytes into a temporary file, sealing them and computing MD5 and the requested checksums (of the
/// plaintext) on the way.
pub struct BlobWriter {
    out: SealingWriter<BufWriter<File>>,
    file: TempFile,
    digester: Digester,
    size: u64,
    envelope: Envelope,
}

impl BlobWriter {
    /// Seals the last chunk, flushes and syncs the file, so that a later rename publishes complete bytes.
    pub fn finish(self) -> io::Result<Blob> {
        let BlobWriter { out, file, digester, size, envelope } = self;
        let out = out.finish()?.into_inner().map_err(io::IntoInnerError::into_error)?;
        out.sync_data()?;
        let (md5, checksums) = digester.finish();
        Ok(Blob { file, size, md5, checksums, envelope })
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.digester.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A file deleted on drop unless kept.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: a leftover is swept at the next open.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The store. Cheap to share behind an `Arc`; the SQLite connection is locked only for short metadata work,
/// never while bytes are copied.
pub struct ObjectStore {
    data: PathBuf,
    conn: Mutex<Connection>,
    clock: Clock,
    /// Wraps the data keys of objects not under a KMS key of the sandbox's KMS.
    root_key: DataKey,
    /// The sandbox's KMS, for SSE-KMS objects; without it (a store opened on its own), the root key wraps
    /// those too.
    kms: Option<Arc<dyn DataKeys>>,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore").field("data", &self.data).finish_non_exhaustive()
    }
}

impl ObjectStore {
    /// Opens (creating if needed) the store in `dir`, with the system clock.
    pub fn open(dir: &Path) -> Result<ObjectStore, StoreError> {
        ObjectStore::open_with_clock(dir, Arc::new(OffsetDateTime::now_utc))
    }

    pub fn open_with_clock(dir: &Path, clock: Clock) -> Result<ObjectStore, StoreError> {
        let data = dir.join("data");
        private::make_dir(&data)?;
        private::tighten(dir)?;
        let db = dir.join("s3.db");
        private::prepare_database(&db)?;
        let conn = crate::db::open_schema(&db, SCHEMA, ADDED_COLUMNS)?;
        conn.execute_batch(SETTINGS_SCHEMA)?;
        let root_key = root_key(&conn)?;
        let store = ObjectStore { data, conn: Mutex::new(conn), clock, root_key, kms: None };
        store.sweep()?;
        Ok(store)
    }

    /// The same store, wrapping SSE-KMS objects' data keys under their keys in `kms`.
    pub fn with_kms(mut self, kms: Arc<dyn DataKeys>) -> ObjectStore {
        self.kms = Some(kms);
        self
    }

    /// A new data key for bytes stored under `sse`, with the envelope to keep beside them.
    fn data_key(&self, sse: &Sse) -> Result<(DataKey, Envelope), StoreError> {
        match (sse, &self.kms) {
            (Sse::Kms { key_arn }, Some(kms)) if !is_aws_managed(key_arn) => {
                let (key, wrapped) = kms.generate(key_arn).map_err(|e| key_error(e, sse))?;
                Ok((key, Envelope::new(WrappedBy::Kms, &wrapped)))
            }
            _ => {
                let key = at_rest::random::<32>()?;
                Ok((key, Envelope::new(WrappedBy::Store, &at_rest::wrap(&self.root_key, &key)?)))
            }
        }
    }

    /// A reader of stored bytes: through their envelope, or as they are for bytes from before encryption at
    /// rest.
    fn reader(&self, file: File, stored: &Stored, size: u64, sse: &Sse) -> Result<ObjectReader, StoreError> {
        let Some(envelope) = &stored.envelope else { return Ok(ObjectReader::plain(file)) };
        let wrapped = envelope.wrapped()?;
        let key = match envelope.wrapped_by {
            WrappedBy::Store => at_rest::unwrap(&self.root_key, &wrapped)?,
            WrappedBy::Kms => match &self.kms {
                Some(kms) => kms.unwrap(&wrapped).map_err(|e| key_error(e, sse))?,
                None => {
                    return Err(io::Error::other(
                        "the object's data key is wrapped by KMS, and no KMS is attached",
                    ))?;
                }
            },
        };
        Ok(ObjectReader::sealed(OpeningReader::new(file, &key, size)?))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // Every change is one statement or one transaction, so a panic elsewhere cannot leave it half done.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Deletes temporary files and files no metadata names: what a crash between writing and committing
    /// leaves behind.
    fn sweep(&self) -> Result<(), StoreError> {
        let referenced: HashSet<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT blob FROM objects UNION ALL SELECT blob FROM parts")?;
            stmt.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<_, _>>()?
        };
        for entry in fs::read_dir(&self.data)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !referenced.contains(&name) {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    // ---- buckets ----

    /// Creates a bucket with today's S3 defaults: SSE-S3 default encryption and Block Public Access on.
    pub fn create_bucket(&self, name: &str, region: &str) -> Result<BucketInfo, StoreError> {
        let info = BucketInfo {
            name: name.to_string(),
            region: region.to_string(),
            created: self.now(),
            encryption: BucketEncryption::default(),
            public_access_block: Some(PublicAccessBlock::ALL_BLOCKED),
        };
        let inserted = self.conn().execute(
            "INSERT INTO buckets (name, region, created_ms, encryption, public_access_block)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
            params![
                info.name,
                info.region,
                to_ms(info.created),
                to_json(&info.encryption),
                info.public_access_block.as_ref().map(to_json)
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::BucketAlreadyOwnedByYou(name.to_string()));
        }
        Ok(info)
    }

    pub fn bucket_exists(&self, name: &str) -> bool {
        self.bucket(name).is_ok()
    }

    pub fn bucket(&self, name: &str) -> Result<BucketInfo, StoreError> {
        bucket_in(&self.conn(), name)
    }

    /// All buckets, by name.
    pub fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, region, created_ms, encryption, public_access_block FROM buckets ORDER BY name",
        )?;
        let buckets = stmt.query_map([], row_to_bucket)?.collect::<Result<_, _>>()?;
        Ok(buckets)
    }

    /// Deletes an empty bucket, with any unfinished multipart uploads in it.
    pub fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let blobs = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            bucket_in(&tx, name)?;
            let has_objects: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1)", [name], |r| {
                    r.get(0)
                })?;
            if has_objects {
                return Err(StoreError::BucketNotEmpty(name.to_string()));
            }
            let blobs: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT p.blob FROM parts p JOIN uploads u ON u.upload_id = p.upload_id WHERE u.bucket = ?1",
                )?;
                stmt.query_map([name], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            tx.execute(
                "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?1)",
                [name],
            )?;
            tx.execute("DELETE FROM uploads WHERE bucket = ?1", [name])?;
            tx.execute("DELETE FROM bucket_settings WHERE bucket = ?1", [name])?;
            tx.execute("DELETE FROM buckets WHERE name = ?1", [name])?;
            tx.commit()?;
            blobs
        };
        self.remove_blobs(&blobs);
        Ok(())
    }

    /// A bucket configuration the S3 layer keeps (`kind`: `policy`, `tagging`, `lifecycle`, `cors`, `logging`,
    /// `ownership`, `versioning`), if set.
    pub fn bucket_setting(&self, bucket: &str, kind: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        bucket_in(&conn, bucket)?;
        Ok(conn
            .query_row(
                "SELECT value FROM bucket_settings WHERE bucket = ?1 AND kind = ?2",
                [bucket, kind],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets (`Some`) or removes (`None`) a bucket configuration.
    pub fn set_bucket_setting(
        &self,
        bucket: &str,
        kind: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        bucket_in(&conn, bucket)?;
        match value {
            Some(value) => conn.execute(
                "INSERT INTO bucket_settings (bucket, kind, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (bucket, kind) DO UPDATE SET value = excluded.value",
                [bucket, kind, value],
            )?,
            None => {
                conn.execute("DELETE FROM bucket_settings WHERE bucket = ?1 AND kind = ?2", [bucket, kind])?
            }
        };
        Ok(())
    }

    /// Replaces an object's tags.
    pub fn set_object_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        bucket_in(&conn, bucket)?;
        let value = (!tags.is_empty()).then(|| to_json(tags));
        let n = conn.execute(
            "UPDATE objects SET tags = ?3 WHERE bucket = ?1 AND key = ?2",
            params![bucket, key, value],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchKey { bucket: bucket.to_string(), key: key.to_string() });
        }
        Ok(())
    }

    /// The bucket's default encryption; `None` if the bucket does not exist.
    pub fn bucket_encryption(&self, name: &str) -> Option<BucketEncryption> {
        self.bucket(name).ok().map(|b| b.encryption)
    }

    /// Sets the default encryption; `None` resets it to S3's default, SSE-S3, as DeleteBucketEncryption does.
    pub fn set_bucket_encryption(
        &self,
        name: &str,
        encryption: Option<BucketEncryption>,
    ) -> Result<(), StoreError> {
        let encryption = encryption.unwrap_or_default();
        let changed = self.conn().execute(
            "UPDATE buckets SET encryption = ?2 WHERE name = ?1",
            params![name, to_json(&encryption)],
        )?;
        if changed == 0 {
            return Err(StoreError::NoSuchBucket(name.to_string()));
        }
        Ok(())
    }

    /// The bucket's Block Public Access settings; `None` if there are none or the bucket does not exist.
    pub fn public_access_block(&self, name: &str) -> Option<PublicAccessBlock> {
        self.bucket(name).ok().and_then(|b| b.public_access_block)
    }

    /// Sets (or with `None` deletes) the bucket's Block Public Access settings.
    pub fn set_public_access_block(
        &self,
        name: &str,
        block: Option<PublicAccessBlock>,
    ) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "UPDATE buckets SET public_access_block = ?2 WHERE name = ?1",
            params![name, block.as_ref().map(to_json)],
        )?;
        if changed == 0 {
            return Err(StoreError::NoSuchBucket(name.to_string()));
        }
        Ok(())
    }

    // ---- objects ----

    /// A writer for new object or part bytes to be stored under `sse`, computing MD5 and the given checksums.
    pub fn blob_writer(&self, algorithms: &[ChecksumAlgorithm], sse: &Sse) -> Result<BlobWriter, StoreError> {
        self.writer(true, algorithms, sse)
    }

    fn writer(
        &self,
        md5: bool,
        algorithms: &[ChecksumAlgorithm],
        sse: &Sse,
    ) -> Result<BlobWriter, StoreError> {
        let (key, envelope) = self.data_key(sse)?;
        let path = self.data.join(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        let out = private::create_file(&path)?;
        let file = TempFile { path, keep: false };
        Ok(BlobWriter {
            out: SealingWriter::new(BufWriter::with_capacity(256 * 1024, out), &key)?,
            file,
            digester: Digester::new(md5, algorithms),
            size: 0,
            envelope,
        })
    }

    /// Writes a whole object from memory, with a CRC64NVME checksum as S3 adds to objects uploaded without one.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: &[u8],
        write: ObjectWrite,
    ) -> Result<ObjectInfo, StoreError> {
        let sse = match &write.sse {
            Some(sse) => sse.clone(),
            None => default_sse(&self.bucket(bucket)?),
        };
        let mut writer = self.blob_writer(&[ChecksumAlgorithm::Crc64Nvme], &sse)?;
        writer.write_all(bytes)?;
        self.put_blob(bucket, key, writer.finish()?, ObjectWrite { sse: Some(sse), ..write })
    }

    /// Publishes received bytes as the object `bucket/key`, replacing any previous one, with the blob's
    /// checksums as its full-object checksums.
    pub fn put_blob(
        &self,
        bucket: &str,
        key: &str,
        blob: Blob,
        write: ObjectWrite,
    ) -> Result<ObjectInfo, StoreError> {
        let md5 =
            blob.md5.map(hex::encode).ok_or_else(|| io::Error::other("blob was written without an MD5"))?;
        let checksum_type = (!blob.checksums.is_empty()).then_some(ChecksumType::FullObject);
        let checksums = blob.checksums.clone();
        self.install(
            bucket,
            key,
            NewObject {
                blob,
                etag: md5,
                write,
                checksums,
                checksum_type,
                parts_count: None,
                part_sizes: Vec::new(),
            },
            None,
        )
    }

    /// Renames the blob into place and commits its metadata, in that order; when `upload` is given (its id and
    /// the part blobs the object was assembled from), the upload and its parts go in the same transaction.
    fn install(
        &self,
        bucket: &str,
        key: &str,
        object: NewObject,
        upload: Option<(&str, &BTreeMap<u32, String>)>,
    ) -> Result<ObjectInfo, StoreError> {
        let NewObject { blob, etag, write, checksums, checksum_type, parts_count, part_sizes } = object;
        let Blob { mut file, size, envelope, .. } = blob;
        let name = uuid::Uuid::new_v4().simple().to_string();
        let dest = self.data.join(&name);
        fs::rename(&file.path, &dest)?;
        file.path = dest;

        let mut stale = Vec::new();
        let info = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let bucket_info = bucket_in(&tx, bucket)?;
            if let Some((upload_id, expected_blobs)) = upload {
                let upload = upload_in(&tx, bucket, key, upload_id)?;
                let current = parts_in(&tx, &upload.upload_id)?;
                // A part re-uploaded while the object was being assembled makes the assembled bytes stale.
                for (number, blob) in expected_blobs {
                    if current.get(number).map(|(_, stored)| &stored.blob) != Some(blob) {
                        return Err(StoreError::InvalidPart { part_number: *number });
                    }
                }
                stale.extend(current.into_values().map(|(_, stored)| stored.blob));
                tx.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
                tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
            }
            let sse = write.sse.unwrap_or_else(|| default_sse(&bucket_info));
            let info = ObjectInfo {
                bucket: bucket.to_string(),
                key: key.to_string(),
                size,
                etag: format!("\"{etag}\""),
                last_modified: self.now(),
                content_type: write.content_type,
                metadata: write.metadata,
                sse,
                checksums,
                checksum_type,
                parts_count,
                tags: write.tags,
                part_sizes,
            };
            let old: Option<String> = tx
                .query_row("SELECT blob FROM objects WHERE bucket = ?1 AND key = ?2", [bucket, key], |r| {
                    r.get(0)
                })
                .optional()?;
            stale.extend(old);
            tx.execute(
                "INSERT OR REPLACE INTO objects (bucket, key, size, etag, last_modified_ms, content_type, metadata, sse,
                     checksums, checksum_type, parts_count, blob, envelope, tags, part_sizes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    info.bucket,
                    info.key,
                    to_i64(info.size),
                    etag,
                    to_ms(info.last_modified),
                    info.content_type,
                    to_json(&info.metadata),
                    to_json(&info.sse),
                    to_json(&info.checksums),
                    info.checksum_type.map(ChecksumType::as_str),
                    info.parts_count,
                    name,
                    to_json(&envelope),
                    (!info.tags.is_empty()).then(|| to_json(&info.tags)),
                    (!info.part_sizes.is_empty()).then(|| to_json(&info.part_sizes))
                ],
            )?;
            tx.commit()?;
            info
        };
        file.keep = true;
        self.remove_blobs(&stale);
        Ok(info)
    }

    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        let conn = self.conn();
        object_in(&conn, bucket, key).map(|(info, _)| info)
    }

    /// The object's metadata and a reader of its bytes (decrypted). The file is opened under the metadata lock,
    /// so a concurrent overwrite cannot delete it first; the reader keeps reading the old bytes. Its data key is
    /// unwrapped after the lock is released: that may ask KMS.
    pub fn open_object(&self, bucket: &str, key: &str) -> Result<(ObjectInfo, ObjectReader), StoreError> {
        let (info, stored, file) = {
            let conn = self.conn();
            let (info, stored) = object_in(&conn, bucket, key)?;
            let file = File::open(self.data.join(&stored.blob))?;
            (info, stored, file)
        };
        let reader = self.reader(file, &stored, info.size, &info.sse)?;
        Ok((info, reader))
    }

    pub fn get_object_bytes(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StoreError> {
        let (info, mut file) = self.open_object(bucket, key)?;
        let mut bytes = Vec::with_capacity(usize::try_from(info.size).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Deletes an object; deleting a missing key succeeds, as in S3. Returns whether there was one.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
        let old = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            bucket_in(&tx, bucket)?;
            let old: Option<String> = tx
                .query_row("SELECT blob FROM objects WHERE bucket = ?1 AND key = ?2", [bucket, key], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute("DELETE FROM objects WHERE bucket = ?1 AND key = ?2", [bucket, key])?;
            tx.commit()?;
            old
        };
        let existed = old.is_some();
        self.remove_blobs(&old.into_iter().collect::<Vec<_>>());
        Ok(existed)
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let query =
            ListQuery { prefix: prefix.to_string(), delimiter: None, after: None, max_keys: usize::MAX };
        Ok(self.list_page(bucket, &query)?.objects)
    }

    /// One page of ListObjects(V2).
    pub fn list_page(&self, bucket: &str, query: &ListQuery) -> Result<ListPage, StoreError> {
        let conn = self.conn();
        bucket_in(&conn, bucket)?;
        let mut page = ListPage::default();
        if query.max_keys == 0 {
            return Ok(page);
        }
        let after = query.after.as_deref().unwrap_or("");
        let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut stmt = conn.prepare(&format!(
            "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key >= ?2 AND key > ?3 ORDER BY key"
        ))?;
        let mut rows = stmt.query(params![bucket, query.prefix, after])?;
        let mut count = 0;
        let mut last: Option<String> = None;
        while let Some(row) = rows.next()? {
            let key: String = row.get(1)?;
            // Keys sort bytewise, so those with the prefix are contiguous from the prefix on.
            let Some(rest) = key.strip_prefix(query.prefix.as_str()) else { break };
            let common = delimiter
                .and_then(|d| rest.find(d).map(|i| key[..query.prefix.len() + i + d.len()].to_string()));
            if let Some(common) = &common {
                // Keys past a marker that rolls up into the marker's own prefix were returned with it already.
                if last.as_ref() == Some(common) || common.as_str() <= after {
                    continue;
                }
            }
            if count == query.max_keys {
                page.truncated = true;
                page.next_after = last;
                break;
            }
            count += 1;
            match common {
                Some(common) => {
                    page.common_prefixes.push(common.clone());
                    last = Some(common);
                }
                None => {
                    page.objects.push(row_to_object(row)?.0);
                    last = Some(key);
                }
            }
        }
        Ok(page)
    }

    // ---- multipart uploads ----

    pub fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        write: ObjectWrite,
        checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
    ) -> Result<UploadInfo, StoreError> {
        let conn = self.conn();
        let bucket_info = bucket_in(&conn, bucket)?;
        let upload = UploadInfo {
            upload_id: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
            bucket: bucket.to_string(),
            key: key.to_string(),
            initiated: self.now(),
            content_type: write.content_type,
            metadata: write.metadata,
            sse: write.sse.unwrap_or_else(|| default_sse(&bucket_info)),
            checksum_algorithm: checksum.map(|(a, _)| a),
            checksum_type: checksum.map(|(_, t)| t),
            tags: write.tags,
        };
        conn.execute(
            "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, content_type, metadata, sse, checksum_algorithm,
                 checksum_type, tags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                upload.upload_id,
                upload.bucket,
                upload.key,
                to_ms(upload.initiated),
                upload.content_type,
                to_json(&upload.metadata),
                to_json(&upload.sse),
                upload.checksum_algorithm.map(ChecksumAlgorithm::as_str),
                upload.checksum_type.map(ChecksumType::as_str),
                (!upload.tags.is_empty()).then(|| to_json(&upload.tags))
            ],
        )?;
        Ok(upload)
    }

    /// The upload, if it exists for exactly this bucket and key.
    pub fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<UploadInfo, StoreError> {
        upload_in(&self.conn(), bucket, key, upload_id)
    }

    /// Stores a part, replacing an earlier upload of the same part number.
    pub fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        blob: Blob,
    ) -> Result<PartInfo, StoreError> {
        let Blob { mut file, size, md5, checksums, envelope } = blob;
        let md5 = md5.map(hex::encode).ok_or_else(|| io::Error::other("blob was written without an MD5"))?;
        let name = uuid::Uuid::new_v4().simple().to_string();
        let dest = self.data.join(&name);
        fs::rename(&file.path, &dest)?;
        file.path = dest;
        let part =
            PartInfo { part_number, size, etag: format!("\"{md5}\""), last_modified: self.now(), checksums };
        let old = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            upload_in(&tx, bucket, key, upload_id)?;
            let old: Option<String> = tx
                .query_row(
                    "SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2",
                    params![upload_id, part_number],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, last_modified_ms, checksums, blob,
                     envelope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    upload_id,
                    part_number,
                    to_i64(size),
                    md5,
                    to_ms(part.last_modified),
                    to_json(&part.checksums),
                    name,
                    to_json(&envelope)
                ],
            )?;
            tx.commit()?;
            old
        };
        file.keep = true;
        self.remove_blobs(&old.into_iter().collect::<Vec<_>>());
        Ok(part)
    }

    /// Parts after `after` in part-number order, at most `max`, and whether more follow.
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<(UploadInfo, Vec<PartInfo>, bool), StoreError> {
        let conn = self.conn();
        let upload = upload_in(&conn, bucket, key, upload_id)?;
        let mut parts: Vec<PartInfo> = parts_in(&conn, upload_id)?
            .into_values()
            .map(|(p, _)| p)
            .filter(|p| p.part_number > after)
            .collect();
        let truncated = parts.len() > max;
        parts.truncate(max);
        Ok((upload, parts, truncated))
    }

    /// Unfinished uploads whose key starts with `prefix`, by key then initiation time.
    pub fn list_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<UploadInfo>, StoreError> {
        let conn = self.conn();
        bucket_in(&conn, bucket)?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE bucket = ?1 AND key >= ?2 ORDER BY key, initiated_ms, upload_id"
        ))?;
        let uploads: Vec<UploadInfo> =
            stmt.query_map(params![bucket, prefix], row_to_upload)?.collect::<Result<_, _>>()?;
        Ok(uploads.into_iter().take_while(|u| u.key.starts_with(prefix)).collect())
    }

    pub fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let blobs: Vec<String> = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            upload_in(&tx, bucket, key, upload_id)?;
            let blobs = parts_in(&tx, upload_id)?.into_values().map(|(_, stored)| stored.blob).collect();
            tx.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
            tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
            tx.commit()?;
            blobs
        };
        self.remove_blobs(&blobs);
        Ok(())
    }

    /// Assembles the listed parts into the object. Every check happens before anything changes: a failed
    /// Complete leaves the upload and all its parts in place, as S3 does, so the client can retry.
    ///
    /// `expected` holds whole-object checksums the client sent; a composite one may omit its `-N` suffix.
    /// Copies all the bytes: call it off the async runtime.
    pub fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        expected: &Checksums,
    ) -> Result<ObjectInfo, StoreError> {
        let (upload, stored) = {
            let conn = self.conn();
            let upload = upload_in(&conn, bucket, key, upload_id)?;
            (upload, parts_in(&conn, upload_id)?)
        };
        if parts.is_empty() {
            return Err(StoreError::NoParts);
        }
        if parts.windows(2).any(|w| w[1].part_number <= w[0].part_number) {
            return Err(StoreError::InvalidPartOrder);
        }
        let mut chosen = Vec::with_capacity(parts.len());
        for (index, wanted) in parts.iter().enumerate() {
            let invalid = StoreError::InvalidPart { part_number: wanted.part_number };
            let Some((part, blob)) = stored.get(&wanted.part_number) else { return Err(invalid) };
            if unquote(&wanted.etag) != unquote(&part.etag) {
                return Err(invalid);
            }
            if wanted.checksums.iter().any(|(a, v)| part.checksums.get(a) != Some(v)) {
                return Err(invalid);
            }
            if index + 1 < parts.len() && part.size < MIN_PART_SIZE {
                return Err(StoreError::EntityTooSmall { part_number: part.part_number, size: part.size });
            }
            chosen.push((part, blob));
        }

        // S3 gives multipart objects without a requested checksum a full-object CRC64NVME.
        let (algorithm, checksum_type) = match (upload.checksum_algorithm, upload.checksum_type) {
            (Some(a), Some(t)) => (a, t),
            (Some(a), None) if a.supports_composite() => (a, ChecksumType::Composite),
            (Some(a), None) => (a, ChecksumType::FullObject),
            (None, _) => (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject),
        };
        let full_object_algorithms: &[ChecksumAlgorithm] = match checksum_type {
            ChecksumType::FullObject => &[algorithm],
            ChecksumType::Composite => &[],
        };
        // Each part was sealed under its own data key; the object gets one of its own.
        let mut writer = self.writer(false, full_object_algorithms, &upload.sse)?;
        for (part, stored) in &chosen {
            let file = File::open(self.data.join(&stored.blob))?;
            io::copy(&mut self.reader(file, stored, part.size, &upload.sse)?, &mut writer)?;
        }
        let blob = writer.finish()?;
        let mut checksums = blob.checksums.clone();
        if checksum_type == ChecksumType::Composite {
            let values: Option<Vec<&str>> = chosen.iter().map(|(p, _)| p.checksums.get(algorithm)).collect();
            let value = values
                .and_then(|v| checksum::composite(algorithm, &v))
                .ok_or(StoreError::InvalidPart { part_number: chosen[0].0.part_number })?;
            checksums.set(algorithm, value);
        }
        for (alg, value) in expected.iter() {
            let matches = checksums.get(alg).is_some_and(|ours| {
                ours == value
                    || (checksum_type == ChecksumType::Composite && ours.split('-').next() == Some(value))
            });
            if !matches {
                return Err(StoreError::BadDigest { algorithm: alg });
            }
        }

        let md5s: Vec<[u8; 16]> = chosen.iter().map(|(p, _)| md5_bytes(&p.etag)).collect();
        let etag = checksum::multipart_etag(&md5s);
        let write = ObjectWrite {
            content_type: upload.content_type,
            metadata: upload.metadata,
            sse: Some(upload.sse),
            tags: upload.tags,
        };
        let expected_blobs: BTreeMap<u32, String> =
            chosen.iter().map(|(p, stored)| (p.part_number, stored.blob.clone())).collect();
        let parts_count = u32::try_from(chosen.len()).unwrap_or(u32::MAX);
        let object = NewObject {
            blob,
            etag,
            write,
            checksums,
            checksum_type: Some(checksum_type),
            parts_count: Some(parts_count),
            part_sizes: chosen.iter().map(|(part, _)| part.size).collect(),
        };
        self.install(bucket, key, object, Some((upload_id, &expected_blobs)))
    }

    fn remove_blobs(&self, names: &[String]) {
        for name in names {
            if let Err(e) = fs::remove_file(self.data.join(name)) {
                // Not fatal: the file is unreferenced now and the next open sweeps it.
                tracing::warn!(file = name, error = %e, "could not delete replaced object data");
            }
        }
    }
}

const OBJECT_COLUMNS: &str =
    "bucket, key, size, etag, last_modified_ms, content_type, metadata, sse, checksums,
    checksum_type, parts_count, blob, envelope, tags, part_sizes";
const UPLOAD_COLUMNS: &str = "upload_id, bucket, key, initiated_ms, content_type, metadata, sse, checksum_algorithm, checksum_type, tags";

fn bucket_in(conn: &Connection, name: &str) -> Result<BucketInfo, StoreError> {
    conn.query_row(
        "SELECT name, region, created_ms, encryption, public_access_block FROM buckets WHERE name = ?1",
        [name],
        row_to_bucket,
    )
    .optional()?
    .ok_or_else(|| StoreError::NoSuchBucket(name.to_string()))
}

fn object_in(conn: &Connection, bucket: &str, key: &str) -> Result<(ObjectInfo, Stored), StoreError> {
    let found = conn
        .query_row(
            &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
            [bucket, key],
            row_to_object,
        )
        .optional()?;
    match found {
        Some(found) => Ok(found),
        None => {
            bucket_in(conn, bucket)?;
            Err(StoreError::NoSuchKey { bucket: bucket.to_string(), key: key.to_string() })
        }
    }
}

fn upload_in(conn: &Connection, bucket: &str, key: &str, upload_id: &str) -> Result<UploadInfo, StoreError> {
    bucket_in(conn, bucket)?;
    conn.query_row(
        &format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?1"),
        [upload_id],
        row_to_upload,
    )
    .optional()?
    .filter(|u| u.bucket == bucket && u.key == key)
    .ok_or_else(|| StoreError::NoSuchUpload(upload_id.to_string()))
}

/// Where an object's or a part's bytes are, and how to open them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    /// The data file's name.
    blob: String,
    /// `None` for bytes written before encryption at rest.
    envelope: Option<Envelope>,
}

fn stored(row: &Row<'_>, blob: usize) -> rusqlite::Result<Stored> {
    let envelope: Option<String> = row.get(blob + 1)?;
    Ok(Stored {
        blob: row.get(blob)?,
        envelope: envelope.map(|text| parse_json(&text, blob + 1)).transpose()?,
    })
}

/// The upload's parts by number, each with where its bytes are.
fn parts_in(conn: &Connection, upload_id: &str) -> Result<BTreeMap<u32, (PartInfo, Stored)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT part_number, size, etag, last_modified_ms, checksums, blob, envelope FROM parts
         WHERE upload_id = ?1 ORDER BY part_number",
    )?;
    let rows = stmt.query_map([upload_id], |row| {
        let part = PartInfo {
            part_number: row.get(0)?,
            size: from_i64(row.get(1)?),
            etag: format!("\"{}\"", row.get::<_, String>(2)?),
            last_modified: from_ms(row.get(3)?),
            checksums: json_column(row, 4)?,
        };
        Ok((part.part_number, (part, stored(row, 5)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn row_to_bucket(row: &Row<'_>) -> rusqlite::Result<BucketInfo> {
    let block: Option<String> = row.get(4)?;
    Ok(BucketInfo {
        name: row.get(0)?,
        region: row.get(1)?,
        created: from_ms(row.get(2)?),
        encryption: json_column(row, 3)?,
        public_access_block: block.map(|text| parse_json(&text, 4)).transpose()?,
    })
}

fn row_to_object(row: &Row<'_>) -> rusqlite::Result<(ObjectInfo, Stored)> {
    let checksum_type: Option<String> = row.get(9)?;
    let info = ObjectInfo {
        bucket: row.get(0)?,
        key: row.get(1)?,
        size: from_i64(row.get(2)?),
        etag: format!("\"{}\"", row.get::<_, String>(3)?),
        last_modified: from_ms(row.get(4)?),
        content_type: row.get(5)?,
        metadata: json_column(row, 6)?,
        sse: json_column(row, 7)?,
        checksums: json_column(row, 8)?,
        checksum_type: checksum_type.as_deref().and_then(ChecksumType::parse),
        parts_count: row.get(10)?,
        tags: optional_json(row, 13)?,
        part_sizes: optional_json(row, 14)?,
    };
    Ok((info, stored(row, 11)?))
}

fn row_to_upload(row: &Row<'_>) -> rusqlite::Result<UploadInfo> {
    let algorithm: Option<String> = row.get(7)?;
    let checksum_type: Option<String> = row.get(8)?;
    Ok(UploadInfo {
        upload_id: row.get(0)?,
        bucket: row.get(1)?,
        key: row.get(2)?,
        initiated: from_ms(row.get(3)?),
        content_type: row.get(4)?,
        metadata: json_column(row, 5)?,
        sse: json_column(row, 6)?,
        checksum_algorithm: algorithm.as_deref().and_then(ChecksumAlgorithm::parse),
        checksum_type: checksum_type.as_deref().and_then(ChecksumType::parse),
        tags: optional_json(row, 9)?,
    })
}

/// A nullable JSON column: its value, or the default for NULL.
fn optional_json<T: DeserializeOwned + Default>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: Option<String> = row.get(index)?;
    text.map_or_else(|| Ok(T::default()), |t| parse_json(&t, index))
}

/// The encryption an object gets from its bucket when the writer asks for none.
fn default_sse(bucket: &BucketInfo) -> Sse {
    match &bucket.encryption.default {
        DefaultSse::S3 => Sse::S3,
        DefaultSse::Kms { key_id: Some(key) } => Sse::Kms { key_arn: key.clone() },
        DefaultSse::Kms { key_id: None } => Sse::Kms { key_arn: aws_managed_key_arn(&bucket.region) },
    }
}

/// The ARN S3 reports for SSE-KMS without a customer key: the account's AWS-managed `aws/s3` key.
pub fn aws_managed_key_arn(region: &str) -> String {
    format!("arn:aws:kms:{region}:{}:alias/aws/s3", crate::ACCOUNT_ID)
}

/// Whether a key ARN is S3's AWS-managed key, which the sandbox's KMS does not hold: it always exists, and the
/// store's root key stands in for it.
pub fn is_aws_managed(key_arn: &str) -> bool {
    key_arn.ends_with(":alias/aws/s3")
}

/// The store's root key, made the first time the store is opened.
fn root_key(conn: &Connection) -> Result<DataKey, StoreError> {
    let existing: Option<Vec<u8>> =
        conn.query_row("SELECT material FROM root_key WHERE id = 1", [], |r| r.get(0)).optional()?;
    let material = match existing {
        Some(material) => material,
        None => {
            let material = at_rest::random::<32>()?.to_vec();
            conn.execute("INSERT INTO root_key (id, material) VALUES (1, ?1)", [&material])?;
            material
        }
    };
    Ok(material.try_into().map_err(|_| io::Error::other("the store's root key has the wrong length"))?)
}

/// A data key problem as the store reports it, naming the object's key.
fn key_error(e: DataKeyError, sse: &Sse) -> StoreError {
    match e {
        DataKeyError::Key { problem, .. } => {
            StoreError::Key { problem, key: sse.kms_key_arn().unwrap_or_default().to_string() }
        }
        DataKeyError::Failed(message) => StoreError::Io(io::Error::other(message)),
    }
}

fn unquote(etag: &str) -> &str {
    etag.trim_matches('"')
}

/// The binary MD5 behind a quoted part ETag; parts always have one (the store wrote it).
fn md5_bytes(etag: &str) -> [u8; 16] {
    let mut out = [0; 16];
    // A malformed stored ETag would only make the multipart ETag wrong, not the data.
    let _ = hex::decode_to_slice(unquote(etag), &mut out);
    out
}

fn to_json<T: Serialize>(value: &T) -> String {
    // These are plain structs, maps of strings and unit-like enums: serialization cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn parse_json<T: DeserializeOwned>(text: &str, column: usize) -> rusqlite::Result<T> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(e)))
}

fn json_column<T: DeserializeOwned>(row: &Row<'_>, column: usize) -> rusqlite::Result<T> {
    parse_json(&row.get::<_, String>(column)?, column)
}

fn to_ms(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_i64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ObjectStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ObjectStore::open(dir.path()).expect("open store");
        (dir, store)
    }

    #[test]
    fn a_replaced_object_leaves_no_data_file_behind() {
        let (dir, store) = store();
        store.create_bucket("b", "us-east-1").expect("bucket");
        store.put_object("b", "k", b"one", ObjectWrite::default()).expect("put");
        store.put_object("b", "k", b"two", ObjectWrite::default()).expect("put again");
        assert_eq!(store.get_object_bytes("b", "k").expect("get"), b"two");
        assert_eq!(fs::read_dir(dir.path().join("data")).expect("data dir").count(), 1);
    }

    #[test]
    fn listing_with_a_delimiter_resumes_after_a_common_prefix() {
        let (_dir, store) = store();
        store.create_bucket("b", "us-east-1").expect("bucket");
        for key in ["a/1", "a/2", "b", "c/1", "d"] {
            store.put_object("b", key, b"x", ObjectWrite::default()).expect("put");
        }
        let mut query =
            ListQuery { prefix: String::new(), delimiter: Some("/".into()), after: None, max_keys: 2 };
        let first = store.list_page("b", &query).expect("page 1");
        assert_eq!(first.common_prefixes, ["a/"]);
        assert_eq!(first.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["b"]);
        assert!(first.truncated);
        query.after = first.next_after;
        let second = store.list_page("b", &query).expect("page 2");
        assert_eq!(second.common_prefixes, ["c/"]);
        assert_eq!(second.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["d"]);
        assert!(!second.truncated);
    }

    #[test]
    fn bytes_stored_before_encryption_at_rest_are_read_as_they_are() {
        let (dir, store) = store();
        store.create_bucket("b", "us-east-1").expect("bucket");
        store.put_object("b", "old", b"sealed now", ObjectWrite::default()).expect("put");
        // What an older sandbox left: the plain bytes and no envelope.
        let blob: String = store
            .conn()
            .query_row("UPDATE objects SET envelope = NULL WHERE key = 'old' RETURNING blob", [], |r| {
                r.get(0)
            })
            .expect("forget the envelope");
        fs::write(dir.path().join("data").join(blob), b"plain then").expect("plain bytes");
        assert_eq!(store.get_object_bytes("b", "old").expect("get"), b"plain then");
    }

    #[test]
    fn objects_are_sealed_on_disk_and_read_back_in_the_clear() {
        let (dir, store) = store();
        store.create_bucket("b", "us-east-1").expect("bucket");
        store.put_object("b", "k", b"a patient's record", ObjectWrite::default()).expect("put");
        store.put_object("b", "kms", b"a patient's record", ObjectWrite::kms("arn:aws:kms:x")).expect("put");
        for entry in fs::read_dir(dir.path().join("data")).expect("data dir") {
            let bytes = fs::read(entry.expect("entry").path()).expect("read");
            assert!(!bytes.windows(8).any(|w| w == b"patient'"), "plaintext on disk");
        }
        assert_eq!(store.get_object_bytes("b", "k").expect("get"), b"a patient's record");
        assert_eq!(store.get_object_bytes("b", "kms").expect("get"), b"a patient's record");
    }

    #[test]
    fn unreferenced_files_are_swept_at_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = ObjectStore::open(dir.path()).expect("open");
            let mut writer = store.blob_writer(&[], &Sse::S3).expect("writer");
            writer.write_all(b"half").expect("write");
            // Simulate a crash: the temporary file outlives the writer.
            std::mem::forget(writer);
        }
        fs::write(dir.path().join("data").join("orphan"), b"x").expect("orphan");
        ObjectStore::open(dir.path()).expect("reopen");
        assert_eq!(fs::read_dir(dir.path().join("data")).expect("data dir").count(), 0);
    }
}
