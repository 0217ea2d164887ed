//! A real SMTP server for the code-delivery tests: Python's aiosmtpd (`smtp_server.py` beside
//! this file) as a child process on 127.0.0.1, accepting and keeping every message, or refusing
//! every one with `550 5.7.1 refused` and counting the attempts.
//!
//! Without python3 and aiosmtpd the tests that need it are skipped with a loud notice, except in
//! CI (`CI` set), where that is a failure: `.ci/run` must `pip install aiosmtpd`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
/// How long Python may take to import aiosmtpd and listen on a loaded 2-core machine.
const STARTS_WITHIN: Duration = Duration::from_secs(60);

/// What the server answers at the end of each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// `250`, and the message is kept.
    Accept,
    /// `550 5.7.1 refused`: a permanent failure; only the attempt is counted.
    Refuse,
    /// `451 4.3.0 try again later`: a temporary refusal; only the attempt is counted.
    Defer,
}

/// One message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The raw message: headers, a blank line, the body (CRLF line ends).
    pub data: String,
}

/// A running SMTP server; dropping it kills the process and removes what it received.
pub struct SmtpServer {
    child: Child,
    port: u16,
    /// Declared last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Whether python3 with aiosmtpd can run the server here.
    pub fn available() -> bool {
        Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// For a test that needs the server: `true` when it can run; otherwise a loud SKIPPED notice
    /// and `false`, or a panic in CI (`CI` set), where a missing server must not hide a test.
    pub fn available_or_skip() -> bool {
        if SmtpServer::available() {
            return true;
        }
        if std::env::var_os("CI").is_some() {
            panic!(
                "the SMTP tests need python3 with aiosmtpd: in CI, .ci/run must provide them (pip install aiosmtpd)"
            );
        }
        // Straight to the terminal: the test harness would swallow an eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "\n\n*** SKIPPED: an SMTP test needs python3 with aiosmtpd (pip install aiosmtpd).\n"
        );
        false
    }

    /// Starts a server on a free port of 127.0.0.1. Panics when python3 or aiosmtpd is
    /// missing (check [`SmtpServer::available_or_skip`] first) or the server does not start.
    pub fn start(mode: SmtpMode) -> SmtpServer {
        let dir = tempfile::tempdir().expect("a directory for the received mail");
        let mode_name = match mode {
            SmtpMode::Accept => "accept",
            SmtpMode::Refuse => "refuse",
            SmtpMode::Defer => "defer",
        };
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .args(["--mode", mode_name, "--dir"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (is it installed?)");
        let stdout = child.stdout.take().expect("stdout");
        let (first_line, line) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = first_line.send(lines.next().and_then(Result::ok));
            lines.for_each(drop);
        });
        let port = match line.recv_timeout(STARTS_WITHIN) {
            Ok(Some(line)) => line
                .strip_prefix("listening on ")
                .and_then(|port| port.parse().ok())
                .unwrap_or_else(|| panic!("unexpected first line from smtp_server.py: {line}")),
            // Its reason (no aiosmtpd, …) is on stderr.
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let status = child.wait().expect("reaped");
                panic!("smtp_server.py did not start ({status}); is aiosmtpd installed?");
            }
        };
        SmtpServer { child, port, dir }
    }

    /// `smtp://127.0.0.1:PORT` (`TANYA_SMTP_URL`: no credentials, no TLS, loopback only).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("messages"))
            .expect("the messages directory")
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        // Zero-padded sequence numbers: the names sort in arrival order.
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("a received message");
                let mail: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                ReceivedMail {
                    from: mail["from"].as_str().unwrap_or_default().to_string(),
                    to: mail["to"]
                        .as_array()
                        .expect("recipients")
                        .iter()
                        .map(|to| to.as_str().expect("a recipient").to_string())
                        .collect(),
                    data: mail["data"].as_str().expect("data").to_string(),
                }
            })
            .collect()
    }

    /// How many messages reached the end of DATA, accepted or refused.
    pub fn attempts(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("attempts"))
            .map_or(0, |text| text.lines().count())
    }

    /// Waits until at least `count` messages were accepted; panics after `within`.
    pub async fn wait_for_messages(&self, count: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{count} messages expected within {within:?}, {} arrived",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until at least `count` attempts were made; panics after `within`.
    pub async fn wait_for_attempts(&self, count: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let attempts = self.attempts();
            if attempts >= count {
                return attempts;
            }
            assert!(
                Instant::now() < deadline,
                "{count} attempts expected within {within:?}, {attempts} made"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
