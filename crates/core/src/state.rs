//! Local state in SQLite: which local files went into which batch, prefix and job, so results can be joined back
//! to their source after a restart. It holds paths, checksums and ids, never resource contents.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::batch::{Batch, BatchFile};
use crate::progress::SkippedFile;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database could not be opened, read or written.
    #[error("local state database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A stored record could not be decoded (written by a newer Lakedrop?).
    #[error("local state record is unreadable: {0}")]
    Corrupt(#[from] serde_json::Error),
}

pub struct State {
    db: Mutex<Connection>,
    /// Where a damaged state file was kept aside when this one was opened, if it was.
    recovered: Option<std::path::PathBuf>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    datastore_id TEXT NOT NULL,
    input_bucket TEXT NOT NULL,
    prefix TEXT NOT NULL,
    files TEXT NOT NULL,
    skipped TEXT NOT NULL DEFAULT '[]',
    job_id TEXT,
    created_unix INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_job ON batches(job_id);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    part_size INTEGER NOT NULL,
    started_unix INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_target ON uploads(bucket, key);
CREATE TABLE IF NOT EXISTS uploaded_objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    crc32c TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS repairs (
    job_id TEXT NOT NULL,
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    path TEXT NOT NULL,
    rule INTEGER
);
CREATE INDEX IF NOT EXISTS repairs_job ON repairs(job_id);
CREATE TABLE IF NOT EXISTS upload_parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    etag TEXT NOT NULL,
    crc32c TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
";

/// A multipart upload Lakedrop started and has not finished: enough to resume it after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub path: String,
    pub size: u64,
    /// The file's modification time when the upload started, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    pub part_size: u64,
    pub started_unix: i64,
}

/// A part S3 acknowledged, as recorded when it completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonePart {
    pub part_number: u32,
    pub etag: String,
    /// Base64 CRC32C of the part, as sent and verified by S3.
    pub crc32c: String,
}

impl State {
    /// Opens the state file, creating it if missing. A damaged one (empty, truncated, not a database, failing
    /// SQLite's check) is never silently reset or fatal: it is kept aside as `<name>.damaged-<time>`, the log says
    /// so (a warning the CLI prints), and a fresh state goes on. What is lost is convenience: interrupted uploads
    /// start over, and earlier jobs' failures cannot be joined to their files by path.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let damaged = match std::fs::metadata(path) {
            Ok(meta) if meta.len() == 0 => Some("it is empty".to_string()),
            Ok(_) => Self::check(path).err(),
            Err(_) => None,
        };
        let mut recovered = None;
        if let Some(why) = damaged {
            match set_aside(path) {
                Ok(aside) => {
                    tracing::warn!(
                        "the local state {} was damaged ({why}); it was kept as {} and a fresh one started: \
                         interrupted uploads start over, and earlier jobs' failures are joined to their files \
                         only through S3",
                        path.display(),
                        aside.display()
                    );
                    recovered = Some(aside);
                }
                Err(e) => tracing::warn!(error = %e, "the local state {} is damaged ({why})", path.display()),
            }
        }
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.execute_batch(SCHEMA)?;
        Ok(State { db: Mutex::new(db), recovered })
    }

    /// Whether an existing state file is whole (SQLite's header, a size in whole pages: SQLite reads the
    /// missing end of a truncated file as zeros and would not notice), opens, passes SQLite's quick check and holds
    /// readable tables.
    fn check(path: &Path) -> Result<(), String> {
        let mut header = [0u8; 100];
        let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
        std::io::Read::read_exact(&mut std::fs::File::open(path).map_err(|e| e.to_string())?, &mut header)
            .map_err(|_| "it is shorter than a database header".to_string())?;
        if &header[..16] != b"SQLite format 3\0" {
            return Err("it is not a SQLite database".into());
        }
        let page_size = match u16::from_be_bytes([header[16], header[17]]) {
            1 => 65_536,
            n => u64::from(n),
        };
        if page_size < 512 || len < page_size || len % page_size != 0 {
            return Err(format!("it is truncated ({len} bytes in pages of {page_size})"));
        }
        let db = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| e.to_string())?;
        let verdict: String =
            db.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| e.to_string())?;
        if verdict != "ok" {
            return Err(verdict);
        }
        db.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Where the damaged state file was kept, when opening found one.
    pub fn recovered(&self) -> Option<&Path> {
        self.recovered.as_deref()
    }

    pub fn open_in_memory() -> Result<State, StateError> {
        let db = Connection::open_in_memory()?;
        db.execute_batch(SCHEMA)?;
        Ok(State { db: Mutex::new(db), recovered: None })
    }

    /// Records a multipart upload as soon as S3 has created it.
    pub fn begin_upload(&self, upload: &PendingUpload) -> Result<(), StateError> {
        self.db().execute(
            "INSERT OR REPLACE INTO uploads (upload_id, bucket, key, path, size, mtime_ns, part_size, started_unix)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                upload.upload_id,
                upload.bucket,
                upload.key,
                upload.path,
                upload.size as i64,
                upload.mtime_ns,
                upload.part_size as i64,
                upload.started_unix
            ],
        )?;
        Ok(())
    }

    /// Records one part as S3 acknowledges it, so a crash loses at most the parts in flight.
    pub fn record_part(&self, upload_id: &str, part: &DonePart) -> Result<(), StateError> {
        self.db().execute(
            "INSERT OR REPLACE INTO upload_parts (upload_id, part_number, etag, crc32c) VALUES (?1, ?2, ?3, ?4)",
            params![upload_id, part.part_number, part.etag, part.crc32c],
        )?;
        Ok(())
    }

    /// The unfinished upload of `path` to `bucket/key`, if there is one.
    pub fn pending_upload(
        &self,
        bucket: &str,
        key: &str,
        path: &str,
    ) -> Result<Option<PendingUpload>, StateError> {
        let db = self.db();
        let mut query = db.prepare_cached(
            "SELECT upload_id, bucket, key, path, size, mtime_ns, part_size, started_unix FROM uploads
             WHERE bucket = ?1 AND key = ?2 AND path = ?3 ORDER BY started_unix DESC LIMIT 1",
        )?;
        Ok(query.query_row(params![bucket, key, path], row_to_upload).optional()?)
    }

    /// Every unfinished upload Lakedrop knows of in `bucket`.
    pub fn pending_uploads(&self, bucket: &str) -> Result<Vec<PendingUpload>, StateError> {
        let db = self.db();
        let mut query = db.prepare_cached(
            "SELECT upload_id, bucket, key, path, size, mtime_ns, part_size, started_unix FROM uploads
             WHERE bucket = ?1 ORDER BY started_unix",
        )?;
        let rows = query.query_map(params![bucket], row_to_upload)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The buckets holding uploads Lakedrop started and has not finished.
    pub fn pending_buckets(&self) -> Result<Vec<String>, StateError> {
        let db = self.db();
        let mut query = db.prepare_cached("SELECT DISTINCT bucket FROM uploads ORDER BY bucket")?;
        let rows = query.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The parts of an upload recorded so far, by part number.
    pub fn done_parts(&self, upload_id: &str) -> Result<Vec<DonePart>, StateError> {
        let db = self.db();
        let mut query = db.prepare_cached(
            "SELECT part_number, etag, crc32c FROM upload_parts WHERE upload_id = ?1 ORDER BY part_number",
        )?;
        let rows = query.query_map(params![upload_id], |r| {
            Ok(DonePart { part_number: r.get(0)?, etag: r.get(1)?, crc32c: r.get(2)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Remembers what an object held when this machine finished uploading it (its ETag and the file's CRC32C),
    /// for S3 implementations that do not report an object's checksum.
    pub fn record_uploaded(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
        size: u64,
        crc32c: &str,
    ) -> Result<(), StateError> {
        self.db().execute(
            "INSERT OR REPLACE INTO uploaded_objects (bucket, key, etag, size, crc32c) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![bucket, key, etag, size as i64, crc32c],
        )?;
        Ok(())
    }

    /// The CRC32C of the file this machine uploaded to `bucket/key`, if the object still has that ETag and size.
    pub fn uploaded_crc(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
        size: u64,
    ) -> Result<Option<String>, StateError> {
        Ok(self
            .db()
            .query_row(
                "SELECT crc32c FROM uploaded_objects WHERE bucket = ?1 AND key = ?2 AND etag = ?3 AND size = ?4",
                params![bucket, key, etag, size as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Forgets an upload (completed or aborted).
    pub fn forget_upload(&self, upload_id: &str) -> Result<(), StateError> {
        let db = self.db();
        db.execute("DELETE FROM upload_parts WHERE upload_id = ?1", params![upload_id])?;
        db.execute("DELETE FROM uploads WHERE upload_id = ?1", params![upload_id])?;
        Ok(())
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every write is one statement), so a poisoned
        // lock is still safe to use.
        self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record_batch(
        &self,
        batch: &Batch,
        skipped: &[SkippedFile],
        now_unix: i64,
    ) -> Result<(), StateError> {
        self.db().execute(
            "INSERT OR REPLACE INTO batches (id, datastore_id, input_bucket, prefix, files, skipped, created_unix)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                batch.id,
                batch.datastore_id,
                batch.input_bucket,
                batch.prefix,
                serde_json::to_string(&batch.files)?,
                serde_json::to_string(skipped)?,
                now_unix
            ],
        )?;
        Ok(())
    }

    /// Forgets a batch that never got a job (every file was kept out).
    pub fn forget_batch(&self, batch_id: &str) -> Result<(), StateError> {
        self.db().execute("DELETE FROM batches WHERE id = ?1 AND job_id IS NULL", params![batch_id])?;
        Ok(())
    }

    pub fn set_job(&self, batch_id: &str, job_id: &str) -> Result<(), StateError> {
        self.db().execute("UPDATE batches SET job_id = ?2 WHERE id = ?1", params![batch_id, job_id])?;
        Ok(())
    }

    /// Keeps the change record of a job that re-imported repaired lines: for each changed element its file, line,
    /// resource type and id, path and rule, never its values (those are patient data, and go only into a file
    /// the person saves).
    pub fn record_repairs(
        &self,
        job_id: &str,
        changes: &[crate::repair::ChangeRecord],
    ) -> Result<(), StateError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO repairs (job_id, file, line, resource_type, resource_id, path, rule)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for c in changes {
                insert.execute(params![
                    job_id,
                    c.file,
                    c.line as i64,
                    c.resource_type,
                    c.resource_id,
                    c.path,
                    c.rule.map(|r| r as i64)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The change record kept for a job, without values, in the order it was recorded.
    pub fn repairs(&self, job_id: &str) -> Result<Vec<crate::repair::ChangeRecord>, StateError> {
        let db = self.db();
        let mut query = db.prepare(
            "SELECT file, line, resource_type, resource_id, path, rule FROM repairs WHERE job_id = ?1 ORDER BY rowid",
        )?;
        let rows = query.query_map(params![job_id], |r| {
            Ok(crate::repair::ChangeRecord {
                file: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                resource_type: r.get(2)?,
                resource_id: r.get(3)?,
                path: r.get(4)?,
                before: None,
                after: None,
                rule: r.get::<_, Option<i64>>(5)?.map(|r| r as usize),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The batch a job was started from, with the files left out of it, if this machine started it.
    pub fn batch_for_job(&self, job_id: &str) -> Result<Option<(Batch, Vec<SkippedFile>)>, StateError> {
        let row = self
            .db()
            .query_row(
                "SELECT id, datastore_id, input_bucket, prefix, files, skipped FROM batches WHERE job_id = ?1",
                params![job_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, datastore_id, input_bucket, prefix, files, skipped)) = row else { return Ok(None) };
        let files: Vec<BatchFile> = serde_json::from_str(&files)?;
        let skipped: Vec<SkippedFile> = serde_json::from_str(&skipped)?;
        Ok(Some((Batch { id, datastore_id, input_bucket, prefix, files }, skipped)))
    }

    /// The newest batch for this data store and bucket that holds exactly these files (same paths, sizes and
    /// modification times, known before a file is read), with its job if one was started: importing the same
    /// files again continues an interrupted upload, or finds the job already started. The one pass that reads
    /// each file then proves its bytes against what S3 holds.
    pub fn same_batch(
        &self,
        datastore_id: &str,
        input_bucket: &str,
        files: &[BatchFile],
    ) -> Result<Option<(Batch, Option<String>)>, StateError> {
        let db = self.db();
        let mut query = db.prepare_cached(
            "SELECT id, prefix, files, job_id FROM batches
             WHERE datastore_id = ?1 AND input_bucket = ?2 ORDER BY created_unix DESC, rowid DESC LIMIT 50",
        )?;
        let rows = query.query_map(params![datastore_id, input_bucket], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        for row in rows {
            let (id, prefix, stored, job_id) = row?;
            let stored: Vec<BatchFile> = serde_json::from_str(&stored)?;
            let same = stored.len() == files.len()
                && stored.iter().zip(files).all(|(a, b)| {
                    a.local_path == b.local_path
                        && a.bytes == b.bytes
                        && a.mtime_ns.is_some()
                        && a.mtime_ns == b.mtime_ns
                });
            if same {
                let batch = Batch {
                    id,
                    datastore_id: datastore_id.to_string(),
                    input_bucket: input_bucket.to_string(),
                    prefix,
                    files: stored,
                };
                return Ok(Some((batch, job_id)));
            }
        }
        Ok(None)
    }
}

/// Moves a damaged file (and SQLite's journal files beside it) aside as `<name>.damaged-<unix time>`, never
/// deleting it: it may still hold what someone wants back.
pub fn set_aside(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let aside = path.with_file_name(format!("{name}.damaged-{now}"));
    std::fs::rename(path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let journal = path.with_file_name(format!("{name}{suffix}"));
        if journal.exists() {
            let _ = std::fs::rename(&journal, aside.with_file_name(format!("{name}.damaged-{now}{suffix}")));
        }
    }
    Ok(aside)
}

fn row_to_upload(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingUpload> {
    Ok(PendingUpload {
        upload_id: r.get(0)?,
        bucket: r.get(1)?,
        key: r.get(2)?,
        path: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        mtime_ns: r.get(5)?,
        part_size: r.get::<_, i64>(6)? as u64,
        started_unix: r.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::SkipReason;

    #[test]
    fn an_upload_and_its_parts_survive_reopening_until_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let upload = PendingUpload {
            upload_id: "u1".into(),
            bucket: "b".into(),
            key: "k".into(),
            path: "/data/x.ndjson".into(),
            size: 42,
            mtime_ns: 7,
            part_size: 8 << 20,
            started_unix: 1,
        };
        {
            let state = State::open(&path).expect("open");
            state.begin_upload(&upload).expect("begin");
            let part = DonePart { part_number: 2, etag: "\"e\"".into(), crc32c: "AAAAAA==".into() };
            state.record_part("u1", &part).expect("part");
        }
        let state = State::open(&path).expect("reopen");
        assert_eq!(state.pending_upload("b", "k", "/data/x.ndjson").expect("read"), Some(upload));
        assert_eq!(state.pending_buckets().expect("buckets"), ["b"]);
        assert_eq!(state.done_parts("u1").expect("parts")[0].part_number, 2);
        state.forget_upload("u1").expect("forget");
        assert_eq!(state.pending_uploads("b").expect("list"), vec![]);
        assert!(state.done_parts("u1").expect("parts").is_empty());
    }

    #[test]
    fn a_batch_and_its_job_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let batch = Batch {
            id: "b1".into(),
            datastore_id: "ds".into(),
            input_bucket: "in".into(),
            prefix: "lakedrop/b1/".into(),
            files: vec![BatchFile {
                local_path: "/data/Patient.ndjson".into(),
                key_name: "Patient.ndjson".into(),
                bytes: 10,
                sha256: "ab".into(),
                crc32c: Some(7),
                ..BatchFile::default()
            }],
        };
        {
            let state = State::open(&path).expect("open");
            let skipped = SkippedFile {
                path: "/data/log.ndjson".into(),
                name: "log.ndjson".into(),
                reason: SkipReason::NotFhir,
            };
            state.record_batch(&batch, &[skipped], 0).expect("record");
            state.set_job("b1", "job1").expect("set job");
        }
        let state = State::open(&path).expect("reopen");
        let (found, skipped) = state.batch_for_job("job1").expect("query").expect("found");
        assert_eq!(found, batch);
        assert_eq!(skipped[0].describe(), "log.ndjson: not FHIR, not uploaded");
        assert!(state.batch_for_job("other").expect("query").is_none());
    }

    #[test]
    fn a_batch_is_found_by_its_files_whether_or_not_its_job_started() {
        let state = State::open_in_memory().expect("state");
        let file = |mtime: &str| BatchFile {
            local_path: "/data/Patient.ndjson".into(),
            key_name: "Patient.ndjson".into(),
            bytes: 10,
            mtime_ns: mtime.parse().ok(),
            ..BatchFile::default()
        };
        let batch = Batch {
            id: "b1".into(),
            datastore_id: "ds".into(),
            input_bucket: "in".into(),
            prefix: "lakedrop/b1/".into(),
            files: vec![file("1")],
        };
        state.record_batch(&batch, &[], 0).expect("record");
        let found = state.same_batch("ds", "in", &[file("1")]).expect("query");
        assert_eq!(found, Some((batch.clone(), None)));
        state.set_job("b1", "job1").expect("job");
        let found = state.same_batch("ds", "in", &[file("1")]).expect("query");
        assert_eq!(found.map(|(b, job)| (b.id, job)), Some(("b1".into(), Some("job1".into()))));
        assert_eq!(state.same_batch("ds", "in", &[file("2")]).expect("query"), None, "modified since");
        assert_eq!(state.same_batch("other", "in", &[file("1")]).expect("query"), None, "other data store");
        // An older record, without a modification time, matches nothing: its files are read and sent again.
        let old = Batch { id: "b0".into(), files: vec![file("none")], ..batch.clone() };
        state.record_batch(&old, &[], 1).expect("record");
        assert_eq!(
            state.same_batch("ds", "in", &[file("none")]).expect("query"),
            None,
            "no modification time"
        );
    }

    // Regression (issue 16): a zero-byte state file silently reset history and resume records; a corrupt one
    // stopped every command with the same message.
    #[test]
    fn a_damaged_state_file_is_kept_aside_and_a_fresh_one_goes_on() {
        let cases: [(&str, Vec<u8>); 3] = [
            ("empty", Vec::new()),
            ("garbage", b"this is not a database, not even close".repeat(200)),
            ("truncated", Vec::new()),
        ];
        for (name, bytes) in cases {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("state.db");
            if name == "truncated" {
                let state = State::open(&path).expect("open");
                state.record_uploaded("b", "k", "\"e\"", 1, "AAAAAA==").expect("write");
                drop(state);
                let whole = std::fs::read(&path).expect("read");
                std::fs::write(&path, &whole[..whole.len().min(1000)]).expect("truncate");
                let _ = std::fs::remove_file(dir.path().join("state.db-wal"));
            } else {
                std::fs::write(&path, &bytes).expect("write");
            }
            let state = State::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let aside =
                state.recovered().unwrap_or_else(|| panic!("{name}: not seen as damaged")).to_path_buf();
            assert!(aside.exists(), "{name}: kept aside");
            assert!(aside.file_name().expect("name").to_string_lossy().starts_with("state.db.damaged-"));
            state.record_uploaded("b", "k", "\"e\"", 1, "AAAAAA==").expect("the fresh state works");
            drop(state);
            assert!(State::open(&path).expect("reopen").recovered().is_none(), "{name}: healthy now");
        }
    }
}
