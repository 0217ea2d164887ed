//! Conversation tests: `.convo.txt` files (BotiumScript-compatible, SPEC §10) parsed into steps,
//! and the wildcard matching their expectations use; `tanya test` and `cargo test` run them.

pub mod parse;
pub mod wildcard;

pub use parse::{
    Asserter, BotExpectation, Conversation, ConvoError, MeInput, MeTurn, Step, SyntaxError,
    TextExpectation, load_path, parse_conversation, parse_utterances,
};
pub use wildcard::wildcard_match;
