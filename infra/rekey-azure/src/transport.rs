//! The HTTP side of every SDK client: one `reqwest` client (rustls, the
//! system's roots plus `ca_file`, pinned host names) handed to azure_core
//! as its transport, the Entra authority as a custom cloud, and the retry
//! budget.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};

use crate::{AzureSettings, ConnectError, PUBLIC_AUTHORITY_HOST};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The client options every SDK client of one [`AzureSettings`] shares.
pub(crate) fn client_options(settings: &AzureSettings) -> Result<ClientOptions, ConnectError> {
    let http = http_client(settings)?;
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = settings
        .authority_host
        .clone()
        .unwrap_or_else(|| PUBLIC_AUTHORITY_HOST.to_owned());

    let mut options = ClientOptions {
        transport: Some(Transport::new(Arc::new(http))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        ..ClientOptions::default()
    };
    if let Some(max_retries) = settings.max_retries {
        options.retry = RetryOptions::exponential(ExponentialRetryOptions {
            max_retries,
            ..ExponentialRetryOptions::default()
        });
    }
    Ok(options)
}

/// A reqwest client as azure_core builds its own (timeouts, no redirects),
/// plus the settings' extra roots and pinned hosts.
fn http_client(settings: &AzureSettings) -> Result<reqwest::Client, ConnectError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .https_only(true);
    if let Some(path) = &settings.ca_file {
        builder = builder.tls_certs_merge(extra_roots(path)?);
    }
    for (host, ip) in &settings.resolve {
        // reqwest ignores the port here: the URL's port is used.
        builder = builder.resolve(host, SocketAddr::new(*ip, 0));
    }
    builder
        .build()
        .map_err(|e| ConnectError::Transport(e.to_string()))
}

fn extra_roots(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, ConnectError> {
    let failed = |reason: String| ConnectError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let certificates =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| failed(e.to_string()))?;
    if certificates.is_empty() {
        return Err(failed("it holds no PEM certificate".into()));
    }
    Ok(certificates)
}
