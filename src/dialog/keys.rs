//! Every response key the engine can send (`ResponseKey`), with the placeholders each may
//! contain, and the words of the password page. `tanya check` and start-up verify that
//! `intents/` defines all of them (SPEC §5).

use crate::nlu::concepts::Concept;
use crate::security::password::PasswordRule;

/// Declares `ResponseKey` from one list: each variant with its name in `intents/` and the
/// placeholders its text may contain, so the names, the placeholders and the list of all keys
/// cannot drift apart.
macro_rules! response_keys {
    ($($variant:ident = $name:literal [$($placeholder:literal),*],)*) => {
        /// A response the engine can send (its name is the key of a `[responses.…]` table in
        /// `intents/`). The content is checked to define every one of them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ResponseKey {
            $($variant,)*
        }

        impl ResponseKey {
            /// Every key, in the order declared.
            pub const ALL: &[ResponseKey] = &[$(ResponseKey::$variant,)*];

            /// The key's name in `intents/`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ResponseKey::$variant => $name,)*
                }
            }

            /// The placeholders the key's text may contain.
            pub const fn placeholders(self) -> &'static [&'static str] {
                match self {
                    $(ResponseKey::$variant => &[$($placeholder),*],)*
                }
            }
        }
    };
}

response_keys! {
    // common
    Greet = "greet" ["salam"],
    HelpMenu = "help_menu" [],
    Thanks = "thanks" [],
    Goodbye = "goodbye" [],
    Cancelled = "cancelled" [],
    Fallback = "fallback" [],
    Handoff = "handoff" [],
    SessionExpired = "session_expired" [],
    RateLimited = "rate_limited" [],
    NonText = "non_text" [],
    PrivateChatOnly = "private_chat_only" [],
    GreetSalam = "greet_salam" [],
    Acknowledged = "acknowledged" [],
    Empathy = "empathy" [],
    ClarifyForgot = "clarify_forgot" [],
    OfferNext = "offer_next" ["topic"],
    ServiceUnavailable = "service_unavailable" [],
    // waiting states
    Awaiting = "awaiting" ["what"],
    AwaitingCode = "awaiting_code" [],
    AwaitingKpjNik = "awaiting_kpj_nik" [],
    AwaitingEmailKpj = "awaiting_email_kpj" [],
    AwaitingChannel = "awaiting_channel" [],
    AwaitingCard = "awaiting_card" [],
    AwaitingPasswordPage = "awaiting_password_page" [],
    // identity
    AskKpjNik = "ask_kpj_nik" [],
    AskKpj = "ask_kpj" [],
    AskNik = "ask_nik" [],
    InvalidKpj = "invalid_kpj" [],
    InvalidNik = "invalid_nik" [],
    AskEmailKpj = "ask_email_kpj" [],
    AskEmail = "ask_email" [],
    InvalidEmail = "invalid_email" [],
    AccountNotFound = "account_not_found" [],
    SuggestForgotAccount = "suggest_forgot_account" [],
    // one-time codes
    AskOtpChannel = "ask_otp_channel" ["phone", "email"],
    OtpSent = "otp_sent" ["destination", "minutes"],
    AskOtp = "ask_otp" [],
    OtpInvalid = "otp_invalid" ["attempts_left"],
    OtpExpired = "otp_expired" [],
    OtpLocked = "otp_locked" ["minutes"],
    OtpResendWait = "otp_resend_wait" ["wait"],
    OtpNotReceived = "otp_not_received" ["destination"],
    NoWhatsappCode = "no_whatsapp_code" [],
    // production code delivery gave up on a code (SPEC §12)
    CodeUndelivered = "code_undelivered" ["destination"],
    // the SMS / e-mail carrying a code
    CodeMessage = "code_message" ["code", "minutes"],
    CodeEmailSubject = "code_email_subject" [],
    // demo mode on a messaging channel: that SMS / e-mail shown in the chat
    DemoCodeSms = "demo_code_sms" ["destination", "message"],
    DemoCodeEmail = "demo_code_email" ["destination", "message"],
    // passwords
    AskNewPassword = "ask_new_password" [],
    PasswordWeak = "password_weak" ["reasons"],
    PasswordRuleLength = "password_rule_length" [],
    PasswordRuleUpper = "password_rule_upper" [],
    PasswordRuleLower = "password_rule_lower" [],
    PasswordRuleDigit = "password_rule_digit" [],
    PasswordRuleSymbol = "password_rule_symbol" [],
    PasswordRulePersonal = "password_rule_personal" [],
    AskPasswordConfirm = "ask_password_confirm" [],
    PasswordMismatch = "password_mismatch" [],
    PasswordChanged = "password_changed" [],
    // messaging channels: the password page instead of a password typed into the chat
    PasswordLinkSent = "password_link_sent" ["link", "minutes"],
    PasswordLinkPending = "password_link_pending" [],
    PasswordNotInChat = "password_not_in_chat" [],
    // flow endings
    AccountRecovered = "account_recovered" ["login"],
    AskCard = "ask_card" [],
    JhtBalance = "jht_balance" ["card", "employer", "balance", "as_of", "note"],
    JhtBalanceAll = "jht_balance_all" ["cards", "total", "as_of"],
    JhtBalanceLine = "jht_balance_line" ["card", "employer", "balance"],
    JhtMultipleCardsNote = "jht_multiple_cards_note" [],
    // button labels
    LabelSms = "label_sms" ["phone"],
    LabelEmail = "label_email" ["email"],
    LabelCard = "label_card" ["card", "employer", "status"],
    LabelCardCurrent = "label_card_current" [],
    LabelCardPrevious = "label_card_previous" [],
    LabelOtherCard = "label_other_card" [],
    LabelResend = "label_resend" [],
    LabelHuman = "label_human" [],
    LabelTopic = "label_topic" ["topic"],
    LabelResendLink = "label_resend_link" [],
    // messaging channels: the button that opens a WhatsApp list of choices
    LabelListButton = "label_list_button" [],
    // the password page itself (`http::password_page`): words of a web page, not chat messages
    PageTitle = "page_title" [],
    PageIntro = "page_intro" ["minutes"],
    PageRulesTitle = "page_rules_title" [],
    PageLabelNew = "page_label_new" [],
    PageLabelConfirm = "page_label_confirm" [],
    PageSubmit = "page_submit" [],
    PageErrorsTitle = "page_errors_title" [],
    PageMismatch = "page_mismatch" [],
    PageDoneTitle = "page_done_title" [],
    PageDoneText = "page_done_text" [],
    PageGoneTitle = "page_gone_title" [],
    PageGoneText = "page_gone_text" [],
    PageErrorTitle = "page_error_title" [],
}

impl ResponseKey {
    /// The line of the password page and of a refusal naming `rule`.
    pub const fn rule(rule: PasswordRule) -> ResponseKey {
        match rule {
            PasswordRule::Length => ResponseKey::PasswordRuleLength,
            PasswordRule::Upper => ResponseKey::PasswordRuleUpper,
            PasswordRule::Lower => ResponseKey::PasswordRuleLower,
            PasswordRule::Digit => ResponseKey::PasswordRuleDigit,
            PasswordRule::Symbol => ResponseKey::PasswordRuleSymbol,
            PasswordRule::Personal => ResponseKey::PasswordRulePersonal,
        }
    }
}

/// (response key, allowed placeholders), as the content's validation takes them.
const RESPONSE_KEYS: [(&str, &[&str]); ResponseKey::ALL.len()] = {
    let mut keys: [(&str, &[&str]); ResponseKey::ALL.len()] = [("", &[]); ResponseKey::ALL.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = (
            ResponseKey::ALL[i].as_str(),
            ResponseKey::ALL[i].placeholders(),
        );
        i += 1;
    }
    keys
};

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
        response_keys: &RESPONSE_KEYS,
        intents: crate::intent::Intent::NAMED,
        concepts: &CONCEPT_NAMES,
        understands_payload,
    }
}

/// Whether the dialog acts on `payload`: one of its commands, or an intent the content defines.
fn understands_payload(payload: &str, is_intent: &dyn Fn(&str) -> bool) -> bool {
    match super::step::Command::from_payload(payload) {
        Some(super::step::Command::Intent(intent)) => is_intent(intent.as_str()),
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::ResponseKey;
    use crate::security::password::PasswordRule;

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

    /// The real content defines every key the engine can send, so the compiler's list of keys
    /// is the content's contract (start-up refuses content without one, with file and line).
    #[test]
    fn the_content_defines_every_response_key() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
        let content = crate::content::load(&dir, &super::requirements()).expect("content");
        for key in ResponseKey::ALL {
            assert!(
                content.response(key.as_str()).is_some(),
                "{key:?} is not in intents/"
            );
        }
    }

    #[test]
    fn each_password_rule_has_its_response_key() {
        let name = |rule| ResponseKey::rule(rule).as_str();
        assert_eq!(name(PasswordRule::Length), "password_rule_length");
        assert_eq!(name(PasswordRule::Upper), "password_rule_upper");
        assert_eq!(name(PasswordRule::Lower), "password_rule_lower");
        assert_eq!(name(PasswordRule::Digit), "password_rule_digit");
        assert_eq!(name(PasswordRule::Symbol), "password_rule_symbol");
        assert_eq!(name(PasswordRule::Personal), "password_rule_personal");
    }

    #[test]
    fn response_key_names_are_distinct() {
        let mut names: Vec<&str> = ResponseKey::ALL.iter().map(|key| key.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ResponseKey::ALL.len());
    }
}
