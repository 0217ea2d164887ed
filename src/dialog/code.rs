//! The one-time code every flow passes through: where it goes (SMS or e-mail), sending and
//! resending it, and reading what the member says while it is on its way.

use super::answers::{self, Channel, WhileWaiting};
use super::balance;
use super::format;
use super::identity::rate_limited;
use super::keys::ResponseKey;
use super::outcome::Ending;
use super::password;
use super::reply::{Choice, CodeRequest, Effect, Reply, Value};
use super::state::{CodeChannel, Flow, MemberView, PendingCode, Session, State, Verified};
use super::step::{Context, Message, Output, human_choice, interrupt};
use crate::identity::OtpCode;
use crate::security::lockout::CodeEvent;
use crate::security::otp::{self, Challenge, Verdict};
use std::time::Duration;

/// The channels the member has, in the order their buttons are shown.
fn channels_of(member: &MemberView) -> Vec<CodeChannel> {
    [
        member.phone.as_ref().map(|_| CodeChannel::Sms),
        member.email.as_ref().map(|_| CodeChannel::Email),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The button that sends the code to `channel`, with its masked destination.
fn channel_choice(member: &MemberView, channel: CodeChannel) -> Choice {
    let (label, name) = match channel {
        CodeChannel::Sms => (ResponseKey::LabelSms, "phone"),
        CodeChannel::Email => (ResponseKey::LabelEmail, "email"),
    };
    Choice {
        label,
        values: vec![(name, Value::Text(member.masked_address(channel)))],
        payload: format!("/otp_channel {}", channel_argument(channel)),
    }
}

fn channel_argument(channel: CodeChannel) -> &'static str {
    match channel {
        CodeChannel::Sms => "sms",
        CodeChannel::Email => "email",
    }
}

/// "Where shall the code go?", with a button per channel the member has.
pub(super) fn ask_channel(member: &MemberView) -> Reply {
    let choices = channels_of(member)
        .into_iter()
        .map(|channel| channel_choice(member, channel))
        .collect();
    Reply::key(ResponseKey::AskOtpChannel)
        .with("phone", member.masked_address(CodeChannel::Sms))
        .with("email", member.masked_address(CodeChannel::Email))
        .with_choices(choices)
}

fn code_sent(member: &MemberView, channel: CodeChannel) -> Reply {
    Reply::key(ResponseKey::OtpSent)
        .with("destination", member.masked_address(channel))
        .with("minutes", (otp::CODE_TTL.as_secs() / 60).to_string())
}

/// The code sent to `channel` could not be delivered. A member still waiting for it is told,
/// and offered the other channel when they have one (forgot_password proves the e-mail, so
/// its code has no other way), a new try, or a person; a member who moved on hears nothing.
pub(super) fn on_undelivered(state: State, channel: CodeChannel, out: &mut Output) -> State {
    let State::AwaitCode { flow, member, code } = state else {
        return state;
    };
    if code.channel != channel {
        return State::AwaitCode { flow, member, code };
    }
    let other = match channel {
        CodeChannel::Sms => CodeChannel::Email,
        CodeChannel::Email => CodeChannel::Sms,
    };
    let mut choices = Vec::new();
    if flow != Flow::ForgotPassword && channels_of(&member).contains(&other) {
        choices.push(channel_choice(&member, other));
    }
    out.reply(
        Reply::key(ResponseKey::CodeUndelivered)
            .with("destination", member.masked_address(channel))
            .with_choices(choices),
    );
    State::AwaitCode { flow, member, code }
}

/// "Locked for N minutes", and a person to talk to; the flow ends. No code is tried or sent
/// while the member is locked, whichever session or channel asks.
pub(super) fn refuse_locked(remaining: Duration, out: &mut Output) -> State {
    out.reply(
        Reply::key(ResponseKey::OtpLocked)
            .with("minutes", minutes_rounded_up(remaining).to_string()),
    );
    out.end(Ending::Handoff);
    State::Idle
}

fn minutes_rounded_up(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

/// Sends a first code to `channel`, once the member's code budget admits it (the engine
/// answers `Effect::AdmitCode` with `Event::CodeAdmission`, see `on_admission`).
pub(super) fn send(
    flow: Flow,
    member: MemberView,
    channel: CodeChannel,
    out: &mut Output,
    ctx: &Context,
) -> State {
    if let Some(remaining) = ctx.standing.locked_for(ctx.now) {
        return refuse_locked(remaining, out);
    }
    ask_admission(flow, member, channel, None, out)
}

/// Asks the engine whether the member's budget allows one more code; until it answers, the
/// flow waits where a first code would be chosen, or on the code already sent.
fn ask_admission(
    flow: Flow,
    member: MemberView,
    channel: CodeChannel,
    previous: Option<PendingCode>,
    out: &mut Output,
) -> State {
    let waiting = match &previous {
        Some(code) => State::AwaitCode {
            flow,
            member: member.clone(),
            code: code.clone(),
        },
        None => State::ChooseCodeChannel {
            flow,
            member: member.clone(),
        },
    };
    out.effects.push(Effect::AdmitCode {
        request: CodeRequest {
            flow,
            member,
            channel,
            previous,
        },
    });
    waiting
}

/// The engine's answer to `Effect::AdmitCode`: the code goes out (a first code, or a new one
/// replacing the code on its way), or the member hears they are over their limit. A refused
/// first code ends the flow; a refused resend keeps the code already sent.
pub(super) fn on_admission(
    admitted: bool,
    request: CodeRequest,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let CodeRequest {
        flow,
        member,
        channel,
        previous,
    } = request;
    match (admitted, previous) {
        (false, None) => rate_limited(out),
        // A refused resend keeps the flow and the code already sent: no ending.
        (false, Some(code)) => {
            out.reply(Reply::key(ResponseKey::RateLimited));
            State::AwaitCode { flow, member, code }
        }
        (true, None) => {
            let challenge = Challenge::issue(ctx.key, member.id.as_str(), ctx.fresh_code, ctx.now);
            deliver(flow, member, channel, challenge, out, ctx)
        }
        (true, Some(code)) => {
            match code
                .challenge
                .resend(ctx.key, member.id.as_str(), ctx.fresh_code, ctx.now)
            {
                Ok(challenge) => deliver(flow, member, channel, challenge, out, ctx),
                Err(denied) => wait_before_resend(denied.wait, flow, member, code, out),
            }
        }
    }
}

fn wait_before_resend(
    wait: Duration,
    flow: Flow,
    member: MemberView,
    code: PendingCode,
    out: &mut Output,
) -> State {
    out.reply(Reply::key(ResponseKey::OtpResendWait).with("wait", format::wait(wait)));
    State::AwaitCode { flow, member, code }
}

/// Sends the fresh code of `challenge` to `channel`, says where it went, and waits for it.
fn deliver(
    flow: Flow,
    member: MemberView,
    channel: CodeChannel,
    challenge: Challenge,
    out: &mut Output,
    ctx: &Context,
) -> State {
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

/// Reads the answer to "SMS or e-mail?".
pub(super) fn choose_channel(
    flow: Flow,
    member: MemberView,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let available = channels_of(&member);
    let choice = answers::channel_choice(&message, &available).or_else(|| {
        answers::names_email_domain(&message, &member).then_some(Channel::Code(CodeChannel::Email))
    });
    match choice {
        Some(Channel::Code(channel)) if available.contains(&channel) => {
            send(flow, member, channel, out, ctx)
        }
        Some(Channel::Whatsapp) => {
            out.reply(Reply::key(ResponseKey::NoWhatsappCode));
            out.reply(ask_channel(&member));
            State::ChooseCodeChannel { flow, member }
        }
        _ => interrupt(
            State::ChooseCodeChannel { flow, member },
            message,
            session,
            out,
            ctx,
        ),
    }
}

/// Reads a message while the code is on its way: the code itself, a resend, another channel,
/// "it has not come", or an acknowledgement; anything else is a digression.
pub(super) fn await_code(
    flow: Flow,
    member: MemberView,
    code: PendingCode,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let Some(answer) = answers::while_waiting(&message, code.channel) else {
        if message.stray_digits || message.invalid(crate::nlu::entities::EntityKind::Otp) {
            out.reply(Reply::key(ResponseKey::AskOtp));
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
    match answer {
        WhileWaiting::Code(typed) => check_code(flow, member, &code, &typed, session, out, ctx),
        WhileWaiting::Resend => {
            let channel = code.channel;
            resend(flow, member, code, channel, out, ctx)
        }
        // forgot_password proves the e-mail, so its code never goes elsewhere.
        WhileWaiting::Switch(channel)
            if flow != Flow::ForgotPassword && channels_of(&member).contains(&channel) =>
        {
            resend(flow, member, code, channel, out, ctx)
        }
        WhileWaiting::Whatsapp => {
            out.reply(Reply::key(ResponseKey::NoWhatsappCode));
            out.reply(not_received(flow, &member, code.channel));
            State::AwaitCode { flow, member, code }
        }
        // A channel the member does not have: what they can do instead.
        WhileWaiting::Switch(_) | WhileWaiting::NotReceived => {
            out.reply(not_received(flow, &member, code.channel));
            State::AwaitCode { flow, member, code }
        }
        WhileWaiting::Acknowledged => {
            out.reply(
                Reply::key(ResponseKey::Awaiting)
                    .with_value("what", Value::Response(Some(ResponseKey::AwaitingCode))),
            );
            State::AwaitCode { flow, member, code }
        }
    }
}

/// "The code went to …, give it a minute": with buttons to resend, to switch to the member's
/// other channel (not in forgot_password, whose code proves the e-mail: the button would
/// only bring this answer back), or to ask a person.
fn not_received(flow: Flow, member: &MemberView, current: CodeChannel) -> Reply {
    let mut choices = vec![Choice {
        label: ResponseKey::LabelResend,
        values: Vec::new(),
        payload: "/resend_otp".into(),
    }];
    if flow != Flow::ForgotPassword {
        choices.extend(
            channels_of(member)
                .into_iter()
                .filter(|&c| c != current)
                .map(|c| channel_choice(member, c)),
        );
    }
    choices.push(human_choice());
    Reply::key(ResponseKey::OtpNotReceived)
        .with("destination", member.masked_address(current))
        .with_choices(choices)
}

/// A new code, to the same channel or another, within the resend limits (SPEC §6); the code
/// already sent stays valid when a resend is refused.
fn resend(
    flow: Flow,
    member: MemberView,
    code: PendingCode,
    channel: CodeChannel,
    out: &mut Output,
    ctx: &Context,
) -> State {
    if let Some(remaining) = ctx.standing.locked_for(ctx.now) {
        return refuse_locked(remaining, out);
    }
    // The wait between resends is the code's own rule: checked before any budget is spent.
    match code
        .challenge
        .resend(ctx.key, member.id.as_str(), ctx.fresh_code, ctx.now)
    {
        Ok(_) => ask_admission(flow, member, channel, Some(code), out),
        Err(denied) => wait_before_resend(denied.wait, flow, member, code, out),
    }
}

/// Checks a typed code. Tries count twice over: on this code (`Challenge`), and member-wide
/// across every session and code (`Standing`), so three wrong codes in all lock the member
/// however they are spread; a locked member's code is not even checked.
fn check_code(
    flow: Flow,
    member: MemberView,
    code: &PendingCode,
    typed: &OtpCode,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    if let Some(remaining) = ctx.standing.locked_for(ctx.now) {
        return refuse_locked(remaining, out);
    }
    let (challenge, verdict) =
        code.challenge
            .verify(ctx.key, member.id.as_str(), typed.as_str(), ctx.now);
    let code = PendingCode {
        channel: code.channel,
        challenge,
    };
    let record = |out: &mut Output, event| {
        out.effects.push(Effect::Code {
            member_id: member.id.clone(),
            event,
        });
    };
    match verdict {
        Verdict::Accepted => {
            record(out, CodeEvent::Accepted);
            verified(flow, member, session, out, ctx)
        }
        Verdict::Wrong { attempts_left } => {
            record(out, CodeEvent::Wrong);
            let standing = ctx.standing.after(CodeEvent::Wrong, ctx.now);
            if let Some(remaining) = standing.locked_for(ctx.now) {
                return refuse_locked(remaining, out);
            }
            let attempts_left = attempts_left.min(standing.tries_left(ctx.now));
            out.reply(
                Reply::key(ResponseKey::OtpInvalid)
                    .with("attempts_left", attempts_left.to_string()),
            );
            State::AwaitCode { flow, member, code }
        }
        Verdict::Expired => {
            out.reply(Reply::key(ResponseKey::OtpExpired));
            State::AwaitCode { flow, member, code }
        }
        Verdict::Exhausted => {
            record(
                out,
                CodeEvent::Lock {
                    until: ctx.now.plus(otp::LOCKOUT),
                },
            );
            refuse_locked(otp::LOCKOUT, out)
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
        Flow::ForgotAccount | Flow::ForgotPassword => password::ask(flow, member, out, ctx),
        Flow::CheckJhtBalance => balance::show(member, session, out),
    }
}
