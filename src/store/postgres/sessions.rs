//! Sessions in PostgreSQL: the state in "sessions", transcript lines in "transcript_lines".
//! A turn holds an advisory lock on its session key from before the session is loaded until
//! after its writes are committed, so two instances given messages of one session at once
//! run them one after the other, and the turn's state and transcript commit together; turns
//! that start at once are begun and written together (`turn_batches`).

use deadpool_postgres::Pool;
use tokio_postgres::Row;

use super::turn_batches::{Batching, TurnBatcher};
use super::{Pools, bigint, connection, unsigned};
use crate::clock::Timestamp;
use crate::store::{SessionKey, SessionStore, SessionTurn, StoreError, StoredSession};

const LOAD: &str = "SELECT updated_at, data FROM sessions WHERE key = $1";
/// `idle_hour` is `updated_at` in whole hours (see the migration).
const SAVE: &str = "INSERT INTO sessions (key, updated_at, idle_hour, data) \
     VALUES ($1, $2, $2::bigint / 3600000, $3) \
     ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at, \
     idle_hour = excluded.idle_hour, data = excluded.data, member = NULL";
/// Writes transcript lines and forgets those below $4, in one statement (lines of the new
/// ones below $4 are not written at all: the statement's parts share one snapshot).
const WRITE_LINES: &str = "WITH trimmed AS \
     (DELETE FROM transcript_lines WHERE key = $1 AND number < $4) \
     INSERT INTO transcript_lines (key, number, line) \
     SELECT $1, number, line FROM unnest($2::bigint[], $3::bytea[]) AS l (number, line) \
     WHERE number >= $4 \
     ON CONFLICT (key, number) DO UPDATE SET line = excluded.line";

/// Sessions in PostgreSQL.
pub struct PgSessionStore {
    /// For everything but turns.
    general: Pool,
    batcher: TurnBatcher,
}

impl PgSessionStore {
    pub(super) fn new(pools: Pools, batching: Batching) -> PgSessionStore {
        PgSessionStore {
            batcher: TurnBatcher::start(pools.turns, batching),
            general: pools.general,
        }
    }
}

fn stored(row: &Row) -> StoredSession {
    StoredSession {
        updated_at: Timestamp(unsigned(row.get(0))),
        data: row.get(1),
    }
}

/// The numbers of `count` transcript lines from `first`, and the number below which lines
/// are forgotten so that `keep` remain.
pub(super) fn numbered(first: u64, count: usize, keep: u64) -> (Vec<i64>, i64) {
    let numbers = (first..).take(count).map(bigint).collect();
    let end = first + count as u64;
    (numbers, bigint(end.saturating_sub(keep)))
}

#[async_trait::async_trait]
impl SessionStore for PgSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        let client = connection(&self.general).await?;
        let load = client.prepare_cached(LOAD).await?;
        Ok(client
            .query_opt(&load, &[&key.as_str()])
            .await?
            .map(|row| stored(&row)))
    }

    async fn save(&self, key: &SessionKey, session: &StoredSession) -> Result<(), StoreError> {
        let client = connection(&self.general).await?;
        let save = client.prepare_cached(SAVE).await?;
        client
            .execute(
                &save,
                &[&key.as_str(), &bigint(session.updated_at.0), &session.data],
            )
            .await?;
        Ok(())
    }

    async fn append_transcript(
        &self,
        key: &SessionKey,
        first: u64,
        lines: &[Vec<u8>],
        keep: u64,
    ) -> Result<(), StoreError> {
        let client = connection(&self.general).await?;
        let write = client.prepare_cached(WRITE_LINES).await?;
        let (numbers, trim_below) = numbered(first, lines.len(), keep);
        client
            .execute(&write, &[&key.as_str(), &numbers, &lines, &trim_below])
            .await?;
        Ok(())
    }

    async fn transcript(&self, key: &SessionKey, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let client = connection(&self.general).await?;
        let read = client
            .prepare_cached(
                "SELECT line FROM transcript_lines WHERE key = $1 AND number < $2 ORDER BY number",
            )
            .await?;
        Ok(client
            .query(&read, &[&key.as_str(), &bigint(end)])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect())
    }

    async fn remove(&self, key: &SessionKey) -> Result<(), StoreError> {
        let client = connection(&self.general).await?;
        client
            .execute(
                "WITH gone AS (DELETE FROM transcript_lines WHERE key = $1) \
                 DELETE FROM sessions WHERE key = $1",
                &[&key.as_str()],
            )
            .await?;
        Ok(())
    }

    async fn remove_idle(&self, cutoff: Timestamp) -> Result<usize, StoreError> {
        // One statement: instances sweeping at once each delete what the other has not, and
        // a session saved again meanwhile (updated_at moved) is kept.
        let client = connection(&self.general).await?;
        let row = client
            .query_one(
                "WITH idle AS (DELETE FROM sessions \
                     WHERE idle_hour <= $1::bigint / 3600000 AND updated_at < $1 RETURNING key), \
                 lines AS (DELETE FROM transcript_lines t USING idle WHERE t.key = idle.key) \
                 SELECT count(*) FROM idle",
                &[&bigint(cutoff.0)],
            )
            .await?;
        Ok(unsigned(row.get(0)) as usize)
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let client = connection(&self.general).await?;
        let row = client
            .query_one("SELECT count(*) FROM sessions", &[])
            .await?;
        Ok(unsigned(row.get(0)) as usize)
    }

    async fn begin_turn<'a>(
        &'a self,
        key: &SessionKey,
    ) -> Result<(Option<StoredSession>, Box<dyn SessionTurn + 'a>), StoreError> {
        self.batcher.begin(key).await
    }
}
