//! The sandbox's control-plane database (KMS keys, data stores, import and export jobs, stored FHIR resources),
//! one SQLite file in the data directory. Object bytes and S3 metadata live in the S3 store's own files.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kms_keys (
    key_id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL,
    created REAL NOT NULL,
    material BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS kms_aliases (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS datastores (
    id TEXT PRIMARY KEY,
    name TEXT,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    active_at REAL,
    client_token TEXT
);
CREATE TABLE IF NOT EXISTS import_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    datastore_id TEXT NOT NULL,
    job_name TEXT,
    status TEXT NOT NULL,
    submit_time REAL NOT NULL,
    end_time REAL,
    input_uri TEXT NOT NULL,
    output_uri TEXT NOT NULL,
    kms_key_id TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    message TEXT,
    validation_level TEXT,
    client_token TEXT,
    request_hash TEXT,
    progress TEXT
);
CREATE INDEX IF NOT EXISTS import_jobs_queue ON import_jobs(datastore_id, status, seq);
CREATE TABLE IF NOT EXISTS resources (
    datastore_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (datastore_id, resource_type, id)
);
";

/// Columns added after the first release, as (table, column, declaration). `CREATE TABLE IF NOT EXISTS` leaves
/// the tables of an existing data directory as they are, so each is added with `ALTER TABLE` when missing; only
/// additive changes belong here, so an older sandbox can still open a newer data directory.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // Export jobs share `import_jobs` with imports (the name predates them), so that one `seq` orders both
    // kinds in one FIFO queue per data store. Rows written before exports existed are imports.
    ("import_jobs", "kind", "TEXT NOT NULL DEFAULT 'IMPORT'"),
    // What a data store was created with (SseConfiguration, IdentityProviderConfiguration, ...), as JSON; the
    // create request without its ClientToken, for idempotency; when backup was enabled, if it is.
    ("datastores", "config", "TEXT"),
    ("datastores", "request", "TEXT"),
    ("datastores", "backup_enabled_at", "REAL"),
    // KMS keys: who manages the key (CUSTOMER, or AWS for `alias/aws/*`), a scheduled deletion, rotation, and
    // a policy set with PutKeyPolicy (NULL: the default policy).
    ("kms_keys", "manager", "TEXT NOT NULL DEFAULT 'CUSTOMER'"),
    ("kms_keys", "deletion_date", "REAL"),
    ("kms_keys", "pending_window_days", "INTEGER"),
    ("kms_keys", "rotation", "INTEGER NOT NULL DEFAULT 0"),
    ("kms_keys", "policy", "TEXT"),
];

/// What refers to the added columns, made once they exist: the tags, the version history of backup-enabled
/// stores (kept by triggers, so no writer of `resources` can forget it), and the import cursors.
const AFTER_COLUMNS: &str = "
CREATE TABLE IF NOT EXISTS kms_tags (
    key_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
);
CREATE TABLE IF NOT EXISTS healthlake_tags (
    arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
);
CREATE TABLE IF NOT EXISTS resource_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    datastore_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated REAL NOT NULL,
    -- NULL: deleted at this point.
    body TEXT
);
CREATE TABLE IF NOT EXISTS import_cursors (
    job_id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS import_output_chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    bytes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS import_output_chunks_by_job ON import_output_chunks(job_id, kind, seq);
CREATE INDEX IF NOT EXISTS resource_history_by_resource ON resource_history(datastore_id, resource_type, id, seq);
CREATE TRIGGER IF NOT EXISTS resources_history_insert AFTER INSERT ON resources
WHEN (SELECT backup_enabled_at FROM datastores WHERE id = NEW.datastore_id) IS NOT NULL
BEGIN
    INSERT INTO resource_history (datastore_id, resource_type, id, version, last_updated, body)
    VALUES (NEW.datastore_id, NEW.resource_type, NEW.id, NEW.version, NEW.last_updated, NEW.body);
END;
CREATE TRIGGER IF NOT EXISTS resources_history_update AFTER UPDATE ON resources
WHEN (SELECT backup_enabled_at FROM datastores WHERE id = NEW.datastore_id) IS NOT NULL
BEGIN
    INSERT INTO resource_history (datastore_id, resource_type, id, version, last_updated, body)
    VALUES (NEW.datastore_id, NEW.resource_type, NEW.id, NEW.version, NEW.last_updated, NEW.body);
END;
CREATE TRIGGER IF NOT EXISTS resources_history_delete AFTER DELETE ON resources
WHEN (SELECT backup_enabled_at FROM datastores WHERE id = OLD.datastore_id) IS NOT NULL
BEGIN
    INSERT INTO resource_history (datastore_id, resource_type, id, version, last_updated, body)
    VALUES (OLD.datastore_id, OLD.resource_type, OLD.id, OLD.version + 1, unixepoch('subsec'), NULL);
END;
";

pub struct Db {
    conn: Mutex<Connection>,
}

/// Opens one of the sandbox's databases (WAL, a busy timeout), creates its schema and adds the columns that later
/// versions added to existing tables, so data directories of older versions still open.
pub(crate) fn open_schema(
    path: &Path,
    schema: &str,
    added_columns: &[(&str, &str, &str)],
) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(schema)?;
    for (table, column, declaration) in added_columns {
        let present: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            [table, column],
            |r| r.get(0),
        )?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {declaration}"))?;
        }
    }
    Ok(conn)
}

impl Db {
    pub fn open(path: &Path) -> rusqlite::Result<Db> {
        let conn = open_schema(path, SCHEMA, ADDED_COLUMNS)?;
        conn.execute_batch(AFTER_COLUMNS)?;
        Ok(Db { conn: Mutex::new(conn) })
    }

    /// The connection; held only for short, synchronous work, never across an await.
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        // Every write is a statement or a transaction, so a panic elsewhere cannot leave it half done.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
