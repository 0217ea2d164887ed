//! `tanya serve` as a child process on `127.0.0.1:0`, with the address it logged: for the
//! tests that kill it (crash safety) or run several instances on one database.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `tanya serve`; dropping it kills the process.
pub struct TanyaProcess {
    pub child: Child,
    pub address: SocketAddr,
    /// Collects the log until the process ends: its messages, and its whole lines.
    log: Option<std::thread::JoinHandle<(Vec<String>, Vec<String>)>>,
}

impl TanyaProcess {
    /// Starts the binary on `data_dir` with the repository's `intents/`, JSON logs, and the
    /// extra settings `env` (`TANYA_*` names).
    pub fn start(data_dir: &Path, env: &[(&str, String)]) -> TanyaProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tanya"));
        command
            .arg("serve")
            .env_clear()
            .env("TANYA_BIND", "127.0.0.1:0")
            .env("TANYA_DATA_DIR", data_dir)
            .env(
                "TANYA_INTENTS_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/intents"),
            )
            .env("TANYA_LOG_FORMAT", "json")
            .env("TANYA_LOG", "info");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
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
            let mut lines = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.push(line.clone());
                let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                    eprintln!("tanya: {line}");
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
            (messages, lines)
        });
        let address = address
            .recv_timeout(Duration::from_secs(120))
            .expect("tanya logs its address")
            .expect("an address field")
            .parse()
            .expect("a socket address");
        TanyaProcess {
            child,
            address,
            log: Some(log),
        }
    }

    /// Waits for the process to end; its exit status and the messages it logged.
    pub fn wait_for_exit(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let exit = self.child.wait().expect("exit status");
        let (messages, _) = self.log_until_exit();
        (exit, messages)
    }

    /// Kills the process; every line it logged.
    pub fn kill_and_read_log(&mut self) -> Vec<String> {
        self.kill();
        self.log_until_exit().1
    }

    fn log_until_exit(&mut self) -> (Vec<String>, Vec<String>) {
        self.log
            .take()
            .map(|log| log.join().expect("log reader"))
            .unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// SIGKILL, and the process reaped.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for TanyaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
