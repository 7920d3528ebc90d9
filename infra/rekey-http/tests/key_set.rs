//! The key set fetched over real HTTP from a loopback server, as Google's
//! `https://www.googleapis.com/oauth2/v3/certs` is: fetched once, cached,
//! and refused when it is not a key set. The RSA key pair under
//! `tests/fixtures` was made for these tests only.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use http::HeaderMap;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rekey_app::triggers::{IdToken, JwksLocation};
use rekey_http::{KeySet, OidcError, OidcVerifier};
use serde_json::json;

const AUDIENCE: &str = "https://rekey.example/gcp/scheduler";
const EMAIL: &str = "rekey@p.iam.gserviceaccount.com";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Serves `body` at `/certs` on a free loopback port; counts the fetches.
async fn key_server(body: String) -> (String, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let app = Router::new().route(
        "/certs",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/certs"), fetches)
}

fn bearer() -> HeaderMap {
    let pem = std::fs::read(fixture("test-oidc-key.pem")).expect("key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rekey-test-key-1".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let claims = json!({"iss": "accounts.google.com", "aud": AUDIENCE, "email": EMAIL,
        "email_verified": true, "iat": now, "exp": now + 300});
    let token = jsonwebtoken::encode(&header, &claims, &key).expect("signs");

    let mut headers = HeaderMap::new();
    let value = format!("Bearer {token}").parse().expect("header");
    headers.insert(http::header::AUTHORIZATION, value);
    headers
}

#[tokio::test]
async fn a_key_set_url_is_fetched_once_and_cached() {
    let jwks = std::fs::read_to_string(fixture("test-jwks.json")).expect("jwks");
    let (url, fetches) = key_server(jwks).await;
    let verifier = OidcVerifier::new(&IdToken {
        audience: AUDIENCE.into(),
        service_account_email: EMAIL.into(),
        jwks: JwksLocation::Url(url),
    })
    .expect("builds");

    for _ in 0..3 {
        assert_eq!(verifier.verify(&bearer()).await.as_deref(), Ok(EMAIL));
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unusable_key_set_is_unavailable_not_a_pass() {
    let (url, _) = key_server("<html>".into()).await;
    let keys = KeySet::new(JwksLocation::Url(url)).expect("builds");
    assert!(matches!(
        keys.key("rekey-test-key-1").await,
        Err(OidcError::KeysUnavailable(_))
    ));

    let missing = KeySet::new(JwksLocation::File("/nonexistent/jwks.json".into())).expect("builds");
    match missing.key("k").await {
        Err(error) => assert_eq!(error.status(), 503),
        Ok(_) => panic!("a missing key set file gave a key"),
    }
}
