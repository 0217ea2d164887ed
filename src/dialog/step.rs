//! The dialog's transition function: `step(session, event, context)` returns the next session,
//! the replies and the effects. Pure: time, the fresh code and the server key come in as
//! values; look-ups go out as effects and their results come back as events.

use super::format;
use super::reply::{Choice, Effect, Reply, Value};
use super::state::{
    CardView, CodeChannel, Flow, MemberView, PendingCode, Session, State, Verified,
};
use crate::clock::Timestamp;
use crate::identity::{Email, Kpj, Nik};
use crate::limits::{Attempt, Gate};
use crate::nlu::entities::{Entity, EntityKind};
use crate::security::mask;
use crate::security::otp::{self, Challenge, ServerKey, Verdict};
use crate::security::password::{self, SecretString};
use std::borrow::Cow;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// A flow left alone this long is over (SPEC §5, "session_expired").
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// A member verified by a code may check balances again without a new code for this long.
pub const VERIFIED_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Failed look-ups in one flow before handing over to a person.
const MAX_LOOKUP_FAILURES: u8 = 3;
/// Consecutive fallbacks before handing over to a person.
const MAX_FALLBACKS: u8 = 2;
/// Fingerprint purpose for the first entry of a new password.
const PASSWORD_FINGERPRINT: &[u8] = b"tanya.password-confirmation";

/// Something the member asked for without words: a button, or a typed command phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/intent_name`: behave as if the NLU had read that intent.
    Intent(String),
    /// `/otp_channel sms|email`.
    CodeChannel(CodeChannel),
    /// `/card N` (1-based).
    Card(usize),
    /// `/resend_otp`.
    ResendCode,
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
            (intent, None) if is_intent_name(intent) => Some(Command::Intent(intent.to_string())),
            _ => None,
        }
    }
}

fn is_intent_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A member's message as the dialog sees it.
#[derive(Debug, Default)]
pub struct Message {
    /// The NLU's intent (`None` for a button press).
    pub intent: Option<String>,
    pub entities: Vec<Entity>,
    pub command: Option<Command>,
    /// Digits the entity extractor did not claim ("12345" when a KPJ was asked for).
    pub stray_digits: bool,
    /// The message is only a small number ("2"): a choice typed instead of pressed.
    pub typed_choice: Option<usize>,
    /// The raw text, only when the state expects a password.
    pub secret: Option<SecretString>,
}

impl Message {
    fn intent(&self) -> &str {
        match &self.command {
            Some(Command::Intent(name)) => name,
            _ => self.intent.as_deref().unwrap_or(crate::nlu::OUT_OF_SCOPE),
        }
    }

    fn valid(&self, kind: EntityKind) -> Option<&str> {
        self.entities
            .iter()
            .find(|e| e.kind == kind && e.problem.is_none())
            .map(|e| e.value.as_str())
    }

    fn invalid(&self, kind: EntityKind) -> bool {
        self.entities
            .iter()
            .any(|e| e.kind == kind && e.problem.is_some())
    }
}

/// What happened.
#[derive(Debug)]
pub enum Event {
    /// The member wrote or pressed something.
    Message(Message),
    /// The result of a `LookUp…` effect.
    LookedUp(Option<MemberView>),
}

/// The values a step may use besides the session and the event.
pub struct Context<'a> {
    pub now: Timestamp,
    /// A fresh CSPRNG code, used if this step sends one.
    pub fresh_code: &'a str,
    pub key: &'a ServerKey,
    /// The per-member limits on look-ups and codes (SPEC §6), asked before each.
    pub gate: &'a dyn Gate,
}

/// The result of a step.
#[derive(Debug)]
pub struct Transition {
    pub session: Session,
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
}

/// Advances the conversation by one event.
pub fn step(mut session: Session, event: Event, ctx: &Context) -> Transition {
    let mut out = Output::default();
    let state = std::mem::replace(&mut session.state, State::Idle);
    let next = match event {
        Event::Message(message) => {
            let expired =
                state != State::Idle && ctx.now.since(session.last_activity) > FLOW_TIMEOUT;
            session.last_activity = ctx.now;
            session.turns += 1;
            let next = if expired {
                out.reply(Reply::key("session_expired"));
                after_expiry(message, &mut session, &mut out, ctx)
            } else {
                on_message(state, message, &mut session, &mut out, ctx)
            };
            count_fallbacks(&mut session, &mut out);
            next
        }
        Event::LookedUp(member) => on_lookup(state, member, &mut session, &mut out, ctx),
    };
    session.state = next;
    Transition {
        session,
        replies: out.replies,
        effects: out.effects,
    }
}

#[derive(Default)]
struct Output {
    replies: Vec<Reply>,
    effects: Vec<Effect>,
}

impl Output {
    fn reply(&mut self, reply: Reply) {
        self.replies.push(reply);
    }
}

/// Two fallbacks in a row add a hand-over; anything else resets the count.
fn count_fallbacks(session: &mut Session, out: &mut Output) {
    if out.replies.iter().any(|r| r.key == "fallback") {
        session.fallbacks_in_a_row += 1;
        if session.fallbacks_in_a_row >= MAX_FALLBACKS {
            out.reply(Reply::key("handoff"));
            session.fallbacks_in_a_row = 0;
        }
    } else {
        session.fallbacks_in_a_row = 0;
    }
}

/// After an expired flow, a message that asks for something is served from idle; anything
/// else (a late KPJ, a late code) only gets the expiry notice.
fn after_expiry(message: Message, session: &mut Session, out: &mut Output, ctx: &Context) -> State {
    if message.intent() == crate::nlu::OUT_OF_SCOPE || !message.entities.is_empty() {
        return State::Idle;
    }
    on_message(State::Idle, message, session, out, ctx)
}

fn on_message(
    state: State,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    match state {
        State::Idle => idle(message, session, out, ctx),
        State::CollectKpjNik {
            flow,
            kpj,
            nik,
            failures,
        } => collect_kpj_nik(flow, kpj, nik, failures, message, false, session, out, ctx),
        State::CollectEmailKpj {
            email,
            kpj,
            failures,
        } => collect_email_kpj(email, kpj, failures, message, false, session, out, ctx),
        State::ChooseCodeChannel { flow, member } => {
            choose_code_channel(flow, member, message, session, out, ctx)
        }
        State::AwaitCode { flow, member, code } => {
            await_code(flow, member, code, message, session, out, ctx)
        }
        State::NewPassword { flow, member } => {
            new_password(flow, member, message, session, out, ctx)
        }
        State::ConfirmPassword {
            member,
            fingerprint,
        } => confirm_password(member, fingerprint, message, session, out, ctx),
        State::ChooseCard { member } => choose_card(member, message, session, out, ctx),
    }
}

/// Outside a flow: answer, or start a flow.
fn idle(message: Message, session: &mut Session, out: &mut Output, ctx: &Context) -> State {
    let intent = message.intent().to_string();
    if let Some(flow) = Flow::from_intent(&intent) {
        return start_flow(flow, message, session, out, ctx);
    }
    out.reply(Reply::key(answer_key(&intent)));
    State::Idle
}

/// The response that answers an intent outside a flow. Intents the engine has no special
/// behaviour for (every FAQ, and any added to `intents/`) answer with their own name.
fn answer_key(intent: &str) -> Cow<'static, str> {
    let key = match intent {
        "greet" => "greet",
        "thanks" => "thanks",
        "goodbye" => "goodbye",
        "help" => "help_menu",
        "cancel" => "cancelled",
        "human_agent" => "handoff",
        crate::nlu::OUT_OF_SCOPE => "fallback",
        other => return Cow::Owned(other.to_string()),
    };
    Cow::Borrowed(key)
}

/// A message that does not answer the pending question: cancel, hand over, switch flows, or
/// answer the digression and ask the pending question again.
fn interrupt(
    state: State,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let intent = message.intent().to_string();
    match intent.as_str() {
        "cancel" => {
            out.reply(Reply::key("cancelled"));
            State::Idle
        }
        "human_agent" => {
            out.reply(Reply::key("handoff"));
            State::Idle
        }
        // A goodbye mid-flow keeps the flow: the member may come back within its 15 minutes
        // (and the NLU sometimes reads "bentar ya" as a goodbye).
        "goodbye" => {
            out.reply(Reply::key("goodbye"));
            state
        }
        _ => {
            if let Some(flow) = Flow::from_intent(&intent) {
                if current_flow(&state) != Some(flow) {
                    return start_flow(flow, message, session, out, ctx);
                }
            } else if intent != crate::nlu::OUT_OF_SCOPE {
                out.reply(Reply::key(answer_key(&intent)));
            }
            reask(&state, out);
            state
        }
    }
}

fn current_flow(state: &State) -> Option<Flow> {
    state.flow()
}

/// Asks the pending question of `state` again.
fn reask(state: &State, out: &mut Output) {
    match state {
        State::Idle => {}
        State::CollectKpjNik { kpj, nik, .. } => {
            out.reply(Reply::key(ask_kpj_nik_key(kpj.is_some(), nik.is_some())))
        }
        State::CollectEmailKpj { email, kpj, .. } => out.reply(Reply::key(ask_email_kpj_key(
            email.is_some(),
            kpj.is_some(),
        ))),
        State::ChooseCodeChannel { member, .. } => out.reply(ask_code_channel(member)),
        State::AwaitCode { .. } => out.reply(Reply::key("ask_otp")),
        State::NewPassword { .. } => out.reply(Reply::key("ask_new_password")),
        State::ConfirmPassword { .. } => out.reply(Reply::key("ask_password_confirm")),
        State::ChooseCard { member } => out.reply(ask_card(member)),
    }
}

fn start_flow(
    flow: Flow,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    match flow {
        Flow::ForgotAccount => {
            collect_kpj_nik(flow, None, None, 0, message, true, session, out, ctx)
        }
        Flow::ForgotPassword => collect_email_kpj(None, None, 0, message, true, session, out, ctx),
        Flow::CheckJhtBalance => {
            let recent = session
                .verified
                .as_ref()
                .filter(|v| ctx.now.since(v.at) < VERIFIED_WINDOW)
                .map(|v| v.member.clone());
            match recent {
                Some(member) => show_balance(member, out),
                None => collect_kpj_nik(flow, None, None, 0, message, true, session, out, ctx),
            }
        }
    }
}

fn ask_kpj_nik_key(have_kpj: bool, have_nik: bool) -> &'static str {
    match (have_kpj, have_nik) {
        (false, false) => "ask_kpj_nik",
        (false, true) => "ask_kpj",
        _ => "ask_nik",
    }
}

fn ask_email_kpj_key(have_email: bool, have_kpj: bool) -> &'static str {
    match (have_email, have_kpj) {
        (false, false) => "ask_email_kpj",
        (false, true) => "ask_email",
        _ => "ask_kpj",
    }
}

/// A KPJ from the message: a KPJ entity, or an 11-digit "phone" (08… can be a card number
/// when a card number is what we asked for).
fn kpj_in(message: &Message) -> Option<Kpj> {
    message
        .valid(EntityKind::Kpj)
        .or_else(|| message.valid(EntityKind::Phone).filter(|p| p.len() == 11))
        .and_then(|v| Kpj::parse(v).ok())
}

#[allow(clippy::too_many_arguments)]
fn collect_kpj_nik(
    flow: Flow,
    kpj: Option<Kpj>,
    nik: Option<Nik>,
    failures: u8,
    message: Message,
    starting: bool,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let new_kpj = kpj_in(&message);
    let new_nik = message
        .valid(EntityKind::Nik)
        .and_then(|v| Nik::parse(v).ok());
    let answered = new_kpj.is_some() || new_nik.is_some();
    let kpj = new_kpj.or(kpj);
    let nik = new_nik.or(nik);
    let invalid = if message.invalid(EntityKind::Nik) {
        Some("invalid_nik")
    } else if message.invalid(EntityKind::Kpj) {
        Some("invalid_kpj")
    } else if !answered && (message.stray_digits || message.valid(EntityKind::Otp).is_some()) {
        Some(if kpj.is_none() {
            "invalid_kpj"
        } else {
            "invalid_nik"
        })
    } else {
        None
    };
    let state = State::CollectKpjNik {
        flow,
        kpj,
        nik,
        failures,
    };
    if !answered && invalid.is_none() && !starting {
        return interrupt(state, message, session, out, ctx);
    }
    if let Some(key) = invalid {
        out.reply(Reply::key(key));
        return state;
    }
    if let State::CollectKpjNik {
        kpj: Some(kpj),
        nik: Some(nik),
        ..
    } = &state
    {
        let admitted = ctx
            .gate
            .admit(Attempt::LookUpByKpjNik { kpj, nik }, ctx.now);
        let effect = Effect::LookUpByKpjNik {
            kpj: kpj.clone(),
            nik: nik.clone(),
        };
        return look_up(admitted, effect, state, out);
    }
    reask(&state, out);
    state
}

#[allow(clippy::too_many_arguments)]
fn collect_email_kpj(
    email: Option<Email>,
    kpj: Option<Kpj>,
    failures: u8,
    message: Message,
    starting: bool,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let new_email = message
        .valid(EntityKind::Email)
        .and_then(|v| Email::parse(v).ok());
    let new_kpj = kpj_in(&message);
    let answered = new_email.is_some() || new_kpj.is_some();
    let email = new_email.or(email);
    let kpj = new_kpj.or(kpj);
    let invalid = if message.invalid(EntityKind::Email) {
        Some("invalid_email")
    } else if message.invalid(EntityKind::Kpj) || (!answered && message.stray_digits) {
        Some("invalid_kpj")
    } else {
        None
    };
    let state = State::CollectEmailKpj {
        email,
        kpj,
        failures,
    };
    if !answered && invalid.is_none() && !starting {
        return interrupt(state, message, session, out, ctx);
    }
    if let Some(key) = invalid {
        out.reply(Reply::key(key));
        return state;
    }
    if let State::CollectEmailKpj {
        email: Some(email),
        kpj: Some(kpj),
        ..
    } = &state
    {
        let admitted = ctx
            .gate
            .admit(Attempt::LookUpByEmailKpj { email, kpj }, ctx.now);
        let effect = Effect::LookUpByEmailKpj {
            email: email.clone(),
            kpj: kpj.clone(),
        };
        return look_up(admitted, effect, state, out);
    }
    reask(&state, out);
    state
}

/// Both values are in: ask the engine for the look-up and wait in `waiting` for its answer,
/// unless the member's limits refused it.
fn look_up(admitted: bool, effect: Effect, waiting: State, out: &mut Output) -> State {
    if !admitted {
        return rate_limited(out);
    }
    out.effects.push(effect);
    waiting
}

/// A look-up or a code the member's limits refuse: the flow ends (retrying at once would be
/// refused again).
fn rate_limited(out: &mut Output) -> State {
    out.reply(Reply::key("rate_limited"));
    State::Idle
}

/// The answer to a `LookUp…` effect.
fn on_lookup(
    state: State,
    member: Option<MemberView>,
    _session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let (flow, failures) = match &state {
        State::CollectKpjNik { flow, failures, .. } => (*flow, *failures),
        State::CollectEmailKpj { failures, .. } => (Flow::ForgotPassword, *failures),
        // A look-up result with no look-up pending cannot come from the engine; ignore it.
        _ => return state,
    };
    let Some(member) = member else {
        out.reply(Reply::key("account_not_found"));
        let failures = failures + 1;
        if failures >= MAX_LOOKUP_FAILURES {
            out.reply(Reply::key("handoff"));
            return State::Idle;
        }
        // Both values are asked again: the reply never says which one was wrong.
        return match flow {
            Flow::ForgotPassword => State::CollectEmailKpj {
                email: None,
                kpj: None,
                failures,
            },
            _ => State::CollectKpjNik {
                flow,
                kpj: None,
                nik: None,
                failures,
            },
        };
    };
    if let Some(until) = member.locked_until.filter(|&until| until > ctx.now) {
        out.reply(locked(until.since(ctx.now)));
        out.reply(Reply::key("handoff"));
        return State::Idle;
    }
    let channel = match (flow, &member.phone, &member.email) {
        // forgot_password proves the e-mail: the code goes there.
        (Flow::ForgotPassword, _, _) | (_, None, Some(_)) => CodeChannel::Email,
        (_, Some(_), None) => CodeChannel::Sms,
        (_, Some(_), Some(_)) => {
            out.reply(ask_code_channel(&member));
            return State::ChooseCodeChannel { flow, member };
        }
        (_, None, None) => {
            out.reply(Reply::key("handoff"));
            return State::Idle;
        }
    };
    send_code(flow, member, channel, out, ctx)
}

fn locked(remaining: Duration) -> Reply {
    Reply::key("otp_locked").with("minutes", minutes_rounded_up(remaining).to_string())
}

fn minutes_rounded_up(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

fn ask_code_channel(member: &MemberView) -> Reply {
    let phone = member.phone.as_ref().map(|p| mask::mask_phone(p.as_str()));
    let email = member.email.as_ref().map(|e| mask::mask_email(e.as_str()));
    let mut choices = Vec::new();
    if let Some(phone) = &phone {
        choices.push(Choice {
            label: "label_sms",
            values: vec![("phone", Value::Text(phone.clone()))],
            payload: "/otp_channel sms".into(),
        });
    }
    if let Some(email) = &email {
        choices.push(Choice {
            label: "label_email",
            values: vec![("email", Value::Text(email.clone()))],
            payload: "/otp_channel email".into(),
        });
    }
    Reply::key("ask_otp_channel")
        .with("phone", phone.unwrap_or_default())
        .with("email", email.unwrap_or_default())
        .with_choices(choices)
}

fn destination(member: &MemberView, channel: CodeChannel) -> String {
    match channel {
        CodeChannel::Sms => member
            .phone
            .as_ref()
            .map(|p| mask::mask_phone(p.as_str()))
            .unwrap_or_default(),
        CodeChannel::Email => member
            .email
            .as_ref()
            .map(|e| mask::mask_email(e.as_str()))
            .unwrap_or_default(),
    }
}

fn code_sent(member: &MemberView, channel: CodeChannel) -> Reply {
    Reply::key("otp_sent")
        .with("destination", destination(member, channel))
        .with("minutes", (otp::CODE_TTL.as_secs() / 60).to_string())
}

fn send_code(
    flow: Flow,
    member: MemberView,
    channel: CodeChannel,
    out: &mut Output,
    ctx: &Context,
) -> State {
    if !ctx
        .gate
        .admit(Attempt::SendCode { member: &member.id }, ctx.now)
    {
        return rate_limited(out);
    }
    let challenge = Challenge::issue(ctx.key, member.id.as_str(), ctx.fresh_code, ctx.now);
    out.effects.push(Effect::SendCode {
        member: member.clone(),
        channel,
        code: ctx.fresh_code.to_string(),
    });
    out.reply(code_sent(&member, channel));
    State::AwaitCode {
        flow,
        member,
        code: PendingCode { channel, challenge },
    }
}

fn choose_code_channel(
    flow: Flow,
    member: MemberView,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let available: Vec<CodeChannel> = [
        member.phone.as_ref().map(|_| CodeChannel::Sms),
        member.email.as_ref().map(|_| CodeChannel::Email),
    ]
    .into_iter()
    .flatten()
    .collect();
    let chosen = match &message.command {
        Some(Command::CodeChannel(channel)) => Some(*channel),
        _ => message
            .typed_choice
            .and_then(|n| available.get(n.wrapping_sub(1)).copied()),
    };
    match chosen {
        Some(channel) if available.contains(&channel) => send_code(flow, member, channel, out, ctx),
        _ => interrupt(
            State::ChooseCodeChannel { flow, member },
            message,
            session,
            out,
            ctx,
        ),
    }
}

fn await_code(
    flow: Flow,
    member: MemberView,
    code: PendingCode,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    if message.command == Some(Command::ResendCode) {
        return match code
            .challenge
            .resend(ctx.key, member.id.as_str(), ctx.fresh_code, ctx.now)
        {
            Ok(_)
                if !ctx
                    .gate
                    .admit(Attempt::SendCode { member: &member.id }, ctx.now) =>
            {
                // The code already sent stays valid.
                out.reply(Reply::key("rate_limited"));
                State::AwaitCode { flow, member, code }
            }
            Ok(challenge) => {
                out.effects.push(Effect::SendCode {
                    member: member.clone(),
                    channel: code.channel,
                    code: ctx.fresh_code.to_string(),
                });
                out.reply(code_sent(&member, code.channel));
                State::AwaitCode {
                    flow,
                    member,
                    code: PendingCode {
                        channel: code.channel,
                        challenge,
                    },
                }
            }
            Err(denied) => {
                out.reply(Reply::key("otp_resend_wait").with("wait", format::wait(denied.wait)));
                State::AwaitCode { flow, member, code }
            }
        };
    }
    let Some(typed) = message.valid(EntityKind::Otp).map(str::to_string) else {
        if message.stray_digits || message.invalid(EntityKind::Otp) {
            out.reply(Reply::key("ask_otp"));
            return State::AwaitCode { flow, member, code };
        }
        return interrupt(
            State::AwaitCode { flow, member, code },
            message,
            session,
            out,
            ctx,
        );
    };
    let (challenge, verdict) = code
        .challenge
        .verify(ctx.key, member.id.as_str(), &typed, ctx.now);
    let code = PendingCode {
        channel: code.channel,
        challenge,
    };
    match verdict {
        Verdict::Accepted => verified(flow, member, session, out, ctx),
        Verdict::Wrong { attempts_left } => {
            out.reply(Reply::key("otp_invalid").with("attempts_left", attempts_left.to_string()));
            State::AwaitCode { flow, member, code }
        }
        Verdict::Expired => {
            out.reply(Reply::key("otp_expired"));
            State::AwaitCode { flow, member, code }
        }
        Verdict::Exhausted => {
            out.effects.push(Effect::Lock {
                member_id: member.id.clone(),
                until: ctx.now.plus(otp::LOCKOUT),
            });
            out.reply(locked(otp::LOCKOUT));
            out.reply(Reply::key("handoff"));
            State::Idle
        }
    }
}

/// The member proved who they are.
fn verified(
    flow: Flow,
    member: MemberView,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    // forgot_account proves identity exactly as check_jht_balance does (KPJ + NIK, then a code
    // to the member's own phone or e-mail), so it opens the same balance window: the "Cek saldo
    // JHT" button under `account_recovered` must not cost a second code. forgot_password is
    // left out: e-mail + KPJ is not the identity check the balance requires.
    if matches!(flow, Flow::ForgotAccount | Flow::CheckJhtBalance) {
        session.verified = Some(Verified {
            member: member.clone(),
            at: ctx.now,
        });
    }
    match flow {
        Flow::ForgotAccount | Flow::ForgotPassword => {
            out.reply(Reply::key("ask_new_password"));
            State::NewPassword { flow, member }
        }
        Flow::CheckJhtBalance => show_balance(member, out),
    }
}

fn show_balance(member: MemberView, out: &mut Output) -> State {
    match member.cards.as_slice() {
        [] => {
            out.reply(Reply::key("handoff"));
            State::Idle
        }
        [card] => {
            out.reply(balance(card, false));
            State::Idle
        }
        _ => {
            out.reply(ask_card(&member));
            State::ChooseCard { member }
        }
    }
}

fn ask_card(member: &MemberView) -> Reply {
    let choices = member
        .cards
        .iter()
        .enumerate()
        .map(|(i, card)| Choice {
            label: "label_card",
            values: vec![("card", Value::Text(mask::mask_number(card.kpj.as_str())))],
            payload: format!("/card {}", i + 1),
        })
        .collect();
    Reply::key("ask_card").with_choices(choices)
}

fn balance(card: &CardView, several_cards: bool) -> Reply {
    Reply::key("jht_balance")
        .with("card", mask::mask_number(card.kpj.as_str()))
        .with("balance", format::rupiah(card.balance_rupiah))
        .with("as_of", format::long_date(&card.as_of))
        .with_value(
            "note",
            Value::Response(several_cards.then_some("jht_multiple_cards_note")),
        )
}

fn choose_card(
    member: MemberView,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let by_number = match &message.command {
        Some(Command::Card(n)) => Some(*n),
        _ => message.typed_choice,
    };
    let by_kpj = message
        .valid(EntityKind::Kpj)
        .and_then(|kpj| member.cards.iter().position(|c| c.kpj.as_str() == kpj));
    let index = by_number
        .and_then(|n| n.checked_sub(1))
        .filter(|&i| i < member.cards.len())
        .or(by_kpj);
    match index {
        Some(i) => {
            out.reply(balance(&member.cards[i], true));
            State::Idle
        }
        None => interrupt(State::ChooseCard { member }, message, session, out, ctx),
    }
}

/// A message in a password state that is not an acceptable password but clearly asks for
/// something else is treated as that request: a button, "batal" or "mau ke CS", or a
/// sentence (it has a space) that the NLU read as an intent ("halo kak", "kantor cabang
/// dimana"). A single word the NLU happens to read ("password123") is a weak password.
fn is_escape(message: &Message, typed: &str) -> bool {
    if matches!(message.command, Some(Command::Intent(_))) {
        return true;
    }
    match message.intent.as_deref() {
        Some("cancel" | "human_agent") => true,
        None | Some(crate::nlu::OUT_OF_SCOPE) => false,
        Some(_) => typed.trim().contains(char::is_whitespace),
    }
}

fn new_password(
    flow: Flow,
    member: MemberView,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let mut message = message;
    let Some(secret) = message.secret.take() else {
        return interrupt(
            State::NewPassword { flow, member },
            message,
            session,
            out,
            ctx,
        );
    };
    let broken = password::check_policy(secret.expose(), &member.personal_strings());
    if !broken.is_empty() {
        if is_escape(&message, secret.expose()) {
            return interrupt(
                State::NewPassword { flow, member },
                message,
                session,
                out,
                ctx,
            );
        }
        let reasons = broken.iter().map(|rule| rule.response_key()).collect();
        out.reply(Reply::key("password_weak").with_value("reasons", Value::Lines(reasons)));
        return State::NewPassword { flow, member };
    }
    match flow {
        Flow::ForgotPassword => {
            out.effects.push(Effect::SetPassword {
                member_id: member.id.clone(),
                password: secret,
            });
            out.reply(Reply::key("password_changed"));
            State::Idle
        }
        _ => {
            out.reply(Reply::key("ask_password_confirm"));
            State::ConfirmPassword {
                fingerprint: hex::encode(
                    ctx.key
                        .fingerprint(PASSWORD_FINGERPRINT, secret.expose().as_bytes()),
                ),
                member,
            }
        }
    }
}

fn confirm_password(
    member: MemberView,
    fingerprint: String,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let mut message = message;
    let Some(secret) = message.secret.take() else {
        return interrupt(
            State::ConfirmPassword {
                member,
                fingerprint,
            },
            message,
            session,
            out,
            ctx,
        );
    };
    let typed = hex::encode(
        ctx.key
            .fingerprint(PASSWORD_FINGERPRINT, secret.expose().as_bytes()),
    );
    if bool::from(typed.as_bytes().ct_eq(fingerprint.as_bytes())) {
        out.effects.push(Effect::SetPassword {
            member_id: member.id.clone(),
            password: secret,
        });
        out.reply(Reply::key("account_recovered").with("login", member.login.clone()));
        return State::Idle;
    }
    if is_escape(&message, secret.expose()) {
        return interrupt(
            State::ConfirmPassword {
                member,
                fingerprint,
            },
            message,
            session,
            out,
            ctx,
        );
    }
    out.reply(Reply::key("password_mismatch"));
    State::NewPassword {
        flow: Flow::ForgotAccount,
        member,
    }
}
