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
";

impl State {
    pub fn open(path: &Path) -> Result<State, StateError> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.execute_batch(SCHEMA)?;
        Ok(State { db: Mutex::new(db) })
    }

    pub fn open_in_memory() -> Result<State, StateError> {
        let db = Connection::open_in_memory()?;
        db.execute_batch(SCHEMA)?;
        Ok(State { db: Mutex::new(db) })
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

    pub fn set_job(&self, batch_id: &str, job_id: &str) -> Result<(), StateError> {
        self.db().execute("UPDATE batches SET job_id = ?2 WHERE id = ?1", params![batch_id, job_id])?;
        Ok(())
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::SkipReason;

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
}
