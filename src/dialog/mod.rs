//! The dialog: a pure state machine over conversation states (no I/O, no clock reads).
//! `state` is what a session remembers, `step` the transition function and its dispatch,
//! `answers` what each waiting state accepts in the member's own words, `identity`, `code`,
//! `password` (in the chat, or on the password page for messaging channels) and `balance` the
//! steps of the flows, `reply` what it says and does, `outcome` what a step did to the flows
//! (for the metrics), `keys` every response key it can use, `intent` the intents it knows by name, `format` Indonesian numbers and
//! dates.

mod answers;
mod balance;
mod code;
pub mod format;
mod identity;
pub mod keys;
pub mod outcome;
mod password;
pub mod reply;
pub mod state;
pub mod step;

pub use crate::intent::Intent;
pub use outcome::{Abandon, FlowOutcome};
pub use reply::{Choice, Effect, Reply, Value};
pub use state::{Flow, MemberView, Session, State};
pub use step::{
    Command, Context, Event, Message, PagePassword, PasswordEntry, Shape, Transition, step,
};

#[cfg(test)]
mod tests;
