//! Turns of many sessions in one transaction. PostgreSQL's cost per turn was mostly its cost
//! per statement and per commit (README, "Mix A on PostgreSQL"), so the turns that start
//! while others hold every batch slot are gathered into one transaction: one statement locks
//! all their sessions (in one order, so that batches of two instances never deadlock), one
//! loads them, and once every turn of the batch has finished, one statement saves the
//! states, one the transcript lines, and one commit makes them durable together.
//!
//! Each session's lock is still taken inside the transaction that writes its turn, so two
//! instances given messages of one session at once run them one after the other. A turn
//! still running when its batch has waited `Batching::detach_after` is left out of it (the
//! others are not held up by one slow look-up); it then commits alone under the lock again,
//! and only if its session is still as it loaded it (else `StoreError::Conflict`: the
//! member's message is answered with "try again", nothing of the turn is kept).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use thiserror::Error;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_postgres::types::ToSql;

use super::{Pools, bigint, connection, unsigned};
use crate::clock::Timestamp;
use crate::store::{
    BackendError, DbError, SessionKey, SessionTurn, StoreError, StoredSession, TurnWrites,
};

/// Locks sessions in the order of their lock numbers (the `OFFSET 0` keeps the ordered
/// subquery from being flattened, so each lock is taken as its row leaves the sort). The
/// number is the one every tanya version takes for a session, so instances of two versions
/// still keep each other's turns apart during a rolling upgrade.
const LOCK_ALL: &str = "SELECT pg_advisory_xact_lock(number) FROM \
     (SELECT hashtextextended(key, 0) AS number FROM unnest($1::text[]) AS key \
      ORDER BY number OFFSET 0) AS ordered";
const LOAD_ALL: &str = "SELECT key, updated_at, data FROM sessions WHERE key = ANY($1::text[])";
/// `idle_hour` is `updated_at` in whole hours (see the migration).
const SAVE_ALL: &str = "INSERT INTO sessions (key, updated_at, idle_hour, data) \
     SELECT key, updated_at, updated_at / 3600000, data \
     FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS saved (key, updated_at, data) \
     ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at, \
     idle_hour = excluded.idle_hour, data = excluded.data";
/// Writes transcript lines ($1–$3) and forgets each session's lines below its number in
/// $4–$5, in one statement (new lines below that number are not written at all: the
/// statement's parts share one snapshot).
const WRITE_LINES_ALL: &str = "WITH kept AS \
     (SELECT key, below FROM unnest($4::text[], $5::bigint[]) AS kept (key, below)), \
     trimmed AS (DELETE FROM transcript_lines t USING kept \
         WHERE t.key = kept.key AND t.number < kept.below) \
     INSERT INTO transcript_lines (key, number, line) \
     SELECT line.key, line.number, line.line \
     FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS line (key, number, line) \
     JOIN kept ON kept.key = line.key WHERE line.number >= kept.below \
     ON CONFLICT (key, number) DO UPDATE SET line = excluded.line";

/// The most turns in one batch: enough for every member waiting at once, small enough that
/// one batch's statements stay short.
const MAX_BATCH: usize = 256;

/// Starts a batch's transaction. Every statement in it finds its rows by key, so a scan of
/// a whole table is never the right plan; but the planner prefers one for the transcript
/// lines while the table is small (a plan the connection then keeps, and which reads every
/// line of every session at each batch once the table has grown).
const BEGIN: &str = "BEGIN; SET LOCAL enable_seqscan = off";

/// How turns are gathered.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Batches open at once (each holds one connection for its whole life). Fewer batches
    /// gather more turns each: fewer statements and commits, a little more waiting.
    pub batches: usize,
    /// How long a batch waits for its slowest turn before committing the others.
    pub detach_after: Duration,
}

impl Default for Batching {
    fn default() -> Batching {
        Batching {
            batches: 4,
            detach_after: Duration::from_millis(200),
        }
    }
}

/// A turn asking to start.
struct Begin {
    key: SessionKey,
    answer: oneshot::Sender<Result<Started, StoreError>>,
}

type Started = (Option<StoredSession>, BatchTurn);

/// A finished turn's writes, handed to its batch, and where the batch tells how they went.
struct Ended {
    key: SessionKey,
    writes: TurnWrites,
    committed: oneshot::Sender<Result<(), StoreError>>,
}

/// Starts turns in batches; cheap to share (the batches run on their own tasks).
pub(super) struct TurnBatcher {
    requests: mpsc::UnboundedSender<Begin>,
}

impl TurnBatcher {
    /// Starts the task gathering turns into batches on connections of the "turns" pool (a
    /// turn that outlives its batch commits on a "general" one); it ends when the batcher
    /// is dropped.
    pub(super) fn start(pools: Pools, batching: Batching) -> TurnBatcher {
        let (requests, queue) = mpsc::unbounded_channel();
        tokio::spawn(gather(queue, pools, batching));
        TurnBatcher { requests }
    }

    /// Waits until no other turn of `key` runs (in any instance) and loads the session.
    pub(super) async fn begin(
        &self,
        key: &SessionKey,
    ) -> Result<(Option<StoredSession>, Box<dyn SessionTurn>), StoreError> {
        let (answer, started) = oneshot::channel();
        let begin = Begin {
            key: key.clone(),
            answer,
        };
        self.requests.send(begin).map_err(|_| lost())?;
        let (loaded, turn) = started.await.map_err(|_| lost())??;
        Ok((loaded, Box::new(turn)))
    }
}

/// The batch task stopped before answering (the runtime is shutting down).
#[derive(Debug, Error)]
#[error("the turn's batch stopped before it ended")]
struct BatchLost;

fn lost() -> StoreError {
    StoreError::Database(DbError::Backend(BackendError::new(BatchLost)))
}

/// Gathers waiting turns into batches while fewer than `batching.batches` run.
async fn gather(mut queue: mpsc::UnboundedReceiver<Begin>, pools: Pools, batching: Batching) {
    let slots = Arc::new(Semaphore::new(batching.batches.max(1)));
    // A session's second turn found in one batch waits for the next one: a transaction
    // holds a session's lock only once. (The engine's own locks make this rare.)
    let mut held_over: Vec<Begin> = Vec::new();
    loop {
        let first = match held_over.pop() {
            Some(begin) => begin,
            None => match queue.recv().await {
                Some(begin) => begin,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut keys = HashSet::from([first.key.clone()]);
        let mut batch = vec![first];
        let mut waiting = std::mem::take(&mut held_over);
        while batch.len() < MAX_BATCH {
            let Some(begin) = waiting.pop().or_else(|| queue.try_recv().ok()) else {
                break;
            };
            if keys.insert(begin.key.clone()) {
                batch.push(begin);
            } else {
                held_over.push(begin);
            }
        }
        held_over.extend(waiting);
        let (pools, detach_after) = (pools.clone(), batching.detach_after);
        tokio::spawn(async move {
            run_batch(&pools, batch, detach_after).await;
            drop(slot);
        });
    }
}

/// One batch: begins every turn, waits for them, commits what they wrote.
async fn run_batch(pools: &Pools, batch: Vec<Begin>, detach_after: Duration) {
    // A caller that stopped waiting is left out before its session is locked.
    let batch: Vec<Begin> = batch
        .into_iter()
        .filter(|begin| !begin.answer.is_closed())
        .collect();
    if batch.is_empty() {
        return;
    }
    let mut transaction = match Transaction::open(&pools.turns).await {
        Ok(transaction) => transaction,
        Err(error) => return fail(batch, &error),
    };
    let keys: Vec<&str> = batch.iter().map(|begin| begin.key.as_str()).collect();
    let mut loaded = match lock_and_load(transaction.client(), &keys).await {
        Ok(loaded) => loaded,
        Err(error) => return fail(batch, &error),
    };
    let mut endings = Vec::with_capacity(batch.len());
    for begin in batch {
        let session = loaded.remove(begin.key.as_str());
        let (end, ending) = oneshot::channel();
        let turn = BatchTurn {
            key: begin.key,
            loaded: session.clone(),
            end: Some(end),
            alone: pools.general.clone(),
        };
        // A caller gone by now drops its turn, which ends it unfinished.
        let _ = begin.answer.send(Ok((session, turn)));
        endings.push(ending);
    }
    let ended = wait_for(endings, Instant::now() + detach_after).await;
    let writes: Vec<(&SessionKey, &TurnWrites)> =
        ended.iter().map(|end| (&end.key, &end.writes)).collect();
    let result = transaction.write_and_commit(&writes).await;
    for end in ended {
        let _ = end.committed.send(result.clone());
    }
}

fn fail(batch: Vec<Begin>, error: &StoreError) {
    for begin in batch {
        let _ = begin.answer.send(Err(error.clone()));
    }
}

/// The turns that ended with writes by `deadline`; those still running are detached (their
/// `finish` finds its batch gone and commits alone).
async fn wait_for(endings: Vec<oneshot::Receiver<Ended>>, deadline: Instant) -> Vec<Ended> {
    let mut ended = Vec::with_capacity(endings.len());
    for mut ending in endings {
        match tokio::time::timeout_at(deadline, &mut ending).await {
            Ok(Ok(end)) => ended.push(end),
            // Dropped unfinished: nothing to write.
            Ok(Err(_)) => {}
            Err(_) => {
                // Closed first, so that the turn either got in before (and is committed
                // here) or finds the batch gone: never both, never neither.
                ending.close();
                if let Ok(end) = ending.try_recv() {
                    ended.push(end);
                }
            }
        }
    }
    ended
}

/// One turn of a batch.
struct BatchTurn {
    key: SessionKey,
    /// The session as the batch loaded it: a turn committing alone checks it is unchanged.
    loaded: Option<StoredSession>,
    /// To the batch; `None` once used.
    end: Option<oneshot::Sender<Ended>>,
    /// Where a turn that outlived its batch commits alone.
    alone: Pool,
}

#[async_trait::async_trait]
impl SessionTurn for BatchTurn {
    async fn finish(mut self: Box<Self>, writes: TurnWrites) -> Result<(), StoreError> {
        let Some(end) = self.end.take() else {
            return Err(lost());
        };
        let (committed, commit) = oneshot::channel();
        let ended = Ended {
            key: self.key.clone(),
            writes,
            committed,
        };
        match end.send(ended) {
            Ok(()) => commit.await.map_err(|_| lost())?,
            Err(ended) => self.commit_alone(ended.writes).await,
        }
    }
}

impl BatchTurn {
    /// Commits a turn its batch stopped waiting for, if its session is still as loaded.
    async fn commit_alone(&self, writes: TurnWrites) -> Result<(), StoreError> {
        if writes.transcript.is_none() && writes.session.is_none() {
            return Ok(());
        }
        let mut transaction = Transaction::open(&self.alone).await?;
        let mut current = lock_and_load(transaction.client(), &[self.key.as_str()]).await?;
        if current.remove(self.key.as_str()) != self.loaded {
            // Dropping the transaction rolls it back.
            return Err(StoreError::Conflict);
        }
        transaction.write_and_commit(&[(&self.key, &writes)]).await
    }
}

/// A transaction on a connection of its own. Dropped before it commits (a statement failed,
/// or the task was cancelled), it closes the connection, which rolls back and releases its
/// locks, where pooling it would hand both to the next user.
struct Transaction {
    client: Option<Object>,
}

impl Transaction {
    /// Takes a connection; the `BEGIN` is sent with the first statements.
    async fn open(pool: &Pool) -> Result<Transaction, StoreError> {
        Ok(Transaction {
            client: Some(connection(pool).await?),
        })
    }

    fn client(&self) -> &Object {
        // Only `write_and_commit` empties it, and nothing uses the transaction after.
        self.client
            .as_ref()
            .expect("an open transaction has its connection")
    }

    /// Writes what the turns wrote and commits, pipelined (sent without waiting for each
    /// answer; should a write fail, the `COMMIT` after it only rolls back). The statements
    /// are prepared first, so that each request leaves in order when first polled.
    async fn write_and_commit(
        &mut self,
        writes: &[(&SessionKey, &TurnWrites)],
    ) -> Result<(), StoreError> {
        let client = self.client();
        let save = client.prepare_cached(SAVE_ALL).await?;
        let write_lines = client.prepare_cached(WRITE_LINES_ALL).await?;
        let states = SavedStates::of(writes);
        let lines = WrittenLines::of(writes);
        let save = async {
            if !states.keys.is_empty() {
                client
                    .execute(&save, &[&states.keys, &states.updated_at, &states.data])
                    .await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        };
        let write_lines = async {
            if !lines.trimmed.is_empty() {
                client
                    .execute(
                        &write_lines,
                        &[
                            &lines.keys,
                            &lines.numbers,
                            &lines.lines,
                            &lines.trimmed,
                            &lines.below,
                        ],
                    )
                    .await?;
            }
            Ok(())
        };
        tokio::try_join!(write_lines, save, client.batch_execute("COMMIT"))?;
        // Committed: the connection goes back to the pool, clean.
        self.client = None;
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

/// Opens the transaction on `client`, waits for the sessions' locks, and loads them: one
/// round trip (pipelined; the server still runs the statements in order).
async fn lock_and_load(
    client: &Object,
    keys: &[&str],
) -> Result<HashMap<String, StoredSession>, StoreError> {
    let lock = client.prepare_cached(LOCK_ALL).await?;
    let load = client.prepare_cached(LOAD_ALL).await?;
    let keys: [&(dyn ToSql + Sync); 1] = [&keys];
    let ((), _, rows) = tokio::try_join!(
        client.batch_execute(BEGIN),
        client.execute(&lock, &keys),
        client.query(&load, &keys),
    )?;
    Ok(rows
        .iter()
        .map(|row| {
            let session = StoredSession {
                updated_at: Timestamp(unsigned(row.get(1))),
                data: row.get(2),
            };
            (row.get(0), session)
        })
        .collect())
}

/// The session states of a batch, as `SAVE_ALL`'s columns.
struct SavedStates<'a> {
    keys: Vec<&'a str>,
    updated_at: Vec<i64>,
    data: Vec<&'a [u8]>,
}

impl<'a> SavedStates<'a> {
    fn of(writes: &[(&'a SessionKey, &'a TurnWrites)]) -> SavedStates<'a> {
        let mut states = SavedStates {
            keys: Vec::new(),
            updated_at: Vec::new(),
            data: Vec::new(),
        };
        for (key, writes) in writes {
            if let Some(session) = &writes.session {
                states.keys.push(key.as_str());
                states.updated_at.push(bigint(session.updated_at.0));
                states.data.push(&session.data);
            }
        }
        states
    }
}

/// The transcript lines of a batch, as `WRITE_LINES_ALL`'s columns: every line with its
/// session and number, and for each session the number below which lines are forgotten so
/// that its last `keep` remain.
struct WrittenLines<'a> {
    keys: Vec<&'a str>,
    numbers: Vec<i64>,
    lines: Vec<&'a [u8]>,
    trimmed: Vec<&'a str>,
    below: Vec<i64>,
}

impl<'a> WrittenLines<'a> {
    fn of(writes: &[(&'a SessionKey, &'a TurnWrites)]) -> WrittenLines<'a> {
        let mut written = WrittenLines {
            keys: Vec::new(),
            numbers: Vec::new(),
            lines: Vec::new(),
            trimmed: Vec::new(),
            below: Vec::new(),
        };
        for (key, writes) in writes {
            let Some(transcript) = &writes.transcript else {
                continue;
            };
            for (number, line) in (transcript.first..).zip(&transcript.lines) {
                written.keys.push(key.as_str());
                written.numbers.push(bigint(number));
                written.lines.push(line);
            }
            let end = transcript.first + transcript.lines.len() as u64;
            written.trimmed.push(key.as_str());
            written
                .below
                .push(bigint(end.saturating_sub(transcript.keep)));
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{options, stores};
    use super::*;
    use crate::store::TranscriptLines;
    use crate::store::tests::{key, lines, session};

    fn writes(at: u64, data: &[u8], first_line: u64) -> TurnWrites {
        TurnWrites {
            transcript: Some(TranscriptLines {
                first: first_line,
                lines: lines(first_line..first_line + 2),
                keep: 3,
            }),
            session: Some(session(at, data)),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_begun_at_once_share_batches_and_each_keeps_its_own_writes() {
        let (_cluster, stores) = stores().await;
        let sessions = stores.sessions.clone();
        // Three rounds of 40 sessions at once (more than the batch slots): each round's
        // turns write two lines and a state; one turn in each round fails (dropped).
        for round in 0..3u64 {
            let mut turns = tokio::task::JoinSet::new();
            for i in 0..40 {
                let sessions = sessions.clone();
                turns.spawn(async move {
                    let key = key(&format!("member-{i}"));
                    let (loaded, turn) = sessions.begin_turn(&key).await.expect("begin");
                    let expected = (round > 0 && i != 7).then(|| session(round, b"state"));
                    assert_eq!(loaded, expected, "session {i} as the last round left it");
                    if i == 7 {
                        return drop(turn);
                    }
                    turn.finish(writes(round + 1, b"state", round * 2))
                        .await
                        .expect("commit");
                });
            }
            turns.join_all().await;
        }
        let kept = sessions
            .transcript(&key("member-3"), 6)
            .await
            .expect("lines");
        assert_eq!(kept, lines(3..6), "the last three lines of six");
        assert_eq!(sessions.load(&key("member-7")).await.expect("load"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_outliving_its_batch_commits_alone_unless_its_session_changed() {
        let (cluster, _) = stores().await;
        let mut quick = options(&cluster);
        quick.batching.detach_after = Duration::from_millis(50);
        let first = super::super::open(&quick).await.expect("first instance");
        let second = super::super::open(&options(&cluster))
            .await
            .expect("second instance");
        let (slow, unchanged) = (key("slow"), key("unchanged"));

        // Slow, but nobody touched the session: written after all.
        let (_, turn) = first.sessions.begin_turn(&unchanged).await.expect("begin");
        tokio::time::sleep(Duration::from_millis(200)).await;
        turn.finish(writes(1, b"late", 0))
            .await
            .expect("committed alone");
        assert_eq!(
            first.sessions.load(&unchanged).await.expect("load"),
            Some(session(1, b"late"))
        );

        // Slow, and the other instance ran a turn of the session meanwhile (the lock was
        // released with the batch): refused, the other turn's state kept.
        let (_, turn) = first.sessions.begin_turn(&slow).await.expect("begin");
        let (_, other) =
            tokio::time::timeout(Duration::from_secs(10), second.sessions.begin_turn(&slow))
                .await
                .expect("the batch let the session go")
                .expect("begin");
        other.finish(writes(2, b"other", 0)).await.expect("commit");
        let refused = turn.finish(writes(1, b"stale", 0)).await;
        assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
        assert_eq!(
            first.sessions.load(&slow).await.expect("load"),
            Some(session(2, b"other"))
        );
        assert_eq!(
            first.sessions.transcript(&slow, 2).await.expect("lines"),
            lines(0..2)
        );
    }
}
