//! The Key Vault secrets REST operations the fake serves: Set Secret
//! (`PUT /secrets/{name}`), Get Secret (`GET /secrets/{name}/{version?}`),
//! Update Secret (`PATCH /secrets/{name}/{version?}`), Get Secrets
//! (`GET /secrets`), Get Secret Versions (`GET /secrets/{name}/versions`)
//! with `maxresults` and `nextLink` paging, and Delete Secret
//! (`DELETE /secrets/{name}`, a soft delete). The vault is named by the
//! request's host, `{vault}.vault.azure.net`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::HeaderMap;
use axum::http::header::HOST;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::KvError;
use crate::state::State;
use crate::vault::{Attributes, NewVersion, StoredVersion, Update, Vault};

/// The api-versions the fake answers (the SDK sends the newest).
const API_VERSIONS: &[&str] = &["7.4", "7.5", "7.6", "2025-07-01"];
/// Key Vault's page size limit for `maxresults`.
const MAX_RESULTS: usize = 25;
/// The vault host suffix of the public cloud.
const VAULT_SUFFIX: &str = ".vault.azure.net";

type Params = Query<HashMap<String, String>>;

/// What one request addresses: its vault (by host) and its api-version.
struct Target {
    host: String,
    vault: String,
}

impl Target {
    fn of(headers: &HeaderMap, params: &HashMap<String, String>) -> Result<Self, KvError> {
        let version = params.get("api-version").map(String::as_str);
        if !version.is_some_and(|v| API_VERSIONS.contains(&v)) {
            return Err(KvError::bad_parameter(
                "The request is missing a supported api-version query parameter",
            ));
        }
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let name = host.split(':').next().unwrap_or("");
        let vault = name
            .strip_suffix(VAULT_SUFFIX)
            .filter(|v| !v.is_empty() && !v.contains('.'))
            .ok_or_else(|| KvError::vault_not_found(&host))?
            .to_owned();
        Ok(Self { host, vault })
    }

    fn secret_id(&self, name: &str, version: Option<&str>) -> String {
        match version {
            Some(version) => format!("https://{}/secrets/{name}/{version}", self.host),
            None => format!("https://{}/secrets/{name}", self.host),
        }
    }
}

fn with_vault<T>(
    state: &State,
    target: &Target,
    f: impl FnOnce(&mut Vault) -> Result<T, KvError>,
) -> Result<T, KvError> {
    let mut vaults = state.vaults();
    let vault = vaults
        .get_mut(&target.vault)
        .ok_or_else(|| KvError::vault_not_found(&target.host))?;
    f(vault)
}

#[derive(Deserialize)]
struct AttributesBody {
    enabled: Option<bool>,
    nbf: Option<i64>,
    exp: Option<i64>,
}

impl From<Option<AttributesBody>> for Attributes {
    fn from(body: Option<AttributesBody>) -> Self {
        body.map_or_else(Attributes::default, |a| Attributes {
            enabled: a.enabled,
            not_before: a.nbf,
            expires: a.exp,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetBody {
    value: String,
    content_type: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    attributes: Option<AttributesBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    content_type: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    attributes: Option<AttributesBody>,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, KvError> {
    serde_json::from_slice(body)
        .map_err(|e| KvError::bad_parameter(format!("The request body is not valid: {e}")))
}

fn answer(result: Result<Value, KvError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `PUT /secrets/{name}`.
pub(crate) async fn set_secret(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    answer((|| {
        let target = Target::of(&headers, &params)?;
        let body: SetBody = parse(&body)?;
        let new = NewVersion {
            value: body.value,
            content_type: body.content_type,
            tags: body.tags.unwrap_or_default(),
            attributes: body.attributes.into(),
        };
        let stored = with_vault(&state, &target, |vault| vault.set(&name, new))?;
        Ok(bundle(&target, &name, &stored, true))
    })())
}

/// `GET /secrets/{name}` and `GET /secrets/{name}/`: the newest version.
pub(crate) async fn get_latest(
    state: AxumState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    params: Params,
) -> Response {
    get(&state, &headers, &name, None, &params)
}

/// `GET /secrets/{name}/{version}`.
pub(crate) async fn get_version(
    state: AxumState<Arc<State>>,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
    params: Params,
) -> Response {
    get(&state, &headers, &name, Some(&version), &params)
}

fn get(
    state: &State,
    headers: &HeaderMap,
    name: &str,
    version: Option<&str>,
    params: &HashMap<String, String>,
) -> Response {
    answer((|| {
        let target = Target::of(headers, params)?;
        let stored = with_vault(state, &target, |vault| vault.get(name, version).cloned())?;
        Ok(bundle(&target, name, &stored, true))
    })())
}

/// `PATCH /secrets/{name}` and `PATCH /secrets/{name}/`: the newest version.
pub(crate) async fn update_latest(
    state: AxumState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    params: Params,
    body: Bytes,
) -> Response {
    update(&state, &headers, &name, None, &params, &body)
}

/// `PATCH /secrets/{name}/{version}`.
pub(crate) async fn update_version(
    state: AxumState<Arc<State>>,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Response {
    update(&state, &headers, &name, Some(&version), &params, &body)
}

fn update(
    state: &State,
    headers: &HeaderMap,
    name: &str,
    version: Option<&str>,
    params: &HashMap<String, String>,
    body: &Bytes,
) -> Response {
    answer((|| {
        let target = Target::of(headers, params)?;
        let body: UpdateBody = parse(body)?;
        let update = Update {
            content_type: body.content_type,
            tags: body.tags,
            attributes: body.attributes.into(),
        };
        let stored = with_vault(state, &target, |vault| vault.update(name, version, update))?;
        Ok(bundle(&target, name, &stored, false))
    })())
}

/// `DELETE /secrets/{name}`: soft delete.
pub(crate) async fn delete_secret(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    answer((|| {
        let target = Target::of(&headers, &params)?;
        let newest = with_vault(&state, &target, |vault| vault.delete(&name))?;
        let mut body = bundle(&target, &name, &newest, false);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        body["recoveryId"] = json!(format!("https://{}/deletedsecrets/{name}", target.host));
        body["deletedDate"] = json!(now);
        body["scheduledPurgeDate"] = json!(now + 90 * 24 * 3600);
        Ok(body)
    })())
}

/// `GET /secrets`: each secret's newest version, without values.
pub(crate) async fn list_secrets(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    answer((|| {
        let target = Target::of(&headers, &params)?;
        let items = with_vault(&state, &target, |vault| {
            Ok(vault
                .list()
                .into_iter()
                .map(|(name, newest)| item(&target, name, newest, false))
                .collect::<Vec<_>>())
        })?;
        page(&target, "/secrets", &items, &params)
    })())
}

/// `GET /secrets/{name}/versions`: every version, without values.
pub(crate) async fn list_versions(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    answer((|| {
        let target = Target::of(&headers, &params)?;
        let items = with_vault(&state, &target, |vault| {
            Ok(vault
                .versions(&name)?
                .iter()
                .map(|v| item(&target, &name, v, true))
                .collect::<Vec<_>>())
        })?;
        page(
            &target,
            &format!("/secrets/{name}/versions"),
            &items,
            &params,
        )
    })())
}

/// One page of `items`, from `$skiptoken`, at most `maxresults` long, with
/// a `nextLink` when more follow.
fn page(
    target: &Target,
    path: &str,
    items: &[Value],
    params: &HashMap<String, String>,
) -> Result<Value, KvError> {
    let size = match params.get("maxresults") {
        None => MAX_RESULTS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_RESULTS).contains(n))
            .ok_or_else(|| KvError::bad_parameter("maxresults must be between 1 and 25"))?,
    };
    let start = match params.get("$skiptoken") {
        None => 0,
        Some(token) => skip_offset(token)?,
    };
    let end = (start + size).min(items.len());
    let value: Vec<Value> = items.get(start..end).unwrap_or_default().to_vec();
    let next = (end < items.len()).then(|| {
        let api = params.get("api-version").map_or("", String::as_str);
        format!(
            "https://{}{path}?api-version={api}&$skiptoken={}&maxresults={size}",
            target.host,
            skip_token(end)
        )
    });
    Ok(json!({ "value": value, "nextLink": next }))
}

/// An opaque continuation token for offset `offset`.
fn skip_token(offset: usize) -> String {
    hex::encode(format!("offset:{offset}"))
}

fn skip_offset(token: &str) -> Result<usize, KvError> {
    let bad = || KvError::bad_parameter("The $skiptoken is not valid");
    let text = String::from_utf8(hex::decode(token).map_err(|_| bad())?).map_err(|_| bad())?;
    text.strip_prefix("offset:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)
}

/// A secret bundle: what Set, Get and Update answer.
fn bundle(target: &Target, name: &str, version: &StoredVersion, with_value: bool) -> Value {
    let mut body = item(target, name, version, true);
    if with_value {
        body["value"] = json!(version.value);
    }
    body
}

/// A secret item: what the list operations answer, never with a value.
fn item(target: &Target, name: &str, version: &StoredVersion, versioned: bool) -> Value {
    let id = target.secret_id(name, versioned.then_some(version.id.as_str()));
    let mut attributes = json!({
        "enabled": version.enabled,
        "created": version.created,
        "updated": version.updated,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    });
    if let Some(nbf) = version.not_before {
        attributes["nbf"] = json!(nbf);
    }
    if let Some(exp) = version.expires {
        attributes["exp"] = json!(exp);
    }
    let mut body = json!({ "id": id, "attributes": attributes, "tags": version.tags });
    if let Some(content_type) = &version.content_type {
        body["contentType"] = json!(content_type);
    }
    body
}
