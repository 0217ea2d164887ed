//! What each waiting state accepts as an answer to its own question, in the member's own words
//! (SPEC §5.1): a code channel, a card, what happens while a code is on its way or while the
//! member is on the password page. Readers work on
//! the concepts of `intents/lexicon/answers.toml` found in the message, never on raw text, and
//! answer `None` when the message is not an answer, so the state can read it as a request.

use super::state::{CardView, CodeChannel, MemberView};
use super::step::{Command, Message, Shape};
use crate::identity::OtpCode;
use crate::intent::Intent;
use crate::nlu::concepts::{Concept, Hit, Words};
use crate::nlu::entities::{EntityKind, EntityValue};

/// Digits in a one-time code (SPEC §3).
const CODE_DIGITS: usize = 6;

/// A channel named in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Code(CodeChannel),
    /// WhatsApp: not a channel codes are sent on.
    Whatsapp,
}

/// The channels the message names and does not negate. When some are named after a "via"
/// ("hp saya lowbat, kirim ke email aja"), only those count. A destination said to change
/// or fail near where it is named ("nomor hp saya sudah ganti", "hp lagi mati") is no
/// choice, unless the change is towards it ("ganti ke email").
pub fn named_channels(words: &Words) -> Vec<Channel> {
    let named = [
        (Concept::Sms, Channel::Code(CodeChannel::Sms)),
        (Concept::Email, Channel::Code(CodeChannel::Email)),
        (Concept::Whatsapp, Channel::Whatsapp),
    ];
    let affirmed: Vec<(Concept, Channel)> = named
        .into_iter()
        .filter(|(concept, _)| words.affirms(*concept))
        .collect();
    let directed: Vec<Channel> = affirmed
        .iter()
        .filter(|(concept, _)| words.directed(*concept))
        .map(|&(_, channel)| channel)
        .collect();
    if !directed.is_empty() {
        return directed;
    }
    affirmed
        .into_iter()
        .filter(|(concept, _)| !words.changed(*concept))
        .map(|(_, channel)| channel)
        .collect()
}

/// The one channel the message names, if it names exactly one.
pub fn named_channel(words: &Words) -> Option<Channel> {
    match named_channels(words)[..] {
        [channel] => Some(channel),
        _ => None,
    }
}

/// The answer to "SMS or e-mail?": a button, a channel in words, or a position ("yang
/// pertama") among `offered`, the channels in the order their buttons were shown.
pub fn channel_choice(message: &Message, offered: &[CodeChannel]) -> Option<Channel> {
    if let Some(Command::CodeChannel(channel)) = message.command {
        return Some(Channel::Code(channel));
    }
    named_channel(&message.words).or_else(|| {
        position(message, offered.len())
            .and_then(|i| offered.get(i))
            .map(|&c| Channel::Code(c))
    })
}

/// "yang gmail aja", "yang example.com": the e-mail address on its button named by its
/// domain (the button shows it, masked but for the domain). Not when the message negates.
pub fn names_email_domain(message: &Message, member: &MemberView) -> bool {
    const MIN_DOMAIN_NAME_CHARS: usize = 3;
    let Some(domain) = member
        .email
        .as_ref()
        .and_then(|email| email.as_str().rsplit_once('@'))
        .map(|(_, domain)| domain)
    else {
        return false;
    };
    let name = domain.split('.').next().unwrap_or_default();
    name.chars().count() >= MIN_DOMAIN_NAME_CHARS
        && !message.words.has(Concept::Negation)
        && message.words.typed.iter().any(|word| word == name)
}

/// A channel stated before it was asked ("kodenya kirim ke email aja", "kodenya sms aja"):
/// named together with a word of sending, a "via" or the code, so "lupa email" is no
/// preference.
pub fn preferred_channel(words: &Words) -> Option<CodeChannel> {
    if !(words.affirms(Concept::Send) || words.has(Concept::Via) || words.has(Concept::Code)) {
        return None;
    }
    match named_channel(words)? {
        Channel::Code(channel) => Some(channel),
        Channel::Whatsapp => None,
    }
}

/// Messages this short may name a position with a bare number ("pilihan 2 aja").
const MAX_TOKENS_WITH_A_NUMBERED_CHOICE: usize = 4;

/// A position in a list of `len` choices: "pertama", "yang kedua", "terakhir", or a single
/// digit in a short message ("pilihan 1 aja", "no 2").
fn position(message: &Message, len: usize) -> Option<usize> {
    let words = &message.words;
    let numbered = || {
        let digit = message.digits.parse::<usize>().ok()?;
        (message.digits.len() == 1 && words.tokens.len() <= MAX_TOKENS_WITH_A_NUMBERED_CHOICE)
            .then(|| digit.checked_sub(1))
            .flatten()
            .filter(|&i| i < len)
    };
    let ordinals = [
        (Concept::First, Some(0)),
        (Concept::Second, Some(1)),
        (Concept::Third, Some(2)),
        (Concept::Last, len.checked_sub(1)),
    ];
    let mut found = ordinals
        .into_iter()
        .filter(|(concept, _)| words.affirms(*concept));
    match (found.next(), found.next()) {
        (Some((_, index)), None) => index.filter(|&i| i < len),
        (None, _) => numbered(),
        _ => None,
    }
}

/// The answer to "which card?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardChoice {
    One(usize),
    All,
    /// "yang lain", "satunya": a card other than the one shown.
    Other,
}

/// A card named by button, number, employer, age ("yang lama", "yang sekarang") or position,
/// all of them, or "the other one".
pub fn card_choice(message: &Message, cards: &[CardView]) -> Option<CardChoice> {
    if let Some(Command::Card(n)) = message.command {
        return n
            .checked_sub(1)
            .filter(|&i| i < cards.len())
            .map(CardChoice::One);
    }
    if let Some(kpj) = message.valid(EntityValue::kpj) {
        return cards
            .iter()
            .position(|c| &c.kpj == kpj)
            .map(CardChoice::One);
    }
    let words = &message.words;
    if words.affirms(Concept::All) {
        return Some(CardChoice::All);
    }
    let by_employer = only_one(cards, |card| names_employer(words, card));
    let by_digits = only_one(cards, |card| names_number(&message.digits, card));
    let previous = words.affirms(Concept::Previous) || words.denies(Concept::Current);
    let current = words.affirms(Concept::Current) || words.denies(Concept::Previous);
    let age = match (previous, current) {
        (true, false) => Some(CardAge::Previous),
        (false, true) => Some(CardAge::Current),
        // "yang sekarang kak, kerjaan lama mah udah lewat": both ages named, the one picked
        // out with "yang" is the choice.
        (true, true) => picked_with_which(words),
        (false, false) => None,
    };
    let by_age =
        age.and_then(|age| only_one(cards, |card| card.current == (age == CardAge::Current)));
    // "yang satu lagi" holds a "satu" that is no position: the other card comes first.
    let other = words.affirms(Concept::Other).then_some(CardChoice::Other);
    by_employer
        .or(by_digits)
        .or(by_age)
        .map(CardChoice::One)
        .or(other)
        .or_else(|| position(message, cards.len()).map(CardChoice::One))
}

/// How old a card the member means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardAge {
    Current,
    Previous,
}

/// The age of card a "yang" ("the one that …") points at when a message names both: the
/// one of the two that follows a "yang", if only one does.
fn picked_with_which(words: &Words) -> Option<CardAge> {
    let after_which = |concept: Concept| {
        words.affirmed(concept).any(|h| {
            words
                .hits
                .iter()
                .any(|w| w.concept == Concept::Which && w.end == h.start)
        })
    };
    match (
        after_which(Concept::Current),
        after_which(Concept::Previous),
    ) {
        (true, false) => Some(CardAge::Current),
        (false, true) => Some(CardAge::Previous),
        _ => None,
    }
}

/// The index of the only card for which `test` holds.
fn only_one(cards: &[CardView], test: impl Fn(&CardView) -> bool) -> Option<usize> {
    let mut matching = cards.iter().enumerate().filter(|(_, c)| test(c));
    match (matching.next(), matching.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Whether the message names a distinctive word of the card's employer as typed ("maju",
/// "karya", or the name written as one word, "majubersama"); legal forms such as PT and CV
/// say nothing about which employer it is.
fn names_employer(words: &Words, card: &CardView) -> bool {
    const LEGAL_FORMS: [&str; 4] = ["pt", "cv", "tbk", "persero"];
    let employer = card.employer.to_lowercase();
    let distinctive: Vec<&str> = employer
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !LEGAL_FORMS.contains(w))
        .collect();
    let joined = distinctive.concat();
    words.typed.iter().any(|typed| {
        distinctive.contains(&typed.as_str()) || (distinctive.len() > 1 && *typed == joined)
    })
}

/// Digits that begin or end the card's number ("yang 9876", "akhiran 44"), at least two.
fn names_number(digits: &str, card: &CardView) -> bool {
    const MIN_DIGITS: usize = 2;
    let kpj = card.kpj.as_str();
    digits.len() >= MIN_DIGITS
        && digits.len() < kpj.len()
        && (kpj.starts_with(digits) || kpj.ends_with(digits))
}

/// What a message means while a code is on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhileWaiting {
    /// The code, typed with any separators or spread over spaces.
    Code(OtpCode),
    Resend,
    /// Send it to the other channel instead.
    Switch(CodeChannel),
    /// Asked for it on WhatsApp, which carries no codes.
    Whatsapp,
    /// "The code has not arrived."
    NotReceived,
    /// "ok", "bentar", "👍": the member is waiting too.
    Acknowledged,
}

/// Reads a message while waiting for the code sent to `current`.
pub fn while_waiting(message: &Message, current: CodeChannel) -> Option<WhileWaiting> {
    let words = &message.words;
    match message.command {
        Some(Command::ResendCode) => return Some(WhileWaiting::Resend),
        Some(Command::CodeChannel(channel)) => return Some(switch_or_resend(channel, current)),
        _ => {}
    }
    if let Some(code) = typed_code(message) {
        return Some(WhileWaiting::Code(code));
    }
    // "email aja kak, sms nya ga masuk2": of two channels named, the one not used yet.
    let named: Vec<Channel> = named_channels(words)
        .into_iter()
        .filter(|&c| c != Channel::Code(current))
        .collect();
    let asks_to_send = words.affirms(Concept::Send) || words.has(Concept::Via);
    match named[..] {
        [Channel::Code(channel)] if asks_to_send || named_channels(words).len() > 1 => {
            return Some(WhileWaiting::Switch(channel));
        }
        [Channel::Whatsapp] if asks_to_send => return Some(WhileWaiting::Whatsapp),
        _ => {}
    }
    // "ga usah kirim ulang kak, udah masuk", "jangan kirim lagi dulu, saya cek": no new code;
    // the member has one or is looking.
    if words.denies(Concept::Send) {
        return Some(WhileWaiting::Acknowledged);
    }
    let mentions_code = words.has(Concept::Code);
    if words.affirms(Concept::Send) && words.has(Concept::Again) {
        return Some(WhileWaiting::Resend);
    }
    if words.denies(Concept::Arrive) || is_empty_inbox(words) {
        return Some(WhileWaiting::NotReceived);
    }
    if asks_again(words) && mentions_code {
        return Some(WhileWaiting::Resend);
    }
    if *message.intent() == Intent::Acknowledge
        || message.shape == Shape::Emoji
        || goes_to_look(message)
    {
        return Some(WhileWaiting::Acknowledged);
    }
    None
}

/// "kode lagi dong", "udah dicek, kode lagi dong": another one. Not the "lagi" of "right
/// now" that stands before a verb of looking ("lg dicari kodenya", "lagi dicek").
fn asks_again(words: &Words) -> bool {
    words.affirmed(Concept::Again).any(|again| {
        !words
            .hits
            .iter()
            .any(|look| look.concept == Concept::Look && look.start == again.end)
    })
}

/// "smsnya kosong", "inbox masih sepi", "kodenya kosong": nothing where the code should be,
/// said shortly after naming it ("baterai hp kosong" and "sinyal lagi kosong, nanti sms nya
/// saya cek" are about something else).
fn is_empty_inbox(words: &Words) -> bool {
    const REACH: usize = 3;
    let names_the_inbox = |h: &Hit| {
        matches!(h.concept, Concept::Code | Concept::Email)
            || (h.concept == Concept::Sms && words.tokens[h.start..h.end] == ["sms"])
    };
    words.affirmed(Concept::Empty).any(|empty| {
        words
            .hits
            .iter()
            .any(|h| names_the_inbox(h) && h.end <= empty.start && empty.start - h.end < REACH)
    })
}

/// "oke bentar sy cek dulu", "otw buka email", "lg dicari kodenya": the member goes to look
/// for the code. Looking and nothing else (channels, the code, small words), or looking in a
/// message that asks for nothing ("bntr, hp nya lg dicas"). Never a question ("kodenya cari
/// dimana?"), a negation or an inability ("email saya ga bisa dibuka", "cari ga ketemu"),
/// nor a member about to stop ("tunggu tunggu, sy mau stop dulu").
fn goes_to_look(message: &Message) -> bool {
    const LOOKING: [Concept; 8] = [
        Concept::Look,
        Concept::Filler,
        Concept::Sms,
        Concept::Email,
        Concept::Code,
        Concept::Via,
        Concept::Again,
        Concept::Agree,
    ];
    const STOPPING_PLACES: usize = 2;
    let stopping = message
        .ranking
        .iter()
        .take(STOPPING_PLACES)
        .any(|score| matches!(score.name, Intent::Cancel | Intent::HumanAgent));
    let words = &message.words;
    let hedged = words.asks() || words.has(Concept::Negation) || words.has(Concept::Unable);
    words.affirms(Concept::Look)
        && !stopping
        && !hedged
        && (words.only(&LOOKING)
            || matches!(
                message.intent(),
                Intent::OutOfScope | Intent::Acknowledge | Intent::Thanks
            ))
}

fn switch_or_resend(channel: CodeChannel, current: CodeChannel) -> WhileWaiting {
    if channel == current {
        WhileWaiting::Resend
    } else {
        WhileWaiting::Switch(channel)
    }
}

/// What a chat message means while the member is on the password page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPage {
    /// Something that could be a password, typed into the chat anyway (never read).
    TypedPassword,
    /// "The link does not open", "kirim ulang link", "link expired": a new link.
    NewLink,
    /// "ok", "bentar", "👍": the member is on it.
    Acknowledged,
}

/// Reads a message while the member is on the password page.
pub fn while_on_page(message: &Message) -> Option<OnPage> {
    if message.secret.is_some() {
        return Some(OnPage::TypedPassword);
    }
    // "kirim ulang" is a resend whatever is waited for: here, of the link.
    if matches!(
        message.command,
        Some(Command::ResendLink | Command::ResendCode)
    ) {
        return Some(OnPage::NewLink);
    }
    let words = &message.words;
    // The only thing sent here is the link: any word about it, or about sending again, asks
    // for a new one ("linknya gak bisa dibuka", "link expired", "minta link baru").
    if words.has(Concept::Link)
        || (words.affirms(Concept::Send) && words.has(Concept::Again))
        || words.denies(Concept::Arrive)
    {
        return Some(OnPage::NewLink);
    }
    if *message.intent() == Intent::Acknowledge || message.shape == Shape::Emoji {
        return Some(OnPage::Acknowledged);
    }
    None
}

/// A code entity, or exactly six digits in a message that is otherwise no number ("1 2 3 4
/// 5 6", "kodenya 12 34 56"): a code typed digit by digit is still a code.
fn typed_code(message: &Message) -> Option<OtpCode> {
    if let Some(code) = message.valid(EntityValue::otp) {
        return Some(code.clone());
    }
    let other_number = message
        .entities
        .iter()
        .any(|e| e.is_valid() && e.kind() != EntityKind::Otp);
    if message.digits.len() != CODE_DIGITS || other_number {
        return None;
    }
    OtpCode::parse(&message.digits).ok()
}

/// "lupa", "lupa kak", "sy lupa": forgetting without saying what (SPEC §5.1 fragments).
pub fn is_forget_fragment(words: &Words) -> bool {
    words.has(Concept::Forget) && words.only(&[Concept::Forget, Concept::Filler])
}

/// A member asking about the KPJ who also says the card is lost, unknown or forgotten ("saya
/// tidak punya kartunya", "kartu hilang", "lupa nomor kpj"): besides where to find it, a person is offered.
pub fn lacks_card(intent: &Intent, words: &Words) -> bool {
    *intent == Intent::FaqFindKpj
        && [Concept::Negation, Concept::Change, Concept::Forget]
            .iter()
            .any(|&c| words.has(c))
}

/// A question the classifier was unsure of, asked while the member's numbers are asked for,
/// is about them when one of their FAQs ranks first by a clear margin ("Is it safe to share
/// my ID number here?" asks why the NIK is needed; "nik saya sudah ganti gimana?", torn
/// between that and updating data, is not).
pub fn question_about_the_numbers(message: &Message) -> Option<Intent> {
    const ABOUT_THE_NUMBERS: [Intent; 2] = [Intent::FaqWhyNik, Intent::FaqFindKpj];
    const MIN_MARGIN: f64 = 0.1;
    if !message.words.asks() {
        return None;
    }
    let top = message.ranking.first()?;
    let second = message.ranking.get(1).map_or(0.0, |s| s.confidence);
    (ABOUT_THE_NUMBERS.contains(&top.name) && top.confidence - second >= MIN_MARGIN)
        .then(|| top.name.clone())
}
