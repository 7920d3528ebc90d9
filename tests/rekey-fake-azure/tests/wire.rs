//! The fake's wire format, checked with a plain HTTPS client: status codes,
//! the challenge header, and the JSON shapes of the REST reference.

use rekey_fake_azure::{FakeKeyVault, TENANT_ID};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const API: &str = "api-version=2025-07-01";

struct Wire {
    fake: FakeKeyVault,
    http: Client,
    vault: String,
}

async fn wire() -> Wire {
    let fake = FakeKeyVault::start().await.expect("start");
    let vault = fake.create_vault("kv");
    let pem = std::fs::read(fake.ca_file()).expect("the CA file");
    let http = Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).expect("pem"))
        .resolve(&fake.vault_host("kv"), fake.address())
        .build()
        .expect("client");
    fake.register_client_secret("app", "app-secret");
    Wire { fake, http, vault }
}

impl Wire {
    async fn token(&self, secret: &str) -> (StatusCode, Value) {
        let url = format!(
            "{}{TENANT_ID}/oauth2/v2.0/token",
            self.fake.authority_host()
        );
        let form = [
            ("client_id", "app"),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
            ("scope", "https://vault.azure.net/.default"),
        ];
        let response = self.http.post(url).form(&form).send().await.expect("send");
        (response.status(), response.json().await.expect("json"))
    }

    async fn bearer(&self) -> String {
        let (status, body) = self.token("app-secret").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        format!("Bearer {}", body["access_token"].as_str().expect("token"))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.vault);
        let mut request = self
            .http
            .request(method, url)
            .header("authorization", self.bearer().await);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn an_unauthenticated_request_gets_the_bearer_challenge() {
    let wire = wire().await;

    let response = wire
        .http
        .get(format!("{}secrets?{API}", wire.vault))
        .send()
        .await
        .expect("send");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let authority = wire.fake.authority_host();
    assert_eq!(
        challenge,
        format!(
            "Bearer authorization=\"{authority}{TENANT_ID}\", resource=\"https://vault.azure.net\""
        )
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "Unauthorized");
    assert_eq!(wire.fake.challenges(), 1);
}

#[tokio::test]
async fn entra_refuses_a_wrong_secret_in_its_error_shape() {
    let wire = wire().await;

    let (status, body) = wire.token("wrong").await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));
    assert!(!body.to_string().contains("app-secret"));
}

#[tokio::test]
async fn set_get_update_and_delete_follow_the_reference() {
    let wire = wire().await;
    use reqwest::Method;

    let (status, set) = wire
        .call(
            Method::PUT,
            &format!("secrets/db?{API}"),
            Some(json!({"value": "v1", "tags": {"a": "b"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let id = set["id"].as_str().expect("id");
    let version = id.rsplit('/').next().expect("version");
    assert_eq!(version.len(), 32);
    assert!(version.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(set["attributes"]["created"].is_i64());
    assert_eq!(set["value"], "v1");

    let patch = json!({"attributes": {"enabled": false}});
    let (status, updated) = wire
        .call(
            Method::PATCH,
            &format!("secrets/db/{version}?{API}"),
            Some(patch),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(updated.get("value").is_none(), "update answers no value");
    let (status, disabled) = wire
        .call(Method::GET, &format!("secrets/db/?{API}"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(disabled["error"]["innererror"]["code"], "SecretDisabled");

    let (status, _) = wire
        .call(Method::DELETE, &format!("secrets/db?{API}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, conflict) = wire
        .call(
            Method::PUT,
            &format!("secrets/db?{API}"),
            Some(json!({"value": "v2"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    let (status, missing) = wire
        .call(Method::GET, &format!("secrets/db/{version}?{API}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["code"], "SecretNotFound");
}

#[tokio::test]
async fn malformed_requests_get_bad_parameter_and_change_nothing() {
    let wire = wire().await;
    use reqwest::Method;

    let (no_value, body) = wire
        .call(
            Method::PUT,
            &format!("secrets/db?{API}"),
            Some(json!({"tags": {}})),
        )
        .await;
    let (no_api, _) = wire.call(Method::GET, "secrets", None).await;
    let (bad_page, _) = wire
        .call(Method::GET, &format!("secrets?{API}&maxresults=0"), None)
        .await;

    assert_eq!(no_value, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "BadParameter");
    assert_eq!(no_api, StatusCode::BAD_REQUEST);
    assert_eq!(bad_page, StatusCode::BAD_REQUEST);
    assert!(wire.fake.versions("kv", "db").is_empty());
}

#[tokio::test]
async fn injected_faults_answer_before_the_vault() {
    let wire = wire().await;
    let bearer = wire.bearer().await;
    wire.fake.fail_next(1, 429, Some(3));
    let url = format!("{}secrets?{API}", wire.vault);

    let throttled = wire
        .http
        .get(&url)
        .header("authorization", &bearer)
        .send()
        .await
        .expect("send");
    let after = wire
        .http
        .get(&url)
        .header("authorization", &bearer)
        .send()
        .await
        .expect("send");

    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()["retry-after"], "3");
    let body: Value = throttled.json().await.expect("json");
    assert_eq!(body["error"]["code"], "Throttled");
    assert_eq!(after.status(), StatusCode::OK);
}
