//! A member's message into the dialog's input: a button pressed or typed (its number or its
//! title), a password kept from the NLU, the NLU's parse with the message's digits and shape,
//! and the line the transcript keeps of it.

use super::history::HIDDEN_PASSWORD;
use super::{Engine, Input};
use crate::content::Content;
use crate::dialog::{Command, Message, Session, Shape};
use crate::nlu::IntentScore;
use crate::nlu::entities::Entity;
use crate::security::mask;
use crate::security::password::{self, SecretString};
use std::collections::HashMap;

/// How many digits of a message are kept for reading a code: a code has six.
const MAX_DIGITS_READ: usize = 32;

/// A member's message as read.
pub(super) struct Reading {
    /// What the dialog is given.
    pub(super) message: Message,
    /// The intent to report (`None` for passwords and buttons that are no intent).
    pub(super) intent: Option<IntentScore>,
    /// The entities found (empty for passwords and buttons).
    pub(super) entities: Vec<Entity>,
    /// The line the transcript keeps.
    pub(super) line: String,
}

impl Reading {
    /// A password: never reported, and kept only as `HIDDEN_PASSWORD`.
    fn password(message: Message) -> Reading {
        Reading {
            message,
            intent: None,
            entities: Vec::new(),
            line: HIDDEN_PASSWORD.to_string(),
        }
    }
}

impl Engine {
    /// Turns raw input into what the dialog, the report and the transcript take of it.
    pub(super) fn read(&self, session: &Session, input: &Input) -> Reading {
        match input {
            Input::Payload(payload) => match Command::from_payload(payload) {
                Some(command) => {
                    let intent = match &command {
                        Command::Intent(intent) => Some(IntentScore {
                            name: intent.clone(),
                            confidence: 1.0,
                        }),
                        _ => None,
                    };
                    let line = self.button_title(session, payload);
                    let message = Message {
                        command: Some(command),
                        ..Message::default()
                    };
                    Reading {
                        message,
                        intent,
                        entities: Vec::new(),
                        line,
                    }
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
                Reading::password(message)
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
                Reading::password(message)
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
                Reading {
                    message,
                    intent: Some(parse.intent),
                    entities: parse.entities,
                    line,
                }
            }
        }
    }

    /// The payload of the offered button whose number or title `text` is.
    fn typed_button(&self, session: &Session, text: &str) -> Option<String> {
        let buttons = self.offered(session.answer());
        crate::content::typed_choice(&buttons, text)
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
}

/// Whether the text has three or more digits outside the valid entities found in it.
fn has_stray_digits(text: &str, entities: &[Entity]) -> bool {
    let claimed = |i: usize| {
        entities
            .iter()
            .any(|e| e.is_valid() && (e.start..e.end).contains(&i))
    };
    text.chars()
        .enumerate()
        .filter(|&(i, c)| c.is_ascii_digit() && !claimed(i))
        .count()
        >= 3
}

/// Whether a text is words, only emoji (with their joiners and skin tones), or nothing to read
/// (punctuation, invisible characters).
fn shape_of(text: &str) -> Shape {
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
pub(super) fn usual_titles(content: &Content) -> HashMap<String, String> {
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

    #[test]
    fn emoji_and_punctuation_are_told_apart_from_words() {
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
}
