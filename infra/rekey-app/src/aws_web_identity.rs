//! Federated tokens for Azure from the AWS identity rekey's functions run
//! as: AWS STS `GetWebIdentityToken` (IAM outbound identity federation)
//! issues a short-lived JWT for the function's role, which Entra exchanges
//! for an access token through the app registration's federated
//! credential. Nothing secret is stored on either side.

use async_trait::async_trait;
use azure_core::error::{Error, ErrorKind};
use azure_core::http::ClientMethodOptions;
use rekey_azure::ClientAssertion;

/// How long a token is asked to live: Entra reads it at once.
const TOKEN_SECONDS: i32 = 300;

/// Asks STS for one web identity token per Entra token request.
#[derive(Debug)]
pub(crate) struct StsWebIdentity {
    sts: aws_sdk_sts::Client,
    audience: String,
}

impl StsWebIdentity {
    /// Tokens for `audience`, asked of STS as `aws` says (region,
    /// credentials, endpoint).
    pub(crate) fn new(aws: &aws_config::SdkConfig, audience: &str) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(aws),
            audience: audience.to_owned(),
        }
    }
}

#[async_trait]
impl ClientAssertion for StsWebIdentity {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        let answer = self
            .sts
            .get_web_identity_token()
            .audience(&self.audience)
            .signing_algorithm("RS256")
            .duration_seconds(TOKEN_SECONDS)
            .send()
            .await
            .map_err(|e| {
                let cause = aws_sdk_sts::error::DisplayErrorContext(e);
                Error::with_message(
                    ErrorKind::Credential,
                    format!("AWS STS GetWebIdentityToken failed: {cause}"),
                )
            })?;
        answer
            .web_identity_token()
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::with_message(
                    ErrorKind::Credential,
                    "AWS STS GetWebIdentityToken answered no token",
                )
            })
    }
}
