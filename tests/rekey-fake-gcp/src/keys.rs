//! IAM v1: `projects.serviceAccounts.keys.*`. A new key comes back once
//! with `privateKeyData`, the base64 of a JSON key file; afterwards only
//! its metadata. An account holds at most ten user-managed keys, disabled
//! ones included.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::errors::ApiError;
use crate::router::Call;
use crate::state::{Account, Key, KeyType, State, timestamp};

/// The most user-managed keys one service account may hold.
pub const MAX_USER_MANAGED_KEYS: usize = 10;

/// `TYPE_GOOGLE_CREDENTIALS_FILE`, the only private key type this fake makes.
const CREDENTIALS_FILE: (&str, i64) = ("TYPE_GOOGLE_CREDENTIALS_FILE", 2);
const RSA_2048: (&str, i64) = ("KEY_ALG_RSA_2048", 2);
const GOOGLE_PROVIDED: (&str, i64) = ("GOOGLE_PROVIDED", 2);

fn email_of(call: &Call) -> &str {
    &call.segments[3]
}

fn account_mut<'s>(state: &'s mut State, call: &Call) -> Result<&'s mut Account, ApiError> {
    let email = email_of(call);
    state
        .accounts
        .get_mut(email)
        .ok_or_else(|| ApiError::not_found(format!("Service account {email} does not exist.")))
}

fn key_mut<'a>(account: &'a mut Account, call: &Call) -> Result<&'a mut Key, ApiError> {
    let id = &call.segments[5];
    account
        .keys
        .iter_mut()
        .find(|k| &k.id == id)
        .ok_or_else(|| ApiError::not_found(format!("Service account key {id} does not exist.")))
}

/// 40 hex digits, fresh.
fn key_id() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{a}{}", &b[..8])
}

/// A PEM envelope around random bytes: shaped like a key, not a real one.
fn pem(label: &str) -> String {
    let bytes: Vec<u8> = (0..8)
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .collect();
    let body = STANDARD.encode(bytes);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A key for `project`, valid from now until the end of 9999.
pub fn new_key(key_type: KeyType) -> Key {
    Key {
        id: key_id(),
        key_type,
        disabled: false,
        valid_after: OffsetDateTime::now_utc(),
        valid_before: datetime!(9999-12-31 23:59:59 UTC),
        public_key: pem("CERTIFICATE"),
    }
}

fn render(call: &Call, project: &str, email: &str, key: &Key) -> Value {
    let mut answer = json!({
        "name": format!("projects/{project}/serviceAccounts/{email}/keys/{}", key.id),
        "privateKeyType": call.enum_value(CREDENTIALS_FILE.0, CREDENTIALS_FILE.1),
        "keyAlgorithm": call.enum_value(RSA_2048.0, RSA_2048.1),
        "validAfterTime": timestamp(key.valid_after),
        "validBeforeTime": timestamp(key.valid_before),
        "keyOrigin": call.enum_value(GOOGLE_PROVIDED.0, GOOGLE_PROVIDED.1),
        "keyType": call.enum_value(key.key_type.name(), key.key_type.number()),
    });
    if key.disabled {
        answer["disabled"] = Value::Bool(true);
    }
    answer
}

/// The JSON key file of `key`, as `privateKeyData` carries it.
pub fn key_file(project: &str, email: &str, key: &Key) -> Value {
    let certs = "https://www.googleapis.com/robot/v1/metadata/x509";
    json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": key.id,
        "private_key": pem("PRIVATE KEY"),
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": format!("{certs}/{}", email.replace('@', "%40")),
        "universe_domain": "googleapis.com",
    })
}

fn wants(call: &Call, key_type: KeyType) -> bool {
    let Some(types) = call.query.get("keyTypes") else {
        return true;
    };
    types
        .iter()
        .any(|t| t == key_type.name() || *t == key_type.number().to_string())
}

/// `GET /v1/projects/{project}/serviceAccounts/{account}/keys`.
pub fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let account = account_mut(state, call)?.clone();
    let email = email_of(call);
    let keys: Vec<Value> = account
        .keys
        .iter()
        .filter(|k| wants(call, k.key_type))
        .map(|k| render(call, &account.project, email, k))
        .collect();
    Ok(json!({ "keys": keys }))
}

fn private_key_type_ok(body: &Value) -> bool {
    match &body["privateKeyType"] {
        Value::Null => true,
        Value::String(s) => s == CREDENTIALS_FILE.0 || s == "TYPE_UNSPECIFIED",
        other => matches!(other.as_i64(), Some(0 | 2)),
    }
}

/// `POST /v1/projects/{project}/serviceAccounts/{account}/keys`.
pub fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    if !private_key_type_ok(&call.body) {
        return Err(ApiError::invalid(
            "only TYPE_GOOGLE_CREDENTIALS_FILE keys are supported",
        ));
    }
    let email = email_of(call).to_owned();
    let account = account_mut(state, call)?;
    let user_managed = account
        .keys
        .iter()
        .filter(|k| k.key_type == KeyType::UserManaged)
        .count();
    if user_managed >= MAX_USER_MANAGED_KEYS {
        return Err(ApiError::precondition("Precondition check failed."));
    }

    let key = new_key(KeyType::UserManaged);
    account.keys.push(key.clone());
    let file = key_file(&account.project, &email, &key);
    let mut answer = render(call, &account.project, &email, &key);
    answer["privateKeyData"] = Value::from(STANDARD.encode(file.to_string()));
    Ok(answer)
}

/// `GET /v1/projects/{project}/serviceAccounts/{account}/keys/{key}`.
pub fn get(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let email = email_of(call).to_owned();
    let account = account_mut(state, call)?;
    let project = account.project.clone();
    let key = key_mut(account, call)?;
    let mut answer = render(call, &project, &email, key);
    let public = call.param("publicKeyType").unwrap_or("0");
    if !matches!(public, "0" | "TYPE_NONE") {
        answer["publicKeyData"] = Value::from(STANDARD.encode(&key.public_key));
    }
    Ok(answer)
}

/// `DELETE /v1/projects/{project}/serviceAccounts/{account}/keys/{key}`.
pub fn delete(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let account = account_mut(state, call)?;
    let key = key_mut(account, call)?;
    if key.key_type == KeyType::SystemManaged {
        return Err(ApiError::precondition(
            "system-managed keys cannot be deleted",
        ));
    }
    let id = key.id.clone();
    account.keys.retain(|k| k.id != id);
    Ok(json!({}))
}

fn set_disabled(state: &mut State, call: &Call, disabled: bool) -> Result<Value, ApiError> {
    let account = account_mut(state, call)?;
    let key = key_mut(account, call)?;
    if key.key_type == KeyType::SystemManaged {
        return Err(ApiError::precondition(
            "system-managed keys cannot be disabled",
        ));
    }
    key.disabled = disabled;
    Ok(json!({}))
}

/// `POST …/keys/{key}:disable`.
pub fn disable(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    set_disabled(state, call, true)
}

/// `POST …/keys/{key}:enable`.
pub fn enable(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    set_disabled(state, call, false)
}
