//! Building the clients from settings, and refusing bad credentials files
//! without echoing them.

use rekey_gcp::{ConnectError, GcpClients, GcpCredentials, GcpSettings};

fn with_file(path: std::path::PathBuf) -> GcpSettings {
    GcpSettings {
        credentials: GcpCredentials::File(path),
        secret_manager_endpoint: Some("http://127.0.0.1:9".into()),
        iam_endpoint: Some("http://127.0.0.1:9".into()),
        ..GcpSettings::default()
    }
}

#[tokio::test]
async fn bad_credentials_files_are_typed_errors_that_hold_no_content() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.json");
    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, "{\"private_key\": \"s3cr3t-pem\"").expect("write");
    let unsupported = dir.path().join("unsupported.json");
    std::fs::write(
        &unsupported,
        r#"{"type": "gdch_service_account", "private_key": "s3cr3t-pem"}"#,
    )
    .expect("write");

    let error = |path| async {
        GcpClients::connect(&with_file(path))
            .await
            .expect_err("refused")
    };

    assert!(matches!(
        error(missing).await,
        ConnectError::CredentialsFile { .. }
    ));
    let malformed = error(malformed).await;
    assert!(
        matches!(malformed, ConnectError::MalformedCredentials(_)),
        "{malformed}"
    );
    let unsupported = error(unsupported).await;
    let named = |kind: &str| kind == "gdch_service_account";
    assert!(
        matches!(&unsupported, ConnectError::UnsupportedCredentials { kind, .. } if named(kind)),
        "{unsupported}"
    );
    for e in [malformed, unsupported] {
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }
}

#[tokio::test]
async fn anonymous_credentials_and_an_endpoint_build_both_clients() {
    let settings = GcpSettings {
        credentials: GcpCredentials::Anonymous,
        secret_manager_endpoint: Some("http://127.0.0.1:9".into()),
        iam_endpoint: Some("http://127.0.0.1:9".into()),
        ..GcpSettings::default()
    };

    assert!(GcpClients::connect(&settings).await.is_ok());
}
