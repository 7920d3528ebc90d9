//! How a failed AWS call reads in the ports' words.
//!
//! Every adapter sorts an SDK error the same way: by the service's error
//! code, or by what went wrong before an answer arrived. The SDK's error
//! types stay inside this crate; callers only ever see the ports'
//! [`StoreError`], [`LedgerError`] and [`KindError`]. Messages carry the
//! operation, the service's code and its message: never a request's input,
//! so never a secret value.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use rekey_core::{KindError, LedgerError, StoreError};

/// Why an AWS call failed, sorted the way the ports sort failures. Each
/// variant holds a description naming the operation and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AwsError {
    /// The resource named does not exist (`ResourceNotFoundException`,
    /// IAM's `NoSuchEntity`).
    #[error("{0}")]
    NotFound(String),
    /// The service refused the caller's identity or permissions.
    #[error("{0}")]
    AccessDenied(String),
    /// Throttled, briefly failing, or no answer: the call may succeed later.
    #[error("{0}")]
    Unavailable(String),
    /// Any other failure the service reported.
    #[error("{0}")]
    Other(String),
}

impl AwsError {
    /// Sorts the failure of `operation` (a verb phrase: "describe secret").
    pub(crate) fn of<E, R>(operation: &str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: fmt::Debug,
    {
        match error {
            SdkError::ServiceError(_) => {
                let code = error.code().unwrap_or("UnknownError");
                let message = error.message().unwrap_or("no message");
                Self::from_code(code, format!("failed to {operation}: {code}: {message}"))
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self::Unavailable(format!(
                "failed to {operation}: {}",
                DisplayErrorContext(error)
            )),
            _ => Self::Other(format!(
                "failed to {operation}: {}",
                DisplayErrorContext(error)
            )),
        }
    }

    /// Sorts a service's error code.
    fn from_code(code: &str, description: String) -> Self {
        match code {
            "ResourceNotFoundException" | "NoSuchEntity" => Self::NotFound(description),
            "AccessDeniedException"
            | "AccessDenied"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "MissingAuthenticationTokenException"
            | "ExpiredTokenException"
            | "ExpiredToken" => Self::AccessDenied(description),
            "ThrottlingException"
            | "Throttling"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "InternalServiceError"
            | "InternalServerError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "ServiceFailure" => Self::Unavailable(description),
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
            Self::Other(description) => StoreError::Backend(description),
        }
    }
}

impl From<AwsError> for KindError {
    /// A missing resource is a credential set up wrong (a tag naming a user
    /// or role that does not exist); callers for whom "gone" is fine match
    /// [`AwsError::NotFound`] first.
    fn from(error: AwsError) -> Self {
        match error {
            AwsError::NotFound(description) => Self::Misconfigured(description),
            AwsError::Unavailable(description) => Self::Unavailable(description),
            AwsError::AccessDenied(description) | AwsError::Other(description) => {
                Self::Rejected(description)
            }
        }
    }
}

impl From<AwsError> for LedgerError {
    fn from(error: AwsError) -> Self {
        match error {
            AwsError::Unavailable(description) => Self::Unavailable(description),
            other => Self::Backend(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(code: &str) -> AwsError {
        AwsError::from_code(code, format!("failed to test: {code}"))
    }

    #[test]
    fn throttling_and_server_faults_are_retryable() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "InternalServiceError",
            "InternalServerError",
            "ServiceFailure",
        ] {
            let error = sorted(code);

            assert!(matches!(error, AwsError::Unavailable(_)), "{code}");
            assert!(matches!(
                LedgerError::from(error.clone()),
                LedgerError::Unavailable(_)
            ));
            assert!(matches!(
                KindError::from(error.clone()),
                KindError::Unavailable(_)
            ));
            assert!(error.into_store(|_| unreachable!()).is_retryable());
        }
    }

    #[test]
    fn refused_identities_are_access_denied() {
        for code in [
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
        ] {
            let error = sorted(code).into_store(|_| unreachable!());

            assert!(matches!(error, StoreError::AccessDenied(_)), "{code}");
        }
    }

    #[test]
    fn not_found_takes_the_callers_meaning() {
        let id = rekey_core::CredentialId::new(rekey_core::Provider::AwsSecretsManager, "s");

        let error = sorted("ResourceNotFoundException")
            .into_store(|_| StoreError::CredentialNotFound(id.clone()));

        assert_eq!(error, StoreError::CredentialNotFound(id));
    }

    #[test]
    fn a_missing_iam_entity_is_a_misconfigured_credential() {
        let error = sorted("NoSuchEntity");

        assert!(matches!(error, AwsError::NotFound(_)));
        assert_eq!(
            KindError::from(error),
            KindError::Misconfigured("failed to test: NoSuchEntity".into())
        );
    }

    #[test]
    fn other_codes_keep_the_code_in_the_message() {
        let error = sorted("ValidationException");

        assert_eq!(
            LedgerError::from(error),
            LedgerError::Backend("failed to test: ValidationException".into())
        );
    }
}
