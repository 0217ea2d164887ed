//! The web chat API (SPEC §7): `POST /api/v1/chat`, the transcript for the widget
//! (`GET /api/v1/chat/{session_id}/history`) and, in demo mode, the demo outbox.

use super::AppState;
use super::error::ApiError;
use crate::dialog::state::{Expects, StateName};
use crate::engine::HistoryEntry;
use crate::engine::{IncomingMessage, Input, OutgoingMessage};
use crate::input::MAX_CLIENT_MESSAGE_ID_CHARS;
use crate::input::MAX_TEXT_CHARS;
use crate::metrics::RateLimitScope;
use crate::nlu::IntentScore;
use crate::outbox::OutboxEntry;
use crate::store::SessionKey;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

/// Web session keys are `web:` + the session id (see `new_session_id`).
const WEB_CHANNEL: &str = "web";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    session_id: Option<String>,
    text: Option<String>,
    payload: Option<String>,
    /// The client's id for this message: a retry with the same id gets the same answer.
    client_message_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ChatResponse {
    session_id: String,
    messages: Vec<OutgoingMessage>,
    intent: Option<IntentScore>,
    state: StateName,
    /// The input the next message needs (`text`, `code`, `password`), so clients never
    /// derive it from state names.
    expects: Expects,
}

pub async fn chat(
    State(state): State<AppState>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Json<ChatResponse>, ApiError> {
    let Json(request) = body?;
    if let Some(id) = &request.client_message_id {
        check_client_message_id(id)?;
    }
    let input = match (request.text, request.payload) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "send either text or payload, not both".into(),
            ));
        }
        (None, None) => return Err(ApiError::BadRequest("text or payload is required".into())),
        (Some(text), None) => {
            if text.trim().is_empty() {
                return Err(ApiError::BadRequest("text is empty".into()));
            }
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(ApiError::BadRequest(format!(
                    "text is longer than {MAX_TEXT_CHARS} characters"
                )));
            }
            if has_control_characters(&text) {
                return Err(ApiError::BadRequest(
                    "text contains control characters".into(),
                ));
            }
            Input::Text(text)
        }
        (None, Some(payload)) => {
            if payload.trim().is_empty() || payload.chars().count() > MAX_TEXT_CHARS {
                return Err(ApiError::BadRequest("payload is empty or too long".into()));
            }
            if has_control_characters(&payload) {
                return Err(ApiError::BadRequest(
                    "payload contains control characters".into(),
                ));
            }
            Input::Payload(payload)
        }
    };
    // A known session goes on; an unknown, malformed or absent id gets a new server-issued
    // session (SPEC §6). One store read: the engine checks existence under the session lock.
    let existing = match request.session_id.filter(|id| is_web_session_id(id)) {
        Some(id) => {
            if let Err(refused) = state.engine.limits().web_session(&id) {
                state
                    .engine
                    .metrics()
                    .rate_limited(RateLimitScope::WebSession);
                return Err(ApiError::RateLimited {
                    retry_after: refused.retry_after,
                });
            }
            let incoming = IncomingMessage {
                session: web_key(&id)?,
                input: input.clone(),
                client_message_id: request.client_message_id.clone(),
            };
            let result = state
                .engine
                .handle_if_exists(incoming)
                .await
                .map_err(internal)?;
            result.map(|result| (id, result))
        }
        None => None,
    };
    let (session_id, result) = match existing {
        Some(existing) => existing,
        None => {
            let id = new_session_id();
            // A new session holds no earlier message the id could repeat.
            let incoming = IncomingMessage {
                session: web_key(&id)?,
                input,
                client_message_id: request.client_message_id,
            };
            let result = state.engine.handle(incoming).await.map_err(internal)?;
            (id, result)
        }
    };
    Ok(Json(ChatResponse {
        session_id,
        messages: result.messages,
        intent: result.intent,
        state: result.state,
        expects: result.expects,
    }))
}

/// A `client_message_id` is 1 to 64 characters without control characters (SPEC §7).
fn check_client_message_id(id: &str) -> Result<(), ApiError> {
    let length = id.chars().count();
    if length == 0 || length > MAX_CLIENT_MESSAGE_ID_CHARS {
        return Err(ApiError::BadRequest(format!(
            "client_message_id must be 1 to {MAX_CLIENT_MESSAGE_ID_CHARS} characters"
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "client_message_id contains control characters".into(),
        ));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct HistoryResponse {
    session_id: String,
    messages: Vec<HistoryEntry>,
    /// The state the next message meets.
    state: StateName,
    /// The input the next message needs, as in the chat response.
    expects: Expects,
}

pub async fn history(
    State(state): State<AppState>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<HistoryResponse>, ApiError> {
    // An id that does not even decode (`%FF`) is as unknown as any other.
    let Ok(Path(session_id)) = path else {
        return Err(ApiError::NotFound);
    };
    if !is_web_session_id(&session_id) {
        return Err(ApiError::NotFound);
    }
    let messages = state
        .engine
        .history(&web_key(&session_id)?)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound)?;
    let key = web_key(&session_id)?;
    let (state_name, expects) = state
        .engine
        .current_state(&key)
        .await
        .map_err(internal)?
        .unwrap_or((StateName::Idle, Expects::Text));
    Ok(Json(HistoryResponse {
        session_id,
        messages,
        state: state_name,
        expects,
    }))
}

#[derive(Debug, Deserialize)]
pub struct OutboxQuery {
    session_id: String,
}

#[derive(Debug, Serialize)]
pub struct OutboxResponse {
    session_id: String,
    messages: Vec<OutboxEntry>,
}

pub async fn demo_outbox(
    State(state): State<AppState>,
    query: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OutboxResponse>, ApiError> {
    let outbox = state.outbox.as_ref().ok_or(ApiError::NotFound)?;
    let Query(query) = query
        .map_err(|_| ApiError::BadRequest("the session_id query parameter is required".into()))?;
    let messages = if is_web_session_id(&query.session_id) {
        outbox
            .entries(&web_key(&query.session_id)?)
            .await
            .map_err(|e| internal(e.into()))?
    } else {
        Vec::new()
    };
    Ok(Json(OutboxResponse {
        session_id: query.session_id,
        messages,
    }))
}

/// NUL and the other control characters no keyboard types (line breaks and tabs are fine).
pub(super) fn has_control_characters(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

fn internal(error: crate::engine::EngineError) -> ApiError {
    ApiError::Internal(error.into())
}

fn web_key(id: &str) -> Result<SessionKey, ApiError> {
    SessionKey::new(WEB_CHANNEL, id).map_err(|_| ApiError::BadRequest("invalid session_id".into()))
}

/// Hex digits in a web session id: 8 of creation time, 32 of randomness.
const SESSION_ID_LEN: usize = 40;

fn is_web_session_id(id: &str) -> bool {
    id.len() == SESSION_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A new web session id: the creation second (32 bits) then 128 random bits, in lower-case
/// hex. The random part alone is the secret (SPEC §6: 128-bit random). The time prefix makes
/// new sessions sort together in the store, so the pages that take a turn's writes stay in
/// the cache however many older sessions are stored: with purely random ids, every new
/// session landed on a random page and turns cost 70 % more CPU with a million stored
/// sessions than with a thousand (README, "Benchmarks").
fn new_session_id() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let random: u128 = rand::random();
    format!("{:08x}{random:032x}", seconds as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_session_ids_are_lower_hex_distinct_and_sort_by_creation() {
        let a = new_session_id();
        assert!(is_web_session_id(&a), "{a}");
        let b = new_session_id();
        assert_ne!(a, b);
        assert!(a[..8] <= b[..8], "the time prefix never goes back: {a} {b}");
        assert_ne!(a[8..], b[8..], "the random parts differ");
        assert!(!is_web_session_id("../../etc/passwd"));
        assert!(!is_web_session_id(&a.to_uppercase()));
    }
}
