//! AWS adapters for the rekey engine: the Secrets Manager store, the
//! DynamoDB ledger, the IAM access key kind and IAM role sessions.
//!
//! - [`SecretsManagerStore`] implements [`rekey_core::SecretStore`] for
//!   [`rekey_core::Provider::AwsSecretsManager`]: secrets tagged
//!   `rekey:policy`, their versions and staging labels.
//! - [`DynamoDbLedger`] implements [`rekey_core::Ledger`] on one DynamoDB
//!   table with conditional writes and atomic counters (item shapes in
//!   [`dynamodb`]).
//! - [`IamAccessKeys`] implements [`rekey_core::CredentialKind`] for IAM
//!   access keys held in a secret tagged `rekey:iam-user`; register it as
//!   [`IAM_ACCESS_KEY`] (details in [`iam_access_key`]).
//! - [`IamRoleSessions`] implements [`rekey_core::SessionRevoker`]: it
//!   denies a managed role's sessions issued before a cut-off (details in
//!   [`iam_sessions`]).
//!
//! All are built from an [`aws_config::SdkConfig`], so configuration comes
//! from the standard AWS environment: region, credentials (the Lambda
//! role, a profile, environment variables) and endpoint. Setting
//! `AWS_ENDPOINT_URL` points every client at an emulator such as moto, with
//! no code of ours. Errors come back as the ports' own `StoreError`,
//! `LedgerError` and `KindError`; no SDK type appears in this crate's API,
//! and no secret value appears in an error or a log line.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use rekey_aws::{
//!     DynamoDbLedger, IAM_ACCESS_KEY, IamAccessKeys, IamRoleSessions, SecretsManagerStore,
//! };
//! use rekey_core::{Engine, PolicySet, SecretStore as _};
//!
//! # async fn demo(policies: PolicySet) -> Result<(), rekey_core::StoreError> {
//! let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let store = Arc::new(SecretsManagerStore::new(&config));
//! let ledger = Arc::new(DynamoDbLedger::new(&config, "rekey-ledger"));
//!
//! let managed = store.list().await?;
//! let engine = Engine::new(policies, ledger)
//!     .with_store(store)
//!     .with_kind(IAM_ACCESS_KEY, Arc::new(IamAccessKeys::new(&config)))
//!     .with_sessions(Arc::new(IamRoleSessions::new(&config)));
//! # let _ = (managed, engine);
//! # Ok(())
//! # }
//! ```

pub mod dynamodb;
mod error;
pub mod events;
pub mod iam_access_key;
pub mod iam_sessions;
pub mod secrets_manager;

pub use dynamodb::DynamoDbLedger;
pub use events::{EventBridgePublisher, PublishError};
pub use iam_access_key::{AccessKeyPair, IAM_ACCESS_KEY, IamAccessKeys};
pub use iam_sessions::{IamRoleSessions, REVOKE_POLICY_NAME};
pub use secrets_manager::SecretsManagerStore;
