//! Secrets Manager's side of a native rotation, as far as moto plays it.
//!
//! When a rotation starts, Secrets Manager adds a version that carries only
//! `AWSPENDING` and holds no value (its id is the `ClientRequestToken`),
//! then invokes the rotation function once per step. moto records that
//! version but cannot invoke the function: it looks the Lambda up, finds
//! none and answers `ResourceNotFoundException`. [`start_native_rotation`]
//! sets up that state and checks it; the tests then play Secrets Manager's
//! part by invoking the handler for each step themselves.

use anyhow::{Context as _, ensure};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
use aws_sdk_secretsmanager::types::RotationRulesType;
use rekey_core::{CredentialId, VersionId};

use crate::Moto;

/// The rotation function `RotateSecret` is pointed at; no such Lambda
/// exists in moto.
pub const ROTATION_LAMBDA_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:rekey-rotate";

/// Starts a native rotation of `id` whose new version is `token`: the
/// secret gets a version `token` with only `AWSPENDING` and no value, and
/// rotation stays enabled. Fails unless moto ends in exactly that state.
pub async fn start_native_rotation(
    moto: &Moto,
    id: &CredentialId,
    token: &VersionId,
) -> anyhow::Result<()> {
    let client = moto.secrets_manager();
    let rules = RotationRulesType::builder()
        .automatically_after_days(30)
        .build();
    let started = client
        .rotate_secret()
        .secret_id(&id.locator)
        .client_request_token(token.as_str())
        .rotation_lambda_arn(ROTATION_LAMBDA_ARN)
        .rotation_rules(rules)
        .send()
        .await;

    // moto records the pending version before it looks for the function.
    match started {
        Ok(_) => {}
        Err(error) if error.code() == Some("ResourceNotFoundException") => {}
        Err(error) => {
            return Err(error).with_context(|| format!("failed to start rotating {id}"));
        }
    }
    check_started(moto, id, token).await
}

/// Checks that `token` is a pending version of `id` without a value and
/// that rotation is enabled.
async fn check_started(moto: &Moto, id: &CredentialId, token: &VersionId) -> anyhow::Result<()> {
    let client = moto.secrets_manager();
    let described = client
        .describe_secret()
        .secret_id(&id.locator)
        .send()
        .await
        .with_context(|| format!("failed to describe {id}"))?;
    ensure!(
        described.rotation_enabled() == Some(true),
        "rotation of {id} is not enabled after RotateSecret"
    );

    let stages = described
        .version_ids_to_stages()
        .and_then(|versions| versions.get(token.as_str()));
    ensure!(
        stages.is_some_and(|s| s == &["AWSPENDING"]),
        "version {token} of {id} is not pending alone after RotateSecret: {stages:?}"
    );

    let value = client
        .get_secret_value()
        .secret_id(&id.locator)
        .version_id(token.as_str())
        .send()
        .await;
    let no_value = value
        .as_ref()
        .is_err_and(|e| e.code() == Some("ResourceNotFoundException"));
    ensure!(
        no_value,
        "version {token} of {id} should hold no value yet: {value:?}"
    );
    Ok(())
}
