//! Lock striping: a fixed number of locks, each session key always guarded by the same one.
//! Keys on one stripe wait for each other, which is rare and harmless, and memory stays fixed
//! however many keys exist.

use crate::fnv;
use crate::session_key::SessionKey;
use tokio::sync::{Mutex, MutexGuard};

/// A fixed set of locks shared out over session keys (the engine's turns, the channels'
/// pipelines): the lock of a key is stable across runs and processes.
pub struct StripedLocks {
    locks: Box<[Mutex<()>]>,
}

impl StripedLocks {
    /// `stripes` locks (at least one: fewer is taken as one).
    pub fn new(stripes: usize) -> StripedLocks {
        StripedLocks {
            locks: (0..stripes.max(1)).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits for `key`'s lock and holds it until the guard is dropped.
    pub async fn lock(&self, key: &SessionKey) -> MutexGuard<'_, ()> {
        self.for_key(key).lock().await
    }

    /// The lock that guards `key` (keys on the same stripe share it).
    pub fn for_key(&self, key: &SessionKey) -> &Mutex<()> {
        &self.locks[stripe(key.as_str(), self.locks.len())]
    }
}

/// The stripe of `key` among `stripes` (at least one).
fn stripe(key: &str, stripes: usize) -> usize {
    // The stripe only spreads load: a stable, cheap hash is all it needs.
    (fnv::fnv1a(key.as_bytes()) % stripes as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_lands_on_the_same_stripe_within_range() {
        for key in ["", "web:abc", "telegram:12345"] {
            assert_eq!(stripe(key, 1024), stripe(key, 1024));
            assert!(stripe(key, 1024) < 1024);
            assert_eq!(stripe(key, 1), 0);
        }
    }

    #[test]
    fn keys_spread_over_the_stripes() {
        let used: std::collections::HashSet<usize> =
            (0..1000).map(|i| stripe(&format!("web:{i}"), 16)).collect();
        assert_eq!(used.len(), 16);
    }

    #[test]
    fn a_session_key_always_gets_the_same_lock() {
        let locks = StripedLocks::new(1024);
        let key = SessionKey::new("web", "abc").expect("key");
        let again = SessionKey::new("web", "abc").expect("key");
        assert!(std::ptr::eq(locks.for_key(&key), locks.for_key(&again)));
    }

    #[test]
    fn zero_stripes_are_taken_as_one() {
        assert_eq!(StripedLocks::new(0).locks.len(), 1);
    }
}
