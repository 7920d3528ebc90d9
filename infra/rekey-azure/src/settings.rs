//! The adapter's configuration, read from TOML (rekey's app puts it under
//! `[stores.azure_key_vault]`):
//!
//! ```toml
//! vaults = ["https://payments.vault.azure.net/"]
//! tenant_id = "00000000-0000-0000-0000-000000000000"
//! client_id = "11111111-1111-1111-1111-111111111111"
//! credential = { type = "workload-identity", token_file = "/var/run/secrets/azure/token" }
//! # authority_host = "https://login.microsoftonline.com/"
//! # ca_file = "/etc/ssl/extra-ca.pem"
//! # resolve = { "payments.vault.azure.net" = "10.0.0.5" }
//! # max_retries = 8
//! ```
//!
//! A client secret is never read from the file: the `client-secret`
//! credential takes it from the environment variable `AZURE_CLIENT_SECRET`
//! (or the one `secret_env` names).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The public cloud's Entra authority.
pub const PUBLIC_AUTHORITY_HOST: &str = "https://login.microsoftonline.com/";
/// The environment variable the `client-secret` credential reads.
pub const CLIENT_SECRET_ENV: &str = "AZURE_CLIENT_SECRET";

/// The audience Entra expects of a federated token by default.
pub const FEDERATION_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Where rekey finds its vaults and how it authenticates to them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureSettings {
    /// The vaults to manage, by URL (`https://NAME.vault.azure.net/`).
    pub vaults: Vec<String>,
    /// The Microsoft Entra tenant (directory) id. Required by the
    /// `client-secret` and `workload-identity` credentials.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The application (client) id: the app registration for
    /// `client-secret` and `workload-identity`, the user-assigned identity
    /// for `managed-identity` (system-assigned when absent).
    #[serde(default)]
    pub client_id: Option<String>,
    /// How rekey obtains its Entra tokens.
    pub credential: CredentialSettings,
    /// The Entra authority; default the public cloud's
    /// (`https://login.microsoftonline.com/`). Must be HTTPS.
    #[serde(default)]
    pub authority_host: Option<String>,
    /// A PEM bundle of extra CA certificates to trust besides the system's:
    /// for TLS-inspecting proxies and the test fake.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Host names pinned to addresses, as curl's `--resolve` does: for
    /// private endpoints without private DNS, and the test fake. The port
    /// always comes from the vault URL.
    #[serde(default)]
    pub resolve: BTreeMap<String, IpAddr>,
    /// How often the SDK retries a throttled (429) or failed (5xx) call,
    /// with exponential back-off and `Retry-After`, before rekey sees the
    /// failure. Default 8, the SDK's.
    #[serde(default)]
    pub max_retries: Option<u32>,
}

/// The Entra credential rekey authenticates with.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CredentialSettings {
    /// An app registration's client secret, read from the environment.
    ClientSecret {
        /// The environment variable holding the secret; default
        /// `AZURE_CLIENT_SECRET`.
        #[serde(default)]
        secret_env: Option<String>,
    },
    /// A federated token read from `token_file` and exchanged for an Entra
    /// token (workload identity federation): how a function hosted on AWS
    /// authenticates without a stored secret.
    WorkloadIdentity {
        /// The file holding the federated token; re-read on every exchange.
        token_file: PathBuf,
    },
    /// The AWS identity rekey's functions run as: a web identity token from
    /// AWS STS `GetWebIdentityToken` (IAM outbound identity federation),
    /// exchanged for an Entra token through the app registration's
    /// federated credential, so no secret is stored anywhere. The token
    /// source comes from the caller
    /// ([`crate::AzureClients::connect_with_assertion`]); rekey's app layer
    /// gives it the function's AWS configuration.
    AwsWebIdentity {
        /// The token's audience, which the federated credential expects;
        /// default [`FEDERATION_AUDIENCE`].
        #[serde(default)]
        audience: Option<String>,
    },
    /// The managed identity of the Azure host rekey runs on.
    ManagedIdentity,
    /// The developer's own sign-in: the Azure CLI, then the Azure
    /// Developer CLI. For laptops.
    Developer,
}

impl CredentialSettings {
    /// The audience of the web identity token an `aws-web-identity`
    /// credential asks AWS for; `None` for the other credentials.
    pub fn web_identity_audience(&self) -> Option<&str> {
        match self {
            Self::AwsWebIdentity { audience } => {
                Some(audience.as_deref().unwrap_or(FEDERATION_AUDIENCE))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_parses() {
        let settings: AzureSettings = toml::from_str(
            r#"
            vaults = ["https://payments.vault.azure.net/"]
            tenant_id = "t"
            client_id = "c"
            credential = { type = "workload-identity", token_file = "/run/token" }
            authority_host = "https://login.microsoftonline.us/"
            ca_file = "/etc/ca.pem"
            resolve = { "payments.vault.azure.net" = "127.0.0.1" }
            max_retries = 0
            "#,
        )
        .expect("parse");

        assert_eq!(
            settings.credential,
            CredentialSettings::WorkloadIdentity {
                token_file: "/run/token".into()
            }
        );
        assert_eq!(settings.max_retries, Some(0));
        assert_eq!(settings.resolve.len(), 1);
    }

    #[test]
    fn a_secret_in_the_file_is_refused() {
        let parsed = toml::from_str::<AzureSettings>(
            r#"
            vaults = []
            credential = { type = "client-secret", client_secret = "s3cr3t" }
            "#,
        );

        let message = parsed.expect_err("unknown field").to_string();
        assert!(message.contains("client_secret"), "{message}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let parsed = toml::from_str::<AzureSettings>(
            "vaults = []\ncredential = { type = \"developer\" }\nregion = \"x\"",
        );

        assert!(parsed.is_err());
    }
}
