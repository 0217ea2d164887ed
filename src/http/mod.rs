//! The HTTP shell: the router, shared state, and the server loop with graceful shutdown.

mod error;
mod nlu_api;

pub use error::ApiError;

use crate::nlu::Nlu;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;

/// Largest request body accepted (SPEC §6).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest message text accepted (SPEC §6).
pub const MAX_TEXT_CHARS: usize = 2000;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub nlu: Arc<Nlu>,
}

/// The full router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/nlu/parse", post(nlu_api::parse))
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router)
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
