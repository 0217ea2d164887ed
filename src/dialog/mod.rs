//! The dialog: a pure state machine over conversation states (no I/O, no clock reads).
//! `state` is what a session remembers, `step` the transition function, `reply` what it says
//! and does, `keys` every response key it can use, `format` Indonesian numbers and dates.

pub mod format;
pub mod keys;
pub mod reply;
pub mod state;
pub mod step;

pub use reply::{Choice, Effect, Reply, Value};
pub use state::{Flow, MemberView, Session, State};
pub use step::{Command, Context, Event, Message, Transition, step};

#[cfg(test)]
mod tests;
