//! A wire-level fake of GCP Secret Manager v1 and IAM service-account keys,
//! for tests that drive the official Google Cloud Rust clients over HTTP.
//!
//! [`FakeGcp::start`] binds `127.0.0.1:0`, serves both APIs under one base
//! URL ([`FakeGcp::url`]: give it to the client as its endpoint, with
//! anonymous credentials) and stops when dropped. Seed it and look inside
//! with its helpers; [`FakeGcp::fail_next`] makes the next calls of one RPC
//! fail with 429, 503 or any other status.
//!
//! The files follow the REST references: [`router`] maps paths and verbs to
//! RPCs, `secrets` and `keys` answer them, `errors` writes Google's error
//! shape, `state` holds what the fake remembers. The crate's README lists
//! what it leaves out.
//!
//! ```no_run
//! # async fn demo() {
//! let fake = rekey_fake_gcp::FakeGcp::start().await;
//! let locator = fake.create_secret("demo", "db", &[("rekey-policy", "db")], &[], Some("v1"));
//! assert_eq!(locator, "projects/demo/secrets/db");
//! let email = fake.create_service_account("demo", "app");
//! assert_eq!(email, "app@demo.iam.gserviceaccount.com");
//! # }
//! ```

mod errors;
mod keys;
pub mod router;
mod secrets;
mod state;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use time::OffsetDateTime;
use tokio::sync::oneshot;

pub use errors::ApiError;
pub use keys::MAX_USER_MANAGED_KEYS;
pub use state::{KeyType, VersionState};

use state::{Account, Fault, Secret, State, Version};

/// One key of a service account, as [`FakeGcp::keys`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id (`private_key_id` in its key file).
    pub id: String,
    /// User or system managed.
    pub key_type: KeyType,
    /// Whether it is disabled.
    pub disabled: bool,
}

/// A running fake; stops when dropped.
pub struct FakeGcp {
    state: Arc<Mutex<State>>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeGcp {
    /// Starts a fake on a free loopback port.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (a test helper's failure).
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let app = Router::new()
            .fallback(router::handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the fake");
        let address = listener.local_addr().expect("the fake's address");

        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Self {
            state,
            address,
            stop: Some(stop),
            server,
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`), the endpoint of both APIs.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates secret `id` in `project` with labels, annotations and, when
    /// `value` is given, a first enabled version. Answers its name as rekey
    /// locates it: `projects/{project}/secrets/{id}`.
    pub fn create_secret(
        &self,
        project: &str,
        id: &str,
        labels: &[(&str, &str)],
        annotations: &[(&str, &str)],
        value: Option<&str>,
    ) -> String {
        let mut state = self.state();
        state.project_number(project);
        let owned = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let secret = Secret {
            project: project.to_owned(),
            id: id.to_owned(),
            create_time: OffsetDateTime::now_utc(),
            labels: owned(labels),
            annotations: owned(annotations),
            aliases: BTreeMap::new(),
            etag: state.etag(),
            versions: BTreeMap::new(),
        };
        state
            .secrets
            .insert((project.to_owned(), id.to_owned()), secret);
        drop(state);
        if let Some(value) = value {
            self.add_version(project, id, value);
        }
        format!("projects/{project}/secrets/{id}")
    }

    /// Adds an enabled version holding `value` to a seeded secret; answers
    /// its number.
    ///
    /// # Panics
    ///
    /// When the secret does not exist.
    pub fn add_version(&self, project: &str, id: &str, value: &str) -> i64 {
        let mut state = self.state();
        let etag = state.etag();
        let secret = state
            .secrets
            .get_mut(&(project.to_owned(), id.to_owned()))
            .expect("a seeded secret");
        let number = secret.next_number();
        let data = value.as_bytes().to_vec();
        let version = Version {
            number,
            create_time: OffsetDateTime::now_utc(),
            destroy_time: None,
            state: VersionState::Enabled,
            etag,
            crc32c: crc32c::crc32c(&data),
            data,
            client_checksum: false,
        };
        secret.versions.insert(number, version);
        number
    }

    fn secret(&self, project: &str, id: &str) -> Option<Secret> {
        let key = (project.to_owned(), id.to_owned());
        self.state().secrets.get(&key).cloned()
    }

    /// The numbers and states of a secret's versions, oldest first.
    pub fn versions(&self, project: &str, id: &str) -> Vec<(i64, VersionState)> {
        self.secret(project, id)
            .map(|s| s.versions.values().map(|v| (v.number, v.state)).collect())
            .unwrap_or_default()
    }

    /// The state of one version, if it exists.
    pub fn version_state(&self, project: &str, id: &str, number: i64) -> Option<VersionState> {
        self.secret(project, id)?
            .versions
            .get(&number)
            .map(|v| v.state)
    }

    /// The payload of one version as text, if it exists and is not destroyed.
    pub fn version_value(&self, project: &str, id: &str, number: i64) -> Option<String> {
        let secret = self.secret(project, id)?;
        let version = secret.versions.get(&number)?;
        (version.state != VersionState::Destroyed)
            .then(|| String::from_utf8_lossy(&version.data).into_owned())
    }

    /// A secret's version aliases.
    pub fn aliases(&self, project: &str, id: &str) -> BTreeMap<String, i64> {
        self.secret(project, id)
            .map(|s| s.aliases)
            .unwrap_or_default()
    }

    /// A secret's annotations.
    pub fn annotations(&self, project: &str, id: &str) -> BTreeMap<String, String> {
        self.secret(project, id)
            .map(|s| s.annotations)
            .unwrap_or_default()
    }

    /// Creates service account `account_id` in `project`, with one
    /// system-managed key as GCP gives every account; answers its email.
    pub fn create_service_account(&self, project: &str, account_id: &str) -> String {
        let email = format!("{account_id}@{project}.iam.gserviceaccount.com");
        let account = Account {
            project: project.to_owned(),
            keys: vec![keys::new_key(KeyType::SystemManaged)],
        };
        self.state().accounts.insert(email.clone(), account);
        email
    }

    /// Adds a user-managed key to an account, as a person or another tool
    /// would; answers its id and its JSON key file.
    ///
    /// # Panics
    ///
    /// When the account does not exist.
    pub fn add_key(&self, email: &str) -> (String, String) {
        let key = keys::new_key(KeyType::UserManaged);
        let mut state = self.state();
        let account = state.accounts.get_mut(email).expect("a seeded account");
        let file = keys::key_file(&account.project, email, &key).to_string();
        let id = key.id.clone();
        account.keys.push(key);
        (id, file)
    }

    /// Moves the create time of a version `by` into the past, as if it had
    /// been added that long ago.
    pub fn backdate(&self, project: &str, id: &str, number: i64, by: std::time::Duration) {
        let mut state = self.state();
        let key = (project.to_owned(), id.to_owned());
        let version = state
            .secrets
            .get_mut(&key)
            .and_then(|s| s.versions.get_mut(&number));
        if let Some(version) = version {
            version.create_time -= by;
        }
    }

    /// The keys of a service account, oldest first.
    pub fn keys(&self, email: &str) -> Vec<KeyInfo> {
        let state = self.state();
        let Some(account) = state.accounts.get(email) else {
            return Vec::new();
        };
        account
            .keys
            .iter()
            .map(|k| KeyInfo {
                id: k.id.clone(),
                key_type: k.key_type,
                disabled: k.disabled,
            })
            .collect()
    }

    /// Answers the next `times` calls of RPC `method` (`AccessSecretVersion`,
    /// `CreateServiceAccountKey`, …) with HTTP status `code` and its
    /// canonical error (429 `RESOURCE_EXHAUSTED`, 503 `UNAVAILABLE`, …).
    pub fn fail_next(&self, method: &str, times: u32, code: u16) {
        self.state().faults.push(Fault {
            method: method.to_owned(),
            remaining: times,
            code,
        });
    }

    /// How many times RPC `method` was called, failed calls included.
    pub fn calls(&self, method: &str) -> u32 {
        self.state().calls.get(method).copied().unwrap_or(0)
    }

    /// The page size of list calls that name none (GCP picks its own).
    pub fn set_default_page_size(&self, size: usize) {
        self.state().default_page_size = Some(size.max(1));
    }
}

impl Drop for FakeGcp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.abort();
    }
}
