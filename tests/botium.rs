//! Real Botium against tanya (issue 15): botium-core from npm, with the SimpleREST connector and
//! the `botium-tanya` asserters and hooks of `tests/botium/`, runs tanya's own conversation
//! files against one live demo server, which `POST /api/v1/demo/reset` puts back between
//! conversations. Also the reset route itself: what it forgets, and that only demo mode has it.
//!
//! Without Node.js 20+ and npm the Botium run is skipped with a loud notice, except in CI (`CI`
//! set), where that is a failure: `.ci/run` installs the packages.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;
use support::node::{node_major_version, succeeds};
use support::{Server, keys, session};
use tanya::convo::{Step, load_path};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Files of `tests/conversations` that Botium cannot run, with the reason; the run must skip
/// exactly these. Today only `WAIT`: tanya's runner moves the conversation's clock, while
/// Botium against a live server could only sleep for the minutes a code or session takes to
/// expire.
fn files_botium_cannot_run() -> BTreeSet<PathBuf> {
    let conversations = load_path(&repo("tests/conversations")).expect("conversations load");
    conversations
        .iter()
        .filter(|c| {
            c.steps
                .iter()
                .any(|step| matches!(step, Step::Me(me) if me.wait.is_some()))
        })
        .map(|c| c.source.clone())
        .collect()
}

/// Whether Node.js and the Botium packages are there; installs the packages (`npm ci`) when
/// only they are missing. `false` (after a loud notice) when the run must be skipped. Checked
/// once per test binary: tests running side by side must not run `npm ci` at once.
fn botium_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(check_or_install_botium)
}

fn check_or_install_botium() -> bool {
    let botium = repo("tests/botium");
    let mut missing = Vec::new();
    match node_major_version() {
        Some(major) if major >= 20 => {}
        Some(major) => missing.push(format!("Node.js 20 or newer (found {major})")),
        None => missing.push("Node.js 20 or newer (node)".to_string()),
    }
    let installed = botium
        .join("node_modules/botium-core/package.json")
        .exists();
    if !installed && !succeeds(Command::new("npm").arg("--version")) {
        missing.push("npm".to_string());
    }
    if !missing.is_empty() {
        let what = missing.join(", ");
        if std::env::var_os("CI").is_some() {
            panic!("the Botium run needs {what}: in CI, .ci/run must provide them");
        }
        // Straight to the terminal: the harness would swallow an eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "\n\n*** SKIPPED: the Botium run needs {what}.\n"
        );
        return false;
    }
    if !installed {
        // `--ignore-scripts`: botium-core's install script only reports the installation to
        // Botium's analytics server.
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&botium)
            .status()
            .expect("npm runs");
        assert!(status.success(), "`npm ci` in tests/botium failed");
    }
    true
}

/// `node tests/botium/run.js` against `server` over `paths`: (success, stdout).
async fn run_botium(server: &Server, paths: Vec<PathBuf>) -> (bool, String) {
    let url = server.url("/api/v1/chat");
    tokio::task::spawn_blocking(move || {
        let output = Command::new("node")
            .arg(repo("tests/botium/run.js"))
            .args(["--url", &url])
            .args(&paths)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            // botium.json beside run.js, whatever the caller's environment says.
            .env_remove("BOTIUM_CONFIG")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("node runs");
        let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
        (output.status.success(), stdout)
    })
    .await
    .expect("the Botium run")
}

fn lines_starting<'a>(output: &'a str, prefix: &str) -> Vec<&'a str> {
    output.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_botium_passes_every_conversation_file_without_wait() {
    if !botium_available() {
        return;
    }
    let server = Server::start(&[]).await;
    let (success, output) = run_botium(&server, vec![repo("tests/conversations")]).await;
    server.stop().await;

    let failures = lines_starting(&output, "FAIL ");
    assert!(
        success && failures.is_empty(),
        "Botium failed {} conversation(s):\n{}\n\n{output}",
        failures.len(),
        failures.join("\n")
    );
    let skipped: BTreeSet<PathBuf> = lines_starting(&output, "SKIP ")
        .iter()
        .map(|line| {
            let file = line["SKIP ".len()..]
                .strip_suffix(": uses WAIT")
                .expect("the only reason to skip is WAIT");
            repo(file)
        })
        .collect();
    assert_eq!(skipped, files_botium_cannot_run());
    let passed = lines_starting(&output, "PASS ").len();
    // 221 files without WAIT, 877 runs over their utterance lists (2026-11-30).
    assert!(passed >= 850, "only {passed} conversations ran:\n{output}");
}

/// The Botium run is no rubber stamp: a wrong RESPONSE, a wrong button and a text that must
/// not show each fail, and `$otp` really is the code that was sent.
#[tokio::test(flavor = "multi_thread")]
async fn botium_fails_a_wrong_expectation_and_sends_the_real_code() {
    if !botium_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write a conversation");
        path
    };
    let wrong_key = file(
        "wrong_key.convo.txt",
        "salam dijawab dengan pamit (salah)\n#me\nhalo\n\n#bot\nRESPONSE goodbye\n",
    );
    let wrong_button = file(
        "wrong_button.convo.txt",
        "tombol yang tidak ada\n#me\nhalo\n\n#bot\n\n#me\nBUTTON Tidak ada*\n",
    );
    let shown = file(
        "shown.convo.txt",
        "teks yang tampil\n#me\nhalo\n\n#bot\n!*\n",
    );
    let right_code = file(
        "right_code.convo.txt",
        "kode benar\n#me\nlupa password, budi.santoso@example.com 12345678901\n\n#bot\nRESPONSE otp_sent\n\n#me\n$otp\n\n#bot\nRESPONSE ask_new_password\n",
    );
    let server = Server::start(&[]).await;
    let (success, output) = run_botium(
        &server,
        vec![wrong_key, wrong_button, shown, right_code.clone()],
    )
    .await;
    server.stop().await;
    assert!(!success, "{output}");
    let failures = lines_starting(&output, "FAIL ");
    assert_eq!(failures.len(), 3, "{output}");
    assert!(
        output.contains("expected RESPONSE goodbye; the turn's keys are greet"),
        "{output}"
    );
    assert!(
        output.contains("BUTTON Tidak ada*: no such button"),
        "{output}"
    );
    let passed = lines_starting(&output, "PASS ");
    assert_eq!(passed.len(), 1, "{output}");
    assert!(passed[0].contains("right_code.convo.txt"), "{output}");
}

/// Three wrong codes lock a member for 15 minutes; the demo reset lifts the lock (and the
/// member's limits) at once, for every session.
#[tokio::test]
async fn the_demo_reset_forgets_a_members_lockout() {
    let server = Server::start(&[]).await;
    let request = "lupa password, budi.santoso@example.com 12345678901";
    let first = server.chat(None, request).await;
    assert_eq!(keys(&first), ["otp_sent"]);
    let id = session(&first);
    for wrong in ["000000", "000001", "000002"] {
        server.chat(Some(&id), wrong).await;
    }
    let locked = server.chat(None, request).await;
    assert!(
        keys(&locked).contains(&"otp_locked".to_string()),
        "{locked}"
    );

    let reset: Value = server
        .client
        .post(server.url("/api/v1/demo/reset"))
        .send()
        .await
        .expect("reset request")
        .json()
        .await
        .expect("reset JSON");
    assert!(
        reset["member_records"].as_u64().unwrap_or(0) >= 1,
        "{reset}"
    );

    let again = server.chat(None, request).await;
    assert_eq!(keys(&again), ["otp_sent"], "{again}");
    server.stop().await;
}

/// Outside demo mode (no demo outbox), the reset route does not exist.
#[tokio::test]
async fn the_reset_route_is_not_found_outside_demo_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::config(dir.path().to_str().expect("UTF-8 path"), &[]);
    let app = tanya::app::App::build(config).await.expect("app builds");
    let mut state = app.http_state();
    state.outbox = None;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let router = tanya::http::router(state);
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!("{base}/api/v1/demo/reset"))
        .send()
        .await
        .expect("reset request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    task.abort();
}
