//! What one running fake holds: its vaults, Entra's app registrations and
//! issued tokens, the faults waiting to be injected, and counters the
//! tests read.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::StatusCode;

use crate::entra::Entra;
use crate::vault::Vault;

/// One injected failure: the status to answer and an optional `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<u64>,
}

/// The fake's whole state, shared by every connection.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The authority's base URL (`https://127.0.0.1:PORT`).
    pub(crate) authority: String,
    vaults: Mutex<BTreeMap<String, Vault>>,
    entra: Mutex<Entra>,
    faults: Mutex<VecDeque<Fault>>,
    /// 401 challenges answered to vault requests without a valid token.
    pub(crate) challenges: AtomicUsize,
    /// Tokens issued by the token endpoint.
    pub(crate) tokens_issued: AtomicUsize,
    /// Vault requests that passed authentication (faults included).
    pub(crate) vault_requests: AtomicUsize,
}

impl State {
    /// An empty fake whose authority is `authority`.
    pub(crate) fn new(authority: String) -> Self {
        Self {
            authority,
            ..Self::default()
        }
    }

    /// The vaults, by name.
    pub(crate) fn vaults(&self) -> MutexGuard<'_, BTreeMap<String, Vault>> {
        self.vaults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// App registrations and tokens.
    pub(crate) fn entra(&self) -> MutexGuard<'_, Entra> {
        self.entra.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `count` failures answering `status`.
    pub(crate) fn inject(&self, count: usize, fault: Fault) {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        faults.extend(std::iter::repeat_n(fault, count));
    }

    /// The next queued failure, if any.
    pub(crate) fn next_fault(&self) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        faults.pop_front()
    }

    /// Adds one to `counter`.
    pub(crate) fn count(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
}
