//! Lambda function URL requests and responses (payload format 2.0).
//!
//! A function URL hands the function the whole HTTP request as JSON, with
//! `requestContext.http` describing it, and takes back `{"statusCode",
//! "headers", "body"}` (AWS Lambda Developer Guide, "Invoking Lambda
//! function URLs"). The body arrives as text, or base64 when
//! `isBase64Encoded` is set; its size is checked before it is decoded.

use std::borrow::Cow;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use http::{HeaderValue, Method, header};
use rekey_core::Engine;
use serde_json::Value;

use crate::EventError;
use crate::webhook::{WebhookConfig, WebhookReply, handle_webhook, too_large};

/// Whether `payload` is a function URL request rather than an event.
pub(crate) fn is_request(payload: &Value) -> bool {
    payload
        .pointer("/requestContext/http")
        .is_some_and(Value::is_object)
}

/// Answers a function URL request; every outcome is an HTTP response.
pub(crate) async fn handle(
    engine: &Engine,
    config: &WebhookConfig,
    payload: Value,
) -> Result<ApiGatewayV2httpResponse, EventError> {
    let request: ApiGatewayV2httpRequest =
        serde_json::from_value(payload).map_err(|_| EventError::Malformed {
            event_source: "function URL",
            reason: "a request needs requestContext.http with a method, and string headers".into(),
        })?;
    let reply = reply_to(engine, config, &request).await;

    Ok(response(&reply))
}

async fn reply_to(
    engine: &Engine,
    config: &WebhookConfig,
    request: &ApiGatewayV2httpRequest,
) -> WebhookReply {
    if request.request_context.http.method != Method::POST {
        return WebhookReply::error(405, "Rekey.MethodNotAllowed", "webhooks take POST only");
    }
    let path = request
        .raw_path
        .as_deref()
        .or(request.request_context.http.path.as_deref())
        .unwrap_or("/");
    let body = match body(request) {
        Ok(body) => body,
        Err(reply) => return reply,
    };

    handle_webhook(engine, config, path, &request.headers, &body, engine.now()).await
}

/// The raw body bytes, decoded from base64 if need be.
fn body(request: &ApiGatewayV2httpRequest) -> Result<Cow<'_, [u8]>, WebhookReply> {
    let Some(body) = request.body.as_deref() else {
        return Ok(Cow::Borrowed(&[]));
    };
    if !request.is_base64_encoded {
        return Ok(Cow::Borrowed(body.as_bytes()));
    }
    if let Some(reply) = too_large(&request.headers, body.len() / 4 * 3) {
        return Err(reply);
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map(Cow::Owned)
        .map_err(|_| WebhookReply::error(400, "Rekey.InvalidEvent", "the body is not valid base64"))
}

fn response(reply: &WebhookReply) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(reply.status);
    response.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.body = Some(Body::Text(reply.body.to_string()));
    response
}
