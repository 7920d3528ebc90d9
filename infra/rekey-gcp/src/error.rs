//! How a failed Google Cloud call reads in the ports' words.
//!
//! Every call's error is sorted by its canonical code (`NOT_FOUND`,
//! `ABORTED`, …), else its HTTP status, else by what went wrong before an
//! answer arrived. The SDK's error type stays inside this crate. Messages
//! carry the operation, the code and Google's message: never a request's
//! input, so never a payload.

use google_cloud_gax::error::Error;
use google_cloud_gax::error::rpc::Code;
use rekey_core::{KindError, StoreError};

/// Why a Google Cloud call failed, sorted the way the ports sort failures.
/// Each variant holds a description naming the operation and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GcpError {
    /// `NOT_FOUND`: the resource named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `ABORTED` (409): a concurrent change won; re-read and try again.
    #[error("{0}")]
    Conflict(String),
    /// `FAILED_PRECONDITION`: the resource is in the wrong state (a
    /// stale etag, a disabled version, a service account at its key limit).
    #[error("{0}")]
    Precondition(String),
    /// `PERMISSION_DENIED` or `UNAUTHENTICATED`.
    #[error("{0}")]
    AccessDenied(String),
    /// `RESOURCE_EXHAUSTED`, `UNAVAILABLE`, `DEADLINE_EXCEEDED` or no
    /// answer at all: the call may succeed later.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl GcpError {
    /// Sorts the failure of `operation` (a verb phrase: "get secret …").
    pub(crate) fn of(operation: &str, error: &Error) -> Self {
        if let Some(status) = error.status() {
            let description = format!(
                "failed to {operation}: {}: {}",
                status.code.name(),
                status.message
            );
            return Self::from_code(status.code, description);
        }
        let description = format!("failed to {operation}: {error}");
        if let Some(http) = error.http_status_code() {
            return Self::from_http(http, description);
        }
        if error.is_timeout()
            || error.is_io()
            || error.is_connect()
            || error.is_transport()
            || error.is_exhausted()
        {
            return Self::Unavailable(description);
        }
        if error.is_authentication() {
            return Self::AccessDenied(description);
        }
        Self::Other(description)
    }

    fn from_code(code: Code, description: String) -> Self {
        match code {
            Code::NotFound => Self::NotFound(description),
            Code::Aborted => Self::Conflict(description),
            Code::FailedPrecondition => Self::Precondition(description),
            Code::PermissionDenied | Code::Unauthenticated => Self::AccessDenied(description),
            Code::ResourceExhausted | Code::Unavailable | Code::DeadlineExceeded => {
                Self::Unavailable(description)
            }
            _ => Self::Other(description),
        }
    }

    fn from_http(status: u16, description: String) -> Self {
        match status {
            404 => Self::NotFound(description),
            409 => Self::Conflict(description),
            401 | 403 => Self::AccessDenied(description),
            429 | 502..=504 => Self::Unavailable(description),
            _ => Self::Other(description),
        }
    }

    /// The store's error; `not_found` makes the one for a missing resource
    /// (credential or version, depending on the call) from the description.
    pub(crate) fn into_store(self, not_found: impl FnOnce(String) -> StoreError) -> StoreError {
        match self {
            Self::NotFound(description) => not_found(description),
            Self::AccessDenied(description) => StoreError::AccessDenied(description),
            Self::Unavailable(description) => StoreError::Unavailable(description),
            Self::Conflict(description)
            | Self::Precondition(description)
            | Self::Other(description) => StoreError::Backend(description),
        }
    }
}

impl From<GcpError> for KindError {
    /// A missing resource is a credential set up wrong (an annotation naming
    /// a service account that does not exist); callers for whom "gone" is
    /// fine match [`GcpError::NotFound`] first, and the key kind sorts the
    /// key limit out of `FAILED_PRECONDITION` itself.
    fn from(error: GcpError) -> Self {
        match error {
            GcpError::NotFound(description) => Self::Misconfigured(description),
            GcpError::Unavailable(description) => Self::Unavailable(description),
            GcpError::AccessDenied(description)
            | GcpError::Precondition(description)
            | GcpError::Conflict(description)
            | GcpError::Other(description) => Self::Rejected(description),
        }
    }
}

#[cfg(test)]
mod tests {
    use google_cloud_gax::error::rpc::Status;

    use super::*;

    fn service(code: Code) -> GcpError {
        let status = Status::default().set_code(code).set_message("no");
        GcpError::of("test", &Error::service(status))
    }

    #[test]
    fn throttling_and_outages_are_retryable() {
        for code in [
            Code::ResourceExhausted,
            Code::Unavailable,
            Code::DeadlineExceeded,
        ] {
            let error = service(code).into_store(|_| unreachable!());

            assert!(error.is_retryable(), "{code:?}");
        }
    }

    #[test]
    fn refused_identities_are_access_denied() {
        for code in [Code::PermissionDenied, Code::Unauthenticated] {
            let error = service(code).into_store(|_| unreachable!());

            assert!(matches!(error, StoreError::AccessDenied(_)), "{code:?}");
        }
    }

    #[test]
    fn the_message_names_the_operation_and_the_code() {
        assert_eq!(
            service(Code::Aborted),
            GcpError::Conflict("failed to test: ABORTED: no".into())
        );
    }

    #[test]
    fn a_timeout_before_any_answer_is_retryable() {
        let error = GcpError::of("test", &Error::timeout("slow"));

        assert!(matches!(error, GcpError::Unavailable(_)));
    }
}
