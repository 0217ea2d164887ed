//! Natural-language understanding: text → intent (with a probability-like confidence and a
//! ranking) and entities. Rules first, the classifier second, `out_of_scope` when unsure.

pub mod classifier;
pub mod entities;
pub mod eval;
pub mod normalize;
pub mod rules;

use crate::content::Content;
use classifier::{Classifier, TrainingOptions};
use entities::Entity;
use normalize::Normalizer;
use rules::Rules;
use serde::Serialize;

/// The intent the NLU answers when nothing else fits or it is not confident.
pub const OUT_OF_SCOPE: &str = "out_of_scope";
/// How many intents the ranking lists.
const RANKING_LENGTH: usize = 10;
/// Confidence reported for a pattern match: rules are exact, so they are certain.
const RULE_CONFIDENCE: f64 = 1.0;

/// When to abstain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Below this top probability the answer is `out_of_scope`.
    pub min_confidence: f64,
    /// Below this gap between the top two probabilities the answer is `out_of_scope`.
    pub min_margin: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_confidence: 0.40,
            min_margin: 0.08,
        }
    }
}

/// An intent with its confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentScore {
    pub name: String,
    pub confidence: f64,
}

/// The NLU's reading of one message (the JSON of `tanya nlu parse`).
#[derive(Debug, Clone, Serialize)]
pub struct Parse {
    pub text: String,
    pub intent: IntentScore,
    pub ranking: Vec<IntentScore>,
    pub entities: Vec<Entity>,
}

/// The trained NLU: normaliser, rules and classifier.
#[derive(Debug, Clone)]
pub struct Nlu {
    normalizer: Normalizer,
    rules: Rules,
    classifier: Classifier,
    thresholds: Thresholds,
}

impl Nlu {
    /// Builds and trains the NLU from validated content.
    pub fn train(content: &Content, thresholds: Thresholds) -> Nlu {
        let examples = content
            .intents
            .iter()
            .flat_map(|i| i.examples.iter().map(String::as_str));
        let normalizer = Normalizer::new(&content.lexicon, examples);
        let classes: Vec<String> = content.intents.iter().map(|i| i.name.clone()).collect();
        let training: Vec<(usize, Vec<String>)> = content
            .intents
            .iter()
            .enumerate()
            .flat_map(|(class, intent)| {
                let normalizer = &normalizer;
                intent
                    .examples
                    .iter()
                    .map(move |e| (class, normalizer.tokens(e)))
            })
            .collect();
        let classifier = Classifier::train(classes, &training, TrainingOptions::default());
        Nlu {
            normalizer,
            rules: Rules::new(&content.intents),
            classifier,
            thresholds,
        }
    }

    /// The intents the NLU knows, in a stable order.
    pub fn intents(&self) -> &[String] {
        self.classifier.classes()
    }

    /// The normalised form of `text` (what patterns and the classifier see).
    pub fn normalize(&self, text: &str) -> String {
        self.normalizer.normalize(text)
    }

    /// Reads one message.
    pub fn parse(&self, text: &str) -> Parse {
        let tokens = self.normalizer.tokens(text);
        let probabilities = self.classifier.predict(&tokens);
        let mut ranking: Vec<IntentScore> = self
            .classifier
            .classes()
            .iter()
            .zip(&probabilities)
            .map(|(name, &p)| IntentScore {
                name: name.clone(),
                confidence: round(f64::from(p)),
            })
            .collect();
        ranking.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.name.cmp(&b.name))
        });
        ranking.truncate(RANKING_LENGTH);

        let normalized = tokens.join(" ");
        let intent = if let Some(name) = self.rules.matching_intent(&normalized) {
            IntentScore {
                name: name.to_string(),
                confidence: RULE_CONFIDENCE,
            }
        } else {
            self.decide(&ranking)
        };
        Parse {
            text: text.to_string(),
            intent,
            ranking,
            entities: entities::extract(text),
        }
    }

    /// The top intent, unless the classifier is unsure: then `out_of_scope` with the
    /// probability that it is not any of the in-scope intents.
    fn decide(&self, ranking: &[IntentScore]) -> IntentScore {
        let top = ranking.first();
        let second = ranking.get(1).map_or(0.0, |s| s.confidence);
        match top {
            Some(top)
                if top.confidence >= self.thresholds.min_confidence
                    && top.confidence - second >= self.thresholds.min_margin =>
            {
                top.clone()
            }
            Some(top) => IntentScore {
                name: OUT_OF_SCOPE.to_string(),
                confidence: round(1.0 - top.confidence),
            },
            None => IntentScore {
                name: OUT_OF_SCOPE.to_string(),
                confidence: 1.0,
            },
        }
    }
}

/// Four decimals are plenty for a confidence and keep the JSON readable.
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
