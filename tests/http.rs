//! The HTTP API (SPEC §7) against the real application served on `127.0.0.1:0`: sled in a
//! temporary directory, the repository's `intents/`, and reqwest as the client.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use tanya::app::App;
use tanya::clock::Timestamp;
use tanya::config::Config;
use tanya::store::{SessionKey, StoredSession};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Full personal data of the demo members (SPEC §4): NIKs, KPJs, e-mails, phones. None of it
/// may appear in an answer before the member has entered a valid code.
const PERSONAL_DATA: &[&str] = &[
    "3174011203880001",
    "3273016508900002",
    "3578010107850003",
    "5171024403950004",
    "12345678901",
    "98765432109",
    "11122233344",
    "55566677788",
    "44455566677",
    "budi.santoso@example.com",
    "siti.aminah@example.com",
    "agus.wijaya@example.com",
    "081234567890",
    "085711112222",
    "081355556666",
];

/// The application on an ephemeral port, with a client and a way to stop it.
struct Server {
    base: String,
    client: reqwest::Client,
    app: App,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    /// While set, every chat and outbox answer is checked for unmasked personal data.
    guard_personal_data: AtomicBool,
}

fn config(data_dir: &Path) -> Config {
    let data_dir = data_dir.to_str().expect("utf-8 temp dir").to_string();
    let intents_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/intents").to_string();
    Config::from_lookup(|name| match name {
        "TANYA_DATA_DIR" => Some(data_dir.clone()),
        "TANYA_INTENTS_DIR" => Some(intents_dir.clone()),
        _ => None,
    })
    .expect("test config")
}

impl Server {
    /// Builds the app on sled in `data_dir` and serves it.
    async fn start(data_dir: &Path) -> Server {
        // After a restart in this process, sled's background thread may hold the directory's
        // lock a moment after the last handle was dropped: retry opening for a few seconds.
        let mut attempts = 0;
        let app = loop {
            match App::build(config(data_dir)).await {
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
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.await;
                })
                .await
        });
        Server {
            base: format!("http://{address}"),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            app,
            shutdown,
            task,
            guard_personal_data: AtomicBool::new(true),
        }
    }

    /// Stops the server and drops every handle on the application, so the sled database is
    /// closed when this returns.
    async fn stop(self) {
        let Server {
            client,
            app,
            shutdown,
            task,
            ..
        } = self;
        drop(client);
        shutdown.send(()).expect("server still running");
        task.await.expect("server task").expect("server ran");
        drop(app);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops checking answers for personal data (the member has entered a valid code).
    fn code_verified(&self) {
        self.guard_personal_data.store(false, Ordering::SeqCst);
    }

    fn check_personal_data(&self, body: &str) {
        if self.guard_personal_data.load(Ordering::SeqCst) {
            for value in PERSONAL_DATA {
                assert!(
                    !body.contains(value),
                    "an answer before code verification shows {value}: {body}"
                );
            }
        }
    }

    /// POSTs `body` to `path` as JSON; the status and the parsed body.
    async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// POSTs raw bytes with an optional content type.
    async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        read(request.send().await.expect("request")).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        read(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// One chat request that must succeed; checked for personal data while guarded.
    async fn chat(&self, request: Value) -> Value {
        let (status, body) = self.post_json("/api/v1/chat", &request).await;
        assert_eq!(status, StatusCode::OK, "{request} → {body}");
        self.check_personal_data(&body.to_string());
        body
    }

    /// Types `text` in session `id` (a new session when `None`).
    async fn say(&self, id: Option<&str>, text: &str) -> Value {
        let mut request = json!({ "text": text });
        if let Some(id) = id {
            request["session_id"] = json!(id);
        }
        self.chat(request).await
    }

    /// Presses the button with `payload` in session `id`.
    async fn press(&self, id: &str, payload: &str) -> Value {
        self.chat(json!({ "session_id": id, "payload": payload }))
            .await
    }

    /// The demo outbox of session `id`, newest last.
    async fn outbox(&self, id: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/api/v1/demo/outbox?session_id={id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.check_personal_data(&body.to_string());
        body["messages"].as_array().expect("messages").clone()
    }

    /// The last code sent to session `id`'s member.
    async fn last_code(&self, id: &str) -> String {
        let messages = self.outbox(id).await;
        let last = messages.last().expect("a code was sent");
        last["code"].as_str().expect("code").to_string()
    }
}

/// The status and JSON body of a response (a non-JSON body fails the test).
async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: the body is not JSON ({e}): {text:?}"));
    (status, body)
}

/// The response keys of a chat answer, in order.
fn keys(answer: &Value) -> Vec<String> {
    answer["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["key"].as_str().expect("key").to_string())
        .collect()
}

fn session_id(answer: &Value) -> String {
    answer["session_id"]
        .as_str()
        .expect("session_id")
        .to_string()
}

fn is_server_issued_id(id: &str) -> bool {
    id.len() == 40 && id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// Asserts the error answer: status, JSON `{"error": {"code", "message"}}` and its code.
fn assert_error(actual: (StatusCode, Value), status: StatusCode, code: &str) {
    let (actual_status, body) = actual;
    assert_eq!(actual_status, status, "{body}");
    assert_eq!(body["error"]["code"], json!(code), "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(!message.is_empty(), "{body}");
    assert_eq!(
        body.as_object().map(serde_json::Map::len),
        Some(1),
        "only `error`: {body}"
    );
}

#[tokio::test]
async fn healthz_answers_200_when_the_store_is_usable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let response = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn nlu_parse_returns_the_intent_the_ranking_and_the_entities() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let text = "lupa password jmo, email budi.santoso@example.com kpj 12345678901";
    let (status, body) = server
        .post_json("/api/v1/nlu/parse", &json!({ "text": text }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["text"], json!(text));
    assert_eq!(body["intent"]["name"], json!("forgot_password"), "{body}");
    let confidence = body["intent"]["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&confidence), "{body}");

    let ranking = body["ranking"].as_array().expect("ranking");
    assert!(!ranking.is_empty());
    let scores: Vec<f64> = ranking
        .iter()
        .map(|r| r["confidence"].as_f64().expect("confidence"))
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {body}"
    );
    assert!(ranking.iter().all(|r| r["name"].is_string()));

    let entities = body["entities"].as_array().expect("entities");
    let email = entities
        .iter()
        .find(|e| e["entity"] == json!("email"))
        .unwrap_or_else(|| panic!("an email entity: {body}"));
    assert_eq!(email["value"], json!("budi.santoso@example.com"));
    let (start, end) = (
        email["start"].as_u64().expect("start") as usize,
        email["end"].as_u64().expect("end") as usize,
    );
    let chars: String = text.chars().skip(start).take(end - start).collect();
    assert_eq!(
        chars, "budi.santoso@example.com",
        "start/end are char offsets"
    );
    assert!(
        entities
            .iter()
            .any(|e| e["entity"] == json!("kpj") && e["value"] == json!("12345678901")),
        "{body}"
    );

    assert_error(
        server
            .post_raw(
                "/api/v1/nlu/parse",
                Some("text/plain"),
                r#"{"text":"halo"}"#,
            )
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_error(
        server
            .post_json(
                "/api/v1/nlu/parse",
                &json!({ "text": "halo", "lang": "id" }),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        server
            .post_json("/api/v1/nlu/parse", &json!({ "text": "a".repeat(2001) }))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    server.stop().await;
}

#[tokio::test]
async fn a_member_resets_a_forgotten_password_over_the_chat_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;

    let answer = server.say(None, "saya lupa password jmo").await;
    let id = session_id(&answer);
    assert!(is_server_issued_id(&id), "{id}");
    assert_eq!(answer["intent"]["name"], json!("forgot_password"));
    assert_eq!(keys(&answer), ["ask_email_kpj"]);
    assert_eq!(answer["state"], json!("collect_email_kpj"));

    let answer = server
        .say(Some(&id), "budi.santoso@example.com 12345678901")
        .await;
    assert_eq!(session_id(&answer), id, "the session continues");
    assert_eq!(keys(&answer), ["otp_sent"]);
    assert_eq!(answer["state"], json!("await_code"));
    let sent = &answer["messages"][0]["text"];
    assert!(
        sent.as_str().expect("text").contains("b***@example.com"),
        "{sent}"
    );

    let outbox = server.outbox(&id).await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0]["channel"], json!("email"));
    assert_eq!(outbox[0]["to"], json!("b***@example.com"));
    let code = outbox[0]["code"].as_str().expect("code").to_string();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    assert!(outbox[0]["text"].as_str().expect("text").contains(&code));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let answer = server.say(Some(&id), wrong).await;
    assert_eq!(keys(&answer), ["otp_invalid"]);

    let answer = server.say(Some(&id), &code).await;
    assert_eq!(keys(&answer), ["ask_new_password"]);
    assert_eq!(answer["state"], json!("new_password"));
    server.code_verified();

    let answer = server.say(Some(&id), "lemah").await;
    assert_eq!(keys(&answer), ["password_weak"]);
    assert_eq!(
        answer["intent"],
        Value::Null,
        "a password is never reported"
    );
    assert!(!answer.to_string().contains("lemah"));

    let password = "Sandi#Baru2026";
    let answer = server.say(Some(&id), password).await;
    assert_eq!(keys(&answer), ["password_changed"]);
    assert_eq!(answer["state"], json!("idle"));
    assert_eq!(answer["intent"], Value::Null);
    assert!(!answer.to_string().contains(password));

    let (status, history) = server.get(&format!("/api/v1/chat/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["session_id"], json!(id));
    let lines = history["messages"].as_array().expect("messages");
    let user_lines: Vec<&str> = lines
        .iter()
        .filter(|l| l["from"] == json!("user"))
        .map(|l| l["text"].as_str().expect("text"))
        .collect();
    assert_eq!(
        user_lines,
        [
            "saya lupa password jmo",
            "b***@example.com 1234*****01",
            "******",
            "******",
            "••••",
            "••••",
        ]
    );
    let bot_keys: Vec<&str> = lines
        .iter()
        .filter(|l| l["from"] == json!("bot"))
        .map(|l| l["key"].as_str().expect("bot lines have keys"))
        .collect();
    assert_eq!(
        bot_keys,
        [
            "ask_email_kpj",
            "otp_sent",
            "otp_invalid",
            "ask_new_password",
            "password_weak",
            "password_changed",
        ]
    );
    let whole = history.to_string();
    assert!(
        !whole.contains(password) && !whole.contains("lemah"),
        "{whole}"
    );
    server.stop().await;
}

#[tokio::test]
async fn session_ids_are_issued_by_the_server_and_unknown_ones_start_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;

    let first = server.say(None, "lupa akun jmo").await;
    let id = session_id(&first);
    assert!(is_server_issued_id(&id), "{id}");
    assert_eq!(first["state"], json!("collect_kpj_nik"));

    let unknown = "6a0b1c2d0123456789abcdef0123456789abcdef";
    let malformed = [
        unknown,
        "6A0B1C2D0123456789ABCDEF0123456789ABCDEF",
        "../../etc/passwd",
        "abc",
        "",
        "web:6a0b1c2d0123456789abcdef0123456789abcdef",
        "6a0b1c2d0123456789abcdef0123456789abcdef\n",
    ];
    let mut seen = vec![id.clone()];
    for bad in malformed {
        let answer = server
            .chat(json!({ "session_id": bad, "text": "halo" }))
            .await;
        let issued = session_id(&answer);
        assert!(is_server_issued_id(&issued), "{bad:?} → {issued}");
        assert!(!seen.contains(&issued), "{bad:?} got a used id");
        assert_eq!(answer["state"], json!("idle"), "a new session for {bad:?}");
        assert_eq!(keys(&answer), ["greet"]);
        seen.push(issued);
    }

    // The first session is untouched and continues under its own id.
    let answer = server.say(Some(&id), "kpj 12345678901").await;
    assert_eq!(session_id(&answer), id);
    assert_eq!(keys(&answer), ["ask_nik"]);

    // A session id must be a string.
    assert_error(
        server
            .post_json("/api/v1/chat", &json!({ "session_id": 7, "text": "halo" }))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    server.stop().await;
}

#[tokio::test]
async fn history_hides_passwords_and_is_404_for_unknown_sessions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;

    let answer = server.say(None, "halo").await;
    let id = session_id(&answer);
    let answer = server.press(&id, "/forgot_account").await;
    assert_eq!(keys(&answer), ["ask_kpj_nik"]);

    let (status, history) = server.get(&format!("/api/v1/chat/{id}/history")).await;
    assert_eq!(status, StatusCode::OK);
    let lines = history["messages"].as_array().expect("messages");
    assert_eq!(lines.len(), 4, "{history}");
    assert_eq!(lines[0]["from"], json!("user"));
    assert_eq!(lines[0]["text"], json!("halo"));
    assert_eq!(lines[1]["key"], json!("greet"));
    assert!(!lines[1]["buttons"].as_array().expect("buttons").is_empty());
    assert_eq!(
        lines[2]["text"],
        json!("Lupa akun JMO"),
        "a pressed button shows its title"
    );
    assert_eq!(lines[3]["key"], json!("ask_kpj_nik"));

    for unknown in [
        "6a0b1c2d0123456789abcdef0123456789abcdef",
        "not-a-session",
        "6A0B1C2D0123456789ABCDEF0123456789ABCDEF",
    ] {
        assert_error(
            server.get(&format!("/api/v1/chat/{unknown}/history")).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn the_history_masks_what_the_member_typed_and_no_answer_may_be_cached() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let typed = [
        "email saya budi.santoso@example.com, hp +62 812-3456-7890",
        "nik saya 3174 0112 0388 00012",
        "1234567890123",
        "lupa akun, kpj 12345678901 nik 3174011203880001",
    ];
    let answer = server.say(None, typed[0]).await;
    let id = session_id(&answer);
    for text in &typed[1..] {
        server.say(Some(&id), text).await;
    }
    let answer = server.press(&id, "/otp_channel email").await;
    assert_eq!(keys(&answer), ["otp_sent"]);
    let code = server.last_code(&id).await;
    let answer = server.say(Some(&id), &format!("kodenya {code}")).await;
    assert!(
        !keys(&answer).contains(&"otp_invalid".to_string()),
        "{answer}"
    );
    server.code_verified();

    let history = server
        .client
        .get(server.url(&format!("/api/v1/chat/{id}/history")))
        .send()
        .await
        .expect("request");
    assert_eq!(history.headers()["cache-control"], "no-store");
    let history: Value = history.json().await.expect("JSON");
    let user_lines: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|l| l["from"] == json!("user"))
        .map(|l| l["text"].as_str().expect("text"))
        .collect();
    assert_eq!(
        user_lines,
        [
            "email saya b***@example.com, hp 0812****7890",
            "nik saya 3174******88 *****",
            "1234*******23",
            "lupa akun, kpj 1234*****01 nik 3174**********01",
            "E-mail b***@example.com",
            "kodenya ******",
        ]
    );
    let whole = history.to_string();
    for value in PERSONAL_DATA.iter().chain([&code.as_str()]) {
        assert!(!whole.contains(value), "the history shows {value}: {whole}");
    }

    // Chat answers, errors and the other API answers are never cached either; the widget's
    // own files keep their caching.
    for response in [
        server
            .client
            .post(server.url("/api/v1/chat"))
            .json(&json!({ "session_id": id, "text": "halo" })),
        server
            .client
            .post(server.url("/api/v1/chat"))
            .json(&json!({})),
        server
            .client
            .post(server.url("/api/v1/nlu/parse"))
            .json(&json!({ "text": "nik 3174011203880001" })),
        server
            .client
            .get(server.url(&format!("/api/v1/demo/outbox?session_id={id}"))),
    ] {
        let response = response.send().await.expect("request");
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{}",
            response.url()
        );
    }
    let widget = server
        .client
        .get(server.url("/widget/widget.js"))
        .send()
        .await
        .expect("request");
    assert_ne!(widget.headers()["cache-control"], "no-store");
    server.stop().await;
}

#[tokio::test]
async fn every_rejected_request_gets_a_json_error_with_its_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let chat = "/api/v1/chat";
    let server_ref = &server;
    let bad = move |body: Value| async move { server_ref.post_json(chat, &body).await };

    assert_error(
        server
            .post_raw(chat, Some("application/json"), r#"{"text": "halo""#)
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        server
            .post_raw(chat, Some("application/json"), "not json at all")
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        server
            .post_raw(chat, Some("application/json"), "[1, 2]")
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        server.post_raw(chat, Some("application/json"), "").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(bad(json!({})).await, StatusCode::BAD_REQUEST, "bad_request");
    assert_error(
        bad(json!({ "session_id": "6a0b1c2d0123456789abcdef0123456789abcdef" })).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        bad(json!({ "text": "halo", "payload": "/help" })).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    for payload in [String::new(), "   ".into(), "/".repeat(2001)] {
        assert_error(
            bad(json!({ "payload": payload })).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }
    // A lone surrogate is not a Unicode string.
    assert_error(
        server
            .post_raw(chat, Some("application/json"), r#"{"text":"\ud800"}"#)
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    for blank in ["", " ", "\n\t  ", "\u{3000}"] {
        assert_error(
            bad(json!({ "text": blank })).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }
    assert_error(
        bad(json!({ "text": "a".repeat(2001) })).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    // The limit counts characters, not bytes: 2000 emoji (8000 bytes) are fine.
    let (status, body) = bad(json!({ "text": "😀".repeat(2000) })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_error(
        bad(json!({ "text": "😀".repeat(2001) })).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        bad(json!({ "text": "halo", "lang": "id" })).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        bad(json!({ "text": 42 })).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        server
            .post_raw(chat, Some("text/plain"), r#"{"text":"halo"}"#)
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_error(
        server.post_raw(chat, None, r#"{"text":"halo"}"#).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let huge = format!(r#"{{"text":"{}"}}"#, "a".repeat(64 * 1024));
    assert_error(
        server.post_raw(chat, Some("application/json"), huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert_error(
        server.get("/no/such/route").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        server.post_json("/api/v1/unknown", &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        server.get("/api/v1/demo/outbox").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    // Errors never cost a session: the server still answers normally.
    let answer = server.say(None, "halo").await;
    assert_eq!(keys(&answer), ["greet"]);
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_is_a_json_405() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    assert_error(
        server.get("/api/v1/chat").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_error(
        server.post_json("/healthz", &json!({})).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let response = server
        .client
        .delete(server.url("/api/v1/chat"))
        .send()
        .await
        .expect("request");
    let allow = response.headers().get("allow").cloned();
    assert_error(
        read(response).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_eq!(allow.as_ref().and_then(|v| v.to_str().ok()), Some("POST"));
    server.stop().await;
}

#[tokio::test]
async fn a_button_payload_starts_its_flow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let answer = server.chat(json!({ "payload": "/forgot_account" })).await;
    assert!(is_server_issued_id(&session_id(&answer)));
    assert_eq!(answer["intent"]["name"], json!("forgot_account"));
    assert_eq!(answer["intent"]["confidence"], json!(1.0));
    assert_eq!(keys(&answer), ["ask_kpj_nik"]);
    assert_eq!(answer["state"], json!("collect_kpj_nik"));

    let id = session_id(&answer);
    let answer = server.press(&id, "/cancel").await;
    assert_eq!(keys(&answer), ["cancelled"]);
    assert_eq!(answer["state"], json!("idle"));
    server.stop().await;
}

#[tokio::test]
async fn emoji_right_to_left_and_zero_width_text_get_an_ordinary_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    // Emoji alone are an acknowledgement (SPEC §5.1); the rest is simply not understood.
    for text in ["😀😀😀", "🙏"] {
        let answer = server.say(None, text).await;
        assert_eq!(keys(&answer), ["acknowledged"], "{text:?}: {answer}");
    }
    for text in [
        "مرحبا كيف حالك",
        "שלום",
        "\u{200b}",
        "\u{200b}\u{200c}\u{200d}\u{feff}",
        "\u{202e}olah",
        "e\u{301}\u{301}\u{301}",
    ] {
        let answer = server.say(None, text).await;
        assert!(is_server_issued_id(&session_id(&answer)));
        assert_eq!(keys(&answer), ["fallback"], "{text:?}: {answer}");
        let message = &answer["messages"][0];
        assert!(!message["text"].as_str().expect("text").is_empty());
        assert!(!message["buttons"].as_array().expect("buttons").is_empty());
    }
    // Control characters no keyboard types (NUL, DEL) are refused with a clear 400.
    let (status, body) = server
        .post_json(
            "/api/v1/chat",
            &serde_json::json!({ "text": "\u{0}\u{1}\u{7f}" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");
    server.stop().await;
}

#[tokio::test]
async fn a_half_finished_flow_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let answer = server.say(None, "saya lupa akun jmo").await;
    let id = session_id(&answer);
    assert_eq!(keys(&answer), ["ask_kpj_nik"]);
    let answer = server
        .say(Some(&id), "kpj 12345678901 nik 3174011203880001")
        .await;
    assert_eq!(keys(&answer), ["ask_otp_channel"]);
    let buttons = answer["messages"][0]["buttons"]
        .as_array()
        .expect("buttons");
    let titles: Vec<&str> = buttons
        .iter()
        .map(|b| b["title"].as_str().expect("title"))
        .collect();
    assert!(
        titles.iter().any(|t| t.contains("0812****7890")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.contains("b***@example.com")),
        "{titles:?}"
    );
    let answer = server.press(&id, "/otp_channel sms").await;
    assert_eq!(keys(&answer), ["otp_sent"]);
    let code = server.last_code(&id).await;
    assert_eq!(server.outbox(&id).await[0]["to"], json!("0812****7890"));
    server.stop().await;

    let server = Server::start(dir.path()).await;
    assert_eq!(
        server.last_code(&id).await,
        code,
        "the outbox is kept on disk"
    );
    let answer = server.say(Some(&id), &code).await;
    assert_eq!(session_id(&answer), id, "the session is still known");
    assert_eq!(keys(&answer), ["ask_new_password"]);
    server.code_verified();
    let password = "Pulih#Akun2026";
    let answer = server.say(Some(&id), password).await;
    assert_eq!(keys(&answer), ["ask_password_confirm"]);
    server.stop().await;

    // A second restart between the two password entries.
    let server = Server::start(dir.path()).await;
    server.code_verified();
    let answer = server.say(Some(&id), password).await;
    assert_eq!(keys(&answer), ["account_recovered"]);
    assert_eq!(answer["state"], json!("idle"));
    let text = answer["messages"][0]["text"].as_str().expect("text");
    assert!(
        text.contains("budi.santoso@example.com"),
        "names the login: {text}"
    );
    assert!(!answer.to_string().contains(password));
    server.stop().await;
}

#[tokio::test]
async fn an_undecodable_session_record_starts_over_with_a_normal_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let answer = server.say(None, "lupa akun").await;
    let id = session_id(&answer);
    let key = SessionKey::new("web", &id).expect("key");
    server
        .app
        .store
        .save(
            &key,
            &StoredSession {
                updated_at: Timestamp(1),
                data: b"\xff\x00 not a session {".to_vec(),
            },
        )
        .await
        .expect("save garbage");

    let (status, history) = server.get(&format!("/api/v1/chat/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let answer = server.say(Some(&id), "halo").await;
    assert_eq!(session_id(&answer), id);
    assert_eq!(keys(&answer), ["greet"]);
    assert_eq!(answer["state"], json!("idle"));
    let answer = server.say(Some(&id), "kpj 12345678901").await;
    assert_eq!(answer["state"], json!("idle"), "the old flow is gone");
    server.stop().await;
}

#[tokio::test]
async fn a_truncated_session_record_starts_over_with_a_normal_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let answer = server.say(None, "lupa akun").await;
    let id = session_id(&answer);
    // Shorter than the record's timestamp: the store itself cannot decode it.
    let database = server.app.embedded.as_ref().expect("on disk");
    database
        .tree("sessions")
        .expect("sessions tree")
        .insert(format!("web:{id}"), &b"abc"[..])
        .expect("insert");

    let (status, history) = server.get(&format!("/api/v1/chat/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let answer = server.say(Some(&id), "halo").await;
    assert_eq!(session_id(&answer), id);
    assert_eq!(keys(&answer), ["greet"]);
    assert_eq!(answer["state"], json!("idle"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_messages_to_one_session_are_all_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let id = session_id(&server.say(None, "halo").await);
    let mut turns = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let request = server
            .client
            .post(server.url("/api/v1/chat"))
            .json(&json!({ "session_id": id, "text": "terima kasih" }));
        turns.spawn(async move { read(request.send().await.expect("request")).await });
    }
    while let Some(turn) = turns.join_next().await {
        let (status, answer) = turn.expect("task");
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(session_id(&answer), id);
        assert_eq!(keys(&answer), ["thanks"]);
    }
    let (status, history) = server.get(&format!("/api/v1/chat/{id}/history")).await;
    assert_eq!(status, StatusCode::OK);
    let lines = history["messages"].as_array().expect("messages");
    assert_eq!(lines.len(), 2 * 13, "no turn overwrote another: {history}");
    server.stop().await;
}

/// The member's lines in the history of session `id`.
async fn user_lines(server: &Server, id: &str) -> Vec<String> {
    let (status, history) = server.get(&format!("/api/v1/chat/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|l| l["from"] == json!("user"))
        .map(|l| l["text"].as_str().expect("text").to_string())
        .collect()
}

#[tokio::test]
async fn a_retried_password_turn_gets_the_first_answer_and_the_history_shows_it_once_as_dots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let answer = server.say(None, "lupa password").await;
    assert_eq!(answer["expects"], json!("text"));
    let id = session_id(&answer);
    let answer = server
        .say(Some(&id), "budi.santoso@example.com 12345678901")
        .await;
    assert_eq!(answer["expects"], json!("code"));
    let code = server.last_code(&id).await;
    let answer = server.say(Some(&id), &code).await;
    assert_eq!(keys(&answer), ["ask_new_password"]);
    assert_eq!(answer["expects"], json!("password"));
    server.code_verified();

    let password = "Sandi#Baru2026";
    let request = json!({ "session_id": id, "text": password, "client_message_id": "m-4" });
    let first = server.chat(request.clone()).await;
    assert_eq!(keys(&first), ["password_changed"]);
    assert_eq!(first["expects"], json!("text"));
    // The answer was lost on the way: the widget sends the same message again, and it meets
    // an idle session.
    let retried = server.chat(request).await;
    assert_eq!(retried, first, "the same answer, not a turn of its own");

    let lines = user_lines(&server, &id).await;
    assert_eq!(
        lines.iter().filter(|l| *l == "••••").count(),
        1,
        "{lines:?}"
    );
    assert_eq!(lines.len(), 4, "the retry is not in the history: {lines:?}");
    let (_, history) = server.get(&format!("/api/v1/chat/{id}/history")).await;
    assert!(!history.to_string().contains(password), "{history}");
    let stored = server
        .app
        .store
        .load(&SessionKey::new("web", &id).expect("key"))
        .await
        .expect("load")
        .expect("stored");
    assert!(
        !String::from_utf8_lossy(&stored.data).contains(password),
        "the session record never holds the password"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_message_sent_twice_with_one_id_is_processed_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let id = session_id(&server.say(None, "halo").await);
    let request = json!({ "session_id": id, "text": "lupa akun", "client_message_id": "a1" });
    let first = server.chat(request.clone()).await;
    assert_eq!(keys(&first), ["ask_kpj_nik"]);
    let other = json!({ "session_id": id, "text": "apa itu jmo", "client_message_id": "a2" });
    server.chat(other).await;
    assert_eq!(server.chat(request).await, first);
    assert_eq!(
        user_lines(&server, &id).await,
        ["halo", "lupa akun", "apa itu jmo"]
    );

    let too_long = "x".repeat(65);
    assert_error(
        server
            .post_json(
                "/api/v1/chat",
                &json!({ "session_id": id, "text": "halo", "client_message_id": too_long }),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let longest = "x".repeat(64);
    let answer = server
        .chat(json!({ "session_id": id, "text": "halo", "client_message_id": longest }))
        .await;
    assert_eq!(keys(&answer)[0], "greet");
    server.stop().await;
}

/// Every byte of every file under `dir`.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            bytes.extend(all_bytes(&path));
        } else {
            bytes.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    bytes
}

#[tokio::test]
async fn between_the_two_password_entries_no_fast_hash_of_the_password_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;
    let id = session_id(&server.say(None, "lupa akun").await);
    let answer = server
        .say(Some(&id), "kpj 12345678901 nik 3174011203880001")
        .await;
    assert_eq!(keys(&answer), ["ask_otp_channel"]);
    server.press(&id, "/otp_channel email").await;
    let code = server.last_code(&id).await;
    assert_eq!(
        keys(&server.say(Some(&id), &code).await),
        ["ask_new_password"]
    );
    server.code_verified();
    let password = "Rahasia#Baru2026";
    let answer = server.say(Some(&id), password).await;
    assert_eq!(keys(&answer), ["ask_password_confirm"]);
    server.app.durability.make_durable().await.expect("flushed");

    let key = tanya::security::otp::ServerKey::load_or_create(dir.path()).expect("server key");
    // What the session kept before: HMAC-SHA256 of the password under the server key.
    let fast = key.fingerprint(b"tanya.password-confirmation", password.as_bytes());
    let stored = server
        .app
        .store
        .load(&SessionKey::new("web", &id).expect("key"))
        .await
        .expect("load")
        .expect("stored");
    let record: Value = serde_json::from_slice(&stored.data).expect("JSON");
    let draft = record["state"]["draft_phc"].as_str().expect("a draft");
    assert!(
        draft.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "only an argon2id hash with OWASP's parameters: {draft}"
    );
    let text = String::from_utf8_lossy(&stored.data).into_owned();
    assert!(!text.contains(password));
    assert!(!text.contains(&hex::encode(fast)), "{text}");
    let files = all_bytes(dir.path());
    for needle in [password.as_bytes(), &fast[..], hex::encode(fast).as_bytes()] {
        assert!(
            !files.windows(needle.len()).any(|w| w == needle),
            "the data directory holds the password or a fast hash of it"
        );
    }

    let answer = server.say(Some(&id), password).await;
    assert_eq!(keys(&answer), ["account_recovered"]);
    server.stop().await;
}
