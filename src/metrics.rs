//! Operational metrics, exposed for `GET /metrics` in the OpenMetrics text format through
//! `prometheus-client`.
//!
//! Label cardinality is bounded by the types: every label set is a struct of enums
//! ([`Channel`], [`CodeChannel`], [`Flow`], [`Abandon`], [`RateLimitScope`]), so no value a
//! member or a platform sends can create a series. The two open `String` labels are bounded
//! by the content instead: `intent` is clamped by the engine to the intents of `intents/`
//! (anything else is `unknown`), and `key` takes the response keys of `intents/`, never text.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::dialog::state::CodeChannel;
use crate::dialog::{Abandon, Flow, FlowOutcome};

/// The media type of [`Metrics::render`]'s text, for the `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the turn latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Writes a label value from its `as_str`. The derive would write the variant's Rust name
/// (`Web`), and the label values (`web`) are part of the metrics' contract with dashboards.
macro_rules! label_value {
    ($($ty:ty),* $(,)?) => {$(
        impl EncodeLabelValue for $ty {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
                std::fmt::Write::write_str(encoder, self.as_str())
            }
        }
    )*};
}

/// The channel a conversation (or a delivery) belongs to: the channel part of its session key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Web,
    Telegram,
    Whatsapp,
    Line,
    Cli,
    /// The conversation-test runner (`tanya test`).
    Test,
    /// The readiness probe's turn.
    Health,
    /// The code delivery queue (SMS and e-mail), in the delivery worker's metrics.
    Code,
    /// Any other name: the key type allows any, and a label must not.
    Other,
}

impl Channel {
    /// The channel named `name`, the part of a session key before `:`.
    pub fn of(name: &str) -> Channel {
        match name {
            "web" => Channel::Web,
            "telegram" => Channel::Telegram,
            "whatsapp" => Channel::Whatsapp,
            "line" => Channel::Line,
            "cli" => Channel::Cli,
            "test" => Channel::Test,
            "health" => Channel::Health,
            "code" => Channel::Code,
            _ => Channel::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Telegram => "telegram",
            Channel::Whatsapp => "whatsapp",
            Channel::Line => "line",
            Channel::Cli => "cli",
            Channel::Test => "test",
            Channel::Health => "health",
            Channel::Code => "code",
            Channel::Other => "other",
        }
    }
}

/// Which rate limit refused a request or a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitScope {
    /// One web chat session.
    WebSession,
    /// One client address.
    ClientIp,
    /// Requests whose client address could not be told (one shared budget).
    ClientIpUnknown,
    /// One user of a messaging platform.
    ChannelUser,
}

impl RateLimitScope {
    fn as_str(self) -> &'static str {
        match self {
            RateLimitScope::WebSession => "web_session",
            RateLimitScope::ClientIp => "client_ip",
            RateLimitScope::ClientIpUnknown => "client_ip_unknown",
            RateLimitScope::ChannelUser => "channel_user",
        }
    }
}

/// A flow's label is the intent that starts it; a code channel's is its own name; an
/// abandonment's, its reason.
trait AsLabel {
    fn as_str(&self) -> &'static str;
}

impl AsLabel for Flow {
    fn as_str(&self) -> &'static str {
        self.intent()
    }
}

impl AsLabel for Abandon {
    fn as_str(&self) -> &'static str {
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

impl AsLabel for CodeChannel {
    fn as_str(&self) -> &'static str {
        self.name()
    }
}

label_value!(Channel, RateLimitScope, Abandon, Flow, CodeChannel);

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ChannelLabels {
    channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CodeChannelLabels {
    channel: CodeChannel,
}

/// Bounded by the content: the engine clamps intents to those of `intents/` or `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct IntentLabels {
    intent: String,
}

/// Bounded by the content: response keys are those of `intents/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KeyLabels {
    key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FlowLabels {
    flow: Flow,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AbandonLabels {
    flow: Flow,
    reason: Abandon,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ScopeLabels {
    scope: RateLimitScope,
}

/// What one finished turn contributes to the metrics.
pub struct TurnRecord<'a> {
    pub channel: Channel,
    /// The intent, already clamped to a known name (`None` for passwords and buttons).
    pub intent: Option<&'a str>,
    pub response_keys: &'a [&'a str],
    /// What the turn's steps did to the flows, as the dialog said.
    pub flows: &'a [FlowOutcome],
    pub new_session: bool,
    pub elapsed: Duration,
}

/// Every metric the server exposes. Shared as `Arc<Metrics>` by the engine, the HTTP layer
/// and the channels. The handles share their values with `registry`, which encodes them.
pub struct Metrics {
    registry: Registry,
    started: Instant,
    /// Turns on every channel, for the fallback ratio (a family cannot be summed).
    all_turns: AtomicU64,
    turns: Family<ChannelLabels, Counter>,
    turn_errors: Family<ChannelLabels, Counter>,
    intents: Family<IntentLabels, Counter>,
    responses: Family<KeyLabels, Counter>,
    fallback_turns: Counter,
    fallback_ratio: Gauge<f64, AtomicU64>,
    flows_started: Family<FlowLabels, Counter>,
    flows_completed: Family<FlowLabels, Counter>,
    flows_abandoned: Family<AbandonLabels, Counter>,
    turn_seconds: Histogram,
    rate_limited: Family<ScopeLabels, Counter>,
    webhook_verification_failures: Family<ChannelLabels, Counter>,
    directory_unavailable: Counter,
    code_deliveries: Family<CodeChannelLabels, Counter>,
    code_delivery_retries: Family<CodeChannelLabels, Counter>,
    code_deliveries_failed: Family<CodeChannelLabels, Counter>,
    delivery_retries: Family<ChannelLabels, Counter>,
    delivery_given_up: Family<ChannelLabels, Counter>,
    delivery_backlog: Gauge,
    sessions_stored: Gauge,
    uptime: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tanya");
        // Counters are registered without `_total`: the encoder appends it.
        macro_rules! registered {
            ($name:literal, $help:literal, $metric:expr) => {{
                let metric = $metric;
                registry.register($name, $help, metric.clone());
                metric
            }};
        }
        Metrics {
            started: Instant::now(),
            all_turns: AtomicU64::new(0),
            turns: registered!("turns", "Turns processed, by channel", Family::default()),
            turn_errors: registered!(
                "turn_errors",
                "Turns that failed with an internal error, by channel",
                Family::default()
            ),
            intents: registered!(
                "intents",
                "Intents read by the NLU (or pressed as buttons), by intent",
                Family::default()
            ),
            responses: registered!(
                "responses",
                "Bot messages sent, by response key",
                Family::default()
            ),
            fallback_turns: registered!(
                "fallback_turns",
                "Turns answered with the fallback response",
                Counter::default()
            ),
            fallback_ratio: registered!(
                "fallback_ratio",
                "Share of turns since start-up answered with the fallback response",
                Gauge::default()
            ),
            flows_started: registered!(
                "flows_started",
                "Self-service flows started, by flow",
                Family::default()
            ),
            flows_completed: registered!(
                "flows_completed",
                "Self-service flows completed, by flow",
                Family::default()
            ),
            flows_abandoned: registered!(
                "flows_abandoned",
                "Self-service flows left before completion, by flow and reason",
                Family::default()
            ),
            turn_seconds: registered!(
                "turn_duration_seconds",
                "Time to process one turn, from the session lock to durable state",
                Histogram::new(LATENCY_BUCKETS)
            ),
            rate_limited: registered!(
                "rate_limited",
                "Requests or messages refused by a rate limit, by scope",
                Family::default()
            ),
            webhook_verification_failures: registered!(
                "webhook_verification_failures",
                "Webhook calls refused for a missing or wrong signature or secret, by channel",
                Family::default()
            ),
            directory_unavailable: registered!(
                "directory_unavailable",
                "Turns answered service_unavailable because the member directory could not answer",
                Counter::default()
            ),
            code_deliveries: registered!(
                "code_deliveries",
                "Codes handed to the SMS gateway or the SMTP server, by channel",
                Family::default()
            ),
            code_delivery_retries: registered!(
                "code_delivery_retries",
                "Code deliveries that failed and were scheduled again, by channel",
                Family::default()
            ),
            code_deliveries_failed: registered!(
                "code_deliveries_failed",
                "Codes that could not be delivered after their retries (the member was told), by channel",
                Family::default()
            ),
            delivery_retries: registered!(
                "delivery_retries",
                "Channel sends that failed and were scheduled again, by channel",
                Family::default()
            ),
            delivery_given_up: registered!(
                "delivery_given_up",
                "Channel sends given up, by channel",
                Family::default()
            ),
            delivery_backlog: registered!(
                "delivery_backlog",
                "Channel sends waiting in the delivery outbox",
                Gauge::default()
            ),
            sessions_stored: registered!(
                "sessions_stored",
                "Conversation sessions stored (counted at each sweep, plus sessions created since)",
                Gauge::default()
            ),
            uptime: registered!(
                "uptime_seconds",
                "Seconds since the process started serving",
                Gauge::default()
            ),
            registry,
        }
    }
}

impl Metrics {
    /// Records one finished turn.
    pub fn turn(&self, turn: &TurnRecord<'_>) {
        let channel = turn.channel;
        self.turns.get_or_create(&ChannelLabels { channel }).inc();
        self.all_turns.fetch_add(1, Relaxed);
        if let Some(intent) = turn.intent {
            let intent = intent.to_owned();
            self.intents.get_or_create(&IntentLabels { intent }).inc();
        }
        for key in turn.response_keys {
            let key = (*key).to_owned();
            self.responses.get_or_create(&KeyLabels { key }).inc();
        }
        if turn.response_keys.contains(&"fallback") {
            self.fallback_turns.inc();
        }
        for outcome in turn.flows {
            match *outcome {
                FlowOutcome::Started(flow) => {
                    self.flows_started.get_or_create(&FlowLabels { flow }).inc();
                }
                FlowOutcome::Completed(flow) => {
                    self.flows_completed
                        .get_or_create(&FlowLabels { flow })
                        .inc();
                }
                FlowOutcome::Abandoned(flow, reason) => {
                    self.flows_abandoned
                        .get_or_create(&AbandonLabels { flow, reason })
                        .inc();
                }
            }
        }
        if turn.new_session {
            self.sessions_stored.inc();
        }
        self.turn_seconds.observe(turn.elapsed.as_secs_f64());
    }

    /// A turn that failed (store, directory, hashing): the member got an error.
    pub fn turn_failed(&self, channel: Channel) {
        self.turn_errors
            .get_or_create(&ChannelLabels { channel })
            .inc();
    }

    /// A turn answered `service_unavailable` because the member directory could not answer.
    pub fn directory_unavailable(&self) {
        self.directory_unavailable.inc();
    }

    /// A code delivered.
    pub fn code_delivered(&self, channel: CodeChannel) {
        self.code_deliveries
            .get_or_create(&CodeChannelLabels { channel })
            .inc();
    }

    /// A code delivery that failed and will be tried again.
    pub fn code_delivery_retried(&self, channel: CodeChannel) {
        self.code_delivery_retries
            .get_or_create(&CodeChannelLabels { channel })
            .inc();
    }

    /// A code that could not be delivered after its retries (the member was told).
    pub fn code_delivery_failed(&self, channel: CodeChannel) {
        self.code_deliveries_failed
            .get_or_create(&CodeChannelLabels { channel })
            .inc();
    }

    /// Codes that could not be delivered on `channel` so far (for tests).
    pub fn code_deliveries_failed(&self, channel: CodeChannel) -> u64 {
        self.code_deliveries_failed
            .get(&CodeChannelLabels { channel })
            .map_or(0, |counter| counter.get())
    }

    /// A request or message refused by a rate limit.
    pub fn rate_limited(&self, scope: RateLimitScope) {
        self.rate_limited
            .get_or_create(&ScopeLabels { scope })
            .inc();
    }

    /// A webhook whose signature or secret did not verify.
    pub fn webhook_verification_failed(&self, channel: Channel) {
        self.webhook_verification_failures
            .get_or_create(&ChannelLabels { channel })
            .inc();
    }

    /// For the channels' delivery worker: a send failed and will be retried.
    pub fn delivery_retried(&self, channel: Channel) {
        self.delivery_retries
            .get_or_create(&ChannelLabels { channel })
            .inc();
    }

    /// For the channels' delivery worker: a send was given up (permanent error, or the last
    /// attempt failed).
    pub fn delivery_given_up(&self, channel: Channel) {
        self.delivery_given_up
            .get_or_create(&ChannelLabels { channel })
            .inc();
    }

    /// For the channels: how many platform calls wait in the delivery outbox.
    pub fn set_delivery_backlog(&self, pending: usize) {
        self.delivery_backlog.set(saturating_i64(pending));
    }

    /// Sets the stored-session estimate from an exact count (the sweeper's scan).
    pub fn set_sessions_stored(&self, count: usize) {
        self.sessions_stored.set(saturating_i64(count));
    }

    /// The stored-session estimate: the last exact count plus sessions created since.
    pub fn sessions_stored(&self) -> i64 {
        self.sessions_stored.get()
    }

    /// Turns processed on `channel` so far (for tests).
    pub fn turns(&self, channel: Channel) -> u64 {
        self.turns
            .get(&ChannelLabels { channel })
            .map_or(0, |counter| counter.get())
    }

    /// The OpenMetrics text exposition of every metric (served as [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        // The gauges derived from other values are computed when they are read.
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let all_turns = self.all_turns.load(Relaxed);
        self.fallback_ratio.set(if all_turns == 0 {
            0.0
        } else {
            self.fallback_turns.get() as f64 / all_turns as f64
        });
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_shows_up_in_every_family_it_touches() {
        let metrics = Metrics::default();
        metrics.turn(&TurnRecord {
            channel: Channel::Web,
            intent: Some("greet"),
            response_keys: &["greet", "fallback"],
            flows: &[
                FlowOutcome::Started(Flow::CheckJhtBalance),
                FlowOutcome::Abandoned(Flow::ForgotAccount, Abandon::Switched),
            ],
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
        assert_eq!(metrics.turns(Channel::Web), 1);
        assert_eq!(metrics.turns(Channel::Telegram), 0);
    }

    #[test]
    fn every_metric_is_described_and_the_exposition_ends_with_eof() {
        let metrics = Metrics::default();
        metrics.set_delivery_backlog(3);
        metrics.code_delivery_failed(CodeChannel::Email);
        let text = metrics.render();
        for line in text.lines() {
            if let Some(comment) = line.strip_prefix("# ") {
                assert!(
                    ["HELP ", "TYPE ", "EOF"]
                        .iter()
                        .any(|kind| comment.starts_with(kind)),
                    "{line}"
                );
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("name and value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(series.starts_with("tanya_"), "{line}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE tanya_delivery_backlog gauge\n"));
        assert!(text.contains("tanya_delivery_backlog 3\n"));
        assert!(text.contains("tanya_code_deliveries_failed_total{channel=\"email\"} 1\n"));
        assert_eq!(metrics.code_deliveries_failed(CodeChannel::Email), 1);
        assert_eq!(metrics.code_deliveries_failed(CodeChannel::Sms), 0);
    }

    #[test]
    fn a_channel_the_metrics_do_not_know_is_counted_as_other() {
        assert_eq!(Channel::of("web"), Channel::Web);
        assert_eq!(Channel::of("code"), Channel::Code);
        assert_eq!(Channel::of("tele\"gram\n"), Channel::Other);
        let metrics = Metrics::default();
        metrics.webhook_verification_failed(Channel::of("tele\"gram\n"));
        assert!(
            metrics
                .render()
                .contains("tanya_webhook_verification_failures_total{channel=\"other\"} 1")
        );
    }
}
