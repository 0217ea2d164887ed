//! Every response key the engine can send, with the placeholders each may contain, and the
//! words of the password page. `tanya check` and start-up verify that `intents/` defines all
//! of them (SPEC §5).

use crate::nlu::concepts::Concept;

/// (response key, allowed placeholders).
pub const RESPONSE_KEYS: &[(&str, &[&str])] = &[
    // common
    ("greet", &["salam"]),
    ("help_menu", &[]),
    ("thanks", &[]),
    ("goodbye", &[]),
    ("cancelled", &[]),
    ("fallback", &[]),
    ("handoff", &[]),
    ("session_expired", &[]),
    ("rate_limited", &[]),
    ("non_text", &[]),
    ("private_chat_only", &[]),
    ("greet_salam", &[]),
    ("acknowledged", &[]),
    ("empathy", &[]),
    ("clarify_forgot", &[]),
    ("offer_next", &["topic"]),
    ("service_unavailable", &[]),
    // waiting states
    ("awaiting", &["what"]),
    ("awaiting_code", &[]),
    ("awaiting_kpj_nik", &[]),
    ("awaiting_email_kpj", &[]),
    ("awaiting_channel", &[]),
    ("awaiting_card", &[]),
    ("awaiting_password_page", &[]),
    // identity
    ("ask_kpj_nik", &[]),
    ("ask_kpj", &[]),
    ("ask_nik", &[]),
    ("invalid_kpj", &[]),
    ("invalid_nik", &[]),
    ("ask_email_kpj", &[]),
    ("ask_email", &[]),
    ("invalid_email", &[]),
    ("account_not_found", &[]),
    ("suggest_forgot_account", &[]),
    // one-time codes
    ("ask_otp_channel", &["phone", "email"]),
    ("otp_sent", &["destination", "minutes"]),
    ("ask_otp", &[]),
    ("otp_invalid", &["attempts_left"]),
    ("otp_expired", &[]),
    ("otp_locked", &["minutes"]),
    ("otp_resend_wait", &["wait"]),
    ("otp_not_received", &["destination"]),
    ("no_whatsapp_code", &[]),
    // production code delivery gave up on a code (SPEC §12)
    ("code_undelivered", &["destination"]),
    // the SMS / e-mail carrying a code
    ("code_message", &["code", "minutes"]),
    ("code_email_subject", &[]),
    // demo mode on a messaging channel: that SMS / e-mail shown in the chat
    ("demo_code_sms", &["destination", "message"]),
    ("demo_code_email", &["destination", "message"]),
    // passwords
    ("ask_new_password", &[]),
    ("password_weak", &["reasons"]),
    ("password_rule_length", &[]),
    ("password_rule_upper", &[]),
    ("password_rule_lower", &[]),
    ("password_rule_digit", &[]),
    ("password_rule_symbol", &[]),
    ("password_rule_personal", &[]),
    ("ask_password_confirm", &[]),
    ("password_mismatch", &[]),
    ("password_changed", &[]),
    // messaging channels: the password page instead of a password typed into the chat
    ("password_link_sent", &["link", "minutes"]),
    ("password_link_pending", &[]),
    ("password_not_in_chat", &[]),
    // flow endings
    ("account_recovered", &["login"]),
    ("ask_card", &[]),
    (
        "jht_balance",
        &["card", "employer", "balance", "as_of", "note"],
    ),
    ("jht_balance_all", &["cards", "total", "as_of"]),
    ("jht_balance_line", &["card", "employer", "balance"]),
    ("jht_multiple_cards_note", &[]),
    // button labels
    ("label_sms", &["phone"]),
    ("label_email", &["email"]),
    ("label_card", &["card", "employer", "status"]),
    ("label_card_current", &[]),
    ("label_card_previous", &[]),
    ("label_other_card", &[]),
    ("label_resend", &[]),
    ("label_human", &[]),
    ("label_topic", &["topic"]),
    ("label_resend_link", &[]),
    // messaging channels: the button that opens a WhatsApp list of choices
    ("label_list_button", &[]),
    // the password page itself (`http::password_page`): words of a web page, not chat messages
    ("page_title", &[]),
    ("page_intro", &["minutes"]),
    ("page_rules_title", &[]),
    ("page_label_new", &[]),
    ("page_label_confirm", &[]),
    ("page_submit", &[]),
    ("page_errors_title", &[]),
    ("page_mismatch", &[]),
    ("page_done_title", &[]),
    ("page_done_text", &[]),
    ("page_gone_title", &[]),
    ("page_gone_text", &[]),
    ("page_error_title", &[]),
];

/// The concepts of `intents/lexicon/answers.toml` the readers look for.
const CONCEPT_NAMES: [&str; Concept::ALL.len()] = {
    let mut names = [""; Concept::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Concept::ALL[i].name();
        i += 1;
    }
    names
};

/// What the content must provide for this engine.
pub fn requirements() -> crate::content::Requirements<'static> {
    crate::content::Requirements {
        response_keys: RESPONSE_KEYS,
        concepts: &CONCEPT_NAMES,
        understands_payload,
    }
}

/// Whether the dialog acts on `payload`: one of its commands, or an intent the content defines.
fn understands_payload(payload: &str, is_intent: &dyn Fn(&str) -> bool) -> bool {
    match super::step::Command::from_payload(payload) {
        Some(super::step::Command::Intent(name)) => is_intent(&name),
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::RESPONSE_KEYS;

    #[test]
    fn a_misspelt_button_or_command_payload_is_a_content_error_with_its_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("greet.toml"),
            "examples = [\"halo\"]\n\n[responses.greet]\ntext = [\"Halo\"]\nbuttons = [\n  { title = \"Lupa akun\", payload = \"/forgot_acount\" },\n  { title = \"Kode\", payload = \"/otp_channel fax\" },\n  { title = \"Sapa\", payload = \"/greet\" },\n]\n",
        )
        .expect("intent file");
        std::fs::create_dir(dir.path().join("lexicon")).expect("lexicon dir");
        std::fs::write(
            dir.path().join("lexicon/commands.toml"),
            "[commands]\n\"kirim ulang\" = \"/resend_otp\"\n\"ulang dong\" = \"/resend_code\"\n",
        )
        .expect("lexicon file");
        let errors = crate::content::load(dir.path(), &super::requirements())
            .expect_err("invalid content")
            .to_string();
        let payload_errors: Vec<&str> = errors
            .lines()
            .filter(|line| line.contains("no command the dialog knows"))
            .collect();
        assert_eq!(payload_errors.len(), 3, "{errors}");
        assert!(
            payload_errors[0].contains("greet.toml:3"),
            "the response's line: {errors}"
        );
        assert!(payload_errors[0].contains("/forgot_acount"), "{errors}");
        assert!(
            payload_errors
                .iter()
                .any(|e| e.contains("/otp_channel fax")),
            "{errors}"
        );
        assert!(
            payload_errors
                .iter()
                .any(|e| e.contains("commands.toml:3") && e.contains("/resend_code")),
            "{errors}"
        );
    }

    fn declared(key: &str) -> bool {
        RESPONSE_KEYS.iter().any(|(k, _)| *k == key)
    }

    /// Every literal key the dialog passes to `Reply::key`, a choice `label` or a note must
    /// be declared above, or `tanya check` could pass content that lacks it.
    #[test]
    fn every_key_used_by_the_dialog_is_declared() {
        let sources = [
            include_str!("step.rs"),
            include_str!("identity.rs"),
            include_str!("code.rs"),
            include_str!("password.rs"),
            include_str!("balance.rs"),
        ];
        let mut used = Vec::new();
        for source in sources {
            for marker in [
                "Reply::key(\"",
                "label: \"",
                "then_some(\"",
                "Response(Some(\"",
            ] {
                for piece in source.split(marker).skip(1) {
                    used.push(piece.split('"').next().unwrap_or_default());
                }
            }
        }
        assert!(used.len() > 20, "the scan found too few keys: {used:?}");
        for key in used {
            assert!(
                declared(key),
                "{key} is used but not declared in RESPONSE_KEYS"
            );
        }
    }

    #[test]
    fn the_code_message_the_engine_sends_is_declared() {
        assert!(include_str!("../engine/effects.rs").contains("\"code_message\""));
        assert!(declared("code_message"));
    }
}
