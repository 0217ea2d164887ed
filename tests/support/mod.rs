//! Shared by the hardening tests (hostile input, limits, connections, log privacy): the real
//! application on sled in a temporary directory, served on `127.0.0.1:0` by the server loop
//! of `tanya serve` (connection info for the per-client-IP limit, timeouts, the cap).
#![allow(dead_code)]

pub mod directory;
pub mod node;
pub mod postgres;
pub mod process;
pub mod scripted;
pub mod sms_gateway;
pub mod smtp;

use serde_json::{Value, json};
use std::net::SocketAddr;
use tanya::app::App;
use tanya::config::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The application on an ephemeral port.
pub struct Server {
    pub base: String,
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// The data directory, when the server made its own.
    _dir: Option<tempfile::TempDir>,
}

/// A configuration on `data_dir` with the repository's `intents/` and the given settings.
pub fn config(data_dir: &str, settings: &[(&str, &str)]) -> Config {
    let intents_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/intents").to_string();
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let data_dir = data_dir.to_string();
    Config::from_lookup(move |name| match name {
        "TANYA_DATA_DIR" => Some(data_dir.clone()),
        "TANYA_INTENTS_DIR" => Some(intents_dir.clone()),
        _ => settings
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone()),
    })
    .expect("test config")
}

impl Server {
    /// Builds the app with `settings` (`TANYA_*` names) on a fresh data directory and serves it.
    pub async fn start(settings: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Server::start_in(dir.path(), settings).await;
        server._dir = Some(dir);
        server
    }

    /// Builds the app on the data directory `dir` (kept by the caller, for restarts) and
    /// serves it.
    pub async fn start_in(dir: &std::path::Path, settings: &[(&str, &str)]) -> Server {
        let config = || config(dir.to_str().expect("utf-8 path"), settings);
        // After a restart in this process, sled's background thread may hold the directory's
        // lock a moment after the last handle was dropped: retry opening for a few seconds.
        let mut attempts = 0;
        let app = loop {
            match App::build(config()).await {
                Err(tanya::app::BuildError::Open(tanya::store::OpenError::Database(_)))
                    if attempts < 100 =>
                {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                built => break built.expect("app builds"),
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let address = listener.local_addr().expect("local address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let router = app.router();
        let limits = app.config.connections;
        let task = tokio::spawn(tanya::http::serve(listener, router, limits, async move {
            let _ = stop.await;
        }));
        Server {
            base: format!("http://{address}"),
            address,
            // A fresh connection per request: after refusing an oversized body the server may
            // close a connection, which a pooled client could otherwise try to reuse.
            client: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
            app,
            shutdown: Some(shutdown),
            task: Some(task),
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One chat message that must succeed: the answer's JSON.
    pub async fn chat(&self, session: Option<&str>, text: &str) -> Value {
        let mut body = json!({ "text": text });
        if let Some(session) = session {
            body["session_id"] = json!(session);
        }
        self.chat_json(body).await
    }

    /// One button press that must succeed.
    pub async fn press(&self, session: &str, payload: &str) -> Value {
        self.chat_json(json!({ "session_id": session, "payload": payload }))
            .await
    }

    async fn chat_json(&self, body: Value) -> Value {
        let response = self
            .client
            .post(self.url("/api/v1/chat"))
            .json(&body)
            .send()
            .await
            .expect("chat request");
        let status = response.status();
        let answer: Value = response.json().await.expect("JSON answer");
        assert_eq!(status, 200, "{body} → {answer}");
        answer
    }

    /// The messages the demo outbox holds for `session`, oldest first.
    pub async fn outbox(&self, session: &str) -> Vec<Value> {
        let outbox: Value = self
            .client
            .get(self.url(&format!("/api/v1/demo/outbox?session_id={session}")))
            .send()
            .await
            .expect("outbox request")
            .json()
            .await
            .expect("outbox JSON");
        outbox["messages"].as_array().cloned().unwrap_or_default()
    }

    /// The newest code the demo outbox holds for `session`.
    pub async fn last_code(&self, session: &str) -> String {
        self.outbox(session)
            .await
            .last()
            .and_then(|m| m["code"].as_str())
            .expect("a code in the outbox")
            .to_string()
    }

    /// Stops serving and waits for the requests in flight.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }
}

/// The response keys of a chat answer, in order.
pub fn keys(answer: &Value) -> Vec<String> {
    answer["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| m["key"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The answer's session id.
pub fn session(answer: &Value) -> String {
    answer["session_id"]
        .as_str()
        .expect("a session id")
        .to_string()
}
