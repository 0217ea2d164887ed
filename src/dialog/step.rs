//! The dialog's transition function and its dispatch: `step(session, event, context)` returns
//! the next session, the replies and the effects. Pure: time, the fresh code and the server key
//! come in as values; look-ups go out as effects and their results come back as events. Each
//! waiting state first reads the message as an answer to its own question (`answers`), and
//! only then as anything else (`interrupt`). The flows live in `identity`, `code`, `password`
//! and `balance`.

use super::answers;
use super::balance;
use super::code;
use super::identity;
use super::keys::ResponseKey;
use super::outcome::{self, Ending, FlowOutcome};
use super::password;
use super::reply::{Choice, Effect, Reply, Value};
use super::state::{CodeChannel, Flow, Session, State, Topic};
use crate::clock::Timestamp;
use crate::content;
use crate::intent::Intent;
use crate::nlu::IntentScore;
use crate::nlu::concepts::{Concept, Words};
use crate::nlu::entities::{Entity, EntityKind, EntityValue};
use crate::security::lockout::Standing;
use crate::security::otp::ServerKey;
use crate::security::page_token::PageToken;
use crate::security::password::SecretString;

/// Consecutive fallbacks before handing over to a person.
const MAX_FALLBACKS: u8 = 2;
/// How sure the classifier must be of a typed cancel in the middle of a flow (genuine ones,
/// "gk jadi deh kak", "ora sido kak", measure 0.78 and more; misreadings 0.4–0.65).
const MID_FLOW_CANCEL_MIN_CONFIDENCE: f64 = 0.7;
/// A follow-up that stays on the topic is short: a longer message says what it is about.
const FOLLOW_UP_MAX_TOKENS: usize = 8;
/// How far down the classifier's ranking a follow-up's topic may be, and how likely at least.
const FOLLOW_UP_RANK: usize = 3;
const FOLLOW_UP_MIN_CONFIDENCE: f64 = 0.10;

/// Something the member asked for without words: a button, or a typed command phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/intent_name`: behave as if the NLU had read that intent.
    Intent(Intent),
    /// `/otp_channel sms|email`.
    CodeChannel(CodeChannel),
    /// `/card N` (1-based).
    Card(usize),
    /// `/resend_otp`.
    ResendCode,
    /// `/other_card`: the balance of another card, after one was shown.
    OtherCard,
    /// `/resend_link`: a new password-page link (the old one stops working).
    ResendLink,
}

impl Command {
    /// Reads a button payload; `None` for anything that is not a known command.
    pub fn from_payload(payload: &str) -> Option<Command> {
        let payload = payload.trim();
        let rest = payload.strip_prefix('/')?;
        let (name, argument) = match rest.split_once(' ') {
            Some((name, argument)) => (name, Some(argument.trim())),
            None => (rest, None),
        };
        match (name, argument) {
            ("otp_channel", Some("sms")) => Some(Command::CodeChannel(CodeChannel::Sms)),
            ("otp_channel", Some("email")) => Some(Command::CodeChannel(CodeChannel::Email)),
            ("card", Some(n)) => n.parse().ok().filter(|&n| n >= 1).map(Command::Card),
            ("resend_otp", None) => Some(Command::ResendCode),
            ("other_card", None) => Some(Command::OtherCard),
            ("resend_link", None) => Some(Command::ResendLink),
            (intent, None) if content::is_intent_name(intent) => {
                Some(Command::Intent(Intent::parse(intent)))
            }
            _ => None,
        }
    }
}

/// What a message is made of, for the rules about emoji and punctuation (SPEC §5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Shape {
    /// Letters or digits: something to read.
    #[default]
    Words,
    /// Only emoji and symbols ("👍", "🙏"): an acknowledgement.
    Emoji,
    /// Only punctuation ("??", "..."): nothing to read, and no reason to hand over.
    Punctuation,
}

/// A member's message as the dialog sees it.
#[derive(Debug, Default)]
pub struct Message {
    /// The NLU's intent (`None` for a button press).
    pub intent: Option<Intent>,
    /// The classifier's ranking, best first (for follow-ups on a topic).
    pub ranking: Vec<IntentScore>,
    /// A second request in the same message, or the request inside a complaint.
    pub also: Option<Intent>,
    /// Angry words or a complaint: empathy comes first.
    pub frustrated: bool,
    /// The normalised words and the readers' concepts in them.
    pub words: Words,
    pub shape: Shape,
    /// Every ASCII digit of the text in order (a code spread over spaces is still a code).
    pub digits: String,
    pub entities: Vec<Entity>,
    pub command: Option<Command>,
    /// Digits the entity extractor did not claim ("12345" when a KPJ was asked for).
    pub stray_digits: bool,
    /// The raw text, only when the state expects a password, or when it waits on the password
    /// page and the text could be one (then it is never read, only refused).
    pub secret: Option<SecretString>,
    /// In `ConfirmPassword`: the text matches the first entry's hash (checked by the engine,
    /// which alone may spend argon2 time).
    pub confirms_draft: bool,
}

impl Message {
    pub(super) fn intent(&self) -> &Intent {
        /// What a message is when nothing named an intent (a command without one).
        static NOTHING_NAMED: Intent = Intent::OutOfScope;
        match &self.command {
            Some(Command::Intent(intent)) => intent,
            _ => self.intent.as_ref().unwrap_or(&NOTHING_NAMED),
        }
    }

    /// The classifier's confidence in the message's intent (1 for a button or a rule).
    pub(super) fn confidence(&self) -> f64 {
        let intent = self.intent();
        self.ranking
            .iter()
            .find(|score| &score.name == intent)
            .map_or(1.0, |score| score.confidence)
    }

    /// The first valid value that `pick` takes: `message.valid(EntityValue::kpj)`.
    pub(super) fn valid<T>(&self, pick: fn(&EntityValue) -> Option<&T>) -> Option<&T> {
        self.entities.iter().find_map(|e| pick(&e.value))
    }

    /// Whether a value of `kind` was typed but is not a valid one.
    pub(super) fn invalid(&self, kind: EntityKind) -> bool {
        self.entities
            .iter()
            .any(|e| e.kind() == kind && !e.is_valid())
    }

    /// Whether this message may count towards the two-fallback hand-over: emoji and
    /// punctuation never do (SPEC §5.1).
    fn counts_as_words(&self) -> bool {
        self.shape == Shape::Words
    }
}

/// What happened.
#[derive(Debug)]
pub enum Event {
    /// The member wrote or pressed something.
    Message(Message),
    /// The result of a `LookUp…` effect.
    LookedUp(Option<super::MemberView>),
    /// The result of `Effect::HashPasswordDraft`: the first entry's argon2id PHC string.
    PasswordHashed(String),
    /// The member's look-up budget refused a `LookUp…` effect; nothing was looked up.
    LookUpRefused,
    /// The password page took a new password for the flow this session waits on; the engine
    /// checked it against the policy and hashed it.
    PasswordFromPage(PagePassword),
    /// The answer to `Effect::AdmitCode`: whether the member's code budget allows the code.
    CodeAdmission {
        admitted: bool,
        request: super::reply::CodeRequest,
    },
    /// The answer to `Effect::LoadCards`: the member's cards, primary first.
    CardsLoaded(Vec<super::state::CardView>),
    /// The code sent to `channel` could not be delivered after every retry (production
    /// code delivery); comes between the member's messages.
    CodeUndelivered { channel: CodeChannel },
}

/// A new password set on the password page: whose, for which flow, as an argon2id PHC string.
#[derive(Debug)]
pub struct PagePassword {
    pub member: crate::members::MemberId,
    pub flow: Flow,
    pub phc: String,
}

/// Where this session's member sets a new password (SPEC §6).
#[derive(Debug, Clone, Copy)]
pub enum PasswordEntry<'a> {
    /// Typed in the chat: the web widget's masked field (and the terminal chat).
    Chat,
    /// On the password page: a messaging platform keeps the chat's history, so a password typed
    /// there would stay in it. `fresh` is the token of the link, used if this step sends one.
    Page { fresh: &'a PageToken },
}

/// The values a step may use besides the session and the event.
pub struct Context<'a> {
    pub now: Timestamp,
    /// A fresh CSPRNG code, used if this step sends one.
    pub fresh_code: &'a str,
    pub key: &'a ServerKey,
    /// The member-wide standing (wrong codes, lockout) of the member this step is about, as
    /// the store holds it now: read before every step, so a lock made in another session or
    /// on another channel holds here at once. The default when no member is involved.
    pub standing: Standing,
    /// Where a new password is set in this session.
    pub password_entry: PasswordEntry<'a>,
}

/// The result of a step.
#[derive(Debug)]
pub struct Transition {
    pub session: Session,
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
    /// The intent the step acted on when it is not the NLU's reading of the message alone:
    /// a follow-up on the topic, or the request inside a complaint.
    pub understood: Option<Intent>,
    /// What the step did to the flows, for the metrics.
    pub outcomes: Vec<FlowOutcome>,
}

/// Advances the conversation by one event.
pub fn step(mut session: Session, event: Event, ctx: &Context) -> Transition {
    let mut out = Output::default();
    let state = std::mem::replace(&mut session.state, State::Idle);
    let was_on_page = state.awaits_password_page();
    let flow_before = state.flow();
    let next = match event {
        Event::Message(message) => {
            forget_stale_verification(&mut session, ctx.now);
            let expired = state.flow().is_some() && session.is_stale(ctx.now);
            session.last_activity = ctx.now;
            session.turns += 1;
            let counts = message.counts_as_words();
            let next = if expired {
                after_expiry(message, &mut session, &mut out, ctx)
            } else {
                on_message(state, message, &mut session, &mut out, ctx)
            };
            count_fallbacks(&mut session, &mut out, counts);
            next
        }
        Event::LookedUp(member) => identity::on_lookup(state, member, &mut out, ctx),
        Event::PasswordHashed(draft_phc) => password::on_draft_hashed(state, draft_phc, &mut out),
        Event::LookUpRefused => identity::on_lookup_refused(state, &mut out),
        Event::CardsLoaded(cards) => balance::on_cards_loaded(state, cards, &mut session, &mut out),
        Event::CodeUndelivered { channel } => code::on_undelivered(state, channel, &mut out),
        Event::CodeAdmission { admitted, request } => {
            code::on_admission(admitted, request, &mut out, ctx)
        }
        Event::PasswordFromPage(page) => password::on_page(state, page, &mut out),
    };
    // One home for ending the page's link: however the wait ends (the password set, a cancel,
    // another flow, expiry), the link stops working with it.
    if was_on_page && !next.awaits_password_page() {
        out.effects.push(Effect::WithdrawPasswordPage);
    }
    offer_next(&next, &mut session, &mut out);
    let outcomes = outcome::outcomes(flow_before, &next, out.ended, out.completed);
    session.state = next;
    Transition {
        session,
        replies: out.replies,
        effects: out.effects,
        understood: out.understood,
        outcomes,
    }
}

/// The verified member's record (identity, cards, balances) is kept only while it can be
/// used: at the first turn after the 10-minute window it is dropped from the session.
fn forget_stale_verification(session: &mut Session, now: Timestamp) {
    if session
        .verified
        .as_ref()
        .is_some_and(|v| !v.is_current(now))
    {
        session.verified = None;
    }
}

/// What one step says and does.
#[derive(Default)]
pub(super) struct Output {
    pub(super) replies: Vec<Reply>,
    pub(super) effects: Vec<Effect>,
    pub(super) understood: Option<Intent>,
    /// The flow this step completed, if any.
    pub(super) completed: Option<Flow>,
    /// Why this step ended whatever flow was in progress, when it ended it itself.
    pub(super) ended: Option<Ending>,
}

impl Output {
    pub(super) fn reply(&mut self, reply: Reply) {
        self.replies.push(reply);
    }

    /// Says `ending`'s words and records it as the reason a flow in progress ends (the
    /// first in precedence of a step's endings).
    pub(super) fn end(&mut self, ending: Ending) {
        self.reply(Reply::key(ending.key()));
        self.ended = Some(self.ended.map_or(ending, |before| before.min(ending)));
    }

    pub(super) fn said(&self, key: ResponseKey) -> bool {
        self.replies.iter().any(|r| r.is(key))
    }
}

/// Two fallbacks in a row add a hand-over; anything else understood resets the count, and
/// emoji or punctuation leave it as it is.
fn count_fallbacks(session: &mut Session, out: &mut Output, counts: bool) {
    if !counts {
        return;
    }
    if out.said(ResponseKey::Fallback) {
        session.fallbacks_in_a_row += 1;
        if session.fallbacks_in_a_row >= MAX_FALLBACKS {
            out.end(Ending::Handoff);
            session.fallbacks_in_a_row = 0;
        }
    } else {
        session.fallbacks_in_a_row = 0;
    }
}

/// When the conversation is back at idle with a second request pending, it is offered, unless
/// the first ended in a cancel, a hand-over or a refusal (then the member has other worries).
fn offer_next(next: &State, session: &mut Session, out: &mut Output) {
    if *next != State::Idle {
        return;
    }
    let Some(intent) = session.next.take() else {
        return;
    };
    if out.ended.is_some() {
        return;
    }
    out.reply(
        Reply::key(ResponseKey::OfferNext)
            .with_value("topic", Value::Title(intent.clone()))
            .with_choices(vec![Choice {
                label: ResponseKey::LabelTopic,
                values: vec![("topic", Value::Title(intent.clone()))],
                payload: format!("/{intent}"),
            }]),
    );
}

/// A flow left too long: say so and offer to start it again; a message that asks for
/// something else is then served from idle, anything else (a late KPJ, a late code, "sudah
/// kembali kak") only gets the notice — never a goodbye.
fn after_expiry(message: Message, session: &mut Session, out: &mut Output, ctx: &Context) -> State {
    // The notice's own buttons start each flow again.
    out.end(Ending::Expired);
    session.next = None;
    let intent = message.intent();
    let only_a_notice = matches!(
        intent,
        Intent::OutOfScope | Intent::Acknowledge | Intent::Goodbye | Intent::Thanks
    ) || !message.entities.is_empty()
        || matches!(message.command, Some(ref c) if !matches!(c, Command::Intent(_)));
    if only_a_notice {
        return State::Idle;
    }
    idle(message, session, out, ctx)
}

fn on_message(
    state: State,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    match state {
        // `LoadCards` is never stored (the cards come back within the turn that asked for
        // them); a message there can only follow a turn that failed, and starts afresh.
        State::Idle | State::LoadCards { .. } => idle(message, session, out, ctx),
        State::CollectKpjNik { .. } | State::CollectEmailKpj { .. } => {
            identity::collect(state, message, session, out, ctx)
        }
        State::ChooseCodeChannel { flow, member } => {
            code::choose_channel(flow, member, message, session, out, ctx)
        }
        State::AwaitCode { flow, member, code } => {
            code::await_code(flow, member, code, message, session, out, ctx)
        }
        State::NewPassword { .. } | State::ConfirmPassword { .. } => {
            password::collect(state, message, session, out, ctx)
        }
        State::AwaitPasswordPage { flow, member } => {
            password::await_page(flow, member, message, session, out, ctx)
        }
        State::ChooseCard { member } => balance::choose_card(member, message, session, out, ctx),
    }
}

/// Outside a flow: a follow-up on the last topic, an answer, or a flow to start. A salam is
/// answered first when the message asks for something else ("assalamualaikum, saya lupa
/// password jmo"); a greeting answers it itself.
fn idle(message: Message, session: &mut Session, out: &mut Output, ctx: &Context) -> State {
    if message.words.has(Concept::Salam) && *message.intent() != Intent::Greet {
        out.reply(Reply::key(ResponseKey::GreetSalam));
    }
    if let Some(state) = balance::follow_up(&message, session, out, ctx) {
        return state;
    }
    let follow_up = follow_up_intent(&message, session);
    out.understood.clone_from(&follow_up);
    let intent = follow_up.unwrap_or_else(|| message.intent().clone());
    if let Some(request) = comfort(&intent, &message, out) {
        out.understood = Some(request.clone());
        return serve(&request, message, session, out, ctx);
    }
    if message.frustrated && is_only_frustration(&intent) {
        return State::Idle;
    }
    if answers::is_forget_fragment(&message.words) {
        out.reply(Reply::key(ResponseKey::ClarifyForgot));
        return State::Idle;
    }
    let also = message.also.clone();
    let state = serve(&intent, message, session, out, ctx);
    if let Some(also) = also.filter(|also| *also != intent) {
        session.next = Some(also);
    }
    state
}

/// Serves one request from idle: starts its flow or answers it.
fn serve(
    intent: &Intent,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    if let Some(flow) = Flow::started_by(intent) {
        session.topic = None;
        return start_flow(flow, message, session, out, ctx);
    }
    answer(intent, &message, session, out);
    State::Idle
}

/// Empathy first for a frustrated member (SPEC §5.1). Returns the request to serve next: the
/// one inside a complaint; for a complaint without one, a person is offered instead.
fn comfort(intent: &Intent, message: &Message, out: &mut Output) -> Option<Intent> {
    if !message.frustrated {
        return None;
    }
    let empathy = Reply::key(ResponseKey::Empathy);
    if !is_only_frustration(intent) {
        out.reply(empathy);
        return None;
    }
    match &message.also {
        Some(request) => {
            out.reply(empathy);
            Some(request.clone())
        }
        None => {
            // Answered as a complaint, whatever the classifier made of it.
            out.understood = Some(Intent::Complaint);
            out.reply(empathy.with_choices(vec![human_choice()]));
            None
        }
    }
}

/// Whether a frustrated message asks for nothing the classifier could name: a complaint, or
/// angry words around something unclear (then empathy replaces the fallback).
fn is_only_frustration(intent: &Intent) -> bool {
    matches!(intent, Intent::Complaint | Intent::OutOfScope)
}

/// The button that asks for a person.
pub(super) fn human_choice() -> Choice {
    Choice {
        label: ResponseKey::LabelHuman,
        values: Vec::new(),
        payload: format!("/{}", Intent::HumanAgent),
    }
}

/// A short message right after an FAQ or a balance that says nothing else is read as a
/// follow-up: a question after an FAQ (see `stays_on_faq`), or an unsure message whose topic
/// ranks near the top (SPEC §5.1: "after jht_balance, a question about withdrawing it →
/// faq_jht_claim even without the word JHT").
fn follow_up_intent(message: &Message, session: &Session) -> Option<Intent> {
    if message.command.is_some() || message.words.tokens.len() > FOLLOW_UP_MAX_TOKENS {
        return None;
    }
    let question = message.words.asks();
    let topic = session.topic.as_ref()?;
    // "kalau hari sabtu buka?", "bunganya berapa?" right after an FAQ: the same topic,
    // however the classifier ranks the question on its own.
    if let Topic::Faq { intent } = topic
        && question
        && stays_on_faq(intent, message)
    {
        return Some(intent.clone());
    }
    if *message.intent() != Intent::OutOfScope {
        return None;
    }
    let related: Vec<&Intent> = match topic {
        Topic::Faq { intent } => vec![intent],
        Topic::Balance { .. } => vec![
            &Intent::FaqJhtClaim,
            &Intent::FaqJhtPayslip,
            &Intent::CheckJhtBalance,
        ],
    };
    let ranked = |score: &&IntentScore| related.contains(&&score.name);
    // A question right after a balance is about that balance: the likeliest of its topics
    // ("how do i withdraw it"); otherwise one of them must rank near the top.
    if question {
        return message
            .ranking
            .iter()
            .filter(ranked)
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
            .map(|score| score.name.clone());
    }
    message
        .ranking
        .iter()
        .take(FOLLOW_UP_RANK)
        .filter(ranked)
        .find(|score| score.confidence >= FOLLOW_UP_MIN_CONFIDENCE)
        .map(|score| score.name.clone())
}

/// Whether a short question right after the FAQ `topic` is about it: when the classifier
/// cannot place it, or reads it only as small talk without being sure ("minggu libur ya?",
/// "yang di bandung ada?" read as an acknowledgement or a call for the menu). A question it
/// reads as another request is that request. After the health agency's answer, a question
/// about a contact point that points back at it ("nomor telponnya?", "kantornya dmn?", "punya
/// wa gk mereka") is about that agency however the classifier reads it, unless it starts a
/// flow, cancels or names this agency: its number and offices are not ours.
fn stays_on_faq(topic: &Intent, message: &Message) -> bool {
    const SURE: f64 = 0.8;
    let intent = message.intent();
    let words = &message.words;
    let after_the_health_agency = *topic == Intent::FaqBpjsKesehatan;
    let about_their_contact = after_the_health_agency
        && words.has(Concept::Contact)
        && words.refers_back()
        && !words.has(Concept::Ours)
        && Flow::started_by(intent).is_none()
        && *intent != Intent::Cancel;
    let small_talk = matches!(
        intent,
        Intent::Help | Intent::Acknowledge | Intent::Greet | Intent::Goodbye | Intent::Thanks
    );
    // "oh beda ya, kalau jht saya gimana?" after the health agency's answer is about us.
    let turns_to_us = after_the_health_agency && words.has(Concept::Ours);
    about_their_contact
        || (!turns_to_us
            && (*intent == Intent::OutOfScope || (small_talk && message.confidence() < SURE)))
}

/// Answers an intent that starts no flow, and remembers FAQs as the topic.
fn answer(intent: &Intent, message: &Message, session: &mut Session, out: &mut Output) {
    let key = match (intent, message.shape) {
        (Intent::Cancel, _) => return out.end(Ending::Cancelled),
        (Intent::HumanAgent, _) => return out.end(Ending::Handoff),
        (Intent::OutOfScope, Shape::Emoji) => Some(ResponseKey::Acknowledged),
        _ => answer_key(intent),
    };
    if key == Some(ResponseKey::Greet) {
        out.reply(greeting(&message.words));
        return;
    }
    if intent.is_faq() {
        session.topic = Some(Topic::Faq {
            intent: intent.clone(),
        });
    }
    out.reply(key.map_or_else(|| Reply::answer(intent), Reply::key));
}

/// The greeting, with the salam answered when the member opened with one.
fn greeting(words: &Words) -> Reply {
    let salam = words.has(Concept::Salam).then_some(ResponseKey::GreetSalam);
    Reply::key(ResponseKey::Greet).with_value("salam", Value::Response(salam))
}

/// The dialog's own response that answers an intent outside a flow; `None` for intents the
/// engine has no special behaviour for (every FAQ, and any added to `intents/`), which answer
/// with their own response.
fn answer_key(intent: &Intent) -> Option<ResponseKey> {
    Some(match intent {
        Intent::Greet => ResponseKey::Greet,
        Intent::Thanks => ResponseKey::Thanks,
        Intent::Goodbye => ResponseKey::Goodbye,
        Intent::Help => ResponseKey::HelpMenu,
        Intent::Acknowledge => ResponseKey::Acknowledged,
        Intent::Complaint => ResponseKey::Empathy,
        Intent::OutOfScope => ResponseKey::Fallback,
        _ => return None,
    })
}

/// A message that does not answer the pending question: cancel, hand over, switch flows, or
/// answer the digression and ask the pending question again. An acknowledgement or a goodbye
/// keeps the flow open and says what tanya is waiting for.
pub(super) fn interrupt(
    state: State,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let raw = message.intent().clone();
    let intent = match comfort(&raw, &message, out) {
        Some(request) => {
            out.understood = Some(request.clone());
            request
        }
        None if message.frustrated && is_only_frustration(&raw) => {
            reask(&state, out);
            return state;
        }
        None => raw,
    };
    let asks_for_numbers = matches!(
        state,
        State::CollectKpjNik { .. } | State::CollectEmailKpj { .. }
    );
    let own = (asks_for_numbers && intent == Intent::OutOfScope)
        .then(|| answers::question_about_the_numbers(&message))
        .flatten();
    let intent = match own {
        Some(question) => {
            out.understood = Some(question.clone());
            question
        }
        None => intent,
    };
    match intent {
        // A cancel throws the flow's progress (and a code on its way) away, so a typed one
        // must be sure: "jadi gimana kak?" or "jadi kodenya ke sms ya?" lean towards cancel
        // for the classifier ("gak jadi") and are asked again instead; the question's own
        // Batal button is still there.
        Intent::Cancel
            if message.command.is_none()
                && message.confidence() < MID_FLOW_CANCEL_MIN_CONFIDENCE =>
        {
            reask(&state, out);
            state
        }
        Intent::Cancel => {
            session.next = None;
            out.end(Ending::Cancelled);
            State::Idle
        }
        Intent::HumanAgent => {
            out.end(Ending::Handoff);
            State::Idle
        }
        // The flow stays open for its 15 minutes: "bentar ya", "ok siap" say what tanya is
        // waiting for; a real goodbye is answered and the flow kept for a return.
        Intent::Acknowledge => {
            awaiting(&state, out);
            state
        }
        Intent::Goodbye => {
            out.reply(Reply::key(ResponseKey::Goodbye));
            state
        }
        Intent::OutOfScope if message.shape == Shape::Emoji => {
            awaiting(&state, out);
            state
        }
        _ => {
            if let Some(flow) = Flow::started_by(&intent) {
                if state.flow() != Some(flow) {
                    session.next = None;
                    return start_flow(flow, message, session, out, ctx);
                }
            } else if intent != Intent::OutOfScope {
                answer(&intent, &message, session, out);
                if answers::lacks_card(&intent, &message.words) {
                    out.end(Ending::Handoff);
                }
            }
            reask(&state, out);
            state
        }
    }
}

/// "I'm still waiting for …": what the state needs, and its buttons again where it has them.
fn awaiting(state: &State, out: &mut Output) {
    let what = match state {
        State::CollectKpjNik { .. } => Some(ResponseKey::AwaitingKpjNik),
        State::CollectEmailKpj { .. } => Some(ResponseKey::AwaitingEmailKpj),
        State::ChooseCodeChannel { .. } => Some(ResponseKey::AwaitingChannel),
        State::AwaitCode { .. } => Some(ResponseKey::AwaitingCode),
        State::ChooseCard { .. } => Some(ResponseKey::AwaitingCard),
        State::AwaitPasswordPage { .. } => Some(ResponseKey::AwaitingPasswordPage),
        State::Idle
        | State::LoadCards { .. }
        | State::NewPassword { .. }
        | State::ConfirmPassword { .. } => None,
    };
    match what {
        Some(what) => out.reply(
            Reply::key(ResponseKey::Awaiting).with_value("what", Value::Response(Some(what))),
        ),
        None => reask(state, out),
    }
    if matches!(
        state,
        State::ChooseCodeChannel { .. } | State::ChooseCard { .. }
    ) {
        reask(state, out);
    }
}

/// Asks the pending question of `state` again.
pub(super) fn reask(state: &State, out: &mut Output) {
    match state {
        State::Idle | State::LoadCards { .. } => {}
        State::CollectKpjNik { .. } | State::CollectEmailKpj { .. } => identity::reask(state, out),
        State::ChooseCodeChannel { member, .. } => out.reply(code::ask_channel(member)),
        State::AwaitCode { .. } => out.reply(Reply::key(ResponseKey::AskOtp)),
        State::NewPassword { .. } => out.reply(Reply::key(ResponseKey::AskNewPassword)),
        State::AwaitPasswordPage { .. } => out.reply(password::link_pending()),
        State::ConfirmPassword { .. } => out.reply(Reply::key(ResponseKey::AskPasswordConfirm)),
        State::ChooseCard { member } => out.reply(balance::ask_card(member)),
    }
}

/// Starts `flow` with whatever the message already gives.
pub(super) fn start_flow(
    flow: Flow,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    if flow == Flow::CheckJhtBalance
        && let Some(member) = balance::verified_member(session, ctx.now)
    {
        return balance::show(member, session, out);
    }
    identity::start(flow, message, session, out, ctx)
}
