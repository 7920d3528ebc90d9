//! The Key Vault calls the store makes, one function each, with their
//! failures sorted into [`AzureError`]. Values pass through
//! [`SecretValue`] only.

use std::collections::HashMap;

use azure_security_keyvault_secrets::SecretClient;
use azure_security_keyvault_secrets::models::{
    SecretAttributes, SecretClientGetSecretOptions, SecretClientUpdateSecretPropertiesOptions,
    SetSecretParameters, UpdateSecretPropertiesParameters,
};
use futures::TryStreamExt;
use rekey_core::SecretValue;
use time::OffsetDateTime;

use crate::error::AzureError;
use crate::tags::{self, Listed};

/// What a new version is written with.
pub(crate) struct NewVersion<'a> {
    pub(crate) value: &'a SecretValue,
    pub(crate) tags: HashMap<String, String>,
    pub(crate) content_type: Option<String>,
    pub(crate) expires: Option<OffsetDateTime>,
}

/// Get Secret Versions, every page, oldest first; `None` if the secret
/// does not exist.
pub(crate) async fn versions(
    client: &SecretClient,
    name: &str,
) -> Result<Option<Vec<Listed>>, AzureError> {
    let failed = |e: &azure_core::Error| AzureError::of("list secret versions", e);
    let mut pager = client
        .list_secret_properties_versions(name, None)
        .map_err(|e| failed(&e))?;
    let mut listed = Vec::new();
    loop {
        match pager.try_next().await {
            Ok(Some(properties)) => listed.extend(Listed::from_properties(properties)),
            Ok(None) => break,
            Err(e) => match failed(&e) {
                AzureError::NotFound(_) => return Ok(None),
                other => return Err(other),
            },
        }
    }
    tags::sort(&mut listed);
    Ok(Some(listed))
}

/// Get Secrets, every page: the names of the secrets whose newest version
/// carries `tag`.
pub(crate) async fn names_tagged(
    client: &SecretClient,
    tag: &str,
) -> Result<Vec<String>, AzureError> {
    let failed = |e: &azure_core::Error| AzureError::of("list secrets", e);
    let mut pager = client
        .list_secret_properties(None)
        .map_err(|e| failed(&e))?;
    let mut names = Vec::new();
    while let Some(properties) = pager.try_next().await.map_err(|e| failed(&e))? {
        let tagged = properties
            .tags
            .as_ref()
            .is_some_and(|t| t.contains_key(tag));
        let name = properties
            .id
            .as_deref()
            .and_then(|id| id.rsplit('/').next());
        if let (true, Some(name)) = (tagged, name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Get Secret: the value of one version.
pub(crate) async fn value(
    client: &SecretClient,
    name: &str,
    key_vault_id: &str,
) -> Result<SecretValue, AzureError> {
    let options = SecretClientGetSecretOptions {
        secret_version: Some(key_vault_id.to_owned()),
        ..SecretClientGetSecretOptions::default()
    };
    let failed = |e: azure_core::Error| AzureError::of("get secret", &e);
    let secret = client
        .get_secret(name, Some(options))
        .await
        .map_err(failed)?
        .into_model()
        .map_err(failed)?;
    let value = secret.value.ok_or_else(|| {
        AzureError::Other("failed to get secret: the answer holds no value".into())
    })?;
    Ok(SecretValue::new(value))
}

/// Set Secret: adds a version.
pub(crate) async fn set(
    client: &SecretClient,
    name: &str,
    new: NewVersion<'_>,
) -> Result<(), AzureError> {
    let attributes = SecretAttributes {
        enabled: Some(true),
        expires: new.expires,
        ..SecretAttributes::default()
    };
    let parameters = SetSecretParameters {
        value: Some(new.value.expose().to_owned()),
        tags: Some(new.tags),
        content_type: new.content_type,
        secret_attributes: Some(attributes),
    };
    let failed = |e: azure_core::Error| AzureError::of("set secret", &e);
    let content = parameters.try_into().map_err(failed)?;
    client
        .set_secret(name, content, None)
        .await
        .map_err(failed)?;
    Ok(())
}

/// Update Secret: replaces one version's tags, and disables it when
/// `enabled` is `Some(false)`.
pub(crate) async fn update(
    client: &SecretClient,
    name: &str,
    key_vault_id: &str,
    tags: HashMap<String, String>,
    enabled: Option<bool>,
) -> Result<(), AzureError> {
    let parameters = UpdateSecretPropertiesParameters {
        tags: Some(tags),
        secret_attributes: enabled.map(|enabled| SecretAttributes {
            enabled: Some(enabled),
            ..SecretAttributes::default()
        }),
        content_type: None,
    };
    let options = SecretClientUpdateSecretPropertiesOptions {
        secret_version: Some(key_vault_id.to_owned()),
        ..SecretClientUpdateSecretPropertiesOptions::default()
    };
    let failed = |e: azure_core::Error| AzureError::of("update secret", &e);
    let content = parameters.try_into().map_err(failed)?;
    client
        .update_secret_properties(name, content, Some(options))
        .await
        .map_err(failed)?;
    Ok(())
}
