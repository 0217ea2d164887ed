//! Natural-language understanding: text → intent (with a probability-like confidence and a
//! ranking) and entities. Rules first, the classifier second, `out_of_scope` when unsure.

pub mod classifier;
pub mod concepts;
pub mod dictionary;
pub mod entities;
pub mod eval;
pub mod normalize;
pub mod rules;

use crate::content::Content;
use crate::intent::Intent;
use classifier::{Classifier, TrainingOptions};
use concepts::{Concept, ConceptLexicon, Words};
use dictionary::Dictionary;
use entities::Entity;
use normalize::Normalizer;
use rules::Rules;
use serde::Serialize;

/// The intent the NLU answers when nothing else fits or it is not confident.
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
    pub name: Intent,
    pub confidence: f64,
}

/// The NLU's reading of one message (the JSON of `tanya nlu parse`).
#[derive(Debug, Clone, Serialize)]
pub struct Parse {
    pub text: String,
    pub intent: IntentScore,
    pub ranking: Vec<IntentScore>,
    pub entities: Vec<Entity>,
    /// The normalised tokens and the readers' concepts in them (for the dialog, not the JSON).
    #[serde(skip)]
    pub words: Words,
    /// A second request in the same message ("cek saldo sekalian ganti password"), or the
    /// request inside a complaint; `None` when there is none.
    #[serde(skip)]
    pub also: Option<IntentScore>,
    /// The member is frustrated: a complaint, or angry words around a request.
    #[serde(skip)]
    pub frustrated: bool,
}

/// The trained NLU: normaliser, rules and classifier.
#[derive(Debug, Clone)]
pub struct Nlu {
    /// The classifier's classes read as intents, in its order.
    classes: Vec<Intent>,
    normalizer: Normalizer,
    rules: Rules,
    classifier: Classifier,
    concepts: ConceptLexicon,
    thresholds: Thresholds,
}

/// Re-reading parts of a message (a second request, the request at the end of an outburst)
/// classifies it again once per split: only messages this short are split, so the work stays
/// linear in the message (SPEC §6 bounded work). Real double requests are short.
const MAX_TOKENS_TO_SPLIT: usize = 40;

/// Intents about an account, a balance or a claim, which another app, bank, agency or
/// insurer also has ("polis allianz mau dicairkan" is no JHT claim).
fn is_about_an_account(intent: &Intent) -> bool {
    matches!(
        intent,
        Intent::ForgotAccount
            | Intent::ForgotPassword
            | Intent::CheckJhtBalance
            | Intent::FaqJhtClaim
            | Intent::FaqLoginJmo
            | Intent::FaqRegisterJmo
            | Intent::FaqUpdateData
            | Intent::HumanAgent
    )
}

/// How sure the classifier must be of a complaint that has none of the angry words.
const UNWORDED_COMPLAINT_MIN_CONFIDENCE: f64 = 0.6;

/// Whether an intent asks for something tanya does (a flow, an FAQ, a person), as opposed to
/// small talk: only such intents count as a second request or as the request in a complaint.
pub fn is_request(intent: &Intent) -> bool {
    matches!(
        intent,
        Intent::ForgotAccount
            | Intent::ForgotPassword
            | Intent::CheckJhtBalance
            | Intent::HumanAgent
    ) || intent.is_faq()
}

/// Whether an intent starts one of the flows that send a code.
fn is_flow_request(intent: &Intent) -> bool {
    matches!(
        intent,
        Intent::ForgotAccount | Intent::ForgotPassword | Intent::CheckJhtBalance
    )
}

impl Nlu {
    /// Builds and trains the NLU from validated content.
    pub fn train(content: &Content, thresholds: Thresholds) -> Nlu {
        // The readers' words are vocabulary too: a typo of "kirim" is corrected towards it,
        // and "ulang" is never corrected away from itself.
        let examples = content
            .intents
            .iter()
            .flat_map(|i| i.examples.iter().map(String::as_str))
            .chain(content.concepts.iter().map(|(_, phrase)| phrase.as_str()));
        let dictionary = Dictionary::new(content.words.iter().cloned());
        let normalizer = Normalizer::new(&content.lexicon, examples, dictionary);
        let concepts = ConceptLexicon::new(content.concepts.iter().filter_map(|(name, phrase)| {
            Some((Concept::from_name(name)?, normalizer.tokens(phrase)))
        }));
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
            classes: classifier
                .classes()
                .iter()
                .map(|c| Intent::parse(c))
                .collect(),
            normalizer,
            rules: Rules::new(&content.intents),
            classifier,
            concepts,
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
        let hits = self.concepts.find(&tokens);
        let words = Words {
            tokens,
            hits,
            typed: typed_words(text),
            question_mark: text.contains('?'),
        };
        let (mut intent, ranking) = self.classify(&words.tokens);
        // A request denied or remembered is not wanted: what the member means is read
        // from the rest, and the message carries no second request.
        let reread = self
            .after_contrast(&words)
            .or_else(|| self.after_denial(&words))
            .or_else(|| self.after_remembering(&words));
        let one_request_meant = reread.is_some();
        if let Some(meant) = reread {
            intent = meant;
        }
        let theirs = somebody_elses(&words, &intent, &ranking);
        let somebody_elses_request = theirs.is_some();
        if let Some(theirs) = theirs {
            intent = theirs;
        }
        if intent.name == Intent::OutOfScope
            && let Some(request) = self.request_in_a_sentence(text, &words)
        {
            intent = request;
        }
        if !is_flow_request(&intent.name)
            && !somebody_elses_request
            && let Some(request) = self.request_beside_a_channel(&words)
        {
            intent = request;
        }
        // "ass wr wb", "askum min": a salam and nothing else is a greeting, however it is
        // spelled (the salam's forms are in the lexicon, not in the classifier's examples).
        // With more ("assalamualaikum kak, mau tanya saldo jht") the salam may hide the
        // request from the classifier: the rest is read on its own (the dialog answers the
        // salam first).
        if words.has(Concept::Salam) {
            if words.only(&[Concept::Salam, Concept::Filler]) {
                intent = IntentScore {
                    name: Intent::Greet,
                    confidence: RULE_CONFIDENCE,
                };
            } else if !is_request(&intent.name)
                && let Some(request) = self.request_after_a_salam(&words)
            {
                intent = request;
            }
        }
        if let Some(complaint) = complaint_by_angry_words(&words, &intent, &ranking) {
            intent = complaint;
        }
        // An empathy answer to a message that was no complaint reads as mockery: without an
        // angry word, the classifier must be sure of a complaint.
        if intent.name == Intent::Complaint
            && intent.confidence < UNWORDED_COMPLAINT_MIN_CONFIDENCE
            && !words.has(Concept::Frustration)
        {
            intent = IntentScore {
                name: Intent::OutOfScope,
                confidence: round(1.0 - intent.confidence),
            };
        }
        let frustrated = intent.name == Intent::Complaint || words.has(Concept::Frustration);
        // A complaint, or an angry message read as nothing in particular, may still carry a
        // request once the angry words are left out.
        let also = if intent.name == Intent::Complaint
            || (frustrated && intent.name == Intent::OutOfScope)
        {
            self.request_inside_complaint(&words)
        } else if one_request_meant {
            None
        } else {
            self.second_request(&words, &mut intent)
        };
        Parse {
            text: text.to_string(),
            intent,
            ranking,
            entities: entities::extract(text),
            words,
            also,
            frustrated,
        }
    }

    /// The decided intent and the ranking of `tokens`: rules first, then the classifier.
    fn classify(&self, tokens: &[String]) -> (IntentScore, Vec<IntentScore>) {
        let probabilities = self.classifier.predict(tokens);
        let mut ranking: Vec<IntentScore> = self
            .classes
            .iter()
            .zip(&probabilities)
            .map(|(intent, &p)| IntentScore {
                name: intent.clone(),
                confidence: round(f64::from(p)),
            })
            .collect();
        ranking.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.name.as_str().cmp(b.name.as_str()))
        });
        ranking.truncate(RANKING_LENGTH);
        let normalized = tokens.join(" ");
        let intent = match self.rules.matching_intent(&normalized) {
            Some(name) => IntentScore {
                name: Intent::parse(name),
                confidence: RULE_CONFIDENCE,
            },
            None => self.decide(&ranking),
        };
        (intent, ranking)
    }

    /// The request of a part of the message, if the part is confidently one.
    fn request_in(&self, tokens: &[String]) -> Option<IntentScore> {
        let (intent, _) = self.classify(tokens);
        is_request(&intent.name).then_some(intent)
    }

    /// "bukan lupa password, tapi lupa akun": what follows the contrast is the request when a
    /// negation comes before it.
    fn after_contrast(&self, words: &Words) -> Option<IntentScore> {
        let contrast = words.hits.iter().find(|h| h.concept == Concept::Contrast)?;
        let negated_before = words
            .hits
            .iter()
            .any(|h| h.concept == Concept::Negation && h.end <= contrast.start);
        if !negated_before {
            return None;
        }
        let after = &words.tokens[contrast.end..];
        (!after.is_empty())
            .then(|| self.request_in(after))
            .flatten()
    }

    /// "email jmo inget, passwordnya yg lupa": what the member remembers is not the
    /// request; the part about what was forgotten is, read on its own. When the forgetting
    /// comes first ("lupa password, email masih ingat"), the remembered thing stands just
    /// before its verb, so every cut between the two is tried and the surest request wins.
    fn after_remembering(&self, words: &Words) -> Option<IntentScore> {
        if words.tokens.len() > MAX_TOKENS_TO_SPLIT {
            return None;
        }
        let remembered = words.affirmed(Concept::Remember).next()?;
        let forgot = words
            .affirmed(Concept::Forget)
            .find(|f| f.end <= remembered.start || remembered.end <= f.start)?;
        let parts: Vec<&[String]> = if remembered.end <= forgot.start {
            vec![&words.tokens[remembered.end..]]
        } else {
            (forgot.end + 1..remembered.start)
                .map(|cut| &words.tokens[..cut])
                .collect()
        };
        parts
            .into_iter()
            .filter_map(|part| self.request_in(part))
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
    }

    /// A long story read as nothing in particular ("saya petani di desa, …, bisa bayar di
    /// situ?") usually carries its request in one sentence: each sentence is read on its
    /// own, and the surest request wins. The sentences come from the text's punctuation,
    /// which the tokens no longer have. Each is normalised once, so the work stays linear.
    fn request_in_a_sentence(&self, text: &str, words: &Words) -> Option<IntentScore> {
        const MIN_STORY_TOKENS: usize = 20;
        const MIN_SENTENCE_TOKENS: usize = 3;
        if words.tokens.len() < MIN_STORY_TOKENS {
            return None;
        }
        text.split(['.', ',', ';', '!', '?', '\n'])
            .map(|sentence| self.normalizer.tokens(sentence))
            .filter(|tokens| tokens.len() >= MIN_SENTENCE_TOKENS)
            .filter_map(|tokens| self.request_in(&tokens))
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
    }

    /// "bukan lupa akun kak, lupa kata sandinya aja": a message that opens by denying one
    /// request and goes on with another means the other. Every split after the denial is
    /// tried; both sides must be confident requests, and different.
    fn after_denial(&self, words: &Words) -> Option<IntentScore> {
        const MAX_TOKENS: usize = MAX_TOKENS_TO_SPLIT;
        let opens_at = |concept: Concept| {
            words
                .hits
                .iter()
                .any(|h| h.concept == concept && h.start == 0)
        };
        // "gak inget email yg didaftarin", "gabisa login jmo": a negation that is part of
        // forgetting ("tidak ingat") or of being unable ("tidak bisa") denies nothing; it is
        // the request itself.
        let opens_with_denial =
            opens_at(Concept::Negation) && !opens_at(Concept::Forget) && !opens_at(Concept::Unable);
        if !opens_with_denial || words.tokens.len() > MAX_TOKENS {
            return None;
        }
        let denied_from = 1;
        (denied_from + 2..words.tokens.len().saturating_sub(1))
            .filter_map(|split| {
                let denied = self.request_in(&words.tokens[denied_from..split])?;
                let meant = self.request_in(&words.tokens[split..])?;
                (denied.name != meant.name).then_some(meant)
            })
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
    }

    /// The request a complaint carries ("kesal, dari kemarin lupa password"): the message
    /// read again without its angry words and fillers.
    fn request_inside_complaint(&self, words: &Words) -> Option<IntentScore> {
        let rest = words.without(&[Concept::Frustration, Concept::Filler]);
        if rest.len() < 2 || rest.len() > MAX_TOKENS_TO_SPLIT {
            return None;
        }
        // The request often closes the outburst ("parah, dari tadi gagal. saya lupa kata
        // sandi"): failing the whole, the most confident action asked for at its end. Only
        // actions: an FAQ's words in an outburst ("3 kali ke kantor cabang ga beres") are
        // what the member is angry about, not a question.
        // An FAQ is the request only when the member asks something ("kesal, cara klaim jht
        // gimana?"); "jmo ga guna, tiap dibuka force close" names the app, it asks nothing.
        let asks = words.asks();
        let whole = self
            .request_in(&rest)
            .filter(|request| asks || !is_complained_about(&request.name));
        // Or it opens it ("aduh lupa kata sandi, udah tua ga ngerti aplikasi, pusing").
        const MIN_PART_TOKENS: usize = 2;
        whole.or_else(|| {
            let endings = (0..rest.len().saturating_sub(1)).map(|start| &rest[start..]);
            let openings = (MIN_PART_TOKENS..rest.len()).map(|end| &rest[..end]);
            endings
                .chain(openings)
                .filter_map(|part| self.request_in(part))
                .filter(|request| !is_complained_about(&request.name))
                .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
        })
    }

    /// "cek jht dong, kode verifikasi kirim sms": a request with the code's way stated beside
    /// it (the dialog reads that part as a preference). Its words about codes and channels
    /// pull the classifier towards other intents, so the rest is read on its own.
    fn request_beside_a_channel(&self, words: &Words) -> Option<IntentScore> {
        const CHANNEL_TALK: [Concept; 7] = [
            Concept::Sms,
            Concept::Email,
            Concept::Via,
            Concept::Send,
            Concept::Code,
            Concept::Change,
            Concept::Filler,
        ];
        // A channel the code is sent to ("kirim sms", "lewat email"), not one the member
        // talks about ("lupa password gmail").
        let sends = words.affirms(Concept::Send);
        let states_a_channel = [Concept::Sms, Concept::Email]
            .iter()
            .any(|&channel| words.directed(channel) || (sends && words.affirms(channel)));
        // "lupa password bca, kirim kode ke email" stays somebody else's.
        if !states_a_channel
            || words.has(Concept::Elsewhere)
            || words.tokens.len() > MAX_TOKENS_TO_SPLIT
        {
            return None;
        }
        // A code is only sent in a flow, so only a flow's request is taken ("cek jht saya, kode
        // nya ke nomer telpon aja" is no call for the call centre's number).
        self.request_without(words, &CHANNEL_TALK)
            .filter(|request| is_flow_request(&request.name))
    }

    /// The request of a message read without its salam and small words.
    fn request_after_a_salam(&self, words: &Words) -> Option<IntentScore> {
        self.request_without(words, &[Concept::Salam, Concept::Filler])
    }

    /// The request of the message read without the phrases of `concepts`, when what is left
    /// still says something ("kirim ke sms aja" has no request beside its channel) and is
    /// short enough to read again.
    fn request_without(&self, words: &Words, concepts: &[Concept]) -> Option<IntentScore> {
        const MIN_REST_TOKENS: usize = 2;
        let rest = words.without(concepts);
        (MIN_REST_TOKENS..=MAX_TOKENS_TO_SPLIT)
            .contains(&rest.len())
            .then(|| self.request_in(&rest))
            .flatten()
    }

    /// Two requests joined by a conjunction ("cek saldo jht sekalian ganti password"): both
    /// halves must each be a confident request of their own, and different. The first is
    /// served first (it becomes the message's intent); the second is returned. When the
    /// whole message is surely one request, or one that neither half is ("selisih antara
    /// saldo jht dan potongan upah" asks about the difference), the conjunction joins parts
    /// of it.
    fn second_request(&self, words: &Words, intent: &mut IntentScore) -> Option<IntentScore> {
        const MIN_PART_TOKENS: usize = 2;
        if words.tokens.len() > MAX_TOKENS_TO_SPLIT {
            return None;
        }
        for hit in words
            .hits
            .iter()
            .filter(|h| h.concept == Concept::Conjunction)
        {
            let (left, right) = (&words.tokens[..hit.start], &words.tokens[hit.end..]);
            if left.len() < MIN_PART_TOKENS || right.len() < MIN_PART_TOKENS {
                continue;
            }
            let (Some(first), Some(second)) = (self.request_in(left), self.request_in(right))
            else {
                continue;
            };
            let whole_is_neither =
                is_request(&intent.name) && intent.name != first.name && intent.name != second.name;
            if first.name == second.name || whole_is_neither || surely_one_request(intent) {
                continue;
            }
            *intent = first;
            return Some(second);
        }
        None
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
                name: Intent::OutOfScope,
                confidence: round(1.0 - top.confidence),
            },
            None => IntentScore {
                name: Intent::OutOfScope,
                confidence: 1.0,
            },
        }
    }
}

/// The reading of a request that belongs to somebody else: another app's, bank's or
/// insurer's account ("lupa password gojek") is out of scope; the health agency's account,
/// card or dues is its FAQ.
fn somebody_elses(
    words: &Words,
    intent: &IntentScore,
    ranking: &[IntentScore],
) -> Option<IntentScore> {
    let name = if is_about_an_account(&intent.name)
        && words.has(Concept::Elsewhere)
        && !words.has(Concept::Ours)
        && !words.has(Concept::SharedName)
    {
        Intent::OutOfScope
    } else if is_about_the_health_agency(words, intent, ranking) {
        // The FAQ that says the health-insurance agency is a different one (SPEC §2).
        Intent::FaqBpjsKesehatan
    } else {
        return None;
    };
    Some(IntentScore {
        name,
        confidence: RULE_CONFIDENCE,
    })
}

/// "ganti nomor hp di mobile jkn": a request about an account, a card, dues or an office
/// that names the health agency and not this one is about the health agency, whether the
/// classifier read it as one of ours or was unsure ("cara daftar jkn buat anak": a request
/// among its first three). A message it reads as nothing like a request stays out of scope.
fn is_about_the_health_agency(
    words: &Words,
    intent: &IntentScore,
    ranking: &[IntentScore],
) -> bool {
    const UNSURE_PLACES: usize = 3;
    const UNSURE_MIN_CONFIDENCE: f64 = 0.1;
    let unsure_request = intent.name == Intent::OutOfScope
        && ranking
            .iter()
            .take(UNSURE_PLACES)
            .any(|score| is_request(&score.name) && score.confidence > UNSURE_MIN_CONFIDENCE);
    (is_request(&intent.name) || unsure_request)
        && words.has(Concept::Health)
        && !words.has_outside(Concept::Ours, Concept::Health)
}

/// Whether an outburst naming this intent's subject is more likely angry about it than
/// asking for it: an FAQ's words ("3 kali ke kantor cabang ga beres"), or the people and
/// phone lines a person is reached by ("telp call center ga pernah diangkat, percuma").
/// Only a question makes them the request; the empathy answer offers a person anyway.
fn is_complained_about(intent: &Intent) -> bool {
    intent.is_faq() || *intent == Intent::HumanAgent
}

/// Whether the classifier reads the whole message as one request so surely that a
/// conjunction in it cannot be joining two: two requests leave it torn between them.
fn surely_one_request(intent: &IntentScore) -> bool {
    const ONE_REQUEST_CONFIDENCE: f64 = 0.9;
    is_request(&intent.name) && intent.confidence >= ONE_REQUEST_CONFIDENCE
}

/// "tai lah, dari pagi ga bisa2": an angry word in a message read as no request (nothing
/// in particular, or small talk such as a cancel) is a complaint when the classifier's own
/// ranking leans that way too: the complaint first or second, and above the out-of-scope
/// examples ("jalan depan rumah rusak parah" is angry, but about something else). Swearing
/// is never a greeting.
fn complaint_by_angry_words(
    words: &Words,
    intent: &IntentScore,
    ranking: &[IntentScore],
) -> Option<IntentScore> {
    const LEANING_PLACES: usize = 2;
    if is_request(&intent.name)
        || intent.name == Intent::Complaint
        || !words.affirms(Concept::Frustration)
    {
        return None;
    }
    ranking
        .iter()
        .take(LEANING_PLACES)
        .take_while(|r| r.name != Intent::OutOfScope)
        .find(|r| r.name == Intent::Complaint)
        .cloned()
}

/// The words of `text` as typed: lower case, split at anything not a letter or digit, at
/// most as many as the normaliser reads.
fn typed_words(text: &str) -> Vec<String> {
    const MAX_TYPED_WORDS: usize = 1_000;
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_TYPED_WORDS)
        .map(str::to_string)
        .collect()
}

/// Four decimals are plenty for a confidence and keep the JSON readable.
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use concepts::Hit;

    fn score(name: &str, confidence: f64) -> IntentScore {
        IntentScore {
            name: Intent::parse(name),
            confidence,
        }
    }

    /// "<angry word> <two more words>": the readers found frustration at the start.
    fn angry_words() -> Words {
        Words {
            tokens: vec!["sialan".into(), "tidak".into(), "bisa".into()],
            hits: vec![Hit {
                concept: Concept::Frustration,
                start: 0,
                end: 1,
            }],
            typed: Vec::new(),
            question_mark: false,
        }
    }

    #[test]
    fn an_angry_message_leaning_to_a_complaint_is_one() {
        let ranking = [score("cancel", 0.42), score("complaint", 0.27)];
        let read = complaint_by_angry_words(&angry_words(), &ranking[0], &ranking);
        assert_eq!(read.map(|r| r.name), Some(Intent::Complaint));
    }

    #[test]
    fn an_angry_message_about_something_else_stays_out_of_scope() {
        let ranking = [score("out_of_scope", 0.7), score("complaint", 0.2)];
        let unsure = score("out_of_scope", 0.3);
        assert!(complaint_by_angry_words(&angry_words(), &unsure, &ranking).is_none());
    }

    #[test]
    fn a_request_or_a_calm_message_is_left_alone() {
        let ranking = [score("forgot_password", 0.5), score("complaint", 0.4)];
        assert!(complaint_by_angry_words(&angry_words(), &ranking[0], &ranking).is_none());
        let calm = Words {
            hits: Vec::new(),
            ..angry_words()
        };
        let ranking = [score("cancel", 0.5), score("complaint", 0.4)];
        assert!(complaint_by_angry_words(&calm, &ranking[0], &ranking).is_none());
    }

    fn words_with(concepts: &[Concept]) -> Words {
        Words {
            tokens: concepts.iter().map(|c| c.name().to_string()).collect(),
            hits: concepts
                .iter()
                .enumerate()
                .map(|(start, &concept)| Hit {
                    concept,
                    start,
                    end: start + 1,
                })
                .collect(),
            typed: Vec::new(),
            question_mark: false,
        }
    }

    #[test]
    fn a_request_naming_only_the_health_agency_is_about_it() {
        let health = words_with(&[Concept::Health]);
        let ranking = [
            score("faq_update_data", 0.45),
            score("faq_bpjs_kesehatan", 0.4),
        ];
        assert!(is_about_the_health_agency(&health, &ranking[0], &ranking));
        let unsure = score("out_of_scope", 0.55);
        assert!(is_about_the_health_agency(&health, &unsure, &ranking));
        let both = words_with(&[Concept::Health, Concept::Ours]);
        assert!(!is_about_the_health_agency(&both, &ranking[0], &ranking));
        let out = [score("out_of_scope", 0.8), score("faq_update_data", 0.1)];
        assert!(!is_about_the_health_agency(&health, &unsure, &out));
        let leaning = [score("out_of_scope", 0.55), score("faq_register_jmo", 0.22)];
        assert!(is_about_the_health_agency(&health, &unsure, &leaning));
    }

    #[test]
    fn only_a_sure_request_is_one_request() {
        assert!(surely_one_request(&score("faq_jht_payslip", 0.94)));
        assert!(!surely_one_request(&score("faq_jht_payslip", 0.7)));
        assert!(!surely_one_request(&score("thanks", 0.99)));
    }
}
