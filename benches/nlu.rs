//! NLU benchmarks: parse latency per utterance (a realistic mix of short, long, slangy and
//! entity-laden messages) and start-up cost (load `intents/` + train the classifier).
//! Run: `cargo bench --bench nlu`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use tanya::config::Config;
use tanya::nlu::Nlu;

const UTTERANCES: &[&str] = &[
    "halo min",
    "sy lupa pasword jmo gmn cara resetnya ya kak",
    "cek sldo jht dong",
    "lupa akun, kpj 12345678901 nik 3174011203880001",
    "email saya budi.santoso@example.com no kpj 12345678901",
    "kapan jht bisa dicairkan kalau saya resign bulan lalu?",
    "kantor cabang terdekat di bandung buka jam berapa",
    "makasih bnyk ya min 🙏",
    "lupa password wifi rumah",
    "asdfghjkl",
];

fn config() -> Config {
    let intents = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("intents")
        .display()
        .to_string();
    Config::from_lookup(|name| (name == "TANYA_INTENTS_DIR").then(|| intents.clone()))
        .expect("config")
}

fn parse_latency(c: &mut Criterion) {
    let config = config();
    let content = tanya::app::load_content(&config).expect("valid intents");
    let nlu = Nlu::train(&content, config.nlu);
    let mut group = c.benchmark_group("nlu_parse");
    group.bench_function("mixed_utterance", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % UTTERANCES.len();
            black_box(nlu.parse(black_box(UTTERANCES[i])))
        });
    });
    group.finish();
}

fn startup(c: &mut Criterion) {
    let config = config();
    let mut group = c.benchmark_group("nlu_startup");
    group.sample_size(20);
    group.bench_function("load_and_train", |b| {
        b.iter(|| {
            let content = tanya::app::load_content(&config).expect("valid intents");
            black_box(Nlu::train(&content, config.nlu))
        });
    });
    group.finish();
}

criterion_group!(benches, parse_latency, startup);
criterion_main!(benches);
