//! A member's standing across all their sessions and channels (SPEC §6): the wrong codes they
//! typed lately and the lockout the third one starts. Pure: the store keeps a `Standing` per
//! member and applies `Standing::after` atomically; the dialog reads it as a value.

use crate::clock::Timestamp;
use crate::security::otp::{LOCKOUT, MAX_WRONG_TRIES};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Wrong codes count towards the lock for this long after the first of them: as long as a
/// lock lasts, so guessing stays at three tries per fifteen minutes however the tries are
/// spread over sessions and codes.
pub const WRONG_CODE_WINDOW: Duration = LOCKOUT;

/// What happened to one of the member's codes, in any session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeEvent {
    /// A wrong code was typed.
    Wrong,
    /// A right code was typed: the wrong ones before it no longer count.
    Accepted,
    /// One code was exhausted (three wrong tries on it): lock until `until`.
    Lock { until: Timestamp },
}

/// The member-wide state that limits code guessing. The default is a member with nothing
/// against them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// Locked out of every code (try and send) until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<Timestamp>,
    /// Wrong codes since `first_wrong_at`.
    #[serde(default)]
    pub wrong_codes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_wrong_at: Option<Timestamp>,
}

impl Standing {
    /// How long the member stays locked, if they are locked at `now`.
    pub fn locked_for(&self, now: Timestamp) -> Option<Duration> {
        self.locked_until
            .filter(|&until| until > now)
            .map(|until| until.since(now))
    }

    /// The wrong codes that still count at `now`.
    pub fn wrong_codes_at(&self, now: Timestamp) -> u32 {
        match self.first_wrong_at {
            Some(first) if now.since(first) < WRONG_CODE_WINDOW => self.wrong_codes,
            _ => 0,
        }
    }

    /// Wrong codes the member may still type before the lock (0 while locked).
    pub fn tries_left(&self, now: Timestamp) -> u32 {
        if self.locked_for(now).is_some() {
            return 0;
        }
        MAX_WRONG_TRIES.saturating_sub(self.wrong_codes_at(now))
    }

    /// The standing after `event` at `now`. The third wrong code within the window locks the
    /// member for `LOCKOUT` and starts the count again; a lock never shortens one in force.
    #[must_use]
    pub fn after(self, event: CodeEvent, now: Timestamp) -> Standing {
        let lock = |standing: Standing, until: Timestamp| Standing {
            locked_until: Some(standing.locked_until.map_or(until, |held| held.max(until))),
            wrong_codes: 0,
            first_wrong_at: None,
        };
        match event {
            CodeEvent::Wrong => {
                let counted = self.wrong_codes_at(now);
                let wrong_codes = counted + 1;
                if wrong_codes >= MAX_WRONG_TRIES {
                    return lock(self, now.plus(LOCKOUT));
                }
                Standing {
                    wrong_codes,
                    first_wrong_at: if counted == 0 {
                        Some(now)
                    } else {
                        self.first_wrong_at
                    },
                    ..self
                }
            }
            CodeEvent::Accepted => Standing {
                wrong_codes: 0,
                first_wrong_at: None,
                ..self
            },
            CodeEvent::Lock { until } => lock(self, until),
        }
    }

    /// Whether this standing restricts nothing any more at `now` (the store may forget it).
    pub fn is_spent(&self, now: Timestamp) -> bool {
        self.locked_for(now).is_none() && self.wrong_codes_at(now) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn at(secs: u64) -> Timestamp {
        T0.plus(Duration::from_secs(secs))
    }

    #[test]
    fn the_third_wrong_code_in_any_session_locks_the_member_for_fifteen_minutes() {
        let standing = Standing::default()
            .after(CodeEvent::Wrong, at(0))
            .after(CodeEvent::Wrong, at(60));
        assert_eq!(standing.tries_left(at(61)), 1);
        let locked = standing.after(CodeEvent::Wrong, at(120));
        assert_eq!(locked.locked_for(at(120)), Some(LOCKOUT));
        assert_eq!(locked.tries_left(at(121)), 0);
        assert!(locked.locked_for(at(120).plus(LOCKOUT)).is_none());
        assert_eq!(locked.tries_left(at(120).plus(LOCKOUT)), MAX_WRONG_TRIES);
    }

    #[test]
    fn wrong_codes_older_than_the_window_no_longer_count() {
        let standing = Standing::default()
            .after(CodeEvent::Wrong, at(0))
            .after(CodeEvent::Wrong, at(10));
        let later = at(0).plus(WRONG_CODE_WINDOW);
        assert_eq!(standing.wrong_codes_at(later), 0);
        assert!(standing.is_spent(later));
        let again = standing.after(CodeEvent::Wrong, later);
        assert_eq!(again.wrong_codes_at(later), 1);
        assert!(again.locked_until.is_none());
    }

    #[test]
    fn a_right_code_clears_the_wrong_ones_but_not_a_lock() {
        let standing = Standing::default()
            .after(CodeEvent::Wrong, at(0))
            .after(CodeEvent::Accepted, at(5));
        assert_eq!(standing.tries_left(at(6)), MAX_WRONG_TRIES);
        let locked = standing
            .after(CodeEvent::Lock { until: at(900) }, at(10))
            .after(CodeEvent::Accepted, at(11));
        assert_eq!(locked.locked_for(at(12)), Some(Duration::from_secs(888)));
    }

    #[test]
    fn a_lock_never_shortens_the_one_in_force() {
        let standing = Standing::default()
            .after(CodeEvent::Lock { until: at(900) }, at(0))
            .after(CodeEvent::Lock { until: at(100) }, at(1));
        assert_eq!(standing.locked_until, Some(at(900)));
    }
}
