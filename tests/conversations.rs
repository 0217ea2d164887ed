//! The conversation files of `tests/conversations/` as a cargo test, through the same runner as
//! `tanya test`, plus checks that the runner really fails when an expectation is wrong.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tanya::config::Config;
use tanya::convo::{RunnerBase, Summary, run_all};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Content loaded and the NLU trained once for every test of this binary.
fn base() -> &'static RunnerBase {
    static BASE: OnceLock<RunnerBase> = OnceLock::new();
    BASE.get_or_init(|| {
        let intents = manifest_dir().join("intents");
        let config = Config::from_lookup(|name| {
            (name == "TANYA_INTENTS_DIR").then(|| intents.display().to_string())
        })
        .expect("default configuration");
        RunnerBase::new(config).expect("intents/ loads")
    })
}

async fn run(paths: &[PathBuf]) -> Summary {
    run_all(paths, base())
        .await
        .expect("conversation files load")
}

/// Writes one conversation file into a fresh directory and runs it.
async fn run_text(file_name: &str, text: &str) -> (tempfile::TempDir, Summary) {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join(file_name), text).expect("write the conversation");
    let summary = run(&[dir.path().to_path_buf()]).await;
    (dir, summary)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_conversation_file_passes() {
    let summary = run(&[manifest_dir().join("tests/conversations")]).await;
    let failing: Vec<&str> = summary.failures().map(|r| r.name.as_str()).collect();
    assert!(
        failing.is_empty(),
        "{} conversation(s) failed: {failing:#?}\n\n{}",
        failing.len(),
        summary.render()
    );
    assert!(
        summary.passed() >= 45,
        "only {} conversations ran",
        summary.passed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_expectation_fails_with_a_diff() {
    let (dir, summary) = run_text(
        "wrong.convo.txt",
        "salam dijawab dengan pamit (salah)\n#me\nhalo\n\n#bot\nRESPONSE goodbye\n",
    )
    .await;
    assert_eq!((summary.passed(), summary.failed()), (0, 1));
    let report = summary.render();
    let location = format!("{}:5", dir.path().join("wrong.convo.txt").display());
    for expected in [
        "FAIL salam dijawab dengan pamit (salah)\n",
        location.as_str(),
        "expected: RESPONSE goodbye",
        "the turn's keys are greet",
        "intent:   greet",
        "> 1. [greet]",
        "buttons: Lupa akun JMO (/forgot_account)",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }
    assert!(report.ends_with("\n0 passed, 1 failed\n"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_text_a_missing_message_and_a_negation_each_fail() {
    let cases = [
        // The text of the matched message.
        "#me\nhalo\n\n#bot\n*saldo anda*\n",
        // More #bot blocks than the turn has messages.
        "#me\nhalo\n\n#bot\n\n#bot\nRESPONSE greet\n",
        // A negated asserter that holds.
        "#me\nhalo\n\n#bot\n!INTENT greet\n",
        // Buttons in the wrong order.
        "#me\nhalo\n\n#bot\nBUTTONS Lupa password JMO|Lupa akun JMO|Cek saldo JHT|Menu lainnya\n",
        // An entity that is not there.
        "#me\nhalo\n\n#bot\nENTITIES kpj\n",
    ];
    for case in cases {
        let (_dir, summary) = run_text("case.convo.txt", case).await;
        assert_eq!(
            summary.failed(),
            1,
            "should fail:\n{case}\n{}",
            summary.render()
        );
    }
}

/// Botium's own asserters, the README's later `!` line and bot-side utterance lists fail when
/// they do not hold, each with a report naming what was expected.
#[tokio::test(flavor = "multi_thread")]
async fn botium_asserters_and_text_exclusions_fail_when_they_do_not_hold() {
    let greet = "#me\nhalo\n\n#bot\n";
    let cases = [
        (
            "TEXT_CONTAINS_ANY saldo anda|SALDO\n",
            "TEXT_CONTAINS_ANY on message 1",
        ),
        (
            "TEXT_REGEXP_ALL ^Halo|\\d{16}\n",
            "TEXT_REGEXP_ALL on message 1",
        ),
        (
            "!TEXT_WILDCARD_ANY_IC *\n",
            "!TEXT_WILDCARD_ANY_IC on message 1",
        ),
        ("BUTTONS_COUNT 1\n", "BUTTONS_COUNT on message 1: 1"),
        ("INTENT_CONFIDENCE 100\nINTENT_CONFIDENCE 101\n", ""),
        ("ENTITY_VALUES 12345678901\n", "ENTITY_VALUES 12345678901"),
        ("*\n!*Kak*\n", "not matching \"*Kak*\""),
        (
            "BOT_SALAM\n",
            "matching \"Selamat tinggal*\" or \"Sampai jumpa*\"",
        ),
    ];
    for (bot, expected) in cases {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(
            dir.path().join("pamit.utterances.txt"),
            "BOT_SALAM\nSelamat tinggal*\nSampai jumpa*\n",
        )
        .expect("write the list");
        std::fs::write(
            dir.path().join("case.convo.txt"),
            format!("n\n{greet}{bot}"),
        )
        .expect("write the conversation");
        let loaded = tanya::convo::load_path(dir.path());
        if expected.is_empty() {
            // INTENT_CONFIDENCE above 100 is refused when the file loads.
            let error = loaded.expect_err("101 % is no confidence").to_string();
            assert!(error.contains("INTENT_CONFIDENCE"), "{error}");
            continue;
        }
        loaded.expect("the file loads");
        let summary = run(&[dir.path().to_path_buf()]).await;
        let report = summary.render();
        assert_eq!(summary.failed(), 1, "should fail:\n{bot}\n{report}");
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_button_or_code_fails_at_the_me_block() {
    let (_dir, summary) = run_text(
        "button.convo.txt",
        "#me\nhalo\n\n#bot\nRESPONSE greet\n\n#me\nBUTTON Tidak ada\n",
    )
    .await;
    let report = summary.render();
    assert_eq!(summary.failed(), 1, "{report}");
    assert!(report.contains("button.convo.txt:7"), "{report}");
    assert!(
        report.contains("Lupa akun JMO (/forgot_account) | Lupa password JMO"),
        "the available buttons are listed:\n{report}"
    );

    let (_dir, summary) = run_text("otp.convo.txt", "#me\nhalo\n\n#me\n$otp\n").await;
    let report = summary.render();
    assert_eq!(summary.failed(), 1, "{report}");
    assert!(report.contains("no code has been sent yet"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_conversation_starts_from_fresh_demo_data() {
    // Locking Budi in one conversation must not lock him in the next.
    let lock = "#me\nlupa password, budi.santoso@example.com 12345678901\n\n#bot\nRESPONSE otp_sent\n\n\
                #me\n000000\n\n#me\n000001\n\n#me\n000002\n\n#bot\nRESPONSE otp_locked\n";
    let after =
        "#me\nlupa password, budi.santoso@example.com 12345678901\n\n#bot\nRESPONSE otp_sent\n";
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("a_lock.convo.txt"), lock).expect("write");
    std::fs::write(dir.path().join("b_after.convo.txt"), after).expect("write");
    let summary = run(&[dir.path().to_path_buf()]).await;
    assert_eq!(summary.failed(), 0, "{}", summary.render());
    assert_eq!(summary.passed(), 2);
}

/// The report shows a password as the transcript keeps it (hidden) and anything else the
/// engine did not report an intent for, such as a typed button number, as it was typed.
#[tokio::test(flavor = "multi_thread")]
async fn a_failure_report_hides_a_password_but_not_a_typed_button_number() {
    let start = "#me\nsaya lupa akun jmo\n\n#me\n12345678901 3174011203880001\n\n";
    let (_dir, summary) = run_text(
        "number.convo.txt",
        &format!("{start}#me\n1\n\n#bot\nRESPONSE greet\n"),
    )
    .await;
    let report = summary.render();
    assert_eq!(summary.failed(), 1, "{report}");
    assert!(report.contains("(sent \"1\")"), "{report}");

    let (_dir, summary) = run_text(
        "password.convo.txt",
        &format!("{start}#me\n1\n\n#me\n$otp\n\n#me\nRahasia#2026\n\n#bot\nRESPONSE greet\n"),
    )
    .await;
    let report = summary.render();
    assert_eq!(summary.failed(), 1, "{report}");
    assert!(report.contains("(sent \"••••\")"), "{report}");
    assert!(!report.contains("Rahasia#2026"), "{report}");
}
