//! The password page (SPEC §6, §12; issue 14): the real application on `127.0.0.1:0`, a member
//! on Telegram who has typed the right code and got the page's link, and the page driven over
//! HTTP — the form and its headers, every rule a weak password breaks, a mismatch, the password
//! stored as an argon2id PHC in the member directory, one use, ten minutes (on the app's own
//! clock, moved by the test), a bounded number of submissions, and one page for every link that
//! does not open. Telegram points at an address nothing listens on and no delivery worker runs:
//! what the chat is told stays in the channel outbox, where the test counts it.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tanya::app::App;
use tanya::clock::{ManualClock, Timestamp};
use tanya::config::Config;
use tanya::dialog::keys::ResponseKey;
use tanya::engine::{IncomingMessage, Input};
use tanya::identity::{Email, Kpj};
use tanya::security::page_token::PageToken;
use tanya::security::password::{SecretString, verify_password};
use tanya::store::SessionKey;

const GOOD: &str = "Rahasia#Baru2026";
const CHAT_ID: &str = "5550001";

/// Settings with Telegram on (so its sessions are messaging ones and pushes are queued).
fn config(data_dir: &Path) -> Config {
    let data_dir = data_dir.display().to_string();
    let intents_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/intents").to_string();
    Config::from_lookup(move |name| {
        let value = match name {
            "TANYA_DATA_DIR" => data_dir.as_str(),
            "TANYA_INTENTS_DIR" => intents_dir.as_str(),
            "TANYA_PUBLIC_URL" => "https://tanya.example.org",
            "TANYA_TELEGRAM_BOT_TOKEN" => "123456:test-bot-token",
            "TANYA_TELEGRAM_SECRET_TOKEN" => "telegram-secret-token",
            // Nothing listens there, and no worker sends: pushed replies stay queued.
            "TANYA_TELEGRAM_API_BASE" => "http://127.0.0.1:9",
            _ => return None,
        };
        Some(value.to_string())
    })
    .expect("test config")
}

/// The application served on an ephemeral port.
struct Page {
    base: String,
    client: reqwest::Client,
    app: App,
    /// The app's clock, for the in-memory application.
    clock: Option<Arc<ManualClock>>,
    task: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Page {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Page {
    /// The in-memory application on a clock the test moves.
    async fn in_memory() -> Page {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config(dir.path());
        let content = Arc::new(tanya::app::load_content(&config).expect("content"));
        let nlu = Arc::new(tanya::nlu::Nlu::train(&content, config.nlu));
        let clock = Arc::new(ManualClock::starting_at(Timestamp(1_800_000_000_000)));
        let app = App::in_memory(config, content, nlu, clock.clone())
            .await
            .expect("app");
        Page::serve(app, Some(clock), Some(dir)).await
    }

    /// The real application on sled in `dir`, kept by the caller to read it afterwards.
    async fn on_disk(dir: &Path) -> Page {
        let app = App::build(config(dir)).await.expect("app builds");
        Page::serve(app, None, None).await
    }

    async fn serve(
        app: App,
        clock: Option<Arc<ManualClock>>,
        dir: Option<tempfile::TempDir>,
    ) -> Page {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let router = app.router();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("server runs");
        });
        Page {
            base,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            app,
            clock,
            task,
            _dir: dir,
        }
    }

    /// One chat message from the Telegram member `chat`: the response keys and texts.
    async fn says(&self, chat: &str, text: &str) -> Vec<(String, String)> {
        let turn = self
            .app
            .engine
            .handle(IncomingMessage {
                session: session(chat),
                input: Input::Text(text.to_string()),
                client_message_id: None,
            })
            .await
            .expect("turn");
        turn.messages.into_iter().map(|m| (m.key, m.text)).collect()
    }

    /// Runs forgot_password for Budi on Telegram chat `chat` up to the page's link; the
    /// link's token.
    async fn link_for(&self, chat: &str) -> String {
        let asked = self
            .says(chat, "lupa password budi.santoso@example.com 12345678901")
            .await;
        assert_eq!(keys(&asked), ["otp_sent"]);
        let outbox = self.app.outbox.as_ref().expect("demo mode");
        let code = outbox
            .entries(&session(chat))
            .await
            .expect("outbox")
            .last()
            .expect("a code")
            .code
            .clone();
        let answer = self.says(chat, &code).await;
        assert_eq!(keys(&answer), ["password_link_sent"]);
        token_in(&answer[0].1)
    }

    fn url(&self, token: &str) -> String {
        format!("{}/password/{token}", self.base)
    }

    async fn get(&self, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(token))
            .send()
            .await
            .expect("request")
    }

    async fn post(&self, token: &str, new: &str, confirm: &str) -> reqwest::Response {
        let body = format!(
            "new_password={}&confirm_password={}",
            form_encode(new),
            form_encode(confirm)
        );
        self.client
            .post(self.url(token))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    fn advance(&self, by: Duration) {
        self.clock.as_ref().expect("the in-memory app").advance(by);
    }

    /// The text of response `key`, as the page shows it (HTML-escaped).
    fn text(&self, key: ResponseKey) -> String {
        let text = self.app.engine.page_text(key, &[]);
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    }

    /// The bot messages of the session's latest turn, as its history keeps them.
    async fn last_turn_keys(&self, chat: &str) -> Vec<String> {
        let history = self
            .app
            .engine
            .history(&session(chat))
            .await
            .expect("history")
            .expect("session");
        let mut keys: Vec<String> = history
            .iter()
            .rev()
            .take_while(|entry| entry.key.is_some())
            .filter_map(|entry| entry.key.clone())
            .collect();
        keys.reverse();
        keys
    }
}

/// `text` as an `application/x-www-form-urlencoded` value.
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn session(chat: &str) -> SessionKey {
    SessionKey::new("telegram", chat).expect("key")
}

fn keys(answer: &[(String, String)]) -> Vec<&str> {
    answer.iter().map(|(key, _)| key.as_str()).collect()
}

/// The token of the page link in `text` (`…/password/{token}`).
fn token_in(text: &str) -> String {
    let (_, rest) = text
        .split_once("https://tanya.example.org/password/")
        .unwrap_or_else(|| panic!("a link on TANYA_PUBLIC_URL in {text:?}"));
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(PageToken::parse(&token).is_some(), "{token}");
    token
}

fn header(response: &reqwest::Response, name: &reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ASCII")
        .to_string()
}

/// Every page of the password page carries these.
fn assert_page_headers(response: &reqwest::Response) {
    assert_eq!(header(response, &CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(response, &CACHE_CONTROL), "no-store");
    assert_eq!(header(response, &REFERRER_POLICY), "no-referrer");
    let csp = header(response, &CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe"),
        "no script, nothing unsafe: {csp}"
    );
    assert_eq!(
        header(response, &reqwest::header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    assert_eq!(header(response, &reqwest::header::X_FRAME_OPTIONS), "DENY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_is_accessible_mobile_first_and_served_under_a_strict_policy() {
    let page = Page::in_memory().await;
    let token = page.link_for(CHAT_ID).await;
    let response = page.get(&token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_page_headers(&response);
    let html = response.text().await.expect("body");
    for expected in [
        "<html lang=\"id\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<label for=\"new-password\">",
        "<label for=\"confirm-password\">",
        "id=\"new-password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\"",
        "id=\"confirm-password\" name=\"confirm_password\" type=\"password\"",
        "<form method=\"post\" novalidate>",
        "href=\"../password-page/page.css\"",
    ] {
        assert!(html.contains(expected), "{expected} missing:\n{html}");
    }
    // The rules are the chat's own, listed before the password is typed.
    for rule in [
        ResponseKey::PasswordRuleLength,
        ResponseKey::PasswordRuleSymbol,
        ResponseKey::PasswordRulePersonal,
    ] {
        assert!(html.contains(&page.text(rule)), "{rule:?}");
    }
    let lower = html.to_lowercase();
    for forbidden in [
        "<script", " style=", "<style", "http://", "https://", "onclick",
    ] {
        assert!(
            !lower.contains(forbidden),
            "{forbidden} in the page:\n{html}"
        );
    }

    // The one stylesheet comes from tanya itself.
    let css = page
        .client
        .get(format!("{}/password-page/page.css", page.base))
        .send()
        .await
        .expect("request");
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(header(&css, &CONTENT_TYPE), "text/css; charset=utf-8");
    let css = css.text().await.expect("css");
    assert!(css.contains("min-height: 48px"), "large touch targets");
    assert!(!css.contains("url("), "no outside assets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_password_is_refused_with_every_rule_it_breaks_and_a_mismatch_is_named() {
    let page = Page::in_memory().await;
    let token = page.link_for(CHAT_ID).await;

    let response = page.post(&token, "password", "passwort").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_page_headers(&response);
    let html = response.text().await.expect("body");
    for broken in [
        ResponseKey::PasswordRuleUpper,
        ResponseKey::PasswordRuleDigit,
        ResponseKey::PasswordRuleSymbol,
        ResponseKey::PageMismatch,
    ] {
        assert!(
            html.contains(&page.text(broken)),
            "{broken:?} not shown:\n{html}"
        );
    }
    for kept in [
        ResponseKey::PasswordRuleLength,
        ResponseKey::PasswordRuleLower,
        ResponseKey::PasswordRulePersonal,
    ] {
        let shown = html.matches(&page.text(kept)).count();
        assert_eq!(
            shown, 1,
            "{kept:?} is only in the list of rules, not an error"
        );
    }
    // An error summary first, each problem a link to its field; the fields marked invalid.
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains(&page.text(ResponseKey::PageErrorsTitle)));
    assert!(html.contains("<a href=\"#new-password\">"));
    assert!(html.contains("<a href=\"#confirm-password\">"));
    assert_eq!(html.matches("aria-invalid=\"true\"").count(), 2);
    assert!(
        !html.contains("passwort") && !html.contains("value="),
        "never echoed"
    );

    // Personal data is a rule of its own; two equal entries are no mismatch.
    let with_nik = "Abc#3174011203880001";
    let html = page
        .post(&token, with_nik, with_nik)
        .await
        .text()
        .await
        .expect("body");
    assert!(
        html.contains(&page.text(ResponseKey::PasswordRulePersonal)),
        "{html}"
    );
    assert!(!html.contains(&page.text(ResponseKey::PageMismatch)));
    assert!(!html.contains(with_nik), "never echoed");

    // A good password typed twice differently is only a mismatch.
    let response = page.post(&token, GOOD, "Rahasia#Baru2027").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    assert!(html.contains(&page.text(ResponseKey::PageMismatch)));
    assert_eq!(html.matches("aria-invalid=\"true\"").count(), 1);

    // None of it touched the conversation: the member is still on the page.
    assert_eq!(page.last_turn_keys(CHAT_ID).await, ["password_link_sent"]);
    assert_eq!(page.get(&token).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_password_is_stored_as_argon2id_the_chat_is_told_and_the_link_works_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = Page::on_disk(dir.path()).await;
    let token = page.link_for(CHAT_ID).await;
    let queued = page.app.channels.pending_deliveries().await;

    let response = page.post(&token, GOOD, GOOD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_page_headers(&response);
    let html = response.text().await.expect("body");
    assert!(
        html.contains(&page.text(ResponseKey::PageDoneTitle)),
        "{html}"
    );
    assert!(!html.contains(GOOD));

    // The flow ended in the chat as if the password had been typed there, and the answer was
    // queued for the member's Telegram chat.
    assert_eq!(page.last_turn_keys(CHAT_ID).await, ["password_changed"]);
    assert!(page.app.channels.pending_deliveries().await > queued);

    // One use: the link is gone, for a look and for a second password alike.
    for response in [page.get(&token).await, page.post(&token, GOOD, GOOD).await] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let html = response.text().await.expect("body");
        assert!(
            html.contains(&page.text(ResponseKey::PageGoneTitle)),
            "{html}"
        );
    }

    // The directory holds an argon2id PHC of the new password, with OWASP's parameters.
    let app = page.app.clone();
    drop(page);
    app.durability.make_durable().await.expect("durable");
    drop(app);
    let stores = reopen(dir.path());
    let member = stores
        .members
        .find_by_email_kpj(
            &Email::parse("budi.santoso@example.com").expect("email"),
            &Kpj::parse("12345678901").expect("kpj"),
        )
        .await
        .expect("directory")
        .expect("Budi");
    let phc = member.password_phc.expect("a password");
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(verify_password(&SecretString::new(GOOD.into()), &phc));
    let files = all_bytes(dir.path());
    assert!(
        !files.windows(GOOD.len()).any(|w| w == GOOD.as_bytes()),
        "the password itself is nowhere in the data directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_expires_after_ten_minutes_on_the_app_s_clock() {
    let page = Page::in_memory().await;
    let token = page.link_for(CHAT_ID).await;
    page.advance(Duration::from_secs(9 * 60 + 59));
    assert_eq!(page.get(&token).await.status(), StatusCode::OK);
    page.advance(Duration::from_secs(1));
    assert_eq!(page.get(&token).await.status(), StatusCode::NOT_FOUND);
    let response = page.post(&token, GOOD, GOOD).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_page_headers(&response);
    assert_eq!(
        page.last_turn_keys(CHAT_ID).await,
        ["password_link_sent"],
        "nothing was stored"
    );
    // Asking the bot again gives a link that works.
    let answer = page.says(CHAT_ID, "linknya gak bisa dibuka").await;
    assert_eq!(keys(&answer), ["password_link_sent"]);
    let fresh = token_in(&answer[0].1);
    assert_eq!(page.get(&fresh).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_malformed_used_and_expired_links_get_one_and_the_same_page() {
    let page = Page::in_memory().await;
    let unknown = PageToken::generate().as_url();
    let first = page.get(&unknown).await;
    assert_eq!(first.status(), StatusCode::NOT_FOUND);
    assert_page_headers(&first);
    let expected = first.text().await.expect("body");
    assert!(
        expected.contains(&page.text(ResponseKey::PageGoneText)),
        "{expected}"
    );
    assert!(
        expected.contains("175"),
        "what to do: ask for a new link or call 175"
    );

    let used = page.link_for("1").await;
    assert_eq!(page.post(&used, GOOD, GOOD).await.status(), StatusCode::OK);
    let expired = page.link_for("2").await;
    page.advance(Duration::from_secs(11 * 60));
    for token in [
        unknown.as_str(),
        "not-a-token",
        "AAAAAAAAAAAAAAAAAAAAAA%2F",
        used.as_str(),
        expired.as_str(),
    ] {
        for response in [page.get(token).await, page.post(token, GOOD, GOOD).await] {
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{token}");
            assert_eq!(response.text().await.expect("body"), expected, "{token}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_takes_ten_submissions_and_no_more() {
    let page = Page::in_memory().await;
    let token = page.link_for(CHAT_ID).await;
    for _ in 0..10 {
        let response = page.post(&token, "lemah", "lemah").await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The eleventh ends the link, even with a good password.
    assert_eq!(
        page.post(&token, GOOD, GOOD).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(page.get(&token).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(page.last_turn_keys(CHAT_ID).await, ["password_link_sent"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_link_replaces_the_old_and_leaving_the_flow_ends_it() {
    let page = Page::in_memory().await;
    let old = page.link_for(CHAT_ID).await;
    let answer = page.says(CHAT_ID, "kirim ulang link").await;
    assert_eq!(keys(&answer), ["password_link_sent"]);
    let new = token_in(&answer[0].1);
    assert_ne!(old, new);
    assert_eq!(page.get(&old).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(page.get(&new).await.status(), StatusCode::OK);

    let answer = page.says(CHAT_ID, "batal").await;
    assert_eq!(keys(&answer), ["cancelled"]);
    assert_eq!(page.get(&new).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        page.post(&new, GOOD, GOOD).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_typed_into_the_chat_meanwhile_is_neither_read_nor_kept_nor_echoed() {
    let page = Page::in_memory().await;
    let token = page.link_for(CHAT_ID).await;
    let answer = page.says(CHAT_ID, GOOD).await;
    assert_eq!(
        keys(&answer),
        ["password_not_in_chat", "password_link_pending"]
    );
    assert!(answer.iter().all(|(_, text)| !text.contains(GOOD)));
    let history = page
        .app
        .engine
        .history(&session(CHAT_ID))
        .await
        .expect("history")
        .expect("session");
    assert!(history.iter().all(|entry| !entry.text.contains(GOOD)));
    assert!(history.iter().any(|entry| entry.text == "••••"));
    // The history never holds the link's token either: only the message sent did.
    assert!(history.iter().all(|entry| !entry.text.contains(&token)));
    assert!(history.iter().any(|entry| {
        entry
            .text
            .contains("https://tanya.example.org/password/••••")
    }));
    // The page still works, and the typed password was not stored by it.
    assert_eq!(page.get(&token).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_the_form_is_refused_without_counting() {
    let page = Page::in_memory().await;
    let token = page.link_for(CHAT_ID).await;
    let json = page
        .client
        .post(page.url(&token))
        .json(&serde_json::json!({ "new_password": GOOD, "confirm_password": GOOD }))
        .send()
        .await
        .expect("request");
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_page_headers(&json);
    let huge = "A#1a".repeat(20 * 1024);
    let big = page.post(&token, &huge, &huge).await;
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    for _ in 0..10 {
        assert_eq!(
            page.post(&token, "x", "x").await.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "the refused bodies counted no submission"
        );
    }
}

/// Log output, kept for the assertions.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neither_the_token_nor_the_password_is_ever_logged() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let capture = Capture::default();
    let writer = capture.clone();
    // Everything, at every level, from every crate (the HTTP server's included).
    let installed = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_writer(move || writer.clone()),
        )
        .try_init();
    assert!(
        installed.is_ok(),
        "the only test here that installs a subscriber"
    );

    let page = Page::in_memory().await;
    let token = page.link_for(CHAT_ID).await;
    page.get(&token).await;
    page.post(&token, "Rahasia#Baru", "Rahasia#Lain").await;
    page.post(&token, GOOD, GOOD).await;
    let logs = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf-8");
    assert!(
        logs.contains("password_changed"),
        "the capture is not vacuous:\n{logs}"
    );
    for secret in [token.as_str(), GOOD, "Rahasia#Baru", "Rahasia#Lain"] {
        assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
    }
}

/// The stores in `dir` once the server that held them has let go (sled may keep the lock a
/// moment after the last handle is dropped).
fn reopen(dir: &Path) -> tanya::store::Stores {
    for _ in 0..100 {
        if let Ok(stores) =
            tanya::store::open_embedded(dir, tanya::store::EmbeddedOptions::default())
        {
            return stores;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tanya::store::open_embedded(dir, tanya::store::EmbeddedOptions::default())
        .expect("the database reopens")
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
