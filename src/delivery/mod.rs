//! Delivering codes in production (SPEC §12): e-mail over SMTP and SMS through an HTTP gateway.
//! Codes are not sent during the turn: `channels::CodeQueue` queues each in the durable channel
//! outbox (`channels::delivery`) as a `Request::Code`, whose worker sends it here, retries
//! failures with backoff, and reports a code given up to the member (`channels::Channels`).

mod sms;
mod smtp;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

use crate::config::ProductionConfig;
use crate::dialog::state::CodeChannel;

/// One code message to deliver, as the outbox keeps it until it is sent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeCall {
    /// The session of the member it is for (`web:…`, `telegram:…`): where a failure is
    /// reported.
    pub session: String,
    /// SMS or e-mail (not `channel`: the outbox tags its items with the platform's name).
    pub via: CodeChannel,
    /// The full destination (phone number or e-mail address).
    pub to: String,
    /// The message, code included.
    pub text: String,
    /// The e-mail's subject (unused for SMS).
    pub subject: String,
}

impl fmt::Debug for CodeCall {
    // The destination is personal data and the text holds the code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeCall")
            .field("via", &self.via)
            .finish_non_exhaustive()
    }
}

/// Why a call failed: a code's transport here, and every platform call of the channel outbox
/// (`channels::delivery`), whose worker retries or gives up on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth another try later (network trouble, 5xx, 429); `after` is the wait the platform
    /// asked for.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Can never succeed as it is (a 4xx such as a blocked bot): given up at once.
    Permanent { reason: String },
}

/// Why the code transports could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("TANYA_SMTP_URL: {0}")]
    Smtp(String),
    #[error("TANYA_SMTP_FROM: {0}")]
    From(String),
    #[error("the SMS gateway's HTTP client: {0}")]
    Sms(String),
}

/// The SMTP server and the SMS gateway.
pub struct CodeTransport {
    smtp: smtp::Smtp,
    sms: sms::SmsGateway,
}

impl CodeTransport {
    pub fn new(config: &ProductionConfig) -> Result<CodeTransport, SetupError> {
        Ok(CodeTransport {
            smtp: smtp::Smtp::new(&config.smtp)?,
            sms: sms::SmsGateway::new(&config.sms)?,
        })
    }

    /// Hands `call` to the SMTP server or the SMS gateway.
    pub async fn send(&self, call: &CodeCall) -> Result<(), SendError> {
        match call.via {
            CodeChannel::Email => self.smtp.send(call).await,
            CodeChannel::Sms => self.sms.send(call).await,
        }
    }
}
