//! The PostgreSQL backend (`TANYA_DATABASE_URL`): every store in one database that several
//! tanya instances share. Every write commits before it returns (a turn's state and
//! transcript in one statement), so there is nothing left to flush; migrations are applied
//! at start-up.
//!
//! Three pools, so that a turn's own statements never wait behind batches: a batch of turns
//! keeps a "turns" connection for its whole life (`turn_batches`); meanwhile its turns spend
//! member limits, record standings and hand codes over on "during turns" connections (where
//! those stores also sweep), and everything else (look-ups, the channels' queue, the other
//! sweeps) uses "general" ones.
//!
//! A write on a "during turns" connection commits without waiting for the disk
//! (`synchronous_commit = off`): it is made durable by the commit of the turn that made it,
//! which comes later in the same write-ahead log and waits for the disk up to its own record,
//! so everything before it too, before the member is answered. A turn that fails before its
//! commit may lose such a write in a database crash, as it loses everything else it did; a
//! lost token or standing is one the member never saw the answer of. (A token given back by
//! a failed turn, or a sweep, may be lost too: the member then waits a little longer.)

mod channel_queue;
mod codes;
mod member_guard;
mod members;
mod migrations;
mod page_tokens;
#[cfg(test)]
use migrations::MIGRATIONS;
mod server_key;
mod sessions;
mod turn_batches;

pub use turn_batches::Batching;

use std::str::FromStr;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::members::DirectoryError;
use crate::outbox::OutboxError;
use crate::store::{BackendError, DbError, NoDurability, OpenError, StoreError, Stores};

/// Connections per pool unless `TANYA_DB_POOL_SIZE` says otherwise: enough to keep a
/// 2-core PostgreSQL busy; more only queue inside the database.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// The longest a store call waits for a connection (from the pool, or a new one).
pub(super) const POOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How to reach the database.
#[derive(Clone)]
pub struct Options {
    /// `postgres://user:password@host:port/database` (a secret: it holds the password).
    pub url: String,
    /// Connections in the general pool, and as many in the pool for writes made during turns.
    pub pool_size: usize,
    /// How turns are begun and written together (the turns pool has a connection per batch
    /// slot and per batch whose late turns may still run).
    pub batching: Batching,
}

/// The pools of one database.
#[derive(Clone)]
struct Pools {
    turns: Pool,
    /// Writes a turn makes before its commit, which makes them durable (see above).
    during_turns: Pool,
    general: Pool,
}

/// Connects, applies the migrations, and opens every store; also reads (or creates once)
/// the server key kept in the database.
pub async fn open(options: &Options) -> Result<Stores, OpenError> {
    let config = tokio_postgres::Config::from_str(&options.url).map_err(|error| {
        DbError::Open {
            // Never the URL itself: it holds the password.
            path: "TANYA_DATABASE_URL".into(),
            source: BackendError::new(error),
        }
    })?;
    let pool = |size: usize, config: tokio_postgres::Config| {
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection broken while idle fails its next query and that turn is
                // retried by the member; checking every checkout would cost a round trip
                // per turn.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(size)
            // A database that is down or saturated fails the turn (the member is told to try
            // again) instead of holding it until the HTTP timeout.
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|error| DbError::Backend(BackendError::new(error)))
    };
    let pools = Pools {
        // One connection per batch slot, and one for each batch whose late turns may still
        // run (see `turn_batches::run_batch`).
        turns: pool(
            options.batching.batches.max(1) + options.batching.late_turns.max(1),
            with_setting(&config, TURNS_SETTING),
        )?,
        during_turns: pool(
            options.pool_size,
            with_setting(&config, DURING_TURNS_SETTING),
        )?,
        general: pool(options.pool_size, config)?,
    };
    migrations::apply(&pools.general).await?;
    let kept_key = server_key::load_or_create(&pools.general).await?;
    Ok(Stores {
        sessions: Arc::new(sessions::PgSessionStore::new(
            pools.clone(),
            options.batching,
        )),
        guard: Arc::new(member_guard::PgMemberGuard::new(pools.during_turns.clone())),
        members: Arc::new(members::PgMemberStore::new(pools.general.clone())),
        codes: Arc::new(codes::PgOutbox::new(pools.during_turns.clone())),
        channel_queue: Arc::new(channel_queue::PgChannelQueue::new(pools.general.clone())),
        page_tokens: Arc::new(page_tokens::PgPageTokens::new(pools.general.clone())),
        durability: Arc::new(NoDurability),
        embedded: None,
        kept_key: Some(kept_key),
    })
}

/// The batches' connections: every statement of a batch finds its rows by key, so a scan of
/// a whole table is never the right plan; but the planner prefers one for the transcript
/// lines while that table is small, and a connection keeps the plan it made then (a scan of
/// every line of every session at each batch once the table has grown).
///
/// The server also probes an idle connection after 30 s (then every 10 s, 3 times): a batch's
/// connection holds its sessions' locks, and those of an instance whose host vanished must
/// not wait for the system's default of two hours.
const TURNS_SETTING: &str = "-c enable_seqscan=off -c tcp_keepalives_idle=30 \
     -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3";
/// Writes made during turns commit without waiting for the disk (see the module's doc).
const DURING_TURNS_SETTING: &str = "-c synchronous_commit=off";

/// `config` with a server setting for its connections (`-c name=value`; the options in the
/// URL, if any, are kept).
fn with_setting(config: &tokio_postgres::Config, setting: &str) -> tokio_postgres::Config {
    let mut config = config.clone();
    let options = match config.get_options() {
        Some(given) => format!("{given} {setting}"),
        None => setting.to_string(),
    };
    config.options(&options);
    config
}

/// A connection of `pool`.
async fn connection(pool: &Pool) -> Result<deadpool_postgres::Object, DbError> {
    pool.get()
        .await
        .map_err(|error| DbError::Backend(BackendError::new(error)))
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        DbError::Backend(BackendError::new(error))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        StoreError::Database(DbError::from(error))
    }
}

impl From<tokio_postgres::Error> for DirectoryError {
    fn from(error: tokio_postgres::Error) -> Self {
        DirectoryError::Database(DbError::from(error))
    }
}

impl From<tokio_postgres::Error> for OutboxError {
    fn from(error: tokio_postgres::Error) -> Self {
        OutboxError::Database(DbError::from(error))
    }
}

/// Milliseconds or microseconds as PostgreSQL's `bigint`: tanya's times are far below
/// `i64::MAX`, and a larger value (a corrupt clock) saturates rather than wraps.
fn bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A `bigint` read back (a negative value, never written by tanya, reads as 0).
fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The throw-away cluster of the integration tests, for the contract tests here (which do
/// not need all of its helpers).
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../tests/support/postgres.rs"]
pub(crate) mod test_cluster;

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh cluster and every store opened on it.
    pub(super) async fn stores() -> (test_cluster::TempPostgres, Stores) {
        let cluster = tokio::task::spawn_blocking(test_cluster::TempPostgres::start)
            .await
            .expect("start");
        let stores = open(&options(&cluster)).await.expect("open");
        (cluster, stores)
    }

    /// Options for a test: a batch waits for its turns as long as a test may hold one.
    pub(super) fn options(cluster: &test_cluster::TempPostgres) -> Options {
        Options {
            url: cluster.url(),
            pool_size: 4,
            batching: Batching {
                detach_after: std::time::Duration::from_secs(60),
                ..Batching::default()
            },
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_opening_at_once_migrate_once_and_share_one_server_key() {
        let cluster = tokio::task::spawn_blocking(test_cluster::TempPostgres::start)
            .await
            .expect("start");
        let options = options(&cluster);
        let (first, second) = tokio::join!(open(&options), open(&options));
        let (first, second) = (first.expect("first"), second.expect("second"));
        assert!(first.kept_key.is_some());
        assert_eq!(first.kept_key, second.kept_key);
        let versions = cluster
            .psql(&cluster.url(), "SELECT count(*) FROM tanya_migrations")
            .expect("psql");
        assert_eq!(versions.trim(), MIGRATIONS.len().to_string());
        let again = open(&options).await.expect("a restart");
        assert_eq!(again.kept_key, first.kept_key);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_made_during_a_turn_survive_a_database_crash_once_the_turn_has_committed() {
        use crate::clock::Timestamp;
        use crate::limits::Rate;
        use crate::members::MemberId;
        use crate::security::lockout::CodeEvent;
        use crate::store::tests::{key, session};
        let (cluster, stores) = stores().await;
        let (rate, bucket) = (
            Rate::new(1, std::time::Duration::from_secs(3600)),
            [7u8; 32],
        );
        let now = Timestamp(1_800_000_000_000);
        let member = MemberId::from_stored("M-durable".into());
        let key = key("durable");
        // A turn spends a token and counts a wrong code (commits that do not wait for the
        // disk), then commits its session (which does).
        let (_, turn) = stores.sessions.begin_turn(&key).await.expect("begin");
        assert_eq!(
            stores.guard.take(&bucket, rate, now).await.expect("take"),
            Ok(())
        );
        stores
            .guard
            .record(&member, CodeEvent::Wrong, now)
            .await
            .expect("record");
        turn.finish(crate::store::TurnWrites {
            transcript: None,
            session: Some(session(1, b"answered")),
            member: None,
        })
        .await
        .expect("commit");
        drop(stores);
        let cluster = tokio::task::spawn_blocking(move || {
            cluster.crash_and_restart();
            cluster
        })
        .await
        .expect("crash and restart");
        let stores = open(&options(&cluster)).await.expect("open again");
        assert_eq!(
            stores.sessions.load(&key).await.expect("load"),
            Some(session(1, b"answered"))
        );
        assert!(
            stores
                .guard
                .take(&bucket, rate, now)
                .await
                .expect("take")
                .is_err(),
            "the token stays spent"
        );
        assert_eq!(
            stores
                .guard
                .standing(&member)
                .await
                .expect("standing")
                .wrong_codes_at(now),
            1,
            "the wrong code still counts"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_holds_its_session_against_other_instances_until_it_finishes_or_is_dropped() {
        let (cluster, first) = stores().await;
        let second = open(&options(&cluster)).await.expect("second instance");
        let key = crate::store::tests::key("shared");
        let (_, held) = first.sessions.begin_turn(&key).await.expect("begin");
        let blocked = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            second.sessions.begin_turn(&key),
        )
        .await;
        assert!(blocked.is_err(), "the other instance waits");
        held.finish(crate::store::TurnWrites {
            transcript: None,
            session: Some(crate::store::tests::session(1, b"saved")),
            member: None,
        })
        .await
        .expect("finish");
        let (loaded, held) = second.sessions.begin_turn(&key).await.expect("begin");
        assert_eq!(loaded, Some(crate::store::tests::session(1, b"saved")));

        // Now the session has a row (locked, not the key): the other instance waits again,
        // then reads what the turn wrote.
        let blocked = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            first.sessions.begin_turn(&key),
        )
        .await;
        assert!(blocked.is_err(), "the other instance waits for the row");
        held.finish(crate::store::TurnWrites {
            transcript: Some(crate::store::TranscriptLines {
                first: 0,
                lines: crate::store::tests::lines(0..2),
                keep: 5,
            }),
            session: Some(crate::store::tests::session(2, b"again")),
            member: None,
        })
        .await
        .expect("finish");
        let (loaded, turn) = first.sessions.begin_turn(&key).await.expect("begin");
        assert_eq!(loaded, Some(crate::store::tests::session(2, b"again")));
        assert_eq!(
            first.sessions.transcript(&key, 2).await.expect("lines"),
            crate::store::tests::lines(0..2),
            "state and lines written together"
        );

        // Dropped unfinished (a failed turn): nothing written, the session free again.
        drop(turn);
        let (loaded, turn) = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            second.sessions.begin_turn(&key),
        )
        .await
        .expect("not blocked by the dropped turn")
        .expect("begin");
        assert_eq!(loaded, Some(crate::store::tests::session(2, b"again")));
        turn.finish(crate::store::TurnWrites::default())
            .await
            .expect("finish");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_call_is_sent_by_one_instance_and_taken_over_when_its_lease_runs_out() {
        use crate::clock::Timestamp;
        use crate::store::channel_queue::CALL_LEASE;
        let (cluster, first) = stores().await;
        let second = open(&options(&cluster)).await.expect("second instance");
        let session = crate::store::SessionKey::new("telegram", "7").expect("key");
        let now = Timestamp(1_000_000);
        first
            .channel_queue
            .enqueue(&session, &[b"call".to_vec()], None, now)
            .await
            .expect("enqueue");
        let claimed = first.channel_queue.claim_heads(now).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        assert!(
            second
                .channel_queue
                .claim_heads(now)
                .await
                .expect("claim")
                .is_empty(),
            "leased to the first instance"
        );
        let expired = now.plus(CALL_LEASE);
        let taken = second
            .channel_queue
            .claim_heads(expired)
            .await
            .expect("claim");
        assert_eq!(
            taken.len(),
            1,
            "the first instance stopped; the second sends"
        );
        assert!(
            first
                .channel_queue
                .claim_heads(expired)
                .await
                .expect("claim")
                .is_empty(),
            "and only the second"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_postgres_store_meets_its_contract() {
        let (_cluster, stores) = stores().await;
        crate::store::tests::contract(stores.sessions.as_ref()).await;
        crate::limits::member_guard::tests::contract(stores.guard.as_ref()).await;
        crate::members::tests::contract(stores.members.as_ref()).await;
        crate::outbox::tests::contract(stores.codes.as_ref()).await;
        crate::store::channel_queue::tests::contract(stores.channel_queue.as_ref()).await;
        crate::store::page_tokens::tests::contract(stores.page_tokens.as_ref()).await;
    }
}
