//! Key Vault's authentication: a request without a valid bearer token gets
//! 401 with the challenge
//! `WWW-Authenticate: Bearer authorization="{authority}/{tenant}", resource="https://vault.azure.net"`,
//! from which the SDK learns the scope to ask Entra for. Authenticated
//! requests then meet any injected fault before they reach the vault.

use std::sync::Arc;

use axum::extract::{Request, State as AxumState};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::entra::KEY_VAULT_SCOPE;
use crate::error::KvError;
use crate::state::State;

/// The tenant named in the challenge's authority.
pub const TENANT_ID: &str = "00000000-0000-0000-0000-00000000fa4e";

/// Checks the bearer token, then answers an injected fault if one waits.
pub(crate) async fn require_bearer(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let accepted = token.is_some_and(|t| state.entra().accepts(t, KEY_VAULT_SCOPE));
    if !accepted {
        State::count(&state.challenges);
        return challenge(&state.authority, token.is_some());
    }

    State::count(&state.vault_requests);
    if let Some(fault) = state.next_fault() {
        let mut response = KvError::fault(fault.status).into_response();
        if let Some(seconds) = fault.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        return response;
    }
    next.run(request).await
}

fn challenge(authority: &str, had_token: bool) -> Response {
    let message = if had_token {
        "AKV10032: Invalid issuer or token."
    } else {
        "AKV10000: Request is missing a Bearer or PoP token."
    };
    let mut response = KvError::unauthorized(message).into_response();
    let value = format!(
        "Bearer authorization=\"{authority}/{TENANT_ID}\", resource=\"https://vault.azure.net\""
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    debug_assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    response
}
