//! The identity steps every flow starts with: KPJ + NIK (forgot_account, check_jht_balance) or
//! e-mail + KPJ (forgot_password), the member look-up, and what follows it.

use super::answers;
use super::code;
use super::keys::ResponseKey;
use super::outcome::Ending;
use super::reply::{Effect, Reply};
use super::state::{CodeChannel, Flow, MemberView, Session, State};
use super::step::{Context, Message, Output, interrupt, reask as reask_state};
use crate::identity::Kpj;
use crate::nlu::entities::{EntityKind, EntityValue};

/// Failed look-ups in one flow before handing over to a person.
const MAX_LOOKUP_FAILURES: u8 = 3;

/// Starts a flow's identity step with whatever the first message already gives.
pub(super) fn start(
    flow: Flow,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let state = match flow {
        Flow::ForgotPassword => State::CollectEmailKpj {
            email: None,
            kpj: None,
            failures: 0,
        },
        Flow::ForgotAccount | Flow::CheckJhtBalance => State::CollectKpjNik {
            flow,
            kpj: None,
            nik: None,
            failures: 0,
            prefer: None,
        },
    };
    take_values(state, message, Opening::Start, session, out, ctx)
}

/// Reads a message at an identity step.
pub(super) fn collect(
    state: State,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    take_values(state, message, Opening::Answer, session, out, ctx)
}

/// Whether a message opens a flow (then it need not carry any value) or answers its question.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opening {
    Start,
    Answer,
}

/// The values of one kind the message carries: valid ones, and whether any was malformed.
fn take_values(
    state: State,
    message: Message,
    opening: Opening,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let new_kpj = kpj_in(&message);
    let (state, answered, invalid) = match state {
        State::CollectKpjNik {
            flow,
            kpj,
            nik,
            failures,
            prefer,
        } => {
            let new_nik = message.valid(EntityValue::nik).cloned();
            let answered = new_kpj.is_some() || new_nik.is_some();
            let (kpj, nik) = (new_kpj.or(kpj), new_nik.or(nik));
            let invalid = if message.invalid(EntityKind::Nik) {
                Some(ResponseKey::InvalidNik)
            } else if message.invalid(EntityKind::Kpj) {
                Some(ResponseKey::InvalidKpj)
            } else if has_wrong_number(&message) && (kpj.is_none() || nik.is_none()) {
                // A number of the wrong length where one of them is expected: the one still
                // missing, the KPJ first (SPEC §5.1: never silently dropped).
                Some(if kpj.is_none() {
                    ResponseKey::InvalidKpj
                } else {
                    ResponseKey::InvalidNik
                })
            } else {
                None
            };
            let prefer = answers::preferred_channel(&message.words).or(prefer);
            let state = State::CollectKpjNik {
                flow,
                kpj,
                nik,
                failures,
                prefer,
            };
            (state, answered, invalid)
        }
        State::CollectEmailKpj {
            email,
            kpj,
            failures,
        } => {
            let new_email = message.valid(EntityValue::email).cloned();
            let answered = new_email.is_some() || new_kpj.is_some();
            let (email, kpj) = (new_email.or(email), new_kpj.or(kpj));
            let invalid = if message.invalid(EntityKind::Email) {
                Some(ResponseKey::InvalidEmail)
            } else if message.invalid(EntityKind::Kpj)
                || (kpj.is_none() && has_wrong_number(&message))
            {
                Some(ResponseKey::InvalidKpj)
            } else {
                None
            };
            let state = State::CollectEmailKpj {
                email,
                kpj,
                failures,
            };
            (state, answered, invalid)
        }
        other => return other,
    };
    if !answered && invalid.is_none() && opening == Opening::Answer {
        return interrupt(state, message, session, out, ctx);
    }
    if let Some(key) = invalid {
        out.reply(Reply::key(key));
        return state;
    }
    match look_up_effect(&state) {
        Some(effect) => {
            out.effects.push(effect);
            state
        }
        None => {
            reask(&state, out);
            state
        }
    }
}

/// A number that is no KPJ, NIK or e-mail: stray digits, a code-length number, or a phone
/// number (a 10-digit "08…" is read as a phone, but here it is a KPJ typed wrong).
fn has_wrong_number(message: &Message) -> bool {
    message.stray_digits
        || message.valid(EntityValue::otp).is_some()
        || message.valid(EntityValue::phone).is_some()
}

/// A KPJ from the message: a KPJ entity, or an 11-digit "phone" (08… can be a card number
/// when a card number is what we asked for).
fn kpj_in(message: &Message) -> Option<Kpj> {
    match message.valid(EntityValue::kpj) {
        Some(kpj) => Some(kpj.clone()),
        None => message
            .valid(EntityValue::phone)
            .and_then(|phone| Kpj::parse(phone.as_str()).ok()),
    }
}

/// The look-up to run once both values are in, `None` while one is missing. The engine
/// checks the member's look-up budget (SPEC §6) before it looks: a refusal comes back as
/// `Event::LookUpRefused`.
fn look_up_effect(state: &State) -> Option<Effect> {
    match state {
        State::CollectKpjNik {
            kpj: Some(kpj),
            nik: Some(nik),
            ..
        } => Some(Effect::LookUpByKpjNik {
            kpj: kpj.clone(),
            nik: nik.clone(),
        }),
        State::CollectEmailKpj {
            email: Some(email),
            kpj: Some(kpj),
            ..
        } => Some(Effect::LookUpByEmailKpj {
            email: email.clone(),
            kpj: kpj.clone(),
        }),
        _ => None,
    }
}

/// Asks for what is still missing.
pub(super) fn reask(state: &State, out: &mut Output) {
    let key = match state {
        State::CollectKpjNik { kpj, nik, .. } => match (kpj.is_some(), nik.is_some()) {
            (false, false) => ResponseKey::AskKpjNik,
            (false, true) => ResponseKey::AskKpj,
            _ => ResponseKey::AskNik,
        },
        State::CollectEmailKpj { email, kpj, .. } => match (email.is_some(), kpj.is_some()) {
            (false, false) => ResponseKey::AskEmailKpj,
            (false, true) => ResponseKey::AskEmail,
            _ => ResponseKey::AskKpj,
        },
        other => return reask_state(other, out),
    };
    out.reply(Reply::key(key));
}

/// A look-up or a code the member's limits refuse: the flow ends (retrying at once would be
/// refused again).
pub(super) fn rate_limited(out: &mut Output) -> State {
    out.end(Ending::RateLimited);
    State::Idle
}

/// The member's look-up budget refused the look-up: the flow ends (retrying at once would be
/// refused again).
pub(super) fn on_lookup_refused(state: State, out: &mut Output) -> State {
    match state {
        State::CollectKpjNik { .. } | State::CollectEmailKpj { .. } => rate_limited(out),
        // No look-up pending: nothing the engine could have refused.
        other => other,
    }
}

/// The answer to a `LookUp…` effect.
pub(super) fn on_lookup(
    state: State,
    member: Option<MemberView>,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let (flow, failures, prefer) = match &state {
        State::CollectKpjNik {
            flow,
            failures,
            prefer,
            ..
        } => (*flow, *failures, *prefer),
        State::CollectEmailKpj { failures, .. } => (Flow::ForgotPassword, *failures, None),
        // A look-up result with no look-up pending cannot come from the engine; ignore it.
        _ => return state,
    };
    let Some(member) = member else {
        return not_found(flow, failures, prefer, out);
    };
    if let Some(remaining) = ctx.standing.locked_for(ctx.now) {
        return code::refuse_locked(remaining, out);
    }
    let channel = match (flow, &member.phone, &member.email) {
        // forgot_password proves the e-mail: the code goes there.
        (Flow::ForgotPassword, _, _) | (_, None, Some(_)) => CodeChannel::Email,
        (_, Some(_), None) => CodeChannel::Sms,
        (_, Some(_), Some(_)) => match prefer {
            Some(channel) => channel,
            None => {
                out.reply(code::ask_channel(&member));
                return State::ChooseCodeChannel { flow, member };
            }
        },
        (_, None, None) => {
            out.end(Ending::Handoff);
            return State::Idle;
        }
    };
    code::send(flow, member, channel, out, ctx)
}

/// No member matches: both values are asked again (the reply never says which one was
/// wrong); the third miss hands over. An unknown e-mail may be a forgotten one: recovering
/// the account with KPJ + NIK is suggested.
fn not_found(flow: Flow, failures: u8, prefer: Option<CodeChannel>, out: &mut Output) -> State {
    out.reply(Reply::key(ResponseKey::AccountNotFound));
    let failures = failures + 1;
    if failures >= MAX_LOOKUP_FAILURES {
        out.end(Ending::Handoff);
        return State::Idle;
    }
    match flow {
        Flow::ForgotPassword => {
            out.reply(Reply::key(ResponseKey::SuggestForgotAccount));
            State::CollectEmailKpj {
                email: None,
                kpj: None,
                failures,
            }
        }
        _ => State::CollectKpjNik {
            flow,
            kpj: None,
            nik: None,
            failures,
            prefer,
        },
    }
}
