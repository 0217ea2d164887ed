//! What wraps the routes: the per-client-IP rate limit on the API, the request timeout,
//! counting webhook calls refused for their signature, and `GET /metrics`.

use super::AppState;
use super::error::ApiError;
use crate::metrics::{Channel, Metrics, RateLimitScope};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Refuses `/api/…` requests beyond the client's rate. Requests whose address is unknown (a
/// router served without connection info, as some tests do) are not limited here; but when a
/// proxy header is configured, a request without a usable address in it is refused, never let
/// through unlimited (it did not come through the proxy, or the proxy is misconfigured).
pub async fn client_ip_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/api/") {
        let ip = match client_ip(&request, state.client_ip_header.as_ref()) {
            Ok(ip) => ip,
            Err(refusal) => {
                state
                    .engine
                    .metrics()
                    .rate_limited(RateLimitScope::ClientIpUnknown);
                return refusal.into_response();
            }
        };
        if let Some(ip) = ip
            && let Err(refused) = state.engine.limits().client_ip(ip)
        {
            state
                .engine
                .metrics()
                .rate_limited(RateLimitScope::ClientIp);
            return ApiError::RateLimited {
                retry_after: refused.retry_after,
            }
            .into_response();
        }
    }
    next.run(request).await
}

/// The client's address: the configured proxy header's last address (the one the trusted
/// proxy appended), or the TCP peer. With a proxy header configured, its absence (or an
/// unparseable value) is an error: the limit fails closed.
fn client_ip(
    request: &Request,
    proxy_header: Option<&HeaderName>,
) -> Result<Option<IpAddr>, ApiError> {
    if let Some(name) = proxy_header {
        return forwarded_ip(request.headers(), name)
            .map(Some)
            .ok_or(ApiError::ClientAddressUnknown);
    }
    Ok(request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip()))
}

/// The last entry of the header, which the trusted proxy appended. Only that one counts: an
/// entry the client wrote itself before it must not be taken instead when the last one does
/// not parse.
fn forwarded_ip(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let last = headers.get_all(name).iter().next_back()?;
    let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
    // Some proxies write the client's port too (`203.0.113.9:51234`, `[2001:db8::1]:443`).
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

/// Answers `503 {"error":{"code":"timeout",…}}` when a request takes longer than `limit`.
///
/// A JSON error like every other, which tower-http's `TimeoutLayer` (an empty 408) is not.
/// Dropping a turn part-way is safe: the engine saves nothing before its last step, so the
/// turn either happened whole or not at all.
pub async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Counts webhook calls refused for a missing or wrong signature or secret (401, or 403 from
/// WhatsApp's subscription handshake), by channel.
pub async fn count_webhook_refusals(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let channel = match request.uri().path() {
        "/webhooks/telegram" => Channel::Telegram,
        "/webhooks/whatsapp" => Channel::Whatsapp,
        "/webhooks/line" => Channel::Line,
        _ => return next.run(request).await,
    };
    let response = next.run(request).await;
    if matches!(
        response.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        metrics.webhook_verification_failed(channel);
    }
    response
}

/// `GET /metrics`: the OpenMetrics text format, which Prometheus reads.
pub async fn metrics(State(state): State<AppState>) -> Response {
    // The delivery outbox is small unless a platform is down: counting it is cheap.
    let pending = state.channels.pending_deliveries().await;
    state.engine.metrics().set_delivery_backlog(pending);
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.engine.metrics().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_last_forwarded_address_is_the_one_the_proxy_added() {
        let name = HeaderName::from_static("x-forwarded-for");
        let mut headers = HeaderMap::new();
        headers.append(&name, HeaderValue::from_static("203.0.113.9, 10.0.0.1"));
        headers.append(&name, HeaderValue::from_static("198.51.100.7"));
        assert_eq!(
            forwarded_ip(&headers, &name),
            Some("198.51.100.7".parse().unwrap())
        );
        let mut spoofed = HeaderMap::new();
        spoofed.append(&name, HeaderValue::from_static("not an address"));
        assert_eq!(forwarded_ip(&spoofed, &name), None);
    }

    #[test]
    fn an_unparseable_last_entry_is_no_address_even_after_a_valid_one() {
        let name = HeaderName::from_static("x-forwarded-for");
        let mut headers = HeaderMap::new();
        headers.append(&name, HeaderValue::from_static("203.0.113.9, garbage"));
        assert_eq!(forwarded_ip(&headers, &name), None);
        let mut headers = HeaderMap::new();
        headers.append(&name, HeaderValue::from_static("203.0.113.9"));
        headers.append(&name, HeaderValue::from_static(""));
        assert_eq!(forwarded_ip(&headers, &name), None);
        assert_eq!(forwarded_ip(&HeaderMap::new(), &name), None);
        let mut headers = HeaderMap::new();
        headers.append(&name, HeaderValue::from_static("[2001:db8::1]:443"));
        assert_eq!(
            forwarded_ip(&headers, &name),
            Some("2001:db8::1".parse().unwrap())
        );
    }
}
