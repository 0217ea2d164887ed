//! The test harness of production mode proves itself: the real SMTP server keeps (or refuses)
//! a message sent over a plain TCP conversation, and the mock SMS gateway records, fails and
//! recovers as its mode says. (The reference directory is checked in `reference_directory.rs`.)

mod support;

use std::time::Duration;
use support::sms_gateway::{Sms, SmsGateway, SmsMode};
use support::smtp::{SmtpMode, SmtpServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Sends one message over SMTP by hand (EHLO, MAIL FROM, RCPT TO, DATA, QUIT); the reply code
/// to the end of DATA.
async fn send_mail(port: u16, from: &str, to: &str, data: &str) -> u16 {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the SMTP server");
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read);
    // A reply may span lines (`250-…`); its last line has a space after the code.
    let mut reply = async || -> u16 {
        loop {
            let mut line = String::new();
            replies.read_line(&mut line).await.expect("an SMTP reply");
            assert!(line.len() >= 4, "a short SMTP reply: {line:?}");
            if line.as_bytes()[3] == b' ' {
                return line[..3].parse().expect("a reply code");
            }
        }
    };
    assert_eq!(reply().await, 220, "greeting");
    let mut command = async |text: String| {
        write
            .write_all(text.as_bytes())
            .await
            .expect("an SMTP command");
    };
    command("EHLO tanya.test\r\n".into()).await;
    assert_eq!(reply().await, 250, "EHLO");
    command(format!("MAIL FROM:<{from}>\r\n")).await;
    assert_eq!(reply().await, 250, "MAIL FROM");
    command(format!("RCPT TO:<{to}>\r\n")).await;
    assert_eq!(reply().await, 250, "RCPT TO");
    command("DATA\r\n".into()).await;
    assert_eq!(reply().await, 354, "DATA");
    command(format!("{data}\r\n.\r\n")).await;
    let code = reply().await;
    command("QUIT\r\n".into()).await;
    assert_eq!(reply().await, 221, "QUIT");
    code
}

const MAIL: &str = "From: tanya <noreply@tanya.test>\r\nTo: budi.santoso@example.com\r\nSubject: Kode verifikasi\r\n\r\nKode verifikasi Anda: 123456";

#[tokio::test]
async fn the_smtp_server_keeps_a_message_it_accepts() {
    if !SmtpServer::available_or_skip() {
        return;
    }
    let server = SmtpServer::start(SmtpMode::Accept);
    assert!(server.url().starts_with("smtp://127.0.0.1:"));
    let code = send_mail(
        server.port(),
        "noreply@tanya.test",
        "budi.santoso@example.com",
        MAIL,
    )
    .await;
    assert_eq!(code, 250);
    let messages = server.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].from, "noreply@tanya.test");
    assert_eq!(messages[0].to, ["budi.santoso@example.com"]);
    assert!(messages[0].data.contains("Subject: Kode verifikasi\r\n"));
    assert!(messages[0].data.contains("Kode verifikasi Anda: 123456"));
    assert_eq!(server.attempts(), 1);
}

#[tokio::test]
async fn the_smtp_server_refuses_every_message_and_counts_the_attempts() {
    if !SmtpServer::available_or_skip() {
        return;
    }
    let server = SmtpServer::start(SmtpMode::Refuse);
    for attempt in 1..=2 {
        let code = send_mail(
            server.port(),
            "noreply@tanya.test",
            "siti.aminah@example.com",
            MAIL,
        )
        .await;
        assert_eq!(code, 550, "attempt {attempt}");
    }
    assert_eq!(
        server.wait_for_attempts(2, Duration::from_secs(10)).await,
        2
    );
    assert!(server.messages().is_empty());
}

async fn post_sms(gateway: &SmsGateway, token: &str, body: serde_json::Value) -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(gateway.url())
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the gateway answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_sms_gateway_records_what_it_accepts_and_checks_the_token() {
    let gateway = SmsGateway::start(SmsMode::Accept).await;
    let sms = serde_json::json!({ "to": "081234567890", "text": "Kode Anda: 123456" });
    assert_eq!(post_sms(&gateway, "wrong-token", sms.clone()).await, 401);
    assert_eq!(
        post_sms(&gateway, gateway.token(), serde_json::json!({ "to": 1 })).await,
        400
    );
    assert_eq!(post_sms(&gateway, gateway.token(), sms).await, 200);
    assert_eq!(
        gateway.messages(),
        [Sms {
            to: "081234567890".into(),
            text: "Kode Anda: 123456".into()
        }]
    );
    assert_eq!(gateway.attempts(), 3);
}

#[tokio::test]
async fn the_sms_gateway_fails_as_often_as_asked_and_then_accepts() {
    let gateway = SmsGateway::start(SmsMode::FailThenAccept(2)).await;
    let sms = serde_json::json!({ "to": "085711112222", "text": "Kode Anda: 654321" });
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post_sms(&gateway, gateway.token(), sms.clone()).await);
    }
    assert_eq!(statuses, [503, 503, 200]);
    let messages = gateway.wait_for_messages(1, Duration::from_secs(1)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, "085711112222");
    assert_eq!(gateway.attempts(), 3);
}
