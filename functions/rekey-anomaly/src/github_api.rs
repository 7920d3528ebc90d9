//! [`GitHubAlerts`]: the [`SecretScanningAlerts`] port on GitHub's REST API.
//!
//! It makes one call, "Get a secret scanning alert":
//! `GET {api}/repos/{owner}/{repo}/secret-scanning/alerts/{alert_number}`
//! with API version 2022-11-28, and returns the alert's `secret`. The token
//! needs the `repo` or `security_events` scope (a fine-grained token or a
//! GitHub App: "Secret scanning alerts" read), and its user must administer
//! the repository.
//!
//! Limits: it never retries by itself (a retryable error answers the
//! webhook 503, so the delivery can be redelivered); it follows at most
//! three redirects, and only within the API's origin, so the token never
//! leaves it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rekey_core::SecretValue;
use reqwest::{Client, Response, Url, redirect};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::fields::{bounded, describe};
use crate::github::{AlertLookupError, SecretScanningAlerts};

/// The environment variable holding the GitHub token that reads alerts.
pub const GITHUB_TOKEN_ENV: &str = "REKEY_GITHUB_TOKEN";
/// The environment variable holding the API's base URL (GitHub Enterprise
/// Server: `https://HOST/api/v3`); [`DEFAULT_GITHUB_API_URL`] when unset.
pub const GITHUB_API_URL_ENV: &str = "REKEY_GITHUB_API_URL";
/// GitHub.com's REST API.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
/// How long one request may take, connection and body included.
pub const GITHUB_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The REST API version every request pins.
const API_VERSION: &str = "2022-11-28";
/// GitHub's JSON media type.
const MEDIA_TYPE: &str = "application/vnd.github+json";
/// GitHub refuses requests without a `User-Agent`.
const USER_AGENT: &str = "rekey";
/// An alert is a few KiB; anything over this is refused unread.
const MAX_BODY: usize = 1024 * 1024;
/// Redirects followed within the API's origin.
const MAX_REDIRECTS: usize = 3;
/// How long to wait after a rate limit that names no time (GitHub's
/// guidance: at least a minute).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Reads secret scanning alerts from GitHub's REST API (github.com or
/// GitHub Enterprise Server). Its `Debug` shows the API URL only.
pub struct GitHubAlerts {
    api: Url,
    token: SecretValue,
    client: Client,
}

/// Why a [`GitHubAlerts`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitHubSetupError {
    /// The API URL does not parse; the cause is the parser's, without the URL.
    #[error("the GitHub API URL is not a URL: {0}")]
    InvalidApiUrl(String),
    /// The API URL is not `http(s)://host[:port][/path]`, or it carries
    /// credentials, a query or a fragment.
    #[error(
        "the GitHub API URL must be http(s)://host[:port][/path], without credentials, query or fragment"
    )]
    UnsupportedApiUrl,
    /// The token is empty or holds characters a header cannot carry.
    #[error("the GitHub token must be non-empty visible ASCII")]
    InvalidToken,
    /// The HTTP client could not be built (its TLS setup failed).
    #[error("failed to build the HTTP client: {0}")]
    Client(String),
}

#[derive(Deserialize)]
struct Alert {
    #[serde(default)]
    secret: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
}

impl GitHubAlerts {
    /// A client for the API at `api_base_url` ([`DEFAULT_GITHUB_API_URL`]
    /// for github.com, `https://HOST/api/v3` for GitHub Enterprise Server)
    /// that authenticates with `token`. Only http and https URLs are taken.
    pub fn new(api_base_url: &str, token: SecretValue) -> Result<Self, GitHubSetupError> {
        let api = parse_api_url(api_base_url)?;
        if token.expose().trim().is_empty() || bearer(&token).is_none() {
            return Err(GitHubSetupError::InvalidToken);
        }

        let client = Client::builder()
            .default_headers(default_headers())
            .user_agent(USER_AGENT)
            .timeout(GITHUB_REQUEST_TIMEOUT)
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| GitHubSetupError::Client(e.without_url().to_string()))?;
        Ok(Self { api, token, client })
    }

    /// A client that authenticates with `token` (trimmed) against the API
    /// [`GITHUB_API_URL_ENV`] names (trimmed), or github.com's when it is
    /// unset or blank.
    pub fn at_env_api_url(token: &SecretValue) -> Result<Self, GitHubSetupError> {
        let api = std::env::var(GITHUB_API_URL_ENV)
            .ok()
            .filter(|url| !url.trim().is_empty());
        let api = api.as_deref().unwrap_or(DEFAULT_GITHUB_API_URL);
        let token = SecretValue::new(token.expose().trim().to_owned());
        Self::new(api.trim(), token)
    }

    /// The API's base URL.
    pub fn api_url(&self) -> &Url {
        &self.api
    }

    /// Reads alert `number` of `owner/name`.
    async fn get(
        &self,
        owner: &str,
        name: &str,
        number: u64,
    ) -> Result<Option<SecretValue>, AlertLookupError> {
        let url = self.alert_url(owner, name, number);
        let authorization = bearer(&self.token).ok_or_else(|| {
            AlertLookupError::Unavailable("the token cannot be sent as a header".into())
        })?;
        let response = self
            .client
            .get(url)
            .header(header::AUTHORIZATION, authorization)
            .send()
            .await
            .map_err(transport)?;

        let status = response.status();
        tracing::debug!(
            owner,
            name,
            number,
            status = status.as_u16(),
            "github alert read"
        );
        match status {
            StatusCode::OK => read_secret(response).await,
            _ => Err(self.refusal(response, owner, name, number).await),
        }
    }

    /// `{api}/repos/{owner}/{name}/secret-scanning/alerts/{number}`, each
    /// part its own path segment.
    fn alert_url(&self, owner: &str, name: &str, number: u64) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            let number = number.to_string();
            segments.pop_if_empty();
            segments.extend(["repos", owner, name, "secret-scanning", "alerts", &number]);
        }
        url
    }

    /// The error a non-200 answer stands for.
    async fn refusal(
        &self,
        response: Response,
        owner: &str,
        name: &str,
        number: u64,
    ) -> AlertLookupError {
        let status = response.status();
        let headers = response.headers().clone();
        let message = self.message(response).await;

        if let Some(retry_after) = rate_limited(status, &headers, &message) {
            return AlertLookupError::RateLimited { retry_after };
        }
        match status {
            StatusCode::UNAUTHORIZED => AlertLookupError::TokenRejected(message),
            StatusCode::FORBIDDEN => AlertLookupError::AccessDenied(message),
            StatusCode::NOT_FOUND => AlertLookupError::AlertNotFound {
                repository: format!("{owner}/{name}"),
                number,
            },
            s if s.is_server_error() => {
                AlertLookupError::Unavailable(format!("GitHub answered {s}: {message}"))
            }
            s => AlertLookupError::UnexpectedStatus(s.as_u16()),
        }
    }

    /// GitHub's error `message`, bounded, control characters replaced and
    /// the token, should a server echo it, removed.
    async fn message(&self, response: Response) -> String {
        let body = read_body(response, 64 * 1024).await.unwrap_or_default();
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .and_then(|b| b.message)
            .unwrap_or_else(|| "no message".into());
        let message = message.replace(self.token.expose(), rekey_core::REDACTED);
        bounded(&message)
    }
}

#[async_trait]
impl SecretScanningAlerts for GitHubAlerts {
    async fn leaked_secret(
        &self,
        repository: &str,
        number: u64,
    ) -> Result<Option<SecretValue>, AlertLookupError> {
        let (owner, name) =
            split_repository(repository).ok_or(AlertLookupError::InvalidRepository)?;
        self.get(owner, name, number).await
    }
}

impl fmt::Debug for GitHubAlerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubAlerts")
            .field("api", &self.api.as_str())
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// `owner` and `name` when `repository` is `owner/name` as GitHub allows
/// them: an owner of 1 to 100 letters, digits, `-` or `_` (managed users'
/// `_shortcode`), a name of 1 to 100 letters, digits, `-`, `_` or `.` other
/// than `.` and `..`. Nothing else can reach the URL's path.
fn split_repository(repository: &str) -> Option<(&str, &str)> {
    let (owner, name) = repository.split_once('/')?;
    let allowed = |text: &str, extra: &[u8]| {
        (1..=100).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    };
    let owner_ok = allowed(owner, b"-_");
    let name_ok = allowed(name, b"-_.") && name != "." && name != "..";

    (owner_ok && name_ok).then_some((owner, name))
}

fn parse_api_url(text: &str) -> Result<Url, GitHubSetupError> {
    let url = Url::parse(text).map_err(|e| GitHubSetupError::InvalidApiUrl(e.to_string()))?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    match plain {
        true => Ok(url),
        false => Err(GitHubSetupError::UnsupportedApiUrl),
    }
}

fn default_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static(MEDIA_TYPE));
    headers.insert(
        "x-github-api-version",
        HeaderValue::from_static(API_VERSION),
    );
    headers
}

/// `Bearer <token>`, marked sensitive so no `Debug` prints it.
fn bearer(token: &SecretValue) -> Option<HeaderValue> {
    let text = Zeroizing::new(format!("Bearer {}", token.expose()));
    let mut value = HeaderValue::from_str(&text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Follows a few redirects, none of them out of the origin they started in.
fn same_origin_redirects() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(Url::origin);
        let same_origin = first.is_some_and(|origin| origin == attempt.url().origin());
        match same_origin && attempt.previous().len() <= MAX_REDIRECTS {
            true => attempt.follow(),
            false => attempt.stop(),
        }
    })
}

/// The alert's `secret`: `None` when GitHub left it out, null or empty.
async fn read_secret(response: Response) -> Result<Option<SecretValue>, AlertLookupError> {
    let body = read_body(response, MAX_BODY).await?;
    let expected = "an alert is a JSON object whose `secret` is a string";
    let alert: Alert = serde_json::from_slice(&body)
        .map_err(|e| AlertLookupError::MalformedAlert(describe(&e, expected)))?;

    Ok(alert
        .secret
        .filter(|secret| !secret.is_empty())
        .map(SecretValue::new))
}

/// The body, up to `limit` bytes, in a buffer zeroed on drop (it may hold
/// the leaked value).
async fn read_body(
    mut response: Response,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, AlertLookupError> {
    let declared = response.content_length().unwrap_or(0);
    let capacity = usize::try_from(declared).unwrap_or(limit).min(limit);
    let mut body = Zeroizing::new(Vec::with_capacity(capacity));

    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > limit {
            let why = format!("the answer is over {limit} bytes");
            return Err(AlertLookupError::MalformedAlert(why));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// How long to wait when the answer is a rate limit: 429, or 403 with
/// `x-ratelimit-remaining: 0`, a `retry-after` or a rate limit message
/// (GitHub's "Rate limits for the REST API").
fn rate_limited(status: StatusCode, headers: &HeaderMap, message: &str) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let seconds = |name: &str| text(name).and_then(|v| v.trim().parse::<u64>().ok());
    let retry_after = seconds("retry-after").map(Duration::from_secs);
    let exhausted = text("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let says_so = message.to_ascii_lowercase().contains("rate limit");

    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (exhausted || retry_after.is_some() || says_so));
    if !limited {
        return None;
    }
    let until_reset = seconds("x-ratelimit-reset")
        .filter(|_| exhausted)
        .map(|reset| Duration::from_secs(reset.saturating_sub(unix_now())));
    Some(retry_after.or(until_reset).unwrap_or(DEFAULT_RETRY_AFTER))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A request that got no answer: retryable, described without the URL.
fn transport(error: reqwest::Error) -> AlertLookupError {
    let why = if error.is_timeout() {
        format!(
            "GitHub did not answer within {}s",
            GITHUB_REQUEST_TIMEOUT.as_secs()
        )
    } else if error.is_connect() {
        "could not connect to the GitHub API".to_owned()
    } else {
        format!("the request to GitHub failed: {}", error.without_url())
    };
    AlertLookupError::Unavailable(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> SecretValue {
        SecretValue::new("ghp_unit-test-token".into())
    }

    #[test]
    fn repositories_are_owner_slash_name_in_githubs_characters() {
        assert_eq!(
            split_repository("octo-org/payments"),
            Some(("octo-org", "payments"))
        );
        assert!(split_repository("octo_acme/my.repo-2_x").is_some());
        for hostile in [
            "../x",
            "octo/..",
            "octo/.",
            "octo/repo/extra",
            "octo repo/x",
            "octo/re po",
            "octo/repo%2F..",
            "octo/repo?x=1",
            "octo/repo#frag",
            "/repo",
            "octo/",
            "octo",
            "",
            "oct\u{f6}/repo",
            "octo\\x/repo",
        ] {
            assert_eq!(split_repository(hostile), None, "{hostile:?}");
        }
        let long = format!("octo/{}", "r".repeat(101));
        assert_eq!(split_repository(&long), None);
    }

    #[test]
    fn only_plain_http_urls_are_api_urls() {
        for good in [
            "https://api.github.com",
            "https://ghe.example.com/api/v3/",
            "http://127.0.0.1:8080",
        ] {
            assert!(GitHubAlerts::new(good, token()).is_ok(), "{good}");
        }
        for bad in [
            "file:///etc/passwd",
            "ftp://api.github.com",
            "https://user:pass@api.github.com",
            "https://api.github.com/?x=1",
            "https://api.github.com/#x",
        ] {
            let error = GitHubAlerts::new(bad, token()).expect_err(bad);
            assert!(
                matches!(error, GitHubSetupError::UnsupportedApiUrl),
                "{bad}"
            );
        }
        assert!(matches!(
            GitHubAlerts::new("api.github.com", token()),
            Err(GitHubSetupError::InvalidApiUrl(_))
        ));
    }

    #[test]
    fn bad_tokens_are_refused_and_the_token_never_prints() {
        for bad in ["", "  ", "ghp_x\nInjected: header"] {
            let result = GitHubAlerts::new(DEFAULT_GITHUB_API_URL, SecretValue::new(bad.into()));
            assert!(matches!(result, Err(GitHubSetupError::InvalidToken)));
        }
        let alerts = GitHubAlerts::new(DEFAULT_GITHUB_API_URL, token()).expect("valid");
        let debug = format!("{alerts:?}");
        assert!(!debug.contains("unit-test-token"), "{debug}");
        assert!(debug.contains("api.github.com"), "{debug}");
    }

    #[test]
    fn alert_urls_keep_the_base_path() {
        let alerts = GitHubAlerts::new("https://ghe.example.com/api/v3/", token()).expect("valid");
        let url = alerts.alert_url("octo-org", "payments", 42);
        assert_eq!(
            url.as_str(),
            "https://ghe.example.com/api/v3/repos/octo-org/payments/secret-scanning/alerts/42"
        );
        let alerts = GitHubAlerts::new(DEFAULT_GITHUB_API_URL, token()).expect("valid");
        let url = alerts.alert_url("o", "r", 1);
        assert_eq!(
            url.as_str(),
            "https://api.github.com/repos/o/r/secret-scanning/alerts/1"
        );
    }

    #[test]
    fn rate_limits_are_told_from_permission_refusals() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_str(value).expect("ascii"));
            }
            map
        };
        let forbidden = StatusCode::FORBIDDEN;
        let none = headers(&[]);

        assert_eq!(
            rate_limited(forbidden, &headers(&[("retry-after", "30")]), ""),
            Some(Duration::from_secs(30))
        );
        let reset = (unix_now() + 120).to_string();
        let exhausted = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ]);
        let wait = rate_limited(forbidden, &exhausted, "").expect("rate limited");
        assert!((Duration::from_secs(110)..=Duration::from_secs(120)).contains(&wait));
        let secondary = "You have exceeded a secondary rate limit.";
        assert_eq!(
            rate_limited(forbidden, &none, secondary),
            Some(DEFAULT_RETRY_AFTER)
        );
        assert!(rate_limited(StatusCode::TOO_MANY_REQUESTS, &none, "").is_some());

        let permission = "Resource not accessible by integration";
        assert_eq!(rate_limited(forbidden, &none, permission), None);
        let remaining = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(rate_limited(forbidden, &remaining, permission), None);
        assert_eq!(rate_limited(StatusCode::NOT_FOUND, &none, ""), None);
    }
}
