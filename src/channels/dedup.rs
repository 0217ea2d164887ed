//! The platform delivery ids already processed (`telegram:<update_id>`, `whatsapp:<message
//! id>`, `line:<webhookEventId>`), kept by the backend so a redelivery is processed once, even
//! after a restart. Entries expire after `RETENTION`.

use crate::clock::{Clock, Timestamp};
use crate::store::DbError;
use crate::store::channel_queue::{ChannelQueue, DeliveryClaim};
use std::sync::Arc;
use std::time::Duration;

/// How long a delivery id is remembered: WhatsApp redelivers an unacknowledged notification
/// for up to 7 days, longer than Telegram (24 h) and LINE, so 7 days covers them all.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How often expired ids are deleted.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// The processed delivery ids, as the backend's channel queue keeps them. Cloning shares it.
#[derive(Clone)]
pub struct Dedup {
    queue: Arc<dyn ChannelQueue>,
}

impl Dedup {
    pub fn new(queue: Arc<dyn ChannelQueue>) -> Dedup {
        Dedup { queue }
    }

    /// Claims delivery `id` for processing at `now`: `Duplicate` when it was processed within
    /// `RETENTION`, `Busy` while another instance processes it.
    pub async fn claim(&self, id: &str, now: Timestamp) -> Result<DeliveryClaim, DbError> {
        self.queue.claim_delivery(id, now, expiry(now)).await
    }

    /// Gives back a claim whose processing failed, so the platform's redelivery runs.
    pub async fn release(&self, id: &str) -> Result<(), DbError> {
        self.queue.release_delivery(id).await
    }

    /// How many ids are remembered.
    pub async fn remembered(&self) -> usize {
        self.queue.seen_count().await
    }

    /// Deletes the ids processed more than `RETENTION` before `now`; returns how many.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, DbError> {
        self.queue.forget_seen_before(expiry(now)).await
    }
}

/// Ids processed at or before this moment have expired at `now`.
fn expiry(now: Timestamp) -> Timestamp {
    Timestamp(now.0.saturating_sub(RETENTION.as_millis() as u64))
}

/// Sweeps every `SWEEP_INTERVAL` (the first right away) until the task is aborted.
pub(super) async fn sweep_forever(dedup: Dedup, clock: Arc<dyn Clock>) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        interval.tick().await;
        match dedup.sweep(clock.now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired delivery ids deleted"),
            Err(error) => tracing::warn!(%error, "sweeping delivery ids failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn processed(dedup: &Dedup, id: &str, now: Timestamp) -> bool {
        let claim = dedup.claim(id, now).await.unwrap();
        if claim == DeliveryClaim::Fresh {
            dedup.release(id).await.unwrap();
        }
        claim == DeliveryClaim::Duplicate
    }

    async fn mark(dedup: &Dedup, id: &str, at: Timestamp) {
        let session = crate::store::SessionKey::new("telegram", "1").unwrap();
        dedup
            .queue
            .enqueue(&session, &[], Some(id), at)
            .await
            .unwrap();
    }

    fn dedup() -> Dedup {
        Dedup::new(crate::store::temporary().unwrap().channel_queue)
    }

    #[tokio::test]
    async fn an_id_is_remembered_until_it_expires_and_the_sweep_deletes_it() {
        let dedup = dedup();
        let start = Timestamp(1_000_000);
        assert!(!processed(&dedup, "telegram:1", start).await);
        mark(&dedup, "telegram:1", start).await;
        mark(&dedup, "telegram:2", start.plus(Duration::from_secs(3600))).await;
        assert!(processed(&dedup, "telegram:1", start).await);
        let later = start.plus(RETENTION);
        assert!(!processed(&dedup, "telegram:1", later).await, "expired");
        assert!(processed(&dedup, "telegram:2", later).await);
        assert_eq!(
            dedup.sweep(later).await.unwrap(),
            0,
            "exactly at the cutoff is kept"
        );
        assert_eq!(
            dedup
                .sweep(later.plus(Duration::from_millis(1)))
                .await
                .unwrap(),
            1
        );
        assert_eq!(dedup.remembered().await, 1);
        assert!(processed(&dedup, "telegram:2", later).await);
    }

    #[tokio::test]
    async fn a_sweep_keeps_an_id_marked_again_later() {
        let dedup = dedup();
        let start = Timestamp(1_000_000);
        mark(&dedup, "line:a", start).await;
        let again = start.plus(RETENTION).plus(Duration::from_secs(1));
        mark(&dedup, "line:a", again).await;
        dedup.sweep(again).await.unwrap();
        assert!(processed(&dedup, "line:a", again).await);
    }
}
