//! Demo mode on a messaging channel: the "SMS" or "e-mail" carrying a code exists only in the
//! demo outbox, which a tester on a real Telegram, WhatsApp or LINE bot cannot see. So the
//! codes "sent" during a turn are also sent into the chat, each as a message marked as a demo
//! (`demo_code_sms`, `demo_code_email`), and the tester can finish the flow. Production has no
//! demo outbox and never does this. A failure to read the outbox costs only that message: the
//! turn is already saved, and failing the webhook would make the platform redeliver it.

use std::sync::Arc;

use crate::channels::OutboundMessage;
use crate::content::Content;
use crate::dialog::state::CodeChannel;
use crate::outbox::{DemoOutbox, OutboxEntry};
use crate::store::SessionKey;

/// The demo outbox and the wording of the chat message that shows a code from it.
pub struct DemoCodes {
    outbox: Arc<dyn DemoOutbox>,
    content: Arc<Content>,
}

/// The session's outbox before a turn, to tell which codes the turn sent.
pub struct Before(Vec<OutboxEntry>);

impl DemoCodes {
    pub fn new(outbox: Arc<dyn DemoOutbox>, content: Arc<Content>) -> DemoCodes {
        DemoCodes { outbox, content }
    }

    /// What the session's outbox holds now; call before the turn. `None` when it cannot be
    /// read (logged).
    pub async fn before(&self, session: &SessionKey) -> Option<Before> {
        self.entries(session).await.map(Before)
    }

    /// The chat messages showing each code sent since `before`, oldest first. Entries are
    /// compared whole rather than counted: the session sweep may remove old ones meanwhile.
    pub async fn sent_since(&self, session: &SessionKey, before: &Before) -> Vec<OutboundMessage> {
        let now = self.entries(session).await.unwrap_or_default();
        now.iter()
            .filter(|entry| !before.0.contains(entry))
            .filter_map(|entry| self.message(entry))
            .collect()
    }

    async fn entries(&self, session: &SessionKey) -> Option<Vec<OutboxEntry>> {
        match self.outbox.entries(session).await {
            Ok(entries) => Some(entries),
            Err(error) => {
                tracing::warn!(%error, session = %session.redacted(), "demo outbox unreadable; the code is not shown in the chat");
                None
            }
        }
    }

    fn message(&self, entry: &OutboxEntry) -> Option<OutboundMessage> {
        let key = match entry.channel {
            CodeChannel::Sms => "demo_code_sms",
            CodeChannel::Email => "demo_code_email",
        };
        let Some(template) = self.content.response(key) else {
            tracing::warn!("the content has no {key} response");
            return None;
        };
        let text = template.render(0, &[("destination", &entry.to), ("message", &entry.text)]);
        Some(OutboundMessage {
            text,
            buttons: Vec::new(),
        })
    }
}
