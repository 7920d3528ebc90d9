//! What the fake remembers: projects, secrets with their versions, service
//! accounts with their keys, and the faults it was told to inject.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The state of one secret version, as `SecretVersion.State` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    /// Its payload can be accessed.
    Enabled,
    /// Its payload cannot be accessed until it is enabled again.
    Disabled,
    /// Its payload is gone for good.
    Destroyed,
}

impl VersionState {
    /// The enum's name in JSON (`ENABLED`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
            Self::Destroyed => "DESTROYED",
        }
    }

    /// The enum's number, sent when the client asks for `enum-encoding=int`.
    pub fn number(self) -> i64 {
        match self {
            Self::Enabled => 1,
            Self::Disabled => 2,
            Self::Destroyed => 3,
        }
    }
}

/// One version of a secret.
#[derive(Debug, Clone)]
pub struct Version {
    /// GCP's number for it, from 1.
    pub number: i64,
    /// When it was added.
    pub create_time: OffsetDateTime,
    /// When it was destroyed, if it was.
    pub destroy_time: Option<OffsetDateTime>,
    /// Enabled, disabled or destroyed.
    pub state: VersionState,
    /// Changes with every state change.
    pub etag: String,
    /// The payload; empty once destroyed.
    pub data: Vec<u8>,
    /// The payload's CRC32C.
    pub crc32c: u32,
    /// Whether the client sent the checksum itself.
    pub client_checksum: bool,
}

/// One secret.
#[derive(Debug, Clone)]
pub struct Secret {
    /// The project id it was created under.
    pub project: String,
    /// The secret id (the last part of its name).
    pub id: String,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// Version aliases to version numbers.
    pub aliases: BTreeMap<String, i64>,
    /// Changes with every update of the secret's own fields.
    pub etag: String,
    /// Versions by number.
    pub versions: BTreeMap<i64, Version>,
}

impl Secret {
    /// The number the next added version gets.
    pub fn next_number(&self) -> i64 {
        self.versions.keys().next_back().map_or(1, |n| n + 1)
    }
}

/// Whether a service-account key was made by its user or by Google.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Created through `CreateServiceAccountKey`; counts against the limit.
    UserManaged,
    /// Google's own signing key, listed but never returned with a private key.
    SystemManaged,
}

impl KeyType {
    /// The enum's name in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::UserManaged => "USER_MANAGED",
            Self::SystemManaged => "SYSTEM_MANAGED",
        }
    }

    /// The enum's number.
    pub fn number(self) -> i64 {
        match self {
            Self::UserManaged => 1,
            Self::SystemManaged => 2,
        }
    }
}

/// One key of a service account.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key id: 40 hex digits.
    pub id: String,
    /// User or system managed.
    pub key_type: KeyType,
    /// Whether it was disabled.
    pub disabled: bool,
    /// When it starts to be valid.
    pub valid_after: OffsetDateTime,
    /// When it stops being valid.
    pub valid_before: OffsetDateTime,
    /// The public half, as a PEM.
    pub public_key: String,
}

/// One service account.
#[derive(Debug, Clone)]
pub struct Account {
    /// The project it belongs to.
    pub project: String,
    /// Its keys, oldest first.
    pub keys: Vec<Key>,
}

/// A fault to inject: the next `remaining` calls of `method` fail with `code`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The RPC name (`AccessSecretVersion`).
    pub method: String,
    /// How many calls are still to fail.
    pub remaining: u32,
    /// The HTTP status to answer.
    pub code: u16,
}

/// Everything the fake holds.
#[derive(Debug, Default)]
pub struct State {
    /// Project ids to project numbers.
    pub projects: BTreeMap<String, u64>,
    /// Secrets by `project-id/secret-id`.
    pub secrets: BTreeMap<(String, String), Secret>,
    /// Service accounts by email.
    pub accounts: BTreeMap<String, Account>,
    /// Faults still to inject.
    pub faults: Vec<Fault>,
    /// How many times each RPC was called.
    pub calls: HashMap<String, u32>,
    /// The page size used when a list request names none.
    pub default_page_size: Option<usize>,
    etags: u64,
}

impl State {
    /// A fresh etag, quoted as Secret Manager quotes them.
    pub fn etag(&mut self) -> String {
        self.etags += 1;
        format!(
            "\"{:016x}\"",
            self.etags.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )
    }

    /// The number of project `id`, assigned on first sight.
    pub fn project_number(&mut self, id: &str) -> u64 {
        let next = 100_000_000_000 + self.projects.len() as u64 + 1;
        *self.projects.entry(id.to_owned()).or_insert(next)
    }

    /// The project id a path segment names: an id or a number.
    pub fn project_id(&self, segment: &str) -> Option<String> {
        if self.projects.contains_key(segment) {
            return Some(segment.to_owned());
        }
        let by_number = self.projects.iter().find(|(_, n)| n.to_string() == segment);
        by_number.map(|(id, _)| id.clone())
    }

    /// Records a call of `method`, and takes one injected fault for it.
    pub fn take_fault(&mut self, method: &str) -> Option<u16> {
        *self.calls.entry(method.to_owned()).or_default() += 1;
        let fault = self
            .faults
            .iter_mut()
            .find(|f| f.method == method && f.remaining > 0)?;
        fault.remaining -= 1;
        let code = fault.code;
        self.faults.retain(|f| f.remaining > 0);
        Some(code)
    }
}

/// A time as Google's JSON writes it (RFC 3339, UTC).
pub fn timestamp(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}
