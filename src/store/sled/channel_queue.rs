//! The channels' seen-ids and call queue in sled. Calls are keyed by the session key, a NUL
//! byte and an increasing id, so one session's calls are contiguous and in order; seen-ids
//! have a time index so the sweep reads only what expired. A sled database belongs to one
//! process, so claims on deliveries in progress live in that process's memory: a claim lost
//! in a crash is a claim run out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::Database;
use crate::clock::Timestamp;
use crate::store::channel_queue::{ChannelQueue, DELIVERY_CLAIM, DeliveryClaim, Queued, QueuedKey};
use crate::store::{DbError, SessionKey};

const QUEUE_TREE: &str = "channel_outbox";
const SEEN_TREE: &str = "channel_seen";
const SEEN_BY_TIME_TREE: &str = "channel_seen_by_time";

/// The channels' state in one sled database. Cloning shares the trees.
#[derive(Debug, Clone)]
pub struct SledChannelQueue {
    db: Database,
    queue: sled::Tree,
    /// id → when it was processed (unix ms, big-endian).
    seen: sled::Tree,
    /// when (big-endian) + id → nothing: the order in which ids expire.
    seen_by_time: sled::Tree,
    /// Deliveries being processed: id → when the claim runs out.
    claims: Arc<Mutex<HashMap<String, Timestamp>>>,
}

impl SledChannelQueue {
    pub fn new(db: &Database) -> Result<SledChannelQueue, DbError> {
        Ok(SledChannelQueue {
            db: db.clone(),
            queue: db.tree(QUEUE_TREE)?,
            seen: db.tree(SEEN_TREE)?,
            seen_by_time: db.tree(SEEN_BY_TIME_TREE)?,
            claims: Arc::default(),
        })
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<String, Timestamp>> {
        // One insert or remove per operation: whole even after a panic.
        self.claims.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl ChannelQueue for SledChannelQueue {
    async fn claim_delivery(
        &self,
        id: &str,
        now: Timestamp,
        cutoff: Timestamp,
    ) -> Result<DeliveryClaim, DbError> {
        if let Some(at) = self.seen.get(id.as_bytes())?
            && decode_time(&at).is_none_or(|at| at > cutoff)
        {
            return Ok(DeliveryClaim::Duplicate);
        }
        let mut claims = self.claims();
        if claims.get(id).is_some_and(|until| *until > now) {
            return Ok(DeliveryClaim::Busy);
        }
        claims.insert(id.to_string(), now.plus(DELIVERY_CLAIM));
        Ok(DeliveryClaim::Fresh)
    }

    async fn release_delivery(&self, id: &str) -> Result<(), DbError> {
        self.claims().remove(id);
        Ok(())
    }

    async fn enqueue(
        &self,
        session: &SessionKey,
        items: &[Vec<u8>],
        seen_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), DbError> {
        let mut keyed = Vec::with_capacity(items.len());
        for item in items {
            keyed.push((item_key(session.as_str(), self.db.generate_id()?), item));
        }
        let written =
            (&self.queue, &self.seen, &self.seen_by_time).transaction(|(queue, seen, by_time)| {
                for (key, item) in &keyed {
                    queue.insert(key.as_slice(), item.as_slice())?;
                }
                if let Some(id) = seen_id {
                    seen.insert(id.as_bytes(), &now.0.to_be_bytes())?;
                    by_time.insert(time_key(now, id), &[])?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        written.map_err(|error| match error {
            TransactionError::Storage(error) => DbError::from(error),
            TransactionError::Abort(()) => unreachable!("the transaction never aborts"),
        })?;
        if let Some(id) = seen_id {
            self.claims().remove(id);
        }
        Ok(())
    }

    async fn claim_heads(&self, _now: Timestamp) -> Result<Vec<Queued>, DbError> {
        let mut heads = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        while let Some(entry) = self.queue.range(from.as_slice()..).next() {
            let (key, value) = entry?;
            let session_len = key.iter().position(|&b| b == 0).unwrap_or(key.len());
            // Session keys hold no control characters, so `session + 0x01` sorts after all of
            // this session's `session + 0x00 + id` keys and before any other session's.
            from = key[..session_len].to_vec();
            from.push(1);
            heads.push(Queued {
                key: QueuedKey(key.to_vec()),
                item: value.to_vec(),
            });
        }
        Ok(heads)
    }

    async fn replace(&self, key: &QueuedKey, item: &[u8]) -> Result<(), DbError> {
        self.queue.insert(key.0.as_slice(), item)?;
        Ok(())
    }

    async fn remove(&self, key: &QueuedKey) -> Result<(), DbError> {
        self.queue.remove(key.0.as_slice())?;
        Ok(())
    }

    async fn pending(&self) -> usize {
        self.queue.len()
    }

    async fn seen_count(&self) -> usize {
        self.seen.len()
    }

    async fn forget_seen_before(&self, cutoff: Timestamp) -> Result<usize, DbError> {
        // Claims of deliveries whose processing never ended (a task that died), long run out.
        self.claims().retain(|_, until| *until >= cutoff);
        let this = self.clone();
        super::off_the_executor(move || {
            let mut removed = 0;
            for entry in this.seen_by_time.range(..cutoff.0.to_be_bytes().to_vec()) {
                let (key, _) = entry?;
                let id = &key[8..];
                // A newer mark of the same id (processed again after expiring) is kept.
                if let Some(at) = this.seen.get(id)?
                    && decode_time(&at).is_none_or(|at| at < cutoff)
                    && this.seen.remove(id)?.is_some()
                {
                    removed += 1;
                }
                this.seen_by_time.remove(&key)?;
            }
            Ok(removed)
        })
        .await
    }
}

fn item_key(session: &str, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(session.len() + 9);
    key.extend_from_slice(session.as_bytes());
    key.push(0);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The by-time key of `id` marked at `at`.
fn time_key(at: Timestamp, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.len());
    key.extend_from_slice(&at.0.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

fn decode_time(bytes: &[u8]) -> Option<Timestamp> {
    Some(Timestamp(u64::from_be_bytes(bytes.try_into().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sled_queue_meets_the_channel_queue_contract() {
        let db = Database::temporary().expect("db");
        crate::store::channel_queue::tests::contract(&SledChannelQueue::new(&db).expect("queue"))
            .await;
    }
}
