//! Lambda function URL requests (payload format 2.0) answered by a router,
//! so a function's HTTP routes behave the same behind a function URL, on
//! Cloud Run and in `rekey serve`.
//!
//! The request's method, path, query, headers and body become an HTTP
//! request for the router; its answer becomes `{"statusCode", "headers",
//! "body"}` (AWS Lambda Developer Guide, "Invoking Lambda function URLs").
//! A base64 body's size is checked before it is decoded.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body as LambdaBody;
use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use http::{HeaderValue, Request, header};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{FunctionError, Reply};

/// The largest body a function URL request may carry (Lambda's
/// synchronous payload limit).
const MAX_REQUEST_BODY: usize = 6 * 1024 * 1024;

/// Whether `payload` is a function URL request rather than an event.
pub fn is_function_url_request(payload: &Value) -> bool {
    payload
        .pointer("/requestContext/http")
        .is_some_and(Value::is_object)
}

/// The path a function URL request is for, if it is one.
pub fn function_url_path(payload: &Value) -> Option<&str> {
    if !is_function_url_request(payload) {
        return None;
    }
    payload
        .get("rawPath")
        .or_else(|| payload.pointer("/requestContext/http/path"))
        .and_then(Value::as_str)
}

/// Answers the function URL request `payload` with `router`; every outcome
/// the router reaches is an HTTP response.
pub async fn answer_function_url(
    router: Router,
    payload: Value,
) -> Result<ApiGatewayV2httpResponse, FunctionError> {
    let request: ApiGatewayV2httpRequest =
        serde_json::from_value(payload).map_err(|_| FunctionError {
            error_type: "Rekey.InvalidEvent".into(),
            error_message: "malformed function URL request: it needs requestContext.http with a \
                            method, and string headers"
                .into(),
        })?;
    let reply = match http_request(&request) {
        Ok(http) => dispatch(router, http).await,
        Err(reply) => reply_response(&reply),
    };
    Ok(reply)
}

fn http_request(request: &ApiGatewayV2httpRequest) -> Result<Request<Body>, Reply> {
    let path = request
        .raw_path
        .as_deref()
        .or(request.request_context.http.path.as_deref())
        .unwrap_or("/");
    let uri = match request.raw_query_string.as_deref() {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    };
    let body = body(request)?;

    let mut http = Request::builder()
        .method(request.request_context.http.method.clone())
        .uri(uri)
        .body(Body::from(body))
        .map_err(|_| Reply::error(400, "Rekey.InvalidEvent", "the request's path is not a URI"))?;
    *http.headers_mut() = request.headers.clone();
    Ok(http)
}

fn body(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, Reply> {
    let too_large = || {
        let message = format!("the body is over the {MAX_REQUEST_BODY}-byte limit");
        Reply::error(413, "Rekey.PayloadTooLarge", message)
    };
    let Some(body) = request.body.as_deref() else {
        return Ok(Vec::new());
    };
    if !request.is_base64_encoded {
        return Ok(body.as_bytes().to_vec());
    }
    if body.len() / 4 * 3 > MAX_REQUEST_BODY {
        return Err(too_large());
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| Reply::error(400, "Rekey.InvalidEvent", "the body is not valid base64"))
}

async fn dispatch(router: Router, request: Request<Body>) -> ApiGatewayV2httpResponse {
    let Ok(response) = router.oneshot(request).await;
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };

    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    answer.body = Some(LambdaBody::Text(text));
    answer
}

fn reply_response(reply: &Reply) -> ApiGatewayV2httpResponse {
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(reply.status);
    answer.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer.body = Some(LambdaBody::Text(reply.body.to_string()));
    answer
}
