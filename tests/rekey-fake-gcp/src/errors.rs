//! Google's error shape: `{"error": {"code", "message", "status"}}`, the
//! HTTP status and the canonical code name always agreeing, as the REST
//! references describe them.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One failed call, as the fake answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status (404, 409, …).
    pub code: u16,
    /// The canonical code name (`NOT_FOUND`, `ABORTED`, …).
    pub status: &'static str,
    /// The developer-facing message.
    pub message: String,
}

impl ApiError {
    fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
        }
    }

    /// 400 `INVALID_ARGUMENT`: a malformed request.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_ARGUMENT", message)
    }

    /// 400 `FAILED_PRECONDITION`: the resource is in the wrong state.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(400, "FAILED_PRECONDITION", message)
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NOT_FOUND", message)
    }

    /// 409 `ALREADY_EXISTS`.
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(409, "ALREADY_EXISTS", message)
    }

    /// The error an injected fault answers with: 400 (`FAILED_PRECONDITION`,
    /// as a stale etag), 401, 403, 409 (`ABORTED`, a concurrency conflict),
    /// 429, 503 or 504 by their canonical names, anything else as 500
    /// `INTERNAL`.
    pub fn injected(code: u16) -> Self {
        let status = match code {
            400 => "FAILED_PRECONDITION",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            _ => "INTERNAL",
        };
        let code = if status == "INTERNAL" { 500 } else { code };
        Self::new(code, status, format!("injected fault: {status}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "error": {"code": self.code, "message": self.message, "status": self.status}
        });
        (status, Json(body)).into_response()
    }
}
