//! What a conversation remembers between turns. Each `State` variant carries exactly what has
//! been collected so far, so impossible situations ("code verified but no member") cannot be
//! written down. The whole `Session` is serialised into the session store; its transcript
//! is stored apart from it, one `Exchange` per turn (see `store`), and the session only
//! counts them.

use crate::clock::Timestamp;
use crate::identity::{Email, Kpj, Nik, Phone};
use crate::intent::Intent;
use crate::members::MemberId;
use crate::security::otp::Challenge;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A flow left alone this long is over (SPEC §5, "session_expired"): the one home of that
/// rule, read by the dialog and by the engine's answer to a reloaded widget.
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// A member verified by a code may check balances again without a new code for this long.
pub const VERIFIED_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How a code reaches the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeChannel {
    Sms,
    Email,
}

impl CodeChannel {
    /// `sms` or `email`: the metrics label.
    pub fn name(self) -> &'static str {
        match self {
            CodeChannel::Sms => "sms",
            CodeChannel::Email => "email",
        }
    }
}

/// Bumped whenever `Session` changes shape; older records reset to idle instead of failing.
/// Version 3 moved the transcript out of the session record and keeps bot messages as
/// `Said` (key and values) instead of rendered text; version 4 stores it one `Exchange` per
/// turn instead of one record per line; version 5 keeps the latest exchanges in the session.
pub const SCHEMA_VERSION: u32 = 5;
/// How many exchanges (a message and its answers) a session keeps for the widget's history.
pub const HISTORY_LIMIT: u64 = 50;
/// How many of the latest exchanges the session itself carries; older ones move to the
/// transcript store. Most conversations are this short and never write a transcript record:
/// one sled record fewer per session, which is fewer pages held in memory and read at start.
pub const RECENT_EXCHANGES: usize = 4;

/// One of the three self-service flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    ForgotAccount,
    ForgotPassword,
    CheckJhtBalance,
}

impl Flow {
    /// The intent that starts this flow.
    pub fn intent(self) -> &'static str {
        match self {
            Flow::ForgotAccount => "forgot_account",
            Flow::ForgotPassword => "forgot_password",
            Flow::CheckJhtBalance => "check_jht_balance",
        }
    }

    /// The flow an intent named `intent` starts, if it is one of the three (also how a flow
    /// is stored by name).
    pub fn from_intent(intent: &str) -> Option<Flow> {
        [
            Flow::ForgotAccount,
            Flow::ForgotPassword,
            Flow::CheckJhtBalance,
        ]
        .into_iter()
        .find(|f| f.intent() == intent)
    }

    /// The flow `intent` starts, if it is one of the three.
    pub fn started_by(intent: &Intent) -> Option<Flow> {
        match intent {
            Intent::ForgotAccount => Some(Flow::ForgotAccount),
            Intent::ForgotPassword => Some(Flow::ForgotPassword),
            Intent::CheckJhtBalance => Some(Flow::CheckJhtBalance),
            _ => None,
        }
    }
}

/// One membership card as the dialog needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardView {
    pub kpj: Kpj,
    pub balance_rupiah: u64,
    /// ISO date, `2026-10-31`.
    pub as_of: String,
    /// The employer that registered the card, so the member can tell cards apart.
    #[serde(default)]
    pub employer: String,
    /// Whether the card is from the member's current job.
    #[serde(default)]
    pub current: bool,
}

/// What the dialog knows of a member found by a lookup (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub id: MemberId,
    /// The NIK the member typed, when the look-up was by KPJ + NIK.
    pub nik: Option<Nik>,
    /// The card the member named in the look-up.
    pub kpj: Kpj,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// The cards with their balances: empty until loaded after a valid code
    /// (`Effect::LoadCards`), since the directory gives them out only then.
    pub cards: Vec<CardView>,
    /// The JMO login: the e-mail, or the phone for members without one.
    pub login: String,
}

impl MemberView {
    /// Where a code to `channel` goes: the member's phone or e-mail (`None` without one).
    pub fn address(&self, channel: CodeChannel) -> Option<&str> {
        match channel {
            CodeChannel::Sms => self.phone.as_ref().map(Phone::as_str),
            CodeChannel::Email => self.email.as_ref().map(Email::as_str),
        }
    }

    /// That address as the bot shows it (SPEC §6); empty without one.
    pub fn masked_address(&self, channel: CodeChannel) -> String {
        match channel {
            CodeChannel::Sms => self.phone.as_ref().map(Phone::masked),
            CodeChannel::Email => self.email.as_ref().map(Email::masked),
        }
        .unwrap_or_default()
    }

    /// Personal strings a new password must not contain (SPEC §6).
    pub fn personal_strings(&self) -> Vec<&str> {
        let mut strings: Vec<&str> = self.nik.iter().map(Nik::as_str).collect();
        strings.push(self.kpj.as_str());
        strings.extend(self.cards.iter().map(|c| c.kpj.as_str()));
        if let Some(email) = &self.email {
            strings.push(email.as_str().split('@').next().unwrap_or_default());
        }
        strings
    }
}

/// A code on its way to the member: where it went and its (hashed) state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCode {
    pub channel: CodeChannel,
    pub challenge: Challenge,
}

/// The conversation's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// No flow in progress.
    Idle,
    /// forgot_account / check_jht_balance: collecting KPJ and NIK.
    CollectKpjNik {
        flow: Flow,
        kpj: Option<Kpj>,
        nik: Option<Nik>,
        /// Failed look-ups so far in this flow (the third hands over).
        failures: u8,
        /// Where the member said the code should go, before being asked (SPEC §5.1).
        #[serde(default)]
        prefer: Option<CodeChannel>,
    },
    /// forgot_password: collecting e-mail and KPJ.
    CollectEmailKpj {
        email: Option<Email>,
        kpj: Option<Kpj>,
        failures: u8,
    },
    /// Member found; choosing where the code goes.
    ChooseCodeChannel { flow: Flow, member: MemberView },
    /// Code sent; waiting for the member to type it.
    AwaitCode {
        flow: Flow,
        member: MemberView,
        code: PendingCode,
    },
    /// Code accepted; waiting for a new password.
    NewPassword { flow: Flow, member: MemberView },
    /// Code accepted on a messaging channel: the new password is set on the password page,
    /// whose link was sent (SPEC §6, §12), never typed into the chat.
    AwaitPasswordPage { flow: Flow, member: MemberView },
    /// forgot_account: waiting for the new password a second time. The first entry is kept
    /// only as an argon2id PHC string, as the directory keeps passwords: never the password,
    /// and never a fast hash that an offline guesser could test at HMAC speed.
    ConfirmPassword {
        member: MemberView,
        draft_phc: String,
    },
    /// check_jht_balance: the member is verified and their cards are being loaded (within
    /// the turn: `Effect::LoadCards` is answered by `Event::CardsLoaded`).
    LoadCards { member: MemberView },
    /// check_jht_balance with several cards: which one.
    ChooseCard { member: MemberView },
}

/// The name of a `State` without what it carries: the API's `state` field (SPEC §7), in
/// `snake_case`. Clients decide on `Expects`, never on these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    Idle,
    CollectKpjNik,
    CollectEmailKpj,
    ChooseCodeChannel,
    AwaitCode,
    NewPassword,
    AwaitPasswordPage,
    ConfirmPassword,
    LoadCards,
    ChooseCard,
}

impl State {
    /// Its stable name, the API's `state` field.
    pub fn name(&self) -> StateName {
        match self {
            State::Idle => StateName::Idle,
            State::CollectKpjNik { .. } => StateName::CollectKpjNik,
            State::CollectEmailKpj { .. } => StateName::CollectEmailKpj,
            State::ChooseCodeChannel { .. } => StateName::ChooseCodeChannel,
            State::AwaitCode { .. } => StateName::AwaitCode,
            State::NewPassword { .. } => StateName::NewPassword,
            State::AwaitPasswordPage { .. } => StateName::AwaitPasswordPage,
            State::ConfirmPassword { .. } => StateName::ConfirmPassword,
            State::LoadCards { .. } => StateName::LoadCards,
            State::ChooseCard { .. } => StateName::ChooseCard,
        }
    }

    /// The flow in progress, if any.
    pub fn flow(&self) -> Option<Flow> {
        match self {
            State::Idle => None,
            State::CollectKpjNik { flow, .. }
            | State::ChooseCodeChannel { flow, .. }
            | State::AwaitCode { flow, .. }
            | State::NewPassword { flow, .. }
            | State::AwaitPasswordPage { flow, .. } => Some(*flow),
            State::CollectEmailKpj { .. } => Some(Flow::ForgotPassword),
            State::ConfirmPassword { .. } => Some(Flow::ForgotAccount),
            State::LoadCards { .. } | State::ChooseCard { .. } => Some(Flow::CheckJhtBalance),
        }
    }

    /// The member this state is about, once one was found.
    pub fn member(&self) -> Option<&MemberView> {
        match self {
            State::ChooseCodeChannel { member, .. }
            | State::AwaitCode { member, .. }
            | State::NewPassword { member, .. }
            | State::AwaitPasswordPage { member, .. }
            | State::ConfirmPassword { member, .. }
            | State::LoadCards { member }
            | State::ChooseCard { member } => Some(member),
            State::Idle | State::CollectKpjNik { .. } | State::CollectEmailKpj { .. } => None,
        }
    }

    /// What the next message is expected to be, for the client's input field (SPEC §7).
    pub fn expects(&self) -> Expects {
        match self {
            State::AwaitCode { .. } => Expects::Code,
            State::NewPassword { .. } | State::ConfirmPassword { .. } => Expects::Password,
            _ => Expects::Text,
        }
    }

    /// Whether the next message is a password (never to be parsed, logged or kept).
    pub fn expects_password(&self) -> bool {
        self.expects() == Expects::Password
    }

    /// Whether the member is on the password page: a chat message that could be a password is
    /// then neither read nor kept (it is in the platform's history already, and must go no
    /// further).
    pub fn awaits_password_page(&self) -> bool {
        matches!(self, State::AwaitPasswordPage { .. })
    }

    /// The member whose password page for `flow` this state waits on, when it is `member`:
    /// what a page submission may finish (anything else, the link no longer opens).
    pub fn page_member(&self, member: &MemberId, flow: Flow) -> Option<&MemberView> {
        match self {
            State::AwaitPasswordPage {
                flow: waiting,
                member: view,
            } if *waiting == flow && view.id == *member => Some(view),
            _ => None,
        }
    }
}

/// What a client should offer for the next message (the chat API's `expects`): a plain
/// field, a numeric one-time-code field, or a masked password field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expects {
    Text,
    Code,
    Password,
}

/// What a turn with a `client_message_id` answered, so a retry with the same id gets the
/// same answer without being processed again. The bot's messages are those of exchange
/// number `exchange`, which the session still carries in `recent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answered {
    pub id: String,
    pub exchange: u64,
    /// The intent the turn reported, with its confidence.
    pub intent: Option<(Intent, f64)>,
    /// The state after the turn and what it expected next.
    pub state: StateName,
    pub expects: Expects,
}

/// What the conversation was last about, so a short follow-up stays on it (SPEC §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "topic", rename_all = "snake_case")]
pub enum Topic {
    /// An FAQ was answered.
    Faq { intent: Intent },
    /// A JHT balance was shown: card `shown` of the verified member.
    Balance { shown: usize },
}

/// A member who proved their identity with a code, for the 10-minute balance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub member: MemberView,
    pub at: Timestamp,
}

impl Verified {
    /// Whether the verification still lets the member in without a new code at `now`.
    pub fn is_current(&self, now: Timestamp) -> bool {
        now.since(self.at) < VERIFIED_WINDOW
    }
}

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    User,
    Bot,
}

/// A bot message as it was said: the response key, the text variant and the placeholder
/// values, already rendered to strings (and masked where needed). This, not the rendered
/// text, is what sessions and transcripts store: a few dozen bytes instead of a paragraph
/// and its buttons; the engine renders it again when it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    pub key: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pick: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<(String, String)>,
    /// Buttons added by the dialog (e.g. one per card), after the response's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<SaidChoice>,
}

/// A button added by the dialog: its title is the `label` response rendered with `values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaidChoice {
    pub label: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<(String, String)>,
    pub payload: String,
}

// serde's `skip_serializing_if` hands the field by reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One turn of the transcript as stored: what the member sent (a password already replaced
/// by `••••`, a button by its title) and what the bot answered. One record per turn rather
/// than per line: sled splits its pages by record count, so half the records is half the
/// pages, and each page costs memory for as long as the database is open.
/// (`engine::HistoryEntry` is how each line is shown.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub at: Timestamp,
    pub user: String,
    pub bot: Vec<Said>,
}

/// Everything stored for one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub version: u32,
    pub state: State,
    pub last_activity: Timestamp,
    pub verified: Option<Verified>,
    /// Consecutive `fallback` answers (two in a row hand over to a person).
    pub fallbacks_in_a_row: u8,
    /// Turns so far: picks among a response's text variants.
    pub turns: u64,
    /// Exchanges so far; the next one's number.
    pub exchanges: u64,
    /// The latest exchanges (at most `RECENT_EXCHANGES`), oldest first; the ones before
    /// them are in the transcript store.
    pub recent: Vec<Exchange>,
    /// What the last answers were about, for follow-ups.
    #[serde(default)]
    pub topic: Option<Topic>,
    /// A second request made in the same message as the first, offered when the first ends.
    #[serde(default)]
    pub next: Option<Intent>,
    /// The turns among `recent` that carried a `client_message_id`, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered: Vec<Answered>,
    /// Bot messages that arose between the member's messages (a code that could not be
    /// delivered) and could not be pushed to them: shown first in the next answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Said>,
}

impl Session {
    /// Whether the session was left alone for longer than `FLOW_TIMEOUT` by `now`: a flow
    /// still open in it is over, and the next message meets an idle dialog.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        now.since(self.last_activity) > FLOW_TIMEOUT
    }

    /// The bot's last answer: a button pressed (or its number typed) is looked up in it.
    pub fn answer(&self) -> &[Said] {
        self.recent.last().map_or(&[], |exchange| &exchange.bot)
    }

    /// A new, idle session.
    pub fn new(now: Timestamp) -> Session {
        Session {
            version: SCHEMA_VERSION,
            state: State::Idle,
            last_activity: now,
            verified: None,
            fallbacks_in_a_row: 0,
            turns: 0,
            exchanges: 0,
            recent: Vec::new(),
            topic: None,
            next: None,
            answered: Vec::new(),
            notices: Vec::new(),
        }
    }

    /// The answer of the turn that carried `id`, if the session still holds it.
    pub fn answered(&self, id: &str) -> Option<(&Answered, &Exchange)> {
        let answered = self.answered.iter().find(|answered| answered.id == id)?;
        let first_recent = self.exchanges.checked_sub(self.recent.len() as u64)?;
        let index = answered.exchange.checked_sub(first_recent)?;
        Some((answered, self.recent.get(index as usize)?))
    }
}
