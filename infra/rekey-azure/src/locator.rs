//! Locators of Key Vault secrets: `{vault URL without trailing slash}/secrets/{name}`,
//! for example `https://payments.vault.azure.net/secrets/db-password`.

use rekey_core::{CredentialId, Provider};

/// The suffix of a pending value's companion secret.
pub const COMPANION_SUFFIX: &str = "-rekey-pending";

/// A secret named by a locator: its vault (as configured, no trailing
/// slash) and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SecretRef {
    pub(crate) vault: String,
    pub(crate) name: String,
}

impl SecretRef {
    /// Splits a locator; `None` if it has no `/secrets/{name}` or the name
    /// holds anything but letters, digits and dashes.
    pub(crate) fn parse(locator: &str) -> Option<Self> {
        let (vault, name) = locator.rsplit_once("/secrets/")?;
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        valid.then(|| Self {
            vault: vault.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The locator of `name` in `vault`.
    pub(crate) fn locator(vault: &str, name: &str) -> String {
        format!("{}/secrets/{name}", vault.trim_end_matches('/'))
    }

    /// The credential id of `name` in `vault`.
    pub(crate) fn credential(vault: &str, name: &str) -> CredentialId {
        CredentialId::new(Provider::AzureKeyVault, Self::locator(vault, name))
    }

    /// The companion secret holding this secret's pending values.
    pub(crate) fn companion(&self) -> String {
        format!("{}{COMPANION_SUFFIX}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_round_trip() {
        let locator = SecretRef::locator("https://kv.vault.azure.net/", "db");
        let parsed = SecretRef::parse(&locator).expect("parse");

        assert_eq!(locator, "https://kv.vault.azure.net/secrets/db");
        assert_eq!(parsed.vault, "https://kv.vault.azure.net");
        assert_eq!(parsed.companion(), "db-rekey-pending");
    }

    #[test]
    fn hostile_names_do_not_parse() {
        for locator in [
            "https://kv/secrets/",
            "https://kv/secrets/a/b",
            "https://kv/x",
            "https://kv/secrets/a?b",
        ] {
            assert_eq!(SecretRef::parse(locator), None, "{locator}");
        }
    }
}
