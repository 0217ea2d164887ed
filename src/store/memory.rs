//! The in-memory `SessionStore`: for tests and the conversation runner, where every run starts
//! from an empty, isolated store.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{SessionKey, SessionStore, StoreError, StoredSession};
use crate::clock::Timestamp;

/// Sessions in a `HashMap`; lost when dropped.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<SessionKey, StoredSession>>,
}

impl MemorySessionStore {
    fn sessions(&self) -> MutexGuard<'_, HashMap<SessionKey, StoredSession>> {
        // Every operation leaves the map whole, so a panic elsewhere cannot leave it half-done.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SessionStore for MemorySessionStore {
    fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.sessions().get(key).cloned())
    }

    fn save(&self, key: &SessionKey, session: &StoredSession) -> Result<(), StoreError> {
        self.sessions().insert(key.clone(), session.clone());
        Ok(())
    }

    fn remove(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.sessions().remove(key);
        Ok(())
    }

    fn remove_idle(&self, cutoff: Timestamp) -> Result<usize, StoreError> {
        let mut sessions = self.sessions();
        let before = sessions.len();
        sessions.retain(|_, session| session.updated_at >= cutoff);
        Ok(before - sessions.len())
    }

    fn count(&self) -> Result<usize, StoreError> {
        Ok(self.sessions().len())
    }
}
