//! The persistence seam: only `src/store/sled/` names the embedded database and only
//! `src/store/postgres/` the PostgreSQL client, so a backend is a folder and nothing outside
//! it changes with it.

use std::path::{Path, PathBuf};

/// The code of `path` without its comments (`//` to the end of a line).
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("source file")
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn only_store_postgres_names_the_postgresql_client() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let backend = src.join("store").join("postgres");
    let naming: Vec<String> = files
        .iter()
        .filter(|path| !path.starts_with(&backend))
        .filter(|path| {
            let code = code_of(path);
            code.contains("tokio_postgres") || code.contains("deadpool")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        naming.is_empty(),
        "the PostgreSQL client named outside src/store/postgres/: {naming:?}"
    );
}

#[test]
fn only_store_sled_names_sled() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let backend = src.join("store").join("sled");
    let this = src.join("store").join("mod.rs");
    let naming: Vec<String> = files
        .iter()
        .filter(|path| !path.starts_with(&backend))
        .filter(|path| {
            let code = code_of(path);
            // `store/mod.rs` declares the backend module and opens it through `self::`.
            let code = if **path == this {
                code.replace("mod sled;", "").replace("self::sled::", "")
            } else {
                code
            };
            code.to_lowercase().contains("sled")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        naming.is_empty(),
        "sled named outside src/store/sled/: {naming:?}"
    );
}
