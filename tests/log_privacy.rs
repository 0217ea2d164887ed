//! Logs never carry personal data (SPEC §6, issue 6): every flow is run to its end over the
//! HTTP API — wrong codes, weak and mismatched passwords, look-ups that fail, the transcript
//! and outbox routes, refused requests — while a subscriber captures everything logged at
//! info level and above, in both the human and the JSON format. The capture must hold none of
//! the demo members' NIK, KPJ, e-mail or phone, no code that was sent, and no password typed.

mod support;

use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::{Server, keys, session};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What the demo members are (SPEC §4), in every form a member may type it.
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
    "budi.santoso",
    "siti.aminah",
    "agus.wijaya",
    "081234567890",
    "085711112222",
    "081355556666",
    "81234567890",
    "85711112222",
    "81355556666",
    "Budi Santoso",
    "Siti Aminah",
];

/// Log output of every thread, kept for the assertions.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A conversation on one session, remembering every secret it typed or received.
struct Member<'a> {
    server: &'a Server,
    id: Option<String>,
    secrets: &'a Mutex<Vec<String>>,
}

impl Member<'_> {
    async fn says(&mut self, text: &str) -> Vec<String> {
        let answer = self.server.chat(self.id.as_deref(), text).await;
        self.id = Some(session(&answer));
        keys(&answer)
    }

    async fn presses(&mut self, payload: &str) -> Vec<String> {
        let id = self.id.clone().expect("a session");
        keys(&self.server.press(&id, payload).await)
    }

    async fn types_password(&mut self, password: &str) -> Vec<String> {
        self.secrets.lock().unwrap().push(password.to_string());
        self.says(password).await
    }

    async fn types_code(&mut self) -> Vec<String> {
        let id = self.id.clone().expect("a session");
        let code = self.server.last_code(&id).await;
        self.secrets.lock().unwrap().push(code.clone());
        self.says(&code).await
    }

    async fn reads_transcript(&self) {
        let id = self.id.clone().expect("a session");
        for path in [
            format!("/api/v1/chat/{id}/history"),
            format!("/api/v1/demo/outbox?session_id={id}"),
        ] {
            let response = self.server.client.get(self.server.url(&path)).send().await;
            assert_eq!(response.expect("request").status(), 200, "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_info_and_above_hold_no_personal_data_codes_or_passwords() {
    let human = Capture::default();
    let json_lines = Capture::default();
    let (h, j) = (human.clone(), json_lines.clone());
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(
            // No timestamps: their microseconds could hold a six-digit code by chance.
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_writer(move || h.clone()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .without_time()
                .with_writer(move || j.clone()),
        )
        .init();

    let server = Server::start(&[("TANYA_LIMIT_CLIENT_IP", "off")]).await;
    let secrets = Mutex::new(Vec::new());
    let member = |server| Member {
        server,
        id: None,
        secrets: &secrets,
    };

    // forgot_account, Budi: wrong code, weak password, mismatch, then recovered.
    let mut budi = member(&server);
    assert_eq!(budi.says("halo kak").await, ["greet"]);
    assert_eq!(budi.says("lupa akun jmo").await, ["ask_kpj_nik"]);
    assert_eq!(
        budi.says("kpj 12345678901 nik 3174011203880001").await,
        ["ask_otp_channel"]
    );
    assert_eq!(budi.presses("/otp_channel sms").await, ["otp_sent"]);
    assert_eq!(budi.says("000000").await, ["otp_invalid"]);
    assert_eq!(budi.types_code().await, ["ask_new_password"]);
    assert_eq!(budi.types_password("budi1234").await, ["password_weak"]);
    assert_eq!(
        budi.types_password("Rahasia#Baru2026").await,
        ["ask_password_confirm"]
    );
    assert_eq!(
        budi.types_password("Rahasia#Beda2026").await,
        ["password_mismatch"]
    );
    budi.types_password("Rahasia#Baru2026").await;
    assert_eq!(
        budi.types_password("Rahasia#Baru2026").await,
        ["account_recovered"]
    );
    budi.reads_transcript().await;

    // forgot_password, Siti.
    let mut siti = member(&server);
    assert_eq!(siti.says("lupa password").await, ["ask_email_kpj"]);
    assert_eq!(
        siti.says("siti.aminah@example.com 98765432109").await,
        ["otp_sent"]
    );
    assert_eq!(siti.types_code().await, ["ask_new_password"]);
    assert_eq!(
        siti.types_password("Siti#Baru2026!").await,
        ["password_changed"]
    );
    siti.reads_transcript().await;

    // check_jht_balance, Siti by her old card: channel, code, card.
    let mut siti_balance = member(&server);
    assert_eq!(siti_balance.says("cek saldo jht").await, ["ask_kpj_nik"]);
    assert_eq!(
        siti_balance
            .says("kpj 111-222-333-44 nik 3273 0165 0890 0002")
            .await,
        ["ask_otp_channel"]
    );
    assert_eq!(
        siti_balance.presses("/otp_channel email").await,
        ["otp_sent"]
    );
    assert_eq!(siti_balance.types_code().await, ["ask_card"]);
    assert_eq!(siti_balance.presses("/card 2").await, ["jht_balance"]);
    siti_balance.reads_transcript().await;

    // check_jht_balance, Agus (e-mail only), values given early.
    let mut agus = member(&server);
    assert_eq!(
        agus.says("cek saldo jht kpj 55566677788 nik 3578010107850003")
            .await,
        ["otp_sent"]
    );
    assert_eq!(agus.types_code().await, ["jht_balance"]);

    // forgot_account, Dewi (phone only, logs in by phone), with a cancel on the way.
    let mut dewi = member(&server);
    assert_eq!(
        dewi.says("lupa akun nik 5171024403950004").await,
        ["ask_kpj"]
    );
    assert_eq!(dewi.says("batal").await, ["cancelled"]);
    dewi.says("lupa akun").await;
    assert_eq!(
        dewi.says("44455566677 5171024403950004").await,
        ["otp_sent"]
    );
    assert_eq!(dewi.types_code().await, ["ask_new_password"]);
    dewi.types_password("Dewi#Baru2026").await;
    assert_eq!(
        dewi.types_password("Dewi#Baru2026").await,
        ["account_recovered"]
    );

    // Look-ups that fail, malformed values, refused requests.
    let mut stranger = member(&server);
    stranger.says("lupa akun").await;
    assert_eq!(
        stranger.says("kpj 12345678901 nik 5171024403950004").await,
        ["account_not_found"]
    );
    stranger.says("nik 3174011203880").await;
    stranger.says("agus.wijaya@example.com 081234567890").await;
    for body in [
        json!({ "text": 3_174_011_203_880_001_u64 }),
        json!({ "text": "budi.santoso@example.com", "payload": "12345678901" }),
        json!({ "text": "081234567890".repeat(300) }),
    ] {
        let response = server
            .client
            .post(server.url("/api/v1/chat"))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }
    let response = server
        .client
        .post(server.url("/api/v1/nlu/parse"))
        .json(&json!({ "text": "nik saya 3174011203880001 email budi.santoso@example.com" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    server.stop().await;

    let human = String::from_utf8(human.0.lock().unwrap().clone()).expect("utf-8 logs");
    let json_lines = String::from_utf8(json_lines.0.lock().unwrap().clone()).expect("utf-8 logs");
    // The capture is not vacuous: every turn was logged with its keys.
    for expected in [
        "turn",
        "account_recovered",
        "password_changed",
        "jht_balance",
    ] {
        assert!(human.contains(expected), "{expected} not logged:\n{human}");
        assert!(
            json_lines.contains(expected),
            "{expected} not logged (JSON)"
        );
    }
    let secrets = secrets.lock().unwrap().clone();
    assert!(secrets.len() >= 12, "{} secrets", secrets.len());
    for (format, logs) in [("human", &human), ("json", &json_lines)] {
        for needle in PERSONAL_DATA
            .iter()
            .copied()
            .chain(secrets.iter().map(String::as_str))
        {
            assert!(
                !logs.contains(needle),
                "{needle:?} appears in the {format} logs:\n{logs}"
            );
        }
    }
}
