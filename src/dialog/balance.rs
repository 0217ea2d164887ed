//! How check_jht_balance ends: the balance of one card, of a card the member names in words,
//! or of all of them with the total (SPEC §5, §5.1), and follow-ups asking for another card
//! within the verified window.

use super::answers::{self, CardChoice};
use super::format;
use super::keys::ResponseKey;
use super::outcome::Ending;
use super::reply::{Choice, Effect, Reply, Value};
use super::state::Flow;
use super::state::{CardView, MemberView, Session, State, Topic};
use super::step::{Command, Context, Message, Output, interrupt, start_flow};
use crate::clock::Timestamp;
use crate::intent::Intent;

/// How sure the classifier must be that a message after a balance means something else for
/// a card named in it to be ignored ("kalo yg dulu?" looks a little like a goodbye).
const SURE_OF_SOMETHING_ELSE: f64 = 0.7;

/// The member verified by a code within the last 10 minutes, if any.
pub(super) fn verified_member(session: &Session, now: Timestamp) -> Option<MemberView> {
    session
        .verified
        .as_ref()
        .filter(|v| v.is_current(now))
        .map(|v| v.member.clone())
}

/// Shows the balance of a verified member: the only card, or the question which one. The
/// cards are loaded first when this verification has not loaded them yet.
pub(super) fn show(member: MemberView, session: &mut Session, out: &mut Output) -> State {
    if member.cards.is_empty() {
        out.effects.push(Effect::LoadCards {
            member_id: member.id.clone(),
        });
        return State::LoadCards { member };
    }
    show_loaded(member, session, out)
}

/// The answer to `Effect::LoadCards`. The cards are also kept with the verification, so a
/// follow-up within its window ("kartu lainnya") needs no second load.
pub(super) fn on_cards_loaded(
    state: State,
    cards: Vec<CardView>,
    session: &mut Session,
    out: &mut Output,
) -> State {
    let State::LoadCards { mut member } = state else {
        // No load pending: nothing the engine could have answered.
        return state;
    };
    member.cards = cards;
    if let Some(verified) = session
        .verified
        .as_mut()
        .filter(|v| v.member.id == member.id)
    {
        verified.member.cards.clone_from(&member.cards);
    }
    show_loaded(member, session, out)
}

/// The balance of the only card, the question which one, or a handoff for a member without
/// cards.
fn show_loaded(member: MemberView, session: &mut Session, out: &mut Output) -> State {
    match member.cards.len() {
        0 => {
            out.end(Ending::Handoff);
            State::Idle
        }
        1 => show_card(&member, 0, session, out),
        _ => {
            out.reply(ask_card(&member));
            State::ChooseCard { member }
        }
    }
}

/// "Which card?": one button per card, naming its employer and whether it is current.
pub(super) fn ask_card(member: &MemberView) -> Reply {
    let choices = member
        .cards
        .iter()
        .enumerate()
        .map(|(i, card)| Choice {
            label: ResponseKey::LabelCard,
            values: vec![
                ("card", Value::Text(card.kpj.masked())),
                ("employer", Value::Text(card.employer.clone())),
                (
                    "status",
                    Value::Response(Some(if card.current {
                        ResponseKey::LabelCardCurrent
                    } else {
                        ResponseKey::LabelCardPrevious
                    })),
                ),
            ],
            payload: format!("/card {}", i + 1),
        })
        .collect();
    Reply::key(ResponseKey::AskCard).with_choices(choices)
}

/// The balance of card `index`; with several cards, a button for the others.
fn show_card(member: &MemberView, index: usize, session: &mut Session, out: &mut Output) -> State {
    let card = &member.cards[index];
    let several = member.cards.len() > 1;
    let mut reply = Reply::key(ResponseKey::JhtBalance)
        .with("card", card.kpj.masked())
        .with("employer", card.employer.clone())
        .with("balance", format::rupiah(card.balance_rupiah))
        .with("as_of", format::long_date(&card.as_of))
        .with_value(
            "note",
            Value::Response(several.then_some(ResponseKey::JhtMultipleCardsNote)),
        );
    if several {
        reply = reply.with_choices(vec![Choice {
            label: ResponseKey::LabelOtherCard,
            values: Vec::new(),
            payload: "/other_card".into(),
        }]);
    }
    out.reply(reply);
    out.completed = Some(Flow::CheckJhtBalance);
    session.topic = Some(Topic::Balance { shown: index });
    State::Idle
}

/// Every card's balance and the total.
fn show_all(member: &MemberView, session: &mut Session, out: &mut Output) -> State {
    let items = member
        .cards
        .iter()
        .map(|card| {
            vec![
                ("card", card.kpj.masked()),
                ("employer", card.employer.clone()),
                ("balance", format::rupiah(card.balance_rupiah)),
            ]
        })
        .collect();
    let total = member.cards.iter().map(|c| c.balance_rupiah).sum();
    let as_of = member
        .cards
        .iter()
        .map(|c| c.as_of.as_str())
        .min()
        .unwrap_or_default();
    out.reply(
        Reply::key(ResponseKey::JhtBalanceAll)
            .with_value(
                "cards",
                Value::Each {
                    key: ResponseKey::JhtBalanceLine,
                    items,
                },
            )
            .with("total", format::rupiah(total))
            .with("as_of", format::long_date(as_of)),
    );
    session.topic = Some(Topic::Balance { shown: 0 });
    State::Idle
}

fn show_choice(
    member: &MemberView,
    choice: CardChoice,
    shown: Option<usize>,
    session: &mut Session,
    out: &mut Output,
) -> State {
    match choice {
        CardChoice::One(index) => show_card(member, index, session, out),
        CardChoice::All => show_all(member, session, out),
        CardChoice::Other => {
            let next = shown.map_or(0, |i| (i + 1) % member.cards.len());
            show_card(member, next, session, out)
        }
    }
}

/// Reads the answer to "which card?".
pub(super) fn choose_card(
    member: MemberView,
    message: Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> State {
    match answers::card_choice(&message, &member.cards) {
        // "the other one" means nothing before one was shown.
        Some(CardChoice::Other) | None => {
            interrupt(State::ChooseCard { member }, message, session, out, ctx)
        }
        Some(choice) => show_choice(&member, choice, None, session, out),
    }
}

/// Right after a balance with several cards: "Kartu lainnya", or another card asked for in
/// words ("kalau yang lama?", "dua-duanya"), is shown without a new code while the member is
/// verified; after the window the flow starts again.
pub(super) fn follow_up(
    message: &Message,
    session: &mut Session,
    out: &mut Output,
    ctx: &Context,
) -> Option<State> {
    let Some(Topic::Balance { shown }) = session.topic else {
        return None;
    };
    let pressed = message.command == Some(Command::OtherCard);
    let member = verified_member(session, ctx.now);
    let Some(member) = member.filter(|m| m.cards.len() > 1) else {
        if pressed {
            let restart = Message {
                command: Some(Command::Intent(Intent::CheckJhtBalance)),
                ..Message::default()
            };
            return Some(start_flow(
                Flow::CheckJhtBalance,
                restart,
                session,
                out,
                ctx,
            ));
        }
        return None;
    };
    // A card named in words is read as such whatever the classifier guessed ("kalau kartu
    // yang satunya?" looks like a KPJ question to it), unless the message plainly does
    // something else; "all cards" only when nothing else was meant ("makasih semuanya").
    let something_else = matches!(
        message.intent(),
        Intent::Thanks
            | Intent::Goodbye
            | Intent::Greet
            | Intent::Cancel
            | Intent::HumanAgent
            | Intent::ForgotAccount
            | Intent::ForgotPassword
    ) && message.confidence() >= SURE_OF_SOMETHING_ELSE;
    let choice = if pressed {
        Some(CardChoice::Other)
    } else if something_else {
        None
    } else {
        answers::card_choice(message, &member.cards).filter(|choice| {
            *choice != CardChoice::All
                || matches!(
                    message.intent(),
                    Intent::OutOfScope | Intent::CheckJhtBalance | Intent::FaqMultipleCards
                )
        })
    }?;
    Some(show_choice(&member, choice, Some(shown), session, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::state::CardView;

    fn card(kpj: &str, employer: &str, current: bool) -> CardView {
        CardView {
            kpj: crate::identity::Kpj::parse(kpj).unwrap(),
            balance_rupiah: 1,
            as_of: "2026-10-31".into(),
            employer: employer.into(),
            current,
        }
    }

    #[test]
    fn card_buttons_name_the_employer_and_whether_it_is_current() {
        let member = MemberView {
            cards: vec![
                card("98765432109", "PT Maju Bersama", true),
                card("11122233344", "CV Karya Abadi", false),
            ],
            ..crate::dialog::tests::budi()
        };
        let reply = ask_card(&member);
        assert_eq!(reply.choices.len(), 2);
        assert!(
            reply.choices[1]
                .values
                .contains(&("employer", Value::Text("CV Karya Abadi".into())))
        );
        assert!(reply.choices[1].values.contains(&(
            "status",
            Value::Response(Some(ResponseKey::LabelCardPrevious))
        )));
    }
}
