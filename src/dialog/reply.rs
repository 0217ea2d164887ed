//! What the dialog says and does, as values: replies name a response key and its placeholder
//! values (the engine renders them from `intents/`), effects name the I/O the engine performs.

use super::keys::ResponseKey;
use super::state::{CodeChannel, Flow, MemberView, PendingCode};
use crate::clock::Timestamp;
use crate::identity::{Email, Kpj, Nik};
use crate::intent::Intent;
use crate::members::MemberId;
use crate::security::lockout::CodeEvent;
use crate::security::page_token::{PageToken, PageTokenHash};
use crate::security::password::SecretString;

/// A placeholder's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Literal text (already masked where needed).
    Text(String),
    /// The text of another response (e.g. `jht_multiple_cards_note`), or nothing.
    Response(Option<ResponseKey>),
    /// The texts of several responses, one per line (password rules).
    Lines(Vec<ResponseKey>),
    /// Response `key` rendered once per item with the item's values, one per line.
    Each {
        key: ResponseKey,
        items: Vec<Vec<(&'static str, String)>>,
    },
    /// How the content names an intent (its `title`), e.g. for a button offering it.
    Title(Intent),
    /// The password page's link for this token. A bearer secret: the engine puts it in the
    /// message sent, and only a placeholder where messages are kept (session, transcript).
    PageLink(PageToken),
}

/// A button whose title is rendered from a `label_*` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub label: ResponseKey,
    pub values: Vec<(&'static str, Value)>,
    pub payload: String,
}

/// Which response a reply is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKey {
    /// One of the dialog's own responses.
    Fixed(ResponseKey),
    /// The answer of an intent the dialog has no behaviour for (every FAQ, and any intent added
    /// to `intents/`): the response named after the intent.
    Answer(Intent),
}

impl ReplyKey {
    /// The response's name in `intents/`.
    pub fn as_str(&self) -> &str {
        match self {
            ReplyKey::Fixed(key) => key.as_str(),
            ReplyKey::Answer(intent) => intent.as_str(),
        }
    }
}

/// One bot message: a response key, its values, and buttons beyond the content's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub key: ReplyKey,
    pub values: Vec<(&'static str, Value)>,
    pub choices: Vec<Choice>,
}

impl Reply {
    /// A reply without placeholders or extra buttons.
    pub fn key(key: ResponseKey) -> Reply {
        Reply::new(ReplyKey::Fixed(key))
    }

    /// The answer of an intent without behaviour of its own: its response.
    pub fn answer(intent: &Intent) -> Reply {
        Reply::new(ReplyKey::Answer(intent.clone()))
    }

    fn new(key: ReplyKey) -> Reply {
        Reply {
            key,
            values: Vec::new(),
            choices: Vec::new(),
        }
    }

    /// Whether this is response `key`.
    pub fn is(&self, key: ResponseKey) -> bool {
        self.key == ReplyKey::Fixed(key)
    }

    /// Adds a literal placeholder value.
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.values.push((name, Value::Text(value.into())));
        self
    }

    /// Adds a placeholder value of another kind.
    #[must_use]
    pub fn with_value(mut self, name: &'static str, value: Value) -> Reply {
        self.values.push((name, value));
        self
    }

    /// Adds buttons.
    #[must_use]
    pub fn with_choices(mut self, choices: Vec<Choice>) -> Reply {
        self.choices = choices;
        self
    }

    /// Whether a value of this reply must not be kept as it is sent (a page link).
    pub fn carries_secret(&self) -> bool {
        self.values
            .iter()
            .any(|(_, value)| matches!(value, Value::PageLink(_)))
    }
}

/// A code the dialog wants to send, waiting for the member's budget to admit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    pub flow: Flow,
    pub member: MemberView,
    pub channel: CodeChannel,
    /// The code already on its way, for a resend (it stays valid when the resend is refused).
    pub previous: Option<PendingCode>,
}

/// I/O the engine performs on the dialog's behalf.
#[derive(Debug)]
pub enum Effect {
    /// Find the member holding card `kpj` with NIK `nik`; the result comes back as an event.
    LookUpByKpjNik { kpj: Kpj, nik: Nik },
    /// Find the member with login e-mail `email` holding card `kpj`; the result comes back.
    LookUpByEmailKpj { email: Email, kpj: Kpj },
    /// Ask the member's code budget (SPEC §6) for one code; the answer comes back as
    /// `Event::CodeAdmission` carrying `request` unchanged, so the dialog goes on from there.
    AdmitCode { request: CodeRequest },
    /// Load the verified member's cards and balances; they come back as
    /// `Event::CardsLoaded`.
    LoadCards { member_id: MemberId },
    /// Deliver a verification code.
    SendCode {
        member: MemberView,
        channel: CodeChannel,
        code: String,
    },
    /// Hash (argon2id) and store a new password.
    SetPassword {
        member_id: MemberId,
        password: SecretString,
    },
    /// Hash (argon2id) the first entry of a new password; the PHC string comes back as
    /// `Event::PasswordHashed`.
    HashPasswordDraft { password: SecretString },
    /// Store a new password already hashed (the confirmed draft).
    SetPasswordHash { member_id: MemberId, phc: String },
    /// Keep the password page's link (only its token's hash) for this session: it lets the
    /// holder set `member_id`'s password, finishing `flow`, until `expires_at`. The session's
    /// earlier link stops working.
    OfferPasswordPage {
        token: PageTokenHash,
        member_id: MemberId,
        flow: Flow,
        expires_at: Timestamp,
    },
    /// The session no longer waits on the password page: its link stops working.
    WithdrawPasswordPage,
    /// Record what happened to one of the member's codes in their member-wide standing
    /// (a wrong code, a right one, a lock), so every session of theirs sees it at once.
    Code {
        member_id: MemberId,
        event: CodeEvent,
    },
}
