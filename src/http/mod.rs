//! The HTTP shell: the router, shared state, and the server loop with graceful shutdown. The
//! routes: the chat and NLU API, the widget and demo page, the password page, the webhooks.

mod chat_api;
pub mod connections;
mod demo_api;
mod error;
mod guard;
mod nlu_api;
mod password_page;
mod web;

pub use error::ApiError;

use crate::engine::Engine;
use crate::input::MAX_BODY_BYTES;
use crate::nlu::Nlu;
use crate::outbox::DemoOutbox;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::set_header::SetResponseHeaderLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub nlu: Arc<Nlu>,
    pub engine: Arc<Engine>,
    /// Present in demo mode only; its route answers 404 otherwise.
    pub outbox: Option<Arc<dyn DemoOutbox>>,
    pub store: Arc<dyn crate::store::SessionStore>,
    /// Members' limits and lockouts (for the demo reset route).
    pub guard: Arc<dyn crate::store::MemberGuardStore>,
    /// Origins whose pages may call the API (`TANYA_CORS_ORIGINS`); empty: CORS off.
    pub cors_origins: Arc<[String]>,
    /// The messaging channels' webhooks (their routes answer 404 when not configured).
    pub channels: Arc<crate::channels::Channels>,
    /// The header a trusted proxy puts the client's address in (`TANYA_CLIENT_IP_HEADER`).
    pub client_ip_header: Option<HeaderName>,
    /// How long a request may take (`TANYA_REQUEST_TIMEOUT_MS`).
    pub request_timeout: Duration,
}

/// The full router.
pub fn router(state: AppState) -> Router {
    let cors_origins = state.cors_origins.clone();
    let metrics = state.engine.metrics().clone();
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(guard::metrics))
        .route("/api/v1/nlu/parse", post(nlu_api::parse))
        .route("/api/v1/chat", post(chat_api::chat))
        .route("/api/v1/chat/{session_id}/history", get(chat_api::history))
        .route("/api/v1/demo/outbox", get(chat_api::demo_outbox))
        .route("/api/v1/demo/reset", post(demo_api::reset))
        .merge(web::routes())
        .merge(password_page::routes())
        .merge(
            crate::channels::router(state.channels.clone())
                .layer(from_fn_with_state(metrics, guard::count_webhook_refusals)),
        )
        // After every route: applies to the routes added so far.
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(from_fn_with_state(state.clone(), guard::client_ip_limit))
        .layer(from_fn_with_state(state.request_timeout, guard::timeout))
        // Outermost, so that refusals (429, the timeout's 503) get it too: chat answers,
        // histories and errors carry what members typed and what the bot answered, and no
        // browser or proxy cache may keep them (SPEC §6). Only the widget's files and the
        // demo page set a policy of their own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state);
    web::with_cors(router, &cors_origins)
}

/// 200 when the session store answers, 503 otherwise.
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    // A point read of a key that never exists: touches the store without scanning it.
    let key = crate::store::SessionKey::new("health", "probe").expect("a valid key");
    match state.store.load(&key).await {
        Ok(_) => (axum::http::StatusCode::OK, "ok"),
        _ => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "store unavailable",
        ),
    }
}

/// How many connections may wait to be accepted. tokio's `TcpListener::bind` asks for 128
/// (the standard library's value): when more members connect at once (clients reconnecting
/// after a restart; 200 simulated members in the load benchmark), Linux drops the rest of
/// the handshakes and the clients retry only after a second. The kernel caps this at
/// `net.core.somaxconn` (4096 by default on current kernels).
pub const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `address` with a backlog of `LISTEN_BACKLOG`.
pub fn listen(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted server can bind while old connections of
    // the previous one are in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `router` on `listener` until `shutdown` completes (`shutdown_signal` for the server:
/// Ctrl-C or SIGTERM); then stops accepting connections and returns once the requests in
/// flight are answered (each bounded by the request timeout). Connections are bounded and
/// timed by `limits` (see `connections`). The caller makes the database durable after that.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: crate::config::ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    connections::serve(listener, router, limits, shutdown).await
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// More simultaneous connections than tokio's default backlog of 128, none accepted yet:
    /// each handshake must still complete at once instead of after the kernel's 1-second
    /// retry.
    #[tokio::test]
    async fn a_burst_of_connections_larger_than_the_default_backlog_is_not_dropped() {
        const BURST: usize = 300;
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|value| value.trim().parse::<usize>().ok());
        if somaxconn.is_some_and(|limit| limit < BURST) {
            eprintln!("skipped: net.core.somaxconn {somaxconn:?} caps the backlog below {BURST}");
            return;
        }
        let listener = listen("127.0.0.1:0".parse().expect("address")).expect("listen");
        let address = listener.local_addr().expect("address");
        let connected = tokio::task::spawn_blocking(move || {
            (0..BURST)
                .map(|_| std::net::TcpStream::connect_timeout(&address, Duration::from_millis(700)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .expect("connecting thread");
        let streams = connected.expect("every connection completes without a retry");
        assert_eq!(streams.len(), BURST);
        drop(listener);
    }
}
