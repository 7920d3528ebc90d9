//! A wire-level fake of Azure Key Vault secrets and of the Microsoft Entra
//! token endpoint, for rekey's tests. It runs in-process, speaks HTTPS with
//! a throwaway CA, and follows the public REST reference closely enough that
//! the official `azure_security_keyvault_secrets` client and a real
//! `azure_identity` credential talk to it unchanged.
//!
//! Start with [`FakeKeyVault::start`]; then:
//!
//! - [`FakeKeyVault::create_vault`] serves a vault at
//!   `https://{name}.vault.azure.net:{port}/` (point the client's resolver
//!   at [`FakeKeyVault::address`]), [`FakeKeyVault::ca_file`] is the CA to
//!   trust, [`FakeKeyVault::authority_host`] is the Entra authority;
//! - [`FakeKeyVault::register_client_secret`] and
//!   [`FakeKeyVault::register_federated_token`] register an app;
//! - [`FakeKeyVault::fail_next`] injects throttling or outages;
//! - [`FakeKeyVault::versions`] and the counters inspect what happened.
//!
//! Modules: `tls` (certificates), `server` (the HTTPS listener), `auth`
//! (the 401 bearer challenge and faults), `entra` (tokens), `rest` (the
//! Key Vault operations), `vault` (contents and rules), `error` (error
//! bodies), `state` (what one fake holds).

mod auth;
mod entra;
mod error;
mod rest;
mod server;
mod state;
mod tls;
mod vault;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use auth::TENANT_ID;
pub use entra::KEY_VAULT_SCOPE;
pub use error::FakeError;
pub use vault::StoredVersion;

use state::{Fault, State};
use vault::{Attributes, NewVersion};

/// A running fake: Key Vault hosts and the Entra token endpoint on one
/// loopback HTTPS port. Stops when dropped.
pub struct FakeKeyVault {
    state: Arc<State>,
    address: SocketAddr,
    ca_file: tempfile::NamedTempFile,
    task: JoinHandle<()>,
}

impl FakeKeyVault {
    /// Generates the test certificates, writes the CA file and starts
    /// serving on `127.0.0.1` on a free port.
    pub async fn start() -> Result<Self, FakeError> {
        let pki = tls::TestPki::generate()?;
        let ca_file = write_ca(&pki.ca_pem)?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| FakeError::Io {
                action: "bind the loopback listener",
                source,
            })?;
        let address = listener.local_addr().map_err(|source| FakeError::Io {
            action: "read the listener's address",
            source,
        })?;

        let authority = format!("https://127.0.0.1:{}", address.port());
        let state = Arc::new(State::new(authority));
        let task = server::spawn(listener, pki.server, router(state.clone()));
        Ok(Self {
            state,
            address,
            ca_file,
            task,
        })
    }

    /// The loopback address every host name of the fake must resolve to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The PEM file of the CA that signed the server certificate.
    pub fn ca_file(&self) -> &Path {
        self.ca_file.path()
    }

    /// The Entra authority host, `https://127.0.0.1:{port}/`.
    pub fn authority_host(&self) -> String {
        format!("{}/", self.state.authority)
    }

    /// The tenant the fake's challenge names and its apps belong to.
    pub fn tenant_id(&self) -> &'static str {
        TENANT_ID
    }

    /// Starts serving an empty vault `name`; returns its URL,
    /// `https://{name}.vault.azure.net:{port}/`.
    pub fn create_vault(&self, name: &str) -> String {
        self.state.vaults().entry(name.to_owned()).or_default();
        self.vault_url(name)
    }

    /// The URL of vault `name`.
    pub fn vault_url(&self, name: &str) -> String {
        format!("https://{}:{}/", self.vault_host(name), self.address.port())
    }

    /// The host name of vault `name`, `{name}.vault.azure.net`.
    pub fn vault_host(&self, name: &str) -> String {
        format!("{name}.vault.azure.net")
    }

    /// Registers app `client_id` in the fake's tenant, authenticating with
    /// `secret`.
    pub fn register_client_secret(&self, client_id: &str, secret: &str) {
        self.state
            .entra()
            .register_secret(TENANT_ID, client_id, secret);
    }

    /// Registers app `client_id` with a federated credential that accepts
    /// the client assertion `token` (the workload identity token).
    pub fn register_federated_token(&self, client_id: &str, token: &str) {
        self.state
            .entra()
            .register_assertion(TENANT_ID, client_id, token);
    }

    /// Makes the next `count` authenticated vault requests answer `status`
    /// (429 `Throttled`, or 503 `ServiceUnavailable` for any other status),
    /// with `Retry-After: {seconds}` when given.
    pub fn fail_next(&self, count: usize, status: u16, retry_after: Option<u64>) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        self.state.inject(
            count,
            Fault {
                status,
                retry_after,
            },
        );
    }

    /// Writes a version directly, as another tool would (no HTTP, no auth).
    /// Panics if the vault refuses it, as a test helper does.
    pub fn seed(
        &self,
        vault: &str,
        name: &str,
        value: &str,
        tags: &[(&str, &str)],
    ) -> StoredVersion {
        let tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let new = NewVersion {
            value: value.to_owned(),
            content_type: None,
            tags,
            attributes: Attributes::default(),
        };
        let mut vaults = self.state.vaults();
        let result = vaults.entry(vault.to_owned()).or_default().set(name, new);
        result.unwrap_or_else(|e| panic!("seeding {vault}/{name} failed: {}", e.message))
    }

    /// Every version of a secret, oldest first; empty if there is none.
    pub fn versions(&self, vault: &str, name: &str) -> Vec<StoredVersion> {
        let vaults = self.state.vaults();
        vaults
            .get(vault)
            .and_then(|v| v.versions(name).ok())
            .map(<[StoredVersion]>::to_vec)
            .unwrap_or_default()
    }

    /// How many 401 challenges the vaults answered.
    pub fn challenges(&self) -> usize {
        self.state.challenges.load(Ordering::SeqCst)
    }

    /// How many tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        self.state.tokens_issued.load(Ordering::SeqCst)
    }

    /// How many authenticated vault requests arrived (faults included).
    pub fn vault_requests(&self) -> usize {
        self.state.vault_requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakeKeyVault {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(state: Arc<State>) -> Router {
    let vault = Router::new()
        .route("/secrets", get(rest::list_secrets))
        .route(
            "/secrets/{name}",
            put(rest::set_secret)
                .get(rest::get_latest)
                .patch(rest::update_latest)
                .delete(rest::delete_secret),
        )
        .route(
            "/secrets/{name}/",
            get(rest::get_latest).patch(rest::update_latest),
        )
        .route("/secrets/{name}/versions", get(rest::list_versions))
        .route(
            "/secrets/{name}/{version}",
            get(rest::get_version).patch(rest::update_version),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .merge(vault)
        .with_state(state)
}

fn write_ca(pem: &str) -> Result<tempfile::NamedTempFile, FakeError> {
    let io = |action| move |source| FakeError::Io { action, source };
    let mut file = tempfile::Builder::new()
        .prefix("rekey-fake-azure-ca")
        .suffix(".pem")
        .tempfile()
        .map_err(io("create the CA file"))?;
    file.write_all(pem.as_bytes())
        .map_err(io("write the CA file"))?;
    Ok(file)
}
