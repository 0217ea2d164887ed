//! Turns of many sessions written in one statement. PostgreSQL's cost per turn was mostly its
//! cost per statement and per commit (README, "Mix A on PostgreSQL"), so the turns that start
//! while others hold every batch slot are gathered into a *batch*: one statement locks all
//! their sessions, one loads them, and once every turn of the batch has finished, one
//! statement saves the states and transcript lines (one commit, durable before any of them is
//! answered) and one lets the sessions go.
//!
//! The locks are PostgreSQL's session-level advisory locks, held by the batch's connection
//! from before the load until after the write, so two instances given messages of one session
//! at once run them one after the other; no transaction stays open meanwhile, and a
//! connection that fails or is closed lets its sessions go with it. A batch never waits for
//! a lock (so batches of two instances never deadlock): a session another connection holds
//! (its turn running in another instance) is left out of the batch, and its turn waits for
//! the lock on a connection of its own, so that a turn running elsewhere holds up no other
//! session here. A turn that said it is about to wait on something slow (`SessionTurn::detach`: a password hashed, a directory
//! across the network), or is still running when its batch has waited
//! `Batching::detach_after`, is *late*: the others are written and let go without it, and its
//! session stays locked; the late turn is then written on that connection alone, and its
//! session let go. Batches whose late turns still run keep their connections, at most
//! `Batching::late_turns` of them: beyond that a batch waits for its slow turns too, so that
//! slow turns never take the connections new batches need.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_postgres::types::ToSql;

use super::member_guard::decode as decode_standing;
use super::sessions::numbered;
use super::{bigint, connection, unsigned};
use crate::clock::Timestamp;
use crate::members::MemberId;
use crate::security::lockout::Standing;
use crate::store::{
    BackendError, DbError, SessionKey, SessionTurn, StoreError, StoredSession, TurnWrites,
};

/// Locks the sessions that no other connection holds or waits for, each until `UNLOCK` or the
/// connection's end, and returns the others (held elsewhere). Nothing waits, so no order is
/// needed against deadlocks. The number is the one every tanya version takes for a session
/// (earlier ones as session- or transaction-level locks, which these exclude and are
/// excluded by), so instances of two versions keep each other's turns apart during a rolling
/// upgrade.
const LOCK_ALL: &str = "SELECT key FROM unnest($1::text[]) AS key \
     WHERE NOT pg_try_advisory_lock(hashtextextended(key, 0))";
/// Waits for the sessions' locks, in the order of their numbers (so that two connections
/// waiting never deadlock; the `OFFSET 0` keeps the ordered subquery from being flattened, so
/// each lock is taken as its row leaves the sort), in PostgreSQL's queue for each: first come,
/// first served.
const WAIT_FOR_ALL: &str = "SELECT pg_advisory_lock(number) FROM \
     (SELECT hashtextextended(key, 0) AS number FROM unnest($1::text[]) AS key \
      ORDER BY number OFFSET 0) AS ordered";
/// Whether every one was held (a lock not held means the connection is not the one that took
/// it, as behind a pooler in transaction mode: the batch then closes it).
const UNLOCK: &str = "SELECT bool_and(unlocked) FROM \
     (SELECT pg_advisory_unlock(hashtextextended(key, 0)) AS unlocked \
      FROM unnest($1::text[]) AS key) AS each";
/// Loads the sessions with the standing of the member each is about (a session's turn would
/// otherwise read it in a round trip of its own). A statement of its own after the locks,
/// so that it reads what was committed before they were granted.
const LOAD_ALL: &str = "SELECT s.key, s.updated_at, s.data, s.member, g.standing \
     FROM sessions s LEFT JOIN member_standings g ON g.member = s.member \
     WHERE s.key = ANY($1::text[])";
/// Saves the states ($1–$4; `idle_hour` is `updated_at` in whole hours, see the migration),
/// writes transcript lines ($5–$7) and forgets each session's lines below its number in
/// $8–$9: one statement, so one commit, all or nothing (new lines below that number are not
/// written at all: the statement's parts share one snapshot).
const WRITE_ALL: &str = "WITH saved AS \
     (INSERT INTO sessions (key, updated_at, idle_hour, data, member) \
         SELECT key, updated_at, updated_at / 3600000, data, member \
         FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::text[]) \
             AS saved (key, updated_at, data, member) \
         ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at, \
         idle_hour = excluded.idle_hour, data = excluded.data, member = excluded.member), \
     kept AS (SELECT key, below FROM unnest($8::text[], $9::bigint[]) AS kept (key, below)), \
     trimmed AS (DELETE FROM transcript_lines t USING kept \
         WHERE t.key = kept.key AND t.number < kept.below) \
     INSERT INTO transcript_lines (key, number, line) \
     SELECT line.key, line.number, line.line \
     FROM unnest($5::text[], $6::bigint[], $7::bytea[]) AS line (key, number, line) \
     JOIN kept ON kept.key = line.key WHERE line.number >= kept.below \
     ON CONFLICT (key, number) DO UPDATE SET line = excluded.line";

/// The most turns in one batch: enough for every member waiting at once, small enough that
/// one batch's statements stay short.
const MAX_BATCH: usize = 256;

/// How turns are gathered.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Batches open at once (each holds a connection until it has committed; one whose
    /// late turns still run keeps it until they end, outside this count). Fewer batches
    /// gather more turns each: fewer statements and commits, a little more waiting. One is
    /// best on the 2-core machine (README, "Mix A on PostgreSQL": a third less CPU per turn
    /// than 4, and no slower) now that slow turns detach.
    pub batches: usize,
    /// Batches whose late turns may still run at once, each keeping its connection.
    pub late_turns: usize,
    /// How long a batch waits for its slowest turn (one that is slow without saying so)
    /// before committing the others, if it may keep its connection for late turns.
    pub detach_after: Duration,
}

impl Default for Batching {
    fn default() -> Batching {
        Batching {
            batches: 1,
            late_turns: 16,
            detach_after: Duration::from_millis(200),
        }
    }
}

/// A turn asking to start.
struct Begin {
    key: SessionKey,
    answer: oneshot::Sender<Result<(Option<StoredSession>, BatchTurn), StoreError>>,
}

/// A session as loaded, with the standing of the member it is about.
struct Loaded {
    session: StoredSession,
    member_standing: Option<(MemberId, Standing)>,
}

/// How one turn of a batch ended.
enum Ending {
    /// With writes, and where the batch tells how committing them went.
    Finished {
        key: SessionKey,
        writes: TurnWrites,
        committed: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Dropped unfinished (it failed, or its caller stopped waiting): nothing to write.
    Abandoned(SessionKey),
    /// Still running, and about to wait on something slow (`SessionTurn::detach`).
    Detached(SessionKey),
}

/// Starts turns in batches; cheap to share (the batches run on their own tasks).
pub(super) struct TurnBatcher {
    requests: mpsc::UnboundedSender<Begin>,
}

impl TurnBatcher {
    /// Starts the task gathering turns into batches on connections of `pool`; it ends when
    /// the batcher is dropped.
    pub(super) fn start(pool: Pool, batching: Batching) -> TurnBatcher {
        let (requests, queue) = mpsc::unbounded_channel();
        let batches = Batches {
            pool,
            slots: Arc::new(Semaphore::new(batching.batches.max(1))),
            late: Arc::new(Semaphore::new(batching.late_turns.max(1))),
            detach_after: batching.detach_after,
        };
        tokio::spawn(gather(queue, batches));
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

/// The batch task stopped before answering (its connection failed with turns still
/// running, or the runtime is shutting down).
#[derive(Debug, Error)]
#[error("the turn's batch stopped before it ended")]
struct BatchLost;

fn lost() -> StoreError {
    StoreError::Database(DbError::Backend(BackendError::new(BatchLost)))
}

/// Where batches run: their connections, the slots for batches committing and for batches
/// whose late turns still run (or whose one turn waits for its session), and how long a
/// batch waits for its turns.
#[derive(Clone)]
struct Batches {
    pool: Pool,
    slots: Arc<Semaphore>,
    late: Arc<Semaphore>,
    detach_after: Duration,
}

/// Gathers waiting turns into batches while every slot is busy.
async fn gather(mut queue: mpsc::UnboundedReceiver<Begin>, batches: Batches) {
    // A session's second turn found in one batch waits for the next one: advisory locks are
    // re-entrant on one connection, so in one batch the two would not keep each other out
    // (and one unlock would not let the session go). (The engine's own per-session locks
    // make this rare.)
    let mut held_over: Vec<Begin> = Vec::new();
    loop {
        let first = match held_over.pop() {
            Some(begin) => begin,
            None => match queue.recv().await {
                Some(begin) => begin,
                None => return,
            },
        };
        let Ok(slot) = batches.slots.clone().acquire_owned().await else {
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
        let batches = batches.clone();
        tokio::spawn(async move { run_batch(&batches, batch, slot).await });
    }
}

/// One batch: begins every turn, waits for them, commits what they wrote, then what its
/// late turns write.
///
/// `slot` is given back once the batch has committed: its late turns, if any, keep the
/// connection (one of `batches.late`, for which the pool has room) but not the slot, so that
/// turns waiting on something slow do not hold up new batches.
async fn run_batch(batches: &Batches, batch: Vec<Begin>, slot: OwnedSemaphorePermit) {
    // A caller that stopped waiting is left out before its session is locked.
    let batch: Vec<Begin> = batch
        .into_iter()
        .filter(|begin| !begin.answer.is_closed())
        .collect();
    if batch.is_empty() {
        return;
    }
    let connection = match BatchConnection::open(&batches.pool).await {
        Ok(connection) => connection,
        Err(error) => return fail(batch, &error),
    };
    let keys: Vec<SessionKey> = batch.iter().map(|begin| begin.key.clone()).collect();
    let (held_elsewhere, loaded) = match connection.lock_and_load(&keys, Locking::IfFree).await {
        Ok(locked) => locked,
        Err(error) => return fail(batch, &error),
    };
    let (batch, keys) = if held_elsewhere.is_empty() {
        (batch, keys)
    } else {
        let (batch, held): (Vec<Begin>, Vec<Begin>) = batch
            .into_iter()
            .partition(|begin| !held_elsewhere.contains(begin.key.as_str()));
        for begin in held {
            tokio::spawn(run_alone(batches.clone(), begin));
        }
        let keys = batch.iter().map(|begin| begin.key.clone()).collect();
        (batch, keys)
    };
    if batch.is_empty() {
        // Nothing locked: the connection is clean.
        return connection.give_back();
    }
    let (mut endings, mut running) = hand_out(batch, loaded);

    let deadline = Instant::now() + batches.detach_after;
    let (finished, _late) = on_time(&mut endings, &mut running, deadline, &batches.late).await;
    if !running.is_empty() {
        tracing::debug!(late = running.len(), "turns outlived their batch");
    }
    // Every session but the late turns' is let go: finished, or dropped unfinished.
    let ended: Vec<&str> = keys
        .iter()
        .filter(|key| !running.contains(*key))
        .map(SessionKey::as_str)
        .collect();
    let writes: Vec<(&SessionKey, &TurnWrites)> = finished
        .iter()
        .map(|(key, writes, _)| (key, writes))
        .collect();
    let (written, let_go) = connection.write_and_let_go(&writes, &ended).await;
    for (_, _, committed) in finished {
        let _ = committed.send(written.clone());
    }
    drop(slot);
    if written.is_err() || !let_go {
        // Closing the connection lets the late turns' sessions go; their `finish` finds
        // the batch gone.
        return;
    }
    if commit_late_turns(&connection, &mut endings, &mut running).await {
        connection.give_back();
    }
}

/// A turn whose session another connection holds or waits for (a turn of it in another
/// instance): it waits for the lock on a connection of its own, in PostgreSQL's queue (turns
/// of one session asked for in several instances still run in the order they asked), outside
/// the batch slot, and as one of `batches.late` (turns waiting so never take the connections
/// new batches need); then it runs as a late turn does.
async fn run_alone(batches: Batches, begin: Begin) {
    let Ok(_late) = batches.late.clone().acquire_owned().await else {
        return;
    };
    if begin.answer.is_closed() {
        return;
    }
    let connection = match BatchConnection::open(&batches.pool).await {
        Ok(connection) => connection,
        Err(error) => return fail(vec![begin], &error),
    };
    let keys = [begin.key.clone()];
    let loaded = match connection.lock_and_load(&keys, Locking::Waiting).await {
        Ok((_, loaded)) => loaded,
        Err(error) => return fail(vec![begin], &error),
    };
    let (mut endings, mut running) = hand_out(vec![begin], loaded);
    if commit_late_turns(&connection, &mut endings, &mut running).await {
        connection.give_back();
    }
}

/// Hands each turn of `batch` its session as `loaded`. Returns where the turns tell how they
/// end, and the sessions of the turns now running.
fn hand_out(
    batch: Vec<Begin>,
    mut loaded: HashMap<String, Loaded>,
) -> (mpsc::UnboundedReceiver<Ending>, HashSet<SessionKey>) {
    let (ending, endings) = mpsc::unbounded_channel();
    let mut running = HashSet::with_capacity(batch.len());
    for begin in batch {
        let (session, member_standing) = match loaded.remove(begin.key.as_str()) {
            Some(loaded) => (Some(loaded.session), loaded.member_standing),
            None => (None, None),
        };
        running.insert(begin.key.clone());
        let turn = BatchTurn {
            key: begin.key,
            ending: Some(ending.clone()),
            member_standing,
        };
        // A caller gone by now drops its turn, which ends it abandoned.
        let _ = begin.answer.send(Ok((session, turn)));
    }
    (endings, running)
}

/// A finished turn's key, writes, and where to tell how committing them went.
type Finished = (
    SessionKey,
    TurnWrites,
    oneshot::Sender<Result<(), StoreError>>,
);

/// The turns that finished in time: the batch waits for each turn until `deadline`, and
/// for a detached one not at all, but lets turns outlive it only with a permit of `late`
/// (returned with them); without one it waits on. Those still `running` then are late.
async fn on_time(
    endings: &mut mpsc::UnboundedReceiver<Ending>,
    running: &mut HashSet<SessionKey>,
    deadline: Instant,
    late: &Arc<Semaphore>,
) -> (Vec<Finished>, Option<OwnedSemaphorePermit>) {
    let mut finished = Vec::new();
    let mut detached = HashSet::new();
    while !running.is_empty() {
        let awaited = running.iter().any(|key| !detached.contains(key));
        let end = if awaited && Instant::now() < deadline {
            match tokio::time::timeout_at(deadline, endings.recv()).await {
                Ok(end) => end,
                // Time's up: the turns still running may now be let outlive the batch.
                Err(_) => continue,
            }
        } else {
            tokio::select! {
                // A turn that has ended is never taken as late.
                biased;
                end = endings.recv() => end,
                permit = late.clone().acquire_owned() => return (finished, permit.ok()),
            }
        };
        // `None` cannot happen (every turn ends once); should it, the turns still running
        // are late, and the connection is closed once the batch has committed.
        let Some(end) = end else {
            break;
        };
        match end {
            Ending::Detached(key) => {
                detached.insert(key);
            }
            Ending::Finished {
                key,
                writes,
                committed,
            } => {
                running.remove(&key);
                finished.push((key, writes, committed));
            }
            Ending::Abandoned(key) => {
                running.remove(&key);
            }
        }
    }
    (finished, None)
}

/// The late turns, as each ends: written alone on the batch's connection, their session let
/// go after. Whether the connection is clean again (no session locked); when it is not,
/// dropping it closes it and releases what it holds.
async fn commit_late_turns(
    connection: &BatchConnection,
    endings: &mut mpsc::UnboundedReceiver<Ending>,
    running: &mut HashSet<SessionKey>,
) -> bool {
    while !running.is_empty() {
        // `None` cannot happen (every turn ends once); should it, the connection is not
        // clean.
        let Some(end) = endings.recv().await else {
            return false;
        };
        let (written, let_go) = match end {
            // Late already.
            Ending::Detached(_) => continue,
            Ending::Finished {
                key,
                writes,
                committed,
            } => {
                running.remove(&key);
                let result = connection
                    .write_and_let_go(&[(&key, &writes)], &[key.as_str()])
                    .await;
                let _ = committed.send(result.0.clone());
                result
            }
            Ending::Abandoned(key) => {
                running.remove(&key);
                connection.write_and_let_go(&[], &[key.as_str()]).await
            }
        };
        if written.is_err() || !let_go {
            return false;
        }
    }
    true
}

fn fail(batch: Vec<Begin>, error: &StoreError) {
    for begin in batch {
        let _ = begin.answer.send(Err(error.clone()));
    }
}

/// One turn of a batch.
struct BatchTurn {
    key: SessionKey,
    /// To the batch; taken by `finish`, or by `drop` for a turn that never finished.
    ending: Option<mpsc::UnboundedSender<Ending>>,
    member_standing: Option<(MemberId, Standing)>,
}

#[async_trait::async_trait]
impl SessionTurn for BatchTurn {
    async fn finish(mut self: Box<Self>, writes: TurnWrites) -> Result<(), StoreError> {
        let ending = self.ending.take().ok_or_else(lost)?;
        let (committed, commit) = oneshot::channel();
        let finished = Ending::Finished {
            key: self.key.clone(),
            writes,
            committed,
        };
        ending.send(finished).map_err(|_| lost())?;
        commit.await.map_err(|_| lost())?
    }

    fn member_standing(&self) -> Option<(MemberId, Standing)> {
        self.member_standing.clone()
    }

    fn detach(&self) {
        if let Some(ending) = &self.ending {
            let _ = ending.send(Ending::Detached(self.key.clone()));
        }
    }
}

impl Drop for BatchTurn {
    fn drop(&mut self) {
        if let Some(ending) = self.ending.take() {
            let _ = ending.send(Ending::Abandoned(self.key.clone()));
        }
    }
}

/// How a batch takes its sessions' locks.
#[derive(Clone, Copy)]
enum Locking {
    /// Those no other connection holds or waits for, at once.
    IfFree,
    /// Each, once it is free.
    Waiting,
}

/// A batch's connection. Dropped anywhere but in `give_back` (a statement failed, or the
/// task was cancelled), it closes the connection, which releases every lock it holds,
/// where pooling it would hand them to the next batch.
struct BatchConnection {
    client: Option<Object>,
}

impl BatchConnection {
    async fn open(pool: &Pool) -> Result<BatchConnection, StoreError> {
        Ok(BatchConnection {
            client: Some(connection(pool).await?),
        })
    }

    fn client(&self) -> &Object {
        // Only `give_back` empties it, and it consumes the connection.
        self.client
            .as_ref()
            .expect("a batch's connection is there until given back")
    }

    /// Locks the sessions (those free, or each once it is, as `locking` says) and loads
    /// them: one round trip (pipelined; the server still runs the statements in order).
    /// Returns the sessions held elsewhere (neither locked nor loaded) and the others as
    /// loaded.
    async fn lock_and_load(
        &self,
        keys: &[SessionKey],
        locking: Locking,
    ) -> Result<(HashSet<String>, HashMap<String, Loaded>), StoreError> {
        let client = self.client();
        let lock = client
            .prepare_cached(match locking {
                Locking::IfFree => LOCK_ALL,
                Locking::Waiting => WAIT_FOR_ALL,
            })
            .await?;
        let load = client.prepare_cached(LOAD_ALL).await?;
        let keys: Vec<&str> = keys.iter().map(SessionKey::as_str).collect();
        let keys: [&(dyn ToSql + Sync); 1] = [&keys];
        let lock = async {
            let rows = client.query(&lock, &keys).await?;
            Ok::<HashSet<String>, tokio_postgres::Error>(match locking {
                Locking::IfFree => rows.iter().map(|row| row.get(0)).collect(),
                Locking::Waiting => HashSet::new(),
            })
        };
        let (held, rows) = tokio::try_join!(lock, client.query(&load, &keys))?;
        let loaded = rows
            .iter()
            .filter(|row| !held.contains(row.get::<_, &str>(0)))
            .map(|row| {
                let session = StoredSession {
                    updated_at: Timestamp(unsigned(row.get(1))),
                    data: row.get(2),
                };
                // No standing stored is the default one.
                let member_standing = row.get::<_, Option<String>>(3).map(|member| {
                    let standing: Option<&str> = row.get(4);
                    (MemberId::from_stored(member), decode_standing(standing))
                });
                let loaded = Loaded {
                    session,
                    member_standing,
                };
                (row.get(0), loaded)
            })
            .collect();
        Ok((held, loaded))
    }

    /// Writes what `writes` hold in one statement (so one commit; none when there is
    /// nothing to write), then lets the `ended` sessions go, pipelined. Returns how the
    /// write went, and whether the sessions were let go (when not, the connection must be
    /// closed, which lets them go).
    async fn write_and_let_go(
        &self,
        writes: &[(&SessionKey, &TurnWrites)],
        ended: &[&str],
    ) -> (Result<(), StoreError>, bool) {
        let client = self.client();
        let prepared = tokio::try_join!(
            client.prepare_cached(WRITE_ALL),
            client.prepare_cached(UNLOCK)
        );
        let (write_all, unlock) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => return (Err(error.into()), false),
        };
        let states = SavedStates::of(writes);
        let lines = WrittenLines::of(writes);
        // Prepared first, so that each request leaves in order when first polled.
        let write = async {
            if states.keys.is_empty() && lines.trimmed.is_empty() {
                return Ok(());
            }
            let parameters: [&(dyn ToSql + Sync); 9] = [
                &states.keys,
                &states.updated_at,
                &states.data,
                &states.members,
                &lines.keys,
                &lines.numbers,
                &lines.lines,
                &lines.trimmed,
                &lines.below,
            ];
            client.execute(&write_all, &parameters).await.map(drop)
        };
        let let_go = async {
            if ended.is_empty() {
                return Ok(true);
            }
            client
                .query_one(&unlock, &[&ended])
                .await
                .map(|row| row.get::<_, Option<bool>>(0) == Some(true))
        };
        let (written, let_go) = tokio::join!(write, let_go);
        let let_go = match let_go {
            Ok(all_held) => {
                if !all_held {
                    tracing::error!("a batch's connection did not hold its sessions' locks");
                }
                all_held
            }
            Err(_) => false,
        };
        (written.map_err(StoreError::from), let_go)
    }

    /// Back to the pool: only once no session is locked.
    fn give_back(mut self) {
        self.client = None;
    }
}

impl Drop for BatchConnection {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

/// The session states of a batch, as `WRITE_ALL`'s first columns.
#[derive(Default)]
struct SavedStates<'a> {
    keys: Vec<&'a str>,
    updated_at: Vec<i64>,
    data: Vec<&'a [u8]>,
    members: Vec<Option<&'a str>>,
}

impl<'a> SavedStates<'a> {
    fn of(writes: &[(&'a SessionKey, &'a TurnWrites)]) -> SavedStates<'a> {
        let mut states = SavedStates::default();
        for (key, writes) in writes {
            if let Some(session) = &writes.session {
                states.keys.push(key.as_str());
                states.updated_at.push(bigint(session.updated_at.0));
                states.data.push(&session.data);
                states
                    .members
                    .push(writes.member.as_ref().map(MemberId::as_str));
            }
        }
        states
    }
}

/// The transcript lines of a batch, as `WRITE_ALL`'s last columns: every line with its
/// session and number, and for each session the number below which lines are forgotten so
/// that its last `keep` remain.
#[derive(Default)]
struct WrittenLines<'a> {
    keys: Vec<&'a str>,
    numbers: Vec<i64>,
    lines: Vec<&'a [u8]>,
    trimmed: Vec<&'a str>,
    below: Vec<i64>,
}

impl<'a> WrittenLines<'a> {
    fn of(writes: &[(&'a SessionKey, &'a TurnWrites)]) -> WrittenLines<'a> {
        let mut written = WrittenLines::default();
        for (key, writes) in writes {
            let Some(transcript) = &writes.transcript else {
                continue;
            };
            let (numbers, below) =
                numbered(transcript.first, transcript.lines.len(), transcript.keep);
            for (number, line) in numbers.into_iter().zip(&transcript.lines) {
                written.keys.push(key.as_str());
                written.numbers.push(number);
                written.lines.push(line);
            }
            written.trimmed.push(key.as_str());
            written.below.push(below);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{options, stores};
    use super::*;
    use crate::store::TranscriptLines;
    use crate::store::tests::{key, session};

    /// Transcript lines that name their session, so that one session's lines written under
    /// another's key would show.
    fn lines_of(key: &SessionKey, numbers: std::ops::Range<u64>) -> Vec<Vec<u8>> {
        numbers
            .map(|n| format!("{} line {n}", key.as_str()).into_bytes())
            .collect()
    }

    /// A turn's writes: its state, and two lines from `first_line`, keeping the last three.
    fn writes(key: &SessionKey, at: u64, data: &[u8], first_line: u64) -> TurnWrites {
        TurnWrites {
            transcript: Some(TranscriptLines {
                first: first_line,
                lines: lines_of(key, first_line..first_line + 2),
                keep: 3,
            }),
            session: Some(session(at, data)),
            member: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_finds_the_standing_of_its_sessions_member_read_with_the_session() {
        use crate::security::lockout::CodeEvent;
        let (_cluster, stores) = stores().await;
        let (sessions, guard) = (stores.sessions.clone(), stores.guard.clone());
        let (key, member) = (key("about-siti"), MemberId::from_stored("M-siti".into()));
        let (_, turn) = sessions.begin_turn(&key).await.expect("begin");
        assert_eq!(
            turn.member_standing(),
            None,
            "a new session is about no one"
        );
        turn.finish(TurnWrites {
            member: Some(member.clone()),
            ..writes(&key, 1, b"about siti", 0)
        })
        .await
        .expect("commit");

        let (_, turn) = sessions.begin_turn(&key).await.expect("begin");
        assert_eq!(
            turn.member_standing(),
            Some((member.clone(), Standing::default())),
            "no standing stored is the default one"
        );
        turn.finish(TurnWrites {
            member: Some(member.clone()),
            ..writes(&key, 2, b"about siti", 2)
        })
        .await
        .expect("commit");
        // A wrong code typed in another session of the member: the next turn reads it.
        let now = Timestamp(1_800_000_000_000);
        let wrong = guard
            .record(&member, CodeEvent::Wrong, now)
            .await
            .expect("record");
        let (_, turn) = sessions.begin_turn(&key).await.expect("begin");
        assert_eq!(turn.member_standing(), Some((member, wrong)));
        turn.finish(writes(&key, 3, b"about no one", 4))
            .await
            .expect("commit");
        let (_, turn) = sessions.begin_turn(&key).await.expect("begin");
        assert_eq!(turn.member_standing(), None, "saved about no one");
        turn.finish(TurnWrites::default()).await.expect("finish");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_begun_at_once_share_statements_and_each_keeps_its_own_writes() {
        let (cluster, stores) = stores().await;
        let sessions = stores.sessions.clone();
        // Three rounds of 40 sessions at once (forty times the batch slot): each turn writes
        // two lines and a state; one turn of each round fails (dropped unfinished).
        for round in 0..3u64 {
            let mut turns = tokio::task::JoinSet::new();
            for i in 0..40 {
                let sessions = sessions.clone();
                turns.spawn(async move {
                    let key = key(&format!("member-{i}"));
                    let (loaded, turn) = sessions.begin_turn(&key).await.expect("begin");
                    let data = format!("{} round {round}", key.as_str()).into_bytes();
                    let expected = (round > 0 && i != 7).then(|| {
                        session(
                            round,
                            format!("{} round {}", key.as_str(), round - 1).as_bytes(),
                        )
                    });
                    assert_eq!(loaded, expected, "{key:?} as the last round left it");
                    if i == 7 {
                        return drop(turn);
                    }
                    turn.finish(writes(&key, round + 1, &data, round * 2))
                        .await
                        .expect("commit");
                });
            }
            turns.join_all().await;
        }
        for i in [0, 3, 39] {
            let key = key(&format!("member-{i}"));
            assert_eq!(
                sessions.transcript(&key, 6).await.expect("lines"),
                lines_of(&key, 3..6),
                "the last three of its own six lines"
            );
        }
        assert_eq!(sessions.load(&key("member-7")).await.expect("load"), None);
        // Rows written by one statement (one transaction) share its id (`xmin`).
        let transactions = cluster
            .psql(
                &cluster.url(),
                "SELECT count(DISTINCT xmin::text) FROM sessions WHERE key LIKE '%member-%'",
            )
            .expect("psql");
        let transactions: usize = transactions.trim().parse().expect("a count");
        assert!(
            transactions < 39,
            "39 turns saved by {transactions} transactions"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_held_in_another_instance_holds_up_no_other_session() {
        let (cluster, first) = stores().await;
        let second = super::super::open(&options(&cluster))
            .await
            .expect("second instance");
        let (held, free) = (key("held"), key("free"));
        let (_, holding) = first.sessions.begin_turn(&held).await.expect("begin");

        // The second instance is asked for both: the held session waits for the first
        // instance's turn, and the free one goes on meanwhile.
        let waiting = tokio::spawn({
            let (sessions, held) = (second.sessions.clone(), held.clone());
            async move {
                let (loaded, turn) = sessions.begin_turn(&held).await?;
                turn.finish(writes(&held, 2, b"second", 2)).await?;
                Ok::<_, StoreError>(loaded)
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, free_turn) =
            tokio::time::timeout(Duration::from_secs(10), second.sessions.begin_turn(&free))
                .await
                .expect("the free session is not held up")
                .expect("begin");
        free_turn
            .finish(writes(&free, 1, b"free", 0))
            .await
            .expect("commit");
        assert!(!waiting.is_finished(), "the held session still waits");

        holding
            .finish(writes(&held, 1, b"first", 0))
            .await
            .expect("commit");
        // The first instance's next turn of the session comes after the one that waited.
        let (after, turn) =
            tokio::time::timeout(Duration::from_secs(10), first.sessions.begin_turn(&held))
                .await
                .expect("begun after the waiting turn")
                .expect("begin");
        assert_eq!(
            after,
            Some(session(2, b"second")),
            "first come, first served"
        );
        turn.finish(TurnWrites::default()).await.expect("finish");
        let loaded = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("begun once the first instance let it go")
            .expect("task")
            .expect("begin and commit");
        assert_eq!(
            loaded,
            Some(session(1, b"first")),
            "the second turn found what the first wrote"
        );
        assert_eq!(
            first.sessions.load(&held).await.expect("load"),
            Some(session(2, b"second"))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_lets_a_detached_turn_outlive_it_only_with_a_connection_to_spare() {
        let (cluster, _) = stores().await;
        // Batches that wait for their turns as long as a test may hold one, one at a time,
        // and one connection for late turns.
        let mut one_late = options(&cluster);
        one_late.batching.batches = 1;
        one_late.batching.late_turns = 1;
        let sessions = super::super::open(&one_late).await.expect("open").sessions;
        let within = Duration::from_secs(10);
        let (a, b, c) = (key("a"), key("b"), key("c"));

        // A detaches: its batch commits without it and lets its slot go.
        let (_, a_turn) = sessions.begin_turn(&a).await.expect("begin");
        a_turn.detach();
        let (_, b_turn) = tokio::time::timeout(within, sessions.begin_turn(&b))
            .await
            .expect("A's batch let its slot go")
            .expect("begin");
        // B detaches too, but A's batch keeps the only connection for late turns: B's
        // batch waits for B, and C waits for the slot, for as long as it takes. (Were B
        // let outlive its batch, C's batch would find no connection left, and fail once
        // the pool gave up waiting.)
        b_turn.detach();
        let c_begins = sessions.begin_turn(&c);
        tokio::pin!(c_begins);
        let longer_than_a_pool_waits = super::super::POOL_TIMEOUT + Duration::from_secs(1);
        let waiting = tokio::time::timeout(longer_than_a_pool_waits, &mut c_begins).await;
        assert!(waiting.is_err(), "C waits for B's batch");
        a_turn
            .finish(writes(&a, 1, b"a", 0))
            .await
            .expect("A commits late");
        // A's connection is free again: B may outlive its batch, and C begins.
        let (_, c_turn) = tokio::time::timeout(within, c_begins)
            .await
            .expect("C begins once A has ended")
            .expect("begin");
        c_turn
            .finish(writes(&c, 1, b"c", 0))
            .await
            .expect("C commits");
        b_turn
            .finish(writes(&b, 1, b"b", 0))
            .await
            .expect("B commits late");
        for (key, data) in [(&a, b"a"), (&b, b"b"), (&c, b"c")] {
            assert_eq!(
                sessions.load(key).await.expect("load"),
                Some(session(1, data))
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_turn_keeps_its_session_locked_until_it_commits_or_is_dropped() {
        let (cluster, _) = stores().await;
        let mut quick = options(&cluster);
        quick.batching.detach_after = Duration::from_millis(50);
        // One batch slot: a batch whose turn is late must give its slot back.
        quick.batching.batches = 1;
        let first = super::super::open(&quick).await.expect("first instance");
        let second = super::super::open(&options(&cluster))
            .await
            .expect("second instance");
        let slow = key("slow");

        // Late (its batch committed without it long ago), yet the session stays locked:
        // the other instance waits, then finds what the late turn wrote.
        let (_, late) = first.sessions.begin_turn(&slow).await.expect("begin");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let quick_key = key("quick");
        let quick_turn = async {
            let (_, turn) = first.sessions.begin_turn(&quick_key).await?;
            turn.finish(writes(&quick_key, 1, b"quick", 0)).await
        };
        tokio::time::timeout(Duration::from_secs(5), quick_turn)
            .await
            .expect("another turn is not held up by the late one")
            .expect("committed");
        let waiting = tokio::time::timeout(
            Duration::from_millis(300),
            second.sessions.begin_turn(&slow),
        )
        .await;
        assert!(
            waiting.is_err(),
            "the other instance waits for the late turn"
        );
        late.finish(writes(&slow, 1, b"late", 0))
            .await
            .expect("the late turn commits");
        let (loaded, turn) =
            tokio::time::timeout(Duration::from_secs(10), second.sessions.begin_turn(&slow))
                .await
                .expect("let go once committed")
                .expect("begin");
        assert_eq!(loaded, Some(session(1, b"late")));
        assert_eq!(
            second.sessions.transcript(&slow, 2).await.expect("lines"),
            lines_of(&slow, 0..2)
        );
        turn.finish(TurnWrites::default()).await.expect("finish");

        // Late and then dropped (a failed turn): nothing written, the session let go.
        let (_, late) = first.sessions.begin_turn(&slow).await.expect("begin");
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(late);
        let (loaded, turn) =
            tokio::time::timeout(Duration::from_secs(10), second.sessions.begin_turn(&slow))
                .await
                .expect("let go once dropped")
                .expect("begin");
        assert_eq!(loaded, Some(session(1, b"late")));
        turn.finish(TurnWrites::default()).await.expect("finish");
        let held = cluster
            .psql(
                &cluster.url(),
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            )
            .expect("psql");
        assert_eq!(held.trim(), "0", "no session left locked");
    }
}
