//! One turn, start to end: the session's lock, its record loaded and decoded, the message
//! read, `dialog::step` run until no look-up is left (its effects run in between), the answer
//! rendered, kept, saved and made durable. A message sent again is answered from what was
//! kept, without a second turn.

use super::history::{self, HIDDEN_PASSWORD};
use super::render::Links;
use super::standings::TurnStandings;
use super::{Engine, EngineError, IncomingMessage, OutgoingMessage, TurnResult};
use crate::clock::Timestamp;
use crate::dialog::keys::ResponseKey;
use crate::dialog::state::{CodeChannel, Exchange, Said};
use crate::dialog::{self, Context, Event, FlowOutcome, PasswordEntry, Reply, Session, State};
use crate::limits::Spent;
use crate::metrics::Channel;
use crate::nlu::IntentScore;
use crate::security::lockout::Standing;
use crate::security::otp;
use crate::security::page_token::PageToken;
use crate::store::{SessionKey, StoreError, StoredSession, TurnWrites};
use std::time::Instant;

/// A look-up answered inside a turn leads to at most one more step; the bound guards the loop.
const MAX_STEPS_PER_TURN: usize = 4;

/// What `Engine::conclude` needs of a turn besides its session (and `Engine::record`, of a
/// finished one).
pub(super) struct Conclusion<'a> {
    pub(super) key: &'a SessionKey,
    /// What the transcript keeps of the member's message.
    pub(super) user_line: String,
    pub(super) replies: Vec<Reply>,
    pub(super) client_message_id: Option<&'a str>,
    pub(super) intent: Option<&'a IntentScore>,
    /// What the turn's steps did to the flows, as the dialog said.
    pub(super) flows: Vec<FlowOutcome>,
    pub(super) new_session: bool,
    pub(super) started: Instant,
    pub(super) now: Timestamp,
}

impl Engine {
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
        let _turn = self.locks.lock(key).await;
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
            member: session.state.member().map(|member| member.id.clone()),
        };
        store_turn.finish(writes).await?;
        self.services.durability.make_durable().await?;
        Ok(messages)
    }

    pub(super) fn note_failure<T>(
        &self,
        incoming: &IncomingMessage,
        result: &Result<T, EngineError>,
    ) {
        if let Err(error) = result {
            self.metrics
                .turn_failed(Channel::of(incoming.session.channel()));
            tracing::warn!(session = %incoming.session.redacted(), %error, "turn failed");
        }
    }

    /// One turn. The per-member tokens it spends are given back if it fails: nothing of a
    /// failed turn is kept, so the member may send the message again.
    pub(super) async fn turn(
        &self,
        incoming: &IncomingMessage,
        only_existing: bool,
    ) -> Result<Option<TurnResult>, EngineError> {
        let mut spent = Spent::default();
        let result = self.spending(incoming, only_existing, &mut spent).await;
        if result.is_err() {
            self.services.member_limits.give_back(spent).await;
        }
        result
    }

    async fn spending(
        &self,
        incoming: &IncomingMessage,
        only_existing: bool,
        spent: &mut Spent,
    ) -> Result<Option<TurnResult>, EngineError> {
        let started = Instant::now();
        let _turn = self.locks.lock(&incoming.session).await;
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
        let read = self.read(&session, &incoming.input);
        let (mut message, mut intent, entities) = (read.message, read.intent, read.entities);
        if let (State::ConfirmPassword { draft_phc, .. }, Some(typed)) =
            (&session.state, &message.secret)
        {
            message.confirms_draft = self
                .matches_draft(draft_phc, typed, store_turn.as_ref())
                .await?;
        }
        let ranking = message.ranking.clone();
        let hidden = message.secret.is_some();

        let mut replies = Vec::new();
        let mut flows = Vec::new();
        let mut standings = TurnStandings::read_with_session(store_turn.member_standing());
        let mut event = Event::Message(message);
        for _ in 0..MAX_STEPS_PER_TURN {
            let transition = self
                .step(&incoming.session, session, event, now, &mut standings)
                .await?;
            session = transition.session;
            replies.extend(transition.replies);
            flows.extend(transition.outcomes);
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
                .run_effects(
                    &incoming.session,
                    store_turn.as_ref(),
                    transition.effects,
                    now,
                    spent,
                    &mut standings,
                )
                .await
            {
                Ok(Some(next)) => event = next,
                Ok(None) => break,
                Err(EngineError::Directory(error)) if error.is_outage() => {
                    // Never a wrong answer: the turn's progress is dropped, so the member
                    // can send the same message again once the directory is back.
                    tracing::warn!(session = %incoming.session.redacted(), %error, "member directory unavailable");
                    self.metrics.directory_unavailable();
                    self.services
                        .member_limits
                        .give_back(std::mem::take(spent))
                        .await;
                    session = as_stored(&stored);
                    replies = vec![Reply::key(ResponseKey::ServiceUnavailable)];
                    flows.clear();
                    break;
                }
                Err(error) => return Err(error),
            }
        }

        let concluded = Conclusion {
            key: &incoming.session,
            user_line: read.line,
            replies,
            client_message_id: incoming.client_message_id.as_deref(),
            intent: intent.as_ref(),
            flows,
            new_session,
            started,
            now,
        };
        let (session, messages) = self.conclude(session, store_turn, concluded).await?;
        Ok(Some(TurnResult {
            messages,
            intent,
            entities,
            hidden,
            state: session.state.name(),
            expects: session.state.expects(),
        }))
    }

    /// One `dialog::step` with its context: the member's standing (as this turn knows it,
    /// see `TurnStandings`), a fresh code, and where
    /// this session takes a new password (on the page, with a fresh link token, for the
    /// messaging channels).
    pub(super) async fn step(
        &self,
        key: &SessionKey,
        session: Session,
        event: Event,
        now: Timestamp,
        standings: &mut TurnStandings,
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
            Some(member) => {
                standings
                    .of(self.services.guard.as_ref(), &member.id)
                    .await?
            }
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
    pub(super) async fn conclude(
        &self,
        mut session: Session,
        store_turn: Box<dyn crate::store::SessionTurn + '_>,
        mut turn: Conclusion<'_>,
    ) -> Result<(Session, Vec<OutgoingMessage>), EngineError> {
        let (answer, messages) = self.answer(&mut session, &turn.replies);
        let exchange = Exchange {
            at: turn.now,
            user: std::mem::take(&mut turn.user_line),
            bot: answer,
        };
        let answered = turn.client_message_id.map(|id| (id, turn.intent));
        let mut writes = history::keep(&mut session, exchange, answered)?;
        writes.session = Some(StoredSession {
            updated_at: turn.now,
            data: serde_json::to_vec(&session)?,
        });
        writes.member = session.state.member().map(|member| member.id.clone());
        store_turn.finish(writes).await?;
        self.services.durability.make_durable().await?;
        self.record(&turn, &messages, session.state.flow());
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
            hidden: exchange.user == HIDDEN_PASSWORD,
            state: answered.state,
            expects: answered.expects,
        })
    }

    /// The stored record under `key`. A record the store itself cannot decode is handed on
    /// with empty data, which `decode` turns into a fresh session: corruption may cost a
    /// member a half-finished flow, never an error on every turn of that session.
    pub(super) async fn load(
        &self,
        key: &SessionKey,
    ) -> Result<Option<StoredSession>, EngineError> {
        match self.services.store.load(key).await {
            Err(StoreError::Corrupt { .. }) => Ok(Some(StoredSession::unreadable())),
            result => Ok(result?),
        }
    }
}

/// A stored session, or a fresh one when the record is from another schema or unreadable:
/// a member may lose a half-finished flow, never the service.
pub(super) fn decode(key: &SessionKey, stored: &StoredSession, now: Timestamp) -> Session {
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
