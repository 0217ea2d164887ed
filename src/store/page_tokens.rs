//! `PageTokenStore`: the password page's links (SPEC §12), kept only as the keyed hash of their
//! token, each bound to one session, member and flow, valid until it expires, is withdrawn, or
//! has been submitted too often. One live link per session: a new one replaces the old.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::{SessionKey, StoreError};
use crate::clock::Timestamp;
use crate::dialog::Flow;
use crate::members::MemberId;
use crate::security::page_token::PageTokenHash;

/// What a link lets its holder do: set the password of `member`, finishing `flow` in the
/// conversation `session`, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageGrant {
    pub session: SessionKey,
    pub member: MemberId,
    pub flow: Flow,
    pub expires_at: Timestamp,
}

/// Where the links live. Implementations must be safe to share, and each operation atomic:
/// two submissions of one link at once must both be counted.
#[async_trait::async_trait]
pub trait PageTokenStore: Send + Sync {
    /// Keeps `hash` for `grant`; the link issued earlier for the same session, if any, stops
    /// working.
    async fn issue(&self, hash: &PageTokenHash, grant: &PageGrant) -> Result<(), StoreError>;
    /// The grant of `hash` while it works at `now` (issued, not expired, not withdrawn, not
    /// submitted more than allowed). Reading counts nothing.
    async fn find(
        &self,
        hash: &PageTokenHash,
        now: Timestamp,
    ) -> Result<Option<PageGrant>, StoreError>;
    /// Counts one submission of the page under `hash`: its grant while the link works and this
    /// is at most submission number `max`; otherwise `None`, and a link submitted more often
    /// than `max` stops working for good.
    async fn attempt(
        &self,
        hash: &PageTokenHash,
        max: u32,
        now: Timestamp,
    ) -> Result<Option<PageGrant>, StoreError>;
    /// Ends the link of `session`, if it has one (its flow finished or left the page).
    async fn withdraw(&self, session: &SessionKey) -> Result<(), StoreError>;
    /// Forgets the links expired at `now`; returns how many.
    async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError>;
}

/// A link as the backends store it (the hash is the record's key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct TokenRecord {
    pub(super) session: String,
    pub(super) member: String,
    pub(super) flow: Flow,
    pub(super) expires_at: u64,
    /// Submissions counted so far.
    pub(super) attempts: u32,
}

impl TokenRecord {
    pub(super) fn new(grant: &PageGrant) -> TokenRecord {
        TokenRecord {
            session: grant.session.as_str().to_string(),
            member: grant.member.as_str().to_string(),
            flow: grant.flow,
            expires_at: grant.expires_at.0,
            attempts: 0,
        }
    }

    /// Whether the link works at `now` (the attempt limit is checked where it is counted).
    pub(super) fn works_at(&self, now: Timestamp) -> bool {
        now.0 < self.expires_at
    }

    /// The grant; `None` for a record whose session key no longer parses (it cannot come from
    /// this store, which only writes valid keys: such a link opens nothing).
    pub(super) fn grant(&self) -> Option<PageGrant> {
        let (channel, id) = self.session.split_once(':')?;
        Some(PageGrant {
            session: SessionKey::new(channel, id).ok()?,
            member: MemberId::from_stored(self.member.clone()),
            flow: self.flow,
            expires_at: Timestamp(self.expires_at),
        })
    }
}

/// Links in maps: for tests and the conversation runner.
#[derive(Debug, Default)]
pub struct MemoryPageTokens {
    maps: Mutex<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    tokens: HashMap<PageTokenHash, TokenRecord>,
    by_session: HashMap<String, PageTokenHash>,
}

impl MemoryPageTokens {
    fn maps(&self) -> MutexGuard<'_, Maps> {
        // Every operation leaves both maps consistent before it returns.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl PageTokenStore for MemoryPageTokens {
    async fn issue(&self, hash: &PageTokenHash, grant: &PageGrant) -> Result<(), StoreError> {
        let mut maps = self.maps();
        let record = TokenRecord::new(grant);
        if let Some(old) = maps.by_session.insert(record.session.clone(), *hash) {
            maps.tokens.remove(&old);
        }
        maps.tokens.insert(*hash, record);
        Ok(())
    }

    async fn find(
        &self,
        hash: &PageTokenHash,
        now: Timestamp,
    ) -> Result<Option<PageGrant>, StoreError> {
        Ok(self
            .maps()
            .tokens
            .get(hash)
            .filter(|record| record.works_at(now))
            .and_then(TokenRecord::grant))
    }

    async fn attempt(
        &self,
        hash: &PageTokenHash,
        max: u32,
        now: Timestamp,
    ) -> Result<Option<PageGrant>, StoreError> {
        let mut maps = self.maps();
        let Some(record) = maps.tokens.get_mut(hash).filter(|r| r.works_at(now)) else {
            return Ok(None);
        };
        record.attempts += 1;
        if record.attempts <= max {
            return Ok(record.grant());
        }
        let session = record.session.clone();
        maps.tokens.remove(hash);
        maps.by_session.remove(&session);
        Ok(None)
    }

    async fn withdraw(&self, session: &SessionKey) -> Result<(), StoreError> {
        let mut maps = self.maps();
        if let Some(hash) = maps.by_session.remove(session.as_str()) {
            maps.tokens.remove(&hash);
        }
        Ok(())
    }

    async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut maps = self.maps();
        let Maps { tokens, by_session } = &mut *maps;
        let before = tokens.len();
        tokens.retain(|_, record| {
            let keep = record.works_at(now);
            if !keep {
                by_session.remove(&record.session);
            }
            keep
        });
        Ok(before - tokens.len())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::identity::Kpj;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn hash(n: u8) -> PageTokenHash {
        PageTokenHash([n; 32])
    }

    fn grant(session: &str, flow: Flow, expires_at: Timestamp) -> PageGrant {
        PageGrant {
            session: SessionKey::new("telegram", session).expect("key"),
            member: MemberId::from_kpj(&Kpj::parse("12345678901").expect("kpj")),
            flow,
            expires_at,
        }
    }

    /// The behaviour every `PageTokenStore` must share.
    pub(crate) async fn contract(store: &dyn PageTokenStore) {
        let until = T0.plus(std::time::Duration::from_secs(600));
        let a = grant("1", Flow::ForgotPassword, until);
        assert_eq!(store.find(&hash(1), T0).await.expect("find"), None);
        store.issue(&hash(1), &a).await.expect("issue");
        assert_eq!(
            store.find(&hash(1), T0).await.expect("find"),
            Some(a.clone())
        );
        assert_eq!(
            store.find(&hash(1), until).await.expect("find"),
            None,
            "expired at its time"
        );

        // Attempts are counted up to the limit; the one after ends the link.
        for _ in 0..3 {
            assert_eq!(
                store.attempt(&hash(1), 3, T0).await.expect("attempt"),
                Some(a.clone())
            );
        }
        assert_eq!(store.attempt(&hash(1), 3, T0).await.expect("attempt"), None);
        assert_eq!(store.find(&hash(1), T0).await.expect("find"), None);
        assert_eq!(store.attempt(&hash(1), 3, T0).await.expect("attempt"), None);
        assert_eq!(
            store.attempt(&hash(9), 3, T0).await.expect("attempt"),
            None,
            "an unknown link"
        );

        // A new link for the session replaces the old; other sessions keep theirs.
        let b = grant("2", Flow::ForgotAccount, until);
        store.issue(&hash(2), &b).await.expect("issue");
        store.issue(&hash(3), &a).await.expect("issue");
        store.issue(&hash(4), &a).await.expect("issue again");
        assert_eq!(store.find(&hash(3), T0).await.expect("find"), None);
        assert_eq!(
            store.find(&hash(4), T0).await.expect("find"),
            Some(a.clone())
        );
        assert_eq!(
            store.find(&hash(2), T0).await.expect("find"),
            Some(b.clone())
        );
        assert_eq!(
            store.attempt(&hash(3), 3, T0).await.expect("attempt"),
            None,
            "the replaced link counts nothing"
        );
        assert_eq!(
            store.attempt(&hash(4), 3, until).await.expect("attempt"),
            None,
            "an expired link counts nothing"
        );

        // Withdrawn: gone at once, for that session only.
        store.withdraw(&a.session).await.expect("withdraw");
        store
            .withdraw(&a.session)
            .await
            .expect("withdrawing twice is fine");
        assert_eq!(store.find(&hash(4), T0).await.expect("find"), None);
        assert_eq!(
            store.find(&hash(2), T0).await.expect("find"),
            Some(b.clone())
        );

        // The sweep forgets the expired links only, and a session's next link still works.
        let later = grant(
            "3",
            Flow::ForgotPassword,
            until.plus(std::time::Duration::from_secs(1)),
        );
        store.issue(&hash(5), &later).await.expect("issue");
        assert_eq!(store.sweep(T0).await.expect("sweep"), 0);
        assert_eq!(store.sweep(until).await.expect("sweep"), 1, "b");
        assert_eq!(
            store.find(&hash(5), until).await.expect("find"),
            Some(later)
        );
        store
            .issue(&hash(6), &b)
            .await
            .expect("issue after the sweep");
        assert_eq!(store.find(&hash(6), T0).await.expect("find"), Some(b));
    }

    #[tokio::test]
    async fn the_memory_store_meets_the_page_token_contract() {
        contract(&MemoryPageTokens::default()).await;
    }
}
