//! The adapter's configuration: which projects, which endpoints, which
//! credentials. rekey's app layer reads it from the `[stores.gcp_secret_manager]` table of its
//! configuration file:
//!
//! ```toml
//! [stores.gcp_secret_manager]
//! projects = ["payments-prod"]          # projects whose secrets rekey manages
//! credentials = "default"               # or { file = "/etc/rekey/wif.json" }, or "anonymous"
//! # secret_manager_endpoint = "http://127.0.0.1:8085"   # default: Google's
//! # iam_endpoint = "http://127.0.0.1:8085"              # default: Google's
//! # destroy_retired = false             # destroy, not disable, retired versions
//! ```

use std::path::PathBuf;

use serde::Deserialize;

/// How the clients authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GcpCredentials {
    /// Application Default Credentials: the file `GOOGLE_APPLICATION_CREDENTIALS`
    /// names (a service-account key, or an `external_account` workload
    /// identity federation config, e.g. one whose source is AWS), gcloud's
    /// own file, else the metadata server. `credentials = "default"`.
    #[default]
    Default,
    /// A credentials JSON file: a service-account key, an `authorized_user`
    /// file or an `external_account` config. `credentials = { file = "…" }`.
    File(PathBuf),
    /// No credentials at all, for emulators and fakes. `credentials = "anonymous"`.
    Anonymous,
}

/// The `[stores.gcp_secret_manager]` table: everything [`crate::GcpClients::connect`] and the
/// store need.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcpSettings {
    /// Project ids whose secrets labelled `rekey-policy` rekey manages.
    #[serde(default)]
    pub projects: Vec<String>,
    /// The Secret Manager endpoint; `None` for `https://secretmanager.googleapis.com`.
    #[serde(default)]
    pub secret_manager_endpoint: Option<String>,
    /// The IAM endpoint; `None` for `https://iam.googleapis.com`.
    #[serde(default)]
    pub iam_endpoint: Option<String>,
    /// How the clients authenticate; Application Default Credentials by default.
    #[serde(default)]
    pub credentials: GcpCredentials,
    /// Destroy a retired version (`DestroySecretVersion`) instead of only
    /// disabling it. Off by default: a disabled version can be enabled again.
    #[serde(default)]
    pub destroy_retired: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credentials_form_reads_from_toml() {
        let read = |text: &str| toml::from_str::<GcpSettings>(text).expect("parses");

        assert_eq!(
            read("credentials = \"default\"").credentials,
            GcpCredentials::Default
        );
        assert_eq!(
            read("credentials = \"anonymous\"").credentials,
            GcpCredentials::Anonymous
        );
        assert_eq!(
            read("credentials = { file = \"/etc/wif.json\" }").credentials,
            GcpCredentials::File("/etc/wif.json".into())
        );
        assert_eq!(read("").credentials, GcpCredentials::Default);
    }

    #[test]
    fn a_full_table_reads_and_unknown_keys_are_refused() {
        let settings: GcpSettings = toml::from_str(
            "projects = [\"a\", \"b\"]\nsecret_manager_endpoint = \"http://x\"\n\
             iam_endpoint = \"http://y\"\ndestroy_retired = true",
        )
        .expect("parses");

        assert_eq!(settings.projects, ["a", "b"]);
        assert_eq!(settings.iam_endpoint.as_deref(), Some("http://y"));
        assert!(settings.destroy_retired);
        assert!(toml::from_str::<GcpSettings>("project = [\"a\"]").is_err());
        assert!(toml::from_str::<GcpSettings>("credentials = \"adc\"").is_err());
    }
}
