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
fn the_vocabulary_modules_are_leaves() {
    for module in [
        "input",
        "content",
        "identity",
        "clock",
        "session_key",
        "db_error",
        "stripes",
        "intent",
    ] {
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

#[test]
fn the_engine_asks_the_session_key_not_the_channels() {
    // The channels drive the engine; whether a session is on a messaging platform is a fact
    // of its key (`SessionKey::is_messaging`).
    let found = violations("engine", &["crate::channels"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn code_transports_do_not_know_the_channel_outbox() {
    // The outbox's worker sends codes through `delivery`; `channels::CodeQueue` puts them in.
    let found = violations("delivery", &["crate::channels"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn trait_homes_do_not_name_the_stores_that_implement_them() {
    // `store` implements `MemberStore`, `CodeOutbox` and `MemberGuardStore`; their homes take
    // `DbError`, `StoreError` and `SessionKey` from the vocabulary below both.
    for module in ["members", "outbox", "limits"] {
        let found = violations(module, &["crate::store"]);
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[test]
fn the_configuration_does_not_name_the_edge() {
    // `config` is read by the edge (http, channels, delivery, directory) and the wiring.
    let found = violations(
        "config",
        &[
            "crate::http",
            "crate::channels",
            "crate::delivery",
            "crate::directory",
            "crate::engine",
            "crate::app",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

/// The top-level modules of `src/` (files and folders), `main` aside.
fn modules() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names: Vec<String> = std::fs::read_dir(&src)
        .expect("source directory")
        .map(|entry| entry.expect("entry").path())
        .filter_map(|path| {
            let stem = path.file_stem()?.to_str()?.to_string();
            let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
            (is_module && !["lib", "main"].contains(&stem.as_str())).then_some(stem)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The other top-level modules `module`'s code names (`crate::x` and `crate::{x, …}`).
fn dependencies(module: &str, all: &[String]) -> Vec<String> {
    let code: String = files_of(module).iter().map(|path| code_of(path)).collect();
    all.iter()
        .filter(|other| other.as_str() != module)
        .filter(|other| {
            let path = format!("crate::{other}");
            let grouped = code.split("crate::{").skip(1).any(|group| {
                group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .any(|item| item.trim().split("::").next() == Some(other.as_str()))
            });
            code.match_indices(&path).any(|(at, _)| {
                !code[at + path.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            }) || grouped
        })
        .cloned()
        .collect()
}

#[test]
fn no_module_cycle_remains() {
    let all = modules();
    let edges: Vec<(String, Vec<String>)> = all
        .iter()
        .map(|module| (module.clone(), dependencies(module, &all)))
        .collect();
    let named = |module: &str| {
        edges
            .iter()
            .find(|(name, _)| name == module)
            .map(|(_, deps)| deps.clone())
            .unwrap_or_default()
    };
    // A module is on a cycle when it can reach itself: walk from each, keeping the trail.
    let mut cycles = Vec::new();
    for module in &all {
        let mut seen = vec![module.clone()];
        let mut todo = vec![vec![module.clone()]];
        while let Some(trail) = todo.pop() {
            let at = trail.last().expect("a trail is never empty");
            for next in named(at) {
                if &next == module {
                    cycles.push(format!("{} -> {module}", trail.join(" -> ")));
                } else if !seen.contains(&next) {
                    seen.push(next.clone());
                    let mut longer = trail.clone();
                    longer.push(next);
                    todo.push(longer);
                }
            }
        }
    }
    assert!(cycles.is_empty(), "{cycles:#?}");
}
