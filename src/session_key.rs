//! The name of one conversation: `SessionKey`, the channel it is on and the channel's own id
//! for it. A vocabulary fact every layer reads (the stores key their records by it, the engine
//! and the channels ask which channel a session is on), so it names nothing in the crate.

use std::fmt;

use thiserror::Error;

/// The channel names of the messaging platforms (their keys are `telegram:<chat id>`, …).
pub const TELEGRAM: &str = "telegram";
pub const WHATSAPP: &str = "whatsapp";
pub const LINE: &str = "line";

/// The longest session key accepted, in bytes: platform ids are short, and a bound keeps
/// oversized ids from a webhook out of the database.
pub const MAX_SESSION_KEY_BYTES: usize = 200;

/// Why a session key was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionKeyError {
    /// The channel or the id was empty.
    #[error("session channel and id must not be empty")]
    Empty,
    /// The channel name contained `:`, which separates it from the id.
    #[error("session channel must not contain ':'")]
    ColonInChannel,
    /// The key contained a control character; NUL in particular separates a key from the
    /// sequence number in the outbox, so it must never occur inside one.
    #[error("session key must not contain control characters")]
    ControlCharacter,
    /// The key was longer than [`MAX_SESSION_KEY_BYTES`].
    #[error("session key is {len} bytes, more than {MAX_SESSION_KEY_BYTES}")]
    TooLong { len: usize },
}

/// Identifies one conversation: the channel and the channel's own id for it, such as
/// `web:3f2a…` or `telegram:12345`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(String);

impl SessionKey {
    /// The key of conversation `id` on `channel`.
    pub fn new(channel: &str, id: &str) -> Result<SessionKey, SessionKeyError> {
        if channel.is_empty() || id.is_empty() {
            return Err(SessionKeyError::Empty);
        }
        if channel.contains(':') {
            return Err(SessionKeyError::ColonInChannel);
        }
        if channel.chars().chain(id.chars()).any(char::is_control) {
            return Err(SessionKeyError::ControlCharacter);
        }
        let len = channel.len() + 1 + id.len();
        if len > MAX_SESSION_KEY_BYTES {
            return Err(SessionKeyError::TooLong { len });
        }
        Ok(SessionKey(format!("{channel}:{id}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The channel part (`web`, `telegram`, …).
    pub fn channel(&self) -> &str {
        self.0
            .split_once(':')
            .map_or(&self.0, |(channel, _)| channel)
    }

    /// The channel's own id of the conversation (a Telegram chat id, a WhatsApp or LINE user).
    pub fn id(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, id)| id)
    }

    /// Whether this is a conversation on a messaging platform (Telegram, WhatsApp, LINE): the
    /// platform keeps its history, so a new password is never typed there (SPEC §6).
    pub fn is_messaging(&self) -> bool {
        matches!(self.channel(), TELEGRAM | WHATSAPP | LINE)
    }

    /// The key as logs show it: the channel and a salted hash of the id (`web:3fa9c1d2e0b4`).
    /// Lines of one conversation can be followed, but logs never hold a web session's id (a
    /// bearer token) or a platform id (a WhatsApp id is a phone number).
    pub fn redacted(&self) -> RedactedKey<'_> {
        RedactedKey(self)
    }
}

/// A `SessionKey` as it may appear in logs (see `SessionKey::redacted`).
pub struct RedactedKey<'a>(&'a SessionKey);

impl fmt::Display for RedactedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sha2::Digest;
        static SALT: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
        let salt = SALT.get_or_init(rand::random);
        let digest = sha2::Sha256::new()
            .chain_update(salt)
            .chain_update(self.0.as_str().as_bytes())
            .finalize();
        write!(f, "{}:{}", self.0.channel(), hex::encode(&digest[..6]))
    }
}

impl fmt::Debug for RedactedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_key_joins_channel_and_id() {
        let key = SessionKey::new("telegram", "12345").expect("valid");
        assert_eq!(key.as_str(), "telegram:12345");
        assert_eq!((key.channel(), key.id()), ("telegram", "12345"));
        assert_eq!(key.to_string(), "telegram:12345");
    }

    #[test]
    fn session_keys_that_are_empty_too_long_or_ambiguous_are_refused() {
        assert_eq!(SessionKey::new("", "1"), Err(SessionKeyError::Empty));
        assert_eq!(SessionKey::new("web", ""), Err(SessionKeyError::Empty));
        assert_eq!(
            SessionKey::new("a:b", "1"),
            Err(SessionKeyError::ColonInChannel)
        );
        assert_eq!(
            SessionKey::new("web", "a\0b"),
            Err(SessionKeyError::ControlCharacter)
        );
        let longest = "x".repeat(MAX_SESSION_KEY_BYTES - 4);
        assert!(SessionKey::new("web", &longest).is_ok());
        assert_eq!(
            SessionKey::new("web", &format!("{longest}x")),
            Err(SessionKeyError::TooLong {
                len: MAX_SESSION_KEY_BYTES + 1
            })
        );
    }

    #[test]
    fn a_redacted_key_keeps_the_channel_and_hides_the_id() {
        let key = SessionKey::new("whatsapp", "6281234567890").expect("valid");
        let shown = key.redacted().to_string();
        assert!(shown.starts_with("whatsapp:"), "{shown}");
        assert!(!shown.contains("81234567890"), "{shown}");
        assert_eq!(shown, key.redacted().to_string(), "stable within a process");
        assert_ne!(
            shown,
            SessionKey::new("whatsapp", "6281234567891")
                .expect("valid")
                .redacted()
                .to_string()
        );
    }

    #[test]
    fn only_the_messaging_platforms_are_messaging() {
        for channel in [TELEGRAM, WHATSAPP, LINE] {
            assert!(SessionKey::new(channel, "1").expect("valid").is_messaging());
        }
        for channel in ["web", "cli", "code"] {
            assert!(!SessionKey::new(channel, "1").expect("valid").is_messaging());
        }
    }
}
