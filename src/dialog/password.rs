//! How forgot_account and forgot_password end: a new password checked against the policy
//! (SPEC §6), typed twice for forgot_account. The password itself never enters the session.

use super::reply::{Effect, Reply, Value};
use super::state::{Flow, MemberView, Session, State};
use super::step::{Command, Context, Message, Output, interrupt};
use crate::security::password;
use subtle::ConstantTimeEq;

/// Fingerprint purpose for the first entry of a new password.
const PASSWORD_FINGERPRINT: &[u8] = b"tanya.password-confirmation";

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

pub(super) fn confirm_password(
    member: MemberView,
    fingerprint: String,
    mut message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
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
