//! The dialog: a pure state machine over conversation states (no I/O, no clock reads).

pub mod keys;
