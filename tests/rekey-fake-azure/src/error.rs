//! Errors: the fake's own (it could not start) and the Key Vault error
//! bodies it answers with.
//!
//! Key Vault answers every failure with
//! `{"error": {"code": "…", "message": "…", "innererror": {"code": "…"}}}`;
//! the SDK reads `code` as the error code and rekey reads `innererror` to
//! tell a disabled version from a refused caller.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeError {
    /// The test certificates or the TLS configuration could not be made.
    #[error("tls setup failed: {0}")]
    Tls(String),
    /// The loopback listener or the CA file could not be opened.
    #[error("failed to {action}: {source}")]
    Io {
        /// What the fake was doing.
        action: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

/// One Key Vault error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KvError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) inner: Option<&'static str>,
}

impl KvError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            inner: None,
        }
    }

    /// 404 for a secret or version the vault does not hold.
    pub(crate) fn secret_not_found(name: &str, version: Option<&str>) -> Self {
        let what = match version {
            Some(version) => format!("(name/id) {name}/{version}"),
            None => format!("(name) {name}"),
        };
        Self::new(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            format!("A secret with {what} was not found in this key vault."),
        )
    }

    /// 403 for a read of a disabled version.
    pub(crate) fn disabled() -> Self {
        Self {
            inner: Some("SecretDisabled"),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
            )
        }
    }

    /// 409 for a set on a name that is deleted but recoverable.
    pub(crate) fn deleted_but_recoverable(name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Secret {name} is currently in a deleted but recoverable state, and its name \
                 cannot be reused; in this state, the secret can only be recovered or purged."
            ),
        )
    }

    /// 400 for a request the service rejects as malformed.
    pub(crate) fn bad_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadParameter", message)
    }

    /// 401 for a request without a valid bearer token.
    pub(crate) fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    /// 404 for a host that names no vault the fake serves.
    pub(crate) fn vault_not_found(host: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            format!("no vault is served at host {host}"),
        )
    }

    /// An injected fault: 429 `Throttled` or 503 `ServiceUnavailable`.
    pub(crate) fn fault(status: StatusCode) -> Self {
        if status == StatusCode::TOO_MANY_REQUESTS {
            Self::new(
                status,
                "Throttled",
                "Request was not processed because too many requests were received.",
            )
        } else {
            Self::new(status, "ServiceUnavailable", "The service is unavailable.")
        }
    }
}

impl IntoResponse for KvError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(inner) = self.inner {
            error["innererror"] = json!({ "code": inner });
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}
