//! Several `tanya serve` processes on one PostgreSQL (issue 13), each with its own data
//! directory and nothing shared but the database: one session's messages spread over both
//! instances at once (order kept, nothing lost), a code sent by one accepted by the other, a
//! lockout made in one refused in the other, a Telegram update redelivered to the other
//! processed once and every reply sent exactly once, and a SIGKILL of one instance under load
//! losing no acknowledged turn while the conversations go on through the other.

mod support;

use axum::extract::State;
use axum::http::Uri;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::postgres::TempPostgres;
use support::process::TanyaProcess;
use support::scripted::{
    Record, assert_acknowledged_turns_stored, keys, script, send, stored_turns,
};

/// Concurrent simulated members of the kill test.
const WORKERS: usize = 12;
/// Turns per member (within the 50 exchanges a session shows in its history).
const TURNS_PER_WORKER: usize = 24;
/// Acknowledged turns (in all) after which the first instance is killed.
const KILL_AFTER: usize = 100;
const TELEGRAM_TOKEN: &str = "123456:test-only-token";
const TELEGRAM_SECRET: &str = "test-only-secret";

/// A cluster and the settings every instance on it gets.
struct Shared {
    /// Runs as long as the instances use it.
    _postgres: TempPostgres,
    env: Vec<(&'static str, String)>,
}

impl Shared {
    fn start(extra: &[(&'static str, String)]) -> Shared {
        let postgres = TempPostgres::start();
        let mut env = vec![
            ("TANYA_DATABASE_URL", postgres.url()),
            ("TANYA_DB_POOL_SIZE", "4".to_string()),
            ("TANYA_DEMO_EXTRA_MEMBERS", WORKERS.to_string()),
            ("TANYA_LIMIT_CLIENT_IP", "off".to_string()),
            ("TANYA_LIMIT_WEB_SESSION", "off".to_string()),
        ];
        env.extend_from_slice(extra);
        Shared {
            _postgres: postgres,
            env,
        }
    }

    /// An instance on the shared database, with a data directory of its own.
    fn instance(&self) -> (TanyaProcess, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("data dir");
        (TanyaProcess::start(dir.path(), &self.env), dir)
    }

    /// Two instances started at the same moment (both apply the migrations at once).
    fn two_instances(&self) -> [(TanyaProcess, tempfile::TempDir); 2] {
        std::thread::scope(|scope| {
            let first = scope.spawn(|| self.instance());
            let second = scope.spawn(|| self.instance());
            [
                first.join().expect("the first instance starts"),
                second.join().expect("the second instance starts"),
            ]
        })
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn chat(client: &reqwest::Client, to: &TanyaProcess, body: Value) -> Value {
    let response = client
        .post(to.url("/api/v1/chat"))
        .json(&body)
        .send()
        .await
        .expect("chat");
    assert_eq!(response.status(), 200, "{body}");
    response.json().await.expect("JSON answer")
}

async fn last_code(client: &reqwest::Client, from: &TanyaProcess, session: &str) -> String {
    let outbox: Value = client
        .get(from.url(&format!("/api/v1/demo/outbox?session_id={session}")))
        .send()
        .await
        .expect("outbox")
        .json()
        .await
        .expect("outbox JSON");
    outbox["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["code"].as_str())
        .expect("a code in the outbox")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_take_turns_of_one_session_one_after_the_other_and_share_codes_and_lockouts()
{
    let shared = tokio::task::spawn_blocking(|| Shared::start(&[]))
        .await
        .expect("cluster");
    let shared = Arc::new(shared);
    let [(a, _a_dir), (b, _b_dir)] = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || shared.two_instances())
            .await
            .expect("instances")
    };
    let client = client();

    // One session, messages sent to both instances at the same moment, twenty times: each
    // pair is processed one after the other, so every message is in the history.
    let first = chat(&client, &a, json!({ "text": "halo" })).await;
    let session = first["session_id"].as_str().expect("session").to_string();
    for _ in 0..20 {
        let body = json!({ "session_id": session, "text": "apa itu jmo" });
        let (from_a, from_b) = tokio::join!(
            chat(&client, &a, body.clone()),
            chat(&client, &b, body.clone())
        );
        assert_eq!(keys(&from_a), ["faq_what_is_jmo"]);
        assert_eq!(keys(&from_b), ["faq_what_is_jmo"]);
    }
    let turns = stored_turns(&client, b.address, &session).await;
    assert_eq!(turns.len(), 41, "no turn overwrote another: {turns:?}");

    // A code sent by A is accepted by B (one server key, in the database).
    let balance = chat(&client, &a, json!({ "text": "cek saldo jht" })).await;
    let asking = balance["session_id"].as_str().expect("session").to_string();
    let identity = chat(
        &client,
        &b,
        json!({ "session_id": asking, "text": "kpj 12345678901 nik 3174011203880001" }),
    )
    .await;
    assert_eq!(keys(&identity), ["ask_otp_channel"]);
    let sent = chat(
        &client,
        &a,
        json!({ "session_id": asking, "payload": "/otp_channel sms" }),
    )
    .await;
    assert_eq!(keys(&sent), ["otp_sent"]);
    let code = last_code(&client, &b, &asking).await;
    let accepted = chat(&client, &b, json!({ "session_id": asking, "text": code })).await;
    assert!(
        keys(&accepted)[0] == "ask_card" || keys(&accepted)[0] == "jht_balance",
        "{accepted}"
    );

    // Three wrong codes through A lock Budi out; B refuses him at once.
    let forgot = chat(&client, &a, json!({ "text": "lupa password" })).await;
    let locked_session = forgot["session_id"].as_str().expect("session").to_string();
    let sent = chat(
        &client,
        &a,
        json!({ "session_id": locked_session, "text": "budi.santoso@example.com 12345678901" }),
    )
    .await;
    assert_eq!(keys(&sent), ["otp_sent"]);
    let code = last_code(&client, &a, &locked_session).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for expected in [
        ["otp_invalid"].as_slice(),
        &["otp_invalid"],
        &["otp_locked", "handoff"],
    ] {
        let answer = chat(
            &client,
            &a,
            json!({ "session_id": locked_session, "text": wrong }),
        )
        .await;
        assert_eq!(keys(&answer), expected);
    }
    let elsewhere = chat(&client, &b, json!({ "text": "lupa password" })).await;
    let again = chat(
        &client,
        &b,
        json!({
            "session_id": elsewhere["session_id"],
            "text": "budi.santoso@example.com 12345678901",
        }),
    )
    .await;
    assert_eq!(keys(&again), ["otp_locked", "handoff"]);
}

/// A Telegram Bot API on `127.0.0.1:0` that counts the messages sent to each chat, taking
/// 100 ms per call.
struct TelegramApi {
    base: String,
    sent: Arc<Mutex<HashMap<i64, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TelegramApi {
    async fn start() -> TelegramApi {
        async fn record(
            State(sent): State<Arc<Mutex<HashMap<i64, usize>>>>,
            uri: Uri,
            body: axum::body::Bytes,
        ) -> axum::Json<Value> {
            // Slow, as a platform under load is: calls stay in flight while the other
            // instance's worker looks at the queue.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if uri.path().ends_with("/sendMessage") {
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let chat = body["chat_id"].as_i64().expect("chat_id");
                *sent.lock().unwrap().entry(chat).or_default() += 1;
            }
            axum::Json(json!({"ok": true, "result": {"message_id": 1}}))
        }
        let sent = Arc::new(Mutex::new(HashMap::new()));
        let router = axum::Router::new()
            .fallback(record)
            .with_state(sent.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("mock serves");
        });
        TelegramApi { base, sent, task }
    }

    fn sent(&self) -> HashMap<i64, usize> {
        self.sent.lock().unwrap().clone()
    }

    /// Waits until `total` messages were sent, or a while longer when they all were (to
    /// catch a duplicate arriving late); the counts per chat.
    async fn settle(&self, total: usize) -> HashMap<i64, usize> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.sent().values().sum::<usize>() < total && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.sent()
    }
}

impl Drop for TelegramApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn telegram_update(update_id: i64, chat: i64, text: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": now,
        "from": {"id": chat, "is_bot": false, "first_name": "Sari"},
        "chat": {"id": chat, "type": "private", "first_name": "Sari"},
        "text": text
    }})
}

async fn deliver(client: &reqwest::Client, to: &TanyaProcess, update: &Value) -> u16 {
    client
        .post(to.url("/webhooks/telegram"))
        .header("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)
        .json(update)
        .send()
        .await
        .expect("webhook")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_redelivered_to_the_other_instance_is_processed_once_and_every_reply_sent_once() {
    let telegram = TelegramApi::start().await;
    let settings = [
        ("TANYA_TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN.to_string()),
        ("TANYA_TELEGRAM_SECRET_TOKEN", TELEGRAM_SECRET.to_string()),
        ("TANYA_TELEGRAM_API_BASE", telegram.base.clone()),
    ];
    let shared = tokio::task::spawn_blocking(move || Shared::start(&settings))
        .await
        .expect("cluster");
    let shared = Arc::new(shared);
    let [(a, _a_dir), (b, _b_dir)] = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || shared.two_instances())
            .await
            .expect("instances")
    };
    let client = client();

    // How many messages one first question gets, from one instance alone.
    assert_eq!(
        deliver(&client, &a, &telegram_update(1, 1000, "apa itu jmo")).await,
        200
    );
    let per_turn = loop {
        if let Some(sent) = telegram.sent().get(&1000) {
            break *sent;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // Twenty chats ask the same first question, half through each instance; every update is
    // then redelivered to the other instance. Both workers send from the shared queue.
    let chats: Vec<i64> = (1001..=1020).collect();
    for (n, chat) in chats.iter().enumerate() {
        let update = telegram_update(*chat, *chat, "apa itu jmo");
        let (first, second) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        assert_eq!(deliver(&client, first, &update).await, 200);
        assert_eq!(
            deliver(&client, second, &update).await,
            200,
            "a redelivery is acknowledged"
        );
    }
    let sent = telegram.settle(per_turn * (chats.len() + 1)).await;
    for chat in &chats {
        assert_eq!(
            sent.get(chat).copied().unwrap_or(0),
            per_turn,
            "chat {chat}: one turn's replies, each sent once: {sent:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_turn_survives_a_sigkill_of_one_instance_and_the_other_goes_on() {
    let shared = tokio::task::spawn_blocking(|| Shared::start(&[]))
        .await
        .expect("cluster");
    let shared = Arc::new(shared);
    let [(mut a, _a_dir), (b, _b_dir)] = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || shared.two_instances())
            .await
            .expect("instances")
    };
    let client = client();
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let records: Vec<Arc<Mutex<Record>>> = (0..WORKERS).map(|_| Arc::default()).collect();
    let addresses = [a.address, b.address];
    let mut workers = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let (client, record, acknowledged) = (client.clone(), record.clone(), acknowledged.clone());
        workers.push(tokio::spawn(async move {
            for step in 0..TURNS_PER_WORKER {
                // Each member's turns alternate between the instances; once A is gone, B
                // takes them all.
                let mut address = addresses[(i + step) % 2];
                let session = record.lock().unwrap().session.clone();
                let answer = loop {
                    record.lock().unwrap().in_flight = true;
                    match send(&client, address, session.as_deref(), i, step).await {
                        Ok(answer) => break answer,
                        // Unanswered by A (killed): the message may or may not have been
                        // processed there, so this member stops, as a member whose app
                        // shows an error would have to look first.
                        Err(Some(_)) => return,
                        // The outbox read failed (A is gone): nothing was sent; try B.
                        Err(None) if address != addresses[1] => {
                            record.lock().unwrap().in_flight = false;
                            address = addresses[1];
                        }
                        Err(None) => panic!("member {i}: B stopped answering"),
                    }
                };
                let (_, expected) = script(i, step);
                let got = keys(&answer);
                assert_eq!(got, [expected], "member {i} step {step}");
                let mut record = record.lock().unwrap();
                record.session = answer["session_id"].as_str().map(str::to_string);
                record.acknowledged.push(got);
                record.in_flight = false;
                acknowledged.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    while acknowledged.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    a.kill();
    for worker in workers {
        worker
            .await
            .expect("a worker ended without a failed assertion");
    }
    let total = acknowledged.load(Ordering::SeqCst);
    assert!(
        total < WORKERS * TURNS_PER_WORKER,
        "the kill came after the load ({total} turns)"
    );

    for (i, record) in records.iter().enumerate() {
        let record = std::mem::take(&mut *record.lock().unwrap());
        let Some(session) = record.session.clone() else {
            continue;
        };
        let turns = stored_turns(&client, b.address, &session).await;
        assert_acknowledged_turns_stored(i, &record, &turns);
        // The conversation goes on through B from the stored state.
        for step in turns.len()..turns.len() + 3 {
            let answer = send(&client, b.address, Some(&session), i, step)
                .await
                .expect("B answers");
            assert_eq!(answer["session_id"], json!(session), "member {i}");
            assert_eq!(keys(&answer), [script(i, step).1], "member {i} step {step}");
        }
    }
}
