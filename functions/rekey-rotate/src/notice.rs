//! Acting on a store's expiry notice (GCP Secret Manager `SECRET_ROTATE`,
//! Azure Key Vault `SecretNearExpiry` / `SecretExpired`): once per
//! delivery, and only while the notice is still news.
//!
//! A notice is acted on at most once: its delivery id goes through the
//! ledger's conditional write ([`Engine::first_sighting`]) before anything
//! else, so a redelivery, even one arriving at the same moment, is answered
//! as a duplicate. A notice about a credential rekey rotated since it was
//! sent is acknowledged and skipped; one about a credential rekey does not
//! manage is acknowledged and left alone. A failure forgets the delivery,
//! so the sender's retry is acted on.

use rekey_core::{
    Credential, CredentialId, Engine, EngineError, Stage, StoreError, Trigger, VersionId,
};
use serde::Serialize;
use time::OffsetDateTime;

/// A notice that a credential is due, as the store sent it.
#[derive(Clone, Debug)]
pub(crate) struct Notice {
    /// `gcp.secretmanager` or `azure.keyvault`.
    pub source: &'static str,
    /// The store's event type (`SECRET_ROTATE`, `Microsoft.KeyVault.SecretNearExpiry`).
    pub event: String,
    /// The delivery's id, prefixed by its source: the dedupe key.
    pub delivery: String,
    /// The credential it names.
    pub credential: CredentialId,
    /// What makes it stale.
    pub freshness: Freshness,
}

/// How to tell that a notice is older than the credential's current value.
#[derive(Clone, Debug)]
pub(crate) enum Freshness {
    /// Stale when the current version was created after this time (Pub/Sub's
    /// `publishTime`).
    PublishedAt(OffsetDateTime),
    /// Stale when this version is no longer current (Key Vault's `Version`).
    AboutVersion(Option<String>),
}

/// What `rekey-rotate` did about one notice. Never holds a secret value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NoticeAnswer {
    /// The credential was rotated.
    Rotated {
        /// The credential.
        credential: CredentialId,
        /// The event type that asked for it.
        event: String,
        /// The new current version.
        version: VersionId,
        /// The version it replaced, now previous.
        replaced: Option<VersionId>,
    },
    /// The credential was rotated after the notice was sent; nothing done.
    AlreadyRotated {
        /// The credential.
        credential: CredentialId,
        /// The event type.
        event: String,
    },
    /// The notice names nothing rekey manages here; acknowledged.
    NotManaged {
        /// The credential named.
        credential: CredentialId,
        /// Why it is not acted on.
        reason: String,
    },
    /// A delivery already handled; nothing was done again.
    Duplicate {
        /// The delivery's id.
        delivery: String,
    },
    /// Not an event rekey acts on; acknowledged so it is not redelivered.
    Ignored {
        /// Why.
        reason: String,
    },
}

impl NoticeAnswer {
    /// The HTTP status: 200 for a rotation, 202 for anything acknowledged
    /// without acting.
    pub fn status(&self) -> u16 {
        match self {
            Self::Rotated { .. } => 200,
            _ => 202,
        }
    }

    /// Logs the outcome: one info line, ids only.
    pub(crate) fn log(&self) {
        match self {
            Self::Rotated {
                credential,
                event,
                version,
                ..
            } => tracing::info!(%credential, %event, %version, "expiry notice rotated"),
            Self::AlreadyRotated { credential, event } => {
                tracing::info!(%credential, %event, "expiry notice already rotated");
            }
            Self::NotManaged { credential, reason } => {
                tracing::info!(%credential, %reason, "expiry notice for an unmanaged credential");
            }
            Self::Duplicate { delivery } => tracing::info!(%delivery, "duplicate delivery"),
            Self::Ignored { reason } => tracing::info!(%reason, "notification ignored"),
        }
    }
}

/// Acts on `notice` once per delivery.
pub(crate) async fn act(engine: &Engine, notice: Notice) -> Result<NoticeAnswer, EngineError> {
    if !engine.first_sighting(&notice.delivery).await? {
        return Ok(NoticeAnswer::Duplicate {
            delivery: notice.delivery,
        });
    }

    let result = act_once(engine, &notice).await;
    if result.is_err() {
        engine.forget_sighting(&notice.delivery).await?;
    }
    let answer = result?;
    answer.log();
    Ok(answer)
}

async fn act_once(engine: &Engine, notice: &Notice) -> Result<NoticeAnswer, EngineError> {
    let id = &notice.credential;
    let credential = match engine.describe(id).await {
        Ok((credential, _policy)) => credential,
        Err(error) => return not_managed(id, error),
    };
    if is_stale(&credential, &notice.freshness) {
        return Ok(NoticeAnswer::AlreadyRotated {
            credential: id.clone(),
            event: notice.event.clone(),
        });
    }

    // Rechecked under the rotation claim: two notices racing on the same
    // version make one rotation, and the later one finds it done.
    let trigger = Trigger::ExpiryNotice {
        source: notice.source.to_owned(),
        event: notice.event.clone(),
    };
    let current = credential.version_at(Stage::Current).map(|v| &v.id);
    let Some(rotated) = engine.rotate_if_current(id, &trigger, current).await? else {
        return Ok(NoticeAnswer::AlreadyRotated {
            credential: id.clone(),
            event: notice.event.clone(),
        });
    };
    Ok(NoticeAnswer::Rotated {
        credential: id.clone(),
        event: notice.event.clone(),
        version: rotated.version,
        replaced: rotated.replaced,
    })
}

/// The answer for a credential `describe` refused: acknowledged when rekey
/// does not manage it here, else the error.
fn not_managed(id: &CredentialId, error: EngineError) -> Result<NoticeAnswer, EngineError> {
    let reason = match &error {
        EngineError::NotManaged(_) => "it has no rekey:policy tag",
        EngineError::Store(StoreError::CredentialNotFound(_)) => "the store has no such credential",
        EngineError::NoStore(_) => "this deployment has no store for its provider",
        _ => return Err(error),
    };
    Ok(NoticeAnswer::NotManaged {
        credential: id.clone(),
        reason: reason.into(),
    })
}

fn is_stale(credential: &Credential, freshness: &Freshness) -> bool {
    let Some(current) = credential.version_at(Stage::Current) else {
        return false;
    };
    match freshness {
        Freshness::PublishedAt(published) => current.created_at > *published,
        Freshness::AboutVersion(Some(version)) => {
            credential.version_named(version).map(|v| &v.id) != Some(&current.id)
        }
        Freshness::AboutVersion(None) => false,
    }
}
