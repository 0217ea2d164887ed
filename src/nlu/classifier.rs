//! The statistical intent classifier: word uni/bigrams and in-word character 3–5-grams,
//! hashed, L2-normalised, fed to a multinomial logistic regression trained at start-up with
//! seeded SGD. Small, deterministic, and fast enough to train in well under 300 ms.

use crate::fnv;
use std::collections::HashMap;

/// Training settings. The defaults are deliberately plain (no tuning against the dev set,
/// which exists only to measure generalisation).
#[derive(Debug, Clone, Copy)]
pub struct TrainingOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty per example step: keeps probabilities honest instead of always ~1.0.
    pub l2: f32,
    pub seed: u64,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        TrainingOptions {
            epochs: 40,
            learning_rate: 0.5,
            l2: 1e-5,
            seed: 0x7a6e_7961,
        }
    }
}

/// Gradients smaller than this are skipped during training.
const MIN_GRADIENT: f32 = 1e-3;

/// A trained model: feature index, weights and class names.
#[derive(Debug, Clone)]
pub struct Classifier {
    classes: Vec<String>,
    /// Feature hash → row in `weights`.
    features: HashMap<u64, u32>,
    /// Row-major: `features.len()` rows of `classes.len()` weights.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// A sparse, L2-normalised feature vector: (row, value).
type Features = Vec<(u32, f32)>;

impl Classifier {
    /// Trains on `(class index, normalised tokens)` pairs. `classes` names the indices.
    pub fn train(
        classes: Vec<String>,
        examples: &[(usize, Vec<String>)],
        options: TrainingOptions,
    ) -> Classifier {
        let mut features: HashMap<u64, u32> = HashMap::new();
        let encoded: Vec<(usize, Features)> = examples
            .iter()
            .map(|(class, tokens)| {
                let mut hashes = feature_hashes(tokens);
                hashes.sort_unstable();
                hashes.dedup();
                let rows: Vec<u32> = hashes
                    .into_iter()
                    .map(|h| {
                        let next = features.len() as u32;
                        *features.entry(h).or_insert(next)
                    })
                    .collect();
                (*class, unit_vector(rows))
            })
            .collect();
        let n_classes = classes.len();
        let mut model = Classifier {
            weights: vec![0.0; features.len() * n_classes],
            bias: vec![0.0; n_classes],
            classes,
            features,
        };
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        let mut rng = SplitMix64(options.seed);
        let mut probabilities = vec![0.0f32; n_classes];
        for epoch in 0..options.epochs {
            shuffle(&mut order, &mut rng);
            let rate = options.learning_rate / (1.0 + epoch as f32 * 0.1);
            for &i in &order {
                let (target, x) = &encoded[i];
                model.probabilities_into(x, &mut probabilities);
                for (class, p) in probabilities.iter().enumerate() {
                    let gradient = p - if class == *target { 1.0 } else { 0.0 };
                    // Classes the model already rules out contribute nothing worth a pass
                    // over the features; skipping them makes later epochs several times
                    // faster without changing the model measurably.
                    if gradient.abs() < MIN_GRADIENT {
                        continue;
                    }
                    model.bias[class] -= rate * gradient;
                    for &(row, value) in x {
                        let w = &mut model.weights[row as usize * n_classes + class];
                        *w -= rate * (gradient * value + options.l2 * *w);
                    }
                }
            }
        }
        model
    }

    /// The class names, in index order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Probabilities of every class for normalised `tokens` (they sum to 1).
    pub fn predict(&self, tokens: &[String]) -> Vec<f32> {
        let mut rows: Vec<u32> = feature_hashes(tokens)
            .into_iter()
            .filter_map(|h| self.features.get(&h).copied())
            .collect();
        rows.sort_unstable();
        rows.dedup();
        let mut probabilities = vec![0.0; self.classes.len()];
        self.probabilities_into(&unit_vector(rows), &mut probabilities);
        probabilities
    }

    fn probabilities_into(&self, x: &Features, out: &mut [f32]) {
        let n = self.classes.len();
        out.copy_from_slice(&self.bias);
        for &(row, value) in x {
            let weights = &self.weights[row as usize * n..(row as usize + 1) * n];
            for (o, w) in out.iter_mut().zip(weights) {
                *o += w * value;
            }
        }
        softmax(out);
    }
}

/// Every feature of a token sequence, hashed: words, word pairs, and character n-grams of
/// each word with boundary marks (so "sandi" and "sndi" still share "ndi>").
fn feature_hashes(tokens: &[String]) -> Vec<u64> {
    let mut hashes = Vec::with_capacity(tokens.len() * 12);
    for (i, token) in tokens.iter().enumerate() {
        hashes.push(hash(&[b"w", token.as_bytes()]));
        if let Some(next) = tokens.get(i + 1) {
            hashes.push(hash(&[b"b", token.as_bytes(), b" ", next.as_bytes()]));
        }
        if token.starts_with('#') || token.starts_with('@') {
            continue;
        }
        let chars: Vec<char> = std::iter::once('<')
            .chain(token.chars())
            .chain(std::iter::once('>'))
            .collect();
        for n in 3..=5 {
            for window in chars.windows(n) {
                hashes.push(hash_chars(b'c', window));
            }
        }
    }
    hashes
}

/// FNV-1a over the parts, each followed by `0xff` (so "ab","c" and "a","bc" differ): stable
/// across runs and platforms (unlike `DefaultHasher`'s seed).
fn hash(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .fold(fnv::OFFSET, |h, part| fnv::step(fnv::extend(h, part), 0xff))
}

/// FNV-1a of a tag, `0xff` and characters, without building a string: this runs for every
/// character n-gram of every message.
fn hash_chars(tag: u8, chars: &[char]) -> u64 {
    let mut buffer = [0u8; 4];
    chars
        .iter()
        .fold(fnv::step(fnv::step(fnv::OFFSET, tag), 0xff), |h, c| {
            fnv::extend(h, c.encode_utf8(&mut buffer).as_bytes())
        })
}

fn unit_vector(rows: Vec<u32>) -> Features {
    if rows.is_empty() {
        return Vec::new();
    }
    let value = 1.0 / (rows.len() as f32).sqrt();
    rows.into_iter().map(|r| (r, value)).collect()
}

fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in values.iter_mut() {
        *v /= sum;
    }
}

/// A small seeded generator for shuffling: training must give the same model every start.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn shuffle(items: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn toy_model() -> Classifier {
        let data = [
            (0, "lupa password jmo"),
            (0, "reset password saya"),
            (0, "tidak bisa login lupa password"),
            (1, "cek saldo jht"),
            (1, "berapa saldo jht saya"),
            (1, "lihat saldo"),
        ];
        let examples: Vec<(usize, Vec<String>)> =
            data.iter().map(|(c, t)| (*c, tokens(t))).collect();
        Classifier::train(
            vec!["forgot_password".into(), "check_jht_balance".into()],
            &examples,
            TrainingOptions::default(),
        )
    }

    #[test]
    fn it_learns_to_separate_two_intents() {
        let model = toy_model();
        let p = model.predict(&tokens("saya lupa password"));
        assert!(p[0] > 0.8, "{p:?}");
        let p = model.predict(&tokens("saldo jht berapa"));
        assert!(p[1] > 0.8, "{p:?}");
    }

    #[test]
    fn probabilities_sum_to_one_and_are_not_all_certain() {
        let model = toy_model();
        let p = model.predict(&tokens("password saldo"));
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(p.iter().all(|&x| x < 0.99), "{p:?}");
    }

    #[test]
    fn unseen_text_gives_a_flat_distribution() {
        let model = toy_model();
        let p = model.predict(&tokens("qqq zzz"));
        assert!((p[0] - p[1]).abs() < 0.3, "{p:?}");
        assert!(model.predict(&[]).iter().all(|x| x.is_finite()));
    }

    #[test]
    fn training_is_deterministic() {
        let a = toy_model().predict(&tokens("lupa saldo"));
        let b = toy_model().predict(&tokens("lupa saldo"));
        assert_eq!(a, b);
    }

    #[test]
    fn character_ngrams_tolerate_a_missing_letter() {
        let model = toy_model();
        let p = model.predict(&tokens("pasword"));
        assert!(p[0] > p[1], "{p:?}");
    }
}
