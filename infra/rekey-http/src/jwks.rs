//! A JSON Web Key Set (RFC 7517) read from a file or a URL and cached.
//!
//! The set is kept for [`KEY_SET_TTL`]; a token naming a key the cached
//! set lacks reloads it (Google rotates its keys), but at most once per
//! [`RELOAD_INTERVAL`], so unknown `kid`s cannot make rekey hammer the
//! key server. Sets over [`MAX_KEY_SET_BYTES`] are refused.

use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use rekey_app::triggers::JwksLocation;
use tokio::sync::Mutex;

use crate::OidcError;

/// How long a loaded key set is used before it is loaded again.
pub const KEY_SET_TTL: Duration = Duration::from_secs(60 * 60);
/// The shortest time between two loads for an unknown key id.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(60);
/// The largest key set read, in bytes.
pub const MAX_KEY_SET_BYTES: usize = 64 * 1024;
/// How long fetching a key set over HTTP may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A key set and where it is loaded from.
pub struct KeySet {
    location: JwksLocation,
    client: reqwest::Client,
    cache: Mutex<Option<Loaded>>,
}

struct Loaded {
    set: JwkSet,
    at: Instant,
}

impl KeySet {
    /// A key set read from `location` on first use.
    pub fn new(location: JwksLocation) -> Result<Self, OidcError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| OidcError::KeysUnavailable(format!("failed to build the client: {e}")))?;
        Ok(Self {
            location,
            client,
            cache: Mutex::new(None),
        })
    }

    /// The verification key with id `kid`.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, OidcError> {
        let mut cache = self.cache.lock().await;
        let stale = cache.as_ref().is_none_or(|l| l.at.elapsed() > KEY_SET_TTL);
        let missing = cache.as_ref().is_some_and(|l| l.set.find(kid).is_none());
        let may_reload = cache
            .as_ref()
            .is_none_or(|l| l.at.elapsed() > RELOAD_INTERVAL);
        if stale || (missing && may_reload) {
            let set = self.load().await?;
            *cache = Some(Loaded {
                set,
                at: Instant::now(),
            });
        }

        let jwk = cache
            .as_ref()
            .and_then(|l| l.set.find(kid))
            .ok_or(OidcError::UnknownKey)?;
        DecodingKey::from_jwk(jwk).map_err(|_| OidcError::UnknownKey)
    }

    async fn load(&self) -> Result<JwkSet, OidcError> {
        let bytes = match &self.location {
            JwksLocation::File(path) => read_file(path)?,
            JwksLocation::Url(url) => self.fetch(url).await?,
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| OidcError::KeysUnavailable(format!("the key set is not a JWKS: {e}")))
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, OidcError> {
        let failed = |e: reqwest::Error| {
            OidcError::KeysUnavailable(format!("failed to fetch the key set from {url}: {e}"))
        };
        let response = self
            .client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(failed)?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_KEY_SET_BYTES as u64)
        {
            return Err(too_large());
        }

        let bytes = response.bytes().await.map_err(failed)?;
        if bytes.len() > MAX_KEY_SET_BYTES {
            return Err(too_large());
        }
        Ok(bytes.to_vec())
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, OidcError> {
    let failed = |e: std::io::Error| {
        OidcError::KeysUnavailable(format!(
            "failed to read the key set {}: {e}",
            path.display()
        ))
    };
    let size = std::fs::metadata(path).map_err(failed)?.len();
    if size > MAX_KEY_SET_BYTES as u64 {
        return Err(too_large());
    }
    std::fs::read(path).map_err(failed)
}

fn too_large() -> OidcError {
    OidcError::KeysUnavailable(format!("the key set is over {MAX_KEY_SET_BYTES} bytes"))
}
