//! The production `CodeSender`: a code is queued durably in the channel outbox before the
//! turn that sent it is answered, and the outbox's worker delivers it (with retries) after.

use super::Request;
use super::delivery::Outbox;
use crate::clock::Timestamp;
use crate::delivery::CodeCall;
use crate::outbox::{CodeSender, OutboundCode, OutboxError};
use crate::session_key::SessionKey;

/// The channel name of outbox queues holding codes: each member session's codes form their
/// own queue, so a code never waits behind (or blocks) that session's chat replies.
const CODE_QUEUE_CHANNEL: &str = "code";

/// Queues codes in the outbox that `Channels` runs the worker of.
pub struct CodeQueue {
    outbox: Outbox,
}

impl CodeQueue {
    pub fn new(outbox: Outbox) -> CodeQueue {
        CodeQueue { outbox }
    }
}

#[async_trait::async_trait]
impl CodeSender for CodeQueue {
    async fn send(
        &self,
        session: &SessionKey,
        message: OutboundCode,
        at: Timestamp,
    ) -> Result<(), OutboxError> {
        let queue = SessionKey::new(CODE_QUEUE_CHANNEL, session.as_str())
            .map_err(|e| OutboxError::Queue(e.to_string()))?;
        let call = CodeCall {
            session: session.as_str().to_string(),
            via: message.channel,
            to: message.to,
            text: message.text,
            subject: message.subject,
        };
        self.outbox
            .enqueue(&queue, &[Request::Code(call)], None, at)
            .await
            .map_err(|e| OutboxError::Queue(e.to_string()))
    }
}
