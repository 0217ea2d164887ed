//! The messaging channels' state at rest: the platform delivery ids already processed (so a
//! redelivery is processed once) and the queue of platform API calls still to be sent.

use std::time::Duration;

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

/// How long a claim on a delivery id keeps other instances off it: far longer than one
/// webhook takes to process (the HTTP timeout is 10 s), short enough that a redelivery of
/// an instance's last message before it died is processed by another within a minute.
pub const DELIVERY_CLAIM: Duration = Duration::from_secs(60);
/// How long a call handed out by `claim_heads` is the claiming instance's to send: above the
/// longest platform call with its timeout, so another instance takes it over only when the
/// first one stopped.
pub const CALL_LEASE: Duration = Duration::from_secs(60);

/// Whether a platform delivery is this instance's to process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// Not seen before: claimed for `DELIVERY_CLAIM`; `enqueue` marks it done, or
    /// `release_delivery` gives it back when processing fails.
    Fresh,
    /// Already processed: acknowledge it and do nothing.
    Duplicate,
    /// Being processed right now (by another instance): the platform should redeliver later.
    Busy,
}

/// The seen-ids and the call queue of the channels. Writes become durable through the
/// backend's `Durability`.
#[async_trait::async_trait]
pub trait ChannelQueue: Send + Sync {
    /// Claims delivery `id` at `now`, unless it was marked processed after `cutoff` or
    /// another claim on it is still running (a record that cannot be read counts as
    /// processed: processing a delivery twice is the worse mistake).
    async fn claim_delivery(
        &self,
        id: &str,
        now: Timestamp,
        cutoff: Timestamp,
    ) -> Result<DeliveryClaim, DbError>;
    /// Gives back the claim on `id` (processing failed; the redelivery should run).
    async fn release_delivery(&self, id: &str) -> Result<(), DbError>;
    /// Queues `items` for `session` after its earlier calls and marks `seen_id` as
    /// processed at `now`, all or nothing.
    async fn enqueue(
        &self,
        session: &SessionKey,
        items: &[Vec<u8>],
        seen_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), DbError>;
    /// The first queued call of every session that no other instance is sending, leased to
    /// this one for `CALL_LEASE` from `now` (a store used by one process only hands out
    /// every first call: its worker knows what it is sending).
    async fn claim_heads(&self, now: Timestamp) -> Result<Vec<Queued>, DbError>;
    /// Replaces a queued call (its attempts and backoff changed), renewing its lease.
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
        let claim = |id: &'static str, now: Timestamp, cutoff: Timestamp| async move {
            queue.claim_delivery(id, now, cutoff).await.expect("claim")
        };
        assert_eq!(
            claim("telegram:1", start, Timestamp(0)).await,
            DeliveryClaim::Fresh
        );
        assert_eq!(
            claim("telegram:1", start, Timestamp(0)).await,
            DeliveryClaim::Busy,
            "claimed and not yet processed"
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
        assert_eq!(
            claim("telegram:1", start, Timestamp(start.0 - 1)).await,
            DeliveryClaim::Duplicate
        );

        assert_eq!(queue.pending().await, 3);
        assert_eq!(queue.seen_count().await, 1);

        // A claim given back, or run out, lets the next claim in.
        assert_eq!(
            claim("line:x", start, Timestamp(0)).await,
            DeliveryClaim::Fresh
        );
        queue.release_delivery("line:x").await.expect("release");
        assert_eq!(
            claim("line:x", start, Timestamp(0)).await,
            DeliveryClaim::Fresh
        );
        let claim_ended = Timestamp(start.0 + DELIVERY_CLAIM.as_millis() as u64 + 1);
        assert_eq!(
            claim("line:x", claim_ended, Timestamp(0)).await,
            DeliveryClaim::Fresh
        );
        queue.release_delivery("line:x").await.expect("release");

        let heads = queue.claim_heads(start).await.expect("heads");
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
                .claim_heads(start)
                .await
                .expect("heads")
                .iter()
                .any(|q| q.item == b"a1-retried"),
            "the claiming instance gets its own calls again"
        );
        queue.remove(&a1).await.expect("remove");
        assert!(
            queue
                .claim_heads(start)
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
            1,
            "only telegram:2: telegram:1 was marked again later"
        );
        assert_eq!(
            claim("telegram:1", later, start).await,
            DeliveryClaim::Duplicate
        );
        assert_eq!(
            claim("telegram:1", later, later).await,
            DeliveryClaim::Fresh,
            "marked at the cutoff is not after it"
        );
        assert_eq!(
            claim("telegram:2", later, Timestamp(0)).await,
            DeliveryClaim::Fresh
        );
    }
}
