//! The conversational engine: the only place where NLU, dialog, store and services meet.
//! `Engine` and its public API are here; a turn's work is split by job: `turn` (the lock,
//! load and decode, the turn's pipeline, a retried message answered again), `read` (a message
//! into the dialog's input), `effects` (the dialog's effects run against the services),
//! `render` (replies into messages), `history` (the transcript kept and shown), `report`
//! (metrics and the log line of a turn) and `page` (the password page's way in). The public
//! methods that are one of those jobs (`history`, `code_undelivered`, the page's) live with it.

mod effects;
mod history;
mod page;
mod read;
mod render;
mod report;
mod standings;
mod turn;

pub use history::{HIDDEN_PASSWORD, HistoryEntry};
pub use page::{PageAccess, PageEntry, PageLinks, PageOutcome};

use crate::clock::Clock;
use crate::content::{Button, Content};
use crate::dialog::Command;
use crate::dialog::keys::ResponseKey;
use crate::dialog::state::{Expects, Said, StateName};
use crate::key_locks::KeyLocks;
use crate::limits::{Limits, MemberLimits};
use crate::members::{DirectoryError, MemberDirectory};
use crate::metrics::Metrics;
use crate::nlu::entities::Entity;
use crate::nlu::{IntentScore, Nlu};
use crate::outbox::{CodeSender, OutboxError};
use crate::security::otp::ServerKey;
use crate::security::password::PasswordError;
use crate::store::{DbError, Durability};
use crate::store::{MemberGuardStore, SessionKey, SessionStore, StoreError};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use turn::decode;

/// What a member sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Text(String),
    /// A button press: the button's payload.
    Payload(String),
}

/// One message into the engine, from any channel.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    pub session: SessionKey,
    pub input: Input,
    /// The client's own id for this message (web chat, SPEC §7): a message sent again with
    /// the same id gets the first one's answer and is not processed again.
    pub client_message_id: Option<String>,
}

/// One bot message, rendered (the `messages` items of the chat API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingMessage {
    pub key: String,
    pub text: String,
    pub buttons: Vec<Button>,
}

/// The engine's answer to one message.
#[derive(Debug, Clone, Serialize)]
pub struct TurnResult {
    pub messages: Vec<OutgoingMessage>,
    /// What the NLU read (`None` for passwords, which are never parsed for reporting).
    pub intent: Option<IntentScore>,
    /// Entities found in the message (empty for passwords).
    #[serde(skip)]
    pub entities: Vec<Entity>,
    /// The member's message was taken as a password: never parsed, and kept in the
    /// transcript only as `••••` (reports such as the conversation runner's show it so too).
    #[serde(skip)]
    pub hidden: bool,
    /// The dialog state after the turn.
    pub state: StateName,
    /// What the next message is expected to be (SPEC §7 `expects`).
    pub expects: Expects,
}

/// Why a turn failed. A failed turn gives back the member's look-up and code tokens it
/// spent, and saves nothing unless only its final flush failed; so it can be retried.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The session store failed.
    #[error("session store: {0}")]
    Store(#[from] StoreError),
    /// The member directory failed.
    #[error("member directory: {0}")]
    Directory(#[from] DirectoryError),
    /// A code could not be handed to its sender.
    #[error("code delivery: {0}")]
    Outbox(#[from] OutboxError),
    /// Hashing a new password failed.
    #[error("password hashing: {0}")]
    Password(#[from] PasswordError),
    /// Writes could not be made durable.
    #[error("durability: {0}")]
    Durability(#[from] DbError),
    /// A blocking task panicked or was cancelled.
    #[error("background task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A session could not be encoded.
    #[error("encoding a session: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The services the engine uses, behind narrow traits.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn SessionStore>,
    pub members: Arc<dyn MemberDirectory>,
    pub codes: Arc<dyn CodeSender>,
    pub durability: Arc<dyn Durability>,
    pub clock: Arc<dyn Clock>,
    pub key: Arc<ServerKey>,
    /// Rate limits on requests and messages, for the HTTP layer and the channels.
    pub limits: Arc<Limits>,
    /// The per-member limits (look-ups, codes), which the dialog asks before each.
    pub member_limits: Arc<MemberLimits>,
    /// Member-wide standings (wrong codes, lockout), read before every step that concerns a
    /// member and written by the dialog's `Effect::Code`.
    pub guard: Arc<dyn MemberGuardStore>,
    /// The password page's links: where they are kept and where they point.
    pub password_page: PageLinks,
}

/// The conversational engine.
pub struct Engine {
    nlu: Arc<Nlu>,
    content: Arc<Content>,
    services: Services,
    /// Normalised typed phrase → command.
    commands: HashMap<String, Command>,
    /// One turn per session at a time.
    locks: KeyLocks,
    metrics: Arc<Metrics>,
    /// The intents of the content: only these become metric labels and log fields (a
    /// button payload `/anything` must not invent new ones).
    intents: HashSet<String>,
    /// Each button payload of the content → its usual title (`usual_titles`): what the
    /// history shows for a button pressed outside its answer.
    payload_titles: HashMap<String, String>,
    /// Password hashes allowed at once (`password_hashers`).
    hashing: tokio::sync::Semaphore,
}

impl Engine {
    pub fn new(nlu: Arc<Nlu>, content: Arc<Content>, services: Services) -> Engine {
        let commands = content
            .commands
            .iter()
            .filter_map(|(phrase, payload)| {
                Command::from_payload(payload).map(|c| (nlu.normalize(phrase), c))
            })
            .collect();
        let intents = content.intents.iter().map(|i| i.name.clone()).collect();
        let payload_titles = read::usual_titles(&content);
        Engine {
            nlu,
            content,
            services,
            commands,
            metrics: Arc::new(Metrics::default()),
            intents,
            payload_titles,
            locks: KeyLocks::default(),
            hashing: tokio::sync::Semaphore::new(effects::password_hashers()),
        }
    }

    /// The metrics every turn updates (shared with the HTTP layer and the channels).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The rate limits (shared with the HTTP layer and the channels).
    pub fn limits(&self) -> &Arc<Limits> {
        &self.services.limits
    }

    /// The clock the engine reads (the conversation runner moves it).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.services.clock
    }

    /// Whether a session with this key has been stored.
    pub async fn session_exists(&self, key: &SessionKey) -> Result<bool, EngineError> {
        Ok(self.load(key).await?.is_some())
    }

    /// The buttons of the session's latest answer that had any (empty for no session), so a
    /// channel can read "2" or a button's title typed instead of pressed.
    pub async fn offered_buttons(&self, key: &SessionKey) -> Result<Vec<Button>, EngineError> {
        let now = self.services.clock.now();
        Ok(self
            .load(key)
            .await?
            .map(|stored| self.offered(decode(key, &stored, now).answer()))
            .unwrap_or_default())
    }

    /// The dialog state a new message to this session would meet (`idle` once the flow has
    /// expired), so a reloaded widget knows whether the next message is a password.
    pub async fn current_state(
        &self,
        key: &SessionKey,
    ) -> Result<Option<(StateName, Expects)>, EngineError> {
        let now = self.services.clock.now();
        Ok(self.load(key).await?.map(|stored| {
            let session = decode(key, &stored, now);
            if session.is_stale(now) {
                (StateName::Idle, Expects::Text)
            } else {
                (session.state.name(), session.state.expects())
            }
        }))
    }

    /// The message for response `key` without a turn (a channel answering a photo with
    /// `non_text`); `None` when the content does not define the key.
    pub fn render_key(&self, key: ResponseKey) -> Option<OutgoingMessage> {
        self.content.response(key.as_str())?;
        Some(self.render_said(&Said {
            key: key.as_str().to_string(),
            pick: 0,
            values: Vec::new(),
            choices: Vec::new(),
        }))
    }

    /// Processes one message: the whole turn, durable before it returns.
    pub async fn handle(&self, incoming: IncomingMessage) -> Result<TurnResult, EngineError> {
        let result = self.turn(&incoming, false).await;
        self.note_failure(&incoming, &result);
        Ok(result?.expect("a turn that may start a session always runs"))
    }

    /// Like `handle`, but only for a session that is already stored: `None` (and nothing
    /// done) when there is none. One store read where "exists?" then `handle` would take two.
    pub async fn handle_if_exists(
        &self,
        incoming: IncomingMessage,
    ) -> Result<Option<TurnResult>, EngineError> {
        let result = self.turn(&incoming, true).await;
        self.note_failure(&incoming, &result);
        result
    }
}

#[cfg(test)]
mod slow_steps_tests;
#[cfg(test)]
mod tests;
