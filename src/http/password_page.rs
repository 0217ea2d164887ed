//! The password page (SPEC §6, §12): `GET /password/{token}` shows the form for a new
//! password, `POST /password/{token}` (a form, urlencoded) checks it against the policy and
//! shows every rule it breaks, or stores it through the engine and pushes the chat's answer to
//! the member's messaging channel. A link that does not open gets one page, whatever the
//! reason, with what to do next.
//!
//! Every answer carries a strict policy: nothing but styles from tanya itself, no script at
//! all, the form posting only here, no framing; `Cache-Control: no-store` and no referrer,
//! so neither the token in the URL nor a page's content is kept or passed on. The token and the
//! password are never logged.

mod html;

use super::AppState;
use crate::channels::OutboundMessage;
use crate::engine::{Engine, PageAccess, PageEntry, PageOutcome};
use crate::security::page_token::PageToken;
use crate::security::password::SecretString;
use axum::Router;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use html::Refusal;
use serde::Deserialize;

/// The page's policy: its stylesheet (and icon) from tanya, nothing else; the form posts back
/// here only; no page may frame it (clickjacking a password form).
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The routes of the page (its stylesheet is one of `web`'s assets).
pub fn routes() -> Router<AppState> {
    Router::new().route("/password/{token}", get(show).post(submit))
}

/// The form as the browser sends it. A field left out is empty (and breaks the rules).
#[derive(Deserialize)]
struct Submitted {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `GET /password/{token}`.
async fn show(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let engine = &state.engine;
    let Some(token) = token_of(token) else {
        return gone(engine);
    };
    match engine.password_page(&token).await {
        Ok(PageAccess::Open) => page(StatusCode::OK, html::form(engine, None)),
        Ok(PageAccess::Gone) => gone(engine),
        Err(error) => {
            tracing::warn!(%error, "password page could not be shown");
            failed(engine, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `POST /password/{token}`.
async fn submit(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<Submitted>, FormRejection>,
) -> Response {
    let engine = &state.engine;
    let Some(token) = token_of(token) else {
        return gone(engine);
    };
    let submitted = match form {
        Ok(Form(submitted)) => submitted,
        // Not this page's form (another content type, too large): nothing is counted.
        Err(rejection) => return failed(engine, rejection.status()),
    };
    let entry = PageEntry {
        password: SecretString::from(submitted.new_password),
        confirmation: SecretString::from(submitted.confirm_password),
    };
    match engine.submit_password_page(&token, entry).await {
        Ok(PageOutcome::Done { session, messages }) => {
            let messages: Vec<OutboundMessage> = messages.into_iter().map(Into::into).collect();
            // The password is stored whatever the chat hears: a push that cannot be queued
            // is logged, and the page still says it worked (it did).
            if let Err(error) = state.channels.push(&session, &messages).await {
                tracing::warn!(session = %session.redacted(), %error, "the password page's confirmation could not be pushed");
            }
            page(StatusCode::OK, html::done(engine))
        }
        Ok(PageOutcome::Refused { broken, mismatch }) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            html::form(engine, Some(&Refusal { broken, mismatch })),
        ),
        Ok(PageOutcome::Gone) => gone(engine),
        // The engine logged the cause.
        Err(_) => failed(engine, StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// The token of the path, if it is one.
fn token_of(path: Result<Path<String>, PathRejection>) -> Option<PageToken> {
    path.ok().and_then(|Path(text)| PageToken::parse(&text))
}

/// One answer for every link that does not open: the same status and page whether the token
/// never existed, was used, expired or was withdrawn.
fn gone(engine: &Engine) -> Response {
    page(StatusCode::NOT_FOUND, html::gone(engine))
}

fn failed(engine: &Engine, status: StatusCode) -> Response {
    page(status, html::failed(engine))
}

/// An HTML answer with the page's headers.
fn page(status: StatusCode, body: String) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // For browsers that predate `frame-ancestors`.
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    (status, headers, body).into_response()
}
