//! `POST /api/v1/demo/reset` (demo mode only): forgets every member's limits and lockouts and
//! every in-memory rate limit, so that one live demo server can run a whole suite of
//! conversation files (Botium runs them one after another against one server, where one
//! file's lockout or spent look-ups would otherwise break the next). Production answers 404.

use super::AppState;
use super::error::ApiError;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::time::Duration;

/// How far ahead the reset sweeps: every bucket is full again and every lockout and wrong
/// code has expired by then (the longest limit period is an hour, a lockout 15 minutes).
const BEYOND_EVERY_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[derive(Debug, Serialize)]
pub struct ResetResponse {
    /// How many per-member records (limit buckets, standings) were forgotten.
    member_records: usize,
}

pub async fn reset(State(state): State<AppState>) -> Result<Json<ResetResponse>, ApiError> {
    // The demo outbox exists in demo mode only: it is the mode's marker, as for the outbox route.
    if state.outbox.is_none() {
        return Err(ApiError::NotFound);
    }
    // A sweep "far in the future" forgets exactly what a reset must: everything that still
    // restricts a member. It needs no store method of its own.
    let horizon = state.engine.clock().now().plus(BEYOND_EVERY_LIMIT);
    let member_records = state
        .guard
        .sweep(horizon)
        .await
        .map_err(|error| ApiError::Internal(error.into()))?;
    state.engine.limits().forget_all();
    tracing::info!(
        member_records,
        "demo reset: member limits and lockouts forgotten"
    );
    Ok(Json(ResetResponse { member_records }))
}
