//! tanya: a customer-service chatbot for BPJS Ketenagakerjaan members (JMO account recovery,
//! password reset, JHT balance), built as a functional core with a thin imperative shell.
//!
//! ```text
//! channel ──► IncomingMessage ──► engine::handle ──► replies ──► channel
//!                                   load session → nlu.parse → dialog::step → effects → save
//! ```
//! `content` loads `intents/`; `nlu` turns text into an intent and entities; `dialog` is pure;
//! `engine` is the only place where NLU, dialog, store and services meet.

pub mod app;
pub mod channels;
pub mod cli_chat;
pub mod clock;
pub mod config;
pub mod content;
pub mod convo;
pub mod db_error;
pub mod delivery;
pub mod dialog;
pub mod directory;
pub mod engine;
pub mod fnv;
pub mod http;
pub mod identity;
pub mod input;
pub mod intent;
pub mod key_locks;
pub mod limits;
pub mod members;
pub mod metrics;
pub mod nlu;
pub mod outbox;
pub mod security;
pub mod session_key;
pub mod store;
