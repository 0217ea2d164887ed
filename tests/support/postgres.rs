//! A throw-away PostgreSQL cluster for the store tests (issue 13): `initdb` and `pg_ctl` on a
//! temporary directory and a free port of 127.0.0.1, password logins (scram-sha-256, not trust),
//! and a `tanya` role that owns the `tanya` database without being a superuser. PostgreSQL
//! refuses to run as root, so when the tests do (CI), the cluster belongs to `postgres` (or
//! `nobody`); psql, a mere client, runs as the caller.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The programs the harness runs; they must sit in one directory (one PostgreSQL version).
const PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "psql"];
/// Where Debian keeps them, one directory per version, off PATH.
const DEBIAN_VERSIONS: &str = "/usr/lib/postgresql";
/// The superuser, for tests that inspect. The passwords are fake: the cluster only ever listens
/// on 127.0.0.1 and lives as long as one test.
const ADMIN: &str = "postgres";
const ADMIN_PASSWORD: &str = "admin-test-only";
/// The application's role and database.
const ROLE: &str = "tanya";
const ROLE_PASSWORD: &str = "tanya-test-only";
/// Who runs the cluster when the tests run as root: `nobody` where there is no `postgres`.
const CLUSTER_USERS: [&str; 2] = ["postgres", "nobody"];
/// How long the server may take to accept connections on a loaded 2-core machine.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// Another process may take the free port between our look and the server's bind.
const PORT_ATTEMPTS: usize = 5;

/// A running cluster; dropping it stops the server and removes its directory.
pub struct TempPostgres {
    port: u16,
    bin: PathBuf,
    /// The user the server's programs run as (through `runuser`), when the tests run as root.
    user: Option<String>,
    data: PathBuf,
    log: PathBuf,
    /// Declared last: removed after `Drop::drop` has stopped the server.
    dir: tempfile::TempDir,
}

impl TempPostgres {
    /// Creates and starts a cluster, then the `tanya` role and database. Panics when
    /// PostgreSQL is not installed or the server does not come up (with its log's tail).
    pub fn start() -> TempPostgres {
        let bin = bin_dir();
        let user = is_root().then(cluster_user);
        let dir = tempfile::tempdir().expect("a temporary directory for PostgreSQL");
        if let Some(user) = &user {
            hand_over(dir.path(), user);
            check_reachable(dir.path(), user);
        }
        let pwfile = dir.path().join("admin-password");
        std::fs::write(&pwfile, ADMIN_PASSWORD).expect("write the superuser's password file");
        if let Some(user) = &user {
            hand_over(&pwfile, user);
        }
        let data = dir.path().join("data");
        let postgres = TempPostgres {
            port: 0,
            log: dir.path().join("server.log"),
            bin,
            user,
            data,
            dir,
        };
        postgres.init(&pwfile);
        let postgres = postgres.start_server();
        postgres.wait_until_accepting();
        postgres.create_tanya();
        postgres
    }

    /// `postgres://tanya:…@127.0.0.1:<port>/tanya`: the database owner, not a superuser.
    pub fn url(&self) -> String {
        format!(
            "postgres://{ROLE}:{ROLE_PASSWORD}@127.0.0.1:{}/{ROLE}",
            self.port
        )
    }

    /// The superuser on the `postgres` database, for tests that inspect.
    pub fn admin_url(&self) -> String {
        format!(
            "postgres://{ADMIN}:{ADMIN_PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory (removed on drop).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Stops the server as a crash would (`immediate`: no checkpoint; the write-ahead log is
    /// replayed at the next start) and starts it again on the same port.
    pub fn crash_and_restart(&self) {
        let mut stop = self.program("pg_ctl");
        stop.args(["stop", "--wait", "--mode", "immediate", "--pgdata"])
            .arg(&self.data);
        let stopped = run(&mut stop);
        assert!(stopped.status.success(), "pg_ctl stop: {}", text(&stopped));
        let mut start = self.program("pg_ctl");
        start
            .args(["start", "--wait", "--timeout"])
            .arg(READY_WITHIN.as_secs().to_string())
            .args(["-o", &format!("-p {}", self.port)])
            .arg("--pgdata")
            .arg(&self.data)
            .arg("--log")
            .arg(&self.log);
        if !run(&mut start).status.success() {
            panic!(
                "PostgreSQL did not start again; server log:\n{}",
                self.log_tail()
            );
        }
        self.wait_until_accepting();
    }

    /// Runs `sql` with psql as the client of `url`: the rows, unaligned (`a|b`, one per line),
    /// or psql's error. `sql` is one query string: several statements in it form one
    /// transaction. psql is only a client, so it runs as the caller, root or not.
    pub fn psql(&self, url: &str, sql: &str) -> Result<String, String> {
        let output = Command::new(self.bin.join("psql"))
            // No ~/.psqlrc; rows unaligned, without headers or footers; stop at the first error.
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-d", url, "-c", sql])
            // A server that never answers the connection fails the test instead of stalling it.
            .env("PGCONNECT_TIMEOUT", "10")
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.join("psql").display()));
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    }

    /// `initdb` with the superuser's password from `pwfile` and password logins only.
    fn init(&self, pwfile: &Path) {
        let mut initdb = self.program("initdb");
        initdb
            .args(["--username", ADMIN, "--auth", "scram-sha-256"])
            // The same encoding and collation whatever locale the machine has, if any.
            .args(["--encoding", "UTF8", "--no-locale"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("--pgdata")
            .arg(&self.data);
        let output = run(&mut initdb);
        if !output.status.success() {
            panic!("initdb failed:\n{}", text(&output));
        }
        let settings = format!(
            "\n# tests/support/postgres.rs\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             max_connections = 200\n\
             shared_buffers = 32MB\n\
             # The durability tests measure real commits: never turned off.\n\
             fsync = on\n\
             synchronous_commit = on\n",
            self.dir.path().display()
        );
        let conf = self.data.join("postgresql.conf");
        let mut contents = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        contents.push_str(&settings);
        std::fs::write(&conf, contents).expect("write postgresql.conf");
    }

    /// `pg_ctl start` on a free port, with another port when that one was taken meanwhile.
    fn start_server(mut self) -> TempPostgres {
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let mut pg_ctl = self.program("pg_ctl");
            pg_ctl
                .args(["start", "--wait", "--timeout"])
                .arg(READY_WITHIN.as_secs().to_string())
                .args(["-o", &format!("-p {port}")])
                .arg("--pgdata")
                .arg(&self.data)
                .arg("--log")
                .arg(&self.log);
            if run(&mut pg_ctl).status.success() {
                self.port = port;
                return self;
            }
            if !self.log_tail().contains("Address already in use") {
                break;
            }
        }
        panic!("PostgreSQL did not start; server log:\n{}", self.log_tail());
    }

    /// `pg_ctl --wait` saw the server ready; this checks that a password login over TCP works.
    fn wait_until_accepting(&self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            match self.psql(&self.admin_url(), "select 1") {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => panic!(
                    "PostgreSQL on port {} accepted no login within {READY_WITHIN:?}: {e}\n\
                     server log:\n{}",
                    self.port,
                    self.log_tail()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The role tanya runs as in production: may log in and owns its database, nothing more.
    fn create_tanya(&self) {
        let statements = [
            format!(
                "create role {ROLE} login password '{ROLE_PASSWORD}' \
                 nosuperuser nocreatedb nocreaterole"
            ),
            // Separately: CREATE DATABASE refuses to run inside a transaction block.
            format!("create database {ROLE} owner {ROLE}"),
        ];
        for sql in &statements {
            if let Err(e) = self.psql(&self.admin_url(), sql) {
                panic!("`{sql}` failed: {e}");
            }
        }
    }

    /// One of the server's programs, run as the cluster's user when the tests run as root.
    fn program(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        let mut command = match &self.user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        };
        // The caller's directory may be closed to the cluster's user.
        command.current_dir(self.dir.path());
        command
    }

    /// The last lines of the server's log, for panic messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("({e})"));
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for TempPostgres {
    /// Stops the server at once (no checkpoint: the data is thrown away); `dir` then goes.
    fn drop(&mut self) {
        // No pid file: the server never started (start() panicked before) or has already gone.
        if !self.data.join("postmaster.pid").exists() {
            return;
        }
        let mut pg_ctl = self.program("pg_ctl");
        pg_ctl
            .args(["stop", "--wait", "--mode", "immediate", "--pgdata"])
            .arg(&self.data);
        // No panic here: a panic while a failed test unwinds would abort the whole run.
        match pg_ctl.output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!(
                "pg_ctl stop on port {} failed: {}",
                self.port,
                text(&output)
            ),
            Err(e) => eprintln!("pg_ctl stop on port {}: {e}", self.port),
        }
    }
}

/// The directory holding all of `PROGRAMS`: where the `initdb` on PATH really lives, else the
/// highest version under `/usr/lib/postgresql`.
fn bin_dir() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path)
        .map(|dir| dir.join("initdb"))
        .filter_map(|initdb| initdb.canonicalize().ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_path_buf));
    on_path
        .chain(debian_bin_dirs())
        .find(|dir| PROGRAMS.iter().all(|program| dir.join(program).is_file()))
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed: no directory on PATH or under \
                 {DEBIAN_VERSIONS}/<version>/bin holds all of {PROGRAMS:?} \
                 (Debian: apt-get install postgresql; .ci/run does it)"
            )
        })
}

/// `/usr/lib/postgresql/<version>/bin`, highest version first.
fn debian_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(DEBIAN_VERSIONS) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.into_iter().rev().map(|(_, dir)| dir).collect()
}

#[allow(unsafe_code)] // libc's geteuid: std has no API for the user id.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The first of `CLUSTER_USERS` this machine has.
fn cluster_user() -> String {
    CLUSTER_USERS
        .iter()
        .find(|user| user_id(user, "-u").is_some()).map_or_else(|| {
            panic!("the tests run as root, which PostgreSQL refuses, and none of {CLUSTER_USERS:?} exists")
        }, std::string::ToString::to_string)
}

/// `id <flag> <user>`: the user's uid (`-u`) or primary gid (`-g`), None when there is no such user.
fn user_id(user: &str, flag: &str) -> Option<u32> {
    let output = Command::new("id").args([flag, user]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// Gives `path` to `user`, who creates the data directory, socket and log in the temporary
/// directory and reads the password file.
fn hand_over(path: &Path, user: &str) {
    let uid = user_id(user, "-u");
    let gid = user_id(user, "-g");
    std::os::unix::fs::chown(path, uid, gid)
        .unwrap_or_else(|e| panic!("chown {} to {user}: {e}", path.display()));
}

/// Owning `dir` is not enough: every directory above it must be open to `user` (o+x), which a
/// TMPDIR under /root is not.
fn check_reachable(dir: &Path, user: &str) {
    let reachable = Command::new("runuser")
        .args(["-u", user, "--", "test", "-w"])
        .arg(dir)
        .status()
        .unwrap_or_else(|e| {
            panic!("runuser (util-linux) is needed to run PostgreSQL as {user}: {e}")
        });
    assert!(
        reachable.success(),
        "{user} cannot write in {}: a directory above it is closed to others (set TMPDIR)",
        dir.display()
    );
}

/// A port of 127.0.0.1 nothing listens on at this moment.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("the listener's address")
        .port()
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// A finished program's stdout and stderr.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
