//! HTTP answers: a status, a JSON body and, rarely, headers; and reading a
//! request body within a size limit.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode, header};
use rekey_core::{EngineError, ErrorClass};
use serde::Serialize;
use serde_json::{Value, json};

/// An HTTP answer with a JSON body. Error bodies are
/// `{"errorType", "errorMessage"}`, the Lambda error document; no body
/// ever holds a secret value or repeats the request.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Reply {
    /// A reply with `status` and `body`.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// `answer` as JSON with `status`; a 500 if it does not encode.
    pub fn answer(status: u16, answer: &impl Serialize) -> Self {
        match serde_json::to_value(answer) {
            Ok(body) => Self::json(status, body),
            Err(_) => Self::error(500, "Rekey.Internal", "failed to encode the answer"),
        }
    }

    /// An error reply; `message` must not hold a secret value.
    pub fn error(status: u16, error_type: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::json(
            status,
            json!({"errorType": error_type, "errorMessage": message}),
        )
    }

    /// The reply for an engine failure: 503 when trying again may help
    /// (the sender's retry is the recovery), 500 otherwise.
    pub fn engine_error(error: &EngineError) -> Self {
        let status = match error.class() {
            ErrorClass::Retryable | ErrorClass::Conflict => 503,
            _ => 500,
        };
        Self::error(
            status,
            &format!("Rekey.{}", error.class().as_str()),
            error.to_string(),
        )
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// Reads `request`'s body, refusing with 413 one over `limit` bytes by its
/// declared `Content-Length` (before reading anything) or as it is read.
pub async fn read_body(request: Request, limit: usize) -> Result<(Parts, Bytes), Reply> {
    let (parts, body) = request.into_parts();
    let too_large = || {
        Reply::error(
            413,
            "Rekey.PayloadTooLarge",
            format!("the body is over the {limit}-byte limit"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }

    let bytes = axum::body::to_bytes(Body::new(body), limit)
        .await
        .map_err(|_| too_large())?;
    Ok((parts, bytes))
}

/// The value of header `name` as text, if present and visible ASCII.
pub fn header_text<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
