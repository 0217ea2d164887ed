//! NLU evidence: the held-out dev set meets its floors, shares no utterance with the training
//! examples, entities are extracted as labelled, and the content in `intents/` validates.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use tanya::config::Config;
use tanya::content::Content;
use tanya::nlu::Nlu;
use tanya::nlu::eval::{self, Report};

/// A held-out set of labelled messages and the floors it must meet.
struct HeldOut {
    file: &'static str,
    min_lines: usize,
    accuracy: f64,
    out_of_scope_recall: f64,
}

/// Wave 1's dev set: issue 12's target (0.96 / 0.92) is its floor.
const DEV: HeldOut = HeldOut {
    file: "tests/nlu/dev.jsonl",
    min_lines: 250,
    accuracy: 0.96,
    out_of_scope_recall: 0.92,
};
/// Wave 2's dev set (the eight new intents, near misses, negation, rambling messages),
/// written apart from the examples; floors a point under where tanya stands (0.953 / 0.952
/// measured).
const WAVE2: HeldOut = HeldOut {
    file: "tests/nlu/dev_wave2.jsonl",
    min_lines: 300,
    accuracy: 0.94,
    out_of_scope_recall: 0.94,
};
/// Session 5's held-out set (regional languages, English, near misses), written by a helper
/// that never saw `intents/`, after the mechanisms it measures; nothing was tuned on it
/// (0.946 / 0.923 measured; 34 lines that happened to equal a training example were removed).
const SESSION5: HeldOut = HeldOut {
    file: "tests/nlu/heldout_s5.jsonl",
    min_lines: 180,
    accuracy: 0.935,
    out_of_scope_recall: 0.90,
};

/// Session 6's held-out set (every intent, a quarter near misses), written by a helper that
/// read only SPEC §2 and §4, after issue 12's mechanisms were done, and measured once: 0.970 /
/// 0.949 (TF-IDF + LR on the same examples: 0.916 / 0.831). Never tuned on; 38 of the 240
/// lines equal a training example and were removed.
const SESSION6: HeldOut = HeldOut {
    file: "tests/nlu/heldout_s6.jsonl",
    min_lines: 200,
    accuracy: 0.955,
    out_of_scope_recall: 0.93,
};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn config() -> Config {
    let intents = repo("intents").display().to_string();
    Config::from_lookup(|name| (name == "TANYA_INTENTS_DIR").then(|| intents.clone()))
        .expect("default config")
}

fn trained() -> &'static (Content, Nlu) {
    static TRAINED: OnceLock<(Content, Nlu)> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let config = config();
        let content = tanya::app::load_content(&config).expect("intents/ is valid");
        let nlu = Nlu::train(&content, config.nlu);
        (content, nlu)
    })
}

fn evaluate(file: &str) -> (Vec<eval::LabelledExample>, Report) {
    let text = std::fs::read_to_string(repo(file)).expect("readable evaluation file");
    let examples = eval::read_examples(&text).expect("valid evaluation file");
    let report = eval::evaluate(&trained().1, &examples);
    (examples, report)
}

/// Compares texts the way duplicates are judged: case, punctuation and spacing ignored.
fn comparable(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_content_in_intents_validates() {
    let content = &trained().0;
    assert_eq!(content.intents.len(), 25, "SPEC §2 names 25 intents");
    for intent in &content.intents {
        assert!(
            intent.examples.len() >= 30,
            "{} has only {} examples",
            intent.name,
            intent.examples.len()
        );
    }
}

fn meets_its_floors(set: &HeldOut) {
    let (examples, report) = evaluate(set.file);
    assert!(
        examples.len() >= set.min_lines,
        "{} has {} lines",
        set.file,
        examples.len()
    );
    println!("{}", report.render());
    assert!(
        report.accuracy >= set.accuracy,
        "{}: accuracy {:.4} < {}",
        set.file,
        report.accuracy,
        set.accuracy
    );
    assert!(
        report.out_of_scope_recall() >= set.out_of_scope_recall,
        "{}: out_of_scope recall {:.4} < {}",
        set.file,
        report.out_of_scope_recall(),
        set.out_of_scope_recall
    );
}

#[test]
fn the_dev_set_meets_the_accuracy_and_out_of_scope_floors() {
    meets_its_floors(&DEV);
}

#[test]
fn the_wave2_dev_set_meets_its_floors() {
    meets_its_floors(&WAVE2);
}

/// Issue 12's target (0.96 / 0.92) is on the dev set grown with wave 2's messages: both
/// files together, 782 lines (0.962 / 0.953 measured). The floors keep a point of margin.
#[test]
fn the_grown_dev_set_stays_near_issue_12s_target() {
    let (mut examples, _) = evaluate(DEV.file);
    examples.extend(evaluate(WAVE2.file).0);
    let report = eval::evaluate(&trained().1, &examples);
    assert!(report.accuracy >= 0.95, "accuracy {:.4}", report.accuracy);
    assert!(
        report.out_of_scope_recall() >= 0.94,
        "out_of_scope recall {:.4}",
        report.out_of_scope_recall()
    );
}

#[test]
fn the_session5_held_out_set_meets_its_floors() {
    meets_its_floors(&SESSION5);
}

#[test]
fn the_session6_held_out_set_meets_its_floors() {
    meets_its_floors(&SESSION6);
}

#[test]
fn the_dev_set_shares_no_utterance_with_the_training_examples() {
    let training: HashSet<String> = trained()
        .0
        .intents
        .iter()
        .flat_map(|i| i.examples.iter().map(|e| comparable(e)))
        .collect();
    let examples: Vec<eval::LabelledExample> = [DEV, WAVE2, SESSION5, SESSION6]
        .iter()
        .flat_map(|set| evaluate(set.file).0)
        .collect();
    let leaked: Vec<&str> = examples
        .iter()
        .filter(|e| training.contains(&comparable(&e.text)))
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        leaked.is_empty(),
        "dev utterances found in training: {leaked:?}"
    );
}

#[test]
fn entities_are_extracted_as_labelled() {
    let (_, report) = evaluate("tests/nlu/entities.jsonl");
    assert!(
        report.entities.precision >= 0.98 && report.entities.recall >= 0.98,
        "entity precision {:.3}, recall {:.3}",
        report.entities.precision,
        report.entities.recall
    );
}

#[test]
fn hostile_inputs_get_a_clear_answer() {
    let nlu = &trained().1;
    let long = "saldo ".repeat(1000);
    let inputs = [
        "",
        "   \n\t ",
        "😀😀😀🙏",
        "\u{202E}drowssap\u{202C}",
        "\u{200B}\u{200B}\u{FEFF}",
        "1234567",
        "0000000000000000000000000000",
        long.as_str(),
        "\u{0}\u{1}\u{7f}",
    ];
    for input in inputs {
        let parse = nlu.parse(input);
        assert!(
            (0.0..=1.0).contains(&parse.intent.confidence),
            "{input:?}: {:?}",
            parse.intent
        );
    }
    for blank in ["", "   ", "😀😀😀🙏", "\u{200B}"] {
        assert_eq!(
            nlu.parse(blank).intent.name.as_str(),
            "out_of_scope",
            "{blank:?}"
        );
    }
}

#[test]
fn confidence_is_a_probability_not_always_one() {
    let nlu = &trained().1;
    let parse = nlu.parse("saya mau tanya soal saldo sama klaim");
    assert!(parse.intent.confidence < 1.0, "{:?}", parse.intent);
    let total: f64 = parse.ranking.iter().map(|r| r.confidence).sum();
    assert!(total <= 1.0001, "ranking sums to {total}");
}

#[test]
fn an_invalid_intents_file_fails_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo("intents")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let copy_dir = |name: &str| {
        let target = dir.path().join(name);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(repo("intents").join(name)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, target.join(path.file_name().unwrap())).unwrap();
        }
    };
    copy_dir("responses");
    copy_dir("lexicon");
    std::fs::write(
        dir.path().join("greet.toml"),
        "examples = [\"halo\"\npatterns = [\n",
    )
    .unwrap();
    let intents = dir.path().display().to_string();
    let config =
        Config::from_lookup(|name| (name == "TANYA_INTENTS_DIR").then(|| intents.clone())).unwrap();
    let errors = tanya::app::load_content(&config).unwrap_err().to_string();
    assert!(errors.contains("greet.toml:2"), "{errors}");
}

#[test]
fn typos_slang_and_elongations_normalise_to_the_words_the_classifier_knows() {
    let nlu = &trained().1;
    for (typed, expected) in [
        ("lupa pasword", "lupa password"),
        ("paswod", "password"),
        ("sndi", "password"),
        ("sldo", "saldo"),
        ("tolonggg", "tolong"),
        ("PASSWORD!!!", "password"),
    ] {
        assert_eq!(nlu.normalize(typed), expected, "{typed:?}");
    }
}

#[test]
fn a_denied_request_gives_way_to_the_one_that_follows() {
    let nlu = &trained().1;
    assert_eq!(
        nlu.parse("bukan lupa password tapi lupa akun")
            .intent
            .name
            .as_str(),
        "forgot_account"
    );
    assert_eq!(
        nlu.parse("bukan cek saldo, saya mau ganti password jmo")
            .intent
            .name
            .as_str(),
        "forgot_password"
    );
}

#[test]
fn another_apps_account_is_out_of_scope_and_ours_is_not() {
    let nlu = &trained().1;
    // The classifier alone ranks these as JMO requests: the words carry the difference.
    for (other, ours, intent) in [
        (
            "lupa email akun netflix",
            "lupa email akun jmo",
            "forgot_account",
        ),
        (
            "cek saldo taspen saya",
            "cek saldo jht saya",
            "check_jht_balance",
        ),
        (
            "cara login ke aplikasi brimo",
            "cara login ke aplikasi jmo",
            "faq_login_jmo",
        ),
    ] {
        let parse = nlu.parse(other);
        assert_eq!(parse.intent.name.as_str(), "out_of_scope", "{other}");
        assert_eq!(
            parse.ranking[0].name.as_str(),
            intent,
            "{other}: the classifier's own reading"
        );
        assert_eq!(nlu.parse(ours).intent.name.as_str(), intent, "{ours}");
    }
}

#[test]
fn two_requests_in_one_message_are_both_read_in_order() {
    let parse = trained()
        .1
        .parse("mau cek saldo jht sekalian reset password jmo");
    assert_eq!(parse.intent.name.as_str(), "check_jht_balance");
    assert_eq!(
        parse.also.as_ref().map(|a| a.name.as_str()),
        Some("forgot_password")
    );
}

#[test]
fn the_request_inside_an_angry_message_is_found() {
    let parse = trained().1.parse("kesal banget, saya lupa password jmo");
    assert!(parse.frustrated);
    assert_eq!(
        parse.also.as_ref().map(|a| a.name.as_str()),
        Some("forgot_password")
    );
}

#[test]
fn the_health_agencys_account_card_or_dues_is_its_faq_not_our_flow() {
    let nlu = &trained().1;
    let parse = nlu.parse("lupa password aplikasi mobile jkn");
    assert_eq!(parse.intent.name.as_str(), "faq_bpjs_kesehatan");
    assert_eq!(
        nlu.parse("lupa password jmo").intent.name.as_str(),
        "forgot_password"
    );
}

#[test]
fn what_the_member_remembers_is_not_what_they_lost() {
    let nlu = &trained().1;
    // The classifier alone leans to the password both times: it is named first.
    let parse = nlu.parse("password saya masih ingat, email yang lupa");
    assert_eq!(parse.ranking[0].name.as_str(), "forgot_password");
    assert_eq!(parse.intent.name.as_str(), "forgot_account");
    assert_eq!(
        nlu.parse("passwordnya inget kok, yang lupa emailnya")
            .intent
            .name
            .as_str(),
        "forgot_account"
    );
}

#[test]
fn being_unable_is_no_denial_and_one_sure_request_is_not_split() {
    let nlu = &trained().1;
    let parse = nlu.parse("ga bisa login jmo padahal password sudah benar");
    assert_eq!(parse.intent.name.as_str(), "faq_login_jmo");
    let parse = nlu.parse("berapa selisih antara saldo jht dan potongan gaji");
    assert_eq!(parse.intent.name.as_str(), "faq_jht_payslip");
    assert!(parse.also.is_none(), "{:?}", parse.also);
}

#[test]
fn real_words_are_not_corrected_into_the_vocabulary() {
    let nlu = &trained().1;
    // "macam", "sedang", "makin" are each one letter from a word of the examples.
    assert_eq!(
        nlu.normalize("macam apa sedang makin"),
        "macam apa sedang makin"
    );
    assert_eq!(nlu.normalize("lupa pasword"), "lupa password");
}

#[test]
fn a_long_story_is_read_sentence_by_sentence_for_its_request() {
    let story = "permisi kak, jadi ceritanya saya dulu kerja di pabrik garmen di bekasi sampai \
                 tahun lalu, terus kena pengurangan karyawan, sekarang sudah pulang kampung dan \
                 buka warung kecil di depan rumah, anak saya tahun ini masuk sekolah jadi butuh \
                 biaya banyak. saldo jht saya sekarang ada berapa?";
    let parse = trained().1.parse(story);
    assert_eq!(
        parse.ranking[0].name.as_str(),
        "out_of_scope",
        "the whole story reads as nothing"
    );
    assert_eq!(parse.intent.name.as_str(), "check_jht_balance");
}

#[test]
fn kasih_alone_gives_and_does_not_thank() {
    let nlu = &trained().1;
    assert_eq!(nlu.normalize("makasih kak"), "terimakasih kak");
    assert_eq!(nlu.parse("makasih kak").intent.name.as_str(), "thanks");
    assert_eq!(
        nlu.parse("kasih contoh surat lamaran kerja dong")
            .intent
            .name
            .as_str(),
        "out_of_scope"
    );
}
