//! The reference member directory (`examples/directory.rs`) as a child process on 127.0.0.1,
//! for the production-mode tests: its address, its (fake) token, the password it stored, and
//! stopping and starting it again on the same port (a directory that goes down and comes back).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The bearer token every reference directory of the tests expects: a fake value.
pub const TOKEN: &str = "fake-directory-token-for-tests";
/// How long the example may take to print its address on a loaded 2-core machine.
const STARTS_WITHIN: Duration = Duration::from_secs(60);

/// A running reference directory; dropping it kills the process.
pub struct ReferenceDirectory {
    child: Option<Child>,
    port: u16,
    flags: Vec<String>,
}

impl ReferenceDirectory {
    /// Starts the example on a free port with `flags` (`--members FILE`, `--delay-ms N`,
    /// `--broken`); `--bind` and `--token` are the harness's.
    pub fn start(flags: &[&str]) -> ReferenceDirectory {
        ReferenceDirectory::start_on(0, flags)
    }

    /// Starts the example on `port` of 127.0.0.1 (0: a free one), for a directory that comes
    /// back where tanya expects it. Its members start afresh: passwords set before are gone.
    pub fn start_on(port: u16, flags: &[&str]) -> ReferenceDirectory {
        let flags: Vec<String> = flags.iter().map(std::string::ToString::to_string).collect();
        let (child, port) = spawn(port, &flags);
        ReferenceDirectory {
            child: Some(child),
            port,
            flags,
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash (`TANYA_DIRECTORY_URL`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bearer token it expects (`TANYA_DIRECTORY_TOKEN`).
    pub fn token(&self) -> &'static str {
        TOKEN
    }

    /// The PHC string stored for member `id` (`None`: no password), read through the example's
    /// inspection route. Panics when the directory does not answer or has no member `id`.
    pub async fn password_phc(&self, id: &str) -> Option<String> {
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(format!("{}/_reference/members/{id}/password", self.url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("the reference directory answers");
        assert_eq!(response.status(), 200, "the password of member {id}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        body["password_phc"].as_str().map(str::to_string)
    }

    /// Kills the process (the port closes at once: a directory that is down). Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it if it runs, and starts it again on the same port with the same flags: a
    /// directory back from an outage, with its members as they were at the first start.
    pub fn restart(&mut self) {
        self.stop();
        let (child, _) = spawn(self.port, &self.flags);
        self.child = Some(child);
    }
}

impl Drop for ReferenceDirectory {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the example on `port` and waits for its first line, `listening on http://ADDRESS`.
fn spawn(port: u16, flags: &[String]) -> (Child, u16) {
    let mut child = Command::new(example_binary())
        .args(["--bind", &format!("127.0.0.1:{port}"), "--token", TOKEN])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the reference directory starts");
    let stdout = child.stdout.take().expect("stdout");
    let (first_line, line) = std::sync::mpsc::channel();
    // Reads stdout to its end, so that nothing the example prints later can block it.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = first_line.send(lines.next().and_then(Result::ok));
        lines.for_each(drop);
    });
    // No line: it exited without a word (its reason is on stderr, for instance a port still
    // taken).
    let Ok(Some(line)) = line.recv_timeout(STARTS_WITHIN) else {
        let _ = child.kill();
        let status = child.wait().expect("reaped");
        panic!("the reference directory did not start on port {port} ({status})");
    };
    let port = line
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from the reference directory: {line}"));
    (child, port)
}

/// `examples/directory` of this build: beside the test binaries' `tanya`, in `examples/`.
///
/// `cargo test` builds the examples, but `cargo test --test NAME` does not, and may leave a
/// stale one from an earlier build: so it is built (or found up to date) once per test process,
/// in the profile of this build.
fn example_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let tanya = PathBuf::from(env!("CARGO_BIN_EXE_tanya"));
            let profile_dir = tanya.parent().expect("the profile directory");
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") => "dev",
                Some(name) => name,
                None => panic!("no profile directory in {}", tanya.display()),
            };
            let target_dir = profile_dir.parent().expect("the target directory");
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "--example",
                    "directory",
                    "--profile",
                    profile,
                ])
                .arg("--manifest-path")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
                .env("CARGO_TARGET_DIR", target_dir)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "cannot build examples/directory.rs");
            profile_dir.join("examples/directory")
        })
        .clone()
}
