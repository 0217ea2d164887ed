//! A synthetic member's scripted conversation over the HTTP API, and how to compare it with
//! the transcript a server kept: for the tests that load servers and then kill them.

use serde_json::{Value, json};
use std::net::SocketAddr;
use tanya::members::synthetic_member;

/// What step `step` of member `i`'s script sends and the response key it expects: greet, an
/// FAQ, check_jht_balance (KPJ + NIK, SMS, the code, the second card), thanks; after the first
/// round the verified window skips the identity check.
pub fn script(i: usize, step: usize) -> (Input, &'static str) {
    let member = synthetic_member(i as u32);
    let first_round = [
        (Input::Text("halo".into()), "greet"),
        (Input::Text("apa itu jmo".into()), "faq_what_is_jmo"),
        (Input::Text("cek saldo jht".into()), "ask_kpj_nik"),
        (
            Input::Text(format!(
                "kpj {} nik {}",
                member.cards[0].kpj.as_str(),
                member.nik.as_str()
            )),
            "ask_otp_channel",
        ),
        (Input::Payload("/otp_channel sms"), "otp_sent"),
        (Input::Code, "ask_card"),
        (Input::Payload("/card 2"), "jht_balance"),
        (Input::Text("terima kasih".into()), "thanks"),
    ];
    let later_rounds = [
        (Input::Text("halo".into()), "greet"),
        (Input::Text("apa itu jmo".into()), "faq_what_is_jmo"),
        (Input::Text("cek saldo jht".into()), "ask_card"),
        (Input::Payload("/card 1"), "jht_balance"),
        (Input::Text("terima kasih".into()), "thanks"),
    ];
    if step < first_round.len() {
        first_round[step].clone()
    } else {
        later_rounds[(step - first_round.len()) % later_rounds.len()].clone()
    }
}

#[derive(Debug, Clone)]
pub enum Input {
    Text(String),
    Payload(&'static str),
    /// The newest code in the demo outbox.
    Code,
}

/// One member's record of the run.
#[derive(Debug, Default)]
pub struct Record {
    pub session: Option<String>,
    /// The response keys of every acknowledged turn, in order.
    pub acknowledged: Vec<Vec<String>>,
    /// A message was sent whose answer never came (it may or may not have been processed).
    pub in_flight: bool,
}

/// The response keys of an answer, in order.
pub fn keys(answer: &Value) -> Vec<String> {
    answer["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["key"].as_str().expect("key").to_string())
        .collect()
}

pub fn url(address: SocketAddr, path: &str) -> String {
    format!("http://{address}{path}")
}

/// Sends step `step` of member `i` to the server at `address`; `Err(None)` when the code
/// could not be read (nothing was sent), `Err(Some(_))` when the chat went unanswered.
pub async fn send(
    client: &reqwest::Client,
    address: SocketAddr,
    session: Option<&str>,
    i: usize,
    step: usize,
) -> Result<Value, Option<reqwest::Error>> {
    let (input, _) = script(i, step);
    let mut body = match input {
        Input::Text(text) => json!({ "text": text }),
        Input::Payload(payload) => json!({ "payload": payload }),
        Input::Code => {
            let outbox: Value = client
                .get(url(
                    address,
                    &format!(
                        "/api/v1/demo/outbox?session_id={}",
                        session.expect("a session")
                    ),
                ))
                .send()
                .await
                .map_err(|_| None)?
                .json()
                .await
                .map_err(|_| None)?;
            let code = outbox["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["code"].as_str())
                .expect("a code was sent")
                .to_string();
            json!({ "text": code })
        }
    };
    if let Some(session) = session {
        body["session_id"] = json!(session);
    }
    let response = client
        .post(url(address, "/api/v1/chat"))
        .json(&body)
        .send()
        .await
        .map_err(Some)?;
    assert_eq!(response.status(), 200, "step {step} of member {i}");
    response.json().await.map_err(Some)
}

/// A session's stored transcript as turns: the bot's response keys after each member line.
pub async fn stored_turns(
    client: &reqwest::Client,
    address: SocketAddr,
    session: &str,
) -> Vec<Vec<String>> {
    let history: Value = client
        .get(url(address, &format!("/api/v1/chat/{session}/history")))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("history JSON");
    let mut turns: Vec<Vec<String>> = Vec::new();
    for entry in history["messages"].as_array().expect("messages") {
        if entry["from"] == "user" {
            turns.push(Vec::new());
        } else if let Some(turn) = turns.last_mut() {
            turn.push(entry["key"].as_str().expect("key").to_string());
        }
    }
    turns
}

/// Asserts that every turn `record` saw acknowledged is stored as answered, and at most the
/// one in flight besides; returns how many turns are stored.
pub fn assert_acknowledged_turns_stored(i: usize, record: &Record, turns: &[Vec<String>]) {
    let acked = record.acknowledged.len();
    assert!(
        turns.len() == acked || (record.in_flight && turns.len() == acked + 1),
        "member {i}: {acked} acknowledged turns (one more in flight: {}), {} stored",
        record.in_flight,
        turns.len()
    );
    assert_eq!(
        turns[..acked],
        record.acknowledged[..],
        "member {i}: every acknowledged turn is stored as answered"
    );
}
