//! The HTTP shell: the router, shared state, and the server loop with graceful shutdown.

mod chat_api;
mod error;
mod guard;
mod nlu_api;
mod web;

pub use error::ApiError;

use crate::app::App;
use crate::engine::Engine;
use crate::nlu::Nlu;
use crate::outbox::DemoOutbox;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body accepted (SPEC §6).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest message text accepted (SPEC §6).
pub const MAX_TEXT_CHARS: usize = 2000;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub nlu: Arc<Nlu>,
    pub engine: Arc<Engine>,
    /// Present in demo mode only; its route answers 404 otherwise.
    pub outbox: Option<Arc<dyn DemoOutbox>>,
    pub store: Arc<dyn crate::store::SessionStore>,
    /// Origins whose pages may call the API (`TANYA_CORS_ORIGINS`); empty: CORS off.
    pub cors_origins: Arc<[String]>,
    /// The messaging channels' webhooks (their routes answer 404 when not configured).
    pub channels: Arc<crate::channels::Channels>,
    /// The header a trusted proxy puts the client's address in (`TANYA_CLIENT_IP_HEADER`).
    pub client_ip_header: Option<HeaderName>,
    /// How long a request may take (`TANYA_REQUEST_TIMEOUT_MS`).
    pub request_timeout: Duration,
}

impl AppState {
    pub fn new(app: &App) -> AppState {
        AppState {
            nlu: app.nlu.clone(),
            engine: app.engine.clone(),
            outbox: app.outbox.clone(),
            store: app.store.clone(),
            cors_origins: app.config.cors_origins.clone().into(),
            channels: app.channels.clone(),
            client_ip_header: app
                .config
                .client_ip_header
                .as_deref()
                .and_then(|name| HeaderName::try_from(name).ok()),
            request_timeout: app.config.request_timeout,
        }
    }
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
        .merge(web::routes())
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
        .with_state(state);
    web::with_cors(router, &cors_origins)
}

/// 200 when the session store answers, 503 otherwise.
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    let store = state.store.clone();
    // A point read of a key that never exists: touches the store without scanning it.
    let probe = move || {
        let key = crate::store::SessionKey::new("health", "probe").expect("a valid key");
        store.load(&key)
    };
    match tokio::task::spawn_blocking(probe).await {
        Ok(Ok(_)) => (axum::http::StatusCode::OK, "ok"),
        _ => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "store unavailable",
        ),
    }
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM; then stops accepting connections
/// and returns once the requests in flight are answered (each bounded by the request timeout).
/// The caller makes the database durable after that.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    // Connection info gives the per-client-IP limit the peer's address.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
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
