//! How forgot_account and forgot_password end: a new password checked against the policy
//! (SPEC §6), typed twice for forgot_account. The password itself never enters the session;
//! between the two entries only an argon2id hash of the first does.

use super::reply::{Effect, Reply, Value};
use super::state::{Flow, MemberView, Session, State};
use super::step::{Command, Context, Message, Output, interrupt};
use crate::security::password;

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

pub(super) fn new_password(
    flow: Flow,
    member: MemberView,
    mut message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
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
            // Hashed by the engine off the executor; `on_draft_hashed` asks for the second
            // entry. A keyed fast hash here (as before) left a derivative in the session that
            // costs a guesser one HMAC per try once the store and its key leak.
            out.effects
                .push(Effect::HashPasswordDraft { password: secret });
            State::NewPassword { flow, member }
        }
    }
}

/// The first entry is hashed: ask for it again.
pub(super) fn on_draft_hashed(state: State, draft_phc: String, out: &mut Output) -> State {
    match state {
        State::NewPassword { member, .. } => {
            out.reply(Reply::key("ask_password_confirm"));
            State::ConfirmPassword { member, draft_phc }
        }
        // A hash with no first entry pending cannot come from the engine; ignore it.
        other => other,
    }
}

pub(super) fn confirm_password(
    member: MemberView,
    draft_phc: String,
    mut message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let Some(secret) = message.secret.take() else {
        return interrupt(
            State::ConfirmPassword { member, draft_phc },
            message,
            session,
            out,
            ctx,
        );
    };
    if message.confirms_draft {
        // The draft's hash is the new password's: no second argon2 run.
        out.effects.push(Effect::SetPasswordHash {
            member_id: member.id.clone(),
            phc: draft_phc,
        });
        out.reply(Reply::key("account_recovered").with("login", member.login.clone()));
        return State::Idle;
    }
    if is_escape(&message, secret.expose()) {
        return interrupt(
            State::ConfirmPassword { member, draft_phc },
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
