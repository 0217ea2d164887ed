//! The words the dialog's readers look for (`intents/lexicon/answers.toml`): a closed set of
//! concepts ("a code channel named SMS", "a negation", "again"), found in a message's
//! normalised tokens. The readers in `dialog::answers` decide what the concepts mean in the
//! state that asked; this module only finds them.

use std::collections::HashMap;

/// A concept the readers understand. Its name is the key in `answers.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Concept {
    Sms,
    Email,
    Whatsapp,
    /// "lewat", "via", "ke": a destination follows.
    Via,
    Negation,
    /// The member talks about a destination changing, not about choosing it.
    Change,
    First,
    Second,
    Third,
    Last,
    Previous,
    Current,
    All,
    Other,
    Send,
    Again,
    Arrive,
    Forget,
    Filler,
    Frustration,
    Conjunction,
    Contrast,
    Salam,
    /// What a code is called: "kode", "otp".
    Code,
    /// Going to look for the code: "cek", "buka", "bentar", "otw".
    Look,
    /// Nothing there: "kosong", "sepi", "nothing".
    Empty,
    /// Going along: "oke", "sip", "siap".
    Agree,
    /// "mereka", "their": somebody just talked about.
    They,
    /// Where an agency is reached: "telepon", "kantor", "aplikasi".
    Contact,
    /// "yang": the one picked out.
    Which,
    /// A question word: "berapa", "kapan", "kalau".
    Question,
    /// Another app, bank, agency or insurer ("gojek", "bca", "taspen").
    Elsewhere,
    /// This agency and its services ("jmo", "jht", "kpj").
    Ours,
    /// "BPJS" alone, the name this agency shares with the health-insurance agency.
    SharedName,
    /// The health-insurance agency and its services ("bpjs kesehatan", "jkn", "kis"): a
    /// different agency, whose accounts, cards and dues are not ours.
    Health,
    /// Remembering: "ingat", "hafal". What is remembered is not what the member lost.
    Remember,
    /// Being unable: "tidak bisa", "gagal". A negation that opens one is no denial.
    Unable,
    /// The password page's link: "link", "tautan".
    Link,
}

impl Concept {
    /// Every concept, in the order of `answers.toml`.
    pub const ALL: [Concept; 38] = [
        Concept::Sms,
        Concept::Email,
        Concept::Whatsapp,
        Concept::Via,
        Concept::Negation,
        Concept::Change,
        Concept::First,
        Concept::Second,
        Concept::Third,
        Concept::Last,
        Concept::Previous,
        Concept::Current,
        Concept::All,
        Concept::Other,
        Concept::Send,
        Concept::Again,
        Concept::Arrive,
        Concept::Forget,
        Concept::Filler,
        Concept::Frustration,
        Concept::Conjunction,
        Concept::Contrast,
        Concept::Salam,
        Concept::Code,
        Concept::Look,
        Concept::Empty,
        Concept::Agree,
        Concept::They,
        Concept::Contact,
        Concept::Which,
        Concept::Question,
        Concept::Elsewhere,
        Concept::Ours,
        Concept::SharedName,
        Concept::Health,
        Concept::Remember,
        Concept::Unable,
        Concept::Link,
    ];

    /// The key in `answers.toml`.
    pub const fn name(self) -> &'static str {
        match self {
            Concept::Sms => "sms",
            Concept::Email => "email",
            Concept::Whatsapp => "whatsapp",
            Concept::Via => "via",
            Concept::Negation => "negation",
            Concept::Change => "change",
            Concept::First => "first",
            Concept::Second => "second",
            Concept::Third => "third",
            Concept::Last => "last",
            Concept::Previous => "previous",
            Concept::Current => "current",
            Concept::All => "all",
            Concept::Other => "other",
            Concept::Send => "send",
            Concept::Again => "again",
            Concept::Arrive => "arrive",
            Concept::Forget => "forget",
            Concept::Filler => "filler",
            Concept::Frustration => "frustration",
            Concept::Conjunction => "conjunction",
            Concept::Contrast => "contrast",
            Concept::Salam => "salam",
            Concept::Code => "code",
            Concept::Look => "look",
            Concept::Empty => "empty",
            Concept::Agree => "agree",
            Concept::They => "they",
            Concept::Contact => "contact",
            Concept::Which => "which",
            Concept::Question => "question",
            Concept::Elsewhere => "elsewhere",
            Concept::Ours => "ours",
            Concept::SharedName => "shared_name",
            Concept::Health => "health",
            Concept::Remember => "remember",
            Concept::Unable => "unable",
            Concept::Link => "link",
        }
    }

    /// The concept named `name` in `answers.toml`.
    pub fn from_name(name: &str) -> Option<Concept> {
        Concept::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One concept found in a message: tokens `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub concept: Concept,
    pub start: usize,
    pub end: usize,
}

/// The concept phrases, normalised like messages, indexed by their first token.
#[derive(Debug, Clone, Default)]
pub struct ConceptLexicon {
    by_first: HashMap<String, Vec<(Vec<String>, Concept)>>,
    /// Every word of every phrase, to recognise a word under an enclitic ("emailku").
    words: std::collections::HashSet<String>,
}

/// Enclitics Indonesian glues to a word ("kodenya", "emailku", "hpmu", "kartunyalah"), and
/// the verb suffixes of everyday speech: Jakarta's "-in" ("totalin", "kirimin", "ulangin")
/// and standard "-kan" ("kirimkan"). A suffix is taken off only when what remains is a
/// concept word, so "ingin" or "makan" stay whole.
const ENCLITICS: [&str; 8] = ["nya", "ku", "mu", "lah", "kah", "pun", "in", "kan"];

impl ConceptLexicon {
    /// Builds the index from `(concept, phrase tokens)` pairs.
    pub fn new(phrases: impl IntoIterator<Item = (Concept, Vec<String>)>) -> ConceptLexicon {
        let mut by_first: HashMap<String, Vec<(Vec<String>, Concept)>> = HashMap::new();
        for (concept, tokens) in phrases {
            if let Some(first) = tokens.first() {
                by_first
                    .entry(first.clone())
                    .or_default()
                    .push((tokens, concept));
            }
        }
        for entries in by_first.values_mut() {
            entries.sort_by_key(|(tokens, _)| std::cmp::Reverse(tokens.len()));
            entries.dedup();
        }
        let words = by_first
            .values()
            .flatten()
            .flat_map(|(tokens, _)| tokens.iter().cloned())
            .collect();
        ConceptLexicon { by_first, words }
    }

    /// The word as the lexicon knows it: itself, or without an enclitic when only that form
    /// is a concept word ("smsnya" → "sms", but "punya" stays "punya").
    fn base<'a>(&self, token: &'a str) -> &'a str {
        if self.words.contains(token) {
            return token;
        }
        ENCLITICS
            .iter()
            .filter_map(|enclitic| token.strip_suffix(enclitic))
            .find(|stem| stem.chars().count() >= 2 && self.words.contains(*stem))
            .unwrap_or(token)
    }

    /// Every concept phrase in `tokens`. A phrase may belong to several concepts ("resend" is
    /// both sending and again); where phrases of one concept overlap, the longest wins.
    pub fn find(&self, tokens: &[String]) -> Vec<Hit> {
        let bases: Vec<&str> = tokens.iter().map(|t| self.base(t)).collect();
        let mut hits: Vec<Hit> = Vec::new();
        for (start, token) in bases.iter().enumerate() {
            let Some(entries) = self.by_first.get(*token) else {
                continue;
            };
            for (phrase, concept) in entries {
                let end = start + phrase.len();
                let covered = hits
                    .iter()
                    .any(|h| h.concept == *concept && h.start <= start && end <= h.end);
                if end <= bases.len() && bases[start..end] == phrase[..] && !covered {
                    hits.push(Hit {
                        concept: *concept,
                        start,
                        end,
                    });
                }
            }
        }
        hits
    }
}

/// A message's tokens with the concepts found in them: what the dialog's readers read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Words {
    pub tokens: Vec<String>,
    pub hits: Vec<Hit>,
    /// The words as typed (lower case, before slang and typo correction), for names the
    /// vocabulary does not know: an employer's "Karya Abadi" must not be corrected away.
    pub typed: Vec<String>,
    /// The text carried a question mark (punctuation is not among the tokens).
    pub question_mark: bool,
}

/// How many tokens before a concept a negation still turns it around ("jangan ke sms").
const NEGATION_REACH: usize = 3;

impl Words {
    /// Whether token `i` belongs to a phrase of one of `concepts`.
    fn covers(&self, i: usize, concepts: &[Concept]) -> bool {
        self.hits
            .iter()
            .any(|h| concepts.contains(&h.concept) && h.start <= i && i < h.end)
    }

    /// Whether the message mentions `concept` at all.
    pub fn has(&self, concept: Concept) -> bool {
        self.hits.iter().any(|h| h.concept == concept)
    }

    /// Whether the message asks something: a question word, a question mark, or the yes/no
    /// tag Indonesian closes a question with ("minggu buka gak", "bisa tidak", "sudah belum").
    pub fn asks(&self) -> bool {
        // The tag may be followed by small words: "antriannya panjang gk ya", "buka gak kak".
        let only_small_words_after =
            |end: usize| (end..self.tokens.len()).all(|i| self.covers(i, &[Concept::Filler]));
        let tagged = self.hits.iter().any(|h| {
            h.concept == Concept::Negation && h.start > 0 && only_small_words_after(h.end)
        });
        self.question_mark || tagged || self.has(Concept::Question)
    }

    /// Whether the message mentions `concept` outside every phrase of `around`: "bpjs" in
    /// "bpjs kesehatan" names the health agency, not this one.
    pub fn has_outside(&self, concept: Concept, around: Concept) -> bool {
        self.hits.iter().any(|h| {
            h.concept == concept
                && !self
                    .hits
                    .iter()
                    .any(|a| a.concept == around && a.start <= h.start && h.end <= a.end)
        })
    }

    /// Whether the message mentions `concept` without a negation shortly before it.
    pub fn affirms(&self, concept: Concept) -> bool {
        self.affirmed(concept).next().is_some()
    }

    /// The phrases of `concept` without a negation shortly before them.
    pub fn affirmed(&self, concept: Concept) -> impl Iterator<Item = &Hit> {
        self.hits
            .iter()
            .filter(move |h| h.concept == concept && !self.negated(h.start))
    }

    /// Whether the message mentions `concept` with a negation shortly before it
    /// ("belum masuk", "tidak dapat").
    pub fn denies(&self, concept: Concept) -> bool {
        self.hits
            .iter()
            .any(|h| h.concept == concept && self.negated(h.start))
    }

    /// Whether a negation governs the concept at `position`: it comes shortly before, and no
    /// other concept word stands between them ("jangan sms, email aja" negates only SMS;
    /// "tidak ke sms", "belum juga masuk" and "bukan yang sekarang" reach past the small
    /// words).
    fn negated(&self, position: usize) -> bool {
        let binds = |h: &Hit| {
            !matches!(
                h.concept,
                Concept::Negation
                    | Concept::Filler
                    | Concept::Via
                    | Concept::Conjunction
                    | Concept::Which
            )
        };
        self.hits.iter().any(|n| {
            n.concept == Concept::Negation
                && n.end <= position
                && position - n.end < NEGATION_REACH
                && !self
                    .hits
                    .iter()
                    .any(|h| binds(h) && n.end <= h.start && h.start < position)
        })
    }

    /// Whether every token belongs to one of `concepts` (and there is at least one token).
    pub fn only(&self, concepts: &[Concept]) -> bool {
        !self.tokens.is_empty() && (0..self.tokens.len()).all(|i| self.covers(i, concepts))
    }

    /// The tokens outside every phrase of `concepts`: the message read without them.
    pub fn without(&self, concepts: &[Concept]) -> Vec<String> {
        self.tokens
            .iter()
            .enumerate()
            .filter(|&(i, _)| !self.covers(i, concepts))
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Whether the message may point back at something just said: a "they" ("punya wa gk
    /// mereka", "their hotline") or a word under the possessive "-nya" ("nomor telponnya",
    /// "call center nya"). Loose on its own ("katanya" is no pointer); callers pair it with
    /// what the pointer must be about.
    pub fn refers_back(&self) -> bool {
        // "punya" is not "pu" + "-nya".
        const MIN_STEM_CHARS: usize = 3;
        self.has(Concept::They)
            || self.typed.iter().any(|word| {
                word == "nya"
                    || word
                        .strip_suffix("nya")
                        .is_some_and(|stem| stem.chars().count() >= MIN_STEM_CHARS)
            })
    }

    /// Whether the message contains `word` as a token.
    pub fn contains(&self, word: &str) -> bool {
        self.tokens.iter().any(|t| t == word)
    }

    /// Whether `concept` is said to change or fail: a change word shortly before or after it
    /// ("ganti nomor hp", "nomor hp saya sudah ganti", "hp lagi mati").
    pub fn changed(&self, concept: Concept) -> bool {
        const BEFORE: usize = 2;
        const AFTER: usize = 3;
        self.hits.iter().any(|h| {
            h.concept == concept
                && self.hits.iter().any(|c| {
                    c.concept == Concept::Change
                        && c.start + BEFORE >= h.start
                        && c.start < h.end + AFTER
                })
        })
    }

    /// Whether `concept` comes right after a "via" word ("ke email", "lewat sms"), or is
    /// written as a phrase that starts with one.
    pub fn directed(&self, concept: Concept) -> bool {
        self.hits.iter().any(|h| {
            h.concept == concept
                && self.hits.iter().any(|v| {
                    v.concept == Concept::Via
                        && ((v.end <= h.start && h.start - v.end < 2)
                            || (h.start <= v.start && v.end <= h.end))
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, lexicon: &ConceptLexicon) -> Words {
        let tokens: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        Words {
            hits: lexicon.find(&tokens),
            tokens,
            typed: Vec::new(),
            question_mark: text.contains('?'),
        }
    }

    fn lexicon() -> ConceptLexicon {
        let phrase = |s: &str| s.split_whitespace().map(str::to_string).collect();
        ConceptLexicon::new([
            (Concept::Sms, phrase("sms")),
            (Concept::Sms, phrase("nomor hp")),
            (Concept::Email, phrase("email")),
            (Concept::Negation, phrase("tidak")),
            (Concept::Negation, phrase("jangan")),
            (Concept::Send, phrase("resend")),
            (Concept::Again, phrase("resend")),
            (Concept::Filler, phrase("kak")),
            (Concept::Forget, phrase("lupa")),
            (Concept::Send, phrase("kirim")),
            (Concept::Again, phrase("lagi")),
            (Concept::All, phrase("total")),
        ])
    }

    fn typed(text: &str) -> Words {
        Words {
            typed: text.split_whitespace().map(str::to_string).collect(),
            ..Words::default()
        }
    }

    #[test]
    fn a_possessive_nya_points_back_and_a_word_ending_like_it_does_not() {
        for text in ["nomor telponnya berapa", "call center nya ada"] {
            assert!(typed(text).refers_back(), "{text}");
        }
        for text in ["saya punya dua kartu", "buka jam berapa"] {
            assert!(!typed(text).refers_back(), "{text}");
        }
    }

    #[test]
    fn a_message_is_read_without_the_phrases_of_some_concepts() {
        let w = words("kak kirim ke nomor hp lagi", &lexicon());
        assert_eq!(
            w.without(&[Concept::Sms, Concept::Filler]),
            ["kirim", "ke", "lagi"]
        );
        assert_eq!(w.without(&[]), w.tokens);
    }

    #[test]
    fn phrases_of_several_words_and_of_several_concepts_are_found() {
        let w = words("ke nomor hp saja", &lexicon());
        assert!(w.has(Concept::Sms));
        let w = words("resend", &lexicon());
        assert!(w.has(Concept::Send) && w.has(Concept::Again));
    }

    #[test]
    fn a_negation_shortly_before_turns_a_concept_around() {
        let w = words("jangan sms email saja", &lexicon());
        assert!(w.denies(Concept::Sms) && !w.affirms(Concept::Sms));
        assert!(w.affirms(Concept::Email));
        let w = words("sms tidak masuk", &lexicon());
        assert!(
            w.affirms(Concept::Sms),
            "a negation after the word is about something else"
        );
    }

    #[test]
    fn a_word_is_found_under_an_enclitic() {
        let w = words("ke emailku saja", &lexicon());
        assert!(w.has(Concept::Email));
        let w = words("smsnya tidak masuk", &lexicon());
        assert!(w.has(Concept::Sms));
        let w = words("kakmu", &lexicon());
        assert!(w.has(Concept::Filler));
    }

    #[test]
    fn a_word_is_found_under_a_colloquial_verb_suffix() {
        let w = words("kirimin lagi", &lexicon());
        assert!(w.has(Concept::Send) && w.has(Concept::Again));
        assert!(words("kirimkan ke email", &lexicon()).has(Concept::Send));
        assert!(words("totalin aja", &lexicon()).has(Concept::All));
        let w = words("ingin makan", &lexicon());
        assert!(w.hits.is_empty(), "{:?}", w.hits);
    }

    #[test]
    fn a_question_is_a_question_word_a_question_mark_or_a_closing_negation() {
        assert!(words("buka tidak", &lexicon()).asks());
        assert!(words("ada?", &lexicon()).asks());
        assert!(
            !words("tidak", &lexicon()).asks(),
            "a bare no answers, it does not ask"
        );
        assert!(!words("sms tidak masuk", &lexicon()).asks());
    }

    #[test]
    fn a_concept_inside_a_phrase_of_another_is_not_outside_it() {
        let phrase = |s: &str| s.split_whitespace().map(str::to_string).collect();
        let lexicon = ConceptLexicon::new([
            (Concept::Ours, phrase("bpjs")),
            (Concept::Health, phrase("bpjs kesehatan")),
        ]);
        let w = words("kartu bpjs kesehatan", &lexicon);
        assert!(w.has(Concept::Ours) && !w.has_outside(Concept::Ours, Concept::Health));
        let w = words("bpjs kesehatan atau bpjs", &lexicon);
        assert!(w.has_outside(Concept::Ours, Concept::Health));
    }

    #[test]
    fn only_checks_every_token() {
        assert!(words("lupa kak", &lexicon()).only(&[Concept::Forget, Concept::Filler]));
        assert!(!words("lupa password", &lexicon()).only(&[Concept::Forget, Concept::Filler]));
        assert!(!words("", &lexicon()).only(&[Concept::Forget]));
    }
}
