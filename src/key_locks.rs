//! One lock per session key in use: a key's turns (or a member's channel pipeline) run one at
//! a time, and no two keys ever wait for each other.
//!
//! These were stripes (a fixed array of locks, keys sharing one by hash), said to be rarely
//! shared. Under load they were not: 200 members in conversation over 1,024 stripes put
//! about one member in six on a stripe with another, and the benchmark's slowest turns
//! (PostgreSQL, 3,000 turns/s) waited up to 47 ms for a stranger's turn. A lock now exists only
//! while its key is held or awaited, so memory follows the keys in use.

use crate::session_key::SessionKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

type KeyLock = Arc<AsyncMutex<()>>;

/// The locks of the keys held or awaited.
#[derive(Default)]
pub struct KeyLocks {
    in_use: Mutex<HashMap<SessionKey, KeyLock>>,
}

/// `key` held until dropped.
pub struct KeyGuard<'a> {
    /// Declared first: released before the claim goes, so that the last claim to go finds
    /// the lock unused.
    _held: OwnedMutexGuard<()>,
    _claim: Claim<'a>,
}

/// A caller's interest in a key's lock, while it waits for it and while it holds it; the last
/// one to go removes the lock. A caller that stops waiting drops its claim too.
struct Claim<'a> {
    locks: &'a KeyLocks,
    key: SessionKey,
    lock: Option<KeyLock>,
}

impl KeyLocks {
    /// Waits for `key`'s lock and holds it until the guard is dropped.
    pub async fn lock(&self, key: &SessionKey) -> KeyGuard<'_> {
        let lock = self.in_use().entry(key.clone()).or_default().clone();
        let claim = Claim {
            locks: self,
            key: key.clone(),
            lock: Some(lock.clone()),
        };
        KeyGuard {
            _held: lock.lock_owned().await,
            _claim: claim,
        }
    }

    /// How many keys have a lock now (held or awaited).
    pub fn in_use_count(&self) -> usize {
        self.in_use().len()
    }

    /// The map; a panic elsewhere while it was locked left nothing half-changed (each change
    /// is one map call), so a poisoned lock is used as is.
    fn in_use(&self) -> MutexGuard<'_, HashMap<SessionKey, KeyLock>> {
        self.in_use.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut in_use = self.locks.in_use();
        // A claim holds a count from the map's lock onwards (cloned under it), and drops it
        // under it; a holder's guard is dropped before its claim. So when only the map's
        // copy is left, nobody holds or awaits the lock.
        drop(self.lock.take());
        if in_use
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            in_use.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(id: &str) -> SessionKey {
        SessionKey::new("web", id).expect("key")
    }

    #[tokio::test]
    async fn one_key_waits_for_itself_and_never_for_another() {
        let locks = KeyLocks::default();
        let held = locks.lock(&key("a")).await;
        // Any other key, however many: never held up.
        for i in 0..2_000 {
            let other = key(&format!("b{i}"));
            tokio::time::timeout(Duration::from_secs(1), locks.lock(&other))
                .await
                .expect("another key is free");
        }
        let again = tokio::time::timeout(Duration::from_millis(50), locks.lock(&key("a"))).await;
        assert!(again.is_err(), "the same key waits");
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), locks.lock(&key("a")))
            .await
            .expect("free once released");
    }

    #[tokio::test]
    async fn a_lock_lives_only_while_held_or_awaited() {
        let locks = Arc::new(KeyLocks::default());
        let held = locks.lock(&key("a")).await;
        assert_eq!(locks.in_use_count(), 1);
        // A waiter that gives up leaves the lock to its holder.
        let gave_up = tokio::time::timeout(Duration::from_millis(20), locks.lock(&key("a"))).await;
        assert!(gave_up.is_err());
        assert_eq!(locks.in_use_count(), 1);
        // A waiter that gets it keeps it after the first holder is gone.
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _held = locks.lock(&key("a")).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(locks.in_use_count(), 1, "the waiter's");
        waiter.await.expect("waiter");
        assert_eq!(locks.in_use_count(), 0, "nothing left once all are gone");
    }
}
