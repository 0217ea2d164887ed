//! Crash safety of the real binary (issue 6): conversations run concurrently against `tanya
//! serve`, the process is SIGKILLed in the middle of the load, restarted on the same data
//! directory, and every acknowledged turn must be in each session's transcript with each
//! conversation able to continue. And SIGTERM: a turn in flight is finished and answered,
//! the database flushed, the exit status 0.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::process::TanyaProcess;
use support::scripted::{
    Record, assert_acknowledged_turns_stored, keys, script, send, stored_turns,
};
use tanya::members::synthetic_member;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Concurrent simulated members.
const WORKERS: usize = 16;
/// Turns per member: the transcript (one exchange per turn) stays within the 50 exchanges a
/// session keeps, so it can be compared turn by turn.
const TURNS_PER_WORKER: usize = 30;
/// Acknowledged turns (in all) after which the server is killed: about a third of the load.
const KILL_AFTER: usize = 160;

/// `tanya serve` on `data_dir`, with the synthetic members the workers are and no limits
/// on how fast they talk from one address.
fn start(data_dir: &Path) -> TanyaProcess {
    TanyaProcess::start(
        data_dir,
        &[
            ("TANYA_DEMO_EXTRA_MEMBERS", WORKERS.to_string()),
            ("TANYA_LIMIT_CLIENT_IP", "off".into()),
            ("TANYA_LIMIT_WEB_SESSION", "off".into()),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_turn_survives_a_sigkill_and_each_conversation_continues() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let records: Vec<Arc<Mutex<Record>>> = (0..WORKERS).map(|_| Arc::default()).collect();
    let address = server.address;
    let mut workers = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let (client, record, acknowledged) = (client.clone(), record.clone(), acknowledged.clone());
        workers.push(tokio::spawn(async move {
            for step in 0..TURNS_PER_WORKER {
                let session = record.lock().unwrap().session.clone();
                record.lock().unwrap().in_flight = true;
                match send(&client, address, session.as_deref(), i, step).await {
                    Ok(answer) => {
                        let (_, expected) = script(i, step);
                        let got = keys(&answer);
                        assert_eq!(got, [expected], "member {i} step {step}");
                        let mut record = record.lock().unwrap();
                        record.session = answer["session_id"].as_str().map(str::to_string);
                        record.acknowledged.push(got);
                        record.in_flight = false;
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                    // The outbox read failed: no chat message was sent.
                    Err(None) => {
                        record.lock().unwrap().in_flight = false;
                        return;
                    }
                    Err(Some(_)) => return,
                }
            }
        }));
    }
    while acknowledged.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill();
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

    let server = start(dir.path());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for (i, record) in records.iter().enumerate() {
        let record = std::mem::take(&mut *record.lock().unwrap());
        let Some(session) = record.session.clone() else {
            continue;
        };
        let turns = stored_turns(&client, server.address, &session).await;
        assert_acknowledged_turns_stored(i, &record, &turns);
        // The conversation continues from the stored state.
        for step in turns.len()..turns.len() + 3 {
            let answer = send(&client, server.address, Some(&session), i, step)
                .await
                .expect("the restarted server answers");
            assert_eq!(
                answer["session_id"],
                json!(session),
                "member {i}: same session"
            );
            assert_eq!(keys(&answer), [script(i, step).1], "member {i} step {step}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_turn_in_flight_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let answer: Value = client
        .post(server.url("/api/v1/chat"))
        .json(&json!({ "text": "cek saldo jht" }))
        .send()
        .await
        .expect("chat")
        .json()
        .await
        .expect("JSON");
    let session = answer["session_id"].as_str().expect("session").to_string();

    // A turn whose body is still arriving when SIGTERM comes.
    let member = synthetic_member(3);
    let body = json!({
        "session_id": session,
        "text": format!("kpj {} nik {}", member.cards[0].kpj.as_str(), member.nik.as_str()),
    })
    .to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(server.address)
        .await
        .expect("connect");
    let request = format!(
        "POST /api/v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{head}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream
        .write_all(tail.as_bytes())
        .await
        .expect("write the rest");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("ask_otp_channel"), "{answer}");
    let (exit, messages) = server.wait_for_exit();
    assert!(exit.success(), "exit status {exit:?}");
    // After the last turn, the database was opened once more so the next start is fast.
    let stopped = messages.iter().position(|m| m == "tanya stopped");
    let snapshot = messages
        .iter()
        .position(|m| m == "database snapshot written for the next start");
    assert!(
        stopped.is_some() && snapshot > stopped,
        "stop messages: {messages:?}"
    );

    // The answered turn was made durable before the process ended.
    let server = start(dir.path());
    let answer: Value = client
        .post(server.url("/api/v1/chat"))
        .json(&json!({ "session_id": session, "payload": "/otp_channel email" }))
        .send()
        .await
        .expect("chat")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["messages"][0]["key"], "otp_sent", "{answer}");
}
