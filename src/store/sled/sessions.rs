//! The sled `SessionStore`: one record per session in the "sessions" tree, laid out so that the
//! idle sweep can read a session's age without decoding the engine's state; one record per
//! transcript line in the "transcripts" tree; and an index of sessions by the hour of their
//! last activity, so the sweep reads only the sessions old enough to be idle.

use super::Database;
use crate::clock::Timestamp;
use crate::store::{SessionKey, SessionStore, StoreError, StoredSession};

const TREE: &str = "sessions";
const TRANSCRIPT_TREE: &str = "transcripts";
const ACTIVITY_TREE: &str = "session_activity";
const STAMP_BYTES: usize = 8;
/// The width of one slot of the activity index. A session's entry moves at most once per
/// slot, so the index costs a turn nothing except when a conversation crosses the hour.
const ACTIVITY_SLOT_MS: u64 = 60 * 60 * 1000;

/// Sessions in sled. A session record is `updated_at` as 8 big-endian bytes followed by the
/// data; a transcript line's key is the session key, a NUL (never inside a session key) and
/// the line number as 8 big-endian bytes, so one session's lines sort together and in order.
///
/// The activity index holds one empty record per session, keyed by the hour of its last
/// update (8 big-endian bytes) and then the session key. Without it the sweep had to read
/// every session, and sled 0.34 keeps in memory the pages a scan read (about 30 MB for
/// 100,000 sessions, over and above its cache limit).
#[derive(Debug, Clone)]
pub struct SledSessionStore {
    tree: sled::Tree,
    transcripts: sled::Tree,
    activity: sled::Tree,
}

impl SledSessionStore {
    pub fn new(db: &Database) -> Result<SledSessionStore, StoreError> {
        let store = SledSessionStore {
            tree: db.tree(TREE)?,
            transcripts: db.tree(TRANSCRIPT_TREE)?,
            activity: db.tree(ACTIVITY_TREE)?,
        };
        if store.activity.is_empty() && !store.tree.is_empty() {
            let indexed = store.index_every_session()?;
            tracing::info!(indexed, "sessions indexed by activity");
        }
        Ok(store)
    }

    /// Indexes every stored session by the hour of its last activity: once, for a database
    /// written before the index existed.
    fn index_every_session(&self) -> Result<usize, StoreError> {
        let mut indexed = 0;
        for_each_chunk(&self.tree, None, |key, record| {
            self.activity
                .insert(activity_key(slot(stamp(record)), key), &[])?;
            indexed += 1;
            Ok(())
        })?;
        Ok(indexed)
    }

    /// Deletes every transcript line of the session stored under `key`.
    fn remove_transcript(&self, key: &[u8]) -> Result<(), StoreError> {
        for line in self.transcripts.scan_prefix(line_prefix(key)).keys() {
            self.transcripts.remove(line?)?;
        }
        Ok(())
    }

    /// Looks at one entry of the activity index during the sweep, and returns whether it
    /// deleted an idle session. An entry can be stale after a crash in the middle of a save
    /// or a removal; it is then dropped, and re-made under the session's own hour if the
    /// session exists, so no session is ever left out of the index.
    fn sweep_entry(&self, entry: &[u8], cutoff: Timestamp) -> Result<bool, StoreError> {
        let Some((entry_slot, key)) = split_activity_key(entry) else {
            self.activity.remove(entry)?;
            return Ok(false);
        };
        let Some(record) = self.tree.get(key)? else {
            self.activity.remove(entry)?;
            return Ok(false);
        };
        let updated_at = stamp(&record);
        if slot(updated_at) != entry_slot {
            self.activity
                .insert(activity_key(slot(updated_at), key), &[])?;
            self.activity.remove(entry)?;
            return Ok(false);
        }
        match updated_at {
            Some(updated_at) if updated_at >= cutoff => return Ok(false),
            Some(_) => {}
            None => tracing::warn!(
                session = %String::from_utf8_lossy(key),
                "removing a corrupt session record"
            ),
        }
        // Only delete the record judged idle: a turn may have saved it since, and that
        // session is active again (its save moves the index entry itself).
        if self
            .tree
            .compare_and_swap(key, Some(record), None::<&[u8]>)?
            .is_err()
        {
            return Ok(false);
        }
        // A crash right here leaves the lines behind; they are unreachable (a new session
        // under this key reads only the lines it wrote itself).
        self.remove_transcript(key)?;
        self.activity.remove(entry)?;
        Ok(true)
    }
}

/// Records a full scan reads per sled iterator.
const SCAN_CHUNK: usize = 1024;

/// Calls `visit` with every record of `tree` below `end` (all of them with `None`), in key
/// order, reading `SCAN_CHUNK` records per iterator. One iterator over the whole tree keeps
/// every page it passed alive until it is dropped (sled frees replaced pages only when no
/// reader may still see them), so a sweep of 100,000 sessions in one pass briefly held all
/// of them in memory: 140 MB of heap at start-up, which the allocator then kept.
fn for_each_chunk(
    tree: &sled::Tree,
    end: Option<&[u8]>,
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    use std::ops::Bound;
    let end = end.map_or(Bound::Unbounded, Bound::Excluded);
    let mut after: Option<sled::IVec> = None;
    loop {
        let start = match after.take() {
            None => Bound::Unbounded,
            Some(last) => Bound::Excluded(last),
        };
        let chunk = tree
            .range::<&[u8], _>((start.as_ref().map(AsRef::as_ref), end))
            .take(SCAN_CHUNK)
            .collect::<Result<Vec<_>, sled::Error>>()?;
        for (key, record) in &chunk {
            visit(key, record)?;
        }
        match chunk.into_iter().last() {
            Some((last, _)) => after = Some(last),
            None => return Ok(()),
        }
    }
}

/// `key` NUL: what every transcript line of the session `key` starts with.
fn line_prefix(key: &[u8]) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(key.len() + 1 + 8);
    prefix.extend_from_slice(key);
    prefix.push(0);
    prefix
}

fn line_key(key: &SessionKey, number: u64) -> Vec<u8> {
    let mut line = line_prefix(key.as_str().as_bytes());
    line.extend_from_slice(&number.to_be_bytes());
    line
}

/// The activity-index slot of a session updated at `updated_at`; a record too short to hold
/// its time (corrupt) goes in slot 0, so the next sweep removes it.
fn slot(updated_at: Option<Timestamp>) -> u64 {
    updated_at.map_or(0, |at| at.0 / ACTIVITY_SLOT_MS)
}

fn activity_key(slot: u64, key: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(8 + key.len());
    entry.extend_from_slice(&slot.to_be_bytes());
    entry.extend_from_slice(key);
    entry
}

/// The slot and session key of an activity-index entry.
fn split_activity_key(entry: &[u8]) -> Option<(u64, &[u8])> {
    let (slot, key) = entry.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*slot), key))
}

fn encode(session: &StoredSession) -> Vec<u8> {
    let mut record = Vec::with_capacity(STAMP_BYTES + session.data.len());
    record.extend_from_slice(&session.updated_at.0.to_be_bytes());
    record.extend_from_slice(&session.data);
    record
}

/// The record's timestamp, or `None` when it is too short to hold one.
fn stamp(record: &[u8]) -> Option<Timestamp> {
    let bytes = record.get(..STAMP_BYTES)?.try_into().ok()?;
    Some(Timestamp(u64::from_be_bytes(bytes)))
}

#[async_trait::async_trait]
impl SessionStore for SledSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        let Some(record) = self.tree.get(key.as_str())? else {
            return Ok(None);
        };
        let updated_at = stamp(&record).ok_or_else(|| StoreError::Corrupt {
            key: key.to_string(),
        })?;
        Ok(Some(StoredSession {
            updated_at,
            data: record[STAMP_BYTES..].to_vec(),
        }))
    }

    /// The new index entry goes in before the record and the old one comes out after it:
    /// whenever the process stops, the record has an entry for its hour.
    async fn save(&self, key: &SessionKey, session: &StoredSession) -> Result<(), StoreError> {
        let key = key.as_str().as_bytes();
        let now = slot(Some(session.updated_at));
        let before = self.tree.get(key)?.map(|record| slot(stamp(&record)));
        if before != Some(now) {
            self.activity.insert(activity_key(now, key), &[])?;
        }
        self.tree.insert(key, encode(session))?;
        if let Some(before) = before.filter(|&before| before != now) {
            self.activity.remove(activity_key(before, key))?;
        }
        Ok(())
    }
    async fn append_transcript(
        &self,
        key: &SessionKey,
        first: u64,
        lines: &[Vec<u8>],
        keep: u64,
    ) -> Result<(), StoreError> {
        // Plain inserts, not a `sled::Batch`: sled applies a batch under a database-wide
        // exclusive lock, which serialised every concurrent turn (measured: less than half
        // the throughput). Readers see only lines below the saved count, so the lines need
        // not appear all at once.
        for (number, line) in (first..).zip(lines) {
            self.transcripts
                .insert(line_key(key, number), line.as_slice())?;
        }
        // Older lines were trimmed by earlier turns, so this range holds only the few that
        // fall out of the window now (or strays of an interrupted turn).
        let end = (first + lines.len() as u64).saturating_sub(keep);
        if end > 0 {
            for old in self
                .transcripts
                .range(line_key(key, 0)..line_key(key, end))
                .keys()
            {
                self.transcripts.remove(old?)?;
            }
        }
        Ok(())
    }

    async fn transcript(&self, key: &SessionKey, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.transcripts
            .range(line_key(key, 0)..line_key(key, end))
            .values()
            .map(|line| Ok(line?.to_vec()))
            .collect()
    }

    async fn remove(&self, key: &SessionKey) -> Result<(), StoreError> {
        let key = key.as_str().as_bytes();
        if let Some(record) = self.tree.remove(key)? {
            self.activity
                .remove(activity_key(slot(stamp(&record)), key))?;
        }
        self.remove_transcript(key)
    }

    /// Reads the activity index up to the cutoff's hour, and only the sessions it names.
    /// Records too short to decode are deleted too: they can never be loaded again, and
    /// keeping them would make every sweep report the same corruption.
    async fn remove_idle(&self, cutoff: Timestamp) -> Result<usize, StoreError> {
        let this = self.clone();
        super::off_the_executor(move || {
            let end = (slot(Some(cutoff)) + 1).to_be_bytes();
            let mut removed = 0;
            for_each_chunk(&this.activity, Some(&end), |entry, _| {
                if this.sweep_entry(entry, cutoff)? {
                    removed += 1;
                }
                Ok(())
            })?;
            Ok(removed)
        })
        .await
    }

    /// Counts the activity index's entries (sled keeps no count), so it costs O(sessions)
    /// but reads no session. After a crash in the middle of a save it can count one session
    /// twice until that hour is swept.
    async fn count(&self) -> Result<usize, StoreError> {
        let this = self.clone();
        super::off_the_executor(move || {
            let mut count = 0;
            for_each_chunk(&this.activity, None, |_, _| {
                count += 1;
                Ok(())
            })?;
            Ok(count)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sled_store_meets_the_session_store_contract() {
        let db = Database::temporary().expect("db");
        crate::store::tests::contract(&SledSessionStore::new(&db).expect("store")).await;
    }

    #[tokio::test]
    async fn sweeps_and_counts_cross_scan_chunks() {
        let db = Database::temporary().expect("db");
        let store = SledSessionStore::new(&db).expect("store");
        let total = 2 * SCAN_CHUNK + 7;
        for i in 0..total {
            let key = SessionKey::new("web", &format!("{i:05}")).expect("key");
            let session = StoredSession {
                updated_at: Timestamp(if i % 2 == 0 { 1 } else { 100 }),
                data: Vec::new(),
            };
            store.save(&key, &session).await.expect("save");
        }
        assert_eq!(store.count().await.expect("count"), total);
        assert_eq!(
            store.remove_idle(Timestamp(50)).await.expect("sweep"),
            total.div_ceil(2)
        );
        assert_eq!(store.count().await.expect("count"), total / 2);
    }

    #[tokio::test]
    async fn a_record_too_short_for_its_timestamp_is_reported_corrupt_for_that_key_only() {
        let db = Database::temporary().expect("db");
        let store = SledSessionStore::new(&db).expect("store");
        let broken = SessionKey::new("web", "broken").expect("key");
        let fine = SessionKey::new("web", "fine").expect("key");
        db.tree(TREE)
            .expect("tree")
            .insert(broken.as_str(), &[1u8, 2, 3][..])
            .expect("insert");
        let session = StoredSession {
            updated_at: Timestamp(10),
            data: b"state".to_vec(),
        };
        store.save(&fine, &session).await.expect("save");

        match store.load(&broken).await {
            Err(StoreError::Corrupt { key }) => assert_eq!(key, "web:broken"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(store.load(&fine).await.expect("load"), Some(session));
    }

    #[tokio::test]
    async fn the_idle_sweep_removes_corrupt_records_and_keeps_fresh_ones() {
        let db = Database::temporary().expect("db");
        // Written before the store opens, as by an older build: the store indexes it.
        db.tree(TREE)
            .expect("tree")
            .insert("web:broken", &[7u8][..])
            .expect("insert");
        let store = SledSessionStore::new(&db).expect("store");
        let fresh = SessionKey::new("web", "fresh").expect("key");
        store
            .save(
                &fresh,
                &StoredSession {
                    updated_at: Timestamp(100),
                    data: Vec::new(),
                },
            )
            .await
            .expect("save");

        assert_eq!(store.remove_idle(Timestamp(50)).await.expect("sweep"), 1);
        assert_eq!(store.count().await.expect("count"), 1);
        assert!(store.load(&fresh).await.expect("load").is_some());
    }

    const HOUR: u64 = ACTIVITY_SLOT_MS;

    fn at(millis: u64) -> StoredSession {
        StoredSession {
            updated_at: Timestamp(millis),
            data: b"state".to_vec(),
        }
    }

    #[tokio::test]
    async fn sessions_stored_before_the_activity_index_are_indexed_when_the_store_opens() {
        let db = Database::temporary().expect("db");
        let sessions = db.tree(TREE).expect("tree");
        for (id, millis) in [("old", HOUR), ("older", 1), ("fresh", 30 * HOUR)] {
            sessions
                .insert(format!("web:{id}"), encode(&at(millis)))
                .expect("insert");
        }
        let store = SledSessionStore::new(&db).expect("store");
        assert_eq!(store.count().await.expect("count"), 3);
        assert_eq!(
            store.remove_idle(Timestamp(6 * HOUR)).await.expect("sweep"),
            2
        );
        let fresh = SessionKey::new("web", "fresh").expect("key");
        assert_eq!(store.load(&fresh).await.expect("load"), Some(at(30 * HOUR)));
        assert_eq!(store.count().await.expect("count"), 1);
    }

    #[tokio::test]
    async fn a_session_saved_hours_apart_keeps_one_index_entry_under_its_latest_hour() {
        let db = Database::temporary().expect("db");
        let store = SledSessionStore::new(&db).expect("store");
        let key = SessionKey::new("web", "talk").expect("key");
        store.save(&key, &at(HOUR + 5)).await.expect("save");
        store.save(&key, &at(HOUR + 9)).await.expect("same hour");
        store.save(&key, &at(5 * HOUR)).await.expect("later hour");
        assert_eq!(store.count().await.expect("count"), 1);
        assert_eq!(
            store.remove_idle(Timestamp(3 * HOUR)).await.expect("sweep"),
            0
        );
        assert_eq!(store.load(&key).await.expect("load"), Some(at(5 * HOUR)));
        assert_eq!(
            store
                .remove_idle(Timestamp(5 * HOUR + 1))
                .await
                .expect("sweep"),
            1
        );
        assert_eq!(store.count().await.expect("count"), 0);
    }

    #[tokio::test]
    async fn the_sweep_repairs_index_entries_left_stale_by_a_crash() {
        let db = Database::temporary().expect("db");
        let store = SledSessionStore::new(&db).expect("store");
        let key = SessionKey::new("web", "talk").expect("key");
        store.save(&key, &at(10 * HOUR)).await.expect("save");
        // A save that stopped before removing the old entry, and a removal that stopped
        // before removing the session's entry.
        let activity = db.tree(ACTIVITY_TREE).expect("tree");
        activity
            .insert(activity_key(1, b"web:talk"), &[])
            .expect("stale entry");
        activity
            .insert(activity_key(2, b"web:gone"), &[])
            .expect("orphan entry");
        assert_eq!(store.count().await.expect("count"), 3);

        assert_eq!(
            store.remove_idle(Timestamp(5 * HOUR)).await.expect("sweep"),
            0
        );
        assert_eq!(store.count().await.expect("count"), 1);
        assert!(store.load(&key).await.expect("load").is_some());
        assert_eq!(
            store
                .remove_idle(Timestamp(11 * HOUR))
                .await
                .expect("sweep"),
            1
        );
        assert_eq!(store.count().await.expect("count"), 0);
    }
}
