//! Rules first: the content's regular expressions, tried in a fixed order against the
//! normalised text before the classifier. A match decides the intent outright.

use crate::content::IntentDef;
use regex::Regex;

/// The compiled patterns of every intent.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    patterns: Vec<(String, Regex)>,
}

impl Rules {
    /// Collects the patterns of `intents`, in intent order.
    pub fn new(intents: &[IntentDef]) -> Rules {
        Rules {
            patterns: intents
                .iter()
                .flat_map(|i| i.patterns.iter().map(|p| (i.name.clone(), p.clone())))
                .collect(),
        }
    }

    /// The intent of the first pattern matching `normalized`, if any.
    pub fn matching_intent(&self, normalized: &str) -> Option<&str> {
        self.patterns
            .iter()
            .find(|(_, regex)| regex.is_match(normalized))
            .map(|(name, _)| name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_pattern_decides() {
        let intents = vec![
            IntentDef {
                name: "cancel".into(),
                title: None,
                examples: vec![],
                patterns: vec![Regex::new("^batal$").unwrap()],
            },
            IntentDef {
                name: "greet".into(),
                title: None,
                examples: vec![],
                patterns: vec![Regex::new("^(p|halo)$").unwrap()],
            },
        ];
        let rules = Rules::new(&intents);
        assert_eq!(rules.matching_intent("p"), Some("greet"));
        assert_eq!(rules.matching_intent("batal"), Some("cancel"));
        assert_eq!(rules.matching_intent("batal dong"), None);
    }
}
