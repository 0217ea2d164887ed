//! Conversation tests: `.convo.txt` files (BotiumScript-compatible, SPEC §10) parsed into steps,
//! the wildcard matching their expectations use, and the runner behind `tanya test` and
//! `cargo test`.

pub mod botium;
pub mod parse;
pub mod run;
pub mod wildcard;

pub use parse::{
    Asserter, BotExpectation, Conversation, ConvoError, MeInput, MeTurn, Step, SyntaxError,
    TextExpectation, load_path, parse_conversation, parse_utterances,
};
pub use run::{
    ConversationResult, Failure, Outcome, RunnerBase, Summary, TurnReport, run_all,
    run_conversation,
};
pub use wildcard::wildcard_match;
