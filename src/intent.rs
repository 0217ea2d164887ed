//! Intents (SPEC §2) as the code knows them: the content names intents with strings, and the
//! NLU reads each name once, into an `Intent`, which the NLU's own rules and the dialog match on.

use serde::{Deserialize, Serialize};

/// Declares `Intent` from one list of its named variants and their names.
macro_rules! intents {
    ($($variant:ident = $name:literal,)*) => {
        /// An intent, as the dialog acts on it. `Other` holds every intent the dialog has no
        /// behaviour of its own for: the other FAQs and any intent added to `intents/` (SPEC §2:
        /// a new FAQ needs no Rust change), answered with its own response.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum Intent {
            $($variant,)*
            Other(String),
        }

        impl Intent {
            /// The names of the intents the code acts on: the content must define each.
            pub const NAMED: &[&str] = &[$($name,)*];

            /// The intent called `name` (`Other` for a name the code does not name).
            pub fn parse(name: &str) -> Intent {
                match name {
                    $($name => Intent::$variant,)*
                    other => Intent::Other(other.to_string()),
                }
            }

            /// The intent's name, as the NLU and `intents/` spell it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Intent::$variant => $name,)*
                    Intent::Other(name) => name,
                }
            }
        }
    };
}

intents! {
    Greet = "greet",
    Thanks = "thanks",
    Goodbye = "goodbye",
    Help = "help",
    Cancel = "cancel",
    HumanAgent = "human_agent",
    ForgotAccount = "forgot_account",
    ForgotPassword = "forgot_password",
    CheckJhtBalance = "check_jht_balance",
    Acknowledge = "acknowledge",
    Complaint = "complaint",
    OutOfScope = "out_of_scope",
    // the FAQs the dialog treats specially (follow-ups, the lost card, questions about the
    // numbers asked for)
    FaqFindKpj = "faq_find_kpj",
    FaqWhyNik = "faq_why_nik",
    FaqJhtClaim = "faq_jht_claim",
    FaqJhtPayslip = "faq_jht_payslip",
    FaqMultipleCards = "faq_multiple_cards",
    // the FAQs the NLU's rules name (another agency's account, the health agency)
    FaqLoginJmo = "faq_login_jmo",
    FaqRegisterJmo = "faq_register_jmo",
    FaqUpdateData = "faq_update_data",
    FaqBpjsKesehatan = "faq_bpjs_kesehatan",
}

impl Intent {
    /// Whether this is an FAQ (its answer becomes the conversation's topic).
    pub fn is_faq(&self) -> bool {
        self.as_str().starts_with("faq_")
    }
}

impl From<&str> for Intent {
    fn from(name: &str) -> Intent {
        Intent::parse(name)
    }
}

impl From<String> for Intent {
    fn from(name: String) -> Intent {
        Intent::parse(&name)
    }
}

impl From<Intent> for String {
    fn from(intent: Intent) -> String {
        intent.as_str().to_string()
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Intent;

    #[test]
    fn names_read_back_as_they_were_written() {
        for name in [
            "cancel",
            "human_agent",
            "faq_find_kpj",
            "faq_housing",
            "new_topic",
        ] {
            assert_eq!(Intent::parse(name).as_str(), name);
        }
        assert_eq!(
            Intent::parse("faq_housing"),
            Intent::Other("faq_housing".into())
        );
        assert!(Intent::parse("faq_housing").is_faq());
        assert!(!Intent::Cancel.is_faq());
    }

    #[test]
    fn an_intent_is_stored_as_its_name() {
        let json = serde_json::to_string(&Intent::HumanAgent).expect("json");
        assert_eq!(json, "\"human_agent\"");
        let back: Intent = serde_json::from_str("\"faq_housing\"").expect("intent");
        assert_eq!(back, Intent::Other("faq_housing".into()));
    }
}
