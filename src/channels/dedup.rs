//! The platform delivery ids already processed (`telegram:<update_id>`, `whatsapp:<message
//! id>`, `line:<webhookEventId>`), kept in sled so a redelivery is processed once, even after a
//! restart. Entries expire after `RETENTION`; a time index lets the sweep read only what expired.

use crate::clock::{Clock, SystemClock, Timestamp};
use crate::db::{Database, DbError};
use std::time::Duration;

/// How long a delivery id is remembered: WhatsApp redelivers an unacknowledged notification
/// for up to 7 days, longer than Telegram (24 h) and LINE, so 7 days covers them all.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How often expired ids are deleted.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10 * 60);

const SEEN_TREE: &str = "channel_seen";
const BY_TIME_TREE: &str = "channel_seen_by_time";

/// The processed delivery ids. Cloning shares the trees.
#[derive(Debug, Clone)]
pub struct Dedup {
    /// id → when it was processed (unix ms, big-endian).
    pub(super) seen: sled::Tree,
    /// when (big-endian) + id → nothing: the order in which ids expire.
    pub(super) by_time: sled::Tree,
}

impl Dedup {
    pub fn new(db: &Database) -> Result<Dedup, DbError> {
        Ok(Dedup {
            seen: db.tree(SEEN_TREE)?,
            by_time: db.tree(BY_TIME_TREE)?,
        })
    }

    /// Whether `id` was processed within `RETENTION` before `now`.
    pub fn contains(&self, id: &str, now: Timestamp) -> Result<bool, DbError> {
        Ok(match self.seen.get(id.as_bytes())? {
            Some(at) => decode_time(&at).is_none_or(|at| now.since(at) < RETENTION),
            None => false,
        })
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Deletes the ids processed more than `RETENTION` before `now`; returns how many.
    pub fn sweep(&self, now: Timestamp) -> Result<usize, DbError> {
        let cutoff = Timestamp(now.0.saturating_sub(RETENTION.as_millis() as u64));
        let mut removed = 0;
        for entry in self.by_time.range(..cutoff.0.to_be_bytes().to_vec()) {
            let (key, _) = entry?;
            let id = &key[8..];
            // A newer mark of the same id (processed again after expiring) is kept.
            if let Some(at) = self.seen.get(id)?
                && decode_time(&at).is_none_or(|at| at < cutoff)
            {
                self.seen.remove(id)?;
            }
            self.by_time.remove(&key)?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// The by-time key of `id` marked at `at`.
pub(super) fn time_key(at: Timestamp, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.len());
    key.extend_from_slice(&at.0.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

fn decode_time(bytes: &[u8]) -> Option<Timestamp> {
    Some(Timestamp(u64::from_be_bytes(bytes.try_into().ok()?)))
}

/// Sweeps every `SWEEP_INTERVAL` (the first right away) until the task is aborted.
pub(super) async fn sweep_forever(dedup: Dedup) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        interval.tick().await;
        let dedup = dedup.clone();
        match tokio::task::spawn_blocking(move || dedup.sweep(SystemClock.now())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!(removed, "expired delivery ids deleted"),
            Ok(Err(error)) => tracing::warn!(%error, "sweeping delivery ids failed"),
            Err(error) => tracing::warn!(%error, "delivery id sweep task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(dedup: &Dedup, id: &str, at: Timestamp) {
        dedup.seen.insert(id, &at.0.to_be_bytes()).unwrap();
        dedup.by_time.insert(time_key(at, id), &[]).unwrap();
    }

    #[test]
    fn an_id_is_remembered_until_it_expires_and_the_sweep_deletes_it() {
        let db = Database::temporary().unwrap();
        let dedup = Dedup::new(&db).unwrap();
        let start = Timestamp(1_000_000);
        assert!(!dedup.contains("telegram:1", start).unwrap());
        mark(&dedup, "telegram:1", start);
        mark(&dedup, "telegram:2", start.plus(Duration::from_secs(3600)));
        assert!(dedup.contains("telegram:1", start).unwrap());
        let later = start.plus(RETENTION);
        assert!(!dedup.contains("telegram:1", later).unwrap(), "expired");
        assert!(dedup.contains("telegram:2", later).unwrap());
        assert_eq!(
            dedup.sweep(later).unwrap(),
            0,
            "exactly at the cutoff is kept"
        );
        assert_eq!(
            dedup.sweep(later.plus(Duration::from_millis(1))).unwrap(),
            1
        );
        assert_eq!(dedup.len(), 1);
        assert!(dedup.contains("telegram:2", later).unwrap());
    }

    #[test]
    fn a_sweep_keeps_an_id_marked_again_later() {
        let db = Database::temporary().unwrap();
        let dedup = Dedup::new(&db).unwrap();
        let start = Timestamp(1_000_000);
        mark(&dedup, "line:a", start);
        let again = start.plus(RETENTION).plus(Duration::from_secs(1));
        mark(&dedup, "line:a", again);
        dedup.sweep(again).unwrap();
        assert!(dedup.contains("line:a", again).unwrap());
    }
}
