//! A circuit breaker for the member directory: after a run of failed calls the directory is
//! taken as down for a cool-down, and turns are answered `service_unavailable` at once instead
//! of each waiting out its own timeouts; then one probe call decides whether it is back.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed calls in a row that open the circuit.
pub const FAILURES_TO_OPEN: u32 = 5;

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Calls go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// Calls are refused until `until`.
    Open { until: Instant },
    /// One probe call is in flight; the others are refused until it ends.
    Probing,
}

/// Whether a call may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// The directory is taken as down: answer without calling it.
    Refused,
}

/// The breaker, shared by every call to one directory.
#[derive(Debug)]
pub struct Breaker {
    cooldown: Duration,
    position: Mutex<Position>,
}

impl Breaker {
    /// A closed breaker that stays open `cooldown` once opened.
    pub fn new(cooldown: Duration) -> Breaker {
        Breaker {
            cooldown,
            position: Mutex::new(Position::Closed { failures: 0 }),
        }
    }

    fn with_position<T>(&self, change: impl FnOnce(&mut Position) -> T) -> T {
        // Each change is one assignment: a poisoned lock still holds a whole position.
        change(&mut self.position.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether a call may go out at `now`. After the cool-down the first caller becomes the
    /// probe; it must report its outcome with `succeeded` or `failed`.
    pub fn admit(&self, now: Instant) -> Admission {
        self.with_position(|position| match *position {
            Position::Closed { .. } => Admission::Go,
            Position::Open { until } if now >= until => {
                *position = Position::Probing;
                Admission::Go
            }
            Position::Open { .. } | Position::Probing => Admission::Refused,
        })
    }

    /// The directory answered (whatever it answered): the circuit closes.
    pub fn succeeded(&self) {
        self.with_position(|position| *position = Position::Closed { failures: 0 });
    }

    /// The call failed at `now` (no answer, a timeout, a 5xx): counts towards opening; a
    /// failed probe opens the circuit again at once. Returns whether the circuit is now open.
    pub fn failed(&self, now: Instant) -> bool {
        self.with_position(|position| {
            let failures = match *position {
                Position::Closed { failures } => failures + 1,
                Position::Probing | Position::Open { .. } => FAILURES_TO_OPEN,
            };
            *position = if failures >= FAILURES_TO_OPEN {
                Position::Open {
                    until: now + self.cooldown,
                }
            } else {
                Position::Closed { failures }
            };
            matches!(position, Position::Open { .. })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(10);

    #[test]
    fn opens_after_a_run_of_failures_and_an_answer_resets_the_run() {
        let breaker = Breaker::new(COOLDOWN);
        let t0 = Instant::now();
        for _ in 1..FAILURES_TO_OPEN {
            assert!(!breaker.failed(t0));
        }
        breaker.succeeded();
        for _ in 1..FAILURES_TO_OPEN {
            assert!(!breaker.failed(t0));
        }
        assert_eq!(breaker.admit(t0), Admission::Go);
        assert!(breaker.failed(t0), "the fifth failure in a row opens it");
        assert_eq!(breaker.admit(t0 + COOLDOWN / 2), Admission::Refused);
    }

    #[test]
    fn after_the_cooldown_one_probe_decides() {
        let breaker = Breaker::new(COOLDOWN);
        let t0 = Instant::now();
        for _ in 0..FAILURES_TO_OPEN {
            breaker.failed(t0);
        }
        let later = t0 + COOLDOWN;
        assert_eq!(breaker.admit(later), Admission::Go, "the probe");
        assert_eq!(
            breaker.admit(later),
            Admission::Refused,
            "one probe at a time"
        );
        assert!(breaker.failed(later), "a failed probe opens it again");
        assert_eq!(breaker.admit(later), Admission::Refused);
        let much_later = later + COOLDOWN;
        assert_eq!(breaker.admit(much_later), Admission::Go);
        breaker.succeeded();
        assert_eq!(breaker.admit(much_later), Admission::Go);
        assert_eq!(breaker.admit(much_later), Admission::Go, "closed again");
    }
}
