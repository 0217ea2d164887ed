//! The module layers of ARCHITECTURE.md, enforced: a test per rule, reading the sources. Each
//! rule names words a folder's code must not contain; comments and `#[cfg(test)]` modules are
//! left out (tests may build whatever they need).

use std::path::{Path, PathBuf};

/// The code of `path` without its comments and without its test module.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("source file");
    let production = text.split("#[cfg(test)]").next().unwrap_or_default();
    production
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Rust files of `module` (`src/<module>.rs` and everything under `src/<module>/`).
fn files_of(module: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.exists() {
        found.push(file);
    }
    let dir = src.join(module);
    if dir.is_dir() {
        rust_files(&dir, &mut found);
    }
    assert!(!found.is_empty(), "no module {module}");
    found
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|name| name != "tests.rs")
        {
            found.push(path);
        }
    }
}

/// Every (file, word) where `module`'s code names one of `forbidden`.
fn violations(module: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for path in files_of(module) {
        let code = code_of(&path);
        for word in forbidden {
            if code.contains(word) {
                found.push(format!("{} names {word}", path.display()));
            }
        }
    }
    found
}

#[test]
fn the_dialog_does_no_io_and_knows_no_shell() {
    let found = violations(
        "dialog",
        &[
            "crate::app",
            "crate::engine",
            "crate::store",
            "crate::outbox",
            "crate::http",
            "crate::channels",
            "crate::delivery",
            "crate::directory",
            "crate::limits",
            "crate::metrics",
            "tokio",
            "reqwest",
            "sled",
            "std::fs",
            "SystemClock",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_http_shell_does_not_know_the_wiring() {
    let found = violations("http", &["crate::app"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn channels_know_neither_the_http_shell_nor_the_wiring_nor_the_wall_clock() {
    let found = violations("channels", &["crate::http", "crate::app", "SystemClock"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn input_limits_content_identity_the_clock_and_lock_striping_are_leaves() {
    for module in ["input", "content", "identity", "clock", "stripes"] {
        let found = violations(module, &["crate::"]);
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[test]
fn only_the_wiring_and_the_cli_entry_points_name_app() {
    for module in [
        "engine",
        "dialog",
        "nlu",
        "content",
        "store",
        "channels",
        "delivery",
        "directory",
        "http",
        "security",
        "members",
        "outbox",
        "limits",
        "input",
    ] {
        let found = violations(module, &["crate::app"]);
        assert!(found.is_empty(), "{found:#?}");
    }
}
