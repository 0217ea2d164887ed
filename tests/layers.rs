//! The module layers of ARCHITECTURE.md, enforced: a test per rule, reading the sources. Each
//! rule names words a folder's code must not contain; comments and the test module of each file
//! are left out (tests may build whatever they need).

use std::path::{Path, PathBuf};

/// The code of `path` without its comments and without its test module.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("source file");
    text[..test_module_start(&text)]
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where the test module of `text` starts (its end when it has none): the first
/// `#[cfg(test)]` on an inline module (`mod tests { … }`), which comes last in a file. Other
/// `#[cfg(test)]` items (a `use`, a helper method, a `mod x;` declaration) are production
/// files' code like the rest and stay checked.
fn test_module_start(text: &str) -> usize {
    const ATTRIBUTE: &str = "#[cfg(test)]";
    text.match_indices(ATTRIBUTE)
        .map(|(at, _)| at)
        .find(|&at| opens_inline_module(&text[at + ATTRIBUTE.len()..]))
        .unwrap_or(text.len())
}

/// Whether the item at the start of `rest` (after any more attributes) is `mod name {`.
fn opens_inline_module(rest: &str) -> bool {
    let mut item = rest.trim_start();
    while item.starts_with("#[") {
        let Some(end) = item.find(']') else {
            return false;
        };
        item = item[end + 1..].trim_start();
    }
    let item = item
        .strip_prefix("pub(crate) ")
        .or_else(|| item.strip_prefix("pub(super) "))
        .or_else(|| item.strip_prefix("pub "))
        .unwrap_or(item);
    item.strip_prefix("mod ").is_some_and(|declaration| {
        let name_end = declaration
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(declaration.len());
        declaration[name_end..].trim_start().starts_with('{')
    })
}

#[test]
fn test_items_before_the_test_module_do_not_hide_the_code_after_them() {
    // `store/sled/db.rs` has a `#[cfg(test)]` method near its top; the code after it is
    // production code and must be checked, its test module must not.
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/sled/db.rs");
    let code = code_of(&db);
    assert!(
        code.contains("fn reopen("),
        "the test-only method is checked"
    );
    assert!(
        code.contains("fn flush_until_idle("),
        "code after it is checked"
    );
    assert!(!code.contains("mod tests"), "the test module is left out");
    let production = "fn f() {}
#[cfg(test)]
use x::y;
#[cfg(test)]
#[allow(dead_code)]
pub(crate) mod helper;
fn g() {}
";
    let file = format!("{production}#[cfg(test)]\nmod tests {{\n    fn t() {{}}\n}}\n");
    assert_eq!(&file[..test_module_start(&file)], production);
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
        "fnv",
        "intent",
    ] {
        let found = violations(module, &["crate::"]);
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[test]
fn key_locks_name_only_session_keys() {
    // `key_locks` guards `SessionKey`s; nothing else of the crate.
    let found: Vec<String> = files_of("key_locks")
        .iter()
        .filter(|path| {
            code_of(path)
                .replace("crate::session_key::", "")
                .contains("crate::")
        })
        .map(|path| format!("{} names more than session_key", path.display()))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
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
