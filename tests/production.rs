//! Production mode end to end (issue 14, SPEC §12): tanya against the reference member
//! directory (`examples/directory.rs`, a real HTTP server), a real SMTP server (aiosmtpd) and a
//! mock SMS gateway. The three flows finish with the code read from the delivered mail or SMS
//! and the password stored in the directory as an argon2id PHC; a directory that is down, slow
//! or breaks its contract costs the member a `service_unavailable`, never a wrong answer or a
//! hang; a code the SMTP server refuses is retried, then told to the member and counted.

mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::directory::ReferenceDirectory;
use support::process::TanyaProcess;
use support::sms_gateway::{SmsGateway, SmsMode};
use support::smtp::{SmtpMode, SmtpServer};
use support::{Server, keys, session};
use tanya::channels::delivery::DeliveryWorker;

/// How long a delivery may take to arrive on a loaded machine.
const ARRIVES_WITHIN: Duration = Duration::from_secs(30);

/// The systems production mode talks to.
struct Agency {
    directory: ReferenceDirectory,
    smtp: SmtpServer,
    sms: SmsGateway,
}

impl Agency {
    async fn start(smtp: SmtpMode) -> Agency {
        Agency {
            directory: ReferenceDirectory::start(&[]),
            smtp: SmtpServer::start(smtp),
            sms: SmsGateway::start(SmsMode::Accept).await,
        }
    }

    /// Every setting production mode needs, pointing at these systems, and `extra`.
    fn settings(&self, extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
        let mut settings = vec![
            ("TANYA_MODE", "production".to_string()),
            ("TANYA_PUBLIC_URL", "http://127.0.0.1:8080".to_string()),
            ("TANYA_DIRECTORY_URL", self.directory.url()),
            ("TANYA_DIRECTORY_TOKEN", self.directory.token().to_string()),
            ("TANYA_SMTP_URL", self.smtp.url()),
            ("TANYA_SMTP_FROM", "noreply@example.org".to_string()),
            ("TANYA_SMS_URL", self.sms.url()),
            ("TANYA_SMS_TOKEN", self.sms.token().to_string()),
            ("TANYA_DIRECTORY_TIMEOUT_MS", "1000".to_string()),
            ("TANYA_DIRECTORY_COOLDOWN_MS", "300".to_string()),
        ];
        settings.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        settings
    }

    /// tanya in this process, in production mode against these systems.
    async fn serve(&self, extra: &[(&'static str, &'static str)]) -> Running {
        Running::start(&self.settings(extra)).await
    }
}

/// tanya in this process with its delivery worker (which sends the codes).
struct Running {
    server: Server,
    _worker: Option<DeliveryWorker>,
}

impl Running {
    async fn start(settings: &[(&'static str, String)]) -> Running {
        let borrowed: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = Server::start(&borrowed).await;
        let worker = server.app.channels.spawn_worker();
        assert!(
            worker.is_some(),
            "production always runs the delivery worker"
        );
        Running {
            server,
            _worker: worker,
        }
    }
}

impl std::ops::Deref for Running {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

/// The 6-digit code in a delivered text.
fn code_in(text: &str) -> String {
    let found = regex::Regex::new(r"kode verifikasi Anda (\d{6})")
        .expect("regex")
        .captures(text)
        .unwrap_or_else(|| panic!("no code in {text:?}"));
    found[1].to_string()
}

fn first_key(answer: &Value) -> String {
    keys(answer).first().cloned().unwrap_or_default()
}

fn skip_without_smtp() -> bool {
    !SmtpServer::available_or_skip()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_flows_finish_against_the_directory_smtp_and_the_sms_gateway() {
    if skip_without_smtp() {
        return;
    }
    let agency = Agency::start(SmtpMode::Accept).await;
    let server = agency.serve(&[]).await;

    // check_jht_balance: Siti, code by e-mail, her cards asked of the directory only now.
    let answer = server
        .chat(None, "cek saldo jht kpj 98765432109 nik 3273016508900002")
        .await;
    assert_eq!(keys(&answer), ["ask_otp_channel"], "{answer}");
    let siti = session(&answer);
    let answer = server.press(&siti, "/otp_channel email").await;
    assert_eq!(keys(&answer), ["otp_sent"], "{answer}");
    let mails = agency.smtp.wait_for_messages(1, ARRIVES_WITHIN).await;
    assert_eq!(mails[0].to, ["siti.aminah@example.com"]);
    assert!(
        mails[0].data.contains("Subject: Kode verifikasi JMO"),
        "{}",
        mails[0].data
    );
    let answer = server.chat(Some(&siti), &code_in(&mails[0].data)).await;
    assert_eq!(keys(&answer), ["ask_card"], "{answer}");
    let answer = server.press(&siti, "/card 2").await;
    assert_eq!(keys(&answer), ["jht_balance"], "{answer}");
    assert!(answer.to_string().contains("Rp4.250.500"), "{answer}");

    // forgot_account: Budi, code by SMS, the new password stored in the directory.
    let answer = server
        .chat(None, "lupa akun kpj 12345678901 nik 3174011203880001")
        .await;
    assert_eq!(keys(&answer), ["ask_otp_channel"], "{answer}");
    let budi = session(&answer);
    assert_eq!(
        keys(&server.press(&budi, "/otp_channel sms").await),
        ["otp_sent"]
    );
    let sms = agency.sms.wait_for_messages(1, ARRIVES_WITHIN).await;
    assert_eq!(sms[0].to, "081234567890");
    let answer = server.chat(Some(&budi), &code_in(&sms[0].text)).await;
    assert_eq!(keys(&answer), ["ask_new_password"], "{answer}");
    let answer = server.chat(Some(&budi), "Rahasia#Baru2026").await;
    assert_eq!(keys(&answer), ["ask_password_confirm"], "{answer}");
    let answer = server.chat(Some(&budi), "Rahasia#Baru2026").await;
    assert_eq!(first_key(&answer), "account_recovered", "{answer}");
    let phc = agency.directory.password_phc("12345678901").await;
    assert!(
        phc.as_deref()
            .is_some_and(|p| p.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")),
        "{phc:?}"
    );

    // forgot_password: Agus, code by e-mail (the e-mail is what the flow proves).
    let answer = server
        .chat(None, "lupa password agus.wijaya@example.com 55566677788")
        .await;
    assert_eq!(keys(&answer), ["otp_sent"], "{answer}");
    let agus = session(&answer);
    let mails = agency.smtp.wait_for_messages(2, ARRIVES_WITHIN).await;
    assert_eq!(mails[1].to, ["agus.wijaya@example.com"]);
    let answer = server.chat(Some(&agus), &code_in(&mails[1].data)).await;
    assert_eq!(keys(&answer), ["ask_new_password"], "{answer}");
    let answer = server.chat(Some(&agus), "Kopi!Susu2026").await;
    assert_eq!(first_key(&answer), "password_changed", "{answer}");
    let phc = agency.directory.password_phc("55566677788").await;
    assert!(phc.is_some_and(|p| p.starts_with("$argon2id$")));

    // No demo member, no demo route.
    for (method, path) in [
        (
            reqwest::Method::GET,
            format!("/api/v1/demo/outbox?session_id={agus}"),
        ),
        (reqwest::Method::POST, "/api/v1/demo/reset".to_string()),
    ] {
        let response = server
            .client
            .request(method, server.url(&path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404, "{path}");
    }
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("tanya_code_deliveries_total{channel=\"email\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tanya_code_deliveries_total{channel=\"sms\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_is_down_is_service_unavailable_until_it_is_back() {
    if skip_without_smtp() {
        return;
    }
    let mut agency = Agency::start(SmtpMode::Accept).await;
    let server = agency.serve(&[]).await;
    agency.directory.stop();
    let ask = "cek saldo kpj 12345678901 nik 3174011203880001";
    let answer = server.chat(None, ask).await;
    assert_eq!(keys(&answer), ["service_unavailable"], "{answer}");
    assert_eq!(answer["state"], "idle", "the turn left nothing behind");
    let member = session(&answer);
    // Enough failures open the circuit: then the answer comes without calling at all.
    for _ in 0..5 {
        let answer = server.chat(Some(&member), ask).await;
        assert_eq!(keys(&answer), ["service_unavailable"], "{answer}");
    }
    agency.directory.restart();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let answer = server.chat(Some(&member), ask).await;
    assert_eq!(
        keys(&answer),
        ["ask_otp_channel"],
        "back after the cool-down: {answer}"
    );
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("tanya_directory_unavailable_total 6"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_directory_times_out_into_service_unavailable() {
    if skip_without_smtp() {
        return;
    }
    let mut agency = Agency::start(SmtpMode::Accept).await;
    let server = agency.serve(&[("TANYA_DIRECTORY_TIMEOUT_MS", "300")]).await;
    let port = agency.directory.port();
    agency.directory.stop();
    agency.directory = ReferenceDirectory::start_on(port, &["--delay-ms", "5000"]);
    let started = Instant::now();
    let answer = server
        .chat(None, "cek saldo kpj 12345678901 nik 3174011203880001")
        .await;
    assert_eq!(keys(&answer), ["service_unavailable"], "{answer}");
    // Two tries of 300 ms and a short pause, far from the directory's 5 s: no hang.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_breaking_answer_is_refused_with_a_log_line_naming_no_member() {
    if skip_without_smtp() {
        return;
    }
    let mut agency = Agency::start(SmtpMode::Accept).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut tanya = TanyaProcess::start(dir.path(), &agency.settings(&[]));
    let port = agency.directory.port();
    agency.directory.stop();
    agency.directory = ReferenceDirectory::start_on(port, &["--broken"]);
    let answer: Value = reqwest::Client::new()
        .post(tanya.url("/api/v1/chat"))
        .json(&serde_json::json!({"text": "cek saldo kpj 98765432109 nik 3273016508900002"}))
        .send()
        .await
        .expect("chat")
        .json()
        .await
        .expect("JSON");
    assert_eq!(keys(&answer), ["service_unavailable"], "{answer}");
    let log = tanya.kill_and_read_log();
    let broken: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("broke its contract"))
        .collect();
    assert!(!broken.is_empty(), "{log:#?}");
    assert!(broken[0].contains("POST /members/lookup"), "{}", broken[0]);
    for secret in ["98765432109", "3273016508900002", "siti"] {
        assert!(
            log.iter().all(|line| !line.to_lowercase().contains(secret)),
            "{secret} in the log: {log:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_the_smtp_server_refuses_is_retried_then_told_to_the_member() {
    if skip_without_smtp() {
        return;
    }
    // `451 try again later` each time: retried with backoff, given up after the third try.
    let agency = Agency::start(SmtpMode::Defer).await;
    let server = agency
        .serve(&[
            ("TANYA_DELIVERY_MAX_ATTEMPTS", "3"),
            ("TANYA_DELIVERY_RETRY_BASE_MS", "50"),
            ("TANYA_DELIVERY_RETRY_MAX_MS", "100"),
        ])
        .await;
    let answer = server
        .chat(None, "lupa password agus.wijaya@example.com 55566677788")
        .await;
    assert_eq!(keys(&answer), ["otp_sent"], "{answer}");
    let agus = session(&answer);
    assert!(
        wait_for_metric(
            &server,
            "tanya_code_deliveries_failed_total{channel=\"email\"} 1"
        )
        .await,
        "the code given up is counted"
    );
    assert_eq!(agency.smtp.attempts(), 3, "tried three times");
    let answer = server.chat(Some(&agus), "kodenya belum masuk kak").await;
    assert_eq!(first_key(&answer), "code_undelivered", "{answer}");
    assert!(
        answer.to_string().contains("a***@example.com"),
        "masked: {answer}"
    );
    let again = server.chat(Some(&agus), "halo").await;
    assert_ne!(first_key(&again), "code_undelivered", "told once: {again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_refused_for_good_is_told_without_retrying() {
    if skip_without_smtp() {
        return;
    }
    // `550 refused`: the same next time, so given up at once.
    let agency = Agency::start(SmtpMode::Refuse).await;
    let server = agency.serve(&[("TANYA_DELIVERY_MAX_ATTEMPTS", "3")]).await;
    let answer = server
        .chat(None, "lupa password agus.wijaya@example.com 55566677788")
        .await;
    let agus = session(&answer);
    assert!(
        wait_for_metric(
            &server,
            "tanya_code_deliveries_failed_total{channel=\"email\"} 1"
        )
        .await
    );
    assert_eq!(agency.smtp.attempts(), 1);
    let answer = server.chat(Some(&agus), "belum masuk").await;
    assert_eq!(first_key(&answer), "code_undelivered", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_that_cannot_be_reached_is_retried_with_backoff_then_reported() {
    if skip_without_smtp() {
        return;
    }
    let agency = Agency::start(SmtpMode::Accept).await;
    // A port nobody listens on: every try fails to connect, which is worth retrying.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let unreachable = format!("smtp://{}", closed.local_addr().expect("address"));
    drop(closed);
    let mut settings = agency.settings(&[
        ("TANYA_DELIVERY_MAX_ATTEMPTS", "3"),
        ("TANYA_DELIVERY_RETRY_BASE_MS", "50"),
        ("TANYA_DELIVERY_RETRY_MAX_MS", "100"),
    ]);
    settings.retain(|(k, _)| *k != "TANYA_SMTP_URL");
    settings.push(("TANYA_SMTP_URL", unreachable));
    let server = Running::start(&settings).await;
    let answer = server
        .chat(None, "lupa password agus.wijaya@example.com 55566677788")
        .await;
    assert_eq!(keys(&answer), ["otp_sent"], "{answer}");
    let agus = session(&answer);
    assert!(
        wait_for_metric(
            &server,
            "tanya_code_deliveries_failed_total{channel=\"email\"} 1"
        )
        .await
    );
    let metrics = metrics(&server).await;
    assert!(
        metrics.contains("tanya_delivery_retries_total{channel=\"code\"} 2"),
        "two retries before giving up: {metrics}"
    );
    let answer = server
        .chat(Some(&agus), "sudah ditunggu kok belum ada")
        .await;
    assert_eq!(first_key(&answer), "code_undelivered", "{answer}");
}

#[test]
fn production_refuses_to_start_without_its_settings_or_its_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |env: &[(&str, &str)]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tanya"))
            .arg("serve")
            .env_clear()
            .env("TANYA_BIND", "127.0.0.1:0")
            .env("TANYA_DATA_DIR", dir.path())
            .env(
                "TANYA_INTENTS_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/intents"),
            )
            .envs(env.iter().copied())
            .output()
            .expect("tanya runs");
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run(&[
        ("TANYA_MODE", "production"),
        ("TANYA_SMS_URL", "http://sms.example.org/send"),
    ]);
    for expected in [
        "TANYA_PUBLIC_URL is not set",
        "TANYA_DIRECTORY_URL is not set",
        "TANYA_DIRECTORY_TOKEN is not set",
        "TANYA_SMTP_URL is not set",
        "TANYA_SMTP_FROM is not set",
        "TANYA_SMS_TOKEN is not set",
        "TANYA_SMS_URL: must be https://",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
    let stderr = run(&[("TANYA_MODE", "demo"), ("TANYA_DIRCTORY_URL", "x")]);
    assert!(
        stderr.contains("unknown setting TANYA_DIRCTORY_URL"),
        "{stderr}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let nowhere = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let stderr = run(&[
        ("TANYA_MODE", "production"),
        ("TANYA_PUBLIC_URL", "https://tanya.example.org"),
        ("TANYA_DIRECTORY_URL", &nowhere),
        ("TANYA_DIRECTORY_TOKEN", "fake-token"),
        ("TANYA_SMTP_URL", "smtp://127.0.0.1:2525"),
        ("TANYA_SMTP_FROM", "noreply@example.org"),
        ("TANYA_SMS_URL", "http://127.0.0.1:9/sms"),
        ("TANYA_SMS_TOKEN", "fake-token"),
    ]);
    assert!(
        stderr.contains("TANYA_DIRECTORY_URL: the member directory does not answer"),
        "{stderr}"
    );
    assert!(!stderr.contains("fake-token"), "{stderr}");
}

async fn metrics(server: &Server) -> String {
    server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// Whether `/metrics` shows `line` within `ARRIVES_WITHIN`.
async fn wait_for_metric(server: &Server, line: &str) -> bool {
    let deadline = Instant::now() + ARRIVES_WITHIN;
    while Instant::now() < deadline {
        if metrics(server).await.contains(line) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A Telegram Bot API stand-in: records every `sendMessage` text and answers `ok`.
struct TelegramMock {
    url: String,
    texts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TelegramMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TelegramMock {
    async fn start() -> TelegramMock {
        let texts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = texts.clone();
        let router = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let recorded = recorded.clone();
            async move {
                let call: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if let Some(text) = call["text"].as_str() {
                    recorded.lock().unwrap().push(text.to_string());
                }
                axum::Json(serde_json::json!({"ok": true, "result": {"message_id": 1}}))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("mock serves");
        });
        TelegramMock { url, texts, task }
    }

    /// Waits until a sent text contains `part`; every text sent so far.
    async fn wait_for(&self, part: &str) -> Vec<String> {
        self.wait_until(|t| t.contains(part)).await
    }

    /// Waits until a sent text passes `test`; every text sent so far.
    async fn wait_until(&self, test: impl Fn(&String) -> bool) -> Vec<String> {
        let deadline = Instant::now() + ARRIVES_WITHIN;
        loop {
            let texts = self.texts.lock().unwrap().clone();
            if texts.iter().any(&test) || Instant::now() > deadline {
                return texts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

const TELEGRAM_SECRET: &str = "fake-telegram-secret";

/// A private Telegram message from chat 4242.
async fn telegram_says(server: &Server, update_id: i64, text: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let update = serde_json::json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": now,
        "from": {"id": 4242, "is_bot": false, "first_name": "Agus"},
        "chat": {"id": 4242, "type": "private", "first_name": "Agus"},
        "text": text
    }});
    let status = server
        .client
        .post(server.url("/webhooks/telegram"))
        .header("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)
        .json(&update)
        .send()
        .await
        .expect("webhook")
        .status();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_telegram_an_undelivered_code_is_pushed_to_the_chat() {
    if skip_without_smtp() {
        return;
    }
    let agency = Agency::start(SmtpMode::Refuse).await;
    let telegram = TelegramMock::start().await;
    let mut settings = agency.settings(&[]);
    settings.push(("TANYA_TELEGRAM_BOT_TOKEN", "123:fake-bot-token".to_string()));
    settings.push(("TANYA_TELEGRAM_SECRET_TOKEN", TELEGRAM_SECRET.to_string()));
    settings.push(("TANYA_TELEGRAM_API_BASE", telegram.url.clone()));
    let server = Running::start(&settings).await;
    telegram_says(
        &server,
        1,
        "lupa password agus.wijaya@example.com 55566677788",
    )
    .await;
    // Either wording of code_undelivered.
    let told = |t: &String| t.contains("gagal terkirim") || t.contains("tidak berhasil kami kirim");
    let texts = telegram.wait_until(told).await;
    let undelivered: Vec<&String> = texts.iter().filter(|t| told(t)).collect();
    assert!(
        undelivered
            .first()
            .is_some_and(|t| t.contains("a***@example.com")),
        "{texts:#?}"
    );
    assert_eq!(undelivered.len(), 1, "told once, in the chat: {texts:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_reset_ends_on_the_password_page_and_the_directory_gets_the_hash() {
    if skip_without_smtp() {
        return;
    }
    let agency = Agency::start(SmtpMode::Accept).await;
    let telegram = TelegramMock::start().await;
    let mut settings = agency.settings(&[]);
    settings.push(("TANYA_TELEGRAM_BOT_TOKEN", "123:fake-bot-token".to_string()));
    settings.push(("TANYA_TELEGRAM_SECRET_TOKEN", TELEGRAM_SECRET.to_string()));
    settings.push(("TANYA_TELEGRAM_API_BASE", telegram.url.clone()));
    let server = Running::start(&settings).await;
    telegram_says(
        &server,
        1,
        "lupa password agus.wijaya@example.com 55566677788",
    )
    .await;
    let mails = agency.smtp.wait_for_messages(1, ARRIVES_WITHIN).await;
    telegram_says(&server, 2, &code_in(&mails[0].data)).await;
    let texts = telegram.wait_for("/password/").await;
    let link = texts
        .iter()
        .find_map(|t| {
            regex::Regex::new(r"http://127\.0\.0\.1:8080(/password/[A-Za-z0-9_-]+)")
                .expect("regex")
                .captures(t)
                .map(|c| c[1].to_string())
        })
        .unwrap_or_else(|| panic!("a password link in {texts:#?}"));
    let page = server
        .client
        .post(server.url(&link))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("new_password=Kopi%21Susu2026&confirm_password=Kopi%21Susu2026")
        .send()
        .await
        .expect("page");
    assert!(page.status().is_success(), "{}", page.status());
    let phc = agency.directory.password_phc("55566677788").await;
    assert!(
        phc.is_some_and(|p| p.starts_with("$argon2id$")),
        "stored in the directory"
    );
    // Either wording of password_changed.
    let changed = |t: &String| t.contains("berhasil diganti") || t.contains("sudah diperbarui");
    let texts = telegram.wait_until(changed).await;
    assert!(
        texts.iter().any(changed),
        "password_changed pushed to the chat: {texts:#?}"
    );
}
