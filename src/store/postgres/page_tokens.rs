//! The password page's links in PostgreSQL ("page_tokens"), shared by every instance: a link
//! sent by one instance opens on any other. Each operation is one statement, so two instances
//! counting submissions of one link at once both count.

use deadpool_postgres::Pool;
use tokio_postgres::Row;

use super::{bigint, connection, unsigned};
use crate::clock::Timestamp;
use crate::dialog::Flow;
use crate::members::MemberId;
use crate::security::page_token::PageTokenHash;
use crate::store::page_tokens::{PageGrant, PageTokenStore};
use crate::store::{SessionKey, StoreError};

/// The columns a grant is read from, in `grant`'s order.
const GRANT_COLUMNS: &str = "session, member, flow, expires_at";

/// The password page's links in PostgreSQL.
pub struct PgPageTokens {
    pool: Pool,
}

impl PgPageTokens {
    pub(super) fn new(pool: Pool) -> PgPageTokens {
        PgPageTokens { pool }
    }
}

/// The grant of a row of `GRANT_COLUMNS`; `None` for one tanya could not have written (an
/// unknown flow, a session key that does not parse): such a link opens nothing.
fn grant(row: &Row) -> Option<PageGrant> {
    let session: String = row.get(0);
    let (channel, id) = session.split_once(':')?;
    Some(PageGrant {
        session: SessionKey::new(channel, id).ok()?,
        member: MemberId::from_stored(row.get(1)),
        flow: Flow::from_intent(row.get(2))?,
        expires_at: Timestamp(unsigned(row.get(3))),
    })
}

#[async_trait::async_trait]
impl PageTokenStore for PgPageTokens {
    async fn issue(&self, hash: &PageTokenHash, grant: &PageGrant) -> Result<(), StoreError> {
        let client = connection(&self.pool).await?;
        // The session's earlier link, if any, is replaced in the same statement.
        let issue = client
            .prepare_cached(
                "INSERT INTO page_tokens (hash, session, member, flow, expires_at, attempts) \
                 VALUES ($1, $2, $3, $4, $5, 0) \
                 ON CONFLICT (session) DO UPDATE SET hash = EXCLUDED.hash, \
                 member = EXCLUDED.member, flow = EXCLUDED.flow, \
                 expires_at = EXCLUDED.expires_at, attempts = 0",
            )
            .await?;
        client
            .execute(
                &issue,
                &[
                    &&hash.0[..],
                    &grant.session.as_str(),
                    &grant.member.as_str(),
                    &grant.flow.intent(),
                    &bigint(grant.expires_at.0),
                ],
            )
            .await?;
        Ok(())
    }

    async fn find(
        &self,
        hash: &PageTokenHash,
        now: Timestamp,
    ) -> Result<Option<PageGrant>, StoreError> {
        let client = connection(&self.pool).await?;
        let find = client
            .prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM page_tokens WHERE hash = $1 AND expires_at > $2"
            ))
            .await?;
        let row = client
            .query_opt(&find, &[&&hash.0[..], &bigint(now.0)])
            .await?;
        Ok(row.as_ref().and_then(grant))
    }

    async fn attempt(
        &self,
        hash: &PageTokenHash,
        max: u32,
        now: Timestamp,
    ) -> Result<Option<PageGrant>, StoreError> {
        let client = connection(&self.pool).await?;
        // The grant's columns first, so `grant` reads this row too.
        let count = client
            .prepare_cached(&format!(
                "UPDATE page_tokens SET attempts = attempts + 1 \
                 WHERE hash = $1 AND expires_at > $2 RETURNING {GRANT_COLUMNS}, attempts"
            ))
            .await?;
        let Some(row) = client
            .query_opt(&count, &[&&hash.0[..], &bigint(now.0)])
            .await?
        else {
            return Ok(None);
        };
        let attempts: i32 = row.get(4);
        if u32::try_from(attempts).unwrap_or(u32::MAX) > max {
            client
                .execute("DELETE FROM page_tokens WHERE hash = $1", &[&&hash.0[..]])
                .await?;
            return Ok(None);
        }
        Ok(grant(&row))
    }

    async fn withdraw(&self, session: &SessionKey) -> Result<(), StoreError> {
        let client = connection(&self.pool).await?;
        let withdraw = client
            .prepare_cached("DELETE FROM page_tokens WHERE session = $1")
            .await?;
        client.execute(&withdraw, &[&session.as_str()]).await?;
        Ok(())
    }

    async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError> {
        let client = connection(&self.pool).await?;
        let removed = client
            .execute(
                "DELETE FROM page_tokens WHERE expires_at <= $1",
                &[&bigint(now.0)],
            )
            .await?;
        Ok(removed as usize)
    }
}
