//! One `SecretClient` per configured vault, all sharing one credential and
//! one transport built from [`AzureSettings`].

use std::sync::Arc;

use azure_core::http::Url;
use azure_identity::ClientAssertion;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};

use crate::{AzureSettings, ConnectError, credential, transport};

/// The Key Vault clients of one deployment, by vault URL.
pub struct AzureClients {
    vaults: Vec<(String, SecretClient)>,
}

impl std::fmt::Debug for AzureClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureClients")
            .field("vaults", &self.vaults().collect::<Vec<_>>())
            .finish()
    }
}

impl AzureClients {
    /// Builds the credential and a client for every vault in `settings`.
    /// Sends nothing: the first call to a vault meets its 401 challenge and
    /// only then asks Entra for a token.
    pub fn connect(settings: &AzureSettings) -> Result<Self, ConnectError> {
        Self::build(settings, None)
    }

    /// As [`AzureClients::connect`], with `assertion` answering the
    /// `aws-web-identity` credential's requests for federated tokens (AWS
    /// STS web identity tokens, in rekey's app layer).
    pub fn connect_with_assertion(
        settings: &AzureSettings,
        assertion: Arc<dyn ClientAssertion>,
    ) -> Result<Self, ConnectError> {
        Self::build(settings, Some(assertion))
    }

    fn build(
        settings: &AzureSettings,
        assertion: Option<Arc<dyn ClientAssertion>>,
    ) -> Result<Self, ConnectError> {
        let options = transport::client_options(settings)?;
        let credential = credential::credential(settings, options.clone(), assertion)?;

        let mut vaults = Vec::with_capacity(settings.vaults.len());
        for url in &settings.vaults {
            let endpoint = vault_endpoint(url)?;
            let client_options = SecretClientOptions {
                client_options: options.clone(),
                ..SecretClientOptions::default()
            };
            let client =
                SecretClient::new(endpoint.as_str(), credential.clone(), Some(client_options))
                    .map_err(|e| ConnectError::Sdk {
                        what: "secret client",
                        reason: e.to_string(),
                    })?;
            vaults.push((url.trim_end_matches('/').to_owned(), client));
        }
        Ok(Self { vaults })
    }

    /// The configured vault URLs, without trailing slash.
    pub fn vaults(&self) -> impl Iterator<Item = &str> {
        self.vaults.iter().map(|(url, _)| url.as_str())
    }

    /// The clients with their vault URLs.
    pub(crate) fn clients(&self) -> impl Iterator<Item = (&str, &SecretClient)> {
        self.vaults
            .iter()
            .map(|(url, client)| (url.as_str(), client))
    }

    /// The client of `vault` (a URL without trailing slash): the vault
    /// configured with that URL, else the one on the same host, since a
    /// Key Vault event names its vault `https://{host}` without the port a
    /// configured URL may carry (a private endpoint, the test fake).
    pub(crate) fn client(&self, vault: &str) -> Option<&SecretClient> {
        let exact = self.vaults.iter().find(|(url, _)| url == vault);
        let host = |url: &str| {
            Url::parse(url)
                .ok()?
                .host_str()
                .map(str::to_ascii_lowercase)
        };
        let same_host = || {
            let wanted = host(vault)?;
            self.vaults
                .iter()
                .find(|(url, _)| host(url).as_ref() == Some(&wanted))
        };
        exact.or_else(same_host).map(|(_, client)| client)
    }
}

/// A vault URL checked to be HTTPS with a host and nothing after the path `/`.
fn vault_endpoint(url: &str) -> Result<Url, ConnectError> {
    let invalid = |reason: &str| ConnectError::InvalidVaultUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if parsed.scheme() != "https" {
        return Err(invalid("a vault is reached over https only"));
    }
    if parsed.host_str().is_none() || parsed.path() != "/" || parsed.query().is_some() {
        return Err(invalid("expected https://NAME.vault.azure.net/"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_urls_must_be_https_roots() {
        assert!(vault_endpoint("https://kv.vault.azure.net/").is_ok());
        assert!(vault_endpoint("https://kv.vault.azure.net").is_ok());
        for bad in [
            "http://kv.vault.azure.net/",
            "https://kv.vault.azure.net/secrets",
            "kv",
        ] {
            assert!(vault_endpoint(bad).is_err(), "{bad}");
        }
    }
}
