//! LINE Messaging API: webhooks signed with `x-line-signature` (base64 HMAC-SHA256 of the raw
//! body under the channel secret; the console's verification POST has no events), events
//! translated into engine input (text, postback, non-text messages), and replies with quick
//! replies, through the reply token while it is fresh and the push API after. Session key
//! `line:<userId>`; only one-to-one chats are answered.

use super::delivery::SendError;
use super::{
    ChannelError, Channels, Inbound, InboundContent, OutboundMessage, ReplyTo, authorized,
    hmac_sha256_matches, member_text, numbered, retry_after_header, split_text, status_error,
    text_len, transport_error,
};
use crate::clock::Timestamp;
use crate::config::LineConfig;
use crate::store::SessionKey;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const CHANNEL: &str = crate::session_key::LINE;
pub const SIGNATURE_HEADER: &str = "x-line-signature";
/// Longest text message.
pub const MAX_TEXT: usize = 5000;
/// Messages per reply or push call.
pub const MAX_MESSAGES_PER_CALL: usize = 5;
/// Quick reply items per message, and their longest label.
pub const MAX_QUICK_REPLIES: usize = 13;
pub const MAX_LABEL: usize = 20;
/// Longest postback `data` and `displayText`.
const MAX_POSTBACK_DATA: usize = 300;
/// How long after the event a reply token is used: LINE accepts it for about a minute, and a
/// margin keeps a slow first try from landing after it expired.
pub const REPLY_TOKEN_FRESH: Duration = Duration::from_secs(50);
const NON_TEXT_TYPES: &[&str] = &["image", "video", "audio", "file", "location", "sticker"];

/// One reply or push call. The reply token is tried while fresh; the push goes to `to` with
/// `retry_key` as `X-Line-Retry-Key`, so a retried push is never shown twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub to: String,
    pub reply_token: Option<String>,
    /// Unix ms after which the reply token is not used.
    pub reply_until: u64,
    pub retry_key: String,
    pub messages: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Webhook {
    /// Required (empty for the console's verification): without it the body is a 400.
    events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    webhook_event_id: Option<String>,
    /// When the event happened (unix ms).
    timestamp: Option<u64>,
    source: Option<Source>,
    reply_token: Option<String>,
    message: Option<LineMessage>,
    postback: Option<Postback>,
    /// `standby` when another channel module is in charge of the chat.
    mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source {
    #[serde(rename = "type")]
    kind: String,
    user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LineMessage {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Postback {
    data: String,
}

/// `POST /webhooks/line`.
pub async fn webhook(
    State(channels): State<Arc<Channels>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ChannelError> {
    let config = channels.line.as_ref().ok_or(ChannelError::NotConfigured)?;
    verify(config, &headers, &body)?;
    let webhook: Webhook = super::json(&body, CHANNEL)?;
    // The console's "Verify" button sends no events: answered 200 like any other webhook.
    channels
        .process_all(parse(webhook, channels.engine.clock().now())?)
        .await?;
    Ok(StatusCode::OK)
}

/// `x-line-signature: base64(HMAC-SHA256(channel secret, raw body))`.
fn verify(config: &LineConfig, headers: &HeaderMap, body: &[u8]) -> Result<(), ChannelError> {
    let tag = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| BASE64_STANDARD.decode(value.as_bytes()).ok())
        .ok_or(ChannelError::Unauthorized)?;
    authorized(hmac_sha256_matches(
        config.channel_secret.expose_secret().as_bytes(),
        body,
        &tag,
    ))
}

pub(super) fn parse(webhook: Webhook, now: Timestamp) -> Result<Vec<Inbound>, ChannelError> {
    let mut inbound = Vec::new();
    for event in webhook.events {
        if event.mode.as_deref() == Some("standby") {
            continue;
        }
        // Groups and rooms are not answered: account recovery is a private conversation.
        let Some(user_id) = event
            .source
            .as_ref()
            .filter(|source| source.kind == "user")
            .and_then(|source| source.user_id.clone())
        else {
            continue;
        };
        let content = match (event.kind.as_str(), &event.message, &event.postback) {
            ("message", Some(message), _) if message.kind == "text" => {
                match message.text.as_deref().and_then(member_text) {
                    Some(text) => InboundContent::Text(text),
                    None => continue,
                }
            }
            ("message", Some(message), _) if NON_TEXT_TYPES.contains(&message.kind.as_str()) => {
                InboundContent::NonText
            }
            ("postback", _, Some(postback)) => match member_text(&postback.data) {
                Some(data) => InboundContent::Payload(data),
                None => continue,
            },
            _ => continue,
        };
        let dedup_key = event
            .webhook_event_id
            .clone()
            .or_else(|| event.message.as_ref().and_then(|m| m.id.clone()))
            .map(|id| format!("{CHANNEL}:{id}"));
        let session =
            SessionKey::new(CHANNEL, &user_id).map_err(|_| ChannelError::BadRequest(CHANNEL))?;
        // A redelivered event is old: its token has expired with it.
        let happened = event.timestamp.map_or(now, |at| Timestamp(at.min(now.0)));
        inbound.push(Inbound {
            dedup_key,
            session,
            content: Some(content),
            reply_to: ReplyTo::Line {
                user_id,
                reply_token: event.reply_token.clone(),
                reply_until: happened.plus(REPLY_TOKEN_FRESH),
            },
            first: Vec::new(),
            sent_at: event.timestamp.map(Timestamp),
        });
    }
    Ok(inbound)
}

/// Calls for the replies: text messages (split at the limit) in groups of five per call; the
/// first call uses the reply token, later ones push. The choices of the last message become
/// quick replies when they fit (a quick reply shows only under the latest message);
/// otherwise they are a numbered list in the text.
pub fn render(
    user_id: &str,
    reply_token: Option<&str>,
    reply_until: Timestamp,
    messages: &[OutboundMessage],
) -> Vec<super::Request> {
    let mut objects = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let quick = i + 1 == messages.len() && quick_replies_fit(message);
        let text = if message.buttons.is_empty() || quick {
            message.text.clone()
        } else {
            numbered(&message.text, &message.buttons)
        };
        let pieces = split_text(&text, MAX_TEXT);
        let last = pieces.len().saturating_sub(1);
        for (j, piece) in pieces.into_iter().enumerate() {
            let mut object = json!({ "type": "text", "text": piece });
            if quick && j == last {
                let items: Vec<Value> = message
                    .buttons
                    .iter()
                    .map(|b| {
                        json!({ "type": "action", "action": {
                            "type": "postback",
                            "label": b.title.trim(),
                            "data": b.payload,
                            "displayText": b.title.trim(),
                        }})
                    })
                    .collect();
                object["quickReply"] = json!({ "items": items });
            }
            objects.push(object);
        }
    }
    objects
        .chunks(MAX_MESSAGES_PER_CALL)
        .enumerate()
        .map(|(n, chunk)| {
            super::Request::Line(Request {
                to: user_id.to_string(),
                // A reply token can be used once: only by the first call.
                reply_token: if n == 0 {
                    reply_token.map(str::to_string)
                } else {
                    None
                },
                reply_until: reply_until.0,
                retry_key: retry_key(),
                messages: chunk.to_vec(),
            })
        })
        .collect()
}

fn quick_replies_fit(message: &OutboundMessage) -> bool {
    !message.buttons.is_empty()
        && message.buttons.len() <= MAX_QUICK_REPLIES
        && message.buttons.iter().all(|b| {
            let title = b.title.trim();
            !title.is_empty()
                && text_len(title) <= MAX_LABEL
                && !b.payload.is_empty()
                && text_len(&b.payload) <= MAX_POSTBACK_DATA
        })
}

/// A random UUID (version 4), the form `X-Line-Retry-Key` requires.
fn retry_key() -> String {
    let bits: u128 = rand::random();
    let bits = (bits & !(0xf_u128 << 76) | (0x4_u128 << 76)) & !(0x3_u128 << 62) | (0x2_u128 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Makes one call: a reply while the token is fresh (falling back to a push if LINE refuses
/// the token), else a push.
pub(super) async fn send(
    client: &reqwest::Client,
    config: &LineConfig,
    request: &Request,
    now: Timestamp,
) -> Result<(), SendError> {
    if let Some(token) = &request.reply_token
        && now.0 < request.reply_until
    {
        let url = format!("{}/v2/bot/message/reply", config.api_base);
        let body = json!({ "replyToken": token, "messages": request.messages });
        let response = client
            .post(url)
            .bearer_auth(config.channel_access_token.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // 400 is LINE's answer to an expired or used token: push instead. Anything else
        // (429, 5xx) is retried as it is.
        if status != reqwest::StatusCode::BAD_REQUEST {
            return Err(status_error(
                status,
                retry_after_header(response.headers()),
                "reply",
            ));
        }
    }
    let url = format!("{}/v2/bot/message/push", config.api_base);
    let body = json!({ "to": request.to, "messages": request.messages });
    let response = client
        .post(url)
        .bearer_auth(config.channel_access_token.expose_secret())
        .header("X-Line-Retry-Key", &request.retry_key)
        .json(&body)
        .send()
        .await
        .map_err(transport_error)?;
    let status = response.status();
    // 409: a push with this retry key was already accepted.
    if status.is_success() || status == reqwest::StatusCode::CONFLICT {
        return Ok(());
    }
    Err(status_error(
        status,
        retry_after_header(response.headers()),
        "push",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Button;

    fn events(events: &Value) -> Webhook {
        serde_json::from_value(json!({ "destination": "Ubot", "events": events })).unwrap()
    }

    fn line(request: &super::super::Request) -> &Request {
        let super::super::Request::Line(request) = request else {
            panic!("line");
        };
        request
    }

    #[test]
    fn text_postback_and_stickers_from_users_become_engine_input() {
        let now = Timestamp(1_700_000_000_000);
        let parsed = parse(
            events(&json!([
                {"type": "message", "webhookEventId": "E1", "timestamp": now.0 - 1000, "mode": "active",
                 "source": {"type": "user", "userId": "U1"}, "replyToken": "r1",
                 "message": {"type": "text", "id": "m1", "text": "halo"}},
                {"type": "postback", "webhookEventId": "E2", "timestamp": now.0, "mode": "active",
                 "source": {"type": "user", "userId": "U1"}, "replyToken": "r2",
                 "postback": {"data": "/help"}},
                {"type": "message", "webhookEventId": "E3", "timestamp": now.0, "mode": "active",
                 "source": {"type": "user", "userId": "U1"}, "replyToken": "r3",
                 "message": {"type": "sticker", "id": "m3"}},
                {"type": "message", "webhookEventId": "E4", "timestamp": now.0, "mode": "active",
                 "source": {"type": "group", "groupId": "G", "userId": "U1"}, "replyToken": "r4",
                 "message": {"type": "text", "id": "m4", "text": "halo"}},
                {"type": "follow", "webhookEventId": "E5", "timestamp": now.0, "mode": "active",
                 "source": {"type": "user", "userId": "U1"}, "replyToken": "r5"}
            ])),
            now,
        )
        .unwrap();
        let contents: Vec<_> = parsed.iter().map(|i| i.content.clone().unwrap()).collect();
        assert_eq!(
            contents,
            [
                InboundContent::Text("halo".into()),
                InboundContent::Payload("/help".into()),
                InboundContent::NonText,
            ]
        );
        assert_eq!(parsed[0].session.as_str(), "line:U1");
        assert_eq!(parsed[0].dedup_key.as_deref(), Some("line:E1"));
        assert_eq!(
            parsed[0].reply_to,
            ReplyTo::Line {
                user_id: "U1".into(),
                reply_token: Some("r1".into()),
                reply_until: Timestamp(now.0 - 1000).plus(REPLY_TOKEN_FRESH),
            }
        );
        assert!(parse(events(&json!([])), now).unwrap().is_empty());
    }

    #[test]
    fn choices_are_quick_replies_and_calls_carry_at_most_five_messages() {
        let mut messages: Vec<OutboundMessage> = (0..6)
            .map(|i| OutboundMessage {
                text: format!("pesan {i}"),
                buttons: vec![],
            })
            .collect();
        messages[5].buttons = vec![Button {
            title: "Menu".into(),
            payload: "/help".into(),
        }];
        let requests = render("U1", Some("r1"), Timestamp(5), &messages);
        assert_eq!(requests.len(), 2);
        assert_eq!(line(&requests[0]).messages.len(), 5);
        assert_eq!(line(&requests[0]).reply_token.as_deref(), Some("r1"));
        assert_eq!(
            line(&requests[1]).reply_token,
            None,
            "the token is used once"
        );
        assert_eq!(
            line(&requests[1]).messages[0]["quickReply"]["items"][0]["action"],
            json!({"type": "postback", "label": "Menu", "data": "/help", "displayText": "Menu"})
        );
        assert_ne!(line(&requests[0]).retry_key, line(&requests[1]).retry_key);
    }

    #[test]
    fn labels_longer_than_twenty_characters_fall_back_to_a_numbered_list() {
        let messages = [OutboundMessage {
            text: "Kirim kode ke mana?".into(),
            buttons: vec![
                Button {
                    title: "SMS 0812****7890".into(),
                    payload: "/otp_channel sms".into(),
                },
                Button {
                    title: "E-mail b***@example.com".into(),
                    payload: "/otp_channel email".into(),
                },
            ],
        }];
        let requests = render("U1", None, Timestamp(0), &messages);
        let object = &line(&requests[0]).messages[0];
        assert!(object.get("quickReply").is_none());
        assert_eq!(
            object["text"],
            "Kirim kode ke mana?\n\n1. SMS 0812****7890\n2. E-mail b***@example.com"
        );
    }

    #[test]
    fn retry_keys_are_version_4_uuids() {
        let key = retry_key();
        assert_eq!(key.len(), 36);
        assert_eq!(&key[14..15], "4");
        assert!(matches!(&key[19..20], "8" | "9" | "a" | "b"), "{key}");
    }
}
