//! The channels' delivery ids and call queue in PostgreSQL, for several instances: a
//! delivery is claimed by one instance before it is processed ("channel_deliveries"), and
//! each session's first queued call is leased to one instance at a time ("channel_calls",
//! `FOR UPDATE SKIP LOCKED`), so no call is sent twice and a call whose sender died is sent
//! by another instance once the lease runs out.

use deadpool_postgres::Pool;

use super::{bigint, connection, unsigned};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::store::channel_queue::{
    CALL_LEASE, ChannelQueue, DELIVERY_CLAIM, DeliveryClaim, Queued, QueuedKey,
};
use crate::store::{DbError, SessionKey};

/// The channels' state in PostgreSQL, as one instance sees it.
pub struct PgChannelQueue {
    pool: Pool,
    /// This instance's name on the leases it holds (random per start: an instance that
    /// restarts does not take its old leases back before they run out).
    instance: String,
}

impl PgChannelQueue {
    pub(super) fn new(pool: Pool) -> PgChannelQueue {
        PgChannelQueue {
            pool,
            instance: hex::encode(rand::random::<[u8; 16]>()),
        }
    }
}

/// A queued call's key: its row id.
fn queued_key(id: i64) -> QueuedKey {
    QueuedKey(id.to_be_bytes().to_vec())
}

fn row_id(key: &QueuedKey) -> Result<i64, DbError> {
    Ok(i64::from_be_bytes(key.0.as_slice().try_into().map_err(
        |_| DbError::Corrupt {
            what: "queued call key",
        },
    )?))
}

#[async_trait::async_trait]
impl ChannelQueue for PgChannelQueue {
    async fn claim_delivery(
        &self,
        id: &str,
        now: Timestamp,
        cutoff: Timestamp,
    ) -> Result<DeliveryClaim, DbError> {
        let client = connection(&self.pool).await?;
        // One statement: a new id is claimed; an old one is claimed again only when its mark
        // expired or its claim ran out. Of two instances at once, one inserts or updates and
        // the other, after waiting for that row, finds nothing to change.
        let claim = client
            .prepare_cached(
                "INSERT INTO channel_deliveries (id, marked_at, done, claimed_until) \
                 VALUES ($1, $2, false, $3) \
                 ON CONFLICT (id) DO UPDATE \
                 SET marked_at = excluded.marked_at, done = false, \
                     claimed_until = excluded.claimed_until \
                 WHERE (channel_deliveries.done AND channel_deliveries.marked_at <= $4) \
                    OR (NOT channel_deliveries.done AND channel_deliveries.claimed_until <= $2) \
                 RETURNING id",
            )
            .await?;
        let claimed = client
            .query_opt(
                &claim,
                &[
                    &id,
                    &bigint(now.0),
                    &bigint(now.plus(DELIVERY_CLAIM).0),
                    &bigint(cutoff.0),
                ],
            )
            .await?;
        if claimed.is_some() {
            return Ok(DeliveryClaim::Fresh);
        }
        let done: Option<bool> = client
            .query_opt("SELECT done FROM channel_deliveries WHERE id = $1", &[&id])
            .await?
            .map(|row| row.get(0));
        Ok(match done {
            Some(false) => DeliveryClaim::Busy,
            // Done, or gone again since (swept): either way not this instance's to process.
            Some(true) | None => DeliveryClaim::Duplicate,
        })
    }

    async fn release_delivery(&self, id: &str) -> Result<(), DbError> {
        let client = connection(&self.pool).await?;
        client
            .execute(
                "DELETE FROM channel_deliveries WHERE id = $1 AND NOT done",
                &[&id],
            )
            .await?;
        Ok(())
    }

    async fn enqueue(
        &self,
        session: &SessionKey,
        items: &[Vec<u8>],
        seen_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), DbError> {
        let client = connection(&self.pool).await?;
        // One statement, so the calls and the mark are written together or not at all.
        let enqueue = client
            .prepare_cached(
                "WITH calls AS (INSERT INTO channel_calls (session, item) \
                     SELECT $1, item FROM unnest($2::bytea[]) WITH ORDINALITY AS c (item, n) \
                     ORDER BY n) \
                 INSERT INTO channel_deliveries (id, marked_at, done, claimed_until) \
                 SELECT $3, $4, true, 0 WHERE $3::text IS NOT NULL \
                 ON CONFLICT (id) DO UPDATE \
                 SET marked_at = excluded.marked_at, done = true, claimed_until = 0",
            )
            .await?;
        client
            .execute(
                &enqueue,
                &[&session.as_str(), &items, &seen_id, &bigint(now.0)],
            )
            .await?;
        Ok(())
    }

    async fn claim_heads(&self, now: Timestamp) -> Result<Vec<Queued>, DbError> {
        let client = connection(&self.pool).await?;
        let claim = client
            .prepare_cached(
                "UPDATE channel_calls SET leased_by = $1, lease_until = $2 \
                 WHERE id IN ( \
                     SELECT c.id FROM channel_calls c \
                     WHERE c.id IN (SELECT min(id) FROM channel_calls GROUP BY session) \
                       AND (c.leased_by = $1 OR c.lease_until <= $3) \
                     FOR UPDATE SKIP LOCKED) \
                 RETURNING id, item",
            )
            .await?;
        let rows = client
            .query(
                &claim,
                &[
                    &self.instance,
                    &bigint(now.plus(CALL_LEASE).0),
                    &bigint(now.0),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| Queued {
                key: queued_key(row.get(0)),
                item: row.get(1),
            })
            .collect())
    }

    async fn replace(&self, key: &QueuedKey, item: &[u8]) -> Result<(), DbError> {
        let client = connection(&self.pool).await?;
        let lease_until = SystemClock.now().plus(CALL_LEASE);
        client
            .execute(
                "UPDATE channel_calls SET item = $2, lease_until = $3 \
                 WHERE id = $1 AND leased_by = $4",
                &[&row_id(key)?, &item, &bigint(lease_until.0), &self.instance],
            )
            .await?;
        Ok(())
    }

    async fn remove(&self, key: &QueuedKey) -> Result<(), DbError> {
        let client = connection(&self.pool).await?;
        client
            .execute("DELETE FROM channel_calls WHERE id = $1", &[&row_id(key)?])
            .await?;
        Ok(())
    }

    async fn pending(&self) -> usize {
        count(&self.pool, "SELECT count(*) FROM channel_calls").await
    }

    async fn seen_count(&self) -> usize {
        count(&self.pool, "SELECT count(*) FROM channel_deliveries").await
    }

    async fn forget_seen_before(&self, cutoff: Timestamp) -> Result<usize, DbError> {
        let client = connection(&self.pool).await?;
        let removed = client
            .execute(
                // Claims whose instance died before finishing go too, long after they ran
                // out (a redelivery since then claimed them afresh anyway).
                "DELETE FROM channel_deliveries \
                 WHERE (done AND marked_at < $1) OR (NOT done AND claimed_until < $1)",
                &[&bigint(cutoff.0)],
            )
            .await?;
        Ok(removed as usize)
    }
}

/// A count for the metrics; 0 (and a warning) when the database cannot say.
async fn count(pool: &Pool, query: &str) -> usize {
    let counted = async {
        let client = connection(pool).await?;
        let row = client.query_one(query, &[]).await?;
        Ok::<_, DbError>(unsigned(row.get(0)) as usize)
    };
    counted.await.unwrap_or_else(|error| {
        tracing::warn!(%error, "counting the channel queue failed");
        0
    })
}
