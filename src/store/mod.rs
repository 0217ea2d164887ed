//! Everything tanya keeps, behind narrow traits: sessions (`SessionStore`, with transcripts
//! and the activity index), per-member limits and lockout (`MemberGuardStore`), the password
//! page's links (`PageTokenStore`), and through [`Stores`] the member directory, the demo code
//! outbox and the channels' queue. Each has an
//! in-memory implementation for tests; `sled/` holds the embedded one and is the only place
//! that names sled.
//!
//! A session's transcript is kept apart from its state as numbered records (the engine writes
//! one per turn), so a turn writes one record and a state of a few hundred bytes, however
//! long the conversation is.

pub mod channel_queue;
mod durability;
mod memory;
pub mod page_tokens;
mod postgres;
mod sled;

/// The throw-away PostgreSQL cluster of the tests, for the engine's tests on PostgreSQL.
#[cfg(test)]
pub(crate) use self::postgres::test_cluster;
pub use self::postgres::{
    Batching as PostgresBatching, DEFAULT_POOL_SIZE as POSTGRES_DEFAULT_POOL_SIZE,
    Options as PostgresOptions,
};
pub use self::sled::{
    DEFAULT_CACHE_BYTES as EMBEDDED_DEFAULT_CACHE_BYTES,
    DEFAULT_COMMIT_DELAY as EMBEDDED_DEFAULT_COMMIT_DELAY, Database as EmbeddedDatabase,
    Options as EmbeddedOptions,
};
pub use crate::db_error::{BackendError, DbError, StoreError};
pub use crate::limits::{BucketId, MemberGuardStore, MemoryMemberGuard};
pub use crate::session_key::{MAX_SESSION_KEY_BYTES, RedactedKey, SessionKey, SessionKeyError};
pub use durability::{Durability, NoDurability};
pub use memory::MemorySessionStore;
pub use page_tokens::{MemoryPageTokens, PageGrant, PageTokenStore};

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::members::{DirectoryError, MemberId, MemberStore};
use crate::outbox::{CodeOutbox, OutboxError};
use crate::security::lockout::Standing;
use channel_queue::ChannelQueue;

/// Every store of one backend, as the application uses them.
#[derive(Clone)]
pub struct Stores {
    pub sessions: Arc<dyn SessionStore>,
    pub guard: Arc<dyn MemberGuardStore>,
    pub members: Arc<dyn MemberStore>,
    pub codes: Arc<dyn CodeOutbox>,
    pub channel_queue: Arc<dyn ChannelQueue>,
    /// The password page's links.
    pub page_tokens: Arc<dyn PageTokenStore>,
    /// Makes the writes of all the stores above durable.
    pub durability: Arc<dyn Durability>,
    /// The embedded database underneath, when there is one (flush statistics, tests).
    pub embedded: Option<EmbeddedDatabase>,
    /// The server key kept in a shared database for every instance (PostgreSQL); `None`
    /// where the key lives beside the data (the embedded backend's key file).
    pub kept_key: Option<[u8; 32]>,
}

/// Why a backend's stores could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error("database: {0}")]
    Database(#[from] DbError),
    #[error("session store: {0}")]
    Sessions(#[from] StoreError),
    #[error("member directory: {0}")]
    Directory(#[from] DirectoryError),
    #[error("code outbox: {0}")]
    Codes(#[from] OutboxError),
}

/// The embedded backend: every store in one sled database in `dir` (made private to this
/// user).
pub fn open_embedded(dir: &Path, options: EmbeddedOptions) -> Result<Stores, OpenError> {
    self::sled::stores(EmbeddedDatabase::open_with(dir, options)?)
}

/// The PostgreSQL backend, for several instances: migrations applied, the server key read
/// (or created once) from the database.
pub async fn open_postgres(options: &PostgresOptions) -> Result<Stores, OpenError> {
    self::postgres::open(options).await
}

/// The embedded backend in a temporary location that disappears with the last handle: for
/// tests and for channel bookkeeping of in-memory applications.
pub fn temporary() -> Result<Stores, OpenError> {
    self::sled::stores(EmbeddedDatabase::temporary()?)
}

/// Reopens the closed embedded database in `dir` once, so that the next start is fast
/// (see `EmbeddedDatabase::write_snapshot_for_next_start`).
pub fn prepare_next_start(dir: &Path) -> Result<Duration, DbError> {
    EmbeddedDatabase::write_snapshot_for_next_start(dir)
}

use crate::clock::Timestamp;

/// A saved session: when it last changed, and the engine's serialized state, which the store
/// never interprets.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub updated_at: Timestamp,
    pub data: Vec<u8>,
}

impl StoredSession {
    /// What a stored record that cannot be read is taken for: no state, from the start of
    /// time (the engine starts such a session over).
    pub fn unreadable() -> StoredSession {
        StoredSession {
            updated_at: Timestamp(0),
            data: Vec::new(),
        }
    }
}

impl fmt::Debug for StoredSession {
    // The state may hold a member's NIK or e-mail, so only its size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("updated_at", &self.updated_at)
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

/// Where sessions live between turns. Implementations must be safe to share between tasks.
///
/// Transcript records ("lines" here; the engine stores one exchange per line) are numbered
/// from 0 by the engine, which keeps the count in the session's state: lines are read below
/// that count only, so lines written by a turn that never saved its state (a crash in
/// between) stay invisible until the next turn overwrites them.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// The session saved under `key`, if any.
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError>;
    /// Saves `session` under `key`, replacing what was there.
    async fn save(&self, key: &SessionKey, session: &StoredSession) -> Result<(), StoreError>;
    /// Writes transcript `lines` numbered from `first`, then forgets every line of this
    /// session numbered below `first + lines.len() - keep`: the transcript keeps its last
    /// `keep` lines.
    async fn append_transcript(
        &self,
        key: &SessionKey,
        first: u64,
        lines: &[Vec<u8>],
        keep: u64,
    ) -> Result<(), StoreError>;
    /// The transcript lines numbered below `end` that are still kept, oldest first.
    async fn transcript(&self, key: &SessionKey, end: u64) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Forgets the session under `key` and its transcript (no error when there is none).
    async fn remove(&self, key: &SessionKey) -> Result<(), StoreError>;
    /// Deletes sessions not updated since `cutoff`, with their transcripts; returns how many.
    async fn remove_idle(&self, cutoff: Timestamp) -> Result<usize, StoreError>;
    /// How many sessions are stored.
    async fn count(&self) -> Result<usize, StoreError>;

    /// Starts a turn of session `key`: waits until no other turn of it runs (in any
    /// instance sharing this store) and loads it; a record that cannot be read comes back
    /// as `StoredSession::unreadable`, so the member starts over instead of being stuck
    /// with an error at every message. The turn's writes are made by
    /// `SessionTurn::finish`; a turn dropped unfinished writes nothing and lets the next in.
    ///
    /// The default suits a store that lives in one process, where the engine's own locks
    /// already keep turns of one session apart: it loads, and `finish` writes.
    async fn begin_turn<'a>(
        &'a self,
        key: &SessionKey,
    ) -> Result<(Option<StoredSession>, Box<dyn SessionTurn + 'a>), StoreError> {
        let loaded = match self.load(key).await {
            Err(StoreError::Corrupt { .. }) => Some(StoredSession::unreadable()),
            loaded => loaded?,
        };
        let turn: Box<dyn SessionTurn + 'a> = Box::new(InProcessTurn {
            store: self,
            key: key.clone(),
        });
        Ok((loaded, turn))
    }
}

/// What a turn writes when it finishes: transcript lines that left the session's recent
/// exchanges (see `SessionStore::append_transcript`), and the session's new state.
#[derive(Debug, Default)]
pub struct TurnWrites {
    pub transcript: Option<TranscriptLines>,
    pub session: Option<StoredSession>,
    /// The member the new state is about, if any: a store that reads the member's standing
    /// together with the session (`SessionTurn::member_standing`) keeps it beside the state.
    pub member: Option<MemberId>,
}

/// Transcript lines numbered from `first`, keeping the session's last `keep`.
#[derive(Debug)]
pub struct TranscriptLines {
    pub first: u64,
    pub lines: Vec<Vec<u8>>,
    pub keep: u64,
}

/// A turn in progress, holding its session (see `SessionStore::begin_turn`).
#[async_trait::async_trait]
pub trait SessionTurn: Send + Sync {
    /// Writes `writes`, all or nothing where the store can, and ends the turn.
    async fn finish(self: Box<Self>, writes: TurnWrites) -> Result<(), StoreError>;

    /// The turn is about to wait on something slow (a password hashed, a directory across
    /// the network): a store that commits turns together stops waiting for this one and
    /// commits the others without it. Nothing else changes: the session stays the turn's
    /// until it finishes or is dropped.
    fn detach(&self) {}

    /// The standing of the member the session was about when last saved, read with the
    /// session under its lock, from a store where each read is a round trip to a shared
    /// database (it saves the turn one); `None`: the turn reads a standing when it needs one.
    fn member_standing(&self) -> Option<(MemberId, Standing)> {
        None
    }
}

/// The turn of a store that lives in one process: its writes, one after the other.
struct InProcessTurn<'a, S: ?Sized> {
    store: &'a S,
    key: SessionKey,
}

#[async_trait::async_trait]
impl<S: SessionStore + ?Sized> SessionTurn for InProcessTurn<'_, S> {
    async fn finish(self: Box<Self>, writes: TurnWrites) -> Result<(), StoreError> {
        // The transcript before the state: should the process die in between, the saved
        // state still carries the lines, and the next turn writes them again.
        if let Some(transcript) = writes.transcript {
            self.store
                .append_transcript(
                    &self.key,
                    transcript.first,
                    &transcript.lines,
                    transcript.keep,
                )
                .await?;
        }
        if let Some(session) = writes.session {
            self.store.save(&self.key, &session).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn key(id: &str) -> SessionKey {
        SessionKey::new("web", id).expect("valid key")
    }

    pub(crate) fn session(at: u64, data: &[u8]) -> StoredSession {
        StoredSession {
            updated_at: Timestamp(at),
            data: data.to_vec(),
        }
    }

    /// The behaviour every `SessionStore` must share.
    pub(crate) async fn contract(store: &dyn SessionStore) {
        assert_eq!(store.count().await.expect("count"), 0);
        assert_eq!(store.load(&key("unknown")).await.expect("load"), None);

        store
            .save(&key("a"), &session(1_000, b"first"))
            .await
            .expect("save");
        assert_eq!(
            store.load(&key("a")).await.expect("load"),
            Some(session(1_000, b"first"))
        );

        store
            .save(&key("a"), &session(2_000, b"second"))
            .await
            .expect("overwrite");
        assert_eq!(
            store.load(&key("a")).await.expect("load"),
            Some(session(2_000, b"second"))
        );
        assert_eq!(store.count().await.expect("count"), 1);

        store
            .save(&key("empty"), &session(3_000, b""))
            .await
            .expect("save");
        assert_eq!(
            store.load(&key("empty")).await.expect("load"),
            Some(session(3_000, b""))
        );

        store.remove(&key("empty")).await.expect("remove");
        assert_eq!(store.load(&key("empty")).await.expect("load"), None);
        store
            .remove(&key("empty"))
            .await
            .expect("removing twice is fine");
        assert_eq!(store.count().await.expect("count"), 1);

        store
            .save(&key("old"), &session(4_999, b"old"))
            .await
            .expect("save");
        store
            .save(&key("edge"), &session(5_000, b"edge"))
            .await
            .expect("save");
        store
            .save(&key("new"), &session(6_000, b"new"))
            .await
            .expect("save");
        assert_eq!(store.count().await.expect("count"), 4);

        // "a" (2_000) and "old" (4_999) are idle; "edge" was updated exactly at the cutoff.
        assert_eq!(
            store
                .remove_idle(Timestamp(5_000))
                .await
                .expect("remove_idle"),
            2
        );
        assert_eq!(store.load(&key("a")).await.expect("load"), None);
        assert_eq!(store.load(&key("old")).await.expect("load"), None);
        assert!(store.load(&key("edge")).await.expect("load").is_some());
        assert!(store.load(&key("new")).await.expect("load").is_some());
        assert_eq!(store.count().await.expect("count"), 2);
        assert_eq!(store.remove_idle(Timestamp(5_000)).await.expect("again"), 0);

        transcript_contract(store).await;
    }

    pub(crate) fn lines(range: std::ops::Range<u64>) -> Vec<Vec<u8>> {
        range.map(|n| format!("line {n}").into_bytes()).collect()
    }

    /// Transcripts: appended in order, trimmed to the last `keep`, read below an end, and
    /// deleted with their session.
    pub(crate) async fn transcript_contract(store: &dyn SessionStore) {
        let talk = key("talk");
        let other = key("talk2");
        assert!(store.transcript(&talk, 10).await.expect("empty").is_empty());

        store
            .append_transcript(&talk, 0, &lines(0..3), 5)
            .await
            .expect("append");
        store
            .append_transcript(&other, 0, &lines(0..1), 5)
            .await
            .expect("append to a key that extends this one");
        assert_eq!(store.transcript(&talk, 3).await.expect("read"), lines(0..3));
        assert_eq!(
            store.transcript(&talk, 2).await.expect("below end"),
            lines(0..2)
        );

        store
            .append_transcript(&talk, 3, &lines(3..7), 5)
            .await
            .expect("append past keep");
        assert_eq!(
            store.transcript(&talk, 7).await.expect("trimmed"),
            lines(2..7)
        );
        // A line number rewritten (after a turn that never saved its state) is replaced.
        store
            .append_transcript(&talk, 6, &[b"again".to_vec()], 5)
            .await
            .expect("rewrite");
        let mut expected = lines(2..6);
        expected.push(b"again".to_vec());
        assert_eq!(
            store.transcript(&talk, 7).await.expect("rewritten"),
            expected
        );
        assert_eq!(
            store.transcript(&other, 1).await.expect("other"),
            lines(0..1)
        );

        store
            .save(&talk, &session(10_000, b"state"))
            .await
            .expect("save");
        store.remove(&talk).await.expect("remove");
        assert!(store.transcript(&talk, 7).await.expect("gone").is_empty());
        assert_eq!(
            store.transcript(&other, 1).await.expect("kept"),
            lines(0..1)
        );

        store.save(&talk, &session(1, b"old")).await.expect("save");
        store
            .append_transcript(&talk, 0, &lines(0..2), 5)
            .await
            .expect("append");
        store.remove_idle(Timestamp(2)).await.expect("sweep");
        assert!(store.transcript(&talk, 2).await.expect("swept").is_empty());
    }

    #[tokio::test]
    async fn the_memory_store_meets_the_session_store_contract() {
        contract(&MemorySessionStore::default()).await;
    }

    #[test]
    fn stored_session_debug_does_not_show_the_state() {
        let shown = format!("{:?}", session(1, b"3174011203880001"));
        assert!(!shown.contains("3174"), "{shown}");
    }
}
