//! Where one-time codes go in demo mode: instead of a real SMS or e-mail, each code is kept in
//! an outbox per session, which the demo page and the conversation runner read back.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::clock::Timestamp;
use crate::db_error::DbError;
use crate::dialog::state::CodeChannel;
use crate::session_key::SessionKey;

/// A code message to deliver.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundCode {
    pub channel: CodeChannel,
    /// The full destination (phone number or e-mail address).
    pub to: String,
    /// The destination as the member may see it before proving who they are.
    pub masked_to: String,
    pub text: String,
    /// The e-mail's subject (unused for SMS).
    pub subject: String,
    pub code: String,
}

impl fmt::Debug for OutboundCode {
    // The destination is personal data and the code a secret: neither may reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundCode")
            .field("channel", &self.channel)
            .field("to", &self.masked_to)
            .finish_non_exhaustive()
    }
}

/// A code as the demo outbox shows it: this is the JSON of one `GET /api/v1/demo/outbox` item.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub channel: CodeChannel,
    /// The masked destination; the full one is never kept.
    pub to: String,
    pub text: String,
    pub code: String,
    pub at: Timestamp,
}

impl fmt::Debug for OutboxEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxEntry")
            .field("channel", &self.channel)
            .field("to", &self.to)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl OutboxEntry {
    pub(crate) fn new(message: OutboundCode, at: Timestamp) -> OutboxEntry {
        OutboxEntry {
            channel: message.channel,
            to: message.masked_to,
            text: message.text,
            code: message.code,
            at,
        }
    }

    /// The stored form of the entry `message` makes at `at`, as every backend keeps it.
    pub(crate) fn encode(message: OutboundCode, at: Timestamp) -> Result<Vec<u8>, OutboxError> {
        serde_json::to_vec(&OutboxEntry::new(message, at)).map_err(OutboxError::Encode)
    }

    /// An entry of `session` read back from its stored form.
    pub(crate) fn decode(session: &SessionKey, stored: &[u8]) -> Result<OutboxEntry, OutboxError> {
        serde_json::from_slice(stored).map_err(|source| OutboxError::Corrupt {
            session: session.to_string(),
            source,
        })
    }
}

/// What can go wrong sending or reading codes.
#[derive(Debug, Error)]
pub enum OutboxError {
    /// The underlying database failed.
    #[error("outbox database failed")]
    Database(#[from] DbError),
    /// A code could not be queued for delivery (production).
    #[error("queueing a code for delivery failed: {0}")]
    Queue(String),
    /// An entry could not be serialized for storage.
    #[error("cannot encode an outbox entry")]
    Encode(#[source] serde_json::Error),
    /// A stored entry of this session cannot be decoded.
    #[error("an outbox entry of session {session} is corrupt")]
    Corrupt {
        session: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A code outbox that can also be read back (the demo one): what a backend provides.
pub trait CodeOutbox: CodeSender + DemoOutbox {}

impl<T: CodeSender + DemoOutbox> CodeOutbox for T {}

/// Delivers a code for the member talking in `session`.
#[async_trait::async_trait]
pub trait CodeSender: Send + Sync {
    async fn send(
        &self,
        session: &SessionKey,
        message: OutboundCode,
        at: Timestamp,
    ) -> Result<(), OutboxError>;
}

/// Reads back what was "sent" to a session (demo mode only).
#[async_trait::async_trait]
pub trait DemoOutbox: Send + Sync {
    /// The session's entries, oldest first.
    async fn entries(&self, session: &SessionKey) -> Result<Vec<OutboxEntry>, OutboxError>;
    /// Deletes the entries sent before `cutoff`; returns how many. Run by the session sweep
    /// with the same cutoff: a code (and the masked address it went to) is kept no longer
    /// than the session it was sent for.
    async fn remove_sent_before(&self, cutoff: Timestamp) -> Result<usize, OutboxError>;
}

/// The outbox in memory: for tests and the conversation runner.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    entries: Mutex<HashMap<SessionKey, Vec<OutboxEntry>>>,
}

impl MemoryOutbox {
    fn entries_by_session(&self) -> MutexGuard<'_, HashMap<SessionKey, Vec<OutboxEntry>>> {
        // Each operation is a single push or clone, so a poisoned map is still whole.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl CodeSender for MemoryOutbox {
    async fn send(
        &self,
        session: &SessionKey,
        message: OutboundCode,
        at: Timestamp,
    ) -> Result<(), OutboxError> {
        self.entries_by_session()
            .entry(session.clone())
            .or_default()
            .push(OutboxEntry::new(message, at));
        Ok(())
    }
}

#[async_trait::async_trait]
impl DemoOutbox for MemoryOutbox {
    async fn entries(&self, session: &SessionKey) -> Result<Vec<OutboxEntry>, OutboxError> {
        Ok(self
            .entries_by_session()
            .get(session)
            .cloned()
            .unwrap_or_default())
    }

    async fn remove_sent_before(&self, cutoff: Timestamp) -> Result<usize, OutboxError> {
        let mut entries = self.entries_by_session();
        let before: usize = entries.values().map(Vec::len).sum();
        entries.retain(|_, sent| {
            sent.retain(|entry| entry.at >= cutoff);
            !sent.is_empty()
        });
        Ok(before - entries.values().map(Vec::len).sum::<usize>())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn key(id: &str) -> SessionKey {
        SessionKey::new("web", id).expect("valid key")
    }

    pub(crate) fn sms(code: &str) -> OutboundCode {
        OutboundCode {
            channel: CodeChannel::Sms,
            to: "081234567890".into(),
            masked_to: "0812****7890".into(),
            text: format!("Kode JMO Anda: {code}"),
            subject: String::new(),
            code: code.into(),
        }
    }

    /// The behaviour every outbox must share.
    pub(crate) async fn contract<O: CodeSender + DemoOutbox + ?Sized>(outbox: &O) {
        assert!(outbox.entries(&key("a")).await.expect("entries").is_empty());

        outbox
            .send(&key("a"), sms("111111"), Timestamp(1))
            .await
            .expect("send");
        outbox
            .send(&key("ab"), sms("999999"), Timestamp(2))
            .await
            .expect("send");
        outbox
            .send(&key("a"), sms("222222"), Timestamp(3))
            .await
            .expect("send");

        let entries = outbox.entries(&key("a")).await.expect("entries");
        let codes: Vec<&str> = entries.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["111111", "222222"], "oldest first, only session a");
        assert_eq!(
            entries[0],
            OutboxEntry {
                channel: CodeChannel::Sms,
                to: "0812****7890".into(),
                text: "Kode JMO Anda: 111111".into(),
                code: "111111".into(),
                at: Timestamp(1),
            }
        );
        assert_eq!(outbox.entries(&key("ab")).await.expect("entries").len(), 1);

        assert_eq!(
            outbox
                .remove_sent_before(Timestamp(3))
                .await
                .expect("sweep"),
            2
        );
        let entries = outbox.entries(&key("a")).await.expect("entries");
        assert_eq!(entries.len(), 1, "the entry sent at the cutoff stays");
        assert_eq!(entries[0].code, "222222");
        assert!(
            outbox
                .entries(&key("ab"))
                .await
                .expect("entries")
                .is_empty()
        );
        assert_eq!(
            outbox
                .remove_sent_before(Timestamp(3))
                .await
                .expect("again"),
            0
        );
    }

    #[tokio::test]
    async fn the_memory_outbox_meets_the_outbox_contract() {
        contract(&MemoryOutbox::default()).await;
    }

    #[test]
    fn an_outbox_entry_serializes_as_the_demo_api_item() {
        let entry = OutboxEntry::new(
            OutboundCode {
                channel: CodeChannel::Email,
                to: "budi.santoso@example.com".into(),
                masked_to: "b***@example.com".into(),
                text: "kode".into(),
                subject: "Kode verifikasi JMO".into(),
                code: "123456".into(),
            },
            Timestamp(5),
        );
        assert_eq!(
            serde_json::to_value(&entry).expect("json"),
            serde_json::json!({
                "channel": "email", "to": "b***@example.com", "text": "kode",
                "code": "123456", "at": 5
            })
        );
    }

    #[test]
    fn debug_never_shows_the_full_destination_or_the_code() {
        let shown = format!(
            "{:?} {:?}",
            sms("424242"),
            OutboxEntry::new(sms("424242"), Timestamp(1))
        );
        assert!(!shown.contains("081234567890"), "{shown}");
        assert!(!shown.contains("424242"), "{shown}");
    }
}
