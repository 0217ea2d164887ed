//! How forgot_account and forgot_password end: a new password checked against the policy
//! (SPEC §6), typed twice for forgot_account. The password itself never enters the session;
//! between the two entries only an argon2id hash of the first does. On a messaging channel the
//! password is not typed into the chat at all: the member gets a one-time link to the password
//! page (SPEC §12), and the page's password comes back as an event.

use super::answers::{self, OnPage};
use super::keys::ResponseKey;
use super::reply::{Choice, Effect, Reply, Value};
use super::state::{Flow, MemberView, Session, State};
use super::step::{Command, Context, Message, Output, PagePassword, PasswordEntry, interrupt};
use crate::intent::Intent;
use crate::security::page_token::{PAGE_TOKEN_TTL, PageToken};
use crate::security::password;
use secrecy::ExposeSecret;

/// After a valid code: the new password is asked for in the chat, or on the password page.
pub(super) fn ask(flow: Flow, member: MemberView, out: &mut Output, ctx: &Context) -> State {
    match ctx.password_entry {
        PasswordEntry::Chat => {
            out.reply(Reply::key(ResponseKey::AskNewPassword));
            State::NewPassword { flow, member }
        }
        PasswordEntry::Page { fresh } => send_link(flow, member, fresh, out, ctx),
    }
}

/// Sends the page's link for token `fresh` and keeps (the hash of) the token; the session's
/// earlier link, if any, stops working.
fn send_link(
    flow: Flow,
    member: MemberView,
    fresh: &PageToken,
    out: &mut Output,
    ctx: &Context,
) -> State {
    out.effects.push(Effect::OfferPasswordPage {
        token: fresh.hash(ctx.key),
        member_id: member.id.clone(),
        flow,
        expires_at: ctx.now.plus(PAGE_TOKEN_TTL),
    });
    out.reply(
        Reply::key(ResponseKey::PasswordLinkSent)
            .with_value("link", Value::PageLink(fresh.clone()))
            .with("minutes", (PAGE_TOKEN_TTL.as_secs() / 60).to_string()),
    );
    State::AwaitPasswordPage { flow, member }
}

/// "Open the link sent above", with a button for a new one: what the page's wait asks again.
pub(super) fn link_pending() -> Reply {
    Reply::key(ResponseKey::PasswordLinkPending).with_choices(vec![Choice {
        label: ResponseKey::LabelResendLink,
        values: Vec::new(),
        payload: "/resend_link".into(),
    }])
}

/// Reads a chat message while the member is on the password page: a password typed into the
/// chat anyway is refused unread (it is never kept or echoed), "the link does not work" in
/// any words sends a new one, an acknowledgement says what tanya waits for; anything else is a
/// digression (cancel, another flow, a question answered and the wait recalled).
pub(super) fn await_page(
    flow: Flow,
    member: MemberView,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    match answers::while_on_page(&message) {
        Some(OnPage::TypedPassword) => {
            out.reply(Reply::key(ResponseKey::PasswordNotInChat));
            out.reply(link_pending());
            State::AwaitPasswordPage { flow, member }
        }
        Some(OnPage::NewLink) => ask(flow, member, out, ctx),
        Some(OnPage::Acknowledged) => {
            out.reply(Reply::key(ResponseKey::Awaiting).with_value(
                "what",
                Value::Response(Some(ResponseKey::AwaitingPasswordPage)),
            ));
            State::AwaitPasswordPage { flow, member }
        }
        None => interrupt(
            State::AwaitPasswordPage { flow, member },
            message,
            session,
            out,
            ctx,
        ),
    }
}

/// The page set the new password: the flow ends exactly as when it is typed in the chat. A
/// password for a flow this session no longer waits on cannot come from the engine, which
/// checks the same (`State::page_member`) first; it is ignored.
pub(super) fn on_page(state: State, page: PagePassword, out: &mut Output) -> State {
    let Some(member) = state.page_member(&page.member, page.flow) else {
        return state;
    };
    out.effects.push(Effect::SetPasswordHash {
        member_id: member.id.clone(),
        phc: page.phc,
    });
    finish(page.flow, member, out);
    State::Idle
}

/// The flow is complete once the new password is stored, wherever it was set: what the member
/// hears.
fn finish(flow: Flow, member: &MemberView, out: &mut Output) {
    out.reply(match flow {
        Flow::ForgotAccount => {
            Reply::key(ResponseKey::AccountRecovered).with("login", member.login.clone())
        }
        // forgot_password (check_jht_balance sets no password).
        _ => Reply::key(ResponseKey::PasswordChanged),
    });
    out.completed = Some(flow);
}

/// A message in a password state that is not an acceptable password but clearly asks for
/// something else is treated as that request: a button, "batal" or "mau ke CS", or a
/// sentence (it has a space) that the NLU read as an intent ("halo kak", "kantor cabang
/// dimana"). A single word the NLU happens to read ("password123") is a weak password.
fn is_escape(message: &Message, typed: &str) -> bool {
    if matches!(message.command, Some(Command::Intent(_))) {
        return true;
    }
    match message.intent {
        Some(Intent::Cancel | Intent::HumanAgent) => true,
        None | Some(Intent::OutOfScope) => false,
        Some(_) => typed.trim().contains(char::is_whitespace),
    }
}

/// Reads a message at either password prompt (the new password, or the same again). A
/// message with no password in it (a button), or one that is not acceptable here and clearly
/// asks for something else (`is_escape`), goes to `interrupt` like any digression.
pub(super) fn collect(
    state: State,
    mut message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    let Some(secret) = message.secret.take() else {
        return interrupt(state, message, session, out, ctx);
    };
    let broken = match &state {
        State::NewPassword { member, .. } => {
            password::check_policy(secret.expose_secret(), &member.personal_strings())
        }
        _ => Vec::new(),
    };
    let acceptable = match &state {
        State::ConfirmPassword { .. } => message.confirms_draft,
        _ => broken.is_empty(),
    };
    if !acceptable && is_escape(&message, secret.expose_secret()) {
        return interrupt(state, message, session, out, ctx);
    }
    match state {
        State::NewPassword { flow, member } if !broken.is_empty() => {
            let reasons = broken.iter().map(|&rule| ResponseKey::rule(rule)).collect();
            out.reply(
                Reply::key(ResponseKey::PasswordWeak).with_value("reasons", Value::Lines(reasons)),
            );
            State::NewPassword { flow, member }
        }
        State::NewPassword {
            flow: Flow::ForgotPassword,
            member,
        } => {
            out.effects.push(Effect::SetPassword {
                member_id: member.id.clone(),
                password: secret,
            });
            finish(Flow::ForgotPassword, &member, out);
            State::Idle
        }
        State::NewPassword { flow, member } => {
            // Hashed by the engine off the executor; `on_draft_hashed` asks for the second
            // entry. A keyed fast hash here (as before) left a derivative in the session that
            // costs a guesser one HMAC per try once the store and its key leak.
            out.effects
                .push(Effect::HashPasswordDraft { password: secret });
            State::NewPassword { flow, member }
        }
        State::ConfirmPassword { member, draft_phc } if acceptable => {
            // The draft's hash is the new password's: no second argon2 run.
            out.effects.push(Effect::SetPasswordHash {
                member_id: member.id.clone(),
                phc: draft_phc,
            });
            finish(Flow::ForgotAccount, &member, out);
            State::Idle
        }
        State::ConfirmPassword { member, .. } => {
            out.reply(Reply::key(ResponseKey::PasswordMismatch));
            State::NewPassword {
                flow: Flow::ForgotAccount,
                member,
            }
        }
        // Only the two password prompts are read here.
        other => other,
    }
}

/// The first entry is hashed: ask for it again.
pub(super) fn on_draft_hashed(state: State, draft_phc: String, out: &mut Output) -> State {
    match state {
        State::NewPassword { member, .. } => {
            out.reply(Reply::key(ResponseKey::AskPasswordConfirm));
            State::ConfirmPassword { member, draft_phc }
        }
        // A hash with no first entry pending cannot come from the engine; ignore it.
        other => other,
    }
}
