//! Sessions in PostgreSQL: the state in "sessions", transcript lines in "transcript_lines".
//! A turn is one transaction that starts by taking a transaction-scoped advisory lock on the
//! session key, so two instances given messages of one session at once run them one after
//! the other, and the turn's state and transcript commit together.

use deadpool_postgres::Object;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{Pools, bigint, connection, unsigned};
use crate::clock::Timestamp;
use crate::store::{SessionKey, SessionStore, SessionTurn, StoreError, StoredSession, TurnWrites};

/// The advisory lock of a session: 64 bits of the key's hash. Two sessions sharing a hash
/// only wait for each other now and then; nothing else takes advisory locks in this space
/// (the migrations lock is a two-key lock, a separate space).
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
const LOAD: &str = "SELECT updated_at, data FROM sessions WHERE key = $1";
/// `idle_hour` is `updated_at` in whole hours (see the migration).
const SAVE: &str = "INSERT INTO sessions (key, updated_at, idle_hour, data) \
     VALUES ($1, $2, $2::bigint / 3600000, $3) \
     ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at, \
     idle_hour = excluded.idle_hour, data = excluded.data";
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
    pools: Pools,
}

impl PgSessionStore {
    pub(super) fn new(pools: Pools) -> PgSessionStore {
        PgSessionStore { pools }
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
fn numbered(first: u64, count: usize, keep: u64) -> (Vec<i64>, i64) {
    let numbers = (first..).take(count).map(bigint).collect();
    let end = first + count as u64;
    (numbers, bigint(end.saturating_sub(keep)))
}

#[async_trait::async_trait]
impl SessionStore for PgSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        let client = connection(&self.pools.general).await?;
        let load = client.prepare_cached(LOAD).await?;
        Ok(client
            .query_opt(&load, &[&key.as_str()])
            .await?
            .map(|row| stored(&row)))
    }

    async fn save(&self, key: &SessionKey, session: &StoredSession) -> Result<(), StoreError> {
        let client = connection(&self.pools.general).await?;
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
        let client = connection(&self.pools.general).await?;
        let write = client.prepare_cached(WRITE_LINES).await?;
        let (numbers, trim_below) = numbered(first, lines.len(), keep);
        client
            .execute(&write, &[&key.as_str(), &numbers, &lines, &trim_below])
            .await?;
        Ok(())
    }

    async fn transcript(&self, key: &SessionKey, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let client = connection(&self.pools.general).await?;
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
        let client = connection(&self.pools.general).await?;
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
        let client = connection(&self.pools.general).await?;
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
        let client = connection(&self.pools.general).await?;
        let row = client
            .query_one("SELECT count(*) FROM sessions", &[])
            .await?;
        Ok(unsigned(row.get(0)) as usize)
    }

    async fn begin_turn<'a>(
        &'a self,
        key: &SessionKey,
    ) -> Result<(Option<StoredSession>, Box<dyn SessionTurn + 'a>), StoreError> {
        // Held by the turn from here on: should anything fail, or the caller stop waiting,
        // dropping the turn closes the connection instead of pooling it mid-transaction.
        let turn = PgTurn {
            client: Some(connection(&self.pools.turns).await?),
            key: key.clone(),
        };
        let loaded = lock_and_load(turn.connection(), key).await?;
        Ok((loaded, Box::new(turn)))
    }
}

/// Opens the turn's transaction on `client`, waits for the session's lock, and loads it.
///
/// The three statements are pipelined (sent without waiting for each answer; the server
/// still runs them in order): one round trip instead of three.
async fn lock_and_load(
    client: &Object,
    key: &SessionKey,
) -> Result<Option<StoredSession>, StoreError> {
    let lock = client.prepare_cached(LOCK).await?;
    let load = client.prepare_cached(LOAD).await?;
    let key: [&(dyn ToSql + Sync); 1] = [&key.as_str()];
    let ((), _, loaded) = tokio::try_join!(
        client.batch_execute("BEGIN"),
        client.execute(&lock, &key),
        client.query_opt(&load, &key),
    )?;
    Ok(loaded.map(|row| stored(&row)))
}

/// Writes what the turn wrote and commits, on the turn's `client`: pipelined, as
/// `lock_and_load` is (should a write fail, the `COMMIT` after it only rolls back). The
/// statements are prepared first, so that each request leaves in order when first polled.
async fn write_and_commit(
    client: &Object,
    key: &SessionKey,
    writes: &TurnWrites,
) -> Result<(), StoreError> {
    let write_lines = client.prepare_cached(WRITE_LINES).await?;
    let save = client.prepare_cached(SAVE).await?;
    let transcript = async {
        if let Some(transcript) = &writes.transcript {
            let (numbers, trim_below) =
                numbered(transcript.first, transcript.lines.len(), transcript.keep);
            client
                .execute(
                    &write_lines,
                    &[&key.as_str(), &numbers, &transcript.lines, &trim_below],
                )
                .await?;
        }
        Ok::<_, tokio_postgres::Error>(())
    };
    let state = async {
        if let Some(session) = &writes.session {
            client
                .execute(
                    &save,
                    &[&key.as_str(), &bigint(session.updated_at.0), &session.data],
                )
                .await?;
        }
        Ok(())
    };
    tokio::try_join!(transcript, state, client.batch_execute("COMMIT"))?;
    Ok(())
}

/// A turn's transaction, holding its session's lock until `finish` commits.
struct PgTurn {
    /// `None` once committed (the connection is back in the pool).
    client: Option<Object>,
    key: SessionKey,
}

impl PgTurn {
    fn connection(&self) -> &Object {
        // Only `finish` empties it, and it consumes the turn.
        self.client
            .as_ref()
            .expect("an unfinished turn has its connection")
    }
}

#[async_trait::async_trait]
impl SessionTurn for PgTurn {
    async fn finish(mut self: Box<Self>, writes: TurnWrites) -> Result<(), StoreError> {
        write_and_commit(self.connection(), &self.key, &writes).await?;
        // Committed: the connection goes back to the pool, clean.
        self.client = None;
        Ok(())
    }
}

impl Drop for PgTurn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Unfinished: a statement failed, or the caller stopped waiting. The connection
            // is inside a transaction holding the session's lock; closing it rolls back and
            // releases the lock, where pooling it would hand both to the next turn.
            drop(Object::take(client));
        }
    }
}
