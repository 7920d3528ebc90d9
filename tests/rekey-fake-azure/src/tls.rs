//! The fake's test PKI: a throwaway CA and a server certificate it signs,
//! valid for `localhost`, `127.0.0.1` and every `*.vault.azure.net` host.
//!
//! Clients trust the CA through its PEM file; nothing here is meant for
//! anything but tests, and the keys live only in memory.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::FakeError;

/// The host names and addresses the server certificate covers.
pub(crate) const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1", "*.vault.azure.net"];

/// A CA certificate (PEM, for clients) and the TLS configuration of a
/// server whose certificate it signed.
pub(crate) struct TestPki {
    /// The CA certificate clients must trust.
    pub(crate) ca_pem: String,
    /// The server side: certificate chain, key, and HTTP/1.1 by ALPN.
    pub(crate) server: Arc<ServerConfig>,
}

impl TestPki {
    /// Generates a fresh CA and server certificate.
    pub(crate) fn generate() -> Result<Self, FakeError> {
        let ca = certificate_authority()?;
        let server_key = KeyPair::generate().map_err(pki)?;
        let names: Vec<String> = SERVER_NAMES.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(pki)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "rekey fake Key Vault");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = params.signed_by(&server_key, &ca).map_err(pki)?;

        let chain = vec![server_cert.der().clone(), ca.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        Ok(Self {
            ca_pem: ca.pem(),
            server: server_config(chain, key)?,
        })
    }
}

fn certificate_authority() -> Result<CertifiedIssuer<'static, KeyPair>, FakeError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "rekey fake Azure test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().map_err(pki)?;
    CertifiedIssuer::self_signed(params, key).map_err(pki)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, FakeError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FakeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| FakeError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` hands it
fn pki(error: rcgen::Error) -> FakeError {
    FakeError::Tls(format!("failed to make the test certificates: {error}"))
}
