//! `Engine::handle`: the only place where NLU, dialog, store and services meet. One turn:
//! lock the session → load → read the message → `dialog::step` (repeatedly, feeding look-up
//! results back) → run effects → render replies → save → make durable → answer. The password
//! page finishes a flow through the same kind of turn (`page`).

mod page;

pub use page::{PageAccess, PageEntry, PageLinks, PageOutcome};

use crate::clock::{Clock, Timestamp};
use crate::content::{Button, Content};
use crate::dialog::state::CodeChannel;
use crate::dialog::state::{
    Answered, CardView, Exchange, Expects, HISTORY_LIMIT, RECENT_EXCHANGES, Said, SaidChoice,
    Speaker,
};
use crate::dialog::{
    self, Command, Context, Effect, Event, Flow, MemberView, Message, PasswordEntry, Reply,
    Session, State, Value,
};
use crate::identity::{Kpj, Nik};
use crate::limits::{Attempt, Limits, MemberLimits};
use crate::members::{Card, DirectoryError, FoundMember, MemberDirectory};
use crate::metrics::{Abandon, Channel, Metrics, TurnRecord};
use crate::nlu::entities::Entity;
use crate::nlu::{IntentScore, Nlu};
use crate::outbox::{CodeSender, OutboundCode, OutboxError};
use crate::security::lockout::Standing;
use crate::security::mask;
use crate::security::otp::{self, ServerKey};
use crate::security::page_token::PageToken;
use crate::security::password::{self, PasswordError, SecretString};
use crate::store::{DbError, Durability, PageGrant};
use crate::store::{
    MemberGuardStore, SessionKey, SessionStore, StoreError, StoredSession, TranscriptLines,
    TurnWrites,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

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
/// Independent locks; sessions hashing to the same stripe wait for each other, which is rare
/// and harmless, and memory stays fixed however many sessions exist.
const LOCK_STRIPES: usize = 1024;
/// A look-up answered inside a turn leads to at most one more step; the bound guards the loop.
const MAX_STEPS_PER_TURN: usize = 4;

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
    /// The dialog state after the turn.
    pub state: String,
    /// What the next message is expected to be (SPEC §7 `expects`).
    pub expects: Expects,
}

/// What `Engine::conclude` needs of a turn besides its session.
struct Conclusion<'a> {
    key: &'a SessionKey,
    /// What the transcript keeps of the member's message.
    user_line: String,
    replies: Vec<Reply>,
    client_message_id: Option<&'a str>,
    intent: Option<&'a IntentScore>,
    flow_before: Option<Flow>,
    new_session: bool,
    started: Instant,
    now: Timestamp,
}

/// Whether a rendered reply shows the password page's link or hides it: the message sent
/// shows it, what sessions and transcripts keep never does (it opens the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Links {
    Shown,
    Hidden,
}

/// Why a turn failed. Nothing of the turn is saved when it fails, so it can be retried.
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

/// The dialog's view of a member found by a look-up for card `kpj` (and NIK `nik`).
fn view(found: FoundMember, kpj: Kpj, nik: Option<Nik>) -> MemberView {
    MemberView {
        id: found.id,
        login: found.login,
        nik: nik.or(found.nik),
        kpj,
        email: found.email,
        phone: found.phone,
        cards: Vec::new(),
    }
}

/// The dialog's view of a card.
fn card_view(card: Card) -> CardView {
    CardView {
        kpj: card.kpj,
        balance_rupiah: card.balance_rupiah,
        as_of: card.as_of,
        employer: card.employer,
        current: card.current,
    }
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
    locks: Vec<tokio::sync::Mutex<()>>,
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

/// How many argon2id hashes may run at once: half the cores, at least one. Each hash is
/// tens of milliseconds of CPU and 19 MiB of memory on a blocking thread; unbounded, four
/// password resets at once took four threads against the executor's two on this 2-core
/// machine, and the conversations beside them waited (Mix A's p99 at 2.4× its p99 alone).
/// Resets queue instead; their own latency is the hash time anyway.
fn password_hashers() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
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
        let intents = content.intents.iter().map(|i| i.name.to_string()).collect();
        let payload_titles = usual_titles(&content);
        Engine {
            nlu,
            content,
            services,
            commands,
            metrics: Arc::new(Metrics::default()),
            intents,
            payload_titles,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            hashing: tokio::sync::Semaphore::new(password_hashers()),
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
    ) -> Result<Option<(&'static str, Expects)>, EngineError> {
        let now = self.services.clock.now();
        Ok(self.load(key).await?.map(|stored| {
            let session = decode(key, &stored, now);
            if now.since(session.last_activity) > dialog::step::FLOW_TIMEOUT {
                ("idle", Expects::Text)
            } else {
                (session.state.name(), session.state.expects())
            }
        }))
    }

    /// The stored record under `key`. A record the store itself cannot decode is handed on
    /// with empty data, which `decode` turns into a fresh session: corruption may cost a
    /// member a half-finished flow, never an error on every turn of that session.
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, EngineError> {
        match self.services.store.load(key).await {
            Err(StoreError::Corrupt { .. }) => Ok(Some(StoredSession::unreadable())),
            result => Ok(result?),
        }
    }

    /// The message for response `key` without a turn (a channel answering a photo with
    /// `non_text`); `None` when the content does not define the key.
    pub fn render_key(&self, key: &str) -> Option<OutgoingMessage> {
        self.content.response(key)?;
        Some(self.render_said(&self.said(&Reply::key(key.to_string()), 0, Links::Shown)))
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

    /// The code sent to `channel` for `session` could not be delivered (production code
    /// delivery gave up on it): the dialog decides what the member is told. With `pushed`,
    /// the caller sends the returned messages to the member now (a messaging channel);
    /// otherwise they are kept and shown first in the session's next answer (the web chat,
    /// which cannot be pushed to). Nothing happens for a session that no longer exists.
    pub async fn code_undelivered(
        &self,
        key: &SessionKey,
        channel: CodeChannel,
        pushed: bool,
    ) -> Result<Vec<OutgoingMessage>, EngineError> {
        let _turn = self.locks[stripe(key)].lock().await;
        let now = self.services.clock.now();
        let (stored, store_turn) = self.services.store.begin_turn(key).await?;
        let Some(stored) = stored else {
            store_turn.finish(TurnWrites::default()).await?;
            return Ok(Vec::new());
        };
        let session = decode(key, &stored, now);
        let context = Context {
            now,
            fresh_code: "",
            key: &self.services.key,
            standing: Standing::default(),
            // This step tells of a code; it never asks for a password.
            password_entry: PasswordEntry::Chat,
        };
        let transition = dialog::step(session, Event::CodeUndelivered { channel }, &context);
        let mut session = transition.session;
        let pick = session.turns as usize;
        let said: Vec<Said> = transition
            .replies
            .iter()
            .map(|r| self.said(r, pick, Links::Hidden))
            .collect();
        let messages = said.iter().map(|s| self.render_said(s)).collect();
        if !pushed {
            session.notices.extend(said);
        }
        let writes = TurnWrites {
            transcript: None,
            session: Some(StoredSession {
                // The member's last activity is unchanged: this was not their turn.
                updated_at: stored.updated_at,
                data: serde_json::to_vec(&session)?,
            }),
        };
        store_turn.finish(writes).await?;
        self.services.durability.make_durable().await?;
        Ok(messages)
    }

    fn note_failure<T>(&self, incoming: &IncomingMessage, result: &Result<T, EngineError>) {
        if let Err(error) = result {
            self.metrics
                .turn_failed(Channel::of(incoming.session.channel()));
            tracing::warn!(session = %incoming.session.redacted(), %error, "turn failed");
        }
    }

    async fn turn(
        &self,
        incoming: &IncomingMessage,
        only_existing: bool,
    ) -> Result<Option<TurnResult>, EngineError> {
        let started = Instant::now();
        let _turn = self.locks[stripe(&incoming.session)].lock().await;
        let now = self.services.clock.now();
        let (stored, store_turn) = self.services.store.begin_turn(&incoming.session).await?;
        if only_existing && stored.is_none() {
            store_turn.finish(TurnWrites::default()).await?;
            return Ok(None);
        }
        let new_session = stored.is_none();
        // The stored record is kept: a turn dropped for a directory outage goes back to it.
        let as_stored = |stored: &Option<StoredSession>| match stored {
            Some(stored) => decode(&incoming.session, stored, now),
            None => Session::new(now),
        };
        let mut session = as_stored(&stored);
        // A retry is answered before anything of it is read: a retried password is neither
        // parsed nor kept, whatever state the first attempt left behind.
        if let Some(replayed) = incoming
            .client_message_id
            .as_deref()
            .and_then(|id| self.replay(&session, id))
        {
            tracing::info!(session = %incoming.session.redacted(), "retried turn answered again");
            store_turn.finish(TurnWrites::default()).await?;
            return Ok(Some(replayed));
        }
        let flow_before = session.state.flow();
        let (mut message, mut intent, entities, user_line) = self.read(&session, &incoming.input);
        if let (State::ConfirmPassword { draft_phc, .. }, Some(typed)) =
            (&session.state, &message.secret)
        {
            message.confirms_draft = self.matches_draft(draft_phc, typed).await?;
        }
        let ranking = message.ranking.clone();

        let mut replies = Vec::new();
        let mut event = Event::Message(message);
        for _ in 0..MAX_STEPS_PER_TURN {
            let transition = self.step(&incoming.session, session, event, now).await?;
            session = transition.session;
            replies.extend(transition.replies);
            if let Some(understood) = transition.understood {
                // The turn is reported as what the dialog acted on (a follow-up, the request
                // in a complaint), with the classifier's confidence in it.
                let confidence = ranking
                    .iter()
                    .find(|score| score.name == understood)
                    .map_or(0.0, |score| score.confidence);
                intent = Some(IntentScore {
                    name: understood,
                    confidence,
                });
            }
            match self
                .run_effects(&incoming.session, transition.effects, now)
                .await
            {
                Ok(Some(next)) => event = next,
                Ok(None) => break,
                Err(EngineError::Directory(error)) if error.is_outage() => {
                    // Never a wrong answer: the turn's progress is dropped, so the member
                    // can send the same message again once the directory is back.
                    tracing::warn!(session = %incoming.session.redacted(), %error, "member directory unavailable");
                    self.metrics.directory_unavailable();
                    session = as_stored(&stored);
                    replies = vec![Reply::key("service_unavailable")];
                    break;
                }
                Err(error) => return Err(error),
            }
        }

        let concluded = Conclusion {
            key: &incoming.session,
            user_line,
            replies,
            client_message_id: incoming.client_message_id.as_deref(),
            intent: intent.as_ref(),
            flow_before,
            new_session,
            started,
            now,
        };
        let (session, messages) = self.conclude(session, store_turn, concluded).await?;
        Ok(Some(TurnResult {
            messages,
            intent,
            entities,
            state: session.state.name().to_string(),
            expects: session.state.expects(),
        }))
    }

    /// One `dialog::step` with its context: the member's standing, a fresh code, and where
    /// this session takes a new password (on the page, with a fresh link token, for the
    /// messaging channels).
    async fn step(
        &self,
        key: &SessionKey,
        session: Session,
        event: Event,
        now: Timestamp,
    ) -> Result<dialog::Transition, EngineError> {
        let fresh_code = otp::generate_code();
        let fresh_token = key.is_messaging().then(PageToken::generate);
        let member = match &event {
            Event::LookedUp(found) => found.as_ref(),
            Event::Message(_)
            | Event::PasswordHashed(_)
            | Event::PasswordFromPage(_)
            | Event::LookUpRefused
            | Event::CardsLoaded(_)
            | Event::CodeUndelivered { .. }
            | Event::CodeAdmission { .. } => session.state.member(),
        };
        let standing = match member {
            Some(member) => self.services.guard.standing(&member.id).await?,
            None => Standing::default(),
        };
        let context = Context {
            now,
            fresh_code: &fresh_code,
            key: &self.services.key,
            standing,
            password_entry: match &fresh_token {
                Some(fresh) => PasswordEntry::Page { fresh },
                None => PasswordEntry::Chat,
            },
        };
        Ok(dialog::step(session, event, &context))
    }

    /// Ends a turn: renders the replies, keeps the exchange (page links hidden), saves the
    /// session and what left it for the transcript, makes it durable, and records the turn.
    /// Returns the saved session and the messages to send.
    async fn conclude(
        &self,
        mut session: Session,
        store_turn: Box<dyn crate::store::SessionTurn + '_>,
        turn: Conclusion<'_>,
    ) -> Result<(Session, Vec<OutgoingMessage>), EngineError> {
        let pick = session.turns as usize;
        // Notices kept for this session (a code that could not be delivered) come first.
        let mut answer: Vec<Said> = std::mem::take(&mut session.notices);
        let mut messages: Vec<OutgoingMessage> =
            answer.iter().map(|said| self.render_said(said)).collect();
        for reply in &turn.replies {
            let kept = self.said(reply, pick, Links::Hidden);
            // A page link goes to the member, and only to the member: the kept answer hides it.
            messages.push(if reply.carries_secret() {
                self.render_said(&self.said(reply, pick, Links::Shown))
            } else {
                self.render_said(&kept)
            });
            answer.push(kept);
        }
        session.recent.push(Exchange {
            at: turn.now,
            user: turn.user_line,
            bot: answer,
        });
        session.exchanges += 1;
        if let Some(id) = turn.client_message_id {
            session.answered.push(Answered {
                id: id.to_string(),
                exchange: session.exchanges - 1,
                intent: turn.intent.map(|i| (i.name.clone(), i.confidence)),
                state: session.state.name().to_string(),
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
        writes.session = Some(StoredSession {
            updated_at: turn.now,
            data: serde_json::to_vec(&session)?,
        });
        store_turn.finish(writes).await?;
        self.services.durability.make_durable().await?;
        self.record(
            turn.key,
            turn.intent,
            &messages,
            turn.flow_before,
            session.state.flow(),
            turn.new_session,
            turn.started,
        );
        Ok((session, messages))
    }

    /// The stored answer of the turn that carried `id` in this session, rendered again.
    fn replay(&self, session: &Session, id: &str) -> Option<TurnResult> {
        let (answered, exchange) = session.answered(id)?;
        Some(TurnResult {
            messages: exchange
                .bot
                .iter()
                .map(|said| self.render_said(said))
                .collect(),
            intent: answered
                .intent
                .as_ref()
                .map(|(name, confidence)| IntentScore {
                    name: name.clone(),
                    confidence: *confidence,
                }),
            entities: Vec::new(),
            state: answered.state.clone(),
            expects: answered.expects,
        })
    }

    /// Metrics and the turn's log line: the session redacted, the intent, the response keys
    /// and the state — never the text or anything personal.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        session: &SessionKey,
        intent: Option<&IntentScore>,
        messages: &[OutgoingMessage],
        before: Option<Flow>,
        after: Option<Flow>,
        new_session: bool,
        started: Instant,
    ) {
        let keys: Vec<&str> = messages.iter().map(|m| m.key.as_str()).collect();
        let intent = intent.map(|i| {
            if self.intents.contains(i.name.as_str()) {
                i.name.as_str()
            } else {
                "unknown"
            }
        });
        let completed = keys.iter().find_map(|key| match *key {
            "account_recovered" => Some(Flow::ForgotAccount),
            "password_changed" => Some(Flow::ForgotPassword),
            "jht_balance" => Some(Flow::CheckJhtBalance),
            _ => None,
        });
        let started_flow = match (after, completed) {
            (Some(flow), _) if after != before => Some(flow),
            (_, Some(flow)) if before != Some(flow) => Some(flow),
            _ => None,
        };
        let abandoned = before
            .filter(|&flow| after != Some(flow) && completed != Some(flow))
            .map(|flow| {
                let has = |key: &str| keys.contains(&key);
                let reason = if has("cancelled") {
                    Abandon::Cancelled
                } else if has("session_expired") {
                    Abandon::Expired
                } else if has("rate_limited") {
                    Abandon::RateLimited
                } else if has("handoff") {
                    Abandon::Handoff
                } else if after.is_some() || started_flow.is_some() {
                    Abandon::Switched
                } else {
                    Abandon::Other
                };
                (flow, reason)
            });
        let elapsed = started.elapsed();
        self.metrics.turn(&TurnRecord {
            channel: Channel::of(session.channel()),
            intent,
            response_keys: &keys,
            started: started_flow,
            completed,
            abandoned,
            new_session,
            elapsed,
        });
        tracing::info!(
            session = %session.redacted(),
            intent = intent.unwrap_or("-"),
            responses = %keys.join(","),
            state = after.map_or("idle", Flow::intent),
            micros = elapsed.as_micros() as u64,
            "turn"
        );
    }

    /// Turns raw input into the dialog's `Message`, the intent to report, the entities, and
    /// the line the transcript keeps.
    fn read(
        &self,
        session: &Session,
        input: &Input,
    ) -> (Message, Option<IntentScore>, Vec<Entity>, String) {
        match input {
            Input::Payload(payload) => match Command::from_payload(payload) {
                Some(command) => {
                    let intent = match &command {
                        Command::Intent(name) => Some(IntentScore {
                            name: name.clone(),
                            confidence: 1.0,
                        }),
                        _ => None,
                    };
                    let line = self.button_title(session, payload);
                    let message = Message {
                        command: Some(command),
                        ..Message::default()
                    };
                    (message, intent, Vec::new(), line)
                }
                // An unknown payload is read like typed text.
                None => self.read(session, &Input::Text(payload.clone())),
            },
            Input::Text(text) if session.state.expects_password() => {
                // Never reported, logged or kept. A text that could be a password (it meets
                // the policy's shape rules) never reaches the NLU either; one that cannot be
                // ("batal", "halo kak", too short) is read so that the member can still
                // cancel or ask something at the password prompt.
                let intent =
                    (!password::could_be_password(text)).then(|| self.nlu.parse(text).intent.name);
                let message = Message {
                    intent,
                    secret: Some(SecretString::from(text.clone())),
                    ..Message::default()
                };
                (message, None, Vec::new(), HIDDEN_PASSWORD.to_string())
            }
            Input::Text(text)
                if session.state.awaits_password_page() && password::could_be_password(text) =>
            {
                // A password typed into a messaging chat while its page is open: it is in the
                // platform's history already, and goes no further — never parsed, never kept.
                let message = Message {
                    secret: Some(SecretString::from(text.clone())),
                    ..Message::default()
                };
                (message, None, Vec::new(), HIDDEN_PASSWORD.to_string())
            }
            Input::Text(text) => {
                // A button's number ("2") or title typed instead of pressed is that button,
                // on every channel alike.
                if let Some(payload) = self.typed_button(session, text) {
                    // The transcript shows the button's title, as if it had been pressed.
                    return self.read(session, &Input::Payload(payload));
                }
                let parse = self.nlu.parse(text);
                let command = self.commands.get(&self.nlu.normalize(text)).cloned();
                // A typed command phrase ("kirim ulang") is that command and nothing else: the
                // classifier's guess at it must not cancel or switch a flow.
                let dialog_intent = match command {
                    Some(_) => None,
                    None => Some(parse.intent.name.clone()),
                };
                let message = Message {
                    intent: dialog_intent,
                    ranking: parse.ranking.clone(),
                    also: parse.also.as_ref().map(|a| a.name.clone()),
                    frustrated: parse.frustrated,
                    shape: shape_of(text),
                    digits: text
                        .chars()
                        .filter(char::is_ascii_digit)
                        .take(MAX_DIGITS_READ)
                        .collect(),
                    stray_digits: has_stray_digits(text, &parse.entities),
                    entities: parse.entities.clone(),
                    words: parse.words,
                    command,
                    secret: None,
                    confirms_draft: false,
                };
                // The history shows the member's own identifiers masked (SPEC §6): whoever
                // holds the session id must not read a NIK or a code back from it.
                let line = mask::mask_typed_identifiers(text, &parse.entities);
                (message, Some(parse.intent), parse.entities, line)
            }
        }
    }

    /// The payload of the offered button whose number or title `text` is.
    fn typed_button(&self, session: &Session, text: &str) -> Option<String> {
        let buttons = self.offered(session.answer());
        crate::content::typed_choice(&buttons, text)
    }

    /// Performs effects; returns the event a look-up produced, if any.
    async fn run_effects(
        &self,
        session: &SessionKey,
        effects: Vec<Effect>,
        now: Timestamp,
    ) -> Result<Option<Event>, EngineError> {
        let mut next = None;
        for effect in effects {
            match effect {
                Effect::LookUpByKpjNik { kpj, nik } => {
                    let attempt = Attempt::LookUpByKpjNik {
                        kpj: &kpj,
                        nik: &nik,
                    };
                    next = Some(if self.services.member_limits.admit(attempt, now).await {
                        let found = self.services.members.find_by_kpj_nik(&kpj, &nik).await?;
                        Event::LookedUp(found.map(|found| view(found, kpj, Some(nik))))
                    } else {
                        Event::LookUpRefused
                    });
                }
                Effect::LookUpByEmailKpj { email, kpj } => {
                    let attempt = Attempt::LookUpByEmailKpj {
                        email: &email,
                        kpj: &kpj,
                    };
                    next = Some(if self.services.member_limits.admit(attempt, now).await {
                        let found = self
                            .services
                            .members
                            .find_by_email_kpj(&email, &kpj)
                            .await?;
                        Event::LookedUp(found.map(|found| view(found, kpj, None)))
                    } else {
                        Event::LookUpRefused
                    });
                }
                Effect::AdmitCode { request } => {
                    let attempt = Attempt::SendCode {
                        member: &request.member.id,
                    };
                    let admitted = self.services.member_limits.admit(attempt, now).await;
                    next = Some(Event::CodeAdmission { admitted, request });
                }
                Effect::LoadCards { member_id } => {
                    let cards = self.services.members.cards(&member_id).await?;
                    next = Some(Event::CardsLoaded(
                        cards.into_iter().map(card_view).collect(),
                    ));
                }
                Effect::SendCode {
                    member,
                    channel,
                    code,
                } => {
                    let (to, masked_to) = match channel {
                        CodeChannel::Sms => {
                            let phone = member.phone.as_ref().map(|p| p.as_str().to_string());
                            let phone = phone.unwrap_or_default();
                            let masked = mask::mask_phone(&phone);
                            (phone, masked)
                        }
                        CodeChannel::Email => {
                            let email = member.email.as_ref().map(|e| e.as_str().to_string());
                            let email = email.unwrap_or_default();
                            let masked = mask::mask_email(&email);
                            (email, masked)
                        }
                    };
                    let minutes = (otp::CODE_TTL.as_secs() / 60).to_string();
                    let text = self.render_text(
                        "code_message",
                        0,
                        &[("code", code.as_str()), ("minutes", minutes.as_str())],
                    );
                    let message = OutboundCode {
                        channel,
                        to,
                        masked_to,
                        text,
                        subject: self.render_text("code_email_subject", 0, &[]),
                        code,
                    };
                    self.services.codes.send(session, message, now).await?;
                }
                Effect::SetPassword {
                    member_id,
                    password,
                } => {
                    let phc = self.hash(password).await?;
                    self.services.members.set_password(&member_id, &phc).await?;
                }
                Effect::HashPasswordDraft { password } => {
                    next = Some(Event::PasswordHashed(self.hash(password).await?));
                }
                Effect::SetPasswordHash { member_id, phc } => {
                    self.services.members.set_password(&member_id, &phc).await?;
                }
                Effect::Code { member_id, event } => {
                    self.services.guard.record(&member_id, event, now).await?;
                }
                Effect::OfferPasswordPage {
                    token,
                    member_id,
                    flow,
                    expires_at,
                } => {
                    let grant = PageGrant {
                        session: session.clone(),
                        member: member_id,
                        flow,
                        expires_at,
                    };
                    self.services
                        .password_page
                        .tokens
                        .issue(&token, &grant)
                        .await?;
                }
                Effect::WithdrawPasswordPage => {
                    self.services.password_page.tokens.withdraw(session).await?;
                }
            }
        }
        Ok(next)
    }

    /// The argon2id PHC string of `password`. argon2id takes tens of milliseconds of CPU: off
    /// the async executor, and only `password_hashers` at once. The semaphore is never closed.
    async fn hash(&self, password: SecretString) -> Result<String, EngineError> {
        let _permit = self.hashing.acquire().await.ok();
        Ok(tokio::task::spawn_blocking(move || password::hash_password(&password)).await??)
    }

    /// Whether `typed` is the first entry hashed as `draft_phc`. A text the policy's shape
    /// rules refuse cannot be (the first entry passed them) and costs no argon2 run.
    async fn matches_draft(
        &self,
        draft_phc: &str,
        typed: &SecretString,
    ) -> Result<bool, EngineError> {
        if !password::could_be_password(typed.expose_secret()) {
            return Ok(false);
        }
        let _permit = self.hashing.acquire().await.ok();
        let (phc, typed) = (
            draft_phc.to_string(),
            SecretString::from(typed.expose_secret().to_string()),
        );
        Ok(tokio::task::spawn_blocking(move || password::verify_password(&typed, &phc)).await?)
    }

    /// What a reply says, with its placeholder values rendered to strings (a page link shown
    /// or hidden, see `Links`); a key without a template (a content intent added without an
    /// answer) falls back to `fallback`.
    fn said(&self, reply: &Reply, pick: usize, links: Links) -> Said {
        let key = if self.content.response(&reply.key).is_some() {
            reply.key.as_ref()
        } else {
            "fallback"
        };
        let values = |values: &[(&str, Value)]| -> Vec<(String, String)> {
            values
                .iter()
                .map(|(name, value)| (name.to_string(), self.render_value(value, pick, links)))
                .collect()
        };
        Said {
            key: key.to_string(),
            pick,
            values: values(&reply.values),
            choices: reply
                .choices
                .iter()
                .map(|choice| SaidChoice {
                    label: choice.label.to_string(),
                    values: values(&choice.values),
                    payload: choice.payload.clone(),
                })
                .collect(),
        }
    }

    /// The message `said` stands for: its text and buttons from the content.
    fn render_said(&self, said: &Said) -> OutgoingMessage {
        OutgoingMessage {
            key: said.key.clone(),
            text: self.render_text(&said.key, said.pick, &borrowed(&said.values)),
            buttons: self.buttons(said),
        }
    }

    /// The buttons of `said`: the response's own, then the dialog's choices (the text is not
    /// rendered, for look-ups that need only the buttons).
    fn buttons(&self, said: &Said) -> Vec<Button> {
        let mut buttons = self
            .content
            .response(&said.key)
            .map(|t| t.buttons.clone())
            .unwrap_or_default();
        buttons.extend(said.choices.iter().map(|choice| Button {
            title: self.render_text(&choice.label, 0, &borrowed(&choice.values)),
            payload: choice.payload.clone(),
        }));
        buttons
    }

    /// The buttons of the latest message of `answer` that had any.
    fn offered(&self, answer: &[Said]) -> Vec<Button> {
        answer
            .iter()
            .rev()
            .map(|said| self.buttons(said))
            .find(|buttons| !buttons.is_empty())
            .unwrap_or_default()
    }

    /// The title of the button with this payload in the last answer, so the transcript shows
    /// what the member pressed; the payload itself if none matches.
    fn button_title(&self, session: &Session, payload: &str) -> String {
        session
            .answer()
            .iter()
            .flat_map(|said| self.buttons(said))
            .find(|button| button.payload == payload)
            .map(|button| button.title)
            // A button of another answer (the widget's starter buttons, a menu scrolled up):
            // its title in the content, so the history never shows a bare `/payload`.
            .or_else(|| self.payload_titles.get(payload).cloned())
            .unwrap_or_else(|| payload.to_string())
    }

    /// A placeholder's value as text; a response inside a response uses the same variant
    /// pick as the turn, so its variants vary too.
    fn render_value(&self, value: &Value, pick: usize, links: Links) -> String {
        match value {
            Value::PageLink(token) => {
                let token = match links {
                    Links::Shown => token.as_url(),
                    Links::Hidden => HIDDEN_PASSWORD.to_string(),
                };
                format!("{}/password/{token}", self.services.password_page.base_url)
            }
            Value::Text(text) => text.clone(),
            Value::Response(None) => String::new(),
            Value::Response(Some(key)) => self.render_text(key, pick, &[]),
            Value::Lines(keys) => keys
                .iter()
                .map(|key| format!("• {}", self.render_text(key, 0, &[])))
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Each { key, items } => items
                .iter()
                .map(|values| {
                    let values: Vec<(&str, &str)> =
                        values.iter().map(|(n, v)| (*n, v.as_str())).collect();
                    self.render_text(key, 0, &values)
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Title(intent) => self.content.intent_title(intent).to_string(),
        }
    }

    fn render_text(&self, key: &str, pick: usize, values: &[(&str, &str)]) -> String {
        self.content
            .response(key)
            .map(|t| t.render(pick, values).trim().to_string())
            .unwrap_or_default()
    }
}

/// A stored session, or a fresh one when the record is from another schema or unreadable:
/// a member may lose a half-finished flow, never the service.
fn decode(key: &SessionKey, stored: &StoredSession, now: Timestamp) -> Session {
    match serde_json::from_slice::<Session>(&stored.data) {
        Ok(session) if session.version == dialog::state::SCHEMA_VERSION => session,
        Ok(session) => {
            tracing::warn!(session = %key.redacted(), version = session.version, "session from another schema version; starting idle");
            Session::new(now)
        }
        Err(error) => {
            tracing::warn!(session = %key.redacted(), %error, "unreadable session; starting idle");
            Session::new(now)
        }
    }
}

fn stripe(key: &SessionKey) -> usize {
    // FNV-1a: stable and cheap; the stripe only spreads load.
    let hash = key.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % LOCK_STRIPES as u64) as usize
}

/// Placeholder values as `render_text` takes them.
fn borrowed(values: &[(String, String)]) -> Vec<(&str, &str)> {
    values
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// Whether the text has three or more digits outside the valid entities found in it.
fn has_stray_digits(text: &str, entities: &[Entity]) -> bool {
    let claimed = |i: usize| {
        entities
            .iter()
            .any(|e| e.problem.is_none() && (e.start..e.end).contains(&i))
    };
    text.chars()
        .enumerate()
        .filter(|&(i, c)| c.is_ascii_digit() && !claimed(i))
        .count()
        >= 3
}

/// How many digits of a message are kept for reading a code: a code has six.
const MAX_DIGITS_READ: usize = 32;

/// Whether a text is words, only emoji (with their joiners and skin tones), or nothing to read
/// (punctuation, invisible characters).
fn shape_of(text: &str) -> crate::dialog::Shape {
    use crate::dialog::Shape;
    if text.chars().any(char::is_alphanumeric) {
        Shape::Words
    } else if text.chars().any(is_emoji) {
        Shape::Emoji
    } else {
        Shape::Punctuation
    }
}

/// Each button payload of the content → the title its buttons carry most often (the first
/// in key order on a tie, so the choice does not depend on a map's order): the menus' "Lupa
/// password JMO", not a one-off shorter title.
fn usual_titles(content: &Content) -> HashMap<String, String> {
    let mut by_key: Vec<_> = content.responses.iter().collect();
    by_key.sort_by(|a, b| a.0.cmp(b.0));
    let mut counts: HashMap<&str, Vec<(&str, usize)>> = HashMap::new();
    for button in by_key.iter().flat_map(|(_, template)| &template.buttons) {
        let titles = counts.entry(button.payload.as_str()).or_default();
        match titles.iter_mut().find(|(title, _)| *title == button.title) {
            Some((_, count)) => *count += 1,
            None => titles.push((button.title.as_str(), 1)),
        }
    }
    counts
        .into_iter()
        .filter_map(|(payload, titles)| {
            // `max_by_key` keeps the last of equals: reversed, the first seen wins a tie.
            let (title, _) = titles.into_iter().rev().max_by_key(|(_, count)| *count)?;
            Some((payload.to_string(), title.to_string()))
        })
        .collect()
}

/// Pictographs: the emoji blocks, miscellaneous symbols and dingbats ("👍", "🙏", "❤", "✅").
fn is_emoji(c: char) -> bool {
    matches!(c,
        '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{2300}'..='\u{23FF}'
        | '\u{2B00}'..='\u{2BFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NoDurability;

    #[test]
    fn emoji_and_punctuation_are_told_apart_from_words() {
        use crate::dialog::Shape;
        assert_eq!(shape_of("👍"), Shape::Emoji);
        assert_eq!(shape_of("🙏🙏 "), Shape::Emoji);
        assert_eq!(shape_of("?? ..."), Shape::Punctuation);
        assert_eq!(shape_of("…"), Shape::Punctuation);
        assert_eq!(shape_of("\u{200b}\u{feff}"), Shape::Punctuation);
        assert_eq!(shape_of("❤️"), Shape::Emoji);
        assert_eq!(shape_of("ok 👍"), Shape::Words);
    }

    #[test]
    fn digits_inside_valid_entities_are_not_stray() {
        assert!(has_stray_digits("kpj saya 12345", &[]));
        assert!(!has_stray_digits("umur 35", &[]));
    }

    #[test]
    fn stripes_are_stable_and_in_range() {
        let key = SessionKey::new("web", "abc").unwrap();
        assert_eq!(stripe(&key), stripe(&key));
        assert!(stripe(&key) < LOCK_STRIPES);
    }

    /// Durability whose first call waits until released: holds one turn in the middle, with
    /// its session saved and its lock held.
    struct HoldFirst {
        calls: std::sync::atomic::AtomicUsize,
        release: tokio::sync::Notify,
        holding: tokio::sync::Notify,
    }

    impl Durability for HoldFirst {
        fn make_durable(
            &self,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + '_>> {
            Box::pin(async move {
                if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    self.holding.notify_one();
                    self.release.notified().await;
                }
                Ok(())
            })
        }
    }

    async fn engine(durability: Arc<dyn Durability>) -> (Engine, Arc<dyn SessionStore>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
        let content =
            Arc::new(crate::content::load(&dir, &dialog::keys::requirements()).expect("content"));
        let nlu = Arc::new(Nlu::train(&content, crate::nlu::Thresholds::default()));
        let store: Arc<dyn SessionStore> = Arc::new(crate::store::MemorySessionStore::default());
        let members = Arc::new(crate::members::MemoryMemberStore::default());
        crate::members::seed_missing(members.as_ref(), &crate::members::demo_members())
            .await
            .expect("seed");
        let key = Arc::new(ServerKey::from_bytes([7; 32]));
        let guard: Arc<dyn MemberGuardStore> = Arc::new(crate::store::MemoryMemberGuard::default());
        let limits = crate::limits::LimitsConfig::off();
        let services = Services {
            store: store.clone(),
            members: Arc::new(crate::members::StoredMembers(members)),
            codes: Arc::new(crate::outbox::MemoryOutbox::default()),
            durability,
            clock: Arc::new(crate::clock::SystemClock),
            key: key.clone(),
            limits: Arc::new(Limits::new(&limits)),
            member_limits: Arc::new(MemberLimits::new(&limits, guard.clone(), key)),
            guard,
            password_page: PageLinks {
                tokens: Arc::new(crate::store::MemoryPageTokens::default()),
                base_url: "https://tanya.example".into(),
            },
        };
        (Engine::new(nlu, content, services), store)
    }

    fn says(session: &SessionKey, text: &str) -> IncomingMessage {
        IncomingMessage {
            session: session.clone(),
            input: Input::Text(text.to_string()),
            client_message_id: None,
        }
    }

    fn single_thread_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    async fn saved_session(store: &Arc<dyn SessionStore>, key: &SessionKey) -> Session {
        let stored = store.load(key).await.expect("load").expect("saved");
        serde_json::from_slice(&stored.data).expect("decodes")
    }

    /// What the member said, in the order the history shows it.
    fn user_lines(history: &[HistoryEntry]) -> Vec<&str> {
        history
            .iter()
            .filter(|e| e.from == Speaker::User)
            .map(|e| e.text.as_str())
            .collect()
    }

    #[test]
    fn concurrent_messages_to_one_session_are_processed_one_at_a_time_in_order() {
        // One thread: the 50 turns are polled in the order they were sent, so the lock's
        // queue, which is first come first served, must process them in that order.
        let runtime = single_thread_runtime();
        runtime.block_on(async {
            let (engine, store) = engine(Arc::new(YieldingDurability)).await;
            let key = SessionKey::new("web", "one-session").expect("key");
            let texts: Vec<String> = (1..=50).map(|i| format!("halo {i}")).collect();
            let turns = texts.iter().map(|text| engine.handle(says(&key, text)));
            let results = futures_join_all(turns.collect()).await;
            assert!(results.iter().all(Result::is_ok));
            let session = saved_session(&store, &key).await;
            assert_eq!(session.turns, 50, "no turn lost to a concurrent one");
            let history = engine.history(&key).await.expect("history").expect("saved");
            let users = user_lines(&history);
            // The transcript keeps its last lines; they are the last messages, in sending order.
            assert!(!users.is_empty());
            assert_eq!(users[..], texts[texts.len() - users.len()..]);
            // Each message is followed by its own answers before the next message.
            assert!(
                history
                    .windows(2)
                    .all(|pair| !(pair[0].from == Speaker::User && pair[1].from == Speaker::User)),
                "two messages without an answer between them"
            );
            assert_eq!(history.last().map(|e| e.from), Some(Speaker::Bot));
        });
    }

    #[test]
    fn a_button_pressed_outside_its_answer_shows_its_title_in_the_history() {
        let runtime = single_thread_runtime();
        runtime.block_on(async {
            let (engine, _) = engine(Arc::new(NoDurability)).await;
            // A starter button of the widget: pressed before any answer offered it.
            let key = SessionKey::new("web", "starter").expect("key");
            let pressed = IncomingMessage {
                session: key.clone(),
                input: Input::Payload("/forgot_password".to_string()),
                client_message_id: None,
            };
            engine.handle(pressed).await.expect("turn");
            let history = engine.history(&key).await.expect("history").expect("saved");
            assert_eq!(user_lines(&history), ["Lupa password JMO"]);
        });
    }

    #[test]
    fn the_history_keeps_the_last_exchanges_across_the_session_and_the_transcript_store() {
        let runtime = single_thread_runtime();
        runtime.block_on(async {
            let (engine, store) = engine(Arc::new(NoDurability)).await;
            let key = SessionKey::new("web", "long-talk").expect("key");
            let total = HISTORY_LIMIT + 7;
            let texts: Vec<String> = (0..total).map(|i| format!("apa itu jmo {i}")).collect();
            async {
                for text in &texts {
                    engine.handle(says(&key, text)).await.expect("turn");
                }
            }
            .await;
            let session = saved_session(&store, &key).await;
            assert_eq!(session.recent.len(), RECENT_EXCHANGES);
            let history = engine.history(&key).await.expect("history").expect("saved");
            let users = user_lines(&history);
            let kept = &texts[(total - HISTORY_LIMIT) as usize..];
            assert_eq!(users, kept.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(history.first().map(|e| e.from), Some(Speaker::User));
            assert_eq!(history.last().map(|e| e.from), Some(Speaker::Bot));
        });
    }

    #[test]
    fn only_the_latest_answer_offers_buttons_and_the_transcript_keeps_every_line() {
        let runtime = single_thread_runtime();
        runtime.block_on(async {
            let (engine, _) = engine(Arc::new(NoDurability)).await;
            let key = SessionKey::new("web", "buttons").expect("key");
            async {
                assert!(
                    engine
                        .offered_buttons(&key)
                        .await
                        .expect("none yet")
                        .is_empty()
                );
                let greeted = engine.handle(says(&key, "halo")).await.expect("turn");
                let menu = engine.offered_buttons(&key).await.expect("offered");
                assert!(!menu.is_empty(), "the greeting offers a menu");
                assert_eq!(
                    Some(&menu),
                    greeted
                        .messages
                        .iter()
                        .rev()
                        .map(|m| &m.buttons)
                        .find(|b| !b.is_empty())
                );
                let asked = engine
                    .handle(says(&key, "cek saldo jht"))
                    .await
                    .expect("turn");
                assert!(asked.messages.iter().all(|m| m.buttons.is_empty()));
                assert!(
                    engine
                        .offered_buttons(&key)
                        .await
                        .expect("offered")
                        .is_empty(),
                    "the greeting's menu is no longer on offer"
                );
                let history = engine.history(&key).await.expect("history").expect("saved");
                let texts: Vec<&str> = history.iter().map(|e| e.text.as_str()).collect();
                let mut expected = vec!["halo"];
                expected.extend(greeted.messages.iter().map(|m| m.text.as_str()));
                // The typed title pressed the greeting's button: the history shows the button.
                expected.push("Cek saldo JHT");
                expected.extend(asked.messages.iter().map(|m| m.text.as_str()));
                assert_eq!(texts, expected);
            }
            .await;
        });
    }

    /// Durability that yields once: a turn then holds its lock across a suspension, so the
    /// other turns queue up behind it.
    struct YieldingDurability;

    impl Durability for YieldingDurability {
        fn make_durable(
            &self,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + '_>> {
            Box::pin(async {
                tokio::task::yield_now().await;
                Ok(())
            })
        }
    }

    #[test]
    fn a_session_in_the_middle_of_a_turn_does_not_hold_up_other_sessions() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let hold = Arc::new(HoldFirst {
                calls: Default::default(),
                release: tokio::sync::Notify::new(),
                holding: tokio::sync::Notify::new(),
            });
            let (engine, _) = engine(hold.clone()).await;
            let engine = Arc::new(engine);
            let held = SessionKey::new("web", "held").expect("key");
            async {
                let holding = hold.holding.notified();
                let first = tokio::spawn({
                    let engine = engine.clone();
                    let held = held.clone();
                    async move { engine.handle(says(&held, "halo")).await }
                });
                holding.await;
                // Sessions on other lock stripes all finish while the held turn waits.
                let others: Vec<SessionKey> = (0..200)
                    .map(|i| SessionKey::new("web", &format!("other-{i}")).expect("key"))
                    .filter(|key| stripe(key) != stripe(&held))
                    .take(100)
                    .collect();
                let mut tasks = tokio::task::JoinSet::new();
                for key in others {
                    let engine = engine.clone();
                    tasks.spawn(async move { engine.handle(says(&key, "apa itu jmo")).await });
                }
                while let Some(done) = tasks.join_next().await {
                    done.expect("task").expect("turn");
                }
                assert!(!first.is_finished(), "the held turn is still waiting");
                hold.release.notify_one();
                first.await.expect("task").expect("the held turn completes");
            }
            .await;
        });
    }

    /// Awaits futures together on the current task, in the order given.
    async fn futures_join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
        let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
                if output.is_none() {
                    match future.as_mut().poll(cx) {
                        std::task::Poll::Ready(value) => *output = Some(value),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        outputs.into_iter().map(|o| o.expect("ready")).collect()
    }
}
