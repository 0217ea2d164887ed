//! Replies into messages: what a reply says (`Said`, its values rendered, a page link shown or
//! hidden), and its text and buttons from the content.

use super::history::HIDDEN_PASSWORD;
use super::{Engine, OutgoingMessage};
use crate::content::Button;
use crate::dialog::keys::ResponseKey;
use crate::dialog::state::{Said, SaidChoice};
use crate::dialog::{Reply, Session, Value};

/// Whether a rendered reply shows the password page's link or hides it: the message sent
/// shows it, what sessions and transcripts keep never does (it opens the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Links {
    Shown,
    Hidden,
}

impl Engine {
    /// A turn's answer: the notices kept for this session (a code that could not be
    /// delivered) first, then the replies; what the session keeps (page links hidden) and
    /// the messages to send (a page link shown, to the member only).
    pub(super) fn answer(
        &self,
        session: &mut Session,
        replies: &[Reply],
    ) -> (Vec<Said>, Vec<OutgoingMessage>) {
        let pick = session.turns as usize;
        let mut answer: Vec<Said> = std::mem::take(&mut session.notices);
        let mut messages: Vec<OutgoingMessage> =
            answer.iter().map(|said| self.render_said(said)).collect();
        for reply in replies {
            let kept = self.said(reply, pick, Links::Hidden);
            messages.push(if reply.carries_secret() {
                self.render_said(&self.said(reply, pick, Links::Shown))
            } else {
                self.render_said(&kept)
            });
            answer.push(kept);
        }
        (answer, messages)
    }

    /// What a reply says, with its placeholder values rendered to strings (a page link shown
    /// or hidden, see `Links`); a key without a template (a content intent added without an
    /// answer) falls back to `fallback`.
    pub(super) fn said(&self, reply: &Reply, pick: usize, links: Links) -> Said {
        let key = if self.content.response(reply.key.as_str()).is_some() {
            reply.key.as_str()
        } else {
            ResponseKey::Fallback.as_str()
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
                    label: choice.label.as_str().to_string(),
                    values: values(&choice.values),
                    payload: choice.payload.clone(),
                })
                .collect(),
        }
    }

    /// The message `said` stands for: its text and buttons from the content.
    pub(super) fn render_said(&self, said: &Said) -> OutgoingMessage {
        OutgoingMessage {
            key: said.key.clone(),
            text: self.render_text(&said.key, said.pick, &borrowed(&said.values)),
            buttons: self.buttons(said),
        }
    }

    /// The buttons of `said`: the response's own, then the dialog's choices (the text is not
    /// rendered, for look-ups that need only the buttons).
    pub(super) fn buttons(&self, said: &Said) -> Vec<Button> {
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
    pub(super) fn offered(&self, answer: &[Said]) -> Vec<Button> {
        answer
            .iter()
            .rev()
            .map(|said| self.buttons(said))
            .find(|buttons| !buttons.is_empty())
            .unwrap_or_default()
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
            Value::Response(Some(key)) => self.render_text(key.as_str(), pick, &[]),
            Value::Lines(keys) => keys
                .iter()
                .map(|key| format!("• {}", self.render_text(key.as_str(), 0, &[])))
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Each { key, items } => items
                .iter()
                .map(|values| {
                    let values: Vec<(&str, &str)> =
                        values.iter().map(|(n, v)| (*n, v.as_str())).collect();
                    self.render_text(key.as_str(), 0, &values)
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Title(intent) => self.content.intent_title(intent.as_str()).to_string(),
        }
    }

    pub(super) fn render_text(&self, key: &str, pick: usize, values: &[(&str, &str)]) -> String {
        self.content
            .response(key)
            .map(|t| t.render(pick, values).trim().to_string())
            .unwrap_or_default()
    }
}

/// Placeholder values as `render_text` takes them.
fn borrowed(values: &[(String, String)]) -> Vec<(&str, &str)> {
    values
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}
