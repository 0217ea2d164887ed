//! Crash safety of the real binary (issue 6): conversations run concurrently against `tanya
//! serve`, the process is SIGKILLed in the middle of the load, restarted on the same data
//! directory, and every acknowledged turn must be in each session's transcript with each
//! conversation able to continue. And SIGTERM: a turn in flight is finished and answered,
//! the database flushed, the exit status 0.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tanya::members::synthetic_member;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Concurrent simulated members.
const WORKERS: usize = 16;
/// Turns per member: the transcript (one exchange per turn) stays within the 50 exchanges a
/// session keeps, so it can be compared turn by turn.
const TURNS_PER_WORKER: usize = 30;
/// Acknowledged turns (in all) after which the server is killed: about a third of the load.
const KILL_AFTER: usize = 160;

/// `tanya serve` as a child process, with the address it logged.
struct Server {
    child: Child,
    address: SocketAddr,
    /// Collects the log's messages until the process ends.
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tanya"))
            .arg("serve")
            .env_clear()
            .env("TANYA_BIND", "127.0.0.1:0")
            .env("TANYA_DATA_DIR", data_dir)
            .env(
                "TANYA_INTENTS_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/intents"),
            )
            .env("TANYA_LOG_FORMAT", "json")
            .env("TANYA_LOG", "info")
            .env("TANYA_DEMO_EXTRA_MEMBERS", WORKERS.to_string())
            // Every member here talks from 127.0.0.1 and as fast as it can.
            .env("TANYA_LIMIT_CLIENT_IP", "off")
            .env("TANYA_LIMIT_WEB_SESSION", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tanya binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (found, address) = std::sync::mpsc::channel();
        // Reads the log until the process ends (a full pipe would block the server).
        let log = std::thread::spawn(move || {
            let mut found = Some(found);
            let mut messages = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if entry["fields"]["message"] == "tanya is listening"
                    && let Some(sender) = found.take()
                {
                    let _ = sender.send(entry["fields"]["address"].as_str().map(str::to_string));
                }
                if let Some(message) = entry["fields"]["message"].as_str() {
                    messages.push(message.to_string());
                }
            }
            messages
        });
        let address = address
            .recv_timeout(Duration::from_secs(60))
            .expect("tanya logs its address")
            .expect("an address field")
            .parse()
            .expect("a socket address");
        Server {
            child,
            address,
            log: Some(log),
        }
    }

    /// Waits for the process to end; its exit status and the messages it logged.
    fn wait_for_exit(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let exit = self.child.wait().expect("exit status");
        let messages = self
            .log
            .take()
            .map(|log| log.join().expect("log reader"))
            .unwrap_or_default();
        (exit, messages)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What step `step` of member `i`'s script sends and the response key it expects: greet, an
/// FAQ, check_jht_balance (KPJ + NIK, SMS, the code, the second card), thanks; after the first
/// round the verified window skips the identity check.
fn script(i: usize, step: usize) -> (Input, &'static str) {
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
enum Input {
    Text(String),
    Payload(&'static str),
    /// The newest code in the demo outbox.
    Code,
}

/// One member's record of the run.
#[derive(Debug, Default)]
struct Record {
    session: Option<String>,
    /// The response keys of every acknowledged turn, in order.
    acknowledged: Vec<Vec<String>>,
    /// A message was sent whose answer never came (it may or may not have been processed).
    in_flight: bool,
}

fn keys(answer: &Value) -> Vec<String> {
    answer["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["key"].as_str().expect("key").to_string())
        .collect()
}

/// Sends step `step`; `Err` when the server did not answer.
async fn send(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_turn_survives_a_sigkill_and_each_conversation_continues() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path());
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

    let server = Server::start(dir.path());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for (i, record) in records.iter().enumerate() {
        let record = std::mem::take(&mut *record.lock().unwrap());
        let Some(session) = record.session.clone() else {
            continue;
        };
        let history: Value = client
            .get(server.url(&format!("/api/v1/chat/{session}/history")))
            .send()
            .await
            .expect("history")
            .json()
            .await
            .expect("history JSON");
        // The transcript as turns: the bot keys after each user line.
        let mut turns: Vec<Vec<String>> = Vec::new();
        for entry in history["messages"].as_array().expect("messages") {
            if entry["from"] == "user" {
                turns.push(Vec::new());
            } else if let Some(turn) = turns.last_mut() {
                turn.push(entry["key"].as_str().expect("key").to_string());
            }
        }
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

fn url(address: SocketAddr, path: &str) -> String {
    format!("http://{address}{path}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_turn_in_flight_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path());
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
    let server = Server::start(dir.path());
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
