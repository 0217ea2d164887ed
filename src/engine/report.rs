//! What a finished turn reports: the metrics (the flows as the dialog said they went) and the
//! turn's log line.

use super::turn::Conclusion;
use super::{Engine, OutgoingMessage};
use crate::dialog::Flow;
use crate::metrics::{Channel, TurnRecord};

impl Engine {
    /// Metrics and the turn's log line: the session redacted, the intent, the response keys
    /// and the state (`after`'s flow) — never the text or anything personal.
    pub(super) fn record(
        &self,
        turn: &Conclusion<'_>,
        messages: &[OutgoingMessage],
        after: Option<Flow>,
    ) {
        let keys: Vec<&str> = messages.iter().map(|m| m.key.as_str()).collect();
        let intent = turn.intent.map(|i| {
            if self.intents.contains(i.name.as_str()) {
                i.name.as_str()
            } else {
                "unknown"
            }
        });
        let elapsed = turn.started.elapsed();
        self.metrics.turn(&TurnRecord {
            channel: Channel::of(turn.key.channel()),
            intent,
            response_keys: &keys,
            flows: &turn.flows,
            new_session: turn.new_session,
            elapsed,
        });
        tracing::info!(
            session = %turn.key.redacted(),
            intent = intent.unwrap_or("-"),
            responses = %keys.join(","),
            state = after.map_or("idle", Flow::intent),
            micros = elapsed.as_micros() as u64,
            "turn"
        );
    }
}
