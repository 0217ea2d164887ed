//! Operational metrics, rendered for `GET /metrics` in the Prometheus text format (0.0.4).
//!
//! Hand-written rather than the `prometheus` crate: every series here is a counter, a gauge
//! or one histogram, the label values come from small fixed sets (channels, intents and
//! response keys of `intents/`), and a turn updates about six of them. Plain atomics behind a
//! read-mostly map do that without a registry, a protobuf dependency or a lock on the hot path,
//! and the text format is a few `writeln!`s.
//!
//! Label values are never taken from what a member typed: intents are clamped to the known
//! ones by the caller, response keys are those of the content, channels those of the code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the turn latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counters by one label value, created on first use.
#[derive(Default)]
struct Family {
    values: RwLock<BTreeMap<String, Arc<AtomicU64>>>,
}

impl Family {
    fn add(&self, label: &str, n: u64) {
        let read = self.values.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(counter) = read.get(label) {
            counter.fetch_add(n, Relaxed);
            return;
        }
        drop(read);
        let mut write = self.values.write().unwrap_or_else(PoisonError::into_inner);
        write
            .entry(label.to_owned())
            .or_default()
            .fetch_add(n, Relaxed);
    }

    fn get(&self, label: &str) -> u64 {
        let read = self.values.read().unwrap_or_else(PoisonError::into_inner);
        read.get(label).map_or(0, |c| c.load(Relaxed))
    }

    fn snapshot(&self) -> Vec<(String, u64)> {
        let read = self.values.read().unwrap_or_else(PoisonError::into_inner);
        read.iter()
            .map(|(k, v)| (k.clone(), v.load(Relaxed)))
            .collect()
    }
}

/// A latency histogram with fixed buckets.
struct Histogram {
    /// Non-cumulative counts; the last slot is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }
}

/// How a flow that was in progress ended without completing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandon {
    Cancelled,
    Expired,
    Handoff,
    /// Another of the three flows was started.
    Switched,
    RateLimited,
    /// Goodbye, or anything else that ended it.
    Other,
}

impl Abandon {
    fn as_str(self) -> &'static str {
        match self {
            Abandon::Cancelled => "cancelled",
            Abandon::Expired => "expired",
            Abandon::Handoff => "handoff",
            Abandon::Switched => "switched",
            Abandon::RateLimited => "rate_limited",
            Abandon::Other => "other",
        }
    }
}

/// What one finished turn contributes to the metrics.
pub struct TurnRecord<'a> {
    pub channel: &'a str,
    /// The intent, already clamped to a known name (`None` for passwords and buttons).
    pub intent: Option<&'a str>,
    pub response_keys: &'a [&'a str],
    pub started: Option<&'a str>,
    pub completed: Option<&'a str>,
    pub abandoned: Option<(&'a str, Abandon)>,
    pub new_session: bool,
    pub elapsed: Duration,
}

/// Every metric the server exposes. Shared as `Arc<Metrics>` by the engine, the HTTP layer
/// and the channels.
pub struct Metrics {
    started: Instant,
    turns: Family,
    turn_errors: Family,
    intents: Family,
    responses: Family,
    fallback_turns: AtomicU64,
    flows_started: Family,
    flows_completed: Family,
    /// Keyed `flow\u{1}reason`.
    flows_abandoned: Family,
    turn_seconds: Histogram,
    rate_limited: Family,
    webhook_verification_failures: Family,
    delivery_retries: Family,
    delivery_given_up: Family,
    delivery_backlog: AtomicI64,
    sessions_stored: AtomicI64,
    directory_unavailable: AtomicU64,
    code_deliveries: Family,
    code_delivery_retries: Family,
    code_deliveries_failed: Family,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            turns: Family::default(),
            turn_errors: Family::default(),
            intents: Family::default(),
            responses: Family::default(),
            fallback_turns: AtomicU64::new(0),
            flows_started: Family::default(),
            flows_completed: Family::default(),
            flows_abandoned: Family::default(),
            turn_seconds: Histogram::default(),
            rate_limited: Family::default(),
            webhook_verification_failures: Family::default(),
            delivery_retries: Family::default(),
            delivery_given_up: Family::default(),
            delivery_backlog: AtomicI64::new(0),
            sessions_stored: AtomicI64::new(0),
            directory_unavailable: AtomicU64::new(0),
            code_deliveries: Family::default(),
            code_delivery_retries: Family::default(),
            code_deliveries_failed: Family::default(),
        }
    }
}

impl Metrics {
    /// Records one finished turn.
    pub fn turn(&self, turn: &TurnRecord<'_>) {
        self.turns.add(turn.channel, 1);
        if let Some(intent) = turn.intent {
            self.intents.add(intent, 1);
        }
        for key in turn.response_keys {
            self.responses.add(key, 1);
        }
        if turn.response_keys.contains(&"fallback") {
            self.fallback_turns.fetch_add(1, Relaxed);
        }
        if let Some(flow) = turn.started {
            self.flows_started.add(flow, 1);
        }
        if let Some(flow) = turn.completed {
            self.flows_completed.add(flow, 1);
        }
        if let Some((flow, reason)) = turn.abandoned {
            self.flows_abandoned
                .add(&format!("{flow}\u{1}{}", reason.as_str()), 1);
        }
        if turn.new_session {
            self.sessions_stored.fetch_add(1, Relaxed);
        }
        self.turn_seconds.observe(turn.elapsed);
    }

    /// A turn that failed (store, directory, hashing): the member got an error.
    pub fn turn_failed(&self, channel: &str) {
        self.turn_errors.add(channel, 1);
    }

    /// A turn answered `service_unavailable` because the member directory could not answer.
    pub fn directory_unavailable(&self) {
        self.directory_unavailable.fetch_add(1, Relaxed);
    }

    /// A code delivered (`channel`: `sms` or `email`).
    pub fn code_delivered(&self, channel: &str) {
        self.code_deliveries.add(channel, 1);
    }

    /// A code delivery that failed and will be tried again.
    pub fn code_delivery_retried(&self, channel: &str) {
        self.code_delivery_retries.add(channel, 1);
    }

    /// A code that could not be delivered after its retries (the member was told).
    pub fn code_delivery_failed(&self, channel: &str) {
        self.code_deliveries_failed.add(channel, 1);
    }

    /// Codes that could not be delivered on `channel` so far (for tests).
    pub fn code_deliveries_failed(&self, channel: &str) -> u64 {
        self.code_deliveries_failed.get(channel)
    }

    /// A request or message refused by a rate limit; `scope` is `web_session`, `client_ip`,
    /// `channel_user`.
    pub fn rate_limited(&self, scope: &str) {
        self.rate_limited.add(scope, 1);
    }

    /// A webhook whose signature or secret did not verify (`telegram`, `whatsapp`, `line`).
    pub fn webhook_verification_failed(&self, channel: &str) {
        self.webhook_verification_failures.add(channel, 1);
    }

    /// For the channels' delivery worker: a send failed and will be retried.
    pub fn delivery_retried(&self, channel: &str) {
        self.delivery_retries.add(channel, 1);
    }

    /// For the channels' delivery worker: a send was given up (permanent error, or the last
    /// attempt failed).
    pub fn delivery_given_up(&self, channel: &str) {
        self.delivery_given_up.add(channel, 1);
    }

    /// For the channels: how many platform calls wait in the delivery outbox.
    pub fn set_delivery_backlog(&self, pending: usize) {
        self.delivery_backlog.store(pending as i64, Relaxed);
    }

    /// Sets the stored-session estimate from an exact count (the sweeper's scan).
    pub fn set_sessions_stored(&self, count: usize) {
        self.sessions_stored.store(count as i64, Relaxed);
    }

    /// The stored-session estimate: the last exact count plus sessions created since.
    pub fn sessions_stored(&self) -> i64 {
        self.sessions_stored.load(Relaxed)
    }

    /// Turns processed on `channel` so far (for tests).
    pub fn turns(&self, channel: &str) -> u64 {
        self.turns.get(channel)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let turns = self.turns.snapshot();
        family(
            &mut out,
            "tanya_turns_total",
            "Turns processed, by channel.",
            "channel",
            &turns,
        );
        family(
            &mut out,
            "tanya_turn_errors_total",
            "Turns that failed with an internal error, by channel.",
            "channel",
            &self.turn_errors.snapshot(),
        );
        family(
            &mut out,
            "tanya_intents_total",
            "Intents read by the NLU (or pressed as buttons), by intent.",
            "intent",
            &self.intents.snapshot(),
        );
        family(
            &mut out,
            "tanya_responses_total",
            "Bot messages sent, by response key.",
            "key",
            &self.responses.snapshot(),
        );
        let fallbacks = self.fallback_turns.load(Relaxed);
        scalar(
            &mut out,
            "tanya_fallback_turns_total",
            "Turns answered with the fallback response.",
            "counter",
            fallbacks as f64,
        );
        let all_turns: u64 = turns.iter().map(|(_, n)| n).sum();
        scalar(
            &mut out,
            "tanya_fallback_ratio",
            "Share of turns since start-up answered with the fallback response.",
            "gauge",
            if all_turns == 0 {
                0.0
            } else {
                fallbacks as f64 / all_turns as f64
            },
        );
        family(
            &mut out,
            "tanya_flows_started_total",
            "Self-service flows started, by flow.",
            "flow",
            &self.flows_started.snapshot(),
        );
        family(
            &mut out,
            "tanya_flows_completed_total",
            "Self-service flows completed, by flow.",
            "flow",
            &self.flows_completed.snapshot(),
        );
        header(
            &mut out,
            "tanya_flows_abandoned_total",
            "Self-service flows left before completion, by flow and reason.",
            "counter",
        );
        for (key, n) in self.flows_abandoned.snapshot() {
            let (flow, reason) = key.split_once('\u{1}').unwrap_or((&key, ""));
            let _ = writeln!(
                out,
                "tanya_flows_abandoned_total{{flow=\"{}\",reason=\"{}\"}} {n}",
                escape(flow),
                escape(reason)
            );
        }
        self.render_latency(&mut out);
        family(
            &mut out,
            "tanya_rate_limited_total",
            "Requests or messages refused by a rate limit, by scope.",
            "scope",
            &self.rate_limited.snapshot(),
        );
        family(
            &mut out,
            "tanya_webhook_verification_failures_total",
            "Webhook calls refused for a missing or wrong signature or secret, by channel.",
            "channel",
            &self.webhook_verification_failures.snapshot(),
        );
        scalar(
            &mut out,
            "tanya_directory_unavailable_total",
            "Turns answered service_unavailable because the member directory could not answer.",
            "counter",
            self.directory_unavailable.load(Relaxed) as f64,
        );
        family(
            &mut out,
            "tanya_code_deliveries_total",
            "Codes handed to the SMS gateway or the SMTP server, by channel.",
            "channel",
            &self.code_deliveries.snapshot(),
        );
        family(
            &mut out,
            "tanya_code_delivery_retries_total",
            "Code deliveries that failed and were scheduled again, by channel.",
            "channel",
            &self.code_delivery_retries.snapshot(),
        );
        family(
            &mut out,
            "tanya_code_deliveries_failed_total",
            "Codes that could not be delivered after their retries (the member was told), by channel.",
            "channel",
            &self.code_deliveries_failed.snapshot(),
        );
        family(
            &mut out,
            "tanya_delivery_retries_total",
            "Channel sends that failed and were scheduled again, by channel.",
            "channel",
            &self.delivery_retries.snapshot(),
        );
        family(
            &mut out,
            "tanya_delivery_given_up_total",
            "Channel sends given up, by channel.",
            "channel",
            &self.delivery_given_up.snapshot(),
        );
        scalar(
            &mut out,
            "tanya_delivery_backlog",
            "Channel sends waiting in the delivery outbox.",
            "gauge",
            self.delivery_backlog.load(Relaxed) as f64,
        );
        scalar(
            &mut out,
            "tanya_sessions_stored",
            "Conversation sessions stored (counted at each sweep, plus sessions created since).",
            "gauge",
            self.sessions_stored.load(Relaxed).max(0) as f64,
        );
        scalar(
            &mut out,
            "tanya_uptime_seconds",
            "Seconds since the process started serving.",
            "gauge",
            self.started.elapsed().as_secs_f64(),
        );
        out
    }

    fn render_latency(&self, out: &mut String) {
        let name = "tanya_turn_duration_seconds";
        header(
            out,
            name,
            "Time to process one turn, from the session lock to durable state.",
            "histogram",
        );
        let h = &self.turn_seconds;
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += h.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += h.buckets[LATENCY_BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = h.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {}", h.count.load(Relaxed));
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn family(out: &mut String, name: &str, help: &str, label: &str, values: &[(String, u64)]) {
    header(out, name, help, "counter");
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape(value));
    }
}

fn scalar(out: &mut String, name: &str, help: &str, kind: &str, value: f64) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_shows_up_in_every_family_it_touches() {
        let metrics = Metrics::default();
        metrics.turn(&TurnRecord {
            channel: "web",
            intent: Some("greet"),
            response_keys: &["greet", "fallback"],
            started: Some("check_jht_balance"),
            completed: None,
            abandoned: Some(("forgot_account", Abandon::Switched)),
            new_session: true,
            elapsed: Duration::from_micros(1_500),
        });
        let text = metrics.render();
        for line in [
            "tanya_turns_total{channel=\"web\"} 1",
            "tanya_intents_total{intent=\"greet\"} 1",
            "tanya_responses_total{key=\"fallback\"} 1",
            "tanya_fallback_turns_total 1",
            "tanya_fallback_ratio 1",
            "tanya_flows_started_total{flow=\"check_jht_balance\"} 1",
            "tanya_flows_abandoned_total{flow=\"forgot_account\",reason=\"switched\"} 1",
            "tanya_turn_duration_seconds_bucket{le=\"0.001\"} 0",
            "tanya_turn_duration_seconds_bucket{le=\"0.0025\"} 1",
            "tanya_turn_duration_seconds_bucket{le=\"+Inf\"} 1",
            "tanya_turn_duration_seconds_count 1",
            "tanya_sessions_stored 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn every_sample_line_follows_the_text_format() {
        let metrics = Metrics::default();
        metrics.webhook_verification_failed("tele\"gram\n");
        metrics.set_delivery_backlog(3);
        for line in metrics.render().lines() {
            if line.starts_with('#') {
                assert!(line.starts_with("# HELP ") || line.starts_with("# TYPE "));
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("name and value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(series.starts_with("tanya_"), "{line}");
            assert!(!series.contains('\n'));
        }
        assert!(metrics.render().contains("channel=\"tele\\\"gram\\n\"} 1"));
    }
}
