//! The in-memory `SessionStore`: for tests and the conversation runner, where every run starts
//! from an empty, isolated store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{SessionKey, SessionStore, StoreError, StoredSession};
use crate::clock::Timestamp;

/// Sessions and their transcript lines in maps; lost when dropped.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    maps: Mutex<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    sessions: HashMap<SessionKey, StoredSession>,
    transcripts: HashMap<SessionKey, BTreeMap<u64, Vec<u8>>>,
}

impl MemorySessionStore {
    fn maps(&self) -> MutexGuard<'_, Maps> {
        // Every operation leaves the maps whole, so a panic elsewhere cannot leave them
        // half-done.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl SessionStore for MemorySessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.maps().sessions.get(key).cloned())
    }

    async fn save(&self, key: &SessionKey, session: &StoredSession) -> Result<(), StoreError> {
        self.maps().sessions.insert(key.clone(), session.clone());
        Ok(())
    }

    async fn append_transcript(
        &self,
        key: &SessionKey,
        first: u64,
        lines: &[Vec<u8>],
        keep: u64,
    ) -> Result<(), StoreError> {
        let mut maps = self.maps();
        let transcript = maps.transcripts.entry(key.clone()).or_default();
        transcript.extend((first..).zip(lines.iter().cloned()));
        let end = (first + lines.len() as u64).saturating_sub(keep);
        *transcript = transcript.split_off(&end);
        Ok(())
    }

    async fn transcript(&self, key: &SessionKey, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .maps()
            .transcripts
            .get(key)
            .map(|lines| lines.range(..end).map(|(_, line)| line.clone()).collect())
            .unwrap_or_default())
    }

    async fn remove(&self, key: &SessionKey) -> Result<(), StoreError> {
        let mut maps = self.maps();
        maps.sessions.remove(key);
        maps.transcripts.remove(key);
        Ok(())
    }

    async fn remove_idle(&self, cutoff: Timestamp) -> Result<usize, StoreError> {
        let mut maps = self.maps();
        let Maps {
            sessions,
            transcripts,
        } = &mut *maps;
        let before = sessions.len();
        sessions.retain(|key, session| {
            let keep = session.updated_at >= cutoff;
            if !keep {
                transcripts.remove(key);
            }
            keep
        });
        Ok(before - sessions.len())
    }

    async fn count(&self) -> Result<usize, StoreError> {
        Ok(self.maps().sessions.len())
    }
}
