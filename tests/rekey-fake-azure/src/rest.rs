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
use axum::extract::FromRequestParts;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::header::HOST;
use axum::http::request::Parts;
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
type Answer = Result<Json<Value>, KvError>;

/// What one request addresses: its vault, named by the host. Extracting it
/// also checks the api-version.
pub(crate) struct Target {
    host: String,
    vault: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Target {
    type Rejection = KvError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, KvError> {
        let params: HashMap<String, String> = Query::try_from_uri(&parts.uri)
            .map(|Query(params)| params)
            .unwrap_or_default();
        let version = params.get("api-version").map(String::as_str);
        if !version.is_some_and(|v| API_VERSIONS.contains(&v)) {
            return Err(KvError::bad_parameter(
                "The request is missing a supported api-version query parameter",
            ));
        }
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let vault = vault_name(&host).ok_or_else(|| KvError::vault_not_found(&host))?;
        Ok(Self { host, vault })
    }
}

impl Target {
    fn secret_id(&self, name: &str, version: Option<&str>) -> String {
        match version {
            Some(version) => format!("https://{}/secrets/{name}/{version}", self.host),
            None => format!("https://{}/secrets/{name}", self.host),
        }
    }

    /// Runs `f` on the addressed vault.
    fn with_vault<T>(
        &self,
        state: &State,
        f: impl FnOnce(&mut Vault) -> Result<T, KvError>,
    ) -> Result<T, KvError> {
        let mut vaults = state.vaults();
        let vault = vaults
            .get_mut(&self.vault)
            .ok_or_else(|| KvError::vault_not_found(&self.host))?;
        f(vault)
    }
}

/// `{vault}` of a `{vault}.vault.azure.net[:port]` host.
fn vault_name(host: &str) -> Option<String> {
    let name = host.split(':').next()?;
    name.strip_suffix(VAULT_SUFFIX)
        .filter(|v| !v.is_empty() && !v.contains('.'))
        .map(str::to_owned)
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

/// `PUT /secrets/{name}`.
pub(crate) async fn set_secret(
    AxumState(state): AxumState<Arc<State>>,
    target: Target,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let body: SetBody = parse(&body)?;
    let new = NewVersion {
        value: body.value,
        content_type: body.content_type,
        tags: body.tags.unwrap_or_default(),
        attributes: body.attributes.into(),
    };

    let stored = target.with_vault(&state, |vault| vault.set(&name, new))?;
    Ok(Json(bundle(&target, &name, &stored, true)))
}

/// `GET /secrets/{name}` and `GET /secrets/{name}/`: the newest version.
pub(crate) async fn get_latest(
    AxumState(state): AxumState<Arc<State>>,
    target: Target,
    Path(name): Path<String>,
) -> Answer {
    get(&state, &target, &name, None)
}

/// `GET /secrets/{name}/{version}`.
pub(crate) async fn get_version(
    AxumState(state): AxumState<Arc<State>>,
    target: Target,
    Path((name, version)): Path<(String, String)>,
) -> Answer {
    get(&state, &target, &name, Some(&version))
}

fn get(state: &State, target: &Target, name: &str, version: Option<&str>) -> Answer {
    let stored = target.with_vault(state, |vault| vault.get(name, version).cloned())?;
    Ok(Json(bundle(target, name, &stored, true)))
}

/// `PATCH /secrets/{name}` and `PATCH /secrets/{name}/`: the newest version.
pub(crate) async fn update_latest(
    AxumState(state): AxumState<Arc<State>>,
    target: Target,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    update(&state, &target, &name, None, &body)
}

/// `PATCH /secrets/{name}/{version}`.
pub(crate) async fn update_version(
    AxumState(state): AxumState<Arc<State>>,
    target: Target,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    update(&state, &target, &name, Some(&version), &body)
}

fn update(
    state: &State,
    target: &Target,
    name: &str,
    version: Option<&str>,
    body: &Bytes,
) -> Answer {
    let body: UpdateBody = parse(body)?;
    let update = Update {
        content_type: body.content_type,
        tags: body.tags,
        attributes: body.attributes.into(),
    };

    let stored = target.with_vault(state, |vault| vault.update(name, version, update))?;
    Ok(Json(bundle(target, name, &stored, false)))
}

/// `DELETE /secrets/{name}`: soft delete.
pub(crate) async fn delete_secret(
    AxumState(state): AxumState<Arc<State>>,
    target: Target,
    Path(name): Path<String>,
) -> Answer {
    let newest = target.with_vault(&state, |vault| vault.delete(&name))?;

    let mut body = bundle(&target, &name, &newest, false);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    body["recoveryId"] = json!(format!("https://{}/deletedsecrets/{name}", target.host));
    body["deletedDate"] = json!(now);
    body["scheduledPurgeDate"] = json!(now + 90 * 24 * 3600);
    Ok(Json(body))
}

/// `GET /secrets`: each secret's newest version, without values.
pub(crate) async fn list_secrets(
    AxumState(state): AxumState<Arc<State>>,
    target: Target,
    Query(params): Params,
) -> Answer {
    let items = target.with_vault(&state, |vault| {
        let newest = vault.list().into_iter();
        Ok(newest
            .map(|(name, v)| item(&target, name, v, false))
            .collect::<Vec<_>>())
    })?;
    page(&target, "/secrets", &items, &params).map(Json)
}

/// `GET /secrets/{name}/versions`: every version, without values.
pub(crate) async fn list_versions(
    AxumState(state): AxumState<Arc<State>>,
    target: Target,
    Path(name): Path<String>,
    Query(params): Params,
) -> Answer {
    let items = target.with_vault(&state, |vault| {
        let versions = vault.versions(&name)?.iter();
        Ok(versions
            .map(|v| item(&target, &name, v, true))
            .collect::<Vec<_>>())
    })?;
    let path = format!("/secrets/{name}/versions");
    page(&target, &path, &items, &params).map(Json)
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
    let end = start.saturating_add(size).min(items.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vaults_are_named_by_their_host() {
        assert_eq!(
            vault_name("payments.vault.azure.net:8443").as_deref(),
            Some("payments")
        );
        assert_eq!(
            vault_name("payments.vault.azure.net").as_deref(),
            Some("payments")
        );
        for host in [
            "127.0.0.1:8443",
            "a.b.vault.azure.net",
            ".vault.azure.net",
            "",
        ] {
            assert_eq!(vault_name(host), None, "{host}");
        }
    }

    #[test]
    fn skip_tokens_round_trip_and_reject_garbage() {
        assert_eq!(skip_offset(&skip_token(25)).ok(), Some(25));
        assert!(skip_offset("zz").is_err());
        assert!(skip_offset(&hex::encode("offset:-1")).is_err());
    }

    #[test]
    fn pages_link_to_the_rest() {
        let target = Target {
            host: "kv.vault.azure.net:1".into(),
            vault: "kv".into(),
        };
        let items: Vec<Value> = (0..3).map(|n| json!(n)).collect();
        let params = HashMap::from([
            ("api-version".to_owned(), "7.6".to_owned()),
            ("maxresults".to_owned(), "2".to_owned()),
        ]);

        let first = page(&target, "/secrets", &items, &params).expect("page");

        assert_eq!(first["value"], json!([0, 1]));
        let next = first["nextLink"].as_str().expect("a next link");
        assert!(
            next.starts_with("https://kv.vault.azure.net:1/secrets?api-version=7.6&$skiptoken=")
        );
        let beyond = HashMap::from([("$skiptoken".to_owned(), skip_token(usize::MAX))]);
        assert_eq!(
            page(&target, "/secrets", &items, &beyond).expect("page")["value"],
            json!([])
        );
        let oversized = HashMap::from([("maxresults".to_owned(), "26".to_owned())]);
        assert!(page(&target, "/secrets", &items, &oversized).is_err());
    }
}
