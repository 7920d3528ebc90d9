//! The Entra credential named by [`CredentialSettings`], built with the
//! shared client options so it reaches the configured authority through
//! the same transport as the vault clients.

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, DeveloperToolsCredential,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use crate::{AzureSettings, CLIENT_SECRET_ENV, ConnectError, CredentialSettings};

/// A shared source of client assertions (federated tokens).
#[derive(Clone, Debug)]
struct Shared(Arc<dyn ClientAssertion>);

#[async_trait::async_trait]
impl ClientAssertion for Shared {
    async fn secret(
        &self,
        options: Option<azure_core::http::ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.0.secret(options).await
    }
}

/// Builds the credential; reads `AZURE_CLIENT_SECRET` for `client-secret`,
/// asks `assertion` for federated tokens for `aws-web-identity`.
pub(crate) fn credential(
    settings: &AzureSettings,
    client_options: ClientOptions,
    assertion: Option<Arc<dyn ClientAssertion>>,
) -> Result<Arc<dyn TokenCredential>, ConnectError> {
    let sdk = |what| {
        move |e: azure_core::Error| ConnectError::Sdk {
            what,
            reason: e.to_string(),
        }
    };
    Ok(match &settings.credential {
        CredentialSettings::ClientSecret { secret_env } => {
            let (tenant, client) = app(settings, "client-secret")?;
            let variable = secret_env.as_deref().unwrap_or(CLIENT_SECRET_ENV);
            let secret = std::env::var(variable)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ConnectError::MissingClientSecret(variable.to_owned()))?;
            let options = ClientSecretCredentialOptions { client_options };
            ClientSecretCredential::new(
                tenant,
                client.to_owned(),
                Secret::new(secret),
                Some(options),
            )
            .map_err(sdk("client secret credential"))?
        }
        CredentialSettings::WorkloadIdentity { token_file } => {
            let (tenant, client) = app(settings, "workload-identity")?;
            let options = WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions { client_options },
                client_id: Some(client.to_owned()),
                tenant_id: Some(tenant.to_owned()),
                token_file_path: Some(token_file.clone()),
            };
            WorkloadIdentityCredential::new(Some(options))
                .map_err(sdk("workload identity credential"))?
        }
        CredentialSettings::AwsWebIdentity { .. } => {
            let (tenant, client) = app(settings, "aws-web-identity")?;
            let assertion = assertion.ok_or(ConnectError::NoAssertionSource)?;
            let options = ClientAssertionCredentialOptions { client_options };
            ClientAssertionCredential::new(
                tenant.to_owned(),
                client.to_owned(),
                Shared(assertion),
                Some(options),
            )
            .map_err(sdk("client assertion credential"))?
        }
        CredentialSettings::ManagedIdentity => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
                client_options,
            };
            ManagedIdentityCredential::new(Some(options))
                .map_err(sdk("managed identity credential"))?
        }
        CredentialSettings::Developer => {
            DeveloperToolsCredential::new(None).map_err(sdk("developer credential"))?
        }
    })
}

/// The tenant and client ids an app-registration credential needs.
fn app<'a>(
    settings: &'a AzureSettings,
    credential: &'static str,
) -> Result<(&'a str, &'a str), ConnectError> {
    let missing = |setting| ConnectError::MissingSetting {
        credential,
        setting,
    };
    let tenant = settings.tenant_id.as_deref().ok_or(missing("tenant_id"))?;
    let client = settings.client_id.as_deref().ok_or(missing("client_id"))?;
    Ok((tenant, client))
}
