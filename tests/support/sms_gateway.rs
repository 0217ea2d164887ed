//! A mock SMS gateway for the code-delivery tests, served in the test process on 127.0.0.1:0:
//! `POST` on any path with `Authorization: Bearer <token>` and `{"to","text"}` (SPEC §12,
//! `TANYA_SMS_URL`/`TANYA_SMS_TOKEN`); it records what it accepted, and can fail first.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The bearer token the gateway expects: a fake value.
pub const TOKEN: &str = "fake-sms-token-for-tests";

/// How the gateway answers well-formed, authorized requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsMode {
    /// `200` every time.
    Accept,
    /// `503` to the first `n` requests, then `200`: a gateway that recovers, for retries.
    FailThenAccept(usize),
}

/// One message the gateway accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub to: String,
    pub text: String,
}

#[derive(Default)]
struct Record {
    attempts: usize,
    failures_left: usize,
    accepted: Vec<Sms>,
}

/// The gateway; dropping it stops serving.
pub struct SmsGateway {
    port: u16,
    record: Arc<Mutex<Record>>,
    task: JoinHandle<()>,
}

impl SmsGateway {
    /// Serves the gateway on a free port of 127.0.0.1 (inside the current tokio runtime).
    pub async fn start(mode: SmsMode) -> SmsGateway {
        let failures_left = match mode {
            SmsMode::Accept => 0,
            SmsMode::FailThenAccept(n) => n,
        };
        let record = Arc::new(Mutex::new(Record {
            failures_left,
            ..Record::default()
        }));
        let router = Router::new().fallback(receive).with_state(record.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let port = listener.local_addr().expect("local address").port();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the gateway serves");
        });
        SmsGateway { port, record, task }
    }

    /// `http://127.0.0.1:PORT/` (`TANYA_SMS_URL`; any path is accepted).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The bearer token it expects (`TANYA_SMS_TOKEN`).
    pub fn token(&self) -> &'static str {
        TOKEN
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Sms> {
        self.record().accepted.clone()
    }

    /// Every request received so far, whatever the answer (401, 400, 503 or 200).
    pub fn attempts(&self) -> usize {
        self.record().attempts
    }

    /// Waits until at least `count` messages were accepted; panics after `within`.
    pub async fn wait_for_messages(&self, count: usize, within: Duration) -> Vec<Sms> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{count} SMS expected within {within:?}, {} arrived",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SmsGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Any request: the token is checked first, then the body, then the mode decides.
async fn receive(
    State(record): State<Arc<Mutex<Record>>>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = record.lock().unwrap_or_else(PoisonError::into_inner);
    record.attempts += 1;
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        == Some(format!("Bearer {TOKEN}").as_str());
    if !authorized {
        return (StatusCode::UNAUTHORIZED, "a valid bearer token is required").into_response();
    }
    if method != axum::http::Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let message: Option<Sms> = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| {
            Some(Sms {
                to: body["to"].as_str()?.to_string(),
                text: body["text"].as_str()?.to_string(),
            })
        });
    let Some(message) = message else {
        return (StatusCode::BAD_REQUEST, "expected {\"to\",\"text\"}").into_response();
    };
    if record.failures_left > 0 {
        record.failures_left -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response();
    }
    record.accepted.push(message);
    let id = record.accepted.len();
    axum::Json(json!({ "id": id.to_string(), "status": "queued" })).into_response()
}
