//! Per-member limits and the lockout hold across sessions and restarts (SPEC §6, issue 11
//! findings 2 and 3), against the real application on sled, served on `127.0.0.1:0`.

mod support;

use serde_json::Value;
use support::{Server, keys, session};

/// Every member here talks from 127.0.0.1, faster than a person would.
const OPEN: &[(&str, &str)] = &[
    ("TANYA_LIMIT_CLIENT_IP", "off"),
    ("TANYA_LIMIT_WEB_SESSION", "off"),
];

/// Starts forgot_password for Budi in a new session; returns the session id and the answer.
async fn budi_asks_for_a_code(server: &Server) -> (String, Value) {
    let first = server.chat(None, "lupa password").await;
    let id = session(&first);
    let answer = server
        .chat(Some(&id), "budi.santoso@example.com 12345678901")
        .await;
    (id, answer)
}

/// A six-digit code that is not `code`.
fn wrong(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_string()
}

async fn outbox_len(server: &Server, session: &str) -> usize {
    server.outbox(session).await.len()
}

#[tokio::test]
async fn a_spent_code_budget_is_still_spent_after_a_restart() {
    let dir = tempfile::tempdir().expect("data dir");
    let mut settings = OPEN.to_vec();
    settings.push(("TANYA_LIMIT_MEMBER_CODES", "1/1h"));
    let server = Server::start_in(dir.path(), &settings).await;
    let (_, sent) = budi_asks_for_a_code(&server).await;
    assert_eq!(keys(&sent), ["otp_sent"]);
    let (_, refused) = budi_asks_for_a_code(&server).await;
    assert_eq!(keys(&refused), ["rate_limited"]);
    server.stop().await;

    let server = Server::start_in(dir.path(), &settings).await;
    let (id, after_restart) = budi_asks_for_a_code(&server).await;
    assert_eq!(
        keys(&after_restart),
        ["rate_limited"],
        "the restart forgot the member's code budget"
    );
    assert_eq!(outbox_len(&server, &id).await, 0, "no code went out");
    server.stop().await;
}

#[tokio::test]
async fn a_lock_made_in_one_session_holds_at_once_in_every_other_session_of_the_member() {
    let server = Server::start(OPEN).await;
    // B was opened before the lock and holds its own, valid code.
    let (b, sent) = budi_asks_for_a_code(&server).await;
    assert_eq!(keys(&sent), ["otp_sent"]);
    let b_code = server.last_code(&b).await;
    // P is parked at the channel choice (forgot_account: Budi has a phone and an e-mail).
    let parked = server.chat(None, "lupa akun").await;
    let p = session(&parked);
    let asked = server
        .chat(Some(&p), "kpj 12345678901 nik 3174011203880001")
        .await;
    assert_eq!(keys(&asked), ["ask_otp_channel"]);

    let (a, sent) = budi_asks_for_a_code(&server).await;
    assert_eq!(keys(&sent), ["otp_sent"]);
    let a_code = server.last_code(&a).await;
    for expected in [
        ["otp_invalid"].as_slice(),
        &["otp_invalid"],
        &["otp_locked", "handoff"],
    ] {
        let answer = server.chat(Some(&a), &wrong(&a_code)).await;
        assert_eq!(keys(&answer), expected);
    }

    let refused = server.chat(Some(&b), &b_code).await;
    assert_eq!(
        keys(&refused),
        ["otp_locked", "handoff"],
        "B's right code must not open the account during the lock"
    );
    assert_eq!(refused["state"], "idle");

    let pressed = server.press(&p, "/otp_channel sms").await;
    assert_eq!(keys(&pressed), ["otp_locked", "handoff"]);
    assert_eq!(outbox_len(&server, &p).await, 0, "no code during the lock");

    let (c, fresh) = budi_asks_for_a_code(&server).await;
    assert_eq!(keys(&fresh), ["otp_locked", "handoff"]);
    assert_eq!(outbox_len(&server, &c).await, 0);
    server.stop().await;
}

#[tokio::test]
async fn wrong_codes_spread_over_two_sessions_lock_the_member() {
    let server = Server::start(OPEN).await;
    let (a, _) = budi_asks_for_a_code(&server).await;
    let (b, _) = budi_asks_for_a_code(&server).await;
    let a_code = server.last_code(&a).await;
    let b_code = server.last_code(&b).await;
    for _ in 0..2 {
        let answer = server.chat(Some(&a), &wrong(&a_code)).await;
        assert_eq!(keys(&answer), ["otp_invalid"]);
    }
    let third = server.chat(Some(&b), &wrong(&b_code)).await;
    assert_eq!(keys(&third), ["otp_locked", "handoff"]);
    let right = server.chat(Some(&a), &a_code).await;
    assert_eq!(keys(&right), ["otp_locked", "handoff"]);
    server.stop().await;
}
