//! Telegram Bot API: the webhook (secret in `X-Telegram-Bot-Api-Secret-Token`), updates
//! translated into engine input (text, `callback_query` presses, non-text messages), and
//! replies as `sendMessage` calls with an `inline_keyboard`. Session key `telegram:<chat id>`.

use super::delivery::SendError;
use super::{
    ChannelError, Channels, Inbound, InboundContent, OutboundMessage, ReplyTo, authorized,
    member_text, numbered, retry_after_header, secret_matches, split_text, status_error,
    transport_error,
};
use crate::clock::Timestamp;
use crate::config::TelegramConfig;
use crate::store::SessionKey;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const CHANNEL: &str = crate::session_key::TELEGRAM;
/// The header carrying the `secret_token` given to `setWebhook`.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Longest message text.
pub const MAX_TEXT: usize = 4096;
/// Longest `callback_data`, in bytes.
pub const MAX_CALLBACK_DATA: usize = 64;
/// Message fields that mean "a message without text we can read".
const NON_TEXT_FIELDS: &[&str] = &[
    "photo",
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "document",
    "animation",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
];

/// One Bot API call: the method (`sendMessage`) and its JSON parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    pub body: Value,
}

#[derive(Debug, Deserialize)]
pub(super) struct Update {
    update_id: i64,
    message: Option<Message>,
    callback_query: Option<CallbackQuery>,
}

#[derive(Debug, Deserialize)]
struct Message {
    chat: Chat,
    /// When the member sent it (unix seconds).
    date: Option<u64>,
    text: Option<String>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl Chat {
    /// A one-to-one chat with the member. Telegram always names the type; a chat without one
    /// is not taken for private (fail closed: account flows never run in a group).
    fn is_private(&self) -> bool {
        self.kind.as_deref() == Some("private")
    }
}

#[derive(Debug, Deserialize)]
struct User {
    id: i64,
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    id: String,
    from: User,
    message: Option<CallbackMessage>,
    data: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CallbackMessage {
    chat: Chat,
}

/// `POST /webhooks/telegram`.
pub async fn webhook(
    State(channels): State<Arc<Channels>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ChannelError> {
    let config = channels
        .telegram
        .as_ref()
        .ok_or(ChannelError::NotConfigured)?;
    verify(config, &headers)?;
    let update: Update = super::json(&body, CHANNEL)?;
    channels
        .process_all(parse(update)?.into_iter().collect())
        .await?;
    Ok(StatusCode::OK)
}

/// The secret token header must equal the configured one.
fn verify(config: &TelegramConfig, headers: &HeaderMap) -> Result<(), ChannelError> {
    let given = headers
        .get(SECRET_HEADER)
        .ok_or(ChannelError::Unauthorized)?;
    authorized(secret_matches(
        given.as_bytes(),
        config.secret_token.expose_secret().as_bytes(),
    ))
}

/// The engine input of an update; `None` for updates the bot does not answer (edits,
/// channel posts, service messages).
pub(super) fn parse(update: Update) -> Result<Option<Inbound>, ChannelError> {
    let dedup_key = Some(format!("{CHANNEL}:{}", update.update_id));
    if let Some(query) = update.callback_query {
        // A press on a message in a group is from the group; without the message (an inline
        // message), from the member's own chat.
        let (chat_id, private) = query
            .message
            .map_or((query.from.id, true), |m| (m.chat.id, m.chat.is_private()));
        // Always answered, or the member's client shows a spinner on the button.
        let answer = Request {
            method: "answerCallbackQuery".into(),
            body: json!({ "callback_query_id": query.id }),
        };
        // A payload comes from our own buttons, but a modified client can send anything.
        let content = query.data.as_deref().and_then(member_text).map(|data| {
            if private {
                InboundContent::Payload(data)
            } else {
                InboundContent::GroupChat
            }
        });
        // Undated: `date` is the pressed message's, which may be old. Replays of a press are
        // stopped by the seen-ids only.
        return Ok(Some(Inbound {
            dedup_key,
            session: session(chat_id)?,
            content,
            reply_to: ReplyTo::Telegram { chat_id },
            first: vec![super::Request::Telegram(answer)],
            sent_at: None,
        }));
    }
    let Some(message) = update.message else {
        return Ok(None);
    };
    let sent_at = message
        .date
        .map(|seconds| Timestamp(seconds.saturating_mul(1000)));
    if !message.chat.is_private() {
        // Text only: a bot in a group (privacy mode) receives commands, mentions and replies
        // to it, which ask for an answer; photos and service messages do not.
        if message.text.as_deref().and_then(member_text).is_none() {
            return Ok(None);
        }
        let chat_id = message.chat.id;
        return Ok(Some(Inbound {
            dedup_key,
            session: session(chat_id)?,
            content: Some(InboundContent::GroupChat),
            reply_to: ReplyTo::Telegram { chat_id },
            first: Vec::new(),
            sent_at,
        }));
    }
    let content = match message.text.as_deref() {
        // The first message of every chat: a greeting.
        Some(text) if text == "/start" || text.starts_with("/start ") => {
            InboundContent::Payload("/greet".into())
        }
        Some(text) => match member_text(text) {
            Some(text) => InboundContent::Text(text),
            None => return Ok(None),
        },
        None if NON_TEXT_FIELDS
            .iter()
            .any(|field| message.other.contains_key(*field)) =>
        {
            InboundContent::NonText
        }
        None => return Ok(None),
    };
    let chat_id = message.chat.id;
    Ok(Some(Inbound {
        dedup_key,
        session: session(chat_id)?,
        content: Some(content),
        reply_to: ReplyTo::Telegram { chat_id },
        first: Vec::new(),
        sent_at,
    }))
}

fn session(chat_id: i64) -> Result<SessionKey, ChannelError> {
    SessionKey::new(CHANNEL, &chat_id.to_string()).map_err(|_| ChannelError::BadRequest(CHANNEL))
}

/// `sendMessage` calls for the replies: one per message (more when a text is longer than
/// Telegram allows), the buttons as an inline keyboard, one button per row, on the last
/// piece. Buttons whose payload is too long for `callback_data` become a numbered list.
pub fn render(chat_id: i64, messages: &[OutboundMessage]) -> Vec<super::Request> {
    let mut requests = Vec::new();
    for message in messages {
        let keyboard = !message.buttons.is_empty()
            && message.buttons.iter().all(|b| {
                !b.title.trim().is_empty()
                    && !b.payload.is_empty()
                    && b.payload.len() <= MAX_CALLBACK_DATA
            });
        let text = if message.buttons.is_empty() || keyboard {
            message.text.clone()
        } else {
            numbered(&message.text, &message.buttons)
        };
        let pieces = split_text(&text, MAX_TEXT);
        let last = pieces.len().saturating_sub(1);
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut body = json!({ "chat_id": chat_id, "text": piece });
            if keyboard && i == last {
                let rows: Vec<Value> = message
                    .buttons
                    .iter()
                    .map(|b| json!([{ "text": b.title, "callback_data": b.payload }]))
                    .collect();
                body["reply_markup"] = json!({ "inline_keyboard": rows });
            }
            requests.push(super::Request::Telegram(Request {
                method: "sendMessage".into(),
                body,
            }));
        }
    }
    requests
}

/// The Bot API's answer.
#[derive(Debug, Default, Deserialize)]
struct ApiAnswer {
    #[serde(default)]
    ok: bool,
    description: Option<String>,
    parameters: Option<ApiParameters>,
}

#[derive(Debug, Default, Deserialize)]
struct ApiParameters {
    retry_after: Option<u64>,
}

/// Makes one Bot API call.
pub(super) async fn send(
    client: &reqwest::Client,
    config: &TelegramConfig,
    request: &Request,
) -> Result<(), SendError> {
    // The token is part of the path: this URL is never logged (see `transport_error`).
    let url = format!(
        "{}/bot{}/{}",
        config.api_base,
        config.bot_token.expose_secret(),
        request.method
    );
    let response = client
        .post(url)
        .json(&request.body)
        .send()
        .await
        .map_err(transport_error)?;
    let status = response.status();
    let header_wait = retry_after_header(response.headers());
    let answer: ApiAnswer = response
        .bytes()
        .await
        .ok()
        .and_then(|body| serde_json::from_slice(&body).ok())
        .unwrap_or_default();
    if status.is_success() && answer.ok {
        return Ok(());
    }
    let wait = answer
        .parameters
        .and_then(|p| p.retry_after)
        .map(Duration::from_secs)
        .or(header_wait);
    let status = if status.is_success() {
        // `ok: false` with 200 should not happen; treat it as a server fault.
        reqwest::StatusCode::BAD_GATEWAY
    } else {
        status
    };
    Err(status_error(
        status,
        wait,
        &format!(
            "{} {}",
            request.method,
            answer.description.unwrap_or_default()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Button;

    fn update(value: Value) -> Update {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn text_callbacks_and_photos_become_engine_input() {
        let text = parse(update(json!({
            "update_id": 10,
            "message": {"message_id": 1, "chat": {"id": 42, "type": "private"}, "text": " halo "}
        })))
        .unwrap()
        .unwrap();
        assert_eq!(text.session.as_str(), "telegram:42");
        assert_eq!(text.dedup_key.as_deref(), Some("telegram:10"));
        assert_eq!(text.content, Some(InboundContent::Text("halo".into())));

        let press = parse(update(json!({
            "update_id": 11,
            "callback_query": {"id": "q1", "from": {"id": 7}, "data": "/help",
                "message": {"message_id": 2, "chat": {"id": 42, "type": "private"}}}
        })))
        .unwrap()
        .unwrap();
        assert_eq!(press.session.as_str(), "telegram:42");
        assert_eq!(press.content, Some(InboundContent::Payload("/help".into())));
        assert_eq!(press.first.len(), 1, "answerCallbackQuery first");

        let photo = parse(update(json!({
            "update_id": 12,
            "message": {"message_id": 3, "chat": {"id": 42, "type": "private"}, "photo": [{"file_id": "x"}]}
        })))
        .unwrap()
        .unwrap();
        assert_eq!(photo.content, Some(InboundContent::NonText));

        let start = parse(update(json!({
            "update_id": 13, "message": {"message_id": 4, "chat": {"id": 42, "type": "private"}, "text": "/start"}
        })))
        .unwrap()
        .unwrap();
        assert_eq!(
            start.content,
            Some(InboundContent::Payload("/greet".into()))
        );

        let edit = update(json!({"update_id": 14, "edited_message": {"chat": {"id": 42}}}));
        assert!(parse(edit).unwrap().is_none());
    }

    #[test]
    fn group_chats_never_reach_the_engine() {
        for kind in [json!("group"), json!("supergroup"), json!(null)] {
            let text = parse(update(json!({
                "update_id": 20, "message": {"message_id": 1, "date": 1_700_000_000,
                    "chat": {"id": -100, "type": kind}, "text": "lupa password"}
            })))
            .unwrap()
            .unwrap();
            assert_eq!(text.content, Some(InboundContent::GroupChat), "{kind}");
            assert_eq!(text.sent_at, Some(Timestamp(1_700_000_000_000)));
            let press = parse(update(json!({
                "update_id": 21, "callback_query": {"id": "q", "from": {"id": 7},
                    "data": "/otp_channel sms",
                    "message": {"message_id": 2, "chat": {"id": -100, "type": kind}}}
            })))
            .unwrap()
            .unwrap();
            assert_eq!(press.content, Some(InboundContent::GroupChat), "{kind}");
            assert_eq!(press.first.len(), 1, "the press is still answered");
        }
        let photo = update(json!({
            "update_id": 22, "message": {"message_id": 3,
                "chat": {"id": -100, "type": "group"}, "photo": [{"file_id": "x"}]}
        }));
        assert!(parse(photo).unwrap().is_none(), "not answered in a group");
    }

    #[test]
    fn replies_carry_an_inline_keyboard_and_long_text_is_split() {
        let messages = [OutboundMessage {
            text: "x".repeat(MAX_TEXT + 10),
            buttons: vec![Button {
                title: "Menu".into(),
                payload: "/help".into(),
            }],
        }];
        let requests = render(42, &messages);
        assert_eq!(requests.len(), 2);
        let super::super::Request::Telegram(last) = &requests[1] else {
            panic!("telegram");
        };
        assert_eq!(
            last.body["reply_markup"]["inline_keyboard"][0][0],
            json!({"text": "Menu", "callback_data": "/help"})
        );
        let super::super::Request::Telegram(first) = &requests[0] else {
            panic!("telegram");
        };
        assert!(first.body.get("reply_markup").is_none());
    }

    #[test]
    fn a_payload_too_long_for_callback_data_becomes_a_numbered_list() {
        let messages = [OutboundMessage {
            text: "Pilih".into(),
            buttons: vec![Button {
                title: "Panjang".into(),
                payload: format!("/{}", "x".repeat(70)),
            }],
        }];
        let requests = render(42, &messages);
        let super::super::Request::Telegram(request) = &requests[0] else {
            panic!("telegram");
        };
        assert_eq!(request.body["text"], "Pilih\n\n1. Panjang");
        assert!(request.body.get("reply_markup").is_none());
    }
}
