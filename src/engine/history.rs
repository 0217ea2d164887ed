//! The conversation as kept and shown: each exchange recorded with the session (the oldest
//! moved to the transcript store), and the history read back from both (`HistoryEntry`).

use super::turn::decode;
use super::{Engine, EngineError};
use crate::clock::Timestamp;
use crate::content::Button;
use crate::dialog::Session;
use crate::dialog::state::{Answered, Exchange, HISTORY_LIMIT, RECENT_EXCHANGES, Speaker};
use crate::nlu::IntentScore;
use crate::store::{SessionKey, TranscriptLines, TurnWrites};
use serde::{Deserialize, Serialize};

/// One visible line of the conversation (passwords already replaced by `••••`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub from: Speaker,
    pub text: String,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

/// How a password is shown in transcripts.
pub const HIDDEN_PASSWORD: &str = "••••";

impl Engine {
    /// The visible transcript of a session (passwords already hidden), oldest first. An
    /// exchange that cannot be decoded is left out (and logged), never an error for the whole
    /// history.
    pub async fn history(
        &self,
        key: &SessionKey,
    ) -> Result<Option<Vec<HistoryEntry>>, EngineError> {
        let now = self.services.clock.now();
        let Some(stored) = self.load(key).await? else {
            return Ok(None);
        };
        let session = decode(key, &stored, now);
        let mut entries = Vec::new();
        // Saturating: a record is only ever written by this engine, but a history read must
        // not panic on one that breaks the invariant.
        let stored_before = session
            .exchanges
            .saturating_sub(session.recent.len() as u64);
        for record in self.services.store.transcript(key, stored_before).await? {
            match serde_json::from_slice(&record) {
                Ok(exchange) => self.push_history(&mut entries, exchange),
                Err(error) => {
                    tracing::warn!(session = %key.redacted(), %error, "unreadable transcript exchange");
                }
            }
        }
        for exchange in session.recent {
            self.push_history(&mut entries, exchange);
        }
        Ok(Some(entries))
    }

    /// A stored exchange as the history shows it: the member's line, then the bot's.
    fn push_history(&self, entries: &mut Vec<HistoryEntry>, exchange: Exchange) {
        entries.push(HistoryEntry {
            from: Speaker::User,
            text: exchange.user,
            at: exchange.at,
            key: None,
            buttons: Vec::new(),
        });
        entries.extend(exchange.bot.iter().map(|said| {
            let message = self.render_said(said);
            HistoryEntry {
                from: Speaker::Bot,
                text: message.text,
                at: exchange.at,
                key: Some(message.key),
                buttons: message.buttons,
            }
        }));
    }
}

/// Keeps a turn's exchange with the session, and what `answered` says of the message (its
/// client id and intent) for a retry; the oldest exchange beyond the session's share goes to
/// the transcript store (the writes returned). The session itself is the caller's to write.
pub(super) fn keep(
    session: &mut Session,
    exchange: Exchange,
    answered: Option<(&str, Option<&IntentScore>)>,
) -> Result<TurnWrites, EngineError> {
    session.recent.push(exchange);
    session.exchanges += 1;
    if let Some((id, intent)) = answered {
        session.answered.push(Answered {
            id: id.to_string(),
            exchange: session.exchanges - 1,
            intent: intent.map(|i| (i.name.clone(), i.confidence)),
            state: session.state.name(),
            expects: session.state.expects(),
        });
    }
    let mut writes = TurnWrites::default();
    if session.recent.len() > RECENT_EXCHANGES {
        let oldest = session.recent.remove(0);
        let number = session
            .exchanges
            .saturating_sub(session.recent.len() as u64 + 1);
        writes.transcript = Some(TranscriptLines {
            first: number,
            lines: vec![serde_json::to_vec(&oldest)?],
            keep: HISTORY_LIMIT - RECENT_EXCHANGES as u64,
        });
    }
    // An answer is replayed only from the exchanges the session carries: a client retries
    // at once, and the bound keeps the record small.
    let first_recent = session.exchanges - session.recent.len() as u64;
    session
        .answered
        .retain(|answered| answered.exchange >= first_recent);
    Ok(writes)
}
