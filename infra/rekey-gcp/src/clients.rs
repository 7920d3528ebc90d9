//! The official clients, built once from [`GcpSettings`]: Secret Manager's
//! `SecretManagerService` and IAM's `Iam`, sharing one set of credentials.

use std::path::{Path, PathBuf};

use google_cloud_auth::credentials::{
    Credentials, anonymous, external_account, service_account, user_account,
};
use google_cloud_iam_admin_v1::client::Iam;
use google_cloud_secretmanager_v1::client::SecretManagerService;

use crate::{GcpCredentials, GcpSettings};

/// Why the clients could not be built. Never holds a credential's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The credentials file could not be read.
    #[error("failed to read the GCP credentials file {path}: {source}")]
    CredentialsFile {
        /// The file named in the settings.
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// The credentials file is not a JSON object with a `type`.
    #[error("the GCP credentials file {0} is not a credentials JSON object with a `type`")]
    MalformedCredentials(PathBuf),
    /// The credentials file holds a type rekey does not load.
    #[error(
        "the GCP credentials file {path} has type `{kind}`; rekey loads `service_account`, \
         `external_account` and `authorized_user`"
    )]
    UnsupportedCredentials {
        /// The file named in the settings.
        path: PathBuf,
        /// Its `type`.
        kind: String,
    },
    /// The auth library refused the credentials.
    #[error("failed to set up GCP credentials: {0}")]
    Credentials(String),
    /// A client could not be built (a bad endpoint URL, no TLS roots).
    #[error("failed to build the {client} client: {reason}")]
    Client {
        /// `Secret Manager` or `IAM`.
        client: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// The official clients rekey's GCP adapters talk through.
#[derive(Clone, Debug)]
pub struct GcpClients {
    pub(crate) secret_manager: SecretManagerService,
    pub(crate) iam: Iam,
}

impl GcpClients {
    /// Builds both clients with the settings' endpoints and credentials.
    pub async fn connect(settings: &GcpSettings) -> Result<Self, ConnectError> {
        let credentials = credentials(&settings.credentials)?;

        let mut secret_manager =
            SecretManagerService::builder().with_credentials(credentials.clone());
        if let Some(endpoint) = &settings.secret_manager_endpoint {
            secret_manager = secret_manager.with_endpoint(endpoint);
        }
        let secret_manager = secret_manager
            .build()
            .await
            .map_err(|e| ConnectError::Client {
                client: "Secret Manager",
                reason: e.to_string(),
            })?;

        let mut iam = Iam::builder().with_credentials(credentials);
        if let Some(endpoint) = &settings.iam_endpoint {
            iam = iam.with_endpoint(endpoint);
        }
        let iam = iam.build().await.map_err(|e| ConnectError::Client {
            client: "IAM",
            reason: e.to_string(),
        })?;
        Ok(Self {
            secret_manager,
            iam,
        })
    }
}

fn credentials(choice: &GcpCredentials) -> Result<Credentials, ConnectError> {
    let refused =
        |e: google_cloud_auth::build_errors::Error| ConnectError::Credentials(e.to_string());
    match choice {
        GcpCredentials::Default => google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(refused),
        GcpCredentials::Anonymous => Ok(anonymous::Builder::new().build()),
        GcpCredentials::File(path) => from_file(path),
    }
}

/// Credentials from a JSON file, by its `type`.
fn from_file(path: &Path) -> Result<Credentials, ConnectError> {
    let text = std::fs::read(path).map_err(|source| ConnectError::CredentialsFile {
        path: path.to_owned(),
        source,
    })?;
    let json: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|_| ConnectError::MalformedCredentials(path.to_owned()))?;
    let kind = json["type"]
        .as_str()
        .ok_or_else(|| ConnectError::MalformedCredentials(path.to_owned()))?
        .to_owned();

    let refused =
        |e: google_cloud_auth::build_errors::Error| ConnectError::Credentials(e.to_string());
    match kind.as_str() {
        "service_account" => service_account::Builder::new(json).build().map_err(refused),
        "external_account" => external_account::Builder::new(json)
            .build()
            .map_err(refused),
        "authorized_user" => user_account::Builder::new(json).build().map_err(refused),
        _ => Err(ConnectError::UnsupportedCredentials {
            path: path.to_owned(),
            kind,
        }),
    }
}
