//! AWS adapters for the rekey engine: the Secrets Manager store and the
//! DynamoDB ledger.
//!
//! - [`SecretsManagerStore`] implements [`rekey_core::SecretStore`] for
//!   [`rekey_core::Provider::AwsSecretsManager`]: secrets tagged
//!   `rekey:policy`, their versions and staging labels.
//! - [`DynamoDbLedger`] implements [`rekey_core::Ledger`] on one DynamoDB
//!   table with conditional writes and atomic counters (item shapes in
//!   [`dynamodb`]).
//!
//! Both are built from an [`aws_config::SdkConfig`], so configuration comes
//! from the standard AWS environment: region, credentials (the Lambda
//! role, a profile, environment variables) and endpoint. Setting
//! `AWS_ENDPOINT_URL` points every client at an emulator such as moto, with
//! no code of ours. Errors come back as the ports' own `StoreError` and
//! `LedgerError`; no SDK type appears in this crate's API, and no secret
//! value appears in an error or a log line.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use rekey_aws::{DynamoDbLedger, SecretsManagerStore};
//! use rekey_core::{Engine, PolicySet, SecretStore as _};
//!
//! # async fn demo(policies: PolicySet) -> Result<(), rekey_core::StoreError> {
//! let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let store = Arc::new(SecretsManagerStore::new(&config));
//! let ledger = Arc::new(DynamoDbLedger::new(&config, "rekey-ledger"));
//!
//! let managed = store.list().await?;
//! let engine = Engine::new(policies, ledger).with_store(store);
//! # let _ = (managed, engine);
//! # Ok(())
//! # }
//! ```

pub mod dynamodb;
mod error;
pub mod secrets_manager;

pub use dynamodb::DynamoDbLedger;
pub use secrets_manager::SecretsManagerStore;
