//! Which tokens are real Indonesian words: a word list (`intents/lexicon/*.txt`, the stems of
//! hunspell-id) read through a light morphology, so "biasanya", "kalian" and "menyimpan" are
//! known from "biasa", "kali" and "simpan". The typo corrector asks it before correcting: a
//! real word is never rewritten into another one ("sedang" is not a typo of "rendang").

use std::collections::HashSet;

/// A stem shorter than this is not looked up after taking an affix off: "di" + "a" would
/// make almost any typo a word.
const MIN_STEM_CHARS: usize = 4;

/// Particles and possessives glued to the end of a word, then the derivational suffixes.
/// Up to two come off ("dikirimkannya" = "dikirim" + "kan" + "nya").
const SUFFIXES: [&str; 9] = ["nya", "ku", "mu", "lah", "kah", "pun", "kan", "an", "i"];

/// Prefixes, each with the first letter of the stem it may have swallowed: "me" + "sapu"
/// is "menyapu", "pe" + "tulis" is "penulis".
const PREFIXES: [(&str, &str); 23] = [
    ("di", ""),
    ("ter", ""),
    ("ber", ""),
    ("be", ""),
    ("se", ""),
    ("ke", ""),
    ("me", ""),
    ("mem", ""),
    ("mem", "p"),
    ("men", ""),
    ("men", "t"),
    ("meng", ""),
    ("meng", "k"),
    ("meny", "s"),
    ("pe", ""),
    ("pem", ""),
    ("pem", "p"),
    ("pen", ""),
    ("pen", "t"),
    ("peng", ""),
    ("peng", "k"),
    ("peny", "s"),
    ("per", ""),
];

/// A set of real words with the affixes Indonesian builds on them.
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    stems: HashSet<String>,
}

impl Dictionary {
    /// A dictionary of `stems` (lower-case words).
    pub fn new<I, S>(stems: I) -> Dictionary
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Dictionary {
            stems: stems.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `word` is a stem of the list, or one with a prefix and up to two suffixes.
    pub fn knows(&self, word: &str) -> bool {
        !self.stems_of(word).is_empty()
    }

    /// Every stem of the list that `word` can be built on.
    fn stems_of(&self, word: &str) -> Vec<String> {
        if self.stems.is_empty() {
            return Vec::new();
        }
        without_suffixes(word)
            .into_iter()
            .flat_map(|form| {
                let bare = std::iter::once(form.to_string());
                let prefixed = PREFIXES.iter().filter_map(move |(prefix, swallowed)| {
                    let rest = form.strip_prefix(prefix)?;
                    Some(format!("{swallowed}{rest}"))
                });
                bare.chain(prefixed)
            })
            .filter(|stem| stem.chars().count() >= MIN_STEM_CHARS && self.stems.contains(stem))
            .collect()
    }
}

/// `word` itself and every form with one or two suffixes taken off, stems long enough only.
fn without_suffixes(word: &str) -> Vec<&str> {
    let mut forms = vec![word];
    for once in suffixes_off(word) {
        forms.push(once);
        forms.extend(suffixes_off(once));
    }
    forms
}

/// Every form of `form` with one suffix taken off.
fn suffixes_off(form: &str) -> Vec<&str> {
    SUFFIXES
        .iter()
        .filter_map(|suffix| form.strip_suffix(suffix))
        .filter(|stem| stem.chars().count() >= MIN_STEM_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dictionary() -> Dictionary {
        Dictionary::new([
            "biasa", "kali", "simpan", "sedang", "ambil", "tulis", "kirim",
        ])
    }

    #[test]
    fn a_stem_of_the_list_is_a_word() {
        assert!(dictionary().knows("sedang"));
        assert!(!dictionary().knows("sedng"));
    }

    #[test]
    fn suffixes_and_enclitics_come_off() {
        let d = dictionary();
        assert!(d.knows("biasanya"));
        assert!(d.knows("kalian"));
        assert!(d.knows("kirimkannya"), "two suffixes");
    }

    #[test]
    fn prefixes_come_off_with_the_letter_they_swallowed() {
        let d = dictionary();
        assert!(d.knows("diambil"));
        assert!(d.knows("menyimpan"), "meny- swallowed the s of simpan");
        assert!(d.knows("penulis"), "pen- swallowed the t of tulis");
        assert!(d.knows("dikirimkan"));
    }

    #[test]
    fn a_stem_too_short_is_no_evidence() {
        let d = Dictionary::new(["ka"]);
        assert!(!d.knows("dika"));
        assert!(!d.knows("kai"));
    }

    #[test]
    fn an_empty_dictionary_knows_nothing() {
        assert!(!Dictionary::default().knows("biasa"));
    }
}
