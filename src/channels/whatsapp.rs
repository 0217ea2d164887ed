//! WhatsApp Cloud API: the subscription handshake (`GET`, `hub.verify_token`), notifications
//! signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body under the app secret),
//! messages translated into engine input (text, interactive `button_reply` / `list_reply`,
//! non-text types; statuses ignored), and replies as interactive reply buttons (≤ 3), an
//! interactive list (≤ 10 rows) or plain text. Session key `whatsapp:<from>` (the phone
//! number), or `whatsapp:<from_user_id>` for a member who hides their number.

use super::delivery::SendError;
use super::{
    ChannelError, Channels, Inbound, InboundContent, OutboundMessage, ReplyTo, authorized,
    hmac_sha256_matches, member_text, numbered, retry_after_header, secret_matches, split_text,
    status_error, text_len, transport_error,
};
use crate::clock::Timestamp;
use crate::config::WhatsAppConfig;
use crate::store::SessionKey;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub const CHANNEL: &str = crate::session_key::WHATSAPP;
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// Longest text message body.
pub const MAX_TEXT: usize = 4096;
/// Longest body of an interactive message.
pub const MAX_INTERACTIVE_BODY: usize = 1024;
/// Reply buttons per message, and their longest title.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
const MAX_BUTTON_ID: usize = 256;
/// Rows of a list message, and their longest title.
pub const MAX_ROWS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
const MAX_ROW_ID: usize = 200;
/// Longest label of the button that opens a list.
const MAX_LIST_BUTTON: usize = 20;
/// Message types answered with `non_text`; others (reactions, system notices) are ignored.
const NON_TEXT_TYPES: &[&str] = &[
    "image",
    "audio",
    "voice",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "unsupported",
];

/// Who a reply goes to: the phone number when the member shows it (`to`), else their
/// business-scoped user id (`recipient`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Phone(String),
    UserId(String),
}

impl Recipient {
    /// The field of the send API that names this recipient, and its value.
    fn field(&self) -> (&'static str, &str) {
        match self {
            Recipient::Phone(phone) => ("to", phone),
            Recipient::UserId(id) => ("recipient", id),
        }
    }

    /// The conversation's id: phone numbers as before (existing sessions go on), user ids
    /// otherwise (a user id has a letter prefix, so the two never collide).
    fn session_id(&self) -> &str {
        match self {
            Recipient::Phone(id) | Recipient::UserId(id) => id,
        }
    }

    /// The recipient a conversation's id names (the inverse of `session_id`): digits are a
    /// phone number, anything else a user id.
    pub(super) fn from_session_id(id: &str) -> Recipient {
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            Recipient::Phone(id.to_string())
        } else {
            Recipient::UserId(id.to_string())
        }
    }
}

/// One call: `POST {api_base}/{phone_number_id}/messages` with this body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub phone_number_id: String,
    pub body: Value,
}

#[derive(Debug, Deserialize)]
pub(super) struct Notification {
    /// Required: a body without it is not a notification (400), even if signed.
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    value: Option<ChangeValue>,
}

#[derive(Debug, Deserialize)]
struct ChangeValue {
    metadata: Option<Metadata>,
    /// The senders; a member who hides their number is known by `user_id` only.
    #[serde(default)]
    contacts: Vec<Contact>,
    /// Absent for status updates (sent, delivered, read), which are ignored.
    #[serde(default)]
    messages: Vec<WaMessage>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    phone_number_id: String,
}

#[derive(Debug, Deserialize)]
struct Contact {
    user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WaMessage {
    /// The sender's phone number; absent for a member who uses a WhatsApp username and has
    /// hidden their number from businesses.
    from: Option<String>,
    /// The sender's business-scoped user id (BSUID, `ID.1234…`), present with or without
    /// the phone number.
    from_user_id: Option<String>,
    id: String,
    /// When the member sent it (unix seconds, as a string).
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    text: Option<TextBody>,
    interactive: Option<Interactive>,
    button: Option<TemplateButton>,
}

#[derive(Debug, Deserialize)]
struct TextBody {
    body: String,
}

#[derive(Debug, Deserialize)]
struct Interactive {
    button_reply: Option<ReplyId>,
    list_reply: Option<ReplyId>,
}

#[derive(Debug, Deserialize)]
struct ReplyId {
    id: String,
}

/// A quick-reply button of a template message.
#[derive(Debug, Deserialize)]
struct TemplateButton {
    payload: Option<String>,
    text: Option<String>,
}

/// `GET /webhooks/whatsapp`: Meta's subscription handshake.
pub async fn handshake(
    State(channels): State<Arc<Channels>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ChannelError> {
    let config = channels
        .whatsapp
        .as_ref()
        .ok_or(ChannelError::NotConfigured)?;
    let token_matches = query.get("hub.verify_token").is_some_and(|token| {
        secret_matches(
            token.as_bytes(),
            config.verify_token.expose_secret().as_bytes(),
        )
    });
    match (query.get("hub.mode").map(String::as_str), token_matches) {
        (Some("subscribe"), true) => {
            let challenge = query.get("hub.challenge").cloned().unwrap_or_default();
            Ok((
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                challenge,
            ))
        }
        _ => Err(ChannelError::Forbidden),
    }
}

/// `POST /webhooks/whatsapp`.
pub async fn webhook(
    State(channels): State<Arc<Channels>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ChannelError> {
    let config = channels
        .whatsapp
        .as_ref()
        .ok_or(ChannelError::NotConfigured)?;
    verify(config, &headers, &body)?;
    let notification: Notification = super::json(&body, CHANNEL)?;
    // One notification may carry several messages; each is processed (and deduplicated) on
    // its own, so a failure halfway is redelivered and finishes without repeating the rest.
    channels.process_all(parse(notification)?).await?;
    Ok(StatusCode::OK)
}

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`.
fn verify(config: &WhatsAppConfig, headers: &HeaderMap, body: &[u8]) -> Result<(), ChannelError> {
    let tag = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("sha256="))
        .and_then(|hex_tag| hex::decode(hex_tag).ok())
        .ok_or(ChannelError::Unauthorized)?;
    authorized(hmac_sha256_matches(
        config.app_secret.expose_secret().as_bytes(),
        body,
        &tag,
    ))
}

pub(super) fn parse(notification: Notification) -> Result<Vec<Inbound>, ChannelError> {
    let mut inbound = Vec::new();
    for value in notification
        .entry
        .into_iter()
        .flat_map(|entry| entry.changes)
        .filter_map(|change| change.value)
    {
        if value.messages.is_empty() {
            continue;
        }
        let phone_number_id = value
            .metadata
            .map(|m| m.phone_number_id)
            // Becomes part of the send URL: digits only.
            .filter(|id| !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(ChannelError::BadRequest(CHANNEL))?;
        // One sender per notification: their user id, when only the contact carries it.
        let contact_user_id = match value.contacts.as_slice() {
            [contact] => contact.user_id.clone(),
            _ => None,
        };
        for message in value.messages {
            let Some(content) = content(&message) else {
                continue;
            };
            let recipient = match (message.from, message.from_user_id) {
                (Some(phone), _) => Recipient::Phone(phone),
                (None, Some(user_id)) => Recipient::UserId(user_id),
                (None, None) => Recipient::UserId(
                    contact_user_id
                        .clone()
                        .ok_or(ChannelError::BadRequest(CHANNEL))?,
                ),
            };
            let session = SessionKey::new(CHANNEL, recipient.session_id())
                .map_err(|_| ChannelError::BadRequest(CHANNEL))?;
            let sent_at = message
                .timestamp
                .as_deref()
                .and_then(|seconds| seconds.parse::<u64>().ok())
                .map(|seconds| Timestamp(seconds.saturating_mul(1000)));
            inbound.push(Inbound {
                dedup_key: Some(format!("{CHANNEL}:{}", message.id)),
                session,
                content: Some(content),
                reply_to: ReplyTo::WhatsApp {
                    phone_number_id: phone_number_id.clone(),
                    to: recipient,
                },
                first: Vec::new(),
                sent_at,
            });
        }
    }
    Ok(inbound)
}

fn content(message: &WaMessage) -> Option<InboundContent> {
    match message.kind.as_str() {
        "text" => member_text(&message.text.as_ref()?.body).map(InboundContent::Text),
        "interactive" => {
            let interactive = message.interactive.as_ref()?;
            let reply = interactive
                .button_reply
                .as_ref()
                .or(interactive.list_reply.as_ref())?;
            member_text(&reply.id).map(InboundContent::Payload)
        }
        "button" => {
            let button = message.button.as_ref()?;
            match (
                button.payload.as_deref().and_then(member_text),
                &button.text,
            ) {
                (Some(payload), _) => Some(InboundContent::Payload(payload)),
                (None, Some(text)) => member_text(text).map(InboundContent::Text),
                (None, None) => None,
            }
        }
        kind if NON_TEXT_TYPES.contains(&kind) => Some(InboundContent::NonText),
        _ => None,
    }
}

/// Calls for the replies: reply buttons when they fit, else a list, else the text with a
/// numbered list of choices (split at the text limit).
pub fn render(
    phone_number_id: &str,
    to: &Recipient,
    messages: &[OutboundMessage],
    list_label: &str,
) -> Vec<super::Request> {
    let (field, id) = to.field();
    let base = || {
        let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual" });
        body[field] = json!(id);
        body
    };
    let mut requests = Vec::new();
    for message in messages {
        let bodies = match interactive(message, list_label) {
            Some(interactive) => {
                let mut body = base();
                body["type"] = json!("interactive");
                body["interactive"] = interactive;
                vec![body]
            }
            None => {
                let text = if message.buttons.is_empty() {
                    message.text.clone()
                } else {
                    numbered(&message.text, &message.buttons)
                };
                split_text(&text, MAX_TEXT)
                    .into_iter()
                    .map(|piece| {
                        let mut body = base();
                        body["type"] = json!("text");
                        body["text"] = json!({ "preview_url": false, "body": piece });
                        body
                    })
                    .collect()
            }
        };
        requests.extend(bodies.into_iter().map(|body| {
            super::Request::WhatsApp(Request {
                phone_number_id: phone_number_id.to_string(),
                body,
            })
        }));
    }
    requests
}

/// The `interactive` object for a message with buttons, when they fit WhatsApp's limits.
fn interactive(message: &OutboundMessage, list_label: &str) -> Option<Value> {
    let buttons = &message.buttons;
    let text = message.text.trim();
    let unique = buttons
        .iter()
        .map(|b| &b.payload)
        .collect::<HashSet<_>>()
        .len()
        == buttons.len();
    if buttons.is_empty() || !unique || text.is_empty() || text_len(text) > MAX_INTERACTIVE_BODY {
        return None;
    }
    let fits = |max_title: usize, max_id: usize| {
        buttons.iter().all(|b| {
            let title = b.title.trim();
            !title.is_empty()
                && text_len(title) <= max_title
                && !b.payload.is_empty()
                && b.payload.len() <= max_id
        })
    };
    if buttons.len() <= MAX_BUTTONS && fits(MAX_BUTTON_TITLE, MAX_BUTTON_ID) {
        let buttons: Vec<Value> = buttons
            .iter()
            .map(|b| json!({ "type": "reply", "reply": { "id": b.payload, "title": b.title.trim() } }))
            .collect();
        return Some(json!({
            "type": "button",
            "body": { "text": text },
            "action": { "buttons": buttons },
        }));
    }
    let label_fits = !list_label.is_empty() && text_len(list_label) <= MAX_LIST_BUTTON;
    if label_fits && buttons.len() <= MAX_ROWS && fits(MAX_ROW_TITLE, MAX_ROW_ID) {
        let rows: Vec<Value> = buttons
            .iter()
            .map(|b| json!({ "id": b.payload, "title": b.title.trim() }))
            .collect();
        return Some(json!({
            "type": "list",
            "body": { "text": text },
            "action": { "button": list_label, "sections": [{ "rows": rows }] },
        }));
    }
    None
}

/// Graph API error codes that mean "slow down" rather than "never".
const THROTTLING_CODES: &[i64] = &[4, 80_007, 130_429, 131_048, 131_056];

#[derive(Debug, Default, Deserialize)]
struct ErrorAnswer {
    error: Option<GraphError>,
}

#[derive(Debug, Deserialize)]
struct GraphError {
    code: Option<i64>,
}

/// Makes one call.
pub(super) async fn send(
    client: &reqwest::Client,
    config: &WhatsAppConfig,
    request: &Request,
) -> Result<(), SendError> {
    let url = format!("{}/{}/messages", config.api_base, request.phone_number_id);
    let response = client
        .post(url)
        .bearer_auth(config.token.expose_secret())
        .json(&request.body)
        .send()
        .await
        .map_err(transport_error)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let wait = retry_after_header(response.headers());
    let code = response
        .bytes()
        .await
        .ok()
        .and_then(|body| serde_json::from_slice::<ErrorAnswer>(&body).ok())
        .and_then(|answer| answer.error?.code);
    let detail = code.map(|c| format!("error code {c}")).unwrap_or_default();
    if code.is_some_and(|c| THROTTLING_CODES.contains(&c)) {
        return Err(SendError::Retry {
            after: wait,
            reason: format!("HTTP {}: {detail}", status.as_u16()),
        });
    }
    Err(status_error(status, wait, &detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Button;

    fn notification(messages: &Value) -> Notification {
        serde_json::from_value(json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550000000", "phone_number_id": "106540352242922"},
                "messages": messages
            }}]}]
        }))
        .unwrap()
    }

    fn buttons(n: usize, title: &str) -> Vec<Button> {
        (1..=n)
            .map(|i| Button {
                title: format!("{title}{i}"),
                payload: format!("/p{i}"),
            })
            .collect()
    }

    fn body(request: &super::super::Request) -> &Value {
        let super::super::Request::WhatsApp(request) = request else {
            panic!("whatsapp");
        };
        &request.body
    }

    #[test]
    fn messages_of_every_kind_become_engine_input() {
        let parsed = parse(notification(&json!([
            {"from": "628111", "id": "wamid.1", "timestamp": "1", "type": "text", "text": {"body": "halo"}},
            {"from": "628111", "id": "wamid.2", "timestamp": "1", "type": "interactive",
             "interactive": {"type": "button_reply", "button_reply": {"id": "/help", "title": "Menu"}}},
            {"from": "628111", "id": "wamid.3", "timestamp": "1", "type": "interactive",
             "interactive": {"type": "list_reply", "list_reply": {"id": "/forgot_password", "title": "x"}}},
            {"from": "628111", "id": "wamid.4", "timestamp": "1", "type": "sticker", "sticker": {"id": "s"}},
            {"from": "628111", "id": "wamid.5", "timestamp": "1", "type": "reaction", "reaction": {"emoji": "👍"}}
        ])))
        .unwrap();
        let contents: Vec<_> = parsed.iter().map(|i| i.content.clone().unwrap()).collect();
        assert_eq!(
            contents,
            [
                InboundContent::Text("halo".into()),
                InboundContent::Payload("/help".into()),
                InboundContent::Payload("/forgot_password".into()),
                InboundContent::NonText,
            ]
        );
        assert_eq!(parsed[0].session.as_str(), "whatsapp:628111");
        assert_eq!(parsed[0].dedup_key.as_deref(), Some("whatsapp:wamid.1"));
        assert_eq!(
            parsed[0].reply_to,
            ReplyTo::WhatsApp {
                phone_number_id: "106540352242922".into(),
                to: Recipient::Phone("628111".into())
            }
        );
    }

    #[test]
    fn a_member_without_a_visible_number_is_served_by_user_id() {
        let notification: Notification = serde_json::from_value(json!({
            "entry": [{"changes": [{"value": {
                "metadata": {"phone_number_id": "1"},
                "contacts": [{"profile": {"name": "Budi"}, "user_id": "ID.1502576394655843"}],
                "messages": [
                    {"from_user_id": "ID.1502576394655843", "id": "wamid.1",
                        "timestamp": "1700000000", "type": "text", "text": {"body": "halo"}},
                    {"id": "wamid.2", "type": "text", "text": {"body": "lagi"}}
                ]
            }}]}]
        }))
        .unwrap();
        let parsed = parse(notification).unwrap();
        assert_eq!(parsed.len(), 2);
        for inbound in &parsed {
            assert_eq!(inbound.session.as_str(), "whatsapp:ID.1502576394655843");
            assert_eq!(
                inbound.reply_to,
                ReplyTo::WhatsApp {
                    phone_number_id: "1".into(),
                    to: Recipient::UserId("ID.1502576394655843".into())
                }
            );
        }
        assert_eq!(parsed[0].sent_at, Some(Timestamp(1_700_000_000_000)));
        let message = OutboundMessage {
            text: "Halo".into(),
            buttons: Vec::new(),
        };
        let calls = render("1", &Recipient::UserId("ID.15".into()), &[message], "");
        assert_eq!(body(&calls[0])["recipient"], "ID.15");
        assert!(body(&calls[0]).get("to").is_none());
    }

    #[test]
    fn statuses_are_ignored() {
        let statuses: Notification = serde_json::from_value(json!({
            "entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "1"},
                "statuses": [{"id": "wamid.x", "status": "read"}]}}]}]
        }))
        .unwrap();
        assert!(parse(statuses).unwrap().is_empty());
    }

    #[test]
    fn up_to_three_short_choices_are_buttons_then_a_list_then_numbered_text() {
        let render_one = |buttons: Vec<Button>| {
            let message = OutboundMessage {
                text: "Pilih".into(),
                buttons,
            };
            render(
                "1",
                &Recipient::Phone("628".into()),
                &[message],
                "Pilih menu",
            )
        };
        let three = render_one(buttons(3, "B"));
        assert_eq!(body(&three[0])["interactive"]["type"], "button");
        assert_eq!(
            body(&three[0])["interactive"]["action"]["buttons"][2]["reply"],
            json!({"id": "/p3", "title": "B3"})
        );
        let four = render_one(buttons(4, "B"));
        assert_eq!(body(&four[0])["interactive"]["type"], "list");
        assert_eq!(
            body(&four[0])["interactive"]["action"]["button"],
            "Pilih menu"
        );
        let long_title = render_one(buttons(2, "E-mail b***@example.com"));
        assert_eq!(body(&long_title[0])["interactive"]["type"], "list");
        let eleven = render_one(buttons(11, "B"));
        assert_eq!(body(&eleven[0])["type"], "text");
        assert!(
            body(&eleven[0])["text"]["body"]
                .as_str()
                .unwrap()
                .ends_with("\n11. B11")
        );
    }
}
