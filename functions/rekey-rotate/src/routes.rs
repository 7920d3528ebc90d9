//! `rekey-rotate`'s HTTP routes: GCP Secret Manager notifications pushed by
//! Pub/Sub, and Azure Key Vault events delivered by Event Grid.
//!
//! Each request is checked in this order, and the first failure answers:
//! the route is configured (404), the body is within its limit by its
//! declared and actual length (413, before reading), the caller is
//! authenticated (401: the push's OIDC token, or Event Grid's delivery
//! secret, before the body is parsed), the body parses (400, naming the
//! field), the subscription or topic is configured (403). A refused
//! request changes nothing and its reply never repeats the body.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::post;
use http::{HeaderMap, HeaderName, HeaderValue};
use rekey_app::Config;
use rekey_app::triggers::{EventGrid, SecretManagerNotifications};
use rekey_core::SecretValue;
use rekey_http::{Host, OidcError, OidcVerifier, Reply, header_text, read_body};
use serde_json::json;

use crate::event_grid::{self, GridKind};
use crate::notice::{self, NoticeAnswer};
use crate::pubsub::{self, Push};

/// The route Pub/Sub pushes Secret Manager notifications to.
pub const GCP_SECRET_MANAGER_PATH: &str = "/gcp/secret-manager";
/// The route Event Grid delivers Key Vault events to.
pub const AZURE_EVENT_GRID_PATH: &str = "/azure/event-grid";
/// The environment variable holding Event Grid's delivery secret.
pub const EVENT_GRID_SECRET_ENV: &str = "REKEY_AZURE_EVENT_GRID_SECRET";
/// The header the Event Grid subscription sends the secret in: set it as
/// a delivery property of the subscription, marked secret.
pub const EVENT_GRID_SECRET_HEADER: &str = "x-rekey-event-grid-secret";
/// The largest Pub/Sub push body accepted (64 KiB): a Secret resource is
/// a few hundred bytes.
pub const MAX_PUSH_BODY: usize = 64 * 1024;
/// The largest Event Grid delivery accepted (1 MiB, Event Grid's largest
/// batch).
pub const MAX_EVENT_GRID_BODY: usize = 1024 * 1024;

/// What the routes need from configuration.
#[derive(Clone, Debug, Default)]
pub struct RotateSettings {
    /// `[gcp.notifications]`; none: the Pub/Sub route is disabled.
    pub notifications: Option<SecretManagerNotifications>,
    /// `[azure.event_grid]`; none: the Event Grid route is disabled.
    pub event_grid: Option<EventGrid>,
    /// Event Grid's delivery secret ([`EVENT_GRID_SECRET_ENV`]); none: the
    /// Event Grid route is disabled.
    pub event_grid_secret: Option<SecretValue>,
}

impl RotateSettings {
    /// The settings in `config`, and the secret from the environment.
    pub fn from_config(config: &Config) -> Self {
        let secret = std::env::var(EVENT_GRID_SECRET_ENV)
            .ok()
            .filter(|value| !value.trim().is_empty())
            .map(SecretValue::new);
        Self {
            notifications: config.gcp.notifications.clone(),
            event_grid: config.azure.event_grid.clone(),
            event_grid_secret: secret,
        }
    }
}

/// The function: its engine, its configured routes, its Lambda handler.
#[derive(Clone)]
pub struct RotateFunction {
    inner: Arc<Inner>,
}

struct Inner {
    host: Arc<dyn Host>,
    push: Option<PushRoute>,
    event_grid: Option<GridRoute>,
}

struct PushRoute {
    subscriptions: Vec<String>,
    verifier: Option<OidcVerifier>,
}

struct GridRoute {
    topics: Vec<String>,
    secret: Option<SecretValue>,
}

impl RotateFunction {
    /// The function on `host` with `settings`.
    pub fn new(host: Arc<dyn Host>, settings: RotateSettings) -> Result<Self, OidcError> {
        let push = match settings.notifications {
            Some(n) => Some(PushRoute {
                verifier: n.push_token().map(|t| OidcVerifier::new(&t)).transpose()?,
                subscriptions: n.subscriptions,
            }),
            None => None,
        };
        let event_grid = settings.event_grid.map(|grid| GridRoute {
            topics: grid.topics,
            secret: settings.event_grid_secret,
        });
        let inner = Inner {
            host,
            push,
            event_grid,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The function on `app`, configured from its file and the environment.
    pub fn from_app(app: Arc<rekey_app::App>) -> Result<Self, OidcError> {
        let settings = RotateSettings::from_config(app.config());
        Self::new(app, settings)
    }

    /// The host it runs on.
    pub fn host(&self) -> &Arc<dyn Host> {
        &self.inner.host
    }

    /// Answers a Pub/Sub push of a Secret Manager notification.
    pub async fn secret_manager_push(&self, headers: &HeaderMap, body: &[u8]) -> Reply {
        let Some(route) = &self.inner.push else {
            return not_enabled(
                GCP_SECRET_MANAGER_PATH,
                "[gcp.notifications] is not configured",
            );
        };
        if let Some(verifier) = &route.verifier
            && let Err(error) = verifier.verify(headers).await
        {
            return Reply::error(error.status(), "Rekey.Unauthorized", error.to_string());
        }
        let delivery = match pubsub::parse(body) {
            Ok(delivery) => delivery,
            Err(error) => return Reply::error(400, "Rekey.InvalidEvent", error.to_string()),
        };
        if !route.subscriptions.contains(&delivery.subscription) {
            return forbidden(
                "the subscription is not listed in [gcp.notifications] subscriptions",
            );
        }

        let answer = match delivery.push {
            Push::Ignore(reason) => Ok(ignored(reason)),
            Push::Rotate(notice) => notice::act(self.inner.host.engine(), notice).await,
        };
        match answer {
            Ok(answer) => Reply::answer(answer.status(), &answer),
            Err(error) => Reply::engine_error(&error),
        }
    }

    /// Answers an Event Grid delivery in either schema.
    pub async fn event_grid(&self, headers: &HeaderMap, body: &[u8]) -> Reply {
        let route = match self.grid_route(headers) {
            Ok(route) => route,
            Err(reply) => return reply,
        };
        let events = match event_grid::parse(body) {
            Ok(events) => events,
            Err(error) => return Reply::error(400, "Rekey.InvalidEvent", error.to_string()),
        };
        let listed = |topic: &str| route.topics.iter().any(|t| t.eq_ignore_ascii_case(topic));
        if !events.iter().all(|event| listed(&event.topic)) {
            return forbidden("the topic is not listed in [azure.event_grid] topics");
        }

        let mut answers = Vec::with_capacity(events.len());
        for event in events {
            let answer = match event.kind {
                GridKind::Validation(code) => {
                    tracing::info!("event grid subscription validated");
                    return Reply::json(200, json!({ "validationResponse": code }));
                }
                GridKind::Ignore(reason) => ignored(reason),
                GridKind::Rotate(notice) => {
                    match notice::act(self.inner.host.engine(), notice).await {
                        Ok(answer) => answer,
                        Err(error) => return Reply::engine_error(&error),
                    }
                }
            };
            answers.push(answer);
        }
        Reply::answer(200, &json!({ "events": answers }))
    }

    /// Answers the CloudEvents abuse-protection handshake (`OPTIONS` with
    /// `WebHook-Request-Origin`), allowing that origin at any rate.
    pub fn event_grid_handshake(&self, headers: &HeaderMap) -> Reply {
        if let Err(reply) = self.grid_route(headers) {
            return reply;
        }
        let origin = header_text(headers, "webhook-request-origin")
            .filter(|o| (1..=255).contains(&o.len()))
            .and_then(|o| HeaderValue::from_str(o).ok());
        let Some(origin) = origin else {
            let message = "the handshake needs a WebHook-Request-Origin header";
            return Reply::error(400, "Rekey.InvalidEvent", message);
        };
        tracing::info!("event grid webhook handshake");
        Reply::json(200, json!({}))
            .with_header(HeaderName::from_static("webhook-allowed-origin"), origin)
            .with_header(
                HeaderName::from_static("webhook-allowed-rate"),
                HeaderValue::from_static("*"),
            )
    }

    /// The Event Grid route, if it is enabled and the request carries its secret.
    fn grid_route(&self, headers: &HeaderMap) -> Result<&GridRoute, Reply> {
        let Some(route) = &self.inner.event_grid else {
            return Err(not_enabled(
                AZURE_EVENT_GRID_PATH,
                "[azure.event_grid] is not configured",
            ));
        };
        let Some(secret) = &route.secret else {
            let why = format!("{EVENT_GRID_SECRET_ENV} is not set");
            return Err(not_enabled(AZURE_EVENT_GRID_PATH, &why));
        };
        let presented = header_text(headers, EVENT_GRID_SECRET_HEADER);
        if !rekey_http::shared_secret_matches(secret, presented) {
            let message = format!("the {EVENT_GRID_SECRET_HEADER} header is missing or wrong");
            return Err(Reply::error(401, "Rekey.Unauthorized", message));
        }
        Ok(route)
    }

    /// The routes, around this function.
    pub fn routes(&self) -> Router {
        Router::new()
            .route(GCP_SECRET_MANAGER_PATH, post(push_route))
            .route(
                AZURE_EVENT_GRID_PATH,
                post(event_grid_route).options(handshake_route),
            )
            .with_state(self.clone())
    }
}

async fn push_route(State(function): State<RotateFunction>, request: Request) -> Reply {
    let reply = match read_body(request, MAX_PUSH_BODY).await {
        Ok((parts, body)) => function.secret_manager_push(&parts.headers, &body).await,
        Err(reply) => reply,
    };
    function.inner.host.finish().await;
    reply
}

async fn event_grid_route(State(function): State<RotateFunction>, request: Request) -> Reply {
    let reply = match read_body(request, MAX_EVENT_GRID_BODY).await {
        Ok((parts, body)) => function.event_grid(&parts.headers, &body).await,
        Err(reply) => reply,
    };
    function.inner.host.finish().await;
    reply
}

async fn handshake_route(State(function): State<RotateFunction>, headers: HeaderMap) -> Reply {
    function.event_grid_handshake(&headers)
}

fn ignored(reason: String) -> NoticeAnswer {
    let answer = NoticeAnswer::Ignored { reason };
    answer.log();
    answer
}

fn not_enabled(path: &str, why: &str) -> Reply {
    Reply::error(
        404,
        "Rekey.NotFound",
        format!("{path} is not enabled: {why}"),
    )
}

fn forbidden(message: &str) -> Reply {
    tracing::warn!(%message, "notification refused");
    Reply::error(403, "Rekey.Forbidden", message)
}
