//! The demo code outbox in PostgreSQL ("demo_codes"): what the demo "SMS" and "e-mail"
//! carried, readable by every instance.

use deadpool_postgres::Pool;

use super::{bigint, connection};
use crate::clock::Timestamp;
use crate::outbox::{CodeSender, DemoOutbox, OutboundCode, OutboxEntry, OutboxError};
use crate::store::SessionKey;

/// The demo outbox in PostgreSQL.
pub struct PgOutbox {
    pool: Pool,
}

impl PgOutbox {
    pub(super) fn new(pool: Pool) -> PgOutbox {
        PgOutbox { pool }
    }
}

#[async_trait::async_trait]
impl CodeSender for PgOutbox {
    async fn send(
        &self,
        session: &SessionKey,
        message: OutboundCode,
        at: Timestamp,
    ) -> Result<(), OutboxError> {
        let value = OutboxEntry::encode(message, at)?;
        let client = connection(&self.pool).await?;
        let send = client
            .prepare_cached("INSERT INTO demo_codes (session, sent_at, entry) VALUES ($1, $2, $3)")
            .await?;
        client
            .execute(&send, &[&session.as_str(), &bigint(at.0), &value])
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl DemoOutbox for PgOutbox {
    async fn entries(&self, session: &SessionKey) -> Result<Vec<OutboxEntry>, OutboxError> {
        let client = connection(&self.pool).await?;
        let read = client
            .prepare_cached("SELECT entry FROM demo_codes WHERE session = $1 ORDER BY id")
            .await?;
        client
            .query(&read, &[&session.as_str()])
            .await?
            .iter()
            .map(|row| OutboxEntry::decode(session, row.get(0)))
            .collect()
    }

    async fn remove_sent_before(&self, cutoff: Timestamp) -> Result<usize, OutboxError> {
        let client = connection(&self.pool).await?;
        let removed = client
            .execute(
                "DELETE FROM demo_codes WHERE sent_at < $1",
                &[&bigint(cutoff.0)],
            )
            .await?;
        Ok(removed as usize)
    }
}
