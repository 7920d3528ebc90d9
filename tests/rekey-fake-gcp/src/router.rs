//! Turns an HTTP request into one RPC of the REST references and answers
//! it: `/v1/{name}` with an optional `:verb` on the last segment, the
//! query string and a JSON body. Injected faults are answered here, before
//! the RPC runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State as Shared};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::errors::ApiError;
use crate::state::State;
use crate::{keys, secrets};

/// One request, parsed.
#[derive(Debug)]
pub struct Call {
    /// The path's segments after `/v1/`, percent-decoded, without the verb.
    pub segments: Vec<String>,
    /// The custom verb after `:` on the last segment (`access`, `disable`).
    pub verb: Option<String>,
    /// Query parameters; a name may repeat.
    pub query: HashMap<String, Vec<String>>,
    /// The JSON body, `Null` when there is none.
    pub body: Value,
    /// Whether the client asked for enums as numbers (`$alt=json;enum-encoding=int`).
    pub int_enums: bool,
}

impl Call {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name)?.first().map(String::as_str)
    }

    /// An enum in a response: its number or its name, as the client asked.
    pub fn enum_value(&self, name: &str, number: i64) -> Value {
        if self.int_enums {
            Value::from(number)
        } else {
            Value::from(name)
        }
    }
}

type Rpc = fn(&mut State, &Call) -> Result<Value, ApiError>;

/// The handler behind every path.
pub async fn handle(
    Shared(state): Shared<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    let call = match parse(&uri, pairs, &body) {
        Ok(call) => call,
        Err(error) => return error.into_response(),
    };
    let Some((name, rpc)) = route(&method, &call) else {
        let message = format!("no method {method} {}", uri.path());
        return ApiError::not_found(message).into_response();
    };

    let Ok(mut state) = state.lock() else {
        return ApiError::injected(500).into_response();
    };
    if let Some(code) = state.take_fault(name) {
        return ApiError::injected(code).into_response();
    }
    match rpc(&mut state, &call) {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

fn parse(uri: &Uri, pairs: Vec<(String, String)>, body: &Bytes) -> Result<Call, ApiError> {
    let path = uri
        .path()
        .strip_prefix("/v1/")
        .ok_or_else(|| ApiError::not_found(format!("no such path {}", uri.path())))?;
    let (path, verb) = match path.rsplit_once(':') {
        Some((path, verb)) if !verb.contains('/') => (path, Some(verb.to_owned())),
        _ => (path, None),
    };
    let segments = path
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();

    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in pairs {
        query.entry(key).or_default().push(value);
    }
    let int_enums = query
        .get("$alt")
        .is_some_and(|alt| alt.iter().any(|a| a.contains("enum-encoding=int")));
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid(format!("invalid JSON payload: {e}")))?
    };
    Ok(Call {
        segments,
        verb,
        query,
        body,
        int_enums,
    })
}

/// The RPC a method, path shape and verb stand for.
fn route(method: &Method, call: &Call) -> Option<(&'static str, Rpc)> {
    let shape: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    let verb = call.verb.as_deref();
    let m = method.as_str();
    Some(match (m, shape.as_slice(), verb) {
        ("GET", ["projects", _, "secrets"], None) => ("ListSecrets", secrets::list),
        ("POST", ["projects", _, "secrets"], None) => ("CreateSecret", secrets::create),
        ("GET", ["projects", _, "secrets", _], None) => ("GetSecret", secrets::get),
        ("PATCH", ["projects", _, "secrets", _], None) => ("UpdateSecret", secrets::update),
        ("DELETE", ["projects", _, "secrets", _], None) => ("DeleteSecret", secrets::delete),
        ("POST", ["projects", _, "secrets", _], Some("addVersion")) => {
            ("AddSecretVersion", secrets::add_version)
        }
        ("GET", ["projects", _, "secrets", _, "versions"], None) => {
            ("ListSecretVersions", secrets::list_versions)
        }
        ("GET", ["projects", _, "secrets", _, "versions", _], None) => {
            ("GetSecretVersion", secrets::get_version)
        }
        ("GET", ["projects", _, "secrets", _, "versions", _], Some("access")) => {
            ("AccessSecretVersion", secrets::access)
        }
        ("POST", ["projects", _, "secrets", _, "versions", _], Some("disable")) => {
            ("DisableSecretVersion", secrets::disable)
        }
        ("POST", ["projects", _, "secrets", _, "versions", _], Some("enable")) => {
            ("EnableSecretVersion", secrets::enable)
        }
        ("POST", ["projects", _, "secrets", _, "versions", _], Some("destroy")) => {
            ("DestroySecretVersion", secrets::destroy)
        }
        ("GET", ["projects", _, "serviceAccounts", _, "keys"], None) => {
            ("ListServiceAccountKeys", keys::list)
        }
        ("POST", ["projects", _, "serviceAccounts", _, "keys"], None) => {
            ("CreateServiceAccountKey", keys::create)
        }
        ("GET", ["projects", _, "serviceAccounts", _, "keys", _], None) => {
            ("GetServiceAccountKey", keys::get)
        }
        ("DELETE", ["projects", _, "serviceAccounts", _, "keys", _], None) => {
            ("DeleteServiceAccountKey", keys::delete)
        }
        ("POST", ["projects", _, "serviceAccounts", _, "keys", _], Some("disable")) => {
            ("DisableServiceAccountKey", keys::disable)
        }
        ("POST", ["projects", _, "serviceAccounts", _, "keys", _], Some("enable")) => {
            ("EnableServiceAccountKey", keys::enable)
        }
        _ => return None,
    })
}
