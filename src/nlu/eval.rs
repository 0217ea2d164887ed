//! `tanya nlu eval`: scores the NLU on a labelled JSONL file the way `rasa test nlu` does:
//! accuracy, per-intent precision/recall/F1/support, confusion matrix, misclassified examples,
//! and entity precision/recall.

use super::Nlu;
use crate::intent::Intent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// One labelled line of an evaluation file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledExample {
    pub text: String,
    pub intent: String,
    /// Expected entities by name; absent means "not checked", `{}` means "none expected".
    #[serde(default)]
    pub entities: Option<BTreeMap<String, String>>,
}

/// A problem reading an evaluation file.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A line is not a valid labelled example.
    #[error("line {line}: {message}")]
    BadLine { line: usize, message: String },
    /// The file has no examples at all.
    #[error("the file has no examples")]
    Empty,
}

/// Reads JSONL text (blank lines ignored).
pub fn read_examples(text: &str) -> Result<Vec<LabelledExample>, EvalError> {
    let mut examples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let example = serde_json::from_str(line).map_err(|e| EvalError::BadLine {
            line: i + 1,
            message: e.to_string(),
        })?;
        examples.push(example);
    }
    if examples.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok(examples)
}

/// Precision, recall, F1 and support of one intent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IntentMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// A misclassified example.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalErrorCase {
    pub text: String,
    pub expected: String,
    pub predicted: String,
    pub confidence: f64,
}

/// Entity extraction quality over the examples that list their entities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EntityMetrics {
    pub precision: f64,
    pub recall: f64,
}

/// The whole report (the JSON of `tanya nlu eval --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub intents: BTreeMap<String, IntentMetrics>,
    pub errors: Vec<EvalErrorCase>,
    pub entities: EntityMetrics,
    #[serde(skip)]
    confusion: BTreeMap<(String, String), usize>,
    #[serde(skip)]
    total: usize,
}

impl Report {
    /// Recall of `out_of_scope`: how often unanswerable messages were recognised as such.
    pub fn out_of_scope_recall(&self) -> f64 {
        self.intents
            .get(Intent::OutOfScope.as_str())
            .map_or(0.0, |m| m.recall)
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let correct = self.total - self.errors.len();
        let _ = writeln!(
            out,
            "Intent accuracy: {:.4} ({correct}/{})   macro F1: {:.4}",
            self.accuracy, self.total, self.macro_f1
        );
        let _ = writeln!(
            out,
            "Entities: precision {:.4}  recall {:.4}\n",
            self.entities.precision, self.entities.recall
        );
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>9} {:>9} {:>8}",
            "intent", "precision", "recall", "f1", "support"
        );
        for (name, m) in &self.intents {
            let _ = writeln!(
                out,
                "{name:<22} {:>9.3} {:>9.3} {:>9.3} {:>8}",
                m.precision, m.recall, m.f1, m.support
            );
        }
        let names: Vec<&String> = self.intents.keys().collect();
        let _ = writeln!(
            out,
            "\nConfusion matrix (rows: expected, columns: predicted)"
        );
        let _ = write!(out, "{:<22}", "");
        for i in 0..names.len() {
            let _ = write!(out, "{i:>4}");
        }
        let _ = writeln!(out);
        for (row, expected) in names.iter().enumerate() {
            let _ = write!(out, "{:>2} {:<19}", row, truncate(expected, 19));
            for predicted in &names {
                let count = self
                    .confusion
                    .get(&((*expected).clone(), (*predicted).clone()))
                    .copied()
                    .unwrap_or(0);
                if count == 0 {
                    let _ = write!(out, "{:>4}", ".");
                } else {
                    let _ = write!(out, "{count:>4}");
                }
            }
            let _ = writeln!(out);
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "\nMisclassified ({}):", self.errors.len());
            for e in &self.errors {
                let _ = writeln!(
                    out,
                    "  {:?}: expected {}, got {} ({:.2})",
                    e.text, e.expected, e.predicted, e.confidence
                );
            }
        }
        out
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Parses every example and scores the results.
pub fn evaluate(nlu: &Nlu, examples: &[LabelledExample]) -> Report {
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut errors = Vec::new();
    let (mut entity_true_positives, mut entity_predicted, mut entity_expected) = (0, 0, 0);
    for example in examples {
        let parse = nlu.parse(&example.text);
        let predicted = parse.intent.name.as_str().to_string();
        if predicted != example.intent {
            errors.push(EvalErrorCase {
                text: example.text.clone(),
                expected: example.intent.clone(),
                predicted: predicted.clone(),
                confidence: parse.intent.confidence,
            });
        }
        *confusion
            .entry((example.intent.clone(), predicted))
            .or_default() += 1;
        if let Some(expected) = &example.entities {
            let expected: BTreeSet<(String, String)> = expected
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let found: BTreeSet<(String, String)> = parse
                .entities
                .iter()
                .filter(|e| e.is_valid())
                .map(|e| (entity_name(e), e.value.as_str().to_owned()))
                .collect();
            entity_true_positives += expected.intersection(&found).count();
            entity_predicted += found.len();
            entity_expected += expected.len();
        }
    }
    let labels: BTreeSet<String> = confusion
        .keys()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let mut intents = BTreeMap::new();
    for label in &labels {
        let count = |f: &dyn Fn(&str, &str) -> bool| -> usize {
            confusion
                .iter()
                .filter(|((e, p), _)| f(e, p))
                .map(|(_, n)| n)
                .sum()
        };
        let true_positives = count(&|e, p| e == label && p == label);
        let predicted = count(&|_, p| p == label);
        let support = count(&|e, _| e == label);
        let precision = ratio(true_positives, predicted);
        let recall = ratio(true_positives, support);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        intents.insert(
            label.clone(),
            IntentMetrics {
                precision,
                recall,
                f1,
                support,
            },
        );
    }
    let with_support: Vec<&IntentMetrics> = intents.values().filter(|m| m.support > 0).collect();
    let macro_f1 =
        with_support.iter().map(|m| m.f1).sum::<f64>() / with_support.len().max(1) as f64;
    Report {
        accuracy: ratio(examples.len() - errors.len(), examples.len()),
        macro_f1,
        intents,
        errors,
        entities: EntityMetrics {
            precision: ratio_or_one(entity_true_positives, entity_predicted),
            recall: ratio_or_one(entity_true_positives, entity_expected),
        },
        confusion,
        total: examples.len(),
    }
}

fn entity_name(entity: &super::entities::Entity) -> String {
    serde_json::to_value(entity.kind())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Precision with nothing predicted (or recall with nothing expected) is perfect, not zero.
fn ratio_or_one(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = read_examples("{\"text\":\"a\",\"intent\":\"greet\"}\n\nnot json\n").unwrap_err();
        assert!(err.to_string().starts_with("line 3:"), "{err}");
        assert!(matches!(read_examples("\n \n"), Err(EvalError::Empty)));
    }

    #[test]
    fn examples_may_carry_expected_entities() {
        let examples =
            read_examples(r#"{"text":"kpj 12345678901","intent":"check_jht_balance","entities":{"kpj":"12345678901"}}"#)
                .unwrap();
        assert_eq!(examples[0].entities.as_ref().unwrap()["kpj"], "12345678901");
    }
}
