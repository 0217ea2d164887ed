//! The one HTTP error type: each variant maps to a status and a stable `code`, rendered as
//! `{"error": {"code", "message"}}`. Messages are written for API users and never carry
//! internals or personal data; the cause is logged once, here.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not the JSON the route expects (syntax or shape).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The body is not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// The caller sends too much, too fast; answered with `Retry-After`.
    #[error("too many requests, slow down")]
    RateLimited { retry_after: std::time::Duration },
    /// The request took longer than the server allows (`TANYA_REQUEST_TIMEOUT_MS`).
    #[error("the request took too long; try again")]
    Timeout,
    /// `TANYA_CLIENT_IP_HEADER` is configured but the request does not carry a usable address
    /// in it, so the per-client limit cannot be applied: refused rather than let through.
    #[error("the request did not come through the configured proxy: no client address")]
    ClientAddressUnknown,
    /// The route does not exist (or is disabled in this mode).
    #[error("not found")]
    NotFound,
    /// The route exists, but not for this HTTP method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Something on our side failed; details are in the log, not the response.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::ClientAddressUnknown => (StatusCode::BAD_REQUEST, "client_address_unknown"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        }
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after } = self {
            let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(ref e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::BadRequest("the body is not valid JSON".into())
            }
            JsonRejection::JsonDataError(e) => ApiError::BadRequest(format!(
                "the JSON does not have the expected fields: {}",
                e.body_text().trim_start_matches(
                    "Failed to deserialize the JSON body into the target type: "
                )
            )),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}
