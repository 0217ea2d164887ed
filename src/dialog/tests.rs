//! Unit tests of the pure dialog: every transition is driven with values (time, codes,
//! look-up results), no store, clock or HTTP.

use super::keys::ResponseKey;
use super::outcome::{Abandon, Ending, FlowOutcome};
use super::reply::{Effect, Value};
use super::state::{
    CardView, FLOW_TIMEOUT, Flow, MemberView, Session, State, StateName, VERIFIED_WINDOW,
};
use super::step::{
    Command, Context, Event, Message, PagePassword, PasswordEntry, Transition, step,
};
use crate::clock::Timestamp;
use crate::identity::{Email, Kpj, Nik, Phone};
use crate::members::MemberId;
use crate::nlu::entities;
use crate::security::lockout::{CodeEvent, Standing};
use crate::security::otp::{LOCKOUT, ServerKey};
use crate::security::page_token::{PAGE_TOKEN_TTL, PageToken};
use crate::security::password::SecretString;
use secrecy::ExposeSecret;
use std::time::Duration;

const T0: Timestamp = Timestamp(1_795_000_000_000);
const CODE: &str = "493817";

fn key() -> ServerKey {
    ServerKey::from_bytes([9; 32])
}

pub(super) fn budi() -> MemberView {
    MemberView {
        id: MemberId::from_kpj(&Kpj::parse("12345678901").unwrap()),
        nik: Some(Nik::parse("3174011203880001").unwrap()),
        kpj: Kpj::parse("12345678901").unwrap(),
        email: Some(Email::parse("budi.santoso@example.com").unwrap()),
        phone: Some(Phone::parse("081234567890").unwrap()),
        cards: vec![CardView {
            kpj: Kpj::parse("12345678901").unwrap(),
            balance_rupiah: 25_750_000,
            as_of: "2026-10-31".into(),
            employer: "PT Sinar Jaya".into(),
            current: true,
        }],
        login: "budi.santoso@example.com".into(),
    }
}

/// A text message as the engine would build it, with a chosen intent.
fn says(intent: &str, text: &str) -> Event {
    Event::Message(Message {
        intent: Some(intent.into()),
        entities: entities::extract(text),
        stray_digits: text.chars().filter(char::is_ascii_digit).count() >= 3
            && entities::extract(text).iter().all(|e| !e.is_valid()),
        ..Message::default()
    })
}

fn presses(payload: &str) -> Event {
    Event::Message(Message {
        command: Command::from_payload(payload),
        ..Message::default()
    })
}

fn types_password(text: &str) -> Event {
    Event::Message(Message {
        intent: Some("out_of_scope".into()),
        secret: Some(SecretString::from(text.to_string())),
        ..Message::default()
    })
}

fn run(session: Session, event: Event, at: Timestamp) -> Transition {
    run_as(session, event, at, Standing::default())
}

/// A step for a member whose standing (from other sessions) is `standing`; a code the step
/// asks to send is admitted, as the engine does while the member is within their limits.
fn run_as(session: Session, event: Event, at: Timestamp, standing: Standing) -> Transition {
    run_admitting(
        session,
        event,
        at,
        standing,
        true,
        CODE,
        PasswordEntry::Chat,
    )
}

/// A step in a messaging chat (Telegram, WhatsApp, LINE), where `fresh` is the token of a
/// password-page link the step may send.
fn run_on_messaging(
    session: Session,
    event: Event,
    at: Timestamp,
    fresh: &PageToken,
) -> Transition {
    let entry = PasswordEntry::Page { fresh };
    run_admitting(session, event, at, Standing::default(), true, CODE, entry)
}

/// A step, with the engine's answer to an `AdmitCode` effect (`admitted`) fed back as the
/// next step, as the engine does within one turn; replies and effects of both are joined.
fn run_admitting(
    session: Session,
    event: Event,
    at: Timestamp,
    standing: Standing,
    admitted: bool,
    fresh_code: &str,
    password_entry: PasswordEntry,
) -> Transition {
    let key = key();
    let context = Context {
        now: at,
        fresh_code,
        key: &key,
        standing,
        password_entry,
    };
    let first = step(session, event, &context);
    let mut effects = Vec::new();
    let mut request = None;
    for effect in first.effects {
        match effect {
            Effect::AdmitCode { request: asked } => request = Some(asked),
            other => effects.push(other),
        }
    }
    let Some(request) = request else {
        return Transition { effects, ..first };
    };
    let second = step(
        first.session,
        Event::CodeAdmission { admitted, request },
        &context,
    );
    let mut replies = first.replies;
    replies.extend(second.replies);
    effects.extend(second.effects);
    Transition {
        session: second.session,
        replies,
        effects,
        understood: first.understood.or(second.understood),
        outcomes: [first.outcomes, second.outcomes].concat(),
    }
}

/// A member locked at `T0` (three wrong codes in some other session).
fn locked_at_t0() -> Standing {
    Standing::default().after(
        CodeEvent::Lock {
            until: T0.plus(LOCKOUT),
        },
        T0,
    )
}

fn keys(t: &Transition) -> Vec<&str> {
    t.replies.iter().map(|r| r.key.as_str()).collect()
}

/// The member's limits refused: `rate_limited`, nothing done, the flow over.
fn assert_refused_by_limits(t: &Transition) {
    assert_eq!(keys(t), ["rate_limited"]);
    assert!(t.effects.is_empty(), "{:?}", t.effects);
    assert_eq!(t.session.state, State::Idle);
}

/// Drives forgot_account for Budi (phone and e-mail) up to the choice of the code's channel.
fn choosing_channel_for_account() -> Transition {
    let t = run(Session::new(T0), says("forgot_account", "lupa akun"), T0);
    let t = run(
        t.session,
        says("out_of_scope", "12345678901 3174011203880001"),
        T0,
    );
    run(t.session, Event::LookedUp(Some(budi())), T0)
}

/// Drives forgot_password for Budi up to the look-up of his e-mail and KPJ.
fn looking_up_for_password_reset() -> Session {
    let t = run(
        Session::new(T0),
        says("forgot_password", "lupa password"),
        T0,
    );
    let t = run(
        t.session,
        says("out_of_scope", "budi.santoso@example.com 12345678901"),
        T0,
    );
    assert!(matches!(t.effects[..], [Effect::LookUpByEmailKpj { .. }]));
    t.session
}

/// Drives forgot_password for Budi up to the code being sent.
fn code_sent_for_password_reset() -> Session {
    let t = run(
        looking_up_for_password_reset(),
        Event::LookedUp(Some(budi())),
        T0,
    );
    assert_eq!(keys(&t), ["otp_sent"]);
    t.session
}

#[test]
fn values_given_in_the_first_message_skip_the_questions() {
    let t = run(
        Session::new(T0),
        says(
            "forgot_account",
            "lupa akun, kpj 12345678901 nik 3174011203880001",
        ),
        T0,
    );
    assert!(t.replies.is_empty(), "{:?}", keys(&t));
    assert!(matches!(t.effects[..], [Effect::LookUpByKpjNik { .. }]));
}

#[test]
fn one_value_missing_asks_only_for_that_one() {
    let t = run(
        Session::new(T0),
        says("forgot_account", "lupa akun kpj 12345678901"),
        T0,
    );
    assert_eq!(keys(&t), ["ask_nik"]);
    let t = run(t.session, says("out_of_scope", "nik 12345"), T0);
    assert_eq!(keys(&t), ["invalid_nik"]);
}

#[test]
fn a_member_with_phone_and_email_chooses_and_sees_only_masked_destinations() {
    let t = choosing_channel_for_account();
    assert_eq!(keys(&t), ["ask_otp_channel"]);
    let shown = format!("{:?}", t.replies);
    assert!(shown.contains("0812****7890") && shown.contains("b***@example.com"));
    assert!(!shown.contains("081234567890") && !shown.contains("budi.santoso@"));
    let t = run(t.session, presses("/otp_channel sms"), T0);
    assert_eq!(keys(&t), ["otp_sent"]);
    assert!(matches!(t.effects[..], [Effect::SendCode { .. }]));
}

#[test]
fn not_found_three_times_hands_over() {
    let mut session = run(Session::new(T0), says("forgot_account", "lupa akun"), T0).session;
    for attempt in 1..=3 {
        let t = run(
            session,
            says("out_of_scope", "kpj 11111111111 nik 3174011203880001"),
            T0,
        );
        let t = run(t.session, Event::LookedUp(None), T0);
        if attempt < 3 {
            assert_eq!(keys(&t), ["account_not_found"]);
        } else {
            assert_eq!(keys(&t), ["account_not_found", "handoff"]);
            assert_eq!(t.session.state, State::Idle);
        }
        session = t.session;
    }
}

#[test]
fn three_wrong_codes_lock_the_member_and_hand_over() {
    let mut session = code_sent_for_password_reset();
    for left in [2, 1] {
        let t = run(session, says("out_of_scope", "000000"), T0);
        assert_eq!(keys(&t), ["otp_invalid"]);
        assert!(format!("{:?}", t.replies[0].values).contains(&left.to_string()));
        session = t.session;
    }
    let t = run(session, says("out_of_scope", "111111"), T0);
    assert_eq!(keys(&t), ["otp_locked", "handoff"]);
    match &t.effects[..] {
        [
            Effect::Code {
                event: CodeEvent::Lock { until },
                ..
            },
        ] => assert_eq!(*until, T0.plus(LOCKOUT)),
        other => panic!("expected a lock, got {other:?}"),
    }
}

#[test]
fn every_wrong_code_is_recorded_for_the_member_and_a_right_one_clears_them() {
    let session = code_sent_for_password_reset();
    let t = run(session, says("out_of_scope", "000000"), T0);
    assert!(matches!(
        t.effects[..],
        [Effect::Code {
            event: CodeEvent::Wrong,
            ..
        }]
    ));
    let t = run(t.session, says("out_of_scope", CODE), T0);
    assert!(matches!(
        t.effects[..],
        [Effect::Code {
            event: CodeEvent::Accepted,
            ..
        }]
    ));
}

#[test]
fn wrong_codes_typed_in_other_sessions_count_towards_the_lock() {
    let two_wrong = Standing::default()
        .after(CodeEvent::Wrong, T0)
        .after(CodeEvent::Wrong, T0);
    let session = code_sent_for_password_reset();
    let t = run_as(session, says("out_of_scope", "000000"), T0, two_wrong);
    assert_eq!(keys(&t), ["otp_locked", "handoff"]);
    assert_eq!(t.session.state, State::Idle);
    let one_wrong = Standing::default().after(CodeEvent::Wrong, T0);
    let session = code_sent_for_password_reset();
    let t = run_as(session, says("out_of_scope", "000000"), T0, one_wrong);
    assert_eq!(keys(&t), ["otp_invalid"]);
    assert!(
        format!("{:?}", t.replies[0].values).contains('1'),
        "one try left in all: {:?}",
        t.replies[0].values
    );
}

#[test]
fn the_right_code_is_refused_while_the_member_is_locked_by_another_session() {
    let session = code_sent_for_password_reset();
    let t = run_as(session, says("out_of_scope", CODE), T0, locked_at_t0());
    assert_eq!(keys(&t), ["otp_locked", "handoff"]);
    assert!(t.effects.is_empty(), "not even checked: {:?}", t.effects);
    assert_eq!(t.session.state, State::Idle);
}

#[test]
fn no_code_is_resent_or_switched_while_the_member_is_locked() {
    let later = T0.plus(Duration::from_secs(61));
    for payload in ["/resend_otp", "/otp_channel sms"] {
        let t = choosing_channel_for_account();
        let t = run(t.session, presses("/otp_channel email"), T0);
        assert_eq!(keys(&t), ["otp_sent"]);
        let t = run_as(t.session, presses(payload), later, locked_at_t0());
        assert_eq!(keys(&t), ["otp_locked", "handoff"], "{payload}");
        assert!(t.effects.is_empty(), "{payload}: {:?}", t.effects);
    }
}

#[test]
fn a_member_parked_at_the_channel_choice_gets_no_code_while_locked() {
    let t = choosing_channel_for_account();
    assert_eq!(keys(&t), ["ask_otp_channel"]);
    let t = run_as(t.session, presses("/otp_channel sms"), T0, locked_at_t0());
    assert_eq!(keys(&t), ["otp_locked", "handoff"]);
    assert!(t.effects.is_empty(), "{:?}", t.effects);
}

#[test]
fn a_resend_does_not_give_back_the_tries_already_made() {
    let mut session = code_sent_for_password_reset();
    for _ in 0..2 {
        session = run(session, says("out_of_scope", "000000"), T0).session;
    }
    let later = T0.plus(Duration::from_secs(61));
    let t = run(session, presses("/resend_otp"), later);
    assert_eq!(keys(&t), ["otp_sent"]);
    let t = run(t.session, says("out_of_scope", "000000"), later);
    assert_eq!(keys(&t), ["otp_locked", "handoff"]);
}

#[test]
fn a_locked_member_is_refused_before_any_code_is_sent() {
    let t = run_as(
        looking_up_for_password_reset(),
        Event::LookedUp(Some(budi())),
        T0,
        locked_at_t0(),
    );
    assert_eq!(keys(&t), ["otp_locked", "handoff"]);
    assert!(t.effects.is_empty());
}

#[test]
fn a_code_expires_after_five_minutes_and_can_be_resent() {
    let session = code_sent_for_password_reset();
    let later = T0.plus(Duration::from_secs(5 * 60 + 1));
    let t = run(session, says("out_of_scope", CODE), later);
    assert_eq!(keys(&t), ["otp_expired"]);
    let t = run(t.session, presses("/resend_otp"), later);
    assert_eq!(keys(&t), ["otp_sent"]);
    let t = run(t.session, says("out_of_scope", CODE), later);
    assert_eq!(keys(&t), ["ask_new_password"]);
}

#[test]
fn a_resend_within_a_minute_is_refused_with_the_wait() {
    let session = code_sent_for_password_reset();
    let t = run(
        session,
        presses("/resend_otp"),
        T0.plus(Duration::from_secs(20)),
    );
    assert_eq!(keys(&t), ["otp_resend_wait"]);
    assert!(format!("{:?}", t.replies[0].values).contains("\"40 detik\""));
}

#[test]
fn a_weak_password_lists_its_reasons_and_a_good_one_is_set() {
    let session = code_sent_for_password_reset();
    let t = run(session, says("out_of_scope", CODE), T0);
    let t = run(t.session, types_password("xbudi.santoso1"), T0);
    assert_eq!(keys(&t), ["password_weak"]);
    let reasons = vec![
        ResponseKey::PasswordRuleUpper,
        ResponseKey::PasswordRulePersonal,
    ];
    assert_eq!(t.replies[0].values, [("reasons", Value::Lines(reasons))]);
    let t = run(t.session, types_password("Kuat#Sekali2026"), T0);
    assert_eq!(keys(&t), ["password_changed"]);
    assert!(matches!(t.effects[..], [Effect::SetPassword { .. }]));
    assert_eq!(t.session.state, State::Idle);
    assert_eq!(t.outcomes, [FlowOutcome::Completed(Flow::ForgotPassword)]);
}

/// The second entry of a new password, as the engine hands it over after checking it against
/// the first entry's hash.
fn types_confirmation(text: &str, matches: bool) -> Event {
    Event::Message(Message {
        intent: Some("out_of_scope".into()),
        secret: Some(SecretString::from(text.to_string())),
        confirms_draft: matches,
        ..Message::default()
    })
}

#[test]
fn the_first_password_is_kept_only_as_an_argon2id_hash_between_the_two_entries() {
    let t = run(
        Session::new(T0),
        says(
            "forgot_account",
            "lupa akun kpj 12345678901 nik 3174011203880001",
        ),
        T0,
    );
    let mut only_email = budi();
    only_email.phone = None;
    let t = run(t.session, Event::LookedUp(Some(only_email)), T0);
    let t = run(t.session, says("out_of_scope", CODE), T0);
    let t = run(t.session, types_password("Rahasia#Baru2026"), T0);
    assert!(t.replies.is_empty(), "{:?}", keys(&t));
    match &t.effects[..] {
        [Effect::HashPasswordDraft { password }] => {
            assert_eq!(password.expose_secret(), "Rahasia#Baru2026");
        }
        other => panic!("expected the draft to be hashed, got {other:?}"),
    }
    let stored = serde_json::to_string(&t.session).unwrap();
    assert!(!stored.contains("Rahasia#Baru2026"));
    let t = run(
        t.session,
        Event::PasswordHashed("$argon2id$first".into()),
        T0,
    );
    assert_eq!(keys(&t), ["ask_password_confirm"]);
    let stored = serde_json::to_string(&t.session).unwrap();
    assert!(!stored.contains("Rahasia#Baru2026"));
    assert!(stored.contains("$argon2id$first"), "{stored}");

    let t = run(
        t.session.clone(),
        types_confirmation("Rahasia#Lain2026", false),
        T0,
    );
    assert_eq!(keys(&t), ["password_mismatch"]);
    assert!(t.effects.is_empty());
    assert!(
        !serde_json::to_string(&t.session)
            .unwrap()
            .contains("$argon2id$first")
    );
    let t = run(t.session, types_password("Rahasia#Baru2026"), T0);
    let t = run(
        t.session,
        Event::PasswordHashed("$argon2id$again".into()),
        T0,
    );
    let t = run(t.session, types_confirmation("Rahasia#Baru2026", true), T0);
    assert_eq!(keys(&t), ["account_recovered"]);
    assert!(format!("{:?}", t.replies[0].values).contains("budi.santoso@example.com"));
    match &t.effects[..] {
        [Effect::SetPasswordHash { phc, .. }] => assert_eq!(phc, "$argon2id$again"),
        other => panic!("expected the draft's hash to be stored, got {other:?}"),
    }
}

#[test]
fn an_faq_in_a_flow_is_answered_and_the_question_asked_again() {
    let t = run(Session::new(T0), says("check_jht_balance", "cek saldo"), T0);
    let t = run(
        t.session,
        says("faq_branch_office", "kantor cabang dimana"),
        T0,
    );
    assert_eq!(keys(&t), ["faq_branch_office", "ask_kpj_nik"]);
    assert!(matches!(t.session.state, State::CollectKpjNik { .. }));
}

#[test]
fn cancel_ends_the_flow_at_any_step() {
    let session = code_sent_for_password_reset();
    let t = run(session, says("cancel", "batal"), T0);
    assert_eq!(keys(&t), ["cancelled"]);
    assert_eq!(t.session.state, State::Idle);
    let abandoned = FlowOutcome::Abandoned(Flow::ForgotPassword, Abandon::Cancelled);
    assert_eq!(t.outcomes, [abandoned]);
}

/// A step that ends a flow twice over (refused, then handed over) reports the first reason
/// in precedence, and says both.
#[test]
fn the_first_ending_in_precedence_is_the_reason() {
    let mut out = super::step::Output::default();
    out.end(Ending::Handoff);
    out.end(Ending::RateLimited);
    assert_eq!(out.ended, Some(Ending::RateLimited));
    assert!(out.said(ResponseKey::Handoff) && out.said(ResponseKey::RateLimited));
    out.end(Ending::Cancelled);
    assert_eq!(out.ended, Some(Ending::Cancelled));
}

#[test]
fn another_flow_abandons_the_current_one() {
    let session = code_sent_for_password_reset();
    let t = run(
        session,
        says("check_jht_balance", "cek saldo jht aja deh"),
        T0,
    );
    assert_eq!(keys(&t), ["ask_kpj_nik"]);
    let switched = [
        FlowOutcome::Started(Flow::CheckJhtBalance),
        FlowOutcome::Abandoned(Flow::ForgotPassword, Abandon::Switched),
    ];
    assert_eq!(t.outcomes, switched);
}

#[test]
fn a_flow_left_for_fifteen_minutes_expires() {
    let session = code_sent_for_password_reset();
    let later = T0.plus(FLOW_TIMEOUT + Duration::from_secs(1));
    let t = run(session, says("out_of_scope", CODE), later);
    assert_eq!(keys(&t), ["session_expired"]);
    assert_eq!(t.session.state, State::Idle);
    let expired = FlowOutcome::Abandoned(Flow::ForgotPassword, Abandon::Expired);
    assert_eq!(t.outcomes, [expired]);
}

#[test]
fn two_fallbacks_in_a_row_hand_over() {
    let t = run(Session::new(T0), says("out_of_scope", "asdf"), T0);
    assert_eq!(keys(&t), ["fallback"]);
    let t = run(t.session, says("out_of_scope", "qwerty"), T0);
    assert_eq!(keys(&t), ["fallback", "handoff"]);
    let t = run(t.session, says("out_of_scope", "zxcv"), T0);
    assert_eq!(keys(&t), ["fallback"]);
}

/// Budi asks for his balance and proves it with the code by e-mail, at `T0`.
fn balance_verified_at_t0() -> Transition {
    let t = run(
        Session::new(T0),
        says(
            "check_jht_balance",
            "saldo kpj 12345678901 nik 3174011203880001",
        ),
        T0,
    );
    let t = run(t.session, Event::LookedUp(Some(budi())), T0);
    let t = run(t.session, presses("/otp_channel email"), T0);
    run(t.session, says("out_of_scope", CODE), T0)
}

#[test]
fn cards_are_loaded_only_after_the_code_and_kept_for_the_verified_window() {
    let looked_up = MemberView {
        cards: Vec::new(),
        ..budi()
    };
    let t = run(
        Session::new(T0),
        says(
            "check_jht_balance",
            "saldo kpj 12345678901 nik 3174011203880001",
        ),
        T0,
    );
    let t = run(t.session, Event::LookedUp(Some(looked_up)), T0);
    assert!(
        !t.effects
            .iter()
            .any(|e| matches!(e, Effect::LoadCards { .. })),
        "no balance is asked for before the code"
    );
    let t = run(t.session, presses("/otp_channel email"), T0);
    let t = run(t.session, says("out_of_scope", CODE), T0);
    assert!(keys(&t).is_empty(), "{:?}", keys(&t));
    assert_eq!(t.session.state.name(), StateName::LoadCards);
    assert!(
        t.effects
            .iter()
            .any(|e| matches!(e, Effect::LoadCards { member_id } if *member_id == budi().id))
    );
    let t = run(t.session, Event::CardsLoaded(budi().cards), T0);
    assert_eq!(keys(&t), ["jht_balance"]);
    let soon = T0.plus(Duration::from_secs(60));
    let t = run(t.session, says("check_jht_balance", "cek saldo lagi"), soon);
    assert_eq!(
        keys(&t),
        ["jht_balance"],
        "no second load within the window"
    );
    assert!(
        t.effects
            .iter()
            .all(|e| !matches!(e, Effect::LoadCards { .. }))
    );
}

#[test]
fn a_verified_member_checks_again_without_a_code_within_ten_minutes() {
    let t = balance_verified_at_t0();
    assert_eq!(keys(&t), ["jht_balance"]);
    let soon = T0.plus(Duration::from_secs(9 * 60));
    let t = run(t.session, says("check_jht_balance", "cek saldo lagi"), soon);
    assert_eq!(keys(&t), ["jht_balance"]);
    // Started and completed in one step: the flow never waited on the member.
    let at_once = [
        FlowOutcome::Started(Flow::CheckJhtBalance),
        FlowOutcome::Completed(Flow::CheckJhtBalance),
    ];
    assert_eq!(t.outcomes, at_once);
    let late = soon.plus(VERIFIED_WINDOW);
    let t = run(t.session, says("check_jht_balance", "cek saldo lagi"), late);
    assert_eq!(keys(&t), ["ask_kpj_nik"]);
}

#[test]
fn the_verified_member_is_forgotten_at_the_first_turn_after_the_window() {
    let t = balance_verified_at_t0();
    assert!(t.session.verified.is_some());
    let within = run(
        t.session.clone(),
        says("thanks", "makasih"),
        T0.plus(VERIFIED_WINDOW / 2),
    );
    assert!(within.session.verified.is_some());
    let after = run(
        t.session,
        says("thanks", "makasih"),
        T0.plus(VERIFIED_WINDOW),
    );
    assert_eq!(
        after.session.verified, None,
        "the member record is not kept past its use"
    );
}

#[test]
fn payloads_name_commands_or_intents() {
    assert_eq!(Command::from_payload("/card 2"), Some(Command::Card(2)));
    assert_eq!(Command::from_payload("/card 0"), None);
    assert_eq!(
        Command::from_payload("/faq_housing"),
        Some(Command::Intent("faq_housing".into()))
    );
    assert_eq!(Command::from_payload("/Bad Payload!"), None);
    assert_eq!(Command::from_payload("halo"), None);
}

#[test]
fn a_look_up_over_the_member_limit_is_refused_and_ends_the_flow() {
    for (intent, text) in [
        (
            "forgot_account",
            "lupa akun kpj 12345678901 nik 3174011203880001",
        ),
        (
            "forgot_password",
            "lupa pw budi.santoso@example.com 12345678901",
        ),
    ] {
        let t = run(Session::new(T0), says(intent, text), T0);
        assert!(
            matches!(
                t.effects.as_slice(),
                [Effect::LookUpByKpjNik { .. } | Effect::LookUpByEmailKpj { .. }]
            ),
            "{:?}",
            t.effects
        );
        let t = run(t.session, Event::LookUpRefused, T0);
        assert_refused_by_limits(&t);
    }
}

#[test]
fn a_code_over_the_member_limit_is_not_sent() {
    let t = choosing_channel_for_account();
    let t = run_admitting(
        t.session,
        presses("/otp_channel sms"),
        T0,
        Standing::default(),
        false,
        CODE,
        PasswordEntry::Chat,
    );
    assert_refused_by_limits(&t);
}

#[test]
fn a_resend_over_the_member_limit_keeps_the_code_already_sent() {
    let session = code_sent_for_password_reset();
    let later = Timestamp(T0.0 + 61_000);
    let t = run_admitting(
        session,
        presses("/resend_otp"),
        later,
        Standing::default(),
        false,
        "111111",
        PasswordEntry::Chat,
    );
    assert_eq!(keys(&t), ["rate_limited"]);
    assert!(t.effects.is_empty());
    let t = run(t.session, says("out_of_scope", CODE), later);
    assert_eq!(keys(&t), ["ask_new_password"], "the first code still works");
}

// ---------------------------------------------------------------------------------------
// Messaging channels: the password page instead of a password typed into the chat

/// Drives forgot_password in a messaging chat up to the page's link, sent for `fresh`.
fn link_sent_for_password_reset(fresh: &PageToken) -> Transition {
    let session = code_sent_for_password_reset();
    run_on_messaging(session, says("out_of_scope", CODE), T0, fresh)
}

#[test]
fn in_a_messaging_chat_a_valid_code_sends_the_page_link_instead_of_asking_for_the_password() {
    let fresh = PageToken::generate();
    let t = link_sent_for_password_reset(&fresh);
    assert_eq!(keys(&t), ["password_link_sent"]);
    assert!(
        t.replies[0]
            .values
            .contains(&("link", Value::PageLink(fresh.clone()))),
        "{:?}",
        t.replies[0].values
    );
    assert!(matches!(
        t.session.state,
        State::AwaitPasswordPage {
            flow: Flow::ForgotPassword,
            ..
        }
    ));
    let offered = t.effects.iter().find_map(|effect| match effect {
        Effect::OfferPasswordPage {
            token,
            member_id,
            flow,
            expires_at,
        } => Some((*token, member_id.clone(), *flow, *expires_at)),
        _ => None,
    });
    assert_eq!(
        offered,
        Some((
            fresh.hash(&key()),
            budi().id,
            Flow::ForgotPassword,
            T0.plus(PAGE_TOKEN_TTL)
        )),
        "only the token's hash is kept, bound to the member and the flow"
    );
}

#[test]
fn the_web_chat_still_asks_for_the_password_in_the_chat() {
    let session = code_sent_for_password_reset();
    let t = run(session, says("out_of_scope", CODE), T0);
    assert_eq!(keys(&t), ["ask_new_password"]);
    assert!(
        !t.effects
            .iter()
            .any(|e| matches!(e, Effect::OfferPasswordPage { .. }))
    );
}

#[test]
fn a_password_typed_into_the_chat_while_the_page_is_open_is_refused_unread() {
    let fresh = PageToken::generate();
    let t = link_sent_for_password_reset(&fresh);
    let t = run_on_messaging(t.session, types_password("Rahasia#Baru2026"), T0, &fresh);
    assert_eq!(keys(&t), ["password_not_in_chat", "password_link_pending"]);
    assert!(t.effects.is_empty(), "nothing stored: {:?}", t.effects);
    assert!(
        !format!("{:?}", t.replies).contains("Rahasia"),
        "never echoed"
    );
    assert!(t.session.state.awaits_password_page());
}

#[test]
fn asking_again_sends_a_new_link_for_a_new_token() {
    let first = PageToken::generate();
    let t = link_sent_for_password_reset(&first);
    for payload in ["/resend_link", "/resend_otp"] {
        let again = PageToken::generate();
        let t = run_on_messaging(t.session.clone(), presses(payload), T0, &again);
        assert_eq!(keys(&t), ["password_link_sent"], "{payload}");
        assert!(matches!(
            t.effects[..],
            [Effect::OfferPasswordPage { token, .. }] if token == again.hash(&key())
        ));
        assert!(t.session.state.awaits_password_page());
    }
}

#[test]
fn cancelling_while_the_page_is_open_withdraws_the_link() {
    let fresh = PageToken::generate();
    let t = link_sent_for_password_reset(&fresh);
    let t = run_on_messaging(t.session, says("cancel", "batal"), T0, &fresh);
    assert_eq!(keys(&t), ["cancelled"]);
    assert!(matches!(t.effects[..], [Effect::WithdrawPasswordPage]));
    assert_eq!(t.session.state, State::Idle);
}

#[test]
fn a_question_while_the_page_is_open_is_answered_and_the_wait_recalled() {
    let fresh = PageToken::generate();
    let t = link_sent_for_password_reset(&fresh);
    let t = run_on_messaging(
        t.session,
        says("faq_branch_office", "kantor cabang dimana"),
        T0,
        &fresh,
    );
    assert_eq!(keys(&t), ["faq_branch_office", "password_link_pending"]);
    assert!(t.effects.is_empty());
    assert!(t.session.state.awaits_password_page());
}

#[test]
fn the_page_s_password_ends_the_flow_as_the_chat_would() {
    let fresh = PageToken::generate();
    let t = link_sent_for_password_reset(&fresh);
    let page = PagePassword {
        member: budi().id,
        flow: Flow::ForgotPassword,
        phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    let t = run_on_messaging(t.session, Event::PasswordFromPage(page), T0, &fresh);
    assert_eq!(keys(&t), ["password_changed"]);
    assert!(matches!(
        &t.effects[..],
        [Effect::SetPasswordHash { member_id, phc }, Effect::WithdrawPasswordPage]
            if *member_id == budi().id && phc.starts_with("$argon2id$")
    ));
    assert_eq!(t.session.state, State::Idle);

    // Once the flow is over, another page password changes nothing.
    let stale = PagePassword {
        member: budi().id,
        flow: Flow::ForgotPassword,
        phc: "$argon2id$stale".into(),
    };
    let t = run_on_messaging(t.session, Event::PasswordFromPage(stale), T0, &fresh);
    assert!(t.replies.is_empty() && t.effects.is_empty());
}

#[test]
fn forgot_account_on_the_page_names_the_account_as_the_chat_would() {
    let fresh = PageToken::generate();
    let t = choosing_channel_for_account();
    let t = run(t.session, presses("/otp_channel email"), T0);
    let t = run_on_messaging(t.session, says("out_of_scope", CODE), T0, &fresh);
    assert_eq!(keys(&t), ["password_link_sent"]);
    let page = PagePassword {
        member: budi().id,
        flow: Flow::ForgotAccount,
        phc: "$argon2id$x".into(),
    };
    let t = run_on_messaging(t.session, Event::PasswordFromPage(page), T0, &fresh);
    assert_eq!(keys(&t), ["account_recovered"]);
    assert!(format!("{:?}", t.replies[0].values).contains("budi.santoso@example.com"));
}
