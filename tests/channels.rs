//! The messaging channels (Telegram, WhatsApp Cloud API, LINE) end to end: the real
//! application on `127.0.0.1:0` with sled in a temporary directory, and one local mock server
//! per platform (axum on `127.0.0.1:0`, named by the `TANYA_*_API_BASE` settings) that records
//! every outbound call and answers as scripted. Nothing leaves the machine.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tanya::app::App;
use tanya::channels::delivery::DeliveryWorker;
use tanya::config::Config;
use tanya::dialog::state::CodeChannel;
use tanya::dialog::state::Speaker;
use tanya::engine::HistoryEntry;
use tanya::store::SessionKey;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TELEGRAM_TOKEN: &str = "123456:test-bot-token";
const TELEGRAM_SECRET: &str = "telegram-secret-token";
const WHATSAPP_TOKEN: &str = "whatsapp-access-token";
const WHATSAPP_APP_SECRET: &str = "whatsapp-app-secret";
const WHATSAPP_VERIFY_TOKEN: &str = "whatsapp-verify-token";
const LINE_SECRET: &str = "line-channel-secret";
const LINE_TOKEN: &str = "line-channel-access-token";

const CHAT_ID: i64 = 5_550_001;
const PHONE_NUMBER_ID: &str = "106540352242922";
const WA_USER: &str = "6281234567890";
const LINE_USER: &str = "U4af4980629a0b1c2d3e4f5a6b7c8d9e0";

const PASSWORD: &str = "Rahasia#Baru2026";
/// Generous: a retry honouring `Retry-After: 1` takes about a second.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// Mock platforms

/// One call a platform received.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    authorization: Option<String>,
    retry_key: Option<String>,
    body: Value,
    /// The status the mock answered.
    status: u16,
    at: Instant,
}

/// A scripted answer.
#[derive(Debug, Clone)]
struct Canned {
    status: u16,
    retry_after: Option<&'static str>,
    body: Value,
}

struct MockState {
    calls: Mutex<Vec<Call>>,
    script: Mutex<VecDeque<Canned>>,
    ok: Value,
}

/// A platform API on `127.0.0.1:0`: records every call and answers from its script, then
/// with `ok`.
struct Mock {
    base: String,
    state: Arc<MockState>,
    task: JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let canned = state.script.lock().unwrap().pop_front().unwrap_or(Canned {
        status: 200,
        retry_after: None,
        body: state.ok.clone(),
    });
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    state.calls.lock().unwrap().push(Call {
        path: uri.path().to_string(),
        authorization: header("authorization"),
        retry_key: header("x-line-retry-key"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status: canned.status,
        at: Instant::now(),
    });
    let status = StatusCode::from_u16(canned.status).unwrap();
    let mut response = (status, axum::Json(canned.body)).into_response();
    if let Some(wait) = canned.retry_after {
        response
            .headers_mut()
            .insert("retry-after", wait.parse().unwrap());
    }
    response
}

impl Mock {
    async fn start(ok: Value) -> Mock {
        let state = Arc::new(MockState {
            calls: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            ok,
        });
        let router = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Mock { base, state, task }
    }

    fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    fn script(&self, answers: Vec<Canned>) {
        self.state.script.lock().unwrap().extend(answers);
    }
}

struct Platforms {
    telegram: Mock,
    whatsapp: Mock,
    line: Mock,
}

impl Platforms {
    async fn start() -> Platforms {
        Platforms {
            telegram: Mock::start(json!({"ok": true, "result": {"message_id": 1}})).await,
            whatsapp: Mock::start(
                json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.out"}]}),
            )
            .await,
            line: Mock::start(json!({})).await,
        }
    }

    fn all_calls(&self) -> usize {
        self.telegram.calls().len() + self.whatsapp.calls().len() + self.line.calls().len()
    }
}

// ---------------------------------------------------------------------------------------
// The application

fn config(data_dir: &Path, platforms: Option<&Platforms>) -> Config {
    let data_dir = data_dir.to_str().unwrap().to_string();
    let intents_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/intents").to_string();
    let bases = platforms.map(|p| {
        (
            p.telegram.base.clone(),
            p.whatsapp.base.clone(),
            p.line.base.clone(),
        )
    });
    Config::from_lookup(|name| {
        let value = match (name, &bases) {
            ("TANYA_DATA_DIR", _) => data_dir.as_str(),
            ("TANYA_INTENTS_DIR", _) => intents_dir.as_str(),
            // Small backoff so retries take milliseconds; `Retry-After` is still honoured.
            ("TANYA_DELIVERY_RETRY_BASE_MS", _) => "20",
            ("TANYA_DELIVERY_RETRY_MAX_MS", _) => "200",
            ("TANYA_DELIVERY_MAX_ATTEMPTS", _) => "5",
            (_, None) => return None,
            ("TANYA_TELEGRAM_BOT_TOKEN", _) => TELEGRAM_TOKEN,
            ("TANYA_TELEGRAM_SECRET_TOKEN", _) => TELEGRAM_SECRET,
            ("TANYA_TELEGRAM_API_BASE", Some((telegram, _, _))) => telegram.as_str(),
            ("TANYA_WHATSAPP_TOKEN", _) => WHATSAPP_TOKEN,
            ("TANYA_WHATSAPP_APP_SECRET", _) => WHATSAPP_APP_SECRET,
            ("TANYA_WHATSAPP_VERIFY_TOKEN", _) => WHATSAPP_VERIFY_TOKEN,
            ("TANYA_WHATSAPP_API_BASE", Some((_, whatsapp, _))) => whatsapp.as_str(),
            ("TANYA_LINE_CHANNEL_SECRET", _) => LINE_SECRET,
            ("TANYA_LINE_CHANNEL_ACCESS_TOKEN", _) => LINE_TOKEN,
            ("TANYA_LINE_API_BASE", Some((_, _, line))) => line.as_str(),
            _ => return None,
        };
        Some(value.to_string())
    })
    .expect("test config")
}

/// The application served on an ephemeral port.
struct Server {
    base: String,
    client: reqwest::Client,
    app: App,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(config: Config) -> Server {
        let app = App::build(config).await.expect("app builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
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
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            app,
            shutdown,
            task,
        }
    }

    /// Stops serving and drops every handle on the application (the database closes).
    async fn stop(self) {
        let Server {
            client,
            app,
            shutdown,
            task,
            ..
        } = self;
        drop(client);
        shutdown.send(()).unwrap();
        task.await.unwrap().unwrap();
        drop(app);
    }
}

struct Harness {
    dir: TempDir,
    platforms: Platforms,
    server: Server,
    worker: Option<DeliveryWorker>,
}

impl Harness {
    /// The application with every channel pointed at its mock, and the delivery worker.
    async fn start() -> Harness {
        let mut harness = Harness::without_worker().await;
        harness.worker = harness.server.app.channels.spawn_worker();
        assert!(harness.worker.is_some());
        harness
    }

    async fn without_worker() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let platforms = Platforms::start().await;
        let server = Server::start(config(dir.path(), Some(&platforms))).await;
        Harness {
            dir,
            platforms,
            server,
            worker: None,
        }
    }

    fn app(&self) -> &App {
        &self.server.app
    }

    async fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> StatusCode {
        let mut request = self
            .server
            .client
            .post(format!("{}{path}", self.server.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let status = request.send().await.unwrap().status();
        StatusCode::from_u16(status.as_u16()).unwrap()
    }

    async fn telegram(&self, update: &Value) -> StatusCode {
        let body = serde_json::to_vec(update).unwrap();
        self.post(
            "/webhooks/telegram",
            &[(
                "X-Telegram-Bot-Api-Secret-Token",
                TELEGRAM_SECRET.to_string(),
            )],
            &body,
        )
        .await
    }

    async fn whatsapp(&self, notification: &Value) -> StatusCode {
        let body = serde_json::to_vec(notification).unwrap();
        let signature = format!("sha256={}", hex::encode(hmac(WHATSAPP_APP_SECRET, &body)));
        self.post(
            "/webhooks/whatsapp",
            &[("X-Hub-Signature-256", signature)],
            &body,
        )
        .await
    }

    async fn line(&self, webhook: &Value) -> StatusCode {
        let body = serde_json::to_vec(webhook).unwrap();
        let signature = BASE64_STANDARD.encode(hmac(LINE_SECRET, &body));
        self.post("/webhooks/line", &[("x-line-signature", signature)], &body)
            .await
    }

    /// Waits until the outbox is empty: every reply delivered (or given up).
    async fn drained(&self) {
        let deadline = Instant::now() + WAIT;
        while self.app().channels.pending_deliveries().await > 0 {
            assert!(
                Instant::now() < deadline,
                "replies still pending: {}",
                self.app().channels.pending_deliveries().await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The bot messages of the session's latest turn, as the engine recorded them.
    async fn last_turn(&self, session: &SessionKey) -> Vec<HistoryEntry> {
        let history = self
            .app()
            .engine
            .history(session)
            .await
            .unwrap()
            .expect("the session exists");
        let mut turn: Vec<HistoryEntry> = history
            .into_iter()
            .rev()
            .take_while(|entry| entry.from == Speaker::Bot)
            .collect();
        turn.reverse();
        turn
    }

    async fn last_keys(&self, session: &SessionKey) -> Vec<String> {
        self.last_turn(session)
            .await
            .into_iter()
            .filter_map(|entry| entry.key)
            .collect()
    }

    /// Sets `password` on the password page of `token`, as the member's browser would, and
    /// waits until the chat's answer is delivered; the calls that delivered it.
    async fn set_password_on_page(&self, mock: &Mock, token: &str, password: &str) -> Vec<Call> {
        let before = mock.calls().len();
        let encoded: String = password
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect();
        let response = self
            .server
            .client
            .post(format!("{}/password/{token}", self.server.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("new_password={encoded}&confirm_password={encoded}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the page took the password");
        let page = response.text().await.unwrap();
        assert!(!page.contains(password));
        self.drained().await;
        mock.calls()[before..].to_vec()
    }

    /// The latest code the demo outbox "sent" to this session's member.
    async fn code(&self, session: &SessionKey) -> String {
        let outbox = self.app().outbox.as_ref().expect("demo mode");
        outbox
            .entries(session)
            .await
            .unwrap()
            .last()
            .expect("a code")
            .code
            .clone()
    }

    fn non_text(&self) -> String {
        self.app()
            .engine
            .render_key(tanya::dialog::keys::ResponseKey::NonText)
            .unwrap()
            .text
    }
}

fn hmac(key: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Platforms date events; the tests' events happen now (older ones are refused as replays).
fn now_s() -> u64 {
    now_ms() / 1000
}

/// What a member sees of one message: its text and its choices (title, payload).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    text: String,
    buttons: Vec<(String, String)>,
}

fn shown(entries: &[HistoryEntry]) -> Vec<Shown> {
    entries
        .iter()
        .map(|entry| Shown {
            text: entry.text.clone(),
            buttons: entry
                .buttons
                .iter()
                .map(|b| (b.title.clone(), b.payload.clone()))
                .collect(),
        })
        .collect()
}

fn pairs(items: &[Value], title: &str, payload: &str) -> Vec<(String, String)> {
    items
        .iter()
        .map(|item| {
            (
                item.pointer(title)
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string(),
                item.pointer(payload)
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

fn array<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

// ---------------------------------------------------------------------------------------
// Platform payloads

fn tg_text(update_id: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": now_s(),
        "from": {"id": CHAT_ID, "is_bot": false, "first_name": "Budi"},
        "chat": {"id": CHAT_ID, "type": "private", "first_name": "Budi"},
        "text": text
    }})
}

fn tg_press(update_id: i64, data: &str) -> Value {
    json!({"update_id": update_id, "callback_query": {
        "id": format!("cbq-{update_id}"), "chat_instance": "42",
        "from": {"id": CHAT_ID, "is_bot": false, "first_name": "Budi"},
        "message": {"message_id": 7, "date": 1_700_000_000, "chat": {"id": CHAT_ID, "type": "private"}},
        "data": data
    }})
}

fn tg_photo(update_id: i64) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": now_s(),
        "chat": {"id": CHAT_ID, "type": "private"},
        "photo": [{"file_id": "AgAD", "file_unique_id": "x", "width": 90, "height": 90}]
    }})
}

fn tg_session() -> SessionKey {
    SessionKey::new("telegram", &CHAT_ID.to_string()).unwrap()
}

/// The messages sent with `sendMessage`, as the member sees them.
fn telegram_shown(calls: &[Call]) -> Vec<Shown> {
    calls
        .iter()
        .filter(|call| call.status == 200 && call.path.ends_with("/sendMessage"))
        .map(|call| Shown {
            text: call.body["text"].as_str().unwrap().to_string(),
            buttons: array(&call.body, "/reply_markup/inline_keyboard")
                .iter()
                .flat_map(|row| row.as_array().unwrap().clone())
                .map(|b| {
                    (
                        b["text"].as_str().unwrap().to_string(),
                        b["callback_data"].as_str().unwrap().to_string(),
                    )
                })
                .collect(),
        })
        .collect()
}

fn wa(messages: &Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Budi"}, "wa_id": WA_USER}],
            "messages": messages
        }
    }]}]})
}

fn wa_text(id: &str, text: &str) -> Value {
    wa(
        &json!([{"from": WA_USER, "id": id, "timestamp": now_s().to_string(), "type": "text", "text": {"body": text}}]),
    )
}

fn wa_list_reply(id: &str, payload: &str) -> Value {
    wa(
        &json!([{"from": WA_USER, "id": id, "timestamp": now_s().to_string(), "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": payload, "title": "x"}}}]),
    )
}

fn wa_button_reply(id: &str, payload: &str) -> Value {
    wa(
        &json!([{"from": WA_USER, "id": id, "timestamp": now_s().to_string(), "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": payload, "title": "x"}}}]),
    )
}

fn wa_sticker(id: &str) -> Value {
    wa(
        &json!([{"from": WA_USER, "id": id, "timestamp": now_s().to_string(), "type": "sticker",
        "sticker": {"id": "1234", "mime_type": "image/webp", "animated": false}}]),
    )
}

fn wa_session() -> SessionKey {
    SessionKey::new("whatsapp", WA_USER).unwrap()
}

fn whatsapp_shown(calls: &[Call]) -> Vec<Shown> {
    calls
        .iter()
        .filter(|call| call.status == 200)
        .map(|call| {
            let body = &call.body;
            match body["type"].as_str().unwrap() {
                "text" => Shown {
                    text: body["text"]["body"].as_str().unwrap().to_string(),
                    buttons: vec![],
                },
                "interactive" => {
                    let interactive = &body["interactive"];
                    let buttons = match interactive["type"].as_str().unwrap() {
                        "button" => pairs(
                            array(interactive, "/action/buttons"),
                            "/reply/title",
                            "/reply/id",
                        ),
                        "list" => pairs(
                            array(interactive, "/action/sections/0/rows"),
                            "/title",
                            "/id",
                        ),
                        other => panic!("unexpected interactive type {other}"),
                    };
                    Shown {
                        text: interactive["body"]["text"].as_str().unwrap().to_string(),
                        buttons,
                    }
                }
                other => panic!("unexpected message type {other}"),
            }
        })
        .collect()
}

fn line_webhook(events: &[Value]) -> Value {
    json!({"destination": "Ubot0000000000000000000000000000", "events": events})
}

fn line_event(event_id: &str, at: u64, body: &Value) -> Value {
    let mut event = json!({
        "webhookEventId": event_id, "deliveryContext": {"isRedelivery": false},
        "timestamp": at, "mode": "active",
        "source": {"type": "user", "userId": LINE_USER},
        "replyToken": format!("reply-{event_id}")
    });
    for (key, value) in body.as_object().unwrap() {
        event[key] = value.clone();
    }
    event
}

fn line_text(event_id: &str, text: &str) -> Value {
    line_webhook(&[line_event(
        event_id,
        now_ms(),
        &json!({"type": "message", "message": {"type": "text", "id": format!("m{event_id}"), "quoteToken": "q", "text": text}}),
    )])
}

fn line_postback(event_id: &str, data: &str) -> Value {
    line_webhook(&[line_event(
        event_id,
        now_ms(),
        &json!({"type": "postback", "postback": {"data": data}}),
    )])
}

fn line_sticker(event_id: &str) -> Value {
    line_webhook(&[line_event(
        event_id,
        now_ms(),
        &json!({"type": "message", "message": {"type": "sticker", "id": "s1", "packageId": "446", "stickerId": "1988"}}),
    )])
}

fn line_session() -> SessionKey {
    SessionKey::new("line", LINE_USER).unwrap()
}

fn line_shown(calls: &[Call]) -> Vec<Shown> {
    calls
        .iter()
        .filter(|call| call.status == 200)
        .flat_map(|call| array(&call.body, "/messages").to_vec())
        .map(|message| Shown {
            text: message["text"].as_str().unwrap().to_string(),
            buttons: pairs(
                array(&message, "/quickReply/items"),
                "/action/label",
                "/action/data",
            ),
        })
        .collect()
}

/// Runs one step: sends, waits for delivery, and returns the calls the step caused.
/// In demo mode, a turn that sends a code shows that SMS or e-mail in the chat first, marked
/// as a demo and with the destination masked, so that a tester on a real bot can finish the
/// flow (issue 15); the turn's own messages follow unchanged.
fn assert_demo_code_then_turn(sent: &[Shown], turn: &[Shown], code: &str) {
    let (demo, replies) = sent.split_first().expect("messages were sent");
    assert_eq!(replies, turn, "the turn's own messages follow, unchanged");
    assert!(
        demo.text.starts_with("🧪 [DEMO]") && demo.text.contains(code),
        "a marked demo message with the code: {:?}",
        demo.text
    );
    assert!(
        demo.text.contains("b***@example.com") && !demo.text.contains("budi.santoso@"),
        "the destination is masked: {:?}",
        demo.text
    );
    assert!(demo.buttons.is_empty());
}

async fn step<F>(harness: &Harness, mock: &Mock, send: F) -> Vec<Call>
where
    F: AsyncFnOnce(&Harness) -> StatusCode,
{
    let before = mock.calls().len();
    assert_eq!(send(harness).await, StatusCode::OK);
    harness.drained().await;
    mock.calls()[before..].to_vec()
}

/// The token of the password-page link in a message (`…/password/{token}`).
fn link_token(text: &str) -> String {
    let (_, rest) = text
        .split_once("/password/")
        .unwrap_or_else(|| panic!("a password-page link in {text:?}"));
    rest.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// After the code, a messaging chat gets the password page's link, never a password prompt
/// (SPEC §6): the message sent carries the link, the history only a placeholder for its token.
/// Returns the token.
async fn assert_link_sent(h: &Harness, session: &SessionKey, sent: &[Shown]) -> String {
    assert_eq!(h.last_keys(session).await, ["password_link_sent"]);
    let token = link_token(&sent[0].text);
    assert_eq!(token.len(), 22, "{token}");
    let kept = shown(&h.last_turn(session).await);
    assert!(
        !kept[0].text.contains(&token) && kept[0].text.contains("/password/••••"),
        "the history hides the link: {:?}",
        kept[0].text
    );
    assert_eq!(
        sent[0].text.replace(&token, "••••"),
        kept[0].text,
        "otherwise the same message"
    );
    token
}

/// A password typed into the chat while the link is out: refused, and neither kept nor
/// repeated anywhere.
async fn assert_typed_password_refused(h: &Harness, session: &SessionKey, calls: &[Call]) {
    assert_eq!(
        h.last_keys(session).await,
        ["password_not_in_chat", "password_link_pending"]
    );
    assert_no_password(calls);
    let history = h.app().engine.history(session).await.unwrap().unwrap();
    assert!(history.iter().all(|entry| !entry.text.contains(PASSWORD)));
    assert!(history.iter().any(|entry| entry.text == "••••"));
}

fn assert_no_password(calls: &[Call]) {
    for call in calls {
        assert!(
            !call.body.to_string().contains(PASSWORD),
            "a password reached a platform: {call:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Conversations

#[tokio::test]
async fn telegram_forgot_password_with_inline_keyboards_ends_on_the_password_page() {
    let h = Harness::start().await;
    let tg = &h.platforms.telegram;
    let session = tg_session();

    // "/start" greets, with the menu as an inline keyboard (one button per row).
    let calls = step(&h, tg, async |h| h.telegram(&tg_text(1, "/start")).await).await;
    assert_eq!(h.last_keys(&session).await, ["greet"]);
    assert_eq!(telegram_shown(&calls), shown(&h.last_turn(&session).await));
    let call = &calls[0];
    assert_eq!(call.path, format!("/bot{TELEGRAM_TOKEN}/sendMessage"));
    assert_eq!(call.body["chat_id"], CHAT_ID);
    let keyboard = array(&call.body, "/reply_markup/inline_keyboard");
    assert!(
        keyboard.len() >= 2
            && keyboard
                .iter()
                .all(|row| row.as_array().unwrap().len() == 1)
    );
    assert!(
        telegram_shown(&calls)[0]
            .buttons
            .iter()
            .any(|(_, payload)| payload == "/forgot_password")
    );

    // Pressing "Lupa password": the callback is answered first, then the question.
    let calls = step(&h, tg, async |h| {
        h.telegram(&tg_press(2, "/forgot_password")).await
    })
    .await;
    assert_eq!(
        calls[0].path,
        format!("/bot{TELEGRAM_TOKEN}/answerCallbackQuery")
    );
    assert_eq!(calls[0].body["callback_query_id"], "cbq-2");
    assert_eq!(h.last_keys(&session).await, ["ask_email_kpj"]);
    assert_eq!(telegram_shown(&calls), shown(&h.last_turn(&session).await));

    let calls = step(&h, tg, async |h| {
        h.telegram(&tg_text(3, "budi.santoso@example.com 12345678901"))
            .await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["otp_sent"]);
    let code = h.code(&session).await;
    assert_demo_code_then_turn(
        &telegram_shown(&calls),
        &shown(&h.last_turn(&session).await),
        &code,
    );
    assert!(
        !telegram_shown(&calls)[1].buttons.is_empty(),
        "resend / cancel buttons"
    );

    // The code opens the password page, not a password prompt in the chat.
    let calls = step(&h, tg, async |h| h.telegram(&tg_text(4, &code)).await).await;
    let token = assert_link_sent(&h, &session, &telegram_shown(&calls)).await;

    // A password typed into the chat anyway is refused unread, neither kept nor echoed.
    let calls = step(&h, tg, async |h| h.telegram(&tg_text(5, PASSWORD)).await).await;
    assert_typed_password_refused(&h, &session, &calls).await;
    assert_eq!(telegram_shown(&calls), shown(&h.last_turn(&session).await));

    // The member sets it on the page; the chat gets the confirmation, pushed to the chat.
    let calls = h.set_password_on_page(tg, &token, PASSWORD).await;
    assert_eq!(h.last_keys(&session).await, ["password_changed"]);
    assert_eq!(telegram_shown(&calls), shown(&h.last_turn(&session).await));
    assert!(calls.iter().all(|call| call.body["chat_id"] == CHAT_ID));
    assert_no_password(&tg.calls());

    // A photo gets the polite "text only" answer.
    let calls = step(&h, tg, async |h| h.telegram(&tg_photo(6)).await).await;
    assert_eq!(telegram_shown(&calls)[0].text, h.non_text());
}

#[tokio::test]
async fn whatsapp_forgot_password_conversation_with_lists_and_reply_buttons() {
    let h = Harness::start().await;
    let wa_mock = &h.platforms.whatsapp;
    let session = wa_session();

    // The greeting's menu: reply buttons for up to three choices, a list for more.
    let calls = step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_text("wamid.1", "halo")).await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["greet"]);
    let menu_size = h.last_turn(&session).await[0].buttons.len();
    let call = &calls[0];
    assert_eq!(call.path, format!("/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bearer {WHATSAPP_TOKEN}").as_str())
    );
    assert_eq!(call.body["messaging_product"], "whatsapp");
    assert_eq!(call.body["to"], WA_USER);
    let kind = if menu_size > 3 { "list" } else { "button" };
    assert_eq!(call.body["interactive"]["type"], kind);
    assert_eq!(whatsapp_shown(&calls), shown(&h.last_turn(&session).await));

    // Choosing from the list.
    let calls = step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_list_reply("wamid.2", "/forgot_password"))
            .await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["ask_email_kpj"]);
    assert_eq!(whatsapp_shown(&calls), shown(&h.last_turn(&session).await));

    // Two choices (resend, cancel): reply buttons.
    let calls = step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_text("wamid.3", "budi.santoso@example.com 12345678901"))
            .await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["otp_sent"]);
    assert_eq!(calls[1].body["interactive"]["type"], "button");
    let code = h.code(&session).await;
    assert_demo_code_then_turn(
        &whatsapp_shown(&calls),
        &shown(&h.last_turn(&session).await),
        &code,
    );

    let calls = step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_text("wamid.4", &code)).await
    })
    .await;
    let token = assert_link_sent(&h, &session, &whatsapp_shown(&calls)).await;
    // A plain text message, so the link stays clickable.
    assert_eq!(calls[0].body["type"], "text");

    let calls = step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_text("wamid.5", PASSWORD)).await
    })
    .await;
    assert_typed_password_refused(&h, &session, &calls).await;

    // The confirmation is pushed from the business number the member wrote to.
    let calls = h.set_password_on_page(wa_mock, &token, PASSWORD).await;
    assert_eq!(h.last_keys(&session).await, ["password_changed"]);
    assert_eq!(whatsapp_shown(&calls), shown(&h.last_turn(&session).await));
    assert_eq!(calls[0].path, format!("/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(calls[0].body["to"], WA_USER);
    assert_no_password(&wa_mock.calls());

    // A reply button press is a payload too; a sticker gets the "text only" answer.
    step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_button_reply("wamid.6", "/help")).await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["help_menu"]);
    let calls = step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_sticker("wamid.7")).await
    })
    .await;
    assert_eq!(whatsapp_shown(&calls)[0].text, h.non_text());
}

#[tokio::test]
async fn line_forgot_password_conversation_with_quick_replies() {
    let h = Harness::start().await;
    let line = &h.platforms.line;
    let session = line_session();

    let calls = step(&h, line, async |h| h.line(&line_text("E1", "halo")).await).await;
    assert_eq!(h.last_keys(&session).await, ["greet"]);
    assert_eq!(calls[0].path, "/v2/bot/message/reply");
    assert_eq!(calls[0].body["replyToken"], "reply-E1");
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some(format!("Bearer {LINE_TOKEN}").as_str())
    );
    let quick = array(&calls[0].body, "/messages/0/quickReply/items");
    assert!(!quick.is_empty() && quick.len() <= 13);
    assert_eq!(quick[0]["action"]["type"], "postback");
    assert_eq!(line_shown(&calls), shown(&h.last_turn(&session).await));

    let calls = step(&h, line, async |h| {
        h.line(&line_postback("E2", "/forgot_password")).await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["ask_email_kpj"]);
    assert_eq!(line_shown(&calls), shown(&h.last_turn(&session).await));

    let calls = step(&h, line, async |h| {
        h.line(&line_text("E3", "budi.santoso@example.com 12345678901"))
            .await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["otp_sent"]);
    let code = h.code(&session).await;
    assert_demo_code_then_turn(
        &line_shown(&calls),
        &shown(&h.last_turn(&session).await),
        &code,
    );

    // An event older than the reply token's life is answered with a push.
    let stale = line_webhook(&[line_event(
        "E4",
        now_ms() - 120_000,
        &json!({"type": "message", "message": {"type": "text", "id": "m4", "text": code}}),
    )]);
    let calls = step(&h, line, async |h| h.line(&stale).await).await;
    let token = assert_link_sent(&h, &session, &line_shown(&calls)).await;
    assert_eq!(calls[0].path, "/v2/bot/message/push");
    assert_eq!(calls[0].body["to"], LINE_USER);
    assert_eq!(calls[0].retry_key.as_deref().map(str::len), Some(36));

    let calls = step(&h, line, async |h| h.line(&line_text("E5", PASSWORD)).await).await;
    assert_typed_password_refused(&h, &session, &calls).await;
    assert_eq!(line_shown(&calls), shown(&h.last_turn(&session).await));

    // No reply token outside a webhook: the confirmation is pushed.
    let calls = h.set_password_on_page(line, &token, PASSWORD).await;
    assert_eq!(h.last_keys(&session).await, ["password_changed"]);
    assert_eq!(line_shown(&calls), shown(&h.last_turn(&session).await));
    assert!(
        calls
            .iter()
            .all(|call| call.path == "/v2/bot/message/push" && call.body["to"] == LINE_USER)
    );
    assert_no_password(&line.calls());

    let calls = step(&h, line, async |h| h.line(&line_sticker("E6")).await).await;
    assert_eq!(line_shown(&calls)[0].text, h.non_text());
}

#[tokio::test]
async fn choices_that_do_not_fit_are_numbered_and_typing_the_number_chooses() {
    let h = Harness::start().await;
    let line = &h.platforms.line;
    let session = line_session();

    // "E-mail b***@example.com" is longer than LINE's 20-character label: numbered text.
    let calls = step(&h, line, async |h| {
        h.line(&line_text(
            "N1",
            "lupa akun, kpj 12345678901 nik 3174011203880001",
        ))
        .await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["ask_otp_channel"]);
    let turn = h.last_turn(&session).await;
    let buttons = &turn.last().unwrap().buttons;
    assert_eq!(buttons.len(), 2);
    let sent = line_shown(&calls);
    let last = sent.last().unwrap();
    assert!(last.buttons.is_empty(), "no quick replies: {last:?}");
    let expected_list = format!("\n\n1. {}\n2. {}", buttons[0].title, buttons[1].title);
    assert!(last.text.ends_with(&expected_list), "{}", last.text);

    // Typing "2" picks the second choice (the e-mail).
    let email_position = buttons
        .iter()
        .position(|b| b.payload == "/otp_channel email")
        .unwrap()
        + 1;
    step(&h, line, async |h| {
        h.line(&line_text("N2", &email_position.to_string())).await
    })
    .await;
    assert_eq!(h.last_keys(&session).await, ["otp_sent"]);
    let outbox = h
        .app()
        .outbox
        .as_ref()
        .unwrap()
        .entries(&session)
        .await
        .unwrap();
    assert_eq!(outbox.last().unwrap().channel, CodeChannel::Email);

    // On WhatsApp, the number of a list row works the same way.
    let wa_mock = &h.platforms.whatsapp;
    let wa = wa_session();
    step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_text("wamid.n1", "halo")).await
    })
    .await;
    let menu = h.last_turn(&wa).await.last().unwrap().buttons.clone();
    let position = menu
        .iter()
        .position(|b| b.payload == "/forgot_password")
        .unwrap()
        + 1;
    step(&h, wa_mock, async |h| {
        h.whatsapp(&wa_text("wamid.n2", &position.to_string()))
            .await
    })
    .await;
    assert_eq!(h.last_keys(&wa).await, ["ask_email_kpj"]);
}

// ---------------------------------------------------------------------------------------
// Verification

#[tokio::test]
async fn forged_or_missing_signatures_are_refused_with_no_side_effect() {
    let h = Harness::start().await;
    let update = serde_json::to_vec(&tg_text(1, "halo")).unwrap();
    let secret = |value: &str| vec![("X-Telegram-Bot-Api-Secret-Token", value.to_string())];
    assert_eq!(
        h.post("/webhooks/telegram", &[], &update).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.post("/webhooks/telegram", &secret("wrong-secret"), &update)
            .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.post("/webhooks/telegram", &secret(""), &update).await,
        StatusCode::UNAUTHORIZED
    );

    let notification = serde_json::to_vec(&wa_text("wamid.f", "halo")).unwrap();
    let hub = |value: String| vec![("X-Hub-Signature-256", value)];
    let forged = format!(
        "sha256={}",
        hex::encode(hmac("not-the-app-secret", &notification))
    );
    let valid = format!(
        "sha256={}",
        hex::encode(hmac(WHATSAPP_APP_SECRET, &notification))
    );
    let mut tampered = notification.clone();
    let at = tampered.len() - 10;
    tampered[at] ^= 1;
    for (headers, body) in [
        (vec![], &notification),
        (hub(forged), &notification),
        (hub("sha256=zz".into()), &notification),
        (
            hub(valid.trim_start_matches("sha256=").to_string()),
            &notification,
        ),
        (hub(valid.clone()), &tampered),
    ] {
        assert_eq!(
            h.post("/webhooks/whatsapp", &headers, body).await,
            StatusCode::UNAUTHORIZED
        );
    }

    let webhook = serde_json::to_vec(&line_text("F1", "halo")).unwrap();
    let line_sig = |value: String| vec![("x-line-signature", value)];
    for headers in [
        vec![],
        line_sig(BASE64_STANDARD.encode(hmac("not-the-channel-secret", &webhook))),
        line_sig("not base64!".into()),
    ] {
        assert_eq!(
            h.post("/webhooks/line", &headers, &webhook).await,
            StatusCode::UNAUTHORIZED
        );
    }

    // Give a worker time to send anything it might have been given.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let channels = &h.app().channels;
    assert_eq!(channels.pending_deliveries().await, 0, "nothing queued");
    assert_eq!(
        channels.seen_deliveries().await,
        0,
        "nothing marked as processed"
    );
    assert_eq!(
        h.app().store.count().await.unwrap(),
        0,
        "no session touched"
    );
    for session in [tg_session(), wa_session(), line_session()] {
        assert!(!h.app().engine.session_exists(&session).await.unwrap());
    }
    assert_eq!(h.platforms.all_calls(), 0, "nothing sent");
}

#[tokio::test]
async fn whatsapp_handshake_echoes_the_challenge_only_for_the_verify_token() {
    let h = Harness::start().await;
    let get = |query: &str| {
        let url = format!("{}/webhooks/whatsapp?{query}", h.server.base);
        let client = h.server.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let ok = get(&format!(
        "hub.mode=subscribe&hub.verify_token={WHATSAPP_VERIFY_TOKEN}&hub.challenge=1158201444"
    ))
    .await;
    assert_eq!(ok.status().as_u16(), 200);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1".to_string(),
        format!("hub.mode=unsubscribe&hub.verify_token={WHATSAPP_VERIFY_TOKEN}&hub.challenge=1"),
        "hub.challenge=1".to_string(),
    ] {
        assert_eq!(get(&query).await.status().as_u16(), 403, "{query}");
    }
}

#[tokio::test]
async fn line_verification_and_whatsapp_statuses_are_acknowledged_and_ignored() {
    let h = Harness::start().await;
    assert_eq!(h.line(&line_webhook(&[])).await, StatusCode::OK);
    let statuses = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1", "phone_number_id": PHONE_NUMBER_ID},
            "statuses": [{"id": "wamid.out", "status": "delivered", "timestamp": "1", "recipient_id": WA_USER}]}
    }]}]});
    assert_eq!(h.whatsapp(&statuses).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.app().channels.pending_deliveries().await, 0);
    assert_eq!(h.platforms.all_calls(), 0);
}

#[tokio::test]
async fn a_channel_without_its_secrets_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(dir.path(), None)).await;
    assert!(server.app.channels.spawn_worker().is_none());
    let client = &server.client;
    for path in ["/webhooks/telegram", "/webhooks/whatsapp", "/webhooks/line"] {
        let response = client
            .post(format!("{}{path}", server.base))
            .header("X-Telegram-Bot-Api-Secret-Token", "anything")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }
    let handshake = client
        .get(format!(
            "{}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status().as_u16(), 404);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Reliability

#[tokio::test]
async fn the_same_delivery_three_times_is_processed_once() {
    let h = Harness::start().await;
    // Telegram: three copies at once.
    let update = tg_press(77, "/forgot_password");
    let (a, b, c) = tokio::join!(
        h.telegram(&update),
        h.telegram(&update),
        h.telegram(&update)
    );
    assert_eq!([a, b, c], [StatusCode::OK; 3]);
    // WhatsApp and LINE: one after the other.
    for _ in 0..3 {
        assert_eq!(
            h.whatsapp(&wa_text("wamid.dup", "halo")).await,
            StatusCode::OK
        );
        assert_eq!(h.line(&line_text("DUP", "halo")).await, StatusCode::OK);
    }
    h.drained().await;

    let tg_calls = h.platforms.telegram.calls();
    assert_eq!(
        tg_calls.len(),
        2,
        "one answerCallbackQuery, one reply: {tg_calls:?}"
    );
    assert_eq!(h.platforms.whatsapp.calls().len(), 1);
    assert_eq!(h.platforms.line.calls().len(), 1);
    for session in [tg_session(), wa_session(), line_session()] {
        let history = h.app().engine.history(&session).await.unwrap().unwrap();
        let user_turns = history.iter().filter(|e| e.from == Speaker::User).count();
        assert_eq!(user_turns, 1, "{session}");
    }
    assert_eq!(h.app().channels.seen_deliveries().await, 3);
}

#[tokio::test]
async fn events_older_than_the_replay_window_are_acknowledged_and_not_processed() {
    let h = Harness::start().await;
    let stale_s = now_s() - 10 * 60;
    let mut telegram = tg_text(501, "halo");
    telegram["message"]["date"] = json!(stale_s);
    let mut whatsapp = wa_text("wamid.stale", "halo");
    whatsapp["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] =
        json!(stale_s.to_string());
    let line = line_webhook(&[line_event(
        "STALE",
        stale_s * 1000,
        &json!({"type": "message", "message": {"type": "text", "id": "mSTALE", "text": "halo"}}),
    )]);
    // A replay gets a 200, so a platform's own late retry stops too, and nothing happens.
    assert_eq!(h.telegram(&telegram).await, StatusCode::OK);
    assert_eq!(h.whatsapp(&whatsapp).await, StatusCode::OK);
    assert_eq!(h.line(&line).await, StatusCode::OK);
    h.drained().await;
    for session in [tg_session(), wa_session(), line_session()] {
        assert!(
            h.app().engine.history(&session).await.unwrap().is_none(),
            "{session} ran a turn"
        );
    }
    assert!(h.platforms.telegram.calls().is_empty());
    assert!(h.platforms.whatsapp.calls().is_empty());
    assert!(h.platforms.line.calls().is_empty());

    // The same messages, sent now, are answered.
    assert_eq!(h.telegram(&tg_text(502, "halo")).await, StatusCode::OK);
    h.drained().await;
    assert_eq!(h.platforms.telegram.calls().len(), 1);
}

#[tokio::test]
async fn a_telegram_group_is_asked_to_write_privately_and_never_runs_a_flow() {
    let h = Harness::start().await;
    const GROUP: i64 = -1_001_234_567_890;
    let in_group = |update_id: i64, text: &str| {
        let mut update = tg_text(update_id, text);
        update["message"]["chat"] = json!({"id": GROUP, "type": "supergroup", "title": "Kantor"});
        update
    };
    let mut press = tg_press(603, "/forgot_password");
    press["callback_query"]["message"]["chat"] = json!({"id": GROUP, "type": "group"});
    for update in [
        in_group(601, "lupa password jmo"),
        in_group(602, "budi.santoso@example.com 12345678901"),
        press,
    ] {
        assert_eq!(h.telegram(&update).await, StatusCode::OK);
    }
    h.drained().await;
    let group = SessionKey::new("telegram", &GROUP.to_string()).unwrap();
    assert!(
        h.app().engine.history(&group).await.unwrap().is_none(),
        "no turn ran for the group"
    );
    assert!(
        h.app()
            .outbox
            .as_ref()
            .unwrap()
            .entries(&group)
            .await
            .unwrap()
            .is_empty(),
        "no code was sent"
    );
    let calls = h.platforms.telegram.calls();
    let sent: Vec<&Call> = calls
        .iter()
        .filter(|call| call.path.ends_with("/sendMessage"))
        .collect();
    // The content's `private_chat_only` answer, once per message, to the group; without that
    // content key the group gets no answer at all.
    let expected = h
        .app()
        .engine
        .render_key(tanya::dialog::keys::ResponseKey::PrivateChatOnly)
        .map(|message| message.text);
    assert_eq!(
        sent.len(),
        if expected.is_some() { 3 } else { 0 },
        "{calls:?}"
    );
    for call in sent {
        assert_eq!(call.body["chat_id"], json!(GROUP));
        assert_eq!(call.body["text"].as_str(), expected.as_deref());
        assert!(call.body.get("reply_markup").is_none(), "no flow buttons");
    }
}

#[tokio::test]
async fn a_whatsapp_member_without_a_visible_number_is_served_by_user_id() {
    let h = Harness::start().await;
    const USER_ID: &str = "ID.1502576394655843";
    let notification = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Budi", "username": "@budi"}, "user_id": USER_ID}],
            "messages": [{"from_user_id": USER_ID, "id": "wamid.bsuid", "timestamp": now_s().to_string(),
                "type": "text", "text": {"body": "halo"}}]
        }
    }]}]});
    assert_eq!(h.whatsapp(&notification).await, StatusCode::OK);
    h.drained().await;
    let session = SessionKey::new("whatsapp", USER_ID).unwrap();
    assert_eq!(h.last_keys(&session).await, ["greet"]);
    let calls = h.platforms.whatsapp.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].body["recipient"], json!(USER_ID));
    assert!(calls[0].body.get("to").is_none(), "{:?}", calls[0].body);
}

/// 500, then 429 asking to wait a second, then 200: the first reply is delivered once, after
/// the wait, and the member's next reply only after it.
async fn retries_then_delivers_in_order<F>(
    mock_of: fn(&Platforms) -> &Mock,
    shown_of: fn(&[Call]) -> Vec<Shown>,
    session: SessionKey,
    answers: Vec<Canned>,
    send: F,
) where
    F: AsyncFn(&Harness, usize) -> StatusCode,
{
    let h = Harness::start().await;
    let mock = mock_of(&h.platforms);
    mock.script(answers);
    assert_eq!(send(&h, 1).await, StatusCode::OK);
    assert_eq!(send(&h, 2).await, StatusCode::OK);
    h.drained().await;

    let calls = mock.calls();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [500, 429, 200, 200]
    );
    // The three tries carry the same first reply.
    assert_eq!(calls[0].body, calls[1].body);
    assert_eq!(calls[1].body, calls[2].body);
    assert!(
        calls[2].at - calls[1].at >= Duration::from_millis(950),
        "the requested wait was not honoured: {:?}",
        calls[2].at - calls[1].at
    );
    // Delivered: each bot message once, in the order the engine said them.
    let history = h.app().engine.history(&session).await.unwrap().unwrap();
    let said: Vec<HistoryEntry> = history
        .into_iter()
        .filter(|entry| entry.from == Speaker::Bot)
        .collect();
    assert_eq!(said.len(), 2);
    assert_eq!(shown_of(&calls), shown(&said));
}

#[tokio::test]
async fn telegram_retries_500_and_429_with_retry_after_then_delivers_once_in_order() {
    retries_then_delivers_in_order(
        |p| &p.telegram,
        telegram_shown,
        tg_session(),
        vec![
            Canned {
                status: 500,
                retry_after: None,
                body: json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}),
            },
            Canned {
                status: 429,
                retry_after: None,
                body: json!({"ok": false, "error_code": 429,
                    "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}),
            },
        ],
        async |h, n| {
            let text = if n == 1 { "/start" } else { "lupa password" };
            h.telegram(&tg_text(n as i64, text)).await
        },
    )
    .await;
}

#[tokio::test]
async fn whatsapp_retries_500_and_429_with_retry_after_then_delivers_once_in_order() {
    retries_then_delivers_in_order(
        |p| &p.whatsapp,
        whatsapp_shown,
        wa_session(),
        vec![
            Canned {
                status: 500,
                retry_after: None,
                body: json!({"error": {"message": "Service temporarily unavailable", "code": 2}}),
            },
            Canned {
                status: 429,
                retry_after: Some("1"),
                body: json!({"error": {"message": "Rate limit hit", "code": 130_429}}),
            },
        ],
        async |h, n| {
            let text = if n == 1 { "halo" } else { "lupa password" };
            h.whatsapp(&wa_text(&format!("wamid.r{n}"), text)).await
        },
    )
    .await;
}

#[tokio::test]
async fn line_retries_500_and_429_with_retry_after_then_delivers_once_in_order() {
    retries_then_delivers_in_order(
        |p| &p.line,
        line_shown,
        line_session(),
        vec![
            Canned {
                status: 500,
                retry_after: None,
                body: json!({"message": "internal error"}),
            },
            Canned {
                status: 429,
                retry_after: Some("1"),
                body: json!({"message": "The API rate limit has been exceeded. Try again later."}),
            },
        ],
        async |h, n| {
            let text = if n == 1 { "halo" } else { "lupa password" };
            h.line(&line_text(&format!("R{n}"), text)).await
        },
    )
    .await;
}

#[tokio::test]
async fn replies_pending_at_a_restart_are_delivered_by_the_next_worker() {
    // No worker: the replies are accepted (200) and wait in the outbox.
    let h = Harness::without_worker().await;
    assert_eq!(h.telegram(&tg_text(1, "/start")).await, StatusCode::OK);
    assert_eq!(
        h.whatsapp(&wa_text("wamid.x1", "halo")).await,
        StatusCode::OK
    );
    assert_eq!(h.line(&line_text("X1", "halo")).await, StatusCode::OK);
    assert_eq!(h.app().channels.pending_deliveries().await, 3);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.platforms.all_calls(), 0);

    // "Crash": the server and every handle on the database go away.
    let Harness {
        dir,
        platforms,
        server,
        worker,
    } = h;
    assert!(worker.is_none());
    server.stop().await;

    // The next boot, on the same data directory, delivers them.
    let server = Server::start(config(dir.path(), Some(&platforms))).await;
    assert_eq!(server.app.channels.pending_deliveries().await, 3);
    let worker = server.app.channels.spawn_worker();
    let h = Harness {
        dir,
        platforms,
        server,
        worker,
    };
    h.drained().await;
    assert_eq!(h.platforms.telegram.calls().len(), 1);
    assert_eq!(h.platforms.whatsapp.calls().len(), 1);
    assert_eq!(h.platforms.line.calls().len(), 1);
    assert_eq!(h.last_keys(&tg_session()).await, ["greet"]);
    assert_eq!(
        telegram_shown(&h.platforms.telegram.calls()),
        shown(&h.last_turn(&tg_session()).await)
    );

    // The ids processed before the restart are still remembered.
    assert_eq!(h.telegram(&tg_text(1, "/start")).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.drained().await;
    assert_eq!(h.platforms.telegram.calls().len(), 1);
    if let Some(worker) = h.worker {
        worker.stop().await;
    }
}
