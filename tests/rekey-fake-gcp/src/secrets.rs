//! Secret Manager v1: `projects.secrets.*` and `projects.secrets.versions.*`,
//! answered in the JSON the REST reference gives. Names in answers carry
//! the project number, as GCP's do; requests may name a project by id or
//! by number.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::errors::ApiError;
use crate::router::Call;
use crate::state::{Secret, State, Version, VersionState, timestamp};
use crate::validate;

/// The largest page `ListSecrets` and `ListSecretVersions` answer.
const MAX_PAGE_SIZE: usize = 25_000;

/// The project id and secret id a call's path names.
fn key_of(state: &State, call: &Call) -> Result<(String, String), ApiError> {
    let project = state
        .project_id(&call.segments[1])
        .ok_or_else(|| ApiError::not_found(format!("project {} not found", call.segments[1])))?;
    Ok((project, call.segments.get(3).cloned().unwrap_or_default()))
}

fn secret_mut<'s>(state: &'s mut State, call: &Call) -> Result<&'s mut Secret, ApiError> {
    let key = key_of(state, call)?;
    state
        .secrets
        .get_mut(&key)
        .ok_or_else(|| ApiError::not_found(format!("Secret [{}] not found.", key.1)))
}

/// The version number a path's last segment names: a number, `latest` or an alias.
fn number_of(secret: &Secret, segment: &str) -> Result<i64, ApiError> {
    let found = match segment {
        "latest" => secret.versions.keys().next_back().copied(),
        s => s
            .parse::<i64>()
            .ok()
            .or_else(|| secret.aliases.get(s).copied()),
    };
    found
        .filter(|n| secret.versions.contains_key(n))
        .ok_or_else(|| {
            let name = format!("{}/versions/{segment}", secret.id);
            ApiError::not_found(format!("Secret Version [{name}] not found."))
        })
}

fn secret_name(state: &mut State, secret: &Secret) -> String {
    let number = state.project_number(&secret.project);
    format!("projects/{number}/secrets/{}", secret.id)
}

fn render_secret(state: &mut State, secret: &Secret) -> Value {
    let aliases: Map<String, Value> = secret
        .aliases
        .iter()
        .map(|(alias, n)| (alias.clone(), Value::from(n.to_string())))
        .collect();
    json!({
        "name": secret_name(state, secret),
        "replication": {"automatic": {}},
        "createTime": timestamp(secret.create_time),
        "labels": secret.labels,
        "annotations": secret.annotations,
        "versionAliases": aliases,
        "etag": secret.etag,
    })
}

fn render_version(state: &mut State, secret: &Secret, version: &Version, call: &Call) -> Value {
    let state_value = call.enum_value(version.state.name(), version.state.number());
    let mut answer = json!({
        "name": format!("{}/versions/{}", secret_name(state, secret), version.number),
        "createTime": timestamp(version.create_time),
        "state": state_value,
        "etag": version.etag,
        "clientSpecifiedPayloadChecksum": version.client_checksum,
    });
    if let Some(destroyed) = version.destroy_time {
        answer["destroyTime"] = Value::from(timestamp(destroyed));
    }
    answer
}

/// `pageSize` and `pageToken` as an offset and a count.
fn page(state: &State, call: &Call) -> Result<(usize, usize), ApiError> {
    let size = match call.param("pageSize") {
        None | Some("0") => state.default_page_size.unwrap_or(MAX_PAGE_SIZE),
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| ApiError::invalid("pageSize must be a positive number"))?,
    };
    let offset = match call.param("pageToken") {
        None | Some("") => 0,
        Some(token) => token
            .strip_prefix("offset-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::invalid("invalid page token"))?,
    };
    Ok((offset, size.min(MAX_PAGE_SIZE)))
}

/// A list answer: `field` holding `items`, `nextPageToken` only when
/// more pages follow (proto3 JSON leaves empty fields out).
fn page_answer(field: &str, items: Vec<Value>, offset: usize, size: usize, total: usize) -> Value {
    let mut answer = Map::new();
    answer.insert(field.to_owned(), Value::Array(items));
    answer.insert("totalSize".to_owned(), Value::from(total));
    if offset + size < total {
        let token = Value::from(format!("offset-{}", offset + size));
        answer.insert("nextPageToken".to_owned(), token);
    }
    Value::Object(answer)
}

/// One term of a `ListSecrets` filter this fake understands:
/// `labels.KEY:*` (the label is present) or `labels.KEY=VALUE`.
fn matches_term(secret: &Secret, term: &str) -> Result<bool, ApiError> {
    let unsupported = || ApiError::invalid(format!("unsupported filter term `{term}`"));
    let rest = term.strip_prefix("labels.").ok_or_else(unsupported)?;
    if let Some(key) = rest.strip_suffix(":*") {
        return Ok(secret.labels.contains_key(key));
    }
    let (key, value) = rest
        .split_once('=')
        .or_else(|| rest.split_once(':'))
        .ok_or_else(unsupported)?;
    Ok(secret.labels.get(key).is_some_and(|v| v == value))
}

fn matches(secret: &Secret, filter: &str) -> Result<bool, ApiError> {
    for term in filter.split_whitespace().filter(|t| *t != "AND") {
        if !matches_term(secret, term)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `GET /v1/projects/{project}/secrets`.
pub fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let (project, _) = key_of(state, call)?;
    let filter = call.param("filter").unwrap_or_default();
    let (offset, size) = page(state, call)?;

    let mut selected = Vec::new();
    for ((p, _), secret) in &state.secrets {
        if *p == project && matches(secret, filter)? {
            selected.push(secret.clone());
        }
    }
    let total = selected.len();
    let secrets: Vec<Value> = selected
        .iter()
        .skip(offset)
        .take(size)
        .map(|s| render_secret(state, s))
        .collect();
    Ok(page_answer("secrets", secrets, offset, size, total))
}

fn string_map(value: &Value, field: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match &value[field] {
        Value::Null => Ok(BTreeMap::new()),
        other => serde_json::from_value(other.clone())
            .map_err(|_| ApiError::invalid(format!("`{field}` must map strings to strings"))),
    }
}

/// `POST /v1/projects/{project}/secrets?secretId=…`.
pub fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let (project, _) = key_of(state, call)?;
    let id = call.param("secretId").unwrap_or_default().to_owned();
    validate::secret_id(&id)?;
    if !call.body["replication"].is_object() {
        return Err(ApiError::invalid("secret.replication is required"));
    }
    let labels = string_map(&call.body, "labels")?;
    let annotations = string_map(&call.body, "annotations")?;
    validate::labels(&labels)?;
    validate::annotations(&annotations)?;
    if state.secrets.contains_key(&(project.clone(), id.clone())) {
        return Err(ApiError::already_exists(format!(
            "Secret [{id}] already exists."
        )));
    }

    let secret = Secret {
        project: project.clone(),
        id: id.clone(),
        create_time: OffsetDateTime::now_utc(),
        labels,
        annotations,
        aliases: BTreeMap::new(),
        etag: state.etag(),
        versions: BTreeMap::new(),
    };
    let answer = render_secret(state, &secret);
    state.secrets.insert((project, id), secret);
    Ok(answer)
}

/// `GET /v1/projects/{project}/secrets/{secret}`.
pub fn get(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let secret = secret_mut(state, call)?.clone();
    Ok(render_secret(state, &secret))
}

/// A stale etag fails as the Secret Manager etag guide says: 400
/// `FAILED_PRECONDITION`. No etag skips the check.
fn check_etag(current: &str, sent: Option<&str>) -> Result<(), ApiError> {
    match sent {
        Some(etag) if !etag.is_empty() && etag != current => Err(ApiError::precondition(format!(
            "etag {etag} does not match the current etag {current}"
        ))),
        _ => Ok(()),
    }
}

/// The aliases of an update's body, each naming a version that can hold one.
fn aliases_of(secret: &Secret, body: &Value) -> Result<BTreeMap<String, i64>, ApiError> {
    let map = body["versionAliases"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut aliases = BTreeMap::new();
    for (alias, number) in map {
        validate::alias(&alias)?;
        let number = match &number {
            Value::String(s) => s.parse::<i64>().ok(),
            other => other.as_i64(),
        }
        .ok_or_else(|| ApiError::invalid(format!("alias `{alias}` must name a version number")))?;
        match secret.versions.get(&number) {
            Some(v) if v.state != VersionState::Destroyed => {}
            _ => {
                return Err(ApiError::invalid(format!(
                    "alias `{alias}` names version {number}, which does not exist or is destroyed"
                )));
            }
        }
        aliases.insert(alias, number);
    }
    Ok(aliases)
}

/// `PATCH /v1/projects/{project}/secrets/{secret}?updateMask=…`: labels,
/// annotations and version aliases, conditional on the body's etag.
pub fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut secret = secret_mut(state, call)?.clone();
    check_etag(&secret.etag, call.body["etag"].as_str())?;
    let mask = call.param("updateMask").unwrap_or_default().to_owned();
    if mask.is_empty() {
        return Err(ApiError::invalid("updateMask is required"));
    }

    for field in mask.split(',').map(str::trim) {
        match field {
            "labels" => secret.labels = string_map(&call.body, "labels")?,
            "annotations" => secret.annotations = string_map(&call.body, "annotations")?,
            "version_aliases" | "versionAliases" => {
                secret.aliases = aliases_of(&secret, &call.body)?;
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unsupported update mask path `{other}`"
                )));
            }
        }
    }
    validate::labels(&secret.labels)?;
    validate::annotations(&secret.annotations)?;

    secret.etag = state.etag();
    let answer = render_secret(state, &secret);
    state
        .secrets
        .insert((secret.project.clone(), secret.id.clone()), secret);
    Ok(answer)
}

/// `DELETE /v1/projects/{project}/secrets/{secret}`.
pub fn delete(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let secret = secret_mut(state, call)?;
    check_etag(&secret.etag, call.param("etag"))?;
    let key = (secret.project.clone(), secret.id.clone());
    state.secrets.remove(&key);
    Ok(json!({}))
}

fn checksum_of(payload: &Value) -> Result<Option<u32>, ApiError> {
    let sent = match &payload["dataCrc32c"] {
        Value::Null => return Ok(None),
        Value::String(s) => s.parse::<i64>().ok(),
        other => other.as_i64(),
    };
    let sent = sent.ok_or_else(|| ApiError::invalid("dataCrc32c must be an int64"))?;
    u32::try_from(sent)
        .map(Some)
        .map_err(|_| ApiError::invalid("dataCrc32c is out of range"))
}

/// `POST /v1/projects/{project}/secrets/{secret}:addVersion`.
pub fn add_version(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let payload = &call.body["payload"];
    let data = STANDARD
        .decode(payload["data"].as_str().unwrap_or_default())
        .map_err(|_| ApiError::invalid("payload.data must be base64"))?;
    if data.len() > validate::MAX_PAYLOAD_BYTES {
        return Err(ApiError::invalid("payload.data must be at most 64 KiB"));
    }
    let crc = crc32c::crc32c(&data);
    let sent = checksum_of(payload)?;
    if sent.is_some_and(|sent| sent != crc) {
        return Err(ApiError::invalid(
            "Checksum mismatch: payload.data_crc32c is not the CRC32C of payload.data",
        ));
    }

    let etag = state.etag();
    let secret = secret_mut(state, call)?;
    let version = Version {
        number: secret.next_number(),
        create_time: OffsetDateTime::now_utc(),
        destroy_time: None,
        state: VersionState::Enabled,
        etag,
        data,
        crc32c: crc,
        client_checksum: sent.is_some(),
    };
    secret.versions.insert(version.number, version.clone());
    let secret = secret.clone();
    Ok(render_version(state, &secret, &version, call))
}

/// `GET /v1/projects/{project}/secrets/{secret}/versions`.
pub fn list_versions(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let secret = secret_mut(state, call)?.clone();
    let (offset, size) = page(state, call)?;
    let total = secret.versions.len();
    let versions: Vec<Value> = secret
        .versions
        .values()
        .rev()
        .skip(offset)
        .take(size)
        .map(|v| render_version(state, &secret, v, call))
        .collect();
    Ok(page_answer("versions", versions, offset, size, total))
}

/// `GET /v1/projects/{project}/secrets/{secret}/versions/{version}`.
pub fn get_version(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let secret = secret_mut(state, call)?.clone();
    let number = number_of(&secret, &call.segments[5])?;
    Ok(render_version(
        state,
        &secret,
        &secret.versions[&number],
        call,
    ))
}

/// `GET /v1/projects/{project}/secrets/{secret}/versions/{version}:access`.
pub fn access(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let secret = secret_mut(state, call)?.clone();
    let number = number_of(&secret, &call.segments[5])?;
    let version = &secret.versions[&number];
    if version.state != VersionState::Enabled {
        return Err(ApiError::precondition(format!(
            "Secret Version [{}/versions/{number}] is in {} state.",
            secret.id,
            version.state.name()
        )));
    }
    Ok(json!({
        "name": format!("{}/versions/{number}", secret_name(state, &secret)),
        "payload": {
            "data": STANDARD.encode(&version.data),
            "dataCrc32c": version.crc32c.to_string(),
        },
    }))
}

/// Moves a version to `to`, conditional on the body's etag.
fn transition(state: &mut State, call: &Call, to: VersionState) -> Result<Value, ApiError> {
    let etag = state.etag();
    let secret = secret_mut(state, call)?;
    let number = number_of(secret, &call.segments[5])?;
    let version = secret
        .versions
        .get_mut(&number)
        .ok_or_else(|| ApiError::not_found("version not found"))?;
    check_etag(&version.etag, call.body["etag"].as_str())?;
    if version.state == VersionState::Destroyed {
        return Err(ApiError::precondition(format!(
            "Secret Version [{number}] is in DESTROYED state."
        )));
    }

    version.state = to;
    version.etag = etag;
    if to == VersionState::Destroyed {
        version.data.clear();
        version.destroy_time = Some(OffsetDateTime::now_utc());
    }
    let version = version.clone();
    let secret = secret.clone();
    Ok(render_version(state, &secret, &version, call))
}

/// `POST …/versions/{version}:disable`.
pub fn disable(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    transition(state, call, VersionState::Disabled)
}

/// `POST …/versions/{version}:enable`.
pub fn enable(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    transition(state, call, VersionState::Enabled)
}

/// `POST …/versions/{version}:destroy`.
pub fn destroy(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    transition(state, call, VersionState::Destroyed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(labels: &[(&str, &str)]) -> Secret {
        Secret {
            project: "p".into(),
            id: "s".into(),
            create_time: OffsetDateTime::now_utc(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            annotations: BTreeMap::new(),
            aliases: BTreeMap::new(),
            etag: String::new(),
            versions: BTreeMap::new(),
        }
    }

    #[test]
    fn label_filters_match_presence_and_values() {
        let labelled = secret(&[("rekey-policy", "db"), ("team", "pay")]);
        let bare = secret(&[]);

        assert_eq!(matches(&labelled, "labels.rekey-policy:*"), Ok(true));
        assert_eq!(matches(&bare, "labels.rekey-policy:*"), Ok(false));
        assert_eq!(
            matches(&labelled, "labels.team=pay AND labels.rekey-policy:db"),
            Ok(true)
        );
        assert_eq!(matches(&labelled, "labels.team=ops"), Ok(false));
        assert_eq!(matches(&labelled, ""), Ok(true));
        assert!(
            matches(&labelled, "name:foo").is_err(),
            "unsupported terms are refused"
        );
    }

    #[test]
    fn next_page_token_appears_only_when_more_follow() {
        let more = page_answer("secrets", vec![Value::Null], 0, 1, 2);
        let last = page_answer("secrets", vec![Value::Null], 1, 1, 2);

        assert_eq!(more["nextPageToken"], "offset-1");
        assert!(last.get("nextPageToken").is_none());
    }
}
