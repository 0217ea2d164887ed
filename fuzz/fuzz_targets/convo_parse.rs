//! Fuzzes the `.convo.txt` parser: any file is either conversations or a syntax error naming a
//! line of the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::path::Path;
use tanya::convo::parse::{ConvoError, parse_conversation};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let utterances: HashMap<String, Vec<String>> = HashMap::from([(
        "GREETINGS".to_string(),
        vec!["halo".to_string(), "selamat pagi".to_string()],
    )]);
    match parse_conversation(Path::new("fuzz.convo.txt"), text, &utterances) {
        Ok(_) => {}
        Err(ConvoError::Syntax { line, .. }) => {
            assert!(
                line >= 1 && line <= text.split('\n').count() + 1,
                "line {line}"
            );
        }
        Err(_) => {}
    }
});
