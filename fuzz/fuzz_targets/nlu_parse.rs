//! Fuzzes the whole NLU reading of a message (normaliser, rules, classifier, entities) with
//! the real content of `intents/`: any text must parse without a panic, with a ranking over
//! the known intents and entity spans inside the text. Inputs reach 8 KiB, four times the
//! longest message the server accepts: the seeds include 8 KiB long words, characters NFKC
//! expands, digits and emoji (issue 11: a 1,500-letter word exhausted memory), and the README
//! runs it with `-max_len=8192` and per-input time and memory limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tanya::config::Config;
use tanya::nlu::Nlu;

fn nlu() -> &'static Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| {
        let mut config = Config::from_lookup(|_| None).expect("default config");
        config.intents_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../intents").into();
        let content = tanya::app::load_content(&config).expect("valid content");
        Nlu::train(&content, config.nlu)
    })
}

// Training happens once, before the first input: under the sanitizer it takes longer than
// the one-second limit per input, which would otherwise report the first input as a timeout.
fuzz_target!(init: { nlu(); }, |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parse = nlu().parse(text);
    assert!(!parse.ranking.is_empty());
    assert!((0.0..=1.0).contains(&parse.intent.confidence));
    let chars = text.chars().count();
    for entity in &parse.entities {
        assert!(
            entity.start <= entity.end && entity.end <= chars,
            "{entity:?}"
        );
    }
});
