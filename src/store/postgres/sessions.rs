//! Sessions in PostgreSQL: the state in "sessions", transcript lines in "transcript_lines".
//! A turn is one transaction that starts by locking its session, so two instances given
//! messages of one session at once run them one after the other, and the turn's state and
//! transcript commit together.

use std::sync::LazyLock;

use deadpool_postgres::Object;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{Pools, bigint, connection, member_guard, unsigned};
use crate::clock::Timestamp;
use crate::members::MemberId;
use crate::security::lockout::Standing;
use crate::store::{SessionKey, SessionStore, SessionTurn, StoreError, StoredSession, TurnWrites};

/// The session's row, locked (`FOR UPDATE` waits for a turn of another instance holding it,
/// then reads the row as that turn left it), with the standing of the member it concerns.
const LOCK_ROW: &str = "SELECT s.updated_at, s.data, s.member, g.standing FROM sessions s \
     LEFT JOIN member_standings g ON g.member = s.member WHERE s.key = $1 FOR UPDATE OF s";
/// A session with no row yet has nothing to lock: its first turns take an advisory lock on
/// 64 bits of the key's hash instead, and read again under it (a turn that created the row
/// meanwhile has committed). Two sessions sharing a hash only wait for each other now and
/// then; nothing else takes advisory locks in this space (the migrations lock is a two-key
/// lock, a separate space).
const LOCK_KEY: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
const LOAD: &str = "SELECT updated_at, data FROM sessions WHERE key = $1";
/// `idle_hour` is `updated_at` in whole hours (see the migration).
/// $4 is the member the session concerns (NULL for none).
const SAVE: &str = "INSERT INTO sessions (key, updated_at, idle_hour, data, member) \
     VALUES ($1, $2, $2::bigint / 3600000, $3, $4) \
     ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at, \
     idle_hour = excluded.idle_hour, data = excluded.data, member = excluded.member";
/// `SAVE` for a row the turn has locked: a plain update costs the database less.
const UPDATE: &str = "UPDATE sessions SET updated_at = $2, idle_hour = $2::bigint / 3600000, \
     data = $3, member = $4 WHERE key = $1";
/// Writes transcript lines ($5, numbered $6) and forgets those below $7; the statement it
/// begins saves the session ($1–$4) too, so a turn's writes are one statement. Lines of the
/// new ones below $7 are not written at all: the statement's parts share one snapshot.
const WITH_LINES: &str = "WITH trimmed AS \
     (DELETE FROM transcript_lines WHERE key = $1 AND number < $7), \
     lines AS (INSERT INTO transcript_lines (key, number, line) \
     SELECT $1, number, line FROM unnest($5::bigint[], $6::bytea[]) AS l (number, line) \
     WHERE number >= $7 \
     ON CONFLICT (key, number) DO UPDATE SET line = excluded.line) ";
static SAVE_WITH_LINES: LazyLock<String> = LazyLock::new(|| format!("{WITH_LINES}{SAVE}"));
static UPDATE_WITH_LINES: LazyLock<String> = LazyLock::new(|| format!("{WITH_LINES}{UPDATE}"));
/// The transcript lines alone (`WITH_LINES` without the session), numbered as there.
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
        // Outside a turn the member is not known: its next turn asks for the standing.
        let member: Option<&str> = None;
        client
            .execute(
                &save,
                &[
                    &key.as_str(),
                    &bigint(session.updated_at.0),
                    &session.data,
                    &member,
                ],
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
        let mut turn = PgTurn {
            client: Some(connection(&self.pools.turns).await?),
            key: key.clone(),
            row_locked: false,
            standing: None,
        };
        let Some(row) = lock_and_load(turn.connection(), key).await? else {
            return Ok((None, Box::new(turn)));
        };
        turn.row_locked = true;
        let member: Option<String> = row.get(2);
        turn.standing = member.map(|member| {
            let standing: Option<&str> = row.get(3);
            (
                MemberId::from_stored(member),
                member_guard::decode(standing),
            )
        });
        Ok((Some(stored(&row)), Box::new(turn)))
    }
}

/// Opens the turn's transaction on `client`, locks the session and loads its `LOCK_ROW`.
///
/// The statements are pipelined (sent without waiting for each answer; the server still
/// runs them in order): one round trip for a session that has a row, two for one that
/// has none yet.
async fn lock_and_load(client: &Object, key: &SessionKey) -> Result<Option<Row>, StoreError> {
    let lock_row = client.prepare_cached(LOCK_ROW).await?;
    let key: [&(dyn ToSql + Sync); 1] = [&key.as_str()];
    let ((), locked) = tokio::try_join!(
        client.batch_execute("BEGIN"),
        client.query_opt(&lock_row, &key),
    )?;
    if locked.is_some() {
        return Ok(locked);
    }
    let lock_key = client.prepare_cached(LOCK_KEY).await?;
    let (_, locked) = tokio::try_join!(
        client.execute(&lock_key, &key),
        client.query_opt(&lock_row, &key),
    )?;
    Ok(locked)
}

/// Writes what the turn wrote and commits, on the turn's `client`: one statement for the
/// session and its transcript lines, pipelined with the `COMMIT` (should the write fail,
/// the `COMMIT` after it only rolls back). The statement is prepared first, so that both
/// requests leave in order when first polled.
async fn write_and_commit(
    client: &Object,
    key: &SessionKey,
    row_locked: bool,
    writes: &TurnWrites,
) -> Result<(), StoreError> {
    let key = key.as_str();
    let member = writes.member.as_ref().map(MemberId::as_str);
    let session = writes
        .session
        .as_ref()
        .map(|session| (bigint(session.updated_at.0), &session.data));
    let lines = writes.transcript.as_ref().map(|transcript| {
        let (numbers, trim_below) =
            numbered(transcript.first, transcript.lines.len(), transcript.keep);
        (numbers, &transcript.lines, trim_below)
    });
    let (sql, params): (&str, Vec<&(dyn ToSql + Sync)>) = match (&session, &lines) {
        (Some((updated_at, data)), Some((numbers, lines, trim_below))) => (
            if row_locked {
                &UPDATE_WITH_LINES
            } else {
                &SAVE_WITH_LINES
            },
            vec![&key, updated_at, data, &member, numbers, lines, trim_below],
        ),
        (Some((updated_at, data)), None) => (
            if row_locked { UPDATE } else { SAVE },
            vec![&key, updated_at, data, &member],
        ),
        (None, Some((numbers, lines, trim_below))) => {
            (WRITE_LINES, vec![&key, numbers, lines, trim_below])
        }
        (None, None) => {
            client.batch_execute("COMMIT").await?;
            return Ok(());
        }
    };
    let statement = client.prepare_cached(sql).await?;
    tokio::try_join!(
        client.execute(&statement, &params),
        client.batch_execute("COMMIT")
    )?;
    Ok(())
}

/// A turn's transaction, holding its session's lock until `finish` commits.
struct PgTurn {
    /// `None` once committed (the connection is back in the pool).
    client: Option<Object>,
    key: SessionKey,
    /// The session had a row, which the turn holds locked (its writes are updates).
    row_locked: bool,
    /// The standing of the member the session concerns, read with it.
    standing: Option<(MemberId, Standing)>,
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
    fn member_standing(&self) -> Option<&(MemberId, Standing)> {
        self.standing.as_ref()
    }

    async fn finish(mut self: Box<Self>, writes: TurnWrites) -> Result<(), StoreError> {
        write_and_commit(self.connection(), &self.key, self.row_locked, &writes).await?;
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
