//! The fake answers the official clients as the REST references say GCP
//! does: names with project numbers, etags, states, checksums, aliases,
//! `latest`, the key limit and Google's error shape.

mod common;

use common::{PROJECT, Rig};
use google_cloud_auth::credentials::anonymous;
use google_cloud_gax::error::Error;
use google_cloud_gax::error::rpc::Code;
use google_cloud_iam_admin_v1::client::Iam;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_secretmanager_v1::model::{Secret, SecretPayload};
use google_cloud_wkt::FieldMask;
use rekey_core::{SecretStore as _, SecretValue, VersionId};

async fn secret_manager(rig: &Rig) -> SecretManagerService {
    SecretManagerService::builder()
        .with_endpoint(rig.fake.url())
        .with_credentials(anonymous::Builder::new().build())
        .build()
        .await
        .expect("client")
}

fn code(error: &Error) -> (Option<u16>, Option<Code>) {
    (error.http_status_code(), error.status().map(|s| s.code))
}

async fn access(client: &SecretManagerService, name: &str) -> Result<String, Error> {
    let answer = client.access_secret_version().set_name(name).send().await?;
    let data = answer.payload.unwrap_or_default().data;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

#[tokio::test]
async fn answers_name_the_project_by_number() {
    let rig = Rig::start().await;
    let locator = rig
        .fake
        .create_secret(PROJECT, "named", &[], &[], Some("v"));
    let client = secret_manager(&rig).await;

    let secret = client
        .get_secret()
        .set_name(&locator)
        .send()
        .await
        .expect("get");

    assert_ne!(secret.name, locator);
    assert!(secret.name.ends_with("/secrets/named"), "{}", secret.name);
    let number = secret.name.split('/').nth(1).expect("a project segment");
    assert!(number.parse::<u64>().is_ok(), "{number}");
    let again = client.get_secret().set_name(&secret.name).send().await;
    assert!(again.is_ok(), "the number names the project too");
}

#[tokio::test]
async fn a_stale_etag_is_a_failed_precondition_as_gcp_documents() {
    let rig = Rig::start().await;
    let locator = rig.fake.create_secret(PROJECT, "etag", &[], &[], Some("v"));
    let client = secret_manager(&rig).await;
    let stale = client
        .get_secret()
        .set_name(&locator)
        .send()
        .await
        .expect("get");
    let update = |etag: String| {
        let secret = Secret::new()
            .set_name(&locator)
            .set_etag(etag)
            .set_annotations([("a", "b")]);
        client
            .update_secret()
            .set_secret(secret)
            .set_update_mask(FieldMask::default().set_paths(["annotations"]))
            .send()
    };
    update(stale.etag.clone())
        .await
        .expect("the first writer wins");

    let error = update(stale.etag).await.expect_err("a stale etag");

    assert_eq!(code(&error), (Some(400), Some(Code::FailedPrecondition)));
}

#[tokio::test]
async fn consumers_reading_current_never_see_the_pending_value_that_latest_serves() {
    let rig = Rig::start().await;
    let id = rig.managed("served", "demo", "in-service");
    let client = secret_manager(&rig).await;
    let pending = SecretValue::new("not-yet-tested".into());

    rig.store()
        .put_pending(&id, &VersionId::generate(), &pending, None)
        .await
        .expect("pending");

    let current = format!("{}/versions/current", id.locator);
    let latest = format!("{}/versions/latest", id.locator);
    assert_eq!(
        access(&client, &current).await.expect("current"),
        "in-service"
    );
    assert_eq!(
        access(&client, &latest).await.expect("latest"),
        "not-yet-tested"
    );
}

#[tokio::test]
async fn a_disabled_version_is_a_failed_precondition() {
    let rig = Rig::start().await;
    let locator = rig.fake.create_secret(PROJECT, "off", &[], &[], Some("v"));
    let client = secret_manager(&rig).await;
    let name = format!("{locator}/versions/1");
    let version = client
        .get_secret_version()
        .set_name(&name)
        .send()
        .await
        .expect("get");
    client
        .disable_secret_version()
        .set_name(&name)
        .set_etag(version.etag)
        .send()
        .await
        .expect("disable");

    let error = access(&client, &name).await.expect_err("disabled");

    assert_eq!(code(&error), (Some(400), Some(Code::FailedPrecondition)));
}

#[tokio::test]
async fn a_payload_whose_checksum_does_not_match_is_refused() {
    let rig = Rig::start().await;
    let locator = rig.fake.create_secret(PROJECT, "crc", &[], &[], None);
    let client = secret_manager(&rig).await;
    let payload = SecretPayload::new()
        .set_data(bytes::Bytes::from_static(b"value"))
        .set_data_crc32c(12345);

    let error = client
        .add_secret_version()
        .set_parent(&locator)
        .set_payload(payload)
        .send()
        .await
        .expect_err("a wrong checksum");

    assert_eq!(code(&error), (Some(400), Some(Code::InvalidArgument)));
    assert!(rig.fake.versions(PROJECT, "crc").is_empty());
}

#[tokio::test]
async fn the_eleventh_user_managed_key_is_a_failed_precondition() {
    let rig = Rig::start().await;
    let email = rig.fake.create_service_account(PROJECT, "full");
    let iam = Iam::builder()
        .with_endpoint(rig.fake.url())
        .with_credentials(anonymous::Builder::new().build())
        .build()
        .await
        .expect("client");
    let account = format!("projects/-/serviceAccounts/{email}");
    for _ in 0..rekey_fake_gcp::MAX_USER_MANAGED_KEYS {
        let key = iam
            .create_service_account_key()
            .set_name(&account)
            .send()
            .await;
        assert!(!key.expect("a key").private_key_data.is_empty());
    }

    let error = iam
        .create_service_account_key()
        .set_name(&account)
        .send()
        .await
        .expect_err("at the limit");

    assert_eq!(code(&error), (Some(400), Some(Code::FailedPrecondition)));
    assert_eq!(
        rig.fake.keys(&email).len(),
        11,
        "ten user-managed keys and Google's own"
    );
}
