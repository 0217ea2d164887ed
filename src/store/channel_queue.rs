//! The messaging channels' state at rest: the platform delivery ids already processed (so a
//! redelivery is processed once) and the queue of platform API calls still to be sent.

use crate::clock::Timestamp;
use crate::store::{DbError, SessionKey};

/// Where a queued call is stored; only the store that handed it out understands it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueuedKey(pub(crate) Vec<u8>);

/// A queued call: the session it answers and the channels' encoding of it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub key: QueuedKey,
    pub item: Vec<u8>,
}

/// The seen-ids and the call queue of the channels. Writes become durable through the
/// backend's `Durability`.
#[async_trait::async_trait]
pub trait ChannelQueue: Send + Sync {
    /// Whether `id` was marked as processed after `cutoff` (a record that cannot be read
    /// counts as processed: processing a delivery twice is the worse mistake).
    async fn seen_after(&self, id: &str, cutoff: Timestamp) -> Result<bool, DbError>;
    /// Queues `items` for `session` after its earlier calls and marks `seen_id` as
    /// processed at `now`, all or nothing.
    async fn enqueue(
        &self,
        session: &SessionKey,
        items: &[Vec<u8>],
        seen_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), DbError>;
    /// The first queued call of every session.
    async fn heads(&self) -> Result<Vec<Queued>, DbError>;
    /// Replaces a queued call (its attempts and backoff changed).
    async fn replace(&self, key: &QueuedKey, item: &[u8]) -> Result<(), DbError>;
    /// Removes a call that was delivered or given up.
    async fn remove(&self, key: &QueuedKey) -> Result<(), DbError>;
    /// How many calls are queued.
    async fn pending(&self) -> usize;
    /// How many delivery ids are remembered.
    async fn seen_count(&self) -> usize;
    /// Forgets the ids processed before `cutoff` (an id marked again later is kept);
    /// returns how many marks were removed.
    async fn forget_seen_before(&self, cutoff: Timestamp) -> Result<usize, DbError>;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn key(id: &str) -> SessionKey {
        SessionKey::new("telegram", id).expect("key")
    }

    /// What every `ChannelQueue` must do.
    pub(crate) async fn contract(queue: &dyn ChannelQueue) {
        let start = Timestamp(1_000_000);
        assert!(
            !queue
                .seen_after("telegram:1", Timestamp(0))
                .await
                .expect("seen")
        );
        queue
            .enqueue(
                &key("a"),
                &[b"a1".to_vec(), b"a2".to_vec()],
                Some("telegram:1"),
                start,
            )
            .await
            .expect("enqueue");
        queue
            .enqueue(&key("b"), &[b"b1".to_vec()], None, start)
            .await
            .expect("enqueue");
        assert!(
            queue
                .seen_after("telegram:1", Timestamp(start.0 - 1))
                .await
                .expect("seen")
        );
        assert!(
            !queue.seen_after("telegram:1", start).await.expect("seen"),
            "marked at the cutoff is not after it"
        );
        assert_eq!(queue.pending().await, 3);
        assert_eq!(queue.seen_count().await, 1);

        let heads = queue.heads().await.expect("heads");
        let mut items: Vec<&[u8]> = heads.iter().map(|q| q.item.as_slice()).collect();
        items.sort();
        assert_eq!(
            items,
            [b"a1".as_slice(), b"b1"],
            "one head per session, in order"
        );

        let a1 = heads
            .iter()
            .find(|q| q.item == b"a1")
            .expect("a1")
            .key
            .clone();
        queue.replace(&a1, b"a1-retried").await.expect("replace");
        assert!(
            queue
                .heads()
                .await
                .expect("heads")
                .iter()
                .any(|q| q.item == b"a1-retried")
        );
        queue.remove(&a1).await.expect("remove");
        assert!(
            queue
                .heads()
                .await
                .expect("heads")
                .iter()
                .any(|q| q.item == b"a2")
        );
        assert_eq!(queue.pending().await, 2);

        // Marked again later: the sweep of the first mark keeps it.
        let later = Timestamp(start.0 + 10_000);
        queue
            .enqueue(&key("a"), &[], Some("telegram:1"), later)
            .await
            .expect("mark again");
        queue
            .enqueue(&key("c"), &[], Some("telegram:2"), start)
            .await
            .expect("mark");
        assert_eq!(
            queue
                .forget_seen_before(Timestamp(start.0 + 1))
                .await
                .expect("sweep"),
            2
        );
        assert!(queue.seen_after("telegram:1", start).await.expect("seen"));
        assert!(
            !queue
                .seen_after("telegram:2", Timestamp(0))
                .await
                .expect("seen")
        );
        assert_eq!(queue.seen_count().await, 1);
    }
}
