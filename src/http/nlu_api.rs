//! `POST /api/v1/nlu/parse`: the NLU's reading of a text, as JSON (same as `tanya nlu parse`).

use super::AppState;
use super::error::ApiError;
use crate::input::MAX_TEXT_CHARS;
use crate::nlu::Parse;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    text: String,
}

pub async fn parse(
    State(state): State<AppState>,
    body: Result<Json<ParseRequest>, JsonRejection>,
) -> Result<Json<Parse>, ApiError> {
    let Json(request) = body?;
    if request.text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::BadRequest(format!(
            "text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    if super::chat_api::has_control_characters(&request.text) {
        return Err(ApiError::BadRequest(
            "text contains control characters".into(),
        ));
    }
    Ok(Json(state.nlu.parse(&request.text)))
}
