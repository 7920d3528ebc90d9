//! `rekey-http`: the HTTP edge every rekey function shares, so one binary
//! runs as a Lambda function, on Cloud Run or as an Azure Functions custom
//! handler, and `rekey serve` mounts the very same routes.
//!
//! Start with [`Function`]: each function crate implements it (its Lambda
//! handler [`Function::invoke`] and its HTTP routes [`Function::routes`]),
//! and its `main.rs` calls [`run`], which picks the [`Transport`] from the
//! environment. [`router`] adds `POST /` (the function's normal event as
//! JSON) to a function's routes; [`answer_function_url`] answers a Lambda
//! function URL request through the same router.
//!
//! The routes' shared state is a [`Host`]: the engine, and what to finish
//! before answering ([`rekey_app::App`] publishes rekey's own events).
//!
//! Authentication of native triggers lives here too, before any body is
//! parsed: [`OidcVerifier`] checks Google-signed ID tokens (Cloud Scheduler,
//! Pub/Sub push) against a [`KeySet`]; [`shared_secret_matches`] checks a
//! delivery header in constant time. [`Reply`] is every route's answer and
//! [`read_body`] reads a body within a limit, refusing oversized ones
//! before reading.
//!
//! ```no_run
//! # async fn run(function: std::sync::Arc<dyn rekey_http::Function>) {
//! // A function's main.rs, after building its state:
//! rekey_http::run(function).await.expect("serves until stopped");
//! # }
//! ```

mod function;
mod function_url;
mod host;
mod jwks;
mod oidc;
mod reply;
mod shared_secret;
mod transport;

pub use function::{Function, FunctionError, MAX_EVENT_BODY, router};
pub use function_url::{answer_function_url, function_url_path, is_function_url_request};
pub use host::Host;
pub use jwks::{KEY_SET_TTL, KeySet, MAX_KEY_SET_BYTES, RELOAD_INTERVAL};
pub use oidc::{GOOGLE_ISSUERS, LEEWAY, OidcError, OidcVerifier};
pub use reply::{Reply, header_text, read_body};
pub use shared_secret::shared_secret_matches;
pub use transport::{
    AZURE_PORT_ENV, CLOUD_RUN_PORT_ENV, LAMBDA_RUNTIME_API_ENV, Transport, run, serve,
};
