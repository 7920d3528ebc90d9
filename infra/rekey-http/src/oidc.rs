//! Google-signed OIDC ID tokens, as Cloud Scheduler and Pub/Sub push
//! subscriptions send them: `Authorization: Bearer <JWT>`.
//!
//! A token is accepted when it is RS256, its `kid` is in the key set, its
//! signature checks, `iss` is `https://accounts.google.com` or
//! `accounts.google.com`, `aud` is the configured audience, it is neither
//! expired nor issued in the future (with [`LEEWAY`]; `exp` and `iat` are
//! required), and `email` is the
//! configured service account with `email_verified` true (Google Cloud
//! docs, "Authenticate push subscriptions" and "Use authentication with
//! HTTP targets"). Errors say what failed and never repeat the token.

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use rekey_app::triggers::IdToken;
use serde::Deserialize;

use crate::KeySet;

/// The issuers Google writes in the ID tokens it signs.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// The clock skew tolerated on `exp` and `iat`, in seconds.
pub const LEEWAY: u64 = 60;
/// The longest bearer token read, in bytes.
const MAX_TOKEN: usize = 8 * 1024;

/// Why an ID token was refused. No message holds the token.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OidcError {
    /// There is no `Authorization: Bearer` header.
    #[error("the request has no Authorization: Bearer token")]
    MissingToken,
    /// The token is not a JWT, or is too long.
    #[error("the bearer token is not a well-formed JWT")]
    MalformedToken,
    /// The token is not signed with RS256.
    #[error("the token is not signed with RS256")]
    WrongAlgorithm,
    /// The token's `kid` is not in the key set.
    #[error("the token's signing key (kid) is not in the key set")]
    UnknownKey,
    /// The signature does not check.
    #[error("the token's signature does not check")]
    BadSignature,
    /// The token has expired (or has no `exp`).
    #[error("the token has expired")]
    Expired,
    /// The token's `iat` is in the future.
    #[error("the token is issued in the future (iat)")]
    IssuedInFuture,
    /// The token has no `iat`; Google's ID tokens always carry one.
    #[error("the token has no issue time (iat)")]
    MissingIssuedAt,
    /// `iss` is not Google.
    #[error("the token's issuer (iss) is not accounts.google.com")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("the token's audience (aud) is not the configured audience")]
    WrongAudience,
    /// `email` is not the configured service account.
    #[error("the token's email is not the configured service account")]
    WrongEmail,
    /// `email_verified` is not true.
    #[error("the token's email is not verified (email_verified)")]
    EmailNotVerified,
    /// The key set could not be read; the request may be retried.
    #[error("the token-signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

impl OidcError {
    /// The HTTP status: 503 when the keys could not be read (the sender
    /// retries), 401 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::KeysUnavailable(_) => 503,
            _ => 401,
        }
    }
}

/// The claims rekey reads beyond those [`Validation`] checks.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    iat: Option<u64>,
}

/// Checks ID tokens against one audience and one service account.
pub struct OidcVerifier {
    audience: String,
    email: String,
    keys: KeySet,
}

impl OidcVerifier {
    /// A verifier for tokens as `expected` describes them.
    pub fn new(expected: &IdToken) -> Result<Self, OidcError> {
        Ok(Self {
            audience: expected.audience.clone(),
            email: expected.service_account_email.clone(),
            keys: KeySet::new(expected.jwks.clone())?,
        })
    }

    /// Checks the bearer token in `headers`; `Ok` names the caller's email.
    pub async fn verify(&self, headers: &HeaderMap) -> Result<String, OidcError> {
        let token = bearer(headers)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| OidcError::MalformedToken)?;
        if header.alg != Algorithm::RS256 {
            return Err(OidcError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(OidcError::UnknownKey)?;
        let key = self.keys.key(&kid).await?;

        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation())
            .map_err(|e| refusal(e.kind()))?
            .claims;
        self.check(&claims)?;
        Ok(self.email.clone())
    }

    fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&GOOGLE_ISSUERS);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY;
        validation
    }

    fn check(&self, claims: &Claims) -> Result<(), OidcError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let iat = claims.iat.ok_or(OidcError::MissingIssuedAt)?;
        if iat > now + LEEWAY {
            return Err(OidcError::IssuedInFuture);
        }
        if claims.email.as_deref() != Some(self.email.as_str()) {
            return Err(OidcError::WrongEmail);
        }
        if claims.email_verified != Some(true) {
            return Err(OidcError::EmailNotVerified);
        }
        Ok(())
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Result<&str, OidcError> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(OidcError::MissingToken)?;
    let text = value.to_str().map_err(|_| OidcError::MalformedToken)?;
    let (scheme, token) = text.split_once(' ').ok_or(OidcError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(OidcError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(OidcError::MalformedToken);
    }
    Ok(token)
}

fn refusal(kind: &ErrorKind) -> OidcError {
    match kind {
        ErrorKind::InvalidSignature => OidcError::BadSignature,
        ErrorKind::ExpiredSignature => OidcError::Expired,
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => OidcError::Expired,
        ErrorKind::InvalidIssuer => OidcError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => OidcError::WrongIssuer,
        ErrorKind::InvalidAudience => OidcError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => OidcError::WrongAudience,
        ErrorKind::InvalidAlgorithm => OidcError::WrongAlgorithm,
        _ => OidcError::MalformedToken,
    }
}
