//! Messaging channels (Telegram, WhatsApp Cloud API, LINE): each adapter verifies a webhook on
//! its raw body, translates the platform's JSON into engine input, and renders the engine's
//! replies in the platform's native form. The replies leave through a persistent outbox that a
//! delivery worker sends with retries. A platform's JSON never reaches the engine.
//!
//! # Processing model
//! A webhook runs the engine turn inline and answers 200 only after the replies (and the
//! delivery's "seen" mark) are durably in the outbox:
//!
//! ```text
//! verify signature → parse → seen before? → Engine::handle (durable) → render → enqueue
//!   replies + mark seen, in one transaction → flush → 200 → worker sends, retries
//! ```
//!
//! Why inline rather than queueing the inbound message for a worker: an engine turn takes
//! milliseconds, so the platform's timeout is never at risk, and a crash before the 200 is
//! covered by the platforms' own redelivery (which the seen-ids make harmless), while a crash
//! after it is covered by the outbox (the worker started on the next boot sends what is
//! pending). An inbound queue would add a second worker and a second place where a message can
//! wait, for no gain in what survives a crash. The one window left is a crash between the
//! engine saving the session and the outbox write (two consecutive local writes): the
//! redelivered message is then processed once more against the advanced session.
//!
//! Messages from one member are processed one at a time (a lock per session around the whole
//! pipeline), so their replies enter the outbox, and leave it, in order.
//!
//! # Pushed messages
//! `Channels::push` sends to a member outside a webhook (the password page's confirmation):
//! rendered for the platform of the session key, queued in the same outbox under the same lock,
//! so it arrives in order with the replies to the member's own messages.

mod code_queue;
pub mod dedup;
pub mod delivery;
pub mod demo_codes;
pub mod line;
pub mod telegram;
pub mod whatsapp;

pub use code_queue::CodeQueue;

use crate::clock::{Clock, Timestamp};
use crate::config::{Config, LineConfig, TelegramConfig, WhatsAppConfig};
use crate::content::Button;
use crate::delivery::CodeTransport;
use crate::engine::{Engine, EngineError, IncomingMessage, Input, OutgoingMessage};
use crate::input::{MAX_BODY_BYTES, MAX_TEXT_CHARS};
use crate::key_locks::KeyLocks;
use crate::store::SessionKey;
use crate::store::channel_queue::DeliveryClaim;
use crate::store::{self, DbError, OpenError, Stores};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dedup::Dedup;
use delivery::{DeliveryWorker, Outbox, RetryPolicy, SendError, Sender};
use demo_codes::DemoCodes;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use subtle::ConstantTimeEq;

use crate::dialog::keys::ResponseKey;

/// The response sent for photos, stickers, voice notes and other non-text messages.
const NON_TEXT_KEY: ResponseKey = ResponseKey::NonText;
/// The response sent to a message in a group chat: account flows never run where other
/// people read along, so the member is asked to write privately.
const PRIVATE_CHAT_KEY: ResponseKey = ResponseKey::PrivateChatOnly;
/// Events older than this are refused as replays. A signed event stays valid forever, and the
/// seen-ids are kept for 7 days; the platforms' own retries come sooner. WhatsApp and LINE
/// date each event; Telegram dates messages (not button presses, whose replays are stopped by
/// the seen-ids only).
pub const MAX_EVENT_AGE: Duration = Duration::from_secs(5 * 60);
/// The label of the button that opens a WhatsApp list of choices.
const LIST_BUTTON_KEY: ResponseKey = ResponseKey::LabelListButton;
/// How long one call to a platform API may take before it counts as failed and is retried.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// A bot message as every channel renders it: text and the choices offered with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    pub text: String,
    pub buttons: Vec<Button>,
}

impl From<OutgoingMessage> for OutboundMessage {
    fn from(message: OutgoingMessage) -> Self {
        OutboundMessage {
            text: message.text,
            buttons: message.buttons,
        }
    }
}

/// Why a webhook was refused or could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The channel has no secrets configured, so its route does not exist (never open).
    #[error("not found")]
    NotConfigured,
    /// The signature or secret token is missing or wrong; nothing was done.
    #[error("missing or invalid signature")]
    Unauthorized,
    /// WhatsApp's subscription handshake with the wrong mode or verify token.
    #[error("verification failed")]
    Forbidden,
    /// An authentic body that is not the JSON the platform documents.
    #[error("the body is not a valid {0} webhook")]
    BadRequest(&'static str),
    /// The engine could not process the turn; the platform will redeliver it.
    #[error("processing the message failed")]
    Engine(#[from] EngineError),
    /// The outbox or the seen-ids could not be written; the platform will redeliver.
    #[error("channel storage failed")]
    Storage(#[from] DbError),
    /// An outbox item could not be encoded.
    #[error("encoding an outbox item failed")]
    Encode(#[from] serde_json::Error),
    /// Another instance is processing this delivery right now; the platform should
    /// redeliver it later (by then it is done, or that instance has died).
    #[error("the delivery is being processed")]
    InProgress,
    /// The task processing the webhook panicked.
    #[error("the processing task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl IntoResponse for ChannelError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ChannelError::NotConfigured => (StatusCode::NOT_FOUND, "not_found"),
            ChannelError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ChannelError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ChannelError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ChannelError::InProgress => (StatusCode::SERVICE_UNAVAILABLE, "in_progress"),
            ChannelError::Engine(_)
            | ChannelError::Storage(_)
            | ChannelError::Encode(_)
            | ChannelError::Task(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            let cause = std::error::Error::source(&self)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::error!(error = %self, %cause, "webhook failed");
        }
        let body = serde_json::json!({ "error": { "code": code, "message": self.to_string() } });
        (status, axum::Json(body)).into_response()
    }
}

/// Why a message could not be pushed to a session.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The session's channel is not a configured messaging channel (the web chat has no
    /// push; a channel without its secrets is off).
    #[error("{0} is not a configured messaging channel")]
    NoChannel(String),
    /// Nothing to send to can be derived from the session: a Telegram key that is no chat
    /// id, or a WhatsApp session before this process saw which business number it talks on.
    #[error("no destination for this session")]
    NoDestination,
    /// The outbox could not be written.
    #[error("queueing the messages failed")]
    Queue(#[from] ChannelError),
}

/// One call to a platform's send API, as the outbox keeps it. Secrets are not part of it:
/// tokens are added from the configuration when it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Request {
    Telegram(telegram::Request),
    #[serde(rename = "whatsapp")]
    WhatsApp(whatsapp::Request),
    Line(line::Request),
    /// A code SMS or e-mail (production), sent by `delivery::CodeTransport`.
    Code(crate::delivery::CodeCall),
}

/// What a member sent, translated from the platform's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InboundContent {
    Text(String),
    /// A button press: its payload.
    Payload(String),
    /// A photo, sticker, voice note…: answered with `non_text`.
    NonText,
    /// Anything from a group chat: answered with `PRIVATE_CHAT_KEY`, never a turn.
    GroupChat,
}

/// Where and how the replies to one inbound message go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReplyTo {
    Telegram {
        chat_id: i64,
    },
    WhatsApp {
        phone_number_id: String,
        to: whatsapp::Recipient,
    },
    Line {
        user_id: String,
        reply_token: Option<String>,
        /// The reply token is used until then; later replies are pushed.
        reply_until: Timestamp,
    },
}

/// One member message from a platform.
#[derive(Debug, Clone)]
struct Inbound {
    /// The platform's id of this delivery (`telegram:<update_id>`): processed once.
    dedup_key: Option<String>,
    session: SessionKey,
    /// `None`: nothing for the engine (a Telegram callback without data).
    content: Option<InboundContent>,
    reply_to: ReplyTo,
    /// Calls to make before the replies (Telegram's `answerCallbackQuery`).
    first: Vec<Request>,
    /// When the member sent it, as the platform dates it (`None`: undated, see
    /// `MAX_EVENT_AGE`).
    sent_at: Option<Timestamp>,
}

/// The messaging channels of one application: their settings, storage and senders.
pub struct Channels {
    engine: Arc<Engine>,
    telegram: Option<TelegramConfig>,
    whatsapp: Option<WhatsAppConfig>,
    line: Option<LineConfig>,
    /// Present when at least one channel is configured.
    storage: Option<Storage>,
    policy: RetryPolicy,
    list_label: String,
    locks: KeyLocks,
    /// Demo mode only: codes also shown in the chat (see `demo_codes`).
    demo_codes: Option<DemoCodes>,
    /// The WhatsApp business number (`phone_number_id`) pushes are sent from: the session key
    /// names the member, not the number. `TANYA_WHATSAPP_PHONE_NUMBER_ID` when set; otherwise
    /// the number the latest message came in on (a deployment has one number per access
    /// token), so until this process has seen a message a WhatsApp push has no destination.
    whatsapp_number: Mutex<Option<String>>,
}

/// What only configured channels need (nothing is opened or built for an app without any).
struct Storage {
    seen: Dedup,
    outbox: Outbox,
    sender: Arc<HttpSender>,
}

/// Production code delivery: the outbox the engine's `CodeQueue` writes codes into (the one
/// this module's worker sends from) and the transports that send them.
pub struct CodeDelivery {
    pub outbox: Outbox,
    pub transport: Arc<CodeTransport>,
}

impl Channels {
    /// The channels configured in `config`, storing their outbox and seen-ids in `stores`
    /// (temporary ones when the application runs in memory); `demo_codes` in demo mode,
    /// `codes` in production (whose outbox is then this module's).
    pub fn new(
        config: &Config,
        engine: Arc<Engine>,
        stores: Option<&Stores>,
        demo_codes: Option<DemoCodes>,
        codes: Option<CodeDelivery>,
    ) -> Result<Channels, OpenError> {
        let any = config.telegram.is_some() || config.whatsapp.is_some() || config.line.is_some();
        let storage = if any || codes.is_some() {
            let stores = match stores {
                Some(stores) => stores.clone(),
                None => store::temporary()?,
            };
            let (outbox, transport) = match codes {
                Some(codes) => (codes.outbox, Some(codes.transport)),
                None => (
                    Outbox::new(
                        stores.channel_queue.clone(),
                        stores.durability,
                        engine.clock().clone(),
                    ),
                    None,
                ),
            };
            Some(Storage {
                seen: Dedup::new(stores.channel_queue),
                outbox,
                sender: Arc::new(HttpSender {
                    client: reqwest::Client::builder()
                        .timeout(SEND_TIMEOUT)
                        .build()
                        .unwrap_or_default(),
                    telegram: config.telegram.clone(),
                    whatsapp: config.whatsapp.clone(),
                    line: config.line.clone(),
                    codes: transport,
                    metrics: engine.metrics().clone(),
                    clock: engine.clock().clone(),
                }),
            })
        } else {
            None
        };
        let list_label = engine
            .render_key(LIST_BUTTON_KEY)
            .map(|message| message.text)
            .unwrap_or_default();
        Ok(Channels {
            engine,
            telegram: config.telegram.clone(),
            whatsapp: config.whatsapp.clone(),
            line: config.line.clone(),
            storage,
            policy: RetryPolicy::from(config.delivery),
            list_label,
            locks: KeyLocks::default(),
            demo_codes,
            whatsapp_number: Mutex::new(
                config
                    .whatsapp
                    .as_ref()
                    .and_then(|whatsapp| whatsapp.phone_number_id.clone()),
            ),
        })
    }

    /// Starts the delivery worker (and the sweeper of old seen-ids); `None` when no channel is
    /// configured. Replies left pending by a previous run are sent first.
    pub fn spawn_worker(self: &Arc<Self>) -> Option<DeliveryWorker> {
        let storage = self.storage.as_ref()?;
        let sender: Arc<dyn Sender> = Arc::new(ReportingSender {
            inner: storage.sender.clone(),
            channels: Arc::downgrade(self),
        });
        let seen = storage.seen.clone();
        Some(
            DeliveryWorker::spawn_observed(
                storage.outbox.clone(),
                sender,
                self.policy,
                self.engine.metrics().clone(),
            )
            .with_task(tokio::spawn(dedup::sweep_forever(
                seen,
                self.engine.clock().clone(),
            ))),
        )
    }

    /// Replies waiting in the outbox (not yet delivered or given up).
    pub async fn pending_deliveries(&self) -> usize {
        match &self.storage {
            Some(storage) => storage.outbox.len().await,
            None => 0,
        }
    }

    /// Platform delivery ids remembered as processed.
    pub async fn seen_deliveries(&self) -> usize {
        match &self.storage {
            Some(storage) => storage.seen.remembered().await,
            None => 0,
        }
    }

    /// Processes the messages of one webhook in order, in a task of its own: when the
    /// platform hangs up or the request times out, the turn still finishes and its replies are
    /// still queued (the platform's redelivery is then recognised as a duplicate).
    async fn process_all(self: &Arc<Self>, inbound: Vec<Inbound>) -> Result<(), ChannelError> {
        if inbound.is_empty() {
            return Ok(());
        }
        let channels = Arc::clone(self);
        tokio::spawn(async move {
            for message in inbound {
                channels.process(message).await?;
            }
            Ok(())
        })
        .await?
    }

    /// Runs one inbound message through the pipeline described in the module doc.
    async fn process(&self, inbound: Inbound) -> Result<(), ChannelError> {
        let storage = self.storage.as_ref().ok_or(ChannelError::NotConfigured)?;
        let _in_order = self.locks.lock(&inbound.session).await;
        let now = self.engine.clock().now();
        if let Some(sent_at) = inbound.sent_at
            && now.since(sent_at) > MAX_EVENT_AGE
        {
            // Acknowledged (a platform's late retry stops here too) and not processed.
            tracing::warn!(
                session = %inbound.session.redacted(),
                age_s = now.since(sent_at).as_secs(),
                "webhook event older than the replay window refused"
            );
            return Ok(());
        }
        let Some(id) = inbound.dedup_key.clone() else {
            return self.respond(storage, inbound, now).await;
        };
        match storage.seen.claim(&id, now).await? {
            DeliveryClaim::Duplicate => {
                tracing::info!(session = %inbound.session.redacted(), "duplicate delivery ignored");
                Ok(())
            }
            DeliveryClaim::Busy => {
                tracing::info!(session = %inbound.session.redacted(), "delivery in progress elsewhere; redelivery asked");
                Err(ChannelError::InProgress)
            }
            DeliveryClaim::Fresh => {
                let responded = self.respond(storage, inbound, now).await;
                if responded.is_err()
                    && let Err(error) = storage.seen.release(&id).await
                {
                    // The claim runs out by itself (`DELIVERY_CLAIM`); only then is the
                    // platform's redelivery processed.
                    tracing::warn!(%error, "giving back a delivery claim failed");
                }
                responded
            }
        }
    }

    /// Answers a delivery this instance has claimed: a turn (or a fixed reply), and its calls
    /// queued with the delivery marked processed.
    async fn respond(
        &self,
        storage: &Storage,
        inbound: Inbound,
        now: Timestamp,
    ) -> Result<(), ChannelError> {
        if let ReplyTo::WhatsApp {
            phone_number_id, ..
        } = &inbound.reply_to
        {
            *self
                .whatsapp_number
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(phone_number_id.clone());
        }
        // Over the platform user's rate (SPEC §6): answered with `rate_limited` instead of a
        // turn, and still acknowledged, so the platform does not redeliver it.
        let limited = inbound.content.is_some()
            && self.engine.limits().channel_user(&inbound.session).is_err();
        if limited {
            self.engine
                .metrics()
                .rate_limited(crate::metrics::RateLimitScope::ChannelUser);
        }
        let messages = match inbound.content {
            _ if limited => self
                .engine
                .render_key(ResponseKey::RateLimited)
                .into_iter()
                .map(Into::into)
                .collect(),
            None => Vec::new(),
            Some(InboundContent::NonText) => self.fixed_reply(NON_TEXT_KEY),
            Some(InboundContent::GroupChat) => self.fixed_reply(PRIVATE_CHAT_KEY),
            // A typed number or button title is resolved by the engine, as on every channel.
            Some(InboundContent::Text(text)) => {
                self.turn(&inbound.session, Input::Text(text)).await?
            }
            Some(InboundContent::Payload(payload)) => {
                self.turn(&inbound.session, Input::Payload(payload)).await?
            }
        };
        let mut requests = inbound.first;
        requests.extend(self.render(&inbound.reply_to, &messages));
        storage
            .outbox
            .enqueue(
                &inbound.session,
                &requests,
                inbound.dedup_key.as_deref(),
                now,
            )
            .await?;
        tracing::info!(
            session = %inbound.session.redacted(),
            replies = messages.len(),
            calls = requests.len(),
            "channel message processed"
        );
        Ok(())
    }

    /// The message of response `key`, without a turn; nothing (and a warning) when the
    /// content does not define it.
    fn fixed_reply(&self, key: ResponseKey) -> Vec<OutboundMessage> {
        match self.engine.render_key(key) {
            Some(message) => vec![message.into()],
            None => {
                tracing::warn!("the content has no {} response", key.as_str());
                Vec::new()
            }
        }
    }

    async fn turn(
        &self,
        session: &SessionKey,
        input: Input,
    ) -> Result<Vec<OutboundMessage>, ChannelError> {
        let before = match &self.demo_codes {
            Some(demo) => demo.before(session).await,
            None => None,
        };
        let result = self
            .engine
            .handle(IncomingMessage {
                session: session.clone(),
                input,
                // Platforms' own message ids are deduplicated before the engine (`dedup`).
                client_message_id: None,
            })
            .await?;
        // The demo "SMS" goes first: LINE shows quick replies only on the last message of a
        // reply, and the turn's last message is the one whose choices (resend, cancel) matter.
        let mut messages = match (&self.demo_codes, &before) {
            (Some(demo), Some(before)) => demo.sent_since(session, before).await,
            _ => Vec::new(),
        };
        messages.extend(result.messages.into_iter().map(OutboundMessage::from));
        Ok(messages)
    }

    /// Sends `messages` to the member of `session` outside a webhook (see the module doc):
    /// queued durably, in order with the replies to the member's own messages.
    pub async fn push(
        &self,
        session: &SessionKey,
        messages: &[OutboundMessage],
    ) -> Result<(), PushError> {
        let no_channel = || PushError::NoChannel(session.channel().to_string());
        let storage = self.storage.as_ref().ok_or_else(no_channel)?;
        let reply_to = self.destination(session)?;
        let requests = self.render(&reply_to, messages);
        let _in_order = self.locks.lock(session).await;
        storage
            .outbox
            .enqueue(session, &requests, None, self.engine.clock().now())
            .await?;
        tracing::info!(
            session = %session.redacted(),
            messages = messages.len(),
            calls = requests.len(),
            "channel messages pushed"
        );
        Ok(())
    }

    /// Where a push to `session` goes: the Telegram chat, the WhatsApp member (from the
    /// business number last written to), the LINE user (the push API: no reply token).
    fn destination(&self, session: &SessionKey) -> Result<ReplyTo, PushError> {
        let id = session.id();
        match session.channel() {
            telegram::CHANNEL if self.telegram.is_some() => id
                .parse()
                .map(|chat_id| ReplyTo::Telegram { chat_id })
                .map_err(|_| PushError::NoDestination),
            whatsapp::CHANNEL if self.whatsapp.is_some() => {
                let number = self
                    .whatsapp_number
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                    .ok_or(PushError::NoDestination)?;
                Ok(ReplyTo::WhatsApp {
                    phone_number_id: number,
                    to: whatsapp::Recipient::from_session_id(id),
                })
            }
            line::CHANNEL if self.line.is_some() => Ok(ReplyTo::Line {
                user_id: id.to_string(),
                reply_token: None,
                reply_until: Timestamp(0),
            }),
            other => Err(PushError::NoChannel(other.to_string())),
        }
    }

    fn render(&self, reply_to: &ReplyTo, messages: &[OutboundMessage]) -> Vec<Request> {
        match reply_to {
            ReplyTo::Telegram { chat_id } => telegram::render(*chat_id, messages),
            ReplyTo::WhatsApp {
                phone_number_id,
                to,
            } => whatsapp::render(phone_number_id, to, messages, &self.list_label),
            ReplyTo::Line {
                user_id,
                reply_token,
                reply_until,
            } => line::render(user_id, reply_token.as_deref(), *reply_until, messages),
        }
    }
}

/// The webhook routes: `POST /webhooks/telegram`, `GET|POST /webhooks/whatsapp`,
/// `POST /webhooks/line`. A channel without its secrets answers 404.
pub fn router<S: Clone + Send + Sync + 'static>(channels: Arc<Channels>) -> Router<S> {
    Router::new()
        .route("/webhooks/telegram", post(telegram::webhook))
        .route(
            "/webhooks/whatsapp",
            get(whatsapp::handshake).post(whatsapp::webhook),
        )
        .route("/webhooks/line", post(line::webhook))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(channels)
}

/// Sends outbox requests over HTTP with the configured tokens, and codes through the code
/// transports in production.
struct HttpSender {
    client: reqwest::Client,
    telegram: Option<TelegramConfig>,
    whatsapp: Option<WhatsAppConfig>,
    line: Option<LineConfig>,
    codes: Option<Arc<CodeTransport>>,
    metrics: Arc<crate::metrics::Metrics>,
    /// The engine's clock: whether a LINE reply token is still fresh.
    clock: Arc<dyn Clock>,
}

impl Sender for HttpSender {
    fn send<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
        Box::pin(async move {
            let disabled = || SendError::Permanent {
                reason: "the channel is no longer configured".into(),
            };
            match request {
                Request::Telegram(request) => {
                    let config = self.telegram.as_ref().ok_or_else(disabled)?;
                    telegram::send(&self.client, config, request).await
                }
                Request::WhatsApp(request) => {
                    let config = self.whatsapp.as_ref().ok_or_else(disabled)?;
                    whatsapp::send(&self.client, config, request).await
                }
                Request::Line(request) => {
                    let config = self.line.as_ref().ok_or_else(disabled)?;
                    line::send(&self.client, config, request, self.clock.now()).await
                }
                Request::Code(call) => {
                    let transport = self.codes.as_ref().ok_or_else(disabled)?;
                    transport.send(call).await?;
                    self.metrics.code_delivered(call.via);
                    Ok(())
                }
            }
        })
    }
}

/// The worker's sender: the platforms' and code transports' calls, and what follows when a
/// code is given up (the channels are needed for that: the member may have to be pushed to).
struct ReportingSender {
    inner: Arc<HttpSender>,
    /// Weak: the worker must not keep the channels (and the engine) alive.
    channels: std::sync::Weak<Channels>,
}

impl Sender for ReportingSender {
    fn send<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
        self.inner.send(request)
    }

    fn given_up<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if let (Request::Code(call), Some(channels)) = (request, self.channels.upgrade()) {
                channels.report_undelivered(call).await;
            }
        })
    }
}

impl Channels {
    /// A code given up: counted, and the member told (SPEC §12: never silently lost): in
    /// their chat at once on a messaging channel, first in the next answer on the web.
    async fn report_undelivered(&self, call: &crate::delivery::CodeCall) {
        self.engine.metrics().code_delivery_failed(call.via);
        let Some(key) = call
            .session
            .split_once(':')
            .and_then(|(channel, id)| SessionKey::new(channel, id).ok())
        else {
            tracing::error!("an undelivered code names no session");
            return;
        };
        let push = key.is_messaging() && self.destination(&key).is_ok();
        let messages = match self.engine.code_undelivered(&key, call.via, push).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::error!(session = %key.redacted(), %error, "telling the member about an undelivered code failed");
                return;
            }
        };
        if push && !messages.is_empty() {
            let outbound: Vec<OutboundMessage> = messages
                .into_iter()
                .map(|m| OutboundMessage {
                    text: m.text,
                    buttons: m.buttons,
                })
                .collect();
            if let Err(error) = self.push(&key, &outbound).await {
                tracing::error!(session = %key.redacted(), %error, "pushing the undelivered-code notice failed");
            }
        }
    }
}

/// Whether `given` equals `expected`, in time independent of where they differ.
fn secret_matches(given: &[u8], expected: &[u8]) -> bool {
    bool::from(given.ct_eq(expected))
}

/// A webhook's verdict on its signature: one that does not match is unauthorized.
fn authorized(signature_matches: bool) -> Result<(), ChannelError> {
    if signature_matches {
        Ok(())
    } else {
        Err(ChannelError::Unauthorized)
    }
}

/// Whether `tag` is HMAC-SHA256(`key`, `body`), compared in constant time.
fn hmac_sha256_matches(key: &[u8], body: &[u8], tag: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.verify_slice(tag).is_ok()
}

/// A webhook body of `channel` read as its JSON type; a body that is not one is a bad request.
fn json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    channel: &'static str,
) -> Result<T, ChannelError> {
    serde_json::from_slice(body).map_err(|_| ChannelError::BadRequest(channel))
}

/// A member's text as the engine takes it: control characters (other than line breaks and
/// tabs) removed, `None` when nothing is left, cut at `MAX_TEXT_CHARS`. A webhook cannot
/// answer "too long" or "invalid" to the member, and refusing it would only make the platform
/// redeliver it.
fn member_text(text: &str) -> Option<String> {
    let text: String = text
        .chars()
        .filter(|&c| !c.is_control() || c == '\n' || c == '\t')
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(MAX_TEXT_CHARS).collect())
}

/// The text followed by its choices as a numbered list: the fallback when buttons do not fit
/// a platform's limits. Typing a number then works through `typed_choice`.
fn numbered(text: &str, buttons: &[Button]) -> String {
    let mut out = text.trim_end().to_string();
    if !out.is_empty() {
        out.push('\n');
    }
    for (i, button) in buttons.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = write!(out, "\n{}. {}", i + 1, button.title);
    }
    out.trim_start().to_string()
}

/// Length as the platforms count it (UTF-16 code units: an emoji counts two), which is never
/// less than the number of characters.
fn text_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Splits `text` into pieces of at most `max` UTF-16 units, preferring paragraph, line and
/// word boundaries. Empty text gives no pieces.
fn split_text(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if text_len(rest) <= max {
            pieces.push(rest.to_string());
            break;
        }
        let mut units = 0;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            if units + c.len_utf16() > max {
                break;
            }
            units += c.len_utf16();
            end = i + c.len_utf8();
        }
        let window = &rest[..end];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|separator| window.rfind(separator).filter(|&at| at >= end / 2))
            .unwrap_or(end);
        pieces.push(rest[..cut].trim_end().to_string());
        rest = rest[cut..].trim_start();
    }
    pieces
}

/// The wait a `Retry-After` header asks for (seconds; the HTTP-date form is not used by the
/// platforms here).
fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// A send that failed before any answer (connection refused, timeout): worth retrying. The
/// URL is removed from the reason because Telegram's carries the bot token.
fn transport_error(error: reqwest::Error) -> SendError {
    SendError::Retry {
        after: None,
        reason: format!("request failed: {}", error.without_url()),
    }
}

/// The usual reading of an error status: 408, 429 and 5xx are worth retrying, other 4xx not.
fn status_error(status: reqwest::StatusCode, after: Option<Duration>, detail: &str) -> SendError {
    let reason = if detail.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {detail}", status.as_u16())
    };
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        SendError::Retry { after, reason }
    } else {
        SendError::Permanent { reason }
    }
}

/// Reads `body` as a webhook of `channel` (`telegram`, `whatsapp`, `line`) the way its route
/// does after the signature check, and returns how many member messages it holds, or the error
/// the route would answer. For the fuzz targets (`fuzz/`): no engine, no storage, no network.
#[doc(hidden)]
pub fn parse_webhook_body(channel: &str, body: &[u8]) -> Result<usize, ChannelError> {
    let inbound = match channel {
        telegram::CHANNEL => telegram::parse(json(body, telegram::CHANNEL)?)?
            .into_iter()
            .collect(),
        whatsapp::CHANNEL => whatsapp::parse(json(body, whatsapp::CHANNEL)?)?,
        // The time only sets a reply token's deadline, which a count does not read.
        line::CHANNEL => line::parse(json(body, line::CHANNEL)?, Timestamp(0))?,
        _ => return Err(ChannelError::NotConfigured),
    };
    for message in &inbound {
        // Whatever a platform sends, the session key is one the store accepts.
        debug_assert!(message.session.as_str().len() <= crate::store::MAX_SESSION_KEY_BYTES);
    }
    Ok(inbound.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(title: &str, payload: &str) -> Button {
        Button {
            title: title.into(),
            payload: payload.into(),
        }
    }

    #[test]
    fn numbered_fallback_lists_every_choice() {
        let text = numbered(
            "Pilih:",
            &[button("SMS", "/otp_channel sms"), button("E-mail", "/x")],
        );
        assert_eq!(text, "Pilih:\n\n1. SMS\n2. E-mail");
    }

    #[test]
    fn long_text_is_split_at_boundaries_within_the_limit() {
        let text = format!("{}\n\n{}", "a".repeat(30), "b ".repeat(30));
        let pieces = split_text(&text, 40);
        assert_eq!(pieces[0], "a".repeat(30));
        assert!(pieces.iter().all(|p| text_len(p) <= 40), "{pieces:?}");
        assert_eq!(
            pieces.concat().replace([' ', '\n'], ""),
            text.replace([' ', '\n'], "")
        );
        assert_eq!(
            split_text("😀😀😀", 4),
            ["😀😀", "😀"],
            "emoji count two units"
        );
        assert!(split_text("   ", 10).is_empty());
        assert_eq!(split_text("x".repeat(25).as_str(), 10).len(), 3);
    }

    #[test]
    fn member_text_is_trimmed_and_bounded() {
        assert_eq!(member_text("  "), None);
        assert_eq!(member_text(" halo ").as_deref(), Some("halo"));
        assert_eq!(
            member_text("ha\u{0}lo\u{7}\nya").as_deref(),
            Some("halo\nya")
        );
        assert_eq!(member_text("\u{0}\u{1}"), None);
        let long = "x".repeat(MAX_TEXT_CHARS + 10);
        assert_eq!(
            member_text(&long).map(|t| t.chars().count()),
            Some(MAX_TEXT_CHARS)
        );
    }

    #[test]
    fn hmac_signatures_are_checked() {
        use hmac::Mac;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"body");
        let tag = mac.finalize().into_bytes();
        assert!(hmac_sha256_matches(b"key", b"body", &tag));
        assert!(!hmac_sha256_matches(b"key", b"body!", &tag));
        assert!(!hmac_sha256_matches(b"other", b"body", &tag));
        assert!(!hmac_sha256_matches(b"key", b"body", &tag[..16]));
        assert!(secret_matches(b"abc", b"abc"));
        assert!(!secret_matches(b"abc", b"abd"));
        assert!(!secret_matches(b"ab", b"abc"));
    }
}
