//! Load generator for a running tanya (SPEC §11): N concurrent simulated members run whole
//! flows over keep-alive HTTP/1.1 connections and the run reports turns/s, latency
//! percentiles and the server's peak RSS. Not a test: run it by hand (README, "Benchmarks").
//!
//! ```text
//! cargo bench --bench load -- --mix a --sessions 200 --duration 30 --population 100000 --pid PID
//! ```
//! Without `--rate`, every member sends its next message as soon as the answer arrives (a
//! closed loop: the result is the server's saturation throughput). With `--rate R`, the
//! members together send R messages per second on a fixed schedule (each member one every
//! `sessions / R` seconds), and a turn's latency counts from the moment it was due, so a
//! server that falls behind is charged for the wait (no coordinated omission). With
//! `--warmup S`, the mix first runs S seconds unmeasured (a server just started is slow while
//! it opens database connections and fills its caches).
//!
//! Mixes: `a` (greet, an FAQ, check_jht_balance with KPJ + NIK, SMS, the code from the demo
//! outbox, the second card, thanks), `b` (forgot_password to the new password: one argon2id
//! hash per reset), `ab` (`a` with `--b-sessions` members running `b` beside it), `prefill`
//! (`--count` one-turn sessions, to fill the store), `hello` (Mix A's first request against
//! any server, e.g. the axum hello-world of `benches/hello_axum.rs`: the ceiling).
//!
//! The client is a few lines of HTTP/1.1 over tokio's `TcpStream` on one thread, so that it
//! takes as little as possible of the CPU the server is measured on.

use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tanya::members::synthetic_member;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    /// The instances to load; member `i` talks to `addresses[i % len]` (a load balancer
    /// keeping each keep-alive connection on one instance).
    addresses: Vec<SocketAddr>,
    mix: String,
    sessions: usize,
    b_sessions: usize,
    duration: Duration,
    population: u32,
    offset: u32,
    count: u64,
    /// The servers' processes, for CPU per turn and RSS.
    pids: Vec<u32>,
    /// PostgreSQL's postmaster, for the database's CPU per turn (itself and its backends).
    pg_pid: Option<u32>,
    /// Turns per second for all members together (`None`: as fast as answers come).
    rate: Option<f64>,
    /// How long the mix runs before anything is measured (`--warmup`, seconds).
    warmup: Duration,
}

fn args() -> Args {
    let mut args = Args {
        addresses: Vec::new(),
        mix: "a".into(),
        sessions: 200,
        b_sessions: 4,
        duration: Duration::from_secs(30),
        population: 100_000,
        offset: 0,
        count: 100_000,
        pids: Vec::new(),
        pg_pid: None,
        rate: None,
        warmup: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args
                .addresses
                .push(value().parse().expect("--addr host:port")),
            "--mix" => args.mix = value(),
            "--sessions" => args.sessions = value().parse().expect("--sessions N"),
            "--b-sessions" => args.b_sessions = value().parse().expect("--b-sessions N"),
            "--duration" => args.duration = Duration::from_secs(value().parse().expect("seconds")),
            "--population" => args.population = value().parse().expect("--population N"),
            "--offset" => args.offset = value().parse().expect("--offset N"),
            "--count" => args.count = value().parse().expect("--count N"),
            "--pid" => args.pids.push(value().parse().expect("--pid PID")),
            "--pg-pid" => args.pg_pid = Some(value().parse().expect("--pg-pid PID")),
            "--rate" => args.rate = Some(value().parse().expect("--rate TURNS_PER_SECOND")),
            "--warmup" => args.warmup = Duration::from_secs(value().parse().expect("seconds")),
            // `cargo bench` adds `--bench`.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    if args.addresses.is_empty() {
        args.addresses.push("127.0.0.1:8080".parse().unwrap());
    }
    args
}

impl Args {
    /// The instance member (or connection) `i` talks to.
    fn address(&self, i: usize) -> SocketAddr {
        self.addresses[i % self.addresses.len()]
    }
}

/// One keep-alive connection.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(address: SocketAddr) -> Connection {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection {
            stream,
            buffer: Vec::with_capacity(8192),
        }
    }

    /// One request; the status and the body.
    async fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, Vec<u8>) {
        let request = match body {
            Some(body) => format!(
                "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            None => format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n\r\n"),
        };
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("write");
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buffer[..end]).expect("ASCII head");
                let status: u16 = head[9..12].parse().expect("status");
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .expect("Content-Length");
                while self.buffer.len() < end + 4 + length {
                    self.fill().await;
                }
                let body = self.buffer[end + 4..end + 4 + length].to_vec();
                self.buffer.drain(..end + 4 + length);
                return (status, body);
            }
            self.fill().await;
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A turn slower than this is reported with the second of the run it was due in, to tell a
/// stall of the whole server (many slow turns in one second) from one slow connection.
const SLOW: Duration = Duration::from_millis(100);

/// Latencies (µs) of one kind of request, and when the slow ones were due.
#[derive(Default)]
struct Samples {
    micros: Vec<u32>,
    slow: Vec<Instant>,
}

impl Samples {
    fn record(&mut self, due: Instant) {
        let elapsed = due.elapsed();
        self.micros.push(elapsed.as_micros() as u32);
        if elapsed > SLOW {
            self.slow.push(due);
        }
    }

    fn extend(&mut self, other: Samples) {
        self.micros.extend(other.micros);
        self.slow.extend(other.slow);
    }

    /// How many turns were slower than `SLOW`, by the second (since `origin`) they were due.
    fn report_slow(&self, origin: Instant) {
        if self.slow.is_empty() {
            return;
        }
        let mut by_second = std::collections::BTreeMap::new();
        for due in &self.slow {
            *by_second
                .entry(due.saturating_duration_since(origin).as_secs())
                .or_insert(0u32) += 1;
        }
        let seconds: Vec<String> = by_second
            .iter()
            .map(|(second, n)| format!("{second}s: {n}"))
            .collect();
        println!(
            "turns over {} ms: {} (by second due: {})",
            SLOW.as_millis(),
            self.slow.len(),
            seconds.join(", ")
        );
    }

    fn percentile(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        f64::from(sorted[index]) / 1000.0
    }

    fn report(&mut self, name: &str, elapsed: Duration) {
        self.micros.sort_unstable();
        let s = &self.micros;
        println!(
            "{name}: {} in {:.1}s = {:.0}/s; latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}",
            s.len(),
            elapsed.as_secs_f64(),
            s.len() as f64 / elapsed.as_secs_f64(),
            Self::percentile(s, 0.50),
            Self::percentile(s, 0.95),
            Self::percentile(s, 0.99),
            Self::percentile(s, 1.0),
        );
    }
}

/// The fixed schedule of one member's messages under `--rate`.
struct Schedule {
    next: Instant,
    interval: Duration,
}

impl Schedule {
    /// Waits until the next message is due and returns when that was.
    async fn due(&mut self) -> Instant {
        let due = self.next;
        tokio::time::sleep_until(due.into()).await;
        self.next += self.interval;
        due
    }
}

/// A simulated member talking on one connection.
struct Member {
    connection: Connection,
    session: Option<String>,
    turns: Samples,
    schedule: Option<Schedule>,
}

impl Member {
    /// One chat turn; returns the answer's response keys and records its latency.
    async fn turn(&mut self, body: Value) -> Vec<String> {
        let mut body = body;
        if let Some(session) = &self.session {
            body["session_id"] = json!(session);
        }
        let body = body.to_string();
        let started = match &mut self.schedule {
            Some(schedule) => schedule.due().await,
            None => Instant::now(),
        };
        let (status, answer) = self
            .connection
            .request("POST", "/api/v1/chat", Some(&body))
            .await;
        self.turns.record(started);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        let answer: Value = serde_json::from_slice(&answer).expect("JSON");
        self.session = answer["session_id"].as_str().map(str::to_string);
        answer["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["key"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn says(&mut self, text: &str, expected: &str) {
        let keys = self.turn(json!({ "text": text })).await;
        assert!(
            keys.iter().any(|k| k == expected),
            "{text:?}: expected {expected}, got {keys:?}"
        );
    }

    async fn presses(&mut self, payload: &str, expected: &str) {
        let keys = self.turn(json!({ "payload": payload })).await;
        assert!(
            keys.iter().any(|k| k == expected),
            "{payload:?}: expected {expected}, got {keys:?}"
        );
    }

    async fn code(&mut self) -> String {
        let path = format!(
            "/api/v1/demo/outbox?session_id={}",
            self.session.as_ref().expect("session")
        );
        let (status, body) = self.connection.request("GET", &path, None).await;
        assert_eq!(status, 200);
        let outbox: Value = serde_json::from_slice(&body).expect("JSON");
        outbox["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["code"].as_str())
            .expect("a code")
            .to_string()
    }

    /// Mix A: one member's whole visit.
    async fn mix_a(&mut self, i: u32) {
        let member = synthetic_member(i);
        self.session = None;
        self.says("halo", "greet").await;
        self.says("apa itu jmo", "faq_what_is_jmo").await;
        self.says("cek saldo jht", "ask_kpj_nik").await;
        let identity = format!(
            "kpj {} nik {}",
            member.cards[0].kpj.as_str(),
            member.nik.as_str()
        );
        self.says(&identity, "ask_otp_channel").await;
        self.presses("/otp_channel sms", "otp_sent").await;
        let code = self.code().await;
        self.says(&code, "ask_card").await;
        self.presses("/card 2", "jht_balance").await;
        self.says("terima kasih", "thanks").await;
    }

    /// Mix B: one password reset.
    async fn mix_b(&mut self, i: u32) {
        let member = synthetic_member(i);
        self.session = None;
        self.says("lupa password jmo", "ask_email_kpj").await;
        let email = member.email.as_ref().expect("e-mail");
        let identity = format!("{} {}", email.as_str(), member.cards[0].kpj.as_str());
        self.says(&identity, "otp_sent").await;
        let code = self.code().await;
        self.says(&code, "ask_new_password").await;
        self.says("Anggota#Baru2026x", "password_changed").await;
    }
}

/// Runs `sessions` members doing `flow` until `deadline`; returns the turn latencies and the
/// number of flows completed.
async fn run(
    args: &Args,
    sessions: usize,
    next: Arc<AtomicU32>,
    deadline: Instant,
    b: bool,
) -> (Samples, u64) {
    let flows = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    // Under `--rate` (Mix A only), members start spread over one interval.
    let interval = args
        .rate
        .filter(|_| !b)
        .map(|rate| Duration::from_secs_f64(sessions as f64 / rate));
    let start = Instant::now() + Duration::from_millis(100);
    for i in 0..sessions {
        let (address, next, flows, population, offset) = (
            args.address(i),
            next.clone(),
            flows.clone(),
            args.population,
            args.offset,
        );
        let schedule = interval.map(|interval| Schedule {
            next: start + interval.mul_f64(i as f64 / sessions as f64),
            interval,
        });
        tasks.push(tokio::spawn(async move {
            let mut member = Member {
                connection: Connection::open(address).await,
                session: None,
                turns: Samples::default(),
                schedule,
            };
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                assert!(
                    n < population,
                    "the population is used up: raise --population or --offset"
                );
                if b {
                    member.mix_b(offset + n).await;
                } else {
                    member.mix_a(offset + n).await;
                }
                flows.fetch_add(1, Ordering::Relaxed);
            }
            member.turns
        }));
    }
    let mut all = Samples::default();
    for task in tasks {
        all.extend(task.await.expect("member task"));
    }
    all.report_slow(start);
    (all, flows.load(Ordering::Relaxed))
}

fn rss(pid: u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_string())
            .unwrap_or_default()
    };
    println!(
        "server RSS now {}, peak (VmHWM) {}",
        field("VmRSS:"),
        field("VmHWM:")
    );
}

/// Turns the server has answered (`tanya_turns_total` summed over channels, from `/metrics`).
fn server_turns(address: SocketAddr) -> f64 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return 0.0;
    };
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let mut body = String::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_string(&mut body).is_err() {
        return 0.0;
    }
    body.lines()
        .filter(|line| line.starts_with("tanya_turns_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// CPU time used so far by PostgreSQL: the postmaster with the children it reaped, and its
/// live children (the connections' backends, the WAL writer, the checkpointer…).
fn postgres_cpu_seconds(postmaster: u32) -> f64 {
    let own = stat_fields(&postmaster.to_string());
    let ticks = |fields: &[String], range: std::ops::Range<usize>| -> f64 {
        range
            .filter_map(|i| fields.get(i)?.parse::<f64>().ok())
            .sum()
    };
    let mut total = ticks(&own, 11..15);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let fields = stat_fields(&name);
        // Field 1 after the command is the parent's pid.
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(postmaster) {
            total += ticks(&fields, 11..13);
        }
    }
    total / 100.0
}

/// The fields of `/proc/PID/stat` after the command name.
fn stat_fields(pid: &str) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// CPU time (user + system) used so far by process `pid` (`self` for this one), in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let fields = stat_fields(pid);
    let ticks: f64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let next = Arc::new(AtomicU32::new(0));
    if !args.warmup.is_zero() && matches!(args.mix.as_str(), "a" | "b" | "ab") {
        // A server just started answers its first turns slowly (database connections being
        // opened, caches filling): with `--warmup` the mix runs first, unmeasured, as long as
        // asked, and each member then starts again.
        let deadline = Instant::now() + args.warmup;
        let b = args.mix == "b";
        runtime.block_on(run(&args, args.sessions, next.clone(), deadline, b));
        println!("warm-up: {} s, not measured", args.warmup.as_secs());
    }
    let cpu_before = cpu_seconds("self");
    let servers_cpu = || -> f64 {
        args.pids
            .iter()
            .map(|pid| cpu_seconds(&pid.to_string()))
            .sum()
    };
    let servers_turns = || -> f64 { args.addresses.iter().map(|a| server_turns(*a)).sum() };
    let server_cpu_before = servers_cpu();
    let postgres_cpu_before = args.pg_pid.map(postgres_cpu_seconds);
    let turns_before = servers_turns();
    runtime.block_on(async {
        let started = Instant::now();
        let deadline = started + args.duration;
        match args.mix.as_str() {
            "a" => {
                let (mut turns, flows) = run(&args, args.sessions, next, deadline, false).await;
                let elapsed = started.elapsed();
                turns.report("mix A turns", elapsed);
                println!(
                    "mix A visits: {flows} ({:.0}/s)",
                    flows as f64 / elapsed.as_secs_f64()
                );
            }
            "b" => {
                let (mut turns, flows) = run(&args, args.sessions, next, deadline, true).await;
                let elapsed = started.elapsed();
                turns.report("mix B turns", elapsed);
                println!(
                    "mix B resets: {flows} ({:.1}/s)",
                    flows as f64 / elapsed.as_secs_f64()
                );
            }
            "ab" => {
                let a = run(&args, args.sessions, next.clone(), deadline, false);
                let b = run(&args, args.b_sessions, next, deadline, true);
                let ((mut a_turns, a_flows), (mut b_turns, b_flows)) = tokio::join!(a, b);
                let elapsed = started.elapsed();
                a_turns.report("mix A turns (beside B)", elapsed);
                b_turns.report("mix B turns (beside A)", elapsed);
                println!(
                    "visits A {a_flows}, resets B {b_flows} ({:.1}/s)",
                    b_flows as f64 / elapsed.as_secs_f64()
                );
            }
            "prefill" => {
                let remaining = Arc::new(AtomicU64::new(args.count));
                let mut tasks = Vec::new();
                for i in 0..args.sessions {
                    let (address, remaining) = (args.address(i), remaining.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut connection = Connection::open(address).await;
                        while remaining
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                                n.checked_sub(1)
                            })
                            .is_ok()
                        {
                            let (status, _) = connection
                                .request("POST", "/api/v1/chat", Some(r#"{"text":"halo"}"#))
                                .await;
                            assert_eq!(status, 200);
                        }
                    }));
                }
                for task in tasks {
                    task.await.expect("prefill task");
                }
                let elapsed = started.elapsed();
                println!(
                    "prefill: {} sessions in {:.1}s ({:.0}/s)",
                    args.count,
                    elapsed.as_secs_f64(),
                    args.count as f64 / elapsed.as_secs_f64()
                );
            }
            "hello" => {
                let mut tasks = Vec::new();
                for i in 0..args.sessions {
                    let address = args.address(i);
                    tasks.push(tokio::spawn(async move {
                        let mut connection = Connection::open(address).await;
                        let mut samples = Samples::default();
                        while Instant::now() < deadline {
                            let started = Instant::now();
                            let (status, _) = connection
                                .request("POST", "/api/v1/chat", Some(r#"{"text":"halo"}"#))
                                .await;
                            samples.record(started);
                            assert_eq!(status, 200);
                        }
                        samples
                    }));
                }
                let mut all = Samples::default();
                for task in tasks {
                    all.extend(task.await.expect("hello task"));
                }
                all.report("hello requests", started.elapsed());
            }
            other => panic!("unknown mix {other}"),
        }
        if args.mix == "b" || args.mix == "ab" {
            let password = tanya::security::password::SecretString::new("Anggota#Baru2026x".into());
            let started = Instant::now();
            tanya::security::password::hash_password(&password).expect("hash");
            println!(
                "one argon2id hash (m=19456, t=2, p=1) here: {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    });
    println!(
        "load generator CPU: {:.1}s",
        cpu_seconds("self") - cpu_before
    );
    // CPU per turn is steadier than turns per second on a shared machine: other work on the
    // cores slows the server down but hardly changes what one turn costs.
    let turns = servers_turns() - turns_before;
    if !args.pids.is_empty() && turns > 0.0 {
        let cpu = servers_cpu() - server_cpu_before;
        println!(
            "server CPU: {cpu:.1}s for {turns:.0} turns = {:.0} µs per turn",
            cpu * 1e6 / turns
        );
    }
    if let (Some(pid), Some(before)) = (args.pg_pid, postgres_cpu_before)
        && turns > 0.0
    {
        let cpu = postgres_cpu_seconds(pid) - before;
        println!(
            "PostgreSQL CPU: {cpu:.1}s for {turns:.0} turns = {:.0} µs per turn",
            cpu * 1e6 / turns
        );
    }
    for pid in &args.pids {
        rss(*pid);
    }
}
