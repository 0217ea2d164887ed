//! The sled `SessionStore`: one record per session in the "sessions" tree, laid out so that the
//! idle sweep can read a session's age without decoding the engine's state, and one record
//! per transcript line in the "transcripts" tree.

use super::{SessionKey, SessionStore, StoreError, StoredSession};
use crate::clock::Timestamp;
use crate::db::Database;

const TREE: &str = "sessions";
const TRANSCRIPT_TREE: &str = "transcripts";
const STAMP_BYTES: usize = 8;

/// Sessions in sled. A session record is `updated_at` as 8 big-endian bytes followed by the
/// data; a transcript line's key is the session key, a NUL (never inside a session key) and
/// the line number as 8 big-endian bytes, so one session's lines sort together and in order.
#[derive(Debug, Clone)]
pub struct SledSessionStore {
    tree: sled::Tree,
    transcripts: sled::Tree,
}

impl SledSessionStore {
    pub fn new(db: &Database) -> Result<SledSessionStore, StoreError> {
        Ok(SledSessionStore {
            tree: db.tree(TREE)?,
            transcripts: db.tree(TRANSCRIPT_TREE)?,
        })
    }

    /// Deletes every transcript line of the session stored under `key`.
    fn remove_transcript(&self, key: &[u8]) -> Result<(), StoreError> {
        for line in self.transcripts.scan_prefix(line_prefix(key)).keys() {
            self.transcripts.remove(line?)?;
        }
        Ok(())
    }
}

/// Records a full scan reads per sled iterator.
const SCAN_CHUNK: usize = 1024;

/// Calls `visit` with every record of `tree`, in key order, reading `SCAN_CHUNK` records per
/// iterator. One iterator over the whole tree keeps every page it passed alive until it is
/// dropped (sled frees replaced pages only when no reader may still see them), so a sweep of
/// 100,000 sessions in one pass briefly held all of them in memory: 140 MB of heap at
/// start-up, which the allocator then kept.
fn for_each_chunk(
    tree: &sled::Tree,
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    use std::ops::Bound;
    let mut after: Option<sled::IVec> = None;
    loop {
        let range = match after.take() {
            None => tree.iter(),
            Some(last) => tree.range((Bound::Excluded(last), Bound::Unbounded)),
        };
        let chunk = range
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

impl SessionStore for SledSessionStore {
    fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
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

    fn save(&self, key: &SessionKey, session: &StoredSession) -> Result<(), StoreError> {
        self.tree.insert(key.as_str(), encode(session))?;
        Ok(())
    }

    fn append_transcript(
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

    fn transcript(&self, key: &SessionKey, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.transcripts
            .range(line_key(key, 0)..line_key(key, end))
            .values()
            .map(|line| Ok(line?.to_vec()))
            .collect()
    }

    fn remove(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.tree.remove(key.as_str())?;
        self.remove_transcript(key.as_str().as_bytes())
    }

    /// Also deletes records too short to decode: they can never be loaded again, and keeping
    /// them would make every sweep report the same corruption.
    fn remove_idle(&self, cutoff: Timestamp) -> Result<usize, StoreError> {
        let mut removed = 0;
        for_each_chunk(&self.tree, |key, record| {
            match stamp(record) {
                Some(updated_at) if updated_at >= cutoff => return Ok(()),
                Some(_) => {}
                None => tracing::warn!(
                    session = %String::from_utf8_lossy(key),
                    "removing a corrupt session record"
                ),
            }
            // Only delete the record we judged idle: a turn may have saved it since the scan
            // read it, and that session is active again.
            if self
                .tree
                .compare_and_swap(key, Some(record), None::<&[u8]>)?
                .is_ok()
            {
                // A crash right here leaves the lines behind; they are unreachable (a new
                // session under this key reads only the lines it wrote itself).
                self.remove_transcript(key)?;
                removed += 1;
            }
            Ok(())
        })?;
        Ok(removed)
    }

    /// Counts by scanning the tree (sled keeps no count), so it costs O(sessions).
    fn count(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for_each_chunk(&self.tree, |_, _| {
            count += 1;
            Ok(())
        })?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_and_counts_cross_scan_chunks() {
        let db = Database::temporary().expect("db");
        let store = SledSessionStore::new(&db).expect("store");
        let total = 2 * SCAN_CHUNK + 7;
        for i in 0..total {
            let key = SessionKey::new("web", &format!("{i:05}")).expect("key");
            let session = StoredSession {
                updated_at: Timestamp(if i % 2 == 0 { 1 } else { 100 }),
                data: Vec::new(),
            };
            store.save(&key, &session).expect("save");
        }
        assert_eq!(store.count().expect("count"), total);
        assert_eq!(
            store.remove_idle(Timestamp(50)).expect("sweep"),
            total.div_ceil(2)
        );
        assert_eq!(store.count().expect("count"), total / 2);
    }

    #[test]
    fn a_record_too_short_for_its_timestamp_is_reported_corrupt_for_that_key_only() {
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
        store.save(&fine, &session).expect("save");

        match store.load(&broken) {
            Err(StoreError::Corrupt { key }) => assert_eq!(key, "web:broken"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(store.load(&fine).expect("load"), Some(session));
    }

    #[test]
    fn the_idle_sweep_removes_corrupt_records_and_keeps_fresh_ones() {
        let db = Database::temporary().expect("db");
        let store = SledSessionStore::new(&db).expect("store");
        let fresh = SessionKey::new("web", "fresh").expect("key");
        db.tree(TREE)
            .expect("tree")
            .insert("web:broken", &[7u8][..])
            .expect("insert");
        store
            .save(
                &fresh,
                &StoredSession {
                    updated_at: Timestamp(100),
                    data: Vec::new(),
                },
            )
            .expect("save");

        assert_eq!(store.remove_idle(Timestamp(50)).expect("sweep"), 1);
        assert_eq!(store.count().expect("count"), 1);
        assert!(store.load(&fresh).expect("load").is_some());
    }
}
