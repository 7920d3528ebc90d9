//! The database file: where it lives, who may read it, its schema, and how
//! calls reach it.
//!
//! One SQLite file, `rekey.db`, in a data directory made owner-only (0700)
//! when this module creates it; the file itself is made owner-only (0600)
//! before SQLite opens it, so no secret is ever written to a readable file.
//! Values are stored in plain text: the file mode is their only protection.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use time::OffsetDateTime;
use tracing::debug;

use crate::LocalError;
use crate::error::During;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "rekey.db";

/// How long a call waits for another connection's write lock before it
/// gives up with [`LocalError::Busy`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema this build writes; files with a newer one are refused.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS credentials (
    name TEXT PRIMARY KEY NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    rotation_enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS versions (
    credential TEXT NOT NULL REFERENCES credentials (name) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (credential, version_id)
);
CREATE TABLE IF NOT EXISTS stages (
    credential TEXT NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('current', 'pending', 'previous')),
    version_id TEXT NOT NULL,
    PRIMARY KEY (credential, stage),
    FOREIGN KEY (credential, version_id)
        REFERENCES versions (credential, version_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS stages_by_version ON stages (credential, version_id);
CREATE TABLE IF NOT EXISTS claims (
    credential TEXT PRIMARY KEY NOT NULL,
    rotation TEXT NOT NULL,
    until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY NOT NULL,
    expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS uses (
    credential TEXT NOT NULL,
    version TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (credential, version)
);
";

/// An open local database, shared by a [`crate::LocalStore`] and a
/// [`crate::LocalLedger`]. Cloning shares the one connection.
#[derive(Clone, Debug)]
pub struct LocalDb {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl LocalDb {
    /// Opens `dir/rekey.db`, creating the directory (0700), the file (0600)
    /// and the schema as needed, and tightening an existing file to 0600.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, LocalError> {
        let dir = dir.as_ref();
        prepare_dir(dir)?;

        let path = dir.join(DB_FILE);
        prepare_file(&path)?;

        let conn = connect(&path)?;
        debug!(path = %path.display(), "local database open");
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection in tokio's blocking pool.
    pub(crate) async fn call<T, E, F>(&self, op: &'static str, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<LocalError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await;

        let result = joined.unwrap_or_else(|_| Err(LocalError::TaskFailed { op }.into()));
        debug!(op, ok = result.is_ok(), "local database call");
        result
    }
}

/// Starts a write transaction that takes the write lock at once, so a
/// read-then-write inside it cannot race another connection.
pub(crate) fn immediate<'c>(
    conn: &'c mut Connection,
    op: &'static str,
) -> Result<Transaction<'c>, LocalError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .during(op)
}

/// `t` as unix nanoseconds, clamped to what an SQLite integer holds.
pub(crate) fn to_nanos(t: OffsetDateTime) -> i64 {
    let nanos = t.unix_timestamp_nanos();
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// `t + by` as unix nanoseconds, saturating instead of overflowing.
pub(crate) fn nanos_after(t: OffsetDateTime, by: Duration) -> i64 {
    let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
    to_nanos(t).saturating_add(by)
}

/// A time stored as unix nanoseconds.
pub(crate) fn from_nanos(nanos: i64, op: &'static str) -> Result<OffsetDateTime, LocalError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(|e| {
        LocalError::InvalidData {
            op,
            detail: format!("timestamp out of range: {e}"),
        }
    })
}

fn prepare_dir(dir: &Path) -> Result<(), LocalError> {
    let error = |source| LocalError::DataDir {
        path: dir.to_owned(),
        source,
    };
    match fs::metadata(dir) {
        Ok(meta) => return check_dir(dir, &meta),
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(error(e)),
        Err(_) => {}
    }

    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(error)?;
    fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(error)
}

/// An existing data directory must be a directory only its owner may
/// write to, as one rekey creates is (0700).
fn check_dir(dir: &Path, meta: &fs::Metadata) -> Result<(), LocalError> {
    let unsafe_dir = |reason| LocalError::UnsafeDataDir {
        path: dir.to_owned(),
        reason,
    };
    if !meta.is_dir() {
        return Err(unsafe_dir("is not a directory"));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(unsafe_dir(
            "may be written by others than its owner; make it 0700 (chmod go-w)",
        ));
    }
    Ok(())
}

fn prepare_file(path: &Path) -> Result<(), LocalError> {
    let error = |source| LocalError::DatabaseFile {
        path: path.to_owned(),
        source,
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(LocalError::NotAFile {
                path: path.to_owned(),
            });
        }
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(error(e)),
        _ => {}
    }

    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(error)?;
    file.set_permissions(Permissions::from_mode(0o600))
        .map_err(error)?;

    for suffix in ["-wal", "-shm"] {
        tighten_if_present(&PathBuf::from(format!("{}{suffix}", path.display())))?;
    }
    Ok(())
}

fn tighten_if_present(path: &Path) -> Result<(), LocalError> {
    match fs::set_permissions(path, Permissions::from_mode(0o600)) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(LocalError::DatabaseFile {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn connect(path: &Path) -> Result<Connection, LocalError> {
    let on_open = |op, e| opening(path, op, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| on_open("open", e))?;

    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| on_open("set busy timeout", e))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .map_err(|e| on_open("set journal mode", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        debug!(path = %path.display(), mode, "write-ahead log unavailable");
    }

    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;")
        .map_err(|e| on_open("set pragmas", e))?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LocalError> {
    let op = "create schema";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| opening(path, op, e))?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| opening(path, op, e))?;
    if found > SCHEMA_VERSION {
        return Err(LocalError::SchemaTooNew {
            path: path.to_owned(),
            found,
            known: SCHEMA_VERSION,
        });
    }

    tx.execute_batch(SCHEMA).map_err(|e| opening(path, op, e))?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| opening(path, op, e))?;
    tx.commit().map_err(|e| opening(path, op, e))
}

/// An error met while opening: a file that is not SQLite gets its own variant.
fn opening(path: &Path, op: &'static str, error: rusqlite::Error) -> LocalError {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => LocalError::NotADatabase {
            path: path.to_owned(),
        },
        _ => LocalError::sqlite(op, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn new_directory_and_database_are_owner_only() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("data").join("rekey");

        let db = LocalDb::open(&dir).expect("open");

        assert_eq!(mode(&dir), 0o700);
        assert_eq!(db.path(), dir.join(DB_FILE));
        assert_eq!(mode(db.path()), 0o600);
        let wal = dir.join(format!("{DB_FILE}-wal"));
        assert!(wal.exists(), "journal mode is WAL");
        assert_eq!(mode(&wal), 0o600, "the write-ahead log is owner-only too");
    }

    #[test]
    fn a_data_directory_others_may_write_is_refused_untouched() {
        let root = tempfile::tempdir().expect("tempdir");
        let shared = root.path().join("shared");
        fs::create_dir(&shared).expect("mkdir");
        fs::set_permissions(&shared, Permissions::from_mode(0o777)).expect("chmod");

        let refused = LocalDb::open(&shared).map(|_| ()).expect_err("refused");
        assert!(
            matches!(refused, LocalError::UnsafeDataDir { .. }),
            "{refused}"
        );
        assert!(refused.to_string().contains("chmod go-w"), "{refused}");
        assert!(!shared.join(DB_FILE).exists(), "nothing was created");
        assert_eq!(mode(&shared), 0o777, "the directory is left as it was");

        let file = root.path().join("a-file");
        fs::write(&file, b"").expect("create");
        let refused = LocalDb::open(&file).map(|_| ()).expect_err("refused");
        assert!(
            refused.to_string().contains("is not a directory"),
            "{refused}"
        );
    }

    #[test]
    fn existing_database_file_is_tightened_to_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DB_FILE);
        fs::write(&path, b"").expect("create");
        fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod");

        LocalDb::open(dir.path()).expect("open");

        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn non_sqlite_file_is_rejected_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DB_FILE);
        fs::write(&path, "not a database, only text\n".repeat(100)).expect("write");

        let error = LocalDb::open(dir.path()).expect_err("a text file is no database");

        assert!(
            matches!(error, LocalError::NotADatabase { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("is not a rekey database"));
        assert!(error.to_string().contains(DB_FILE));
    }

    #[test]
    fn directory_at_the_database_path_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join(DB_FILE)).expect("mkdir");

        let error = LocalDb::open(dir.path()).expect_err("a directory is no database");

        assert!(matches!(error, LocalError::NotAFile { .. }), "{error:?}");
    }

    #[test]
    fn file_at_the_data_directory_path_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("data");
        fs::write(&file, b"").expect("write");

        let error = LocalDb::open(&file).expect_err("a file is no directory");

        assert!(
            matches!(error, LocalError::UnsafeDataDir { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("is not a directory"), "{error}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = LocalDb::open(dir.path()).expect("open");
        let raw = Connection::open(db.path()).expect("raw open");
        raw.pragma_update(None, "user_version", 99)
            .expect("bump schema");
        drop((raw, db));

        let error = LocalDb::open(dir.path()).expect_err("newer schema");

        assert!(
            matches!(error, LocalError::SchemaTooNew { found: 99, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn times_round_trip_through_nanoseconds() {
        let now = OffsetDateTime::now_utc();

        assert_eq!(from_nanos(to_nanos(now), "test").expect("in range"), now);
        assert_eq!(nanos_after(now, Duration::MAX), i64::MAX);
    }
}
