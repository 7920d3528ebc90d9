//! The embedded default backend of rekey: the secret store and the ledger
//! of local mode, in one SQLite file that needs no cloud account.
//!
//! - [`LocalDb::open`] opens (or creates) `rekey.db` in a data directory,
//!   owner-only, with its schema;
//! - [`LocalStore::new`] serves it as a [`rekey_core::SecretStore`] for
//!   [`rekey_core::Provider::Local`], credentials named by their name;
//!   [`LocalStore::ensure_credential`] seeds one;
//! - [`LocalLedger::new`] serves it as a [`rekey_core::Ledger`].
//!
//! Both behave as the in-memory reference in [`rekey_core::memory`], and
//! their tests run [`rekey_core::conformance`] against a real file. Several
//! processes may share one file: every read-then-write is one
//! `BEGIN IMMEDIATE` transaction, and a busy file is waited for, then
//! reported as retryable. Values are stored unencrypted; the file's 0600
//! mode is their only protection.
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//!
//! use rekey_core::{SecretStore, SecretValue, Stage, SystemClock, POLICY_TAG};
//! use rekey_local::{LocalDb, LocalLedger, LocalStore};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let db = LocalDb::open(dir.path())?;
//! let store = LocalStore::new(db.clone(), Arc::new(SystemClock));
//! let _ledger = LocalLedger::new(db);
//!
//! let tags = BTreeMap::from([(POLICY_TAG.to_owned(), "demo".to_owned())]);
//! let initial = SecretValue::new("s3cret".into());
//! let now = time::OffsetDateTime::now_utc();
//! let id = store.ensure_credential("db-password", tags, Some(&initial), now).await?;
//!
//! let credential = store.describe(&id).await?;
//! let current = credential.version_at(Stage::Current).expect("a current version");
//! assert_eq!(store.read(&id, &current.id).await?, initial);
//! assert_eq!(store.list().await?, vec![id]);
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new()?.block_on(demo())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod db;
mod error;
mod ledger;
mod store;
mod tables;

pub use db::{BUSY_TIMEOUT, DB_FILE, LocalDb};
pub use error::LocalError;
pub use ledger::LocalLedger;
pub use store::LocalStore;
