//! Acting on a parsed event or delivery: drop a redelivery, then revoke and
//! rotate through the engine.

use rekey_core::anomaly::{Finding, Subject};
use rekey_core::{Engine, EngineError, Trigger};

use crate::AnomalyAnswer;

/// What an event or a delivery asks for, once parsed.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// Act on a finding.
    Act(Action),
    /// Nothing to do; the reason says why.
    Ignore(String),
}

/// A finding to act on.
#[derive(Debug)]
pub(crate) struct Action {
    /// Who reported it: `aws.health`, `aws.guardduty`, `github`, `webhook`.
    pub source: String,
    /// The finding's id, as the audit trail names it.
    pub finding: String,
    /// The delivery's id, prefixed by its source: a second delivery with
    /// the same id is dropped.
    pub delivery: String,
    /// What the finding names.
    pub target: Target,
}

/// What a finding names.
#[derive(Debug)]
pub(crate) enum Target {
    /// Credentials, by id, by public identifier or by leaked value.
    Subjects(Vec<Subject>),
    /// The sessions of an IAM role: temporary credentials, which are
    /// revoked, never rotated.
    RoleSessions(String),
}

/// Acts on `parsed` once per delivery.
pub(crate) async fn act(engine: &Engine, parsed: Parsed) -> Result<AnomalyAnswer, EngineError> {
    let action = match parsed {
        Parsed::Ignore(reason) => return Ok(AnomalyAnswer::Ignored { reason }),
        Parsed::Act(action) => action,
    };

    if !engine.first_sighting(&action.delivery).await? {
        return Ok(AnomalyAnswer::Duplicate {
            source: action.source,
            finding: action.finding,
        });
    }

    // A delivery that fails is forgotten, so its retry is acted on rather
    // than answered as a duplicate.
    let delivery = action.delivery.clone();
    let result = match action.target {
        Target::Subjects(subjects) => {
            respond(engine, action.source, action.finding, subjects).await
        }
        Target::RoleSessions(role) => {
            revoke_sessions(engine, action.source, action.finding, role).await
        }
    };
    if result.is_err() {
        engine.forget_sighting(&delivery).await?;
    }
    result
}

async fn respond(
    engine: &Engine,
    source: String,
    finding: String,
    subjects: Vec<Subject>,
) -> Result<AnomalyAnswer, EngineError> {
    let mut responses = Vec::new();
    for subject in subjects {
        let one = Finding {
            source: source.clone(),
            id: finding.clone(),
            subject,
        };
        responses.extend(engine.respond(&one).await?);
    }

    if responses.is_empty() {
        return Ok(AnomalyAnswer::Unmatched { source, finding });
    }
    Ok(AnomalyAnswer::Responded {
        source,
        finding,
        responses,
    })
}

async fn revoke_sessions(
    engine: &Engine,
    source: String,
    finding: String,
    role: String,
) -> Result<AnomalyAnswer, EngineError> {
    let trigger = Trigger::Anomaly {
        source: source.clone(),
        finding: finding.clone(),
    };
    let revocation = engine.revoke_sessions(&role, &trigger).await?;

    Ok(AnomalyAnswer::RoleSessions {
        source,
        finding,
        role,
        revocation,
    })
}
