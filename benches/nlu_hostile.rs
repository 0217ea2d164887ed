//! The worst case of one NLU parse (SPEC §11, "Adversarial input"): hostile 2000-character
//! messages — one long word, characters that NFKC expands, mixed scripts, digits, emoji,
//! combining marks — parsed by the NLU trained on `intents/`. For each shape it reports the
//! worst and median time over the runs and the peak memory the parse allocated on top of what
//! was allocated before it (a counting allocator around the system's), and fails (exit 1)
//! when any parse is over the budget of issue 11: 5 ms and 16 MB.
//! Run: `cargo bench --bench nlu_hostile`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tanya::config::Config;
use tanya::nlu::Nlu;

/// The budget of one parse.
const MAX_TIME: Duration = Duration::from_millis(5);
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Parses of each shape; the worst counts.
const RUNS: usize = 50;
/// The longest message the chat API and the webhooks accept, in characters.
const LENGTH: usize = 2000;

/// The system allocator, counting the bytes in use and the most in use since the last reset.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments; the counters only
// observe.
#[allow(unsafe_code)] // an allocator is unsafe to implement by definition.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                let grown = new_size - layout.size();
                let now = IN_USE.fetch_add(grown, Ordering::Relaxed) + grown;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                IN_USE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `unit` repeated until the text is `LENGTH` characters long.
fn repeated(unit: &str) -> String {
    unit.chars().cycle().take(LENGTH).collect()
}

/// The hostile shapes, each `LENGTH` characters (the one of requests and conjunctions came
/// from a fuzzing timeout: re-reading every split of a long message was quadratic): what issue 11 found (one long word, `㌖`
/// which NFKC turns into six letters) and its neighbours.
fn shapes() -> Vec<(&'static str, String)> {
    vec![
        ("one long word", repeated("qwertyuiopasdfghjklzxcvbnm")),
        ("one letter repeated", repeated("a")),
        ("two 1000-letter words", {
            let word: String = repeated("pasword").chars().take(1000).collect();
            let shorter: String = word.chars().skip(1).collect();
            format!("{word} {shorter}")
        }),
        ("\\u3316 repeated (NFKC x6)", repeated("\u{3316}")),
        ("\\ufdfa repeated (NFKC x18)", repeated("\u{FDFA}")),
        (
            "mixed scripts, no spaces",
            repeated("lupaпарольكلمةपासवर्ड密码パスワード비밀번호"),
        ),
        ("digits", repeated("3174011203880001")),
        ("digits and separators", repeated("1 2-3.")),
        ("emoji", repeated("😀🙏🏽👨‍👩‍👧")),
        ("combining marks", repeated("a\u{301}\u{302}\u{303}\u{304}")),
        ("many short words", repeated("lupa pw jmo kak ")),
        (
            "requests, conjunctions, anger",
            repeated("kesal lupa password dan cek saldo jht sama kantor cabang terus bukan "),
        ),
        ("at signs", repeated("a@b.")),
        (
            "zero-width between letters",
            repeated("l\u{200B}u\u{200D}p\u{FEFF}a"),
        ),
    ]
}

fn config() -> Config {
    let intents = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("intents")
        .display()
        .to_string();
    Config::from_lookup(|name| (name == "TANYA_INTENTS_DIR").then(|| intents.clone()))
        .expect("config")
}

fn main() -> ExitCode {
    let config = config();
    let content = tanya::app::load_content(&config).expect("valid intents");
    let nlu = Nlu::train(&content, config.nlu);
    println!(
        "{:<32} {:>10} {:>10} {:>10}",
        "shape (2000 chars)", "worst ms", "median ms", "peak MB"
    );
    let mut over = false;
    let mut worst_time = Duration::ZERO;
    let mut worst_bytes = 0;
    for (name, text) in shapes() {
        assert_eq!(text.chars().count(), LENGTH, "{name}");
        let mut times = Vec::with_capacity(RUNS);
        let mut peak = 0;
        for _ in 0..RUNS {
            let before = IN_USE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let started = Instant::now();
            black_box(nlu.parse(black_box(&text)));
            times.push(started.elapsed());
            peak = peak.max(PEAK.load(Ordering::Relaxed).saturating_sub(before));
        }
        times.sort_unstable();
        let worst = times[times.len() - 1];
        let median = times[times.len() / 2];
        let fails = worst > MAX_TIME || peak > MAX_BYTES;
        over |= fails;
        worst_time = worst_time.max(worst);
        worst_bytes = worst_bytes.max(peak);
        println!(
            "{name:<32} {:>10.3} {:>10.3} {:>10.2}{}",
            worst.as_secs_f64() * 1000.0,
            median.as_secs_f64() * 1000.0,
            peak as f64 / (1024.0 * 1024.0),
            if fails { "  OVER BUDGET" } else { "" }
        );
    }
    println!(
        "worst of all: {:.3} ms, {:.2} MB (budget {} ms, {} MB)",
        worst_time.as_secs_f64() * 1000.0,
        worst_bytes as f64 / (1024.0 * 1024.0),
        MAX_TIME.as_millis(),
        MAX_BYTES / (1024 * 1024)
    );
    if over {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
