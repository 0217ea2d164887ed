//! Text normalisation for informal Indonesian: Unicode clean-up, case, punctuation, elongated
//! letters ("tolonggg"), the slang lexicon ("gmn" → "bagaimana") and typo correction
//! ("paswod" → "password") against the vocabulary the content uses, of words that are not
//! real words of their own (the dictionary).

use super::dictionary::Dictionary;
use crate::input::MAX_TEXT_CHARS;
use std::collections::{HashMap, HashSet};
use unicode_normalization::UnicodeNormalization;

/// Token standing for any number, so "kpj 12345678901" and "kpj 98765432109" look alike.
pub const NUMBER_TOKEN: &str = "#num";
/// Token standing for any e-mail address.
pub const EMAIL_TOKEN: &str = "@email";

/// Tokens are corrected only when at least this long: a short word one letter away from a
/// known word is as likely a different word ("mau", "apa", "dia") as a typo of it.
const MIN_CORRECTABLE_CHARS: usize = 4;
/// Tokens this long may be two edits away from a known word ("paswod" → "password").
const TWO_EDITS_FROM_CHARS: usize = 6;
/// Bounded work (SPEC §6): whatever is sent, the NLU reads at most this many characters after
/// NFKC (which can turn one character into eighteen, "ﷺ"): four times the longest message, so
/// real text is never cut. The normaliser and the entity finder both stop here.
pub(super) const MAX_NORMALIZED_CHARS: usize = 4 * MAX_TEXT_CHARS;
/// The normaliser also reads at most this many characters of one token, and this many tokens.
const MAX_TOKEN_CHARS: usize = 40;
const MAX_TOKENS: usize = 1_000;

/// Normalises text: built once from the content's lexicon and example vocabulary.
#[derive(Debug, Clone)]
pub struct Normalizer {
    /// Phrases of one to three words → replacement words.
    lexicon: HashMap<Vec<String>, Vec<String>>,
    longest_phrase: usize,
    /// Words the classifier knows, with how often they occur (to break typo ties).
    vocabulary: HashMap<String, u32>,
    /// Symmetric-delete index for typo correction: a word with letters deleted → the words.
    deletes: HashMap<String, Vec<u32>>,
    /// Correction targets (vocabulary words and single-word lexicon keys).
    targets: Vec<String>,
    /// The longest target: a token more than two letters longer cannot be a typo of any.
    longest_target: usize,
    /// Every letter of every target: a word in another script is no typo of ours, and
    /// looking for one would only cost time.
    alphabet: HashSet<char>,
    /// Real words, which are never corrected: "sedang" is one edit from "rendang" but no typo.
    dictionary: Dictionary,
}

impl Normalizer {
    /// Builds a normaliser from lexicon pairs, the raw training examples (whose words, once
    /// normalised, form the vocabulary that typos are corrected towards) and the dictionary of
    /// real words that are left as they are.
    pub fn new<'a>(
        lexicon: &[(String, String)],
        examples: impl IntoIterator<Item = &'a str>,
        dictionary: Dictionary,
    ) -> Normalizer {
        let mut normalizer = Normalizer {
            lexicon: lexicon
                .iter()
                .map(|(from, to)| (words(from), words(to)))
                .collect(),
            longest_phrase: lexicon
                .iter()
                .map(|(from, _)| from.split_whitespace().count())
                .max()
                .unwrap_or(1),
            vocabulary: HashMap::new(),
            deletes: HashMap::new(),
            targets: Vec::new(),
            longest_target: 0,
            alphabet: HashSet::new(),
            dictionary,
        };
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        for example in examples {
            for token in normalizer.tokens_without_correction(example) {
                if is_word(&token) {
                    *vocabulary.entry(token).or_default() += 1;
                }
            }
        }
        for (_, to) in lexicon {
            for word in to.split_whitespace() {
                vocabulary.entry(word.to_string()).or_insert(1);
            }
        }
        let mut targets: HashSet<String> = vocabulary.keys().cloned().collect();
        for (from, _) in lexicon {
            if !from.contains(' ') {
                targets.insert(from.clone());
            }
        }
        let mut targets: Vec<String> = targets.into_iter().collect();
        targets.sort();
        for (id, word) in targets.iter().enumerate() {
            let len = word.chars().count();
            if len < MIN_CORRECTABLE_CHARS {
                continue;
            }
            for variant in deletions(word, max_edits(len)) {
                normalizer
                    .deletes
                    .entry(variant)
                    .or_default()
                    .push(id as u32);
            }
        }
        normalizer.longest_target = targets.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        normalizer.alphabet = targets.iter().flat_map(|t| t.chars()).collect();
        normalizer.vocabulary = vocabulary;
        normalizer.targets = targets;
        normalizer
    }

    /// The normalised text: lower-case words separated by single spaces.
    pub fn normalize(&self, text: &str) -> String {
        self.tokens(text).join(" ")
    }

    /// The normalised tokens of `text`: elongations shortened, then the lexicon (phrases
    /// first, on the words as typed), then typo correction of the words still unknown; a
    /// correction that lands on a lexicon key takes that key's replacement.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let unstretched: Vec<String> = raw_tokens(text)
            .into_iter()
            .map(|t| self.unstretch(t))
            .collect();
        let mut out = Vec::with_capacity(unstretched.len());
        for token in self.apply_lexicon(unstretched) {
            let (word, enclitic) = self.split_enclitic(token);
            let corrected = self.correct(word);
            let replacement = match self.lexicon.get(std::slice::from_ref(&corrected)) {
                Some(replacement) => replacement.clone(),
                None => vec![corrected],
            };
            out.extend(self.with_enclitic(replacement, enclitic));
        }
        out
    }

    /// The enclitic back on its word, glued when the examples write them glued ("imelnya"
    /// → "email" → "emailnya"), else as a token of its own ("operator nya").
    fn with_enclitic(&self, mut words: Vec<String>, enclitic: Option<String>) -> Vec<String> {
        let Some(enclitic) = enclitic else {
            return words;
        };
        if let [word] = &words[..] {
            let glued = format!("{word}{enclitic}");
            if self.vocabulary.contains_key(&glued) {
                return vec![glued];
            }
        }
        words.push(enclitic);
        words
    }

    /// "operatornya" → ("operator", "nya"): an unknown word that is a known word under a
    /// possessive enclitic reads as that word, so the classifier meets the word it learned
    /// (and the typo corrector never bends the whole into something else). Forms the
    /// examples use ("passwordnya") are known and stay whole.
    fn split_enclitic(&self, token: String) -> (String, Option<String>) {
        const ENCLITICS: [&str; 3] = ["nya", "ku", "mu"];
        // "jhtnya" is "jht" + "nya"; "punya" and "tanya" are not "pu"/"ta" + "nya".
        const MIN_STEM_CHARS: usize = 3;
        if self.is_known(&token) || !is_word(&token) {
            return (token, None);
        }
        let split = ENCLITICS.iter().find_map(|enclitic| {
            let stem = token.strip_suffix(enclitic)?;
            (stem.chars().count() >= MIN_STEM_CHARS && self.is_known(stem))
                .then(|| (stem.to_string(), enclitic.to_string()))
        });
        match split {
            Some((stem, enclitic)) => (stem, Some(enclitic)),
            None => (token, None),
        }
    }

    /// Tokens of a training example: no typo correction (examples define the vocabulary),
    /// and only runs of three or more letters shortened, so "maaf" stays "maaf".
    fn tokens_without_correction(&self, text: &str) -> Vec<String> {
        let raw = raw_tokens(text).into_iter().map(|t| {
            if has_run_of_three(&t) {
                collapse_runs(&t, 2)
            } else {
                t
            }
        });
        self.apply_lexicon(raw.collect())
    }

    /// Elongated letters: "halooo" → "halo", but "maaaf" → "maaf" when that is a known word.
    fn unstretch(&self, token: String) -> String {
        if !has_run_of_three(&token) {
            return token;
        }
        let double = collapse_runs(&token, 2);
        if self.is_known(&double) {
            double
        } else {
            collapse_runs(&token, 1)
        }
    }

    fn is_known(&self, word: &str) -> bool {
        self.vocabulary.contains_key(word) || self.lexicon.contains_key(&[word.to_string()][..])
    }

    /// Replaces an unknown word by the closest known word: one edit, or two for long words
    /// when letters were left out ("paswod" → "password"). Two substitutions would turn one
    /// real word into another too easily, so a two-edit target must be longer than the token.
    /// A word of the dictionary is a typo only of a word it spells with one letter dropped
    /// ("sado" → "saldo", the commonest slip), never of one it differs from otherwise
    /// ("macam" stays, not "malam"; "usaha" stays, not "usah").
    fn correct(&self, token: String) -> String {
        let len = token.chars().count();
        if len < MIN_CORRECTABLE_CHARS
            || len > self.longest_target + TWO_EDITS_MAX
            || !is_word(&token)
            || self.is_known(&token)
            || !token.chars().all(|c| self.alphabet.contains(&c))
        {
            return token;
        }
        let real_word = self.dictionary.knows(&token);
        let mut best: Option<(usize, bool, std::cmp::Reverse<u32>, &str)> = None;
        for variant in deletions(&token, max_edits(len)) {
            let Some(ids) = self.deletes.get(&variant) else {
                continue;
            };
            for &id in ids {
                let candidate = self.targets[id as usize].as_str();
                let distance = damerau_levenshtein(&token, candidate);
                let candidate_len = candidate.chars().count();
                let allowed = max_edits(len).min(max_edits(candidate_len));
                if distance == 0
                    || distance > allowed
                    || (distance == 2 && candidate_len <= len)
                    || (real_word && !is_one_letter_dropped(&token, candidate))
                {
                    continue;
                }
                // A slang spelling (a lexicon key only) loses a tie to a standard word: a
                // typo of "sandi" is "sandi", not the Javanese "endi".
                let frequency = self.vocabulary.get(candidate).copied().unwrap_or(0);
                // Members drop letters far more often than they swap them ("sndi", "pswd"):
                // among equally near words, one the token spells with letters left out wins.
                let rank = (
                    distance,
                    !is_subsequence(&token, candidate),
                    std::cmp::Reverse(frequency),
                    candidate,
                );
                if best.as_ref().is_none_or(|b| rank < *b) {
                    best = Some(rank);
                }
            }
        }
        best.map_or(token, |(_, _, _, word)| word.to_string())
    }

    /// Greedy longest-phrase replacement with the lexicon.
    fn apply_lexicon(&self, tokens: Vec<String>) -> Vec<String> {
        if self.lexicon.is_empty() {
            return tokens;
        }
        let mut out = Vec::with_capacity(tokens.len());
        let mut i = 0;
        'outer: while i < tokens.len() {
            let longest = self.longest_phrase.min(tokens.len() - i);
            for n in (1..=longest).rev() {
                if let Some(replacement) = self.lexicon.get(&tokens[i..i + n]) {
                    out.extend(replacement.iter().cloned());
                    i += n;
                    continue 'outer;
                }
            }
            out.push(tokens[i].clone());
            i += 1;
        }
        out
    }
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// The most edits a correction may make.
const TWO_EDITS_MAX: usize = 2;

fn max_edits(len: usize) -> usize {
    if len >= TWO_EDITS_FROM_CHARS {
        TWO_EDITS_MAX
    } else {
        1
    }
}

/// Whether `long` is `short` with one letter put back.
fn is_one_letter_dropped(short: &str, long: &str) -> bool {
    long.chars().count() == short.chars().count() + 1 && is_subsequence(short, long)
}

/// Whether every letter of `short` appears in `long` in the same order.
fn is_subsequence(short: &str, long: &str) -> bool {
    let mut letters = long.chars();
    short.chars().all(|c| letters.any(|l| l == c))
}

fn is_word(token: &str) -> bool {
    token.chars().all(char::is_alphabetic)
}

/// Characters that carry no meaning but can hide words from matching (zero-width joiners,
/// bidirectional overrides, byte-order marks) or break terminals (controls).
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}' | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
}

/// Emoji of anger, read as the word `ANGRY_WORD`: "dipersulit terus 😡" is as angry as its
/// words would be with "marah" in them. Other emoji only separate: 😤, 😩, 🙄 and the like
/// are used loosely ("siap kak 😤" is keen, not angry). Emoji are no words, so they cannot
/// live in the word lexicons of `intents/`.
const ANGRY_EMOJI: [char; 5] = ['😡', '😠', '🤬', '💢', '👿'];
const ANGRY_WORD: &str = "marah";

/// NFKC, invisible characters removed, lower case, then split into word, number and e-mail
/// tokens; everything else (punctuation, emoji, symbols) separates tokens, and an angry
/// emoji is also a word (`ANGRY_EMOJI`).
fn raw_tokens(text: &str) -> Vec<String> {
    let cleaned: String = text
        .nfkc()
        .filter(|&c| !is_invisible(c))
        .flat_map(char::to_lowercase)
        .take(MAX_NORMALIZED_CHARS)
        .collect();
    let mut tokens = Vec::new();
    for chunk in cleaned.split_whitespace() {
        if tokens.len() >= MAX_TOKENS {
            break;
        }
        if looks_like_email(chunk) {
            tokens.push(EMAIL_TOKEN.to_string());
            continue;
        }
        let mut current = String::new();
        let mut current_is_digit = false;
        for c in chunk.chars() {
            if c.is_alphanumeric() {
                let digit = c.is_ascii_digit();
                // "kpj12345678901" is two tokens: a word glued to a number.
                if !current.is_empty() && digit != current_is_digit {
                    push_token(&mut tokens, std::mem::take(&mut current), current_is_digit);
                }
                current_is_digit = digit;
                current.push(c);
            } else {
                if !current.is_empty() {
                    push_token(&mut tokens, std::mem::take(&mut current), current_is_digit);
                }
                if ANGRY_EMOJI.contains(&c) && tokens.last().is_none_or(|t| t != ANGRY_WORD) {
                    push_token(&mut tokens, ANGRY_WORD.to_string(), false);
                }
            }
        }
        if !current.is_empty() {
            push_token(&mut tokens, current, current_is_digit);
        }
    }
    // Numbers written with separators ("3174 0112 0388 0001") stay one number token.
    tokens.dedup_by(|b, a| a == NUMBER_TOKEN && b == NUMBER_TOKEN);
    tokens
}

fn push_token(tokens: &mut Vec<String>, token: String, is_number: bool) {
    if tokens.len() >= MAX_TOKENS {
        return;
    }
    if is_number {
        tokens.push(NUMBER_TOKEN.to_string());
    } else if token.chars().nth(MAX_TOKEN_CHARS).is_some() {
        // No word is this long: keep a prefix, so the token stays unknown and cheap.
        tokens.push(token.chars().take(MAX_TOKEN_CHARS).collect());
    } else {
        tokens.push(token);
    }
}

fn looks_like_email(chunk: &str) -> bool {
    let chunk = chunk.trim_matches(|c: char| !c.is_alphanumeric());
    match chunk.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.'),
        None => false,
    }
}

fn has_run_of_three(token: &str) -> bool {
    let chars: Vec<char> = token.chars().collect();
    chars.windows(3).any(|w| w[0] == w[1] && w[1] == w[2])
}

/// Shortens every run of one repeated letter to at most `keep` letters (digits untouched).
fn collapse_runs(token: &str, keep: usize) -> String {
    let mut out = String::with_capacity(token.len());
    let mut last: Option<char> = None;
    let mut run = 0;
    for c in token.chars() {
        if Some(c) == last && c.is_alphabetic() {
            run += 1;
        } else {
            run = 1;
            last = Some(c);
        }
        if run <= keep || !c.is_alphabetic() {
            out.push(c);
        }
    }
    out
}

/// The word itself and every string made by deleting up to `edits` characters.
fn deletions(word: &str, edits: usize) -> Vec<String> {
    let mut all = vec![word.to_string()];
    let mut frontier = vec![word.to_string()];
    for _ in 0..edits {
        let mut next = Vec::new();
        for w in &frontier {
            let chars: Vec<char> = w.chars().collect();
            if chars.len() <= 1 {
                continue;
            }
            for i in 0..chars.len() {
                let shorter: String = chars
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, c)| c)
                    .collect();
                next.push(shorter);
            }
        }
        next.sort();
        next.dedup();
        all.extend(next.iter().cloned());
        frontier = next;
    }
    all.sort();
    all.dedup();
    all
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions.
fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalizer() -> Normalizer {
        let lexicon = vec![
            ("gmn".to_string(), "bagaimana".to_string()),
            ("kata sandi".to_string(), "password".to_string()),
            ("sandi".to_string(), "password".to_string()),
            ("gak".to_string(), "tidak".to_string()),
            ("pw".to_string(), "password".to_string()),
            ("endi".to_string(), "mana".to_string()),
        ];
        let examples = [
            "saya lupa password jmo",
            "cek saldo jht saya",
            "tolong bantu saya",
            "halo selamat pagi",
            "mohon maaf",
            "bagaimana cara reset password",
        ];
        Normalizer::new(&lexicon, examples, Dictionary::default())
    }

    #[test]
    fn case_punctuation_and_spacing_are_normalised() {
        assert_eq!(
            normalizer().normalize("  Saya LUPA, password!!  JMO?? "),
            "saya lupa password jmo"
        );
    }

    #[test]
    fn slang_and_phrases_come_from_the_lexicon() {
        let n = normalizer();
        assert_eq!(
            n.normalize("gmn reset kata sandi"),
            "bagaimana reset password"
        );
        assert_eq!(n.normalize("pw gak bisa"), "password tidak bisa");
    }

    #[test]
    fn elongated_letters_are_shortened_to_a_known_word() {
        let n = normalizer();
        assert_eq!(n.normalize("tolonggg"), "tolong");
        assert_eq!(n.normalize("halooo"), "halo");
        assert_eq!(n.normalize("maaaaf"), "maaf");
    }

    #[test]
    fn typos_are_corrected_towards_the_vocabulary() {
        let n = normalizer();
        assert_eq!(n.normalize("pasword"), "password");
        assert_eq!(n.normalize("paswod"), "password");
        assert_eq!(n.normalize("sldo"), "saldo");
        assert_eq!(n.normalize("tolng"), "tolong");
        assert_eq!(
            n.normalize("sndi"),
            "password",
            "corrected to a lexicon key, then mapped"
        );
    }

    #[test]
    fn a_dropped_letter_wins_over_a_swapped_one() {
        // "sndi" is one edit from both "sandi" (a letter left out) and the Javanese "endi"
        // (a letter swapped): members drop letters.
        assert_eq!(normalizer().normalize("lupa sndi"), "lupa password");
        assert_eq!(normalizer().normalize("endi"), "mana");
    }

    #[test]
    fn short_words_and_two_substitutions_are_never_corrected() {
        let n = normalizer();
        // One letter from "apa"-like known words, but words in their own right.
        assert_eq!(n.normalize("lpa cek"), "lpa cek");
        // "salah" is two substitutions from "saldo"'s neighbours; same length, not a typo.
        assert_eq!(n.normalize("halus"), "halus");
    }

    #[test]
    fn hostile_shapes_are_cut_to_bounded_work() {
        let n = normalizer();
        // One word of 1,500 letters: kept as a 40-letter prefix, never corrected.
        let word = "abcdefghij".repeat(150);
        assert_eq!(n.tokens(&word), vec![word[..MAX_TOKEN_CHARS].to_string()]);
        // NFKC turns each U+3316 into six letters: the expansion is cut.
        let expanding = "\u{3316}".repeat(2000);
        assert!(n.normalize(&expanding).chars().count() <= MAX_TOKEN_CHARS);
        // Another script is never looked up for typos.
        assert_eq!(n.normalize("пароль"), "пароль");
        let many = "ab ".repeat(5000);
        assert_eq!(n.tokens(&many).len(), MAX_TOKENS);
    }

    #[test]
    fn a_real_word_is_never_corrected_into_a_known_one() {
        let lexicon = [("sandi".to_string(), "password".to_string())];
        let examples = ["bagaimana cara reset password"];
        let without = Normalizer::new(&lexicon, examples, Dictionary::default());
        assert_eq!(
            without.normalize("cari"),
            "cara",
            "one edit from a known word"
        );
        let with = Normalizer::new(&lexicon, examples, Dictionary::new(["cari", "rese"]));
        assert_eq!(with.normalize("cari"), "cari", "but a word of its own");
        assert_eq!(
            with.normalize("pasword"),
            "password",
            "a typo is still corrected"
        );
        assert_eq!(
            with.normalize("rese"),
            "reset",
            "a word that is a known word with one letter dropped is the slip"
        );
    }

    #[test]
    fn a_known_word_under_an_enclitic_is_read_as_the_word() {
        let n = normalizer();
        assert_eq!(n.normalize("saldonya berapa"), "saldo nya berapa");
        assert_eq!(n.normalize("passwordku"), "password ku");
        assert_eq!(n.normalize("punya"), "punya", "no known word is left");
        let glued = Normalizer::new(
            &[("imel".to_string(), "email".to_string())],
            ["cek emailnya", "email saya"],
            Dictionary::default(),
        );
        assert_eq!(
            glued.normalize("imelku"),
            "email ku",
            "the standard word, enclitic apart"
        );
        assert_eq!(
            glued.normalize("imelnya"),
            "emailnya",
            "glued as the examples write it"
        );
    }

    #[test]
    fn unknown_far_words_are_left_alone() {
        assert_eq!(normalizer().normalize("instagram"), "instagram");
    }

    #[test]
    fn numbers_and_emails_become_placeholder_tokens() {
        assert_eq!(
            normalizer().normalize("kpj12345678901 nik 3174 0112 0388 0001 budi@example.com"),
            "kpj #num nik #num @email"
        );
    }

    #[test]
    fn zero_width_and_bidi_characters_do_not_split_words() {
        assert_eq!(
            normalizer().normalize("pass\u{200B}word \u{202E}jmo\u{FEFF}"),
            "password jmo"
        );
    }

    #[test]
    fn fullwidth_letters_are_folded_by_nfkc() {
        assert_eq!(normalizer().normalize("ＪＭＯ"), "jmo");
    }

    #[test]
    fn empty_emoji_and_huge_inputs_are_harmless() {
        let n = normalizer();
        assert_eq!(n.normalize(""), "");
        assert_eq!(n.normalize("   \n\t "), "");
        assert_eq!(n.normalize("😀🙏🔥"), "");
        assert_eq!(n.normalize("balik besok😡😡 🙏"), "balik besok marah");
        assert_eq!(n.normalize("siap kak 😤"), "siap kak");
        let long = "a".repeat(5000);
        assert_eq!(n.normalize(&long), "a");
        let mixed = "xyz! ".repeat(1000);
        assert_eq!(n.normalize(&mixed).split(' ').count(), 1000);
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(damerau_levenshtein("sadlo", "saldo"), 1);
        assert_eq!(damerau_levenshtein("paswod", "password"), 2);
        assert_eq!(damerau_levenshtein("", "abc"), 3);
    }
}
