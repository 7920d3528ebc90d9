//! The one error type of this crate, and how it maps onto the ports' errors.
//!
//! No variant holds a secret value: messages name the operation, the path
//! or the stored field that failed, and SQLite's own message (which names
//! tables and columns, never bound values).

use std::error::Error as StdError;
use std::path::PathBuf;

use rekey_core::{LedgerError, StoreError};
use rusqlite::ErrorCode;

/// Why opening or using the local database failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The data directory could not be created or inspected.
    #[error("cannot prepare data directory {}", .path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be created, or its permissions tightened.
    #[error("cannot prepare database file {}", .path.display())]
    DatabaseFile {
        /// The database file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The data directory is something other than a directory, or others
    /// than its owner may write to it (they could swap the database).
    #[error("data directory {} {reason}", .path.display())]
    UnsafeDataDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Something other than a regular file sits where the database belongs.
    #[error("{} is not a regular file", .path.display())]
    NotAFile {
        /// The database path.
        path: PathBuf,
    },
    /// The file is not an SQLite database, or it is corrupt.
    #[error("{} is not a rekey database: not SQLite, or corrupt", .path.display())]
    NotADatabase {
        /// The database file.
        path: PathBuf,
    },
    /// The database was written by a newer rekey with a schema this build
    /// does not know.
    #[error("{} has schema version {found}, this build knows up to {known}", .path.display())]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this build knows.
        known: i64,
    },
    /// Another connection held the database for longer than the busy timeout.
    #[error("database busy during {op}")]
    Busy {
        /// The operation that waited.
        op: &'static str,
    },
    /// SQLite reported any other failure.
    #[error("sqlite failed during {op}")]
    Sqlite {
        /// The operation that failed.
        op: &'static str,
        /// SQLite's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// A field did not convert to or from its stored form (a stage, a
    /// timestamp, the tags).
    #[error("invalid stored data during {op}: {detail}")]
    InvalidData {
        /// The operation that read it.
        op: &'static str,
        /// Which field, and why (never a secret value).
        detail: String,
    },
    /// The background task running a database call panicked.
    #[error("background task for {op} failed")]
    TaskFailed {
        /// The operation the task ran.
        op: &'static str,
    },
}

impl LocalError {
    /// Wraps an SQLite error met during `op`; busy and locked become [`Self::Busy`].
    pub(crate) fn sqlite(op: &'static str, error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy { op },
            _ => Self::Sqlite {
                op,
                source: Box::new(error),
            },
        }
    }

    /// Whether the same call may succeed if repeated later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Busy { .. })
    }

    /// The message followed by the messages of its causes.
    fn chain(&self) -> String {
        let mut message = self.to_string();
        let mut cause = self.source();
        while let Some(error) = cause {
            message.push_str(": ");
            message.push_str(&error.to_string());
            cause = error.source();
        }
        message
    }
}

impl From<LocalError> for StoreError {
    fn from(error: LocalError) -> Self {
        if error.is_retryable() {
            Self::Unavailable(error.chain())
        } else {
            Self::Backend(error.chain())
        }
    }
}

impl From<LocalError> for LedgerError {
    fn from(error: LocalError) -> Self {
        if error.is_retryable() {
            Self::Unavailable(error.chain())
        } else {
            Self::Backend(error.chain())
        }
    }
}

/// Names the operation an SQLite call belongs to, turning its error into
/// a [`LocalError`].
pub(crate) trait During<T> {
    /// The result, its error wrapped with `op`.
    fn during(self, op: &'static str) -> Result<T, LocalError>;
}

impl<T> During<T> for rusqlite::Result<T> {
    fn during(self, op: &'static str) -> Result<T, LocalError> {
        self.map_err(|error| LocalError::sqlite(op, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        )
    }

    #[test]
    fn busy_database_maps_to_unavailable() {
        let error = LocalError::sqlite("claim", busy());

        assert!(matches!(
            LedgerError::from(error),
            LedgerError::Unavailable(ref m) if m.contains("claim")
        ));
        assert!(StoreError::from(LocalError::sqlite("read", busy())).is_retryable());
    }

    #[test]
    fn other_sqlite_errors_map_to_backend_naming_the_operation() {
        let error = LocalError::sqlite("put_pending", rusqlite::Error::QueryReturnedNoRows);

        let mapped = StoreError::from(error);

        let expected = "sqlite failed during put_pending: ";
        assert!(
            matches!(mapped, StoreError::Backend(ref m) if m.starts_with(expected)),
            "{mapped:?}"
        );
    }
}
