//! The demo code outbox in sled, kept across restarts, with a time index for the sweep.

use sled::Transactional;
use sled::transaction::TransactionError;

use super::Database;
use crate::clock::Timestamp;
use crate::outbox::{CodeSender, DemoOutbox, OutboundCode, OutboxEntry, OutboxError};
use crate::store::SessionKey;

const TREE: &str = "outbox";
/// The same entries by time: `at` then the entry's id (both big-endian) → the entry's key, so
/// the sweep reads only what it removes.
const BY_TIME_TREE: &str = "outbox_by_time";

/// The outbox in sled, kept across restarts. Keys are the session key, a NUL byte (which a
/// session key never contains) and a big-endian id from the database, so a prefix scan
/// returns one session's entries in the order they were sent.
#[derive(Debug, Clone)]
pub struct SledOutbox {
    db: Database,
    tree: sled::Tree,
    by_time: sled::Tree,
}

impl SledOutbox {
    /// The outbox in `db`. Entries written before the time index existed are indexed once.
    pub fn new(db: &Database) -> Result<SledOutbox, OutboxError> {
        let outbox = SledOutbox {
            db: db.clone(),
            tree: db.tree(TREE)?,
            by_time: db.tree(BY_TIME_TREE)?,
        };
        if outbox.by_time.is_empty() {
            for item in &outbox.tree {
                let (key, value) = item?;
                let at = serde_json::from_slice::<OutboxEntry>(&value).map_or(0, |e| e.at.0);
                outbox.by_time.insert(time_key(at, &key), key)?;
            }
        }
        Ok(outbox)
    }
}

/// The time index's key of the entry stored under `entry_key` (whose last 8 bytes are its id).
fn time_key(at: u64, entry_key: &[u8]) -> Vec<u8> {
    let id = &entry_key[entry_key.len().saturating_sub(8)..];
    let mut key = Vec::with_capacity(16);
    key.extend_from_slice(&at.to_be_bytes());
    key.extend_from_slice(id);
    key
}

fn prefix(session: &SessionKey) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(session.as_str().len() + 1 + 8);
    prefix.extend_from_slice(session.as_str().as_bytes());
    prefix.push(0);
    prefix
}

#[async_trait::async_trait]
impl CodeSender for SledOutbox {
    async fn send(
        &self,
        session: &SessionKey,
        message: OutboundCode,
        at: Timestamp,
    ) -> Result<(), OutboxError> {
        let value = OutboxEntry::encode(message, at)?;
        let mut key = prefix(session);
        key.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        let indexed = time_key(at.0, &key);
        (&self.tree, &self.by_time)
            .transaction(|(tree, by_time)| {
                tree.insert(key.as_slice(), value.as_slice())?;
                by_time.insert(indexed.as_slice(), key.as_slice())?;
                Ok(())
            })
            .map_err(|error: TransactionError<()>| match error {
                TransactionError::Storage(error) => OutboxError::from(error),
                TransactionError::Abort(()) => unreachable!("the transaction never aborts"),
            })?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl DemoOutbox for SledOutbox {
    async fn entries(&self, session: &SessionKey) -> Result<Vec<OutboxEntry>, OutboxError> {
        self.tree
            .scan_prefix(prefix(session))
            .map(|item| {
                let (_, value) = item?;
                OutboxEntry::decode(session, &value)
            })
            .collect()
    }

    async fn remove_sent_before(&self, cutoff: Timestamp) -> Result<usize, OutboxError> {
        let this = self.clone();
        super::off_the_executor(move || {
            let mut removed = 0;
            for item in this.by_time.range(..cutoff.0.to_be_bytes().to_vec()) {
                let (indexed, key) = item?;
                // Two single removes: a crash between them leaves an index entry whose entry is
                // gone, which the next sweep removes again harmlessly.
                if this.tree.remove(&key)?.is_some() {
                    removed += 1;
                }
                this.by_time.remove(indexed)?;
            }
            Ok(removed)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::tests::{contract, key, sms};

    #[tokio::test]
    async fn the_sled_outbox_meets_the_outbox_contract() {
        let db = Database::temporary().expect("db");
        contract(&SledOutbox::new(&db).expect("outbox")).await;
    }

    #[tokio::test]
    async fn the_sled_outbox_survives_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let db = Database::open(dir.path()).expect("open");
            let outbox = SledOutbox::new(&db).expect("outbox");
            outbox
                .send(&key("a"), sms("111111"), Timestamp(1))
                .await
                .expect("send");
        }
        let db = Database::reopen(dir.path());
        let outbox = SledOutbox::new(&db).expect("outbox");
        outbox
            .send(&key("a"), sms("222222"), Timestamp(2))
            .await
            .expect("send");
        let codes: Vec<String> = outbox
            .entries(&key("a"))
            .await
            .expect("entries")
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, ["111111", "222222"]);
    }

    #[tokio::test]
    async fn a_corrupt_stored_entry_is_an_error_not_a_panic() {
        let db = Database::temporary().expect("db");
        let outbox = SledOutbox::new(&db).expect("outbox");
        let mut stored_key = prefix(&key("a"));
        stored_key.extend_from_slice(&1u64.to_be_bytes());
        db.tree(TREE)
            .expect("tree")
            .insert(stored_key, &b"not json"[..])
            .expect("insert");
        assert!(matches!(
            outbox.entries(&key("a")).await,
            Err(OutboxError::Corrupt { .. })
        ));
    }
}
