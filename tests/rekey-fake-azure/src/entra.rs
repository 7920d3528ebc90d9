//! The Microsoft Entra token endpoint:
//! `POST /{tenant}/oauth2/v2.0/token` with the client-credentials grant,
//! authenticated by a client secret or by a client assertion (a federated
//! token, as workload identity sends). It issues opaque bearer tokens for
//! the Key Vault scope and answers failures in Entra's error shape
//! (`error`, `error_description` with an `AADSTS` code, `error_codes`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::json;

use crate::state::State;

/// The only scope the fake issues tokens for.
pub const KEY_VAULT_SCOPE: &str = "https://vault.azure.net/.default";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TOKEN_LIFETIME_SECONDS: u64 = 3599;

/// How a registered app proves itself.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Proof {
    /// A client secret.
    Secret(String),
    /// A federated credential: the assertion it must present.
    Assertion(String),
}

/// App registrations (tenant, proof) by client id, and issued tokens.
#[derive(Debug, Default)]
pub(crate) struct Entra {
    apps: BTreeMap<String, (String, Proof)>,
    tokens: BTreeMap<String, String>,
}

impl Entra {
    /// Registers an app that authenticates with `secret`.
    pub(crate) fn register_secret(&mut self, tenant: &str, client_id: &str, secret: &str) {
        let proof = Proof::Secret(secret.to_owned());
        self.apps
            .insert(client_id.to_owned(), (tenant.to_owned(), proof));
    }

    /// Registers an app that authenticates with the federated `assertion`.
    pub(crate) fn register_assertion(&mut self, tenant: &str, client_id: &str, assertion: &str) {
        let proof = Proof::Assertion(assertion.to_owned());
        self.apps
            .insert(client_id.to_owned(), (tenant.to_owned(), proof));
    }

    /// Whether `token` was issued for `scope`.
    pub(crate) fn accepts(&self, token: &str, scope: &str) -> bool {
        self.tokens.get(token).is_some_and(|s| s == scope)
    }

    fn issue(&mut self, scope: &str) -> String {
        let bytes: [u8; 24] = rand::rng().random();
        let token = format!("fake-{}", hex::encode(bytes));
        self.tokens.insert(token.clone(), scope.to_owned());
        token
    }

    fn authenticate(&self, tenant: &str, form: &HashMap<String, String>) -> Result<(), EntraError> {
        let client_id = form.get("client_id").map(String::as_str).unwrap_or("");
        let Some((app_tenant, proof)) = self.apps.get(client_id) else {
            return Err(EntraError::unknown_client(client_id));
        };
        if app_tenant != tenant {
            return Err(EntraError::tenant_not_found(tenant));
        }
        match proof {
            Proof::Secret(secret) if form.get("client_secret") == Some(secret) => Ok(()),
            Proof::Secret(_) => Err(EntraError::invalid_secret(client_id)),
            Proof::Assertion(assertion) => {
                let typed = form.get("client_assertion_type").map(String::as_str);
                let given = form.get("client_assertion");
                if typed == Some(ASSERTION_TYPE) && given == Some(assertion) {
                    Ok(())
                } else {
                    Err(EntraError::invalid_assertion())
                }
            }
        }
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return EntraError::invalid_request("the body must be a form").into_response();
    };
    match grant(&state, &tenant, &form) {
        Ok(token) => {
            State::count(&state.tokens_issued);
            Json(json!({
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "ext_expires_in": TOKEN_LIFETIME_SECONDS,
                "access_token": token,
            }))
            .into_response()
        }
        Err(error) => error.into_response(),
    }
}

fn grant(
    state: &State,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Result<String, EntraError> {
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Err(EntraError::unsupported_grant());
    }
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    if scope != KEY_VAULT_SCOPE {
        return Err(EntraError::invalid_scope(scope));
    }
    let mut entra = state.entra();
    entra.authenticate(tenant, form)?;
    Ok(entra.issue(scope))
}

/// An Entra error answer.
#[derive(Debug)]
struct EntraError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

impl EntraError {
    fn new(status: StatusCode, error: &'static str, code: u32, text: &str) -> Self {
        Self {
            status,
            error,
            code,
            description: format!("AADSTS{code}: {text}"),
        }
    }

    fn invalid_request(text: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", 900144, text)
    }

    fn unsupported_grant() -> Self {
        let text = "The provided value for the input parameter 'grant_type' is not valid.";
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            text,
        )
    }

    fn invalid_scope(scope: &str) -> Self {
        let text =
            format!("The provided value for the input parameter 'scope' is not valid: {scope}");
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", 70011, &text)
    }

    fn unknown_client(client_id: &str) -> Self {
        let text =
            format!("Application with identifier '{client_id}' was not found in the directory.");
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &text,
        )
    }

    fn tenant_not_found(tenant: &str) -> Self {
        let text = format!("Tenant '{tenant}' not found.");
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", 90002, &text)
    }

    fn invalid_secret(client_id: &str) -> Self {
        let text = format!("Invalid client secret provided for app '{client_id}'.");
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, &text)
    }

    fn invalid_assertion() -> Self {
        let text = "Client assertion failed signature validation.";
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", 700027, text)
    }
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": self.description,
            "error_codes": [self.code],
        });
        (self.status, Json(body)).into_response()
    }
}
