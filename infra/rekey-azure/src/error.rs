//! How a failed Key Vault or Entra call reads in the store port's words.
//!
//! Sorting is by HTTP status and Key Vault's error codes: 404
//! `SecretNotFound` is a missing credential or version, 403 with the inner
//! code `SecretDisabled` a disabled version, other 401/403 and any refused
//! credential `AccessDenied`, 429 and 5xx (and no answer at all)
//! `Unavailable`, the rest `Backend`. Messages name the operation, the
//! status and the service's code and message: never a request's body, so
//! never a secret value.

use azure_core::error::ErrorKind;
use rekey_core::StoreError;

/// A failed call, sorted. Each variant holds a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AzureError {
    /// 404: the secret or version does not exist.
    NotFound(String),
    /// 403 `SecretDisabled`: the version exists and is disabled.
    Disabled(String),
    /// 401/403, or the credential could not obtain a token.
    AccessDenied(String),
    /// 429, 5xx, or no answer: the call may succeed later.
    Unavailable(String),
    /// Anything else.
    Other(String),
}

impl AzureError {
    /// Sorts the failure of `operation` (a verb phrase: "list secret versions").
    pub(crate) fn of(operation: &str, error: &azure_core::Error) -> Self {
        match error.kind() {
            ErrorKind::HttpResponse {
                status,
                error_code,
                raw_response,
            } => {
                let status = u16::from(*status);
                let inner = raw_response.as_deref().and_then(|r| inner_code(r.body()));
                let code = error_code.as_deref().unwrap_or("no error code");
                let description = format!("failed to {operation}: {status} {code}: {error}");
                Self::from_status(status, inner.as_deref(), description)
            }
            ErrorKind::Credential => Self::AccessDenied(format!(
                "failed to {operation}: no Entra token: {}",
                chain(error)
            )),
            ErrorKind::Io | ErrorKind::Connection => {
                Self::Unavailable(format!("failed to {operation}: {}", chain(error)))
            }
            _ => Self::Other(format!("failed to {operation}: {}", chain(error))),
        }
    }

    fn from_status(status: u16, inner: Option<&str>, description: String) -> Self {
        match status {
            404 => Self::NotFound(description),
            403 if inner == Some("SecretDisabled") => Self::Disabled(description),
            401 | 403 => Self::AccessDenied(description),
            429 | 500..=599 => Self::Unavailable(description),
            _ => Self::Other(description),
        }
    }

    /// The store's error; `missing` makes the one for a missing (or
    /// disabled) secret or version, which depends on the call.
    pub(crate) fn into_store(self, missing: impl FnOnce() -> StoreError) -> StoreError {
        match self {
            Self::NotFound(_) | Self::Disabled(_) => missing(),
            Self::AccessDenied(description) => StoreError::AccessDenied(description),
            Self::Unavailable(description) => StoreError::Unavailable(description),
            Self::Other(description) => StoreError::Backend(description),
        }
    }
}

/// The error and its causes, `: `-separated: the SDK's outer message
/// alone ("non-transport error") hides Entra's reason.
fn chain(error: &azure_core::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `error.innererror.code` of a Key Vault error body.
fn inner_code(body: &[u8]) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    body.pointer("/error/innererror/code")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(status: u16, inner: Option<&str>) -> AzureError {
        AzureError::from_status(status, inner, format!("failed to test: {status}"))
    }

    #[test]
    fn throttling_and_server_faults_are_retryable() {
        for status in [429, 500, 502, 503, 504] {
            let error = sorted(status, None).into_store(|| unreachable!());

            assert!(error.is_retryable(), "{status}");
        }
    }

    #[test]
    fn disabled_is_not_access_denied() {
        assert!(matches!(
            sorted(403, Some("SecretDisabled")),
            AzureError::Disabled(_)
        ));
        assert!(matches!(
            sorted(403, Some("ForbiddenByPolicy")),
            AzureError::AccessDenied(_)
        ));
        assert!(matches!(sorted(401, None), AzureError::AccessDenied(_)));
    }

    #[test]
    fn inner_codes_are_read_from_the_body() {
        let body = br#"{"error":{"code":"Forbidden","innererror":{"code":"SecretDisabled"}}}"#;

        assert_eq!(inner_code(body).as_deref(), Some("SecretDisabled"));
        assert_eq!(inner_code(b"not json"), None);
    }

    #[test]
    fn other_statuses_are_backend_errors() {
        let error = sorted(409, None).into_store(|| unreachable!());

        assert_eq!(error, StoreError::Backend("failed to test: 409".into()));
    }
}
