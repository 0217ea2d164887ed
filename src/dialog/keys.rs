//! Every response key the engine can send, with the placeholders each may contain. `tanya
//! check` and start-up verify that `intents/` defines all of them (SPEC §5).

/// (response key, allowed placeholders).
pub const RESPONSE_KEYS: &[(&str, &[&str])] = &[
    // common
    ("greet", &[]),
    ("help_menu", &[]),
    ("thanks", &[]),
    ("goodbye", &[]),
    ("cancelled", &[]),
    ("fallback", &[]),
    ("handoff", &[]),
    ("session_expired", &[]),
    ("rate_limited", &[]),
    ("non_text", &[]),
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
    // one-time codes
    ("ask_otp_channel", &["phone", "email"]),
    ("otp_sent", &["destination", "minutes"]),
    ("ask_otp", &[]),
    ("otp_invalid", &["attempts_left"]),
    ("otp_expired", &[]),
    ("otp_locked", &["minutes"]),
    ("otp_resend_wait", &["wait"]),
    // the SMS / e-mail carrying a code
    ("code_message", &["code", "minutes"]),
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
    // flow endings
    ("account_recovered", &["login"]),
    ("ask_card", &[]),
    ("jht_balance", &["card", "balance", "as_of", "note"]),
    ("jht_multiple_cards_note", &[]),
    // button labels
    ("label_sms", &["phone"]),
    ("label_email", &["email"]),
    ("label_card", &["card"]),
    // messaging channels: the button that opens a WhatsApp list of choices
    ("label_list_button", &[]),
];

/// What the content must provide for this engine.
pub fn requirements() -> crate::content::Requirements<'static> {
    crate::content::Requirements {
        response_keys: RESPONSE_KEYS,
    }
}

#[cfg(test)]
mod tests {
    use super::RESPONSE_KEYS;

    fn declared(key: &str) -> bool {
        RESPONSE_KEYS.iter().any(|(k, _)| *k == key)
    }

    /// Every literal key the dialog passes to `Reply::key`, a choice `label` or a note must
    /// be declared above, or `tanya check` could pass content that lacks it.
    #[test]
    fn every_key_used_by_the_dialog_is_declared() {
        let source = include_str!("step.rs");
        let mut used = Vec::new();
        for marker in ["Reply::key(\"", "label: \"", "then_some(\""] {
            for piece in source.split(marker).skip(1) {
                used.push(piece.split('"').next().unwrap_or_default());
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
        assert!(include_str!("../engine.rs").contains("\"code_message\""));
        assert!(declared("code_message"));
    }
}
