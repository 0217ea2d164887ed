//! BotiumScript's built-in keywords (botium-core 1.15, `LogicHookConsts.js`) as `tanya test`
//! sees them: the ones it checks with Botium's meaning (the text asserters, button counts,
//! intent confidence, entity values) and, for every other one, why it is refused. A keyword
//! read as text would silently never match; refusing it names the keyword and the reason.

use crate::convo::parse::SyntaxError;

/// Every asserter, logic hook and user input botium-core 1.15 registers by default.
pub const BUILT_IN_KEYWORDS: [&str; 59] = [
    // Asserters.
    "BUTTONS",
    "BUTTONS_COUNT",
    "BUTTONS_COUNT_REC",
    "MEDIA",
    "MEDIA_COUNT",
    "MEDIA_COUNT_REC",
    "CARDS",
    "CARDS_COUNT",
    "CARDS_COUNT_REC",
    "PAUSE_ASSERTER",
    "JSON_PATH",
    "JSON_PATH_COUNT",
    "RESPONSE_LENGTH",
    "FORMS",
    "ENTITIES",
    "ENTITY_VALUES",
    "ENTITY_CONTENT",
    "INTENT",
    "INTENT_UNIQUE",
    "INTENT_CONFIDENCE",
    "TEXT_CONTAINS_ANY",
    "TEXT_CONTAINS_ANY_IC",
    "TEXT_CONTAINS_ALL",
    "TEXT_CONTAINS_ALL_IC",
    "TEXT_WILDCARD_ANY",
    "TEXT_WILDCARD_ANY_IC",
    "TEXT_WILDCARD_ALL",
    "TEXT_WILDCARD_ALL_IC",
    "TEXT_WILDCARDEXACT_ANY",
    "TEXT_WILDCARDEXACT_ANY_IC",
    "TEXT_WILDCARDEXACT_ALL",
    "TEXT_WILDCARDEXACT_ALL_IC",
    "TEXT_REGEXP_ANY",
    "TEXT_REGEXP_ANY_IC",
    "TEXT_REGEXP_ALL",
    "TEXT_REGEXP_ALL_IC",
    "TEXT_EQUALS",
    "TEXT_EQUALS_IC",
    "TEXT",
    "TEXT_IC",
    "TEXT_WER",
    "BOT_CONSUMED",
    "BOT_UNCONSUMED_COUNT",
    // Logic hooks.
    "PAUSE",
    "WAITFORBOT",
    "SET_SCRIPTING_MEMORY",
    "CLEAR_SCRIPTING_MEMORY",
    "ASSIGN_SCRIPTING_MEMORY",
    "UPDATE_CUSTOM",
    "SKIP_BOT_UNCONSUMED",
    "INCLUDE",
    "CONDITIONAL_STEP_TIME_BASED",
    "CONDITIONAL_STEP_BUSINESS_HOURS",
    "CONDITIONAL_STEP_CAPABILITY_VALUE_BASED",
    "CONDITIONAL_STEP_JSON_PATH_BASED",
    "CONVO_STEP_PARAMETERS",
    "ORDERED_LIST_TO_BUTTON",
    // User inputs (`BUTTON` is tanya's too; `MEDIA` is also an asserter, listed above).
    "BUTTON",
    "FORM",
];

/// Why `tanya test` refuses a built-in Botium keyword; `None` for the ones it supports (and for
/// words that are no Botium keyword).
pub fn refusal(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "MEDIA" | "MEDIA_COUNT" | "MEDIA_COUNT_REC" | "CARDS" | "CARDS_COUNT"
        | "CARDS_COUNT_REC" | "FORMS" | "FORM" => {
            "tanya's messages carry text and buttons only: no media, cards or forms"
        }
        "PAUSE" | "PAUSE_ASSERTER" | "WAITFORBOT" => {
            "tanya answers within the turn and its runner never sleeps; use WAIT to move the clock"
        }
        "JSON_PATH" | "JSON_PATH_COUNT" => {
            "the runner talks to the engine, not to a JSON API; use RESPONSE, INTENT or BUTTONS"
        }
        "SET_SCRIPTING_MEMORY" | "CLEAR_SCRIPTING_MEMORY" | "ASSIGN_SCRIPTING_MEMORY" => {
            "tanya has no scripting memory; `$otp` is the only variable"
        }
        "INCLUDE" => "partial conversations are not supported; write the steps out",
        "CONDITIONAL_STEP_TIME_BASED"
        | "CONDITIONAL_STEP_BUSINESS_HOURS"
        | "CONDITIONAL_STEP_CAPABILITY_VALUE_BASED"
        | "CONDITIONAL_STEP_JSON_PATH_BASED" => {
            "conditional steps are not supported: a conversation file is one fixed path"
        }
        "CONVO_STEP_PARAMETERS" | "UPDATE_CUSTOM" => {
            "it changes Botium's connector or matching settings, which tanya's runner does not have"
        }
        "ORDERED_LIST_TO_BUTTON" => "tanya's buttons are real buttons; press them with BUTTON",
        "SKIP_BOT_UNCONSUMED" | "BOT_CONSUMED" | "BOT_UNCONSUMED_COUNT" => {
            "a #me block always drops the messages no #bot block matched"
        }
        "TEXT_WER" => "word error rates are not supported; use a TEXT_* asserter or wildcards",
        "RESPONSE_LENGTH" => "message lengths are not checked; use TEXT_REGEXP_ANY",
        "ENTITY_CONTENT" | "INTENT_UNIQUE" => {
            "tanya's NLU reports no entity content or intent ranking to check; use ENTITIES or \
             INTENT"
        }
        _ => return None,
    })
}

/// The error for a refused keyword.
pub fn refused(keyword: &str) -> Option<SyntaxError> {
    refusal(keyword).map(|reason| SyntaxError::UnsupportedKeyword {
        keyword: keyword.to_string(),
        reason,
    })
}

/// Whether one pattern or all of them must match (`_ANY` / `_ALL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
}

/// A BotiumScript text asserter (`TEXT_CONTAINS_ANY_IC a|b` and its family) with Botium's
/// meaning, compiled to one regular expression per value: `CONTAINS` a substring, `WILDCARD`
/// `*` anywhere in the text, `WILDCARDEXACT` `*` over the whole text, `REGEXP` a search,
/// `EQUALS` and `TEXT` the whole text; `_IC` ignores case. Unlike Botium, `*` also spans line
/// breaks.
#[derive(Debug, Clone)]
pub struct TextAsserter {
    /// The keyword as written, for reports.
    pub keyword: String,
    pub quantifier: Quantifier,
    pub patterns: Vec<regex::Regex>,
}

impl PartialEq for TextAsserter {
    fn eq(&self, other: &TextAsserter) -> bool {
        self.keyword == other.keyword
            && self.quantifier == other.quantifier
            && self.patterns.len() == other.patterns.len()
            && self
                .patterns
                .iter()
                .zip(&other.patterns)
                .all(|(a, b)| a.as_str() == b.as_str())
    }
}

#[derive(Clone, Copy)]
enum TextMode {
    Contains,
    Wildcard,
    WildcardExact,
    Regexp,
    Equals,
}

impl TextAsserter {
    /// The asserter `keyword` stands for with `values`; `None` when `keyword` is no text
    /// asserter.
    pub fn parse(keyword: &str, values: &[String]) -> Option<Result<TextAsserter, SyntaxError>> {
        let (base, ignore_case) = match keyword.strip_suffix("_IC") {
            Some(base) => (base, true),
            None => (keyword, false),
        };
        let (mode, quantifier) = match base {
            "TEXT_CONTAINS_ANY" => (TextMode::Contains, Quantifier::Any),
            "TEXT_CONTAINS_ALL" => (TextMode::Contains, Quantifier::All),
            "TEXT_WILDCARD_ANY" => (TextMode::Wildcard, Quantifier::Any),
            "TEXT_WILDCARD_ALL" => (TextMode::Wildcard, Quantifier::All),
            "TEXT_WILDCARDEXACT_ANY" => (TextMode::WildcardExact, Quantifier::Any),
            "TEXT_WILDCARDEXACT_ALL" => (TextMode::WildcardExact, Quantifier::All),
            "TEXT_REGEXP_ANY" => (TextMode::Regexp, Quantifier::Any),
            "TEXT_REGEXP_ALL" => (TextMode::Regexp, Quantifier::All),
            // Botium's TEXT and TEXT_EQUALS are one asserter: the text equals one of the values.
            "TEXT_EQUALS" | "TEXT" => (TextMode::Equals, Quantifier::Any),
            _ => return None,
        };
        if values.is_empty() {
            let keyword = keyword.to_string();
            return Some(Err(SyntaxError::MissingArgument { keyword }));
        }
        let patterns = values
            .iter()
            .map(|value| {
                let source = match mode {
                    TextMode::Contains => regex::escape(value),
                    TextMode::Wildcard => wildcard_regex(value),
                    TextMode::WildcardExact => format!("^{}$", wildcard_regex(value)),
                    TextMode::Regexp => value.clone(),
                    TextMode::Equals => format!("^{}$", regex::escape(value)),
                };
                regex::RegexBuilder::new(&source)
                    .case_insensitive(ignore_case)
                    .build()
                    .map_err(|error| SyntaxError::InvalidRegex {
                        keyword: keyword.to_string(),
                        value: value.clone(),
                        error: error.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>();
        Some(patterns.map(|patterns| TextAsserter {
            keyword: keyword.to_string(),
            quantifier,
            patterns,
        }))
    }

    /// Whether a message's text meets the asserter (before any `!`).
    pub fn holds(&self, text: &str) -> bool {
        let mut matches = self.patterns.iter().map(|pattern| pattern.is_match(text));
        match self.quantifier {
            Quantifier::Any => matches.any(|m| m),
            Quantifier::All => matches.all(|m| m),
        }
    }
}

/// `*` as any text (line breaks included), everything else literal.
fn wildcard_regex(value: &str) -> String {
    value
        .split('*')
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join("(?s:.*)")
}

/// Botium's count argument (`BUTTONS_COUNT 2`, `>=2`, `<3`; none: at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountCheck {
    AtLeastOne,
    Equal(usize),
    Less(usize),
    AtMost(usize),
    More(usize),
    AtLeast(usize),
}

impl CountCheck {
    /// Parses a count argument; `None` when it is no count.
    pub fn parse(argument: &str) -> Option<CountCheck> {
        if argument.is_empty() {
            return Some(CountCheck::AtLeastOne);
        }
        let number = |digits: &str| {
            let digits = digits.trim();
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse().ok())
                .flatten()
        };
        // Longest operators first: `<=` before `<`.
        for (operator, check) in [
            ("<=", CountCheck::AtMost as fn(usize) -> CountCheck),
            (">=", CountCheck::AtLeast),
            ("==", CountCheck::Equal),
            ("<", CountCheck::Less),
            (">", CountCheck::More),
            ("=", CountCheck::Equal),
        ] {
            if let Some(rest) = argument.strip_prefix(operator) {
                return number(rest).map(check);
            }
        }
        number(argument).map(CountCheck::Equal)
    }

    pub fn holds(self, count: usize) -> bool {
        match self {
            CountCheck::AtLeastOne => count > 0,
            CountCheck::Equal(n) => count == n,
            CountCheck::Less(n) => count < n,
            CountCheck::AtMost(n) => count <= n,
            CountCheck::More(n) => count > n,
            CountCheck::AtLeast(n) => count >= n,
        }
    }
}

impl std::fmt::Display for CountCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CountCheck::AtLeastOne => write!(f, "at least one"),
            CountCheck::Equal(n) => write!(f, "{n}"),
            CountCheck::Less(n) => write!(f, "fewer than {n}"),
            CountCheck::AtMost(n) => write!(f, "at most {n}"),
            CountCheck::More(n) => write!(f, "more than {n}"),
            CountCheck::AtLeast(n) => write!(f, "at least {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(keyword: &str, values: &[&str]) -> TextAsserter {
        let values: Vec<String> = values.iter().map(ToString::to_string).collect();
        TextAsserter::parse(keyword, &values)
            .expect("a text asserter")
            .expect("valid")
    }

    #[test]
    fn the_registry_has_every_keyword_once() {
        let mut sorted = BUILT_IN_KEYWORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), BUILT_IN_KEYWORDS.len());
    }

    #[test]
    fn text_asserters_have_botiums_meaning() {
        let message = "Kode dikirim ke b***@example.com.\nBerlaku 5 menit.";
        assert!(text("TEXT_CONTAINS_ANY", &["nope", "example.com"]).holds(message));
        assert!(!text("TEXT_CONTAINS_ALL", &["nope", "example.com"]).holds(message));
        assert!(
            !text("TEXT_CONTAINS_ANY", &["kode"]).holds(message),
            "case counts"
        );
        assert!(text("TEXT_CONTAINS_ANY_IC", &["kode"]).holds(message));
        assert!(text("TEXT_WILDCARD_ANY", &["dikirim*menit"]).holds(message));
        assert!(!text("TEXT_WILDCARDEXACT_ANY", &["dikirim*"]).holds(message));
        assert!(text("TEXT_WILDCARDEXACT_ALL_IC", &["kode*", "*MENIT."]).holds(message));
        assert!(text("TEXT_REGEXP_ANY", &[r"\d+ menit"]).holds(message));
        assert!(!text("TEXT_REGEXP_ALL", &[r"\d+ menit", "^Berlaku"]).holds(message));
        assert!(text("TEXT_EQUALS", &["Halo"]).holds("Halo"));
        assert!(!text("TEXT", &["Halo"]).holds("Halo Kak"));
        assert!(text("TEXT_IC", &["x", "HALO"]).holds("halo"));
    }

    #[test]
    fn a_text_asserter_needs_values_and_valid_expressions() {
        assert_eq!(
            TextAsserter::parse("TEXT_REGEXP_ANY", &[])
                .unwrap()
                .unwrap_err(),
            SyntaxError::MissingArgument {
                keyword: "TEXT_REGEXP_ANY".into()
            }
        );
        assert!(matches!(
            TextAsserter::parse("TEXT_REGEXP_ALL_IC", &["(".into()]).unwrap(),
            Err(SyntaxError::InvalidRegex { keyword, .. }) if keyword == "TEXT_REGEXP_ALL_IC"
        ));
        assert!(TextAsserter::parse("TEXT_REGEX_ANY", &["x".into()]).is_none());
    }

    #[test]
    fn counts_take_botiums_operators() {
        assert_eq!(CountCheck::parse(""), Some(CountCheck::AtLeastOne));
        assert_eq!(CountCheck::parse("3"), Some(CountCheck::Equal(3)));
        assert_eq!(CountCheck::parse(">=2"), Some(CountCheck::AtLeast(2)));
        assert_eq!(CountCheck::parse("<= 2"), Some(CountCheck::AtMost(2)));
        assert_eq!(CountCheck::parse("=0"), Some(CountCheck::Equal(0)));
        assert_eq!(CountCheck::parse("dua"), None);
        assert_eq!(CountCheck::parse(">"), None);
        assert!(CountCheck::Less(3).holds(2) && !CountCheck::Less(3).holds(3));
        assert!(CountCheck::More(0).holds(1) && !CountCheck::AtLeastOne.holds(0));
    }
}
