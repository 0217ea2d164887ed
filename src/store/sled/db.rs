//! The sled database: opening it, handing out trees, and making writes durable with one
//! group-commit flusher shared by every concurrent caller.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{BackendError, DbError, Durability};

/// The page cache of `Database::open`.
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;
/// How long the flusher waits before a flush while callers keep arriving (see `Options`).
pub const DEFAULT_COMMIT_DELAY: Duration = Duration::from_micros(1500);

/// How a database is opened.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The most sled's page cache may hold (sled's own default is 1 GiB, which it fills as the
    /// data grows).
    pub cache_bytes: u64,
    /// Under load, the flusher waits this long before each flush so that one disk flush
    /// serves more turns (group commit with a commit delay, as PostgreSQL's `commit_delay`).
    /// It waits only when the previous flush served more than one caller: a lone turn is
    /// flushed at once. Measured under Mix A at 200 sessions (README, "Benchmarks"), 1.5 ms
    /// cut flushes from ~2,100/s to ~400/s and raised throughput by a quarter.
    pub commit_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cache_bytes: DEFAULT_CACHE_BYTES,
            commit_delay: DEFAULT_COMMIT_DELAY,
        }
    }
}

impl From<sled::Error> for DbError {
    fn from(error: sled::Error) -> Self {
        DbError::Backend(BackendError::new(error))
    }
}

/// An open sled database. Cloning is cheap and shares the database and its flusher.
#[derive(Clone)]
pub struct Database {
    db: sled::Db,
    flusher: Arc<Flusher>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("flushes", &self.flush_count())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens (or creates) the database stored in `dir` with the default options.
    pub fn open(dir: &Path) -> Result<Database, DbError> {
        Database::open_with(dir, Options::default())
    }

    /// Opens (or creates) the database stored in `dir`, after making `dir` private (see
    /// `make_private`).
    pub fn open_with(dir: &Path, options: Options) -> Result<Database, DbError> {
        for path in make_private(dir)? {
            tracing::warn!(
                path = %path.display(),
                "data file or directory was readable by other users; made private"
            );
        }
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(options.cache_bytes)
            .open()
            .map_err(|source| DbError::Open {
                path: dir.to_path_buf(),
                source: BackendError::new(source),
            })?;
        // sled writes a snapshot while it opens, as the umask allows (usually 0644): made
        // private at once, and no warning, since that is sled's doing at every start. Files
        // sled creates later are inside a 0700 directory.
        make_private(dir)?;
        Ok(Database::from_sled(db, options.commit_delay))
    }

    /// Opens the closed database in `dir` once more and closes it, so that the next start
    /// opens it fast; returns how long that took. sled 0.34 writes its snapshot of the page
    /// table only when it opens, and an open reads back everything written since the
    /// previous open: at 1,000,000 stored sessions the first start after a busy day took
    /// 700 ms against 300 ms for the next. Run at shutdown, this moves that work from the
    /// start (when members wait) to the stop. sled may hold the directory's lock a moment
    /// after the last handle is dropped, so a refused open is retried for up to two seconds.
    pub fn write_snapshot_for_next_start(dir: &Path) -> Result<Duration, DbError> {
        let started = std::time::Instant::now();
        let options = Options {
            // Nothing is read; a small cache keeps the open from holding memory.
            cache_bytes: 1024 * 1024,
            commit_delay: Duration::ZERO,
        };
        let mut attempts = 0;
        loop {
            match Database::open_with(dir, options) {
                Ok(database) => {
                    drop(database);
                    return Ok(started.elapsed());
                }
                Err(error) if attempts < 40 => {
                    tracing::debug!(%error, "database still locked; retrying");
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Opens `dir` again right after a `Database` on it was dropped in this process (tests of
    /// restarts): sled's background thread may hold the directory's lock a moment longer, so
    /// a failed open is retried for up to five seconds.
    #[cfg(test)]
    pub fn reopen(dir: &Path) -> Database {
        for _ in 0..100 {
            if let Ok(db) = Database::open(dir) {
                return db;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Database::open(dir).expect("the database reopens")
    }

    /// A database that lives in a temporary location and disappears when dropped: for tests.
    pub fn temporary() -> Result<Database, DbError> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(|source| DbError::Open {
                path: PathBuf::from("<temporary>"),
                source: BackendError::new(source),
            })?;
        Ok(Database::from_sled(db, Duration::ZERO))
    }

    fn from_sled(db: sled::Db, commit_delay: Duration) -> Database {
        let (done, _) = watch::channel(Completion {
            generation: 0,
            result: Ok(()),
        });
        Database {
            db,
            flusher: Arc::new(Flusher {
                state: Mutex::new(FlushState::default()),
                done,
                commit_delay,
            }),
        }
    }

    /// The tree (keyspace) called `name`, created on first use.
    pub fn tree(&self, name: &str) -> Result<sled::Tree, DbError> {
        Ok(self.db.open_tree(name)?)
    }

    /// A unique, increasing id; never handed out twice, even across restarts.
    pub fn generate_id(&self) -> Result<u64, DbError> {
        Ok(self.db.generate_id()?)
    }

    /// How many disk flushes have completed since the database was opened (for metrics, and to
    /// see that group commit batches concurrent callers).
    pub fn flush_count(&self) -> u64 {
        self.flusher.done.borrow().generation
    }

    /// Returns once every write made before this call is flushed to disk.
    ///
    /// Group commit: one flush serves every caller that arrived before it started, so many
    /// concurrent turns cost a handful of flushes. sled's own `flush_async` is not used because
    /// it deadlocks under concurrent callers in sled 0.34.7.
    pub async fn make_durable(&self) -> Result<(), DbError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DbError::NoRuntime)?;
        let target = {
            let mut state = self.flusher.lock();
            // A flush that is already running may have started before our writes, so only the
            // next one to start is sure to include them.
            state.wanted = state.started + 1;
            state.callers += 1;
            if !state.running {
                state.running = true;
                let db = self.db.clone();
                let flusher = Arc::clone(&self.flusher);
                runtime.spawn_blocking(move || flush_until_idle(db, &flusher));
            }
            state.wanted
        };
        let mut done = self.flusher.done.subscribe();
        let completion = done
            .wait_for(|completion| completion.generation >= target)
            .await
            .map_err(|_| DbError::FlusherStopped)?;
        // A later generation than ours also started after our writes, so its outcome is ours.
        completion.result.clone()
    }
}

impl Durability for Database {
    fn make_durable(&self) -> Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + '_>> {
        Box::pin(Database::make_durable(self))
    }
}

/// The group-commit bookkeeping shared by callers and the flushing thread.
struct Flusher {
    state: Mutex<FlushState>,
    /// The latest finished flush; only ever moves forward.
    done: watch::Sender<Completion>,
    /// See `Options::commit_delay`.
    commit_delay: Duration,
}

impl Flusher {
    fn lock(&self) -> MutexGuard<'_, FlushState> {
        // The state is three plain fields updated together, so it is consistent even if a
        // holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, generation: u64, result: Result<(), DbError>) {
        self.done.send_if_modified(|latest| {
            if generation > latest.generation {
                *latest = Completion { generation, result };
                true
            } else {
                false
            }
        });
    }
}

#[derive(Debug, Default)]
struct FlushState {
    /// The generation the most recent caller is waiting for.
    wanted: u64,
    /// The generation of the flush started last.
    started: u64,
    /// Whether a blocking thread is flushing (or about to).
    running: bool,
    /// Callers that asked for a flush since the last one started.
    callers: u64,
    /// Whether the last flush served more than one caller: the sign of load that makes the
    /// next flush wait for company (kept across flusher runs: under load the flusher often
    /// finds nobody waiting the moment a flush ends, and the next caller starts a new run).
    busy: bool,
}

#[derive(Debug, Clone)]
struct Completion {
    generation: u64,
    result: Result<(), DbError>,
}

/// Runs on a blocking thread: flushes until no caller is waiting for a newer flush.
fn flush_until_idle(db: sled::Db, flusher: &Flusher) {
    let mut guard = StopGuard {
        flusher,
        finished: false,
    };
    loop {
        // After a quiet spell the flush is immediate: nothing suggests company is coming.
        if flusher.lock().busy && !flusher.commit_delay.is_zero() {
            std::thread::sleep(flusher.commit_delay);
        }
        // Callers that arrived during the wait are served by this flush.
        let generation = {
            let mut state = flusher.lock();
            state.started = state.wanted;
            state.busy = std::mem::take(&mut state.callers) > 1;
            state.started
        };
        let result = db.flush().map(drop).map_err(DbError::from);
        let more = {
            let mut state = flusher.lock();
            let more = state.wanted > state.started;
            if !more {
                state.running = false;
            }
            more
        };
        if !more {
            guard.finished = true;
            // Release our handle before waking the callers, so that once the last caller
            // returns and drops the database the directory can be reopened at once.
            drop(db);
            flusher.publish(generation, result);
            return;
        }
        flusher.publish(generation, result);
    }
}

/// Wakes the waiters with an error if `flush_until_idle` unwinds, and lets the next caller
/// start a new flusher instead of waiting forever.
struct StopGuard<'a> {
    flusher: &'a Flusher,
    finished: bool,
}

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let started = {
            let mut state = self.flusher.lock();
            state.running = false;
            state.started
        };
        self.flusher.publish(started, Err(DbError::FlusherStopped));
    }
}

/// Creates the data directory 0700 when it does not exist; otherwise makes it 0700 and every
/// file under it 0600 (directories 0700), and returns the paths it had to fix. Sessions,
/// transcripts, the code key and the member records live there: sled creates its files as
/// the umask allows (usually world-readable), and an operator may have created the directory
/// by hand. Symbolic links are left alone (never followed). Fails, with the path and the
/// reason, when a mode cannot be set (a directory owned by another user).
#[cfg(unix)]
pub fn make_private(dir: &Path) -> Result<Vec<PathBuf>, DbError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |path: &Path, error: std::io::Error| DbError::NotPrivate {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|error| fail(dir, error))?;
        return Ok(Vec::new());
    }
    let mut fixed = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).map_err(|error| fail(&path, error))?;
        let private = if metadata.is_dir() {
            0o700
        } else if metadata.is_file() {
            0o600
        } else {
            continue;
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & private))
                .map_err(|error| fail(&path, error))?;
            fixed.push(path.clone());
        }
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(|error| fail(&path, error))? {
                pending.push(entry.map_err(|error| fail(&path, error))?.path());
            }
        }
    }
    Ok(fixed)
}

/// Only unix has the modes to set.
#[cfg(not(unix))]
pub fn make_private(dir: &Path) -> Result<Vec<PathBuf>, DbError> {
    std::fs::create_dir_all(dir).map_err(|error| DbError::NotPrivate {
        path: dir.to_path_buf(),
        message: error.to_string(),
    })?;
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NoDurability;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn a_new_data_directory_is_created_private_and_its_files_stay_private() {
        let parent = tempfile::tempdir().expect("temp dir");
        let dir = parent.path().join("data").join("tanya");
        let db = Database::open(&dir).expect("open");
        db.tree("t")
            .expect("tree")
            .insert("k", "v")
            .expect("insert");
        db.db.flush().expect("flush");
        drop(db);
        assert_eq!(mode(&dir), 0o700);
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("list") {
            let path = entry.expect("entry").path();
            let expected = if path.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode(&path), expected, "{}", path.display());
            files += 1;
        }
        assert!(files > 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_data_directory_is_made_private_at_start() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().expect("temp dir");
        let dir = parent.path().join("data");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("otp.key"), "00").expect("write");
        std::fs::create_dir(dir.join("blobs")).expect("mkdir");
        std::fs::write(dir.join("blobs").join("1"), "x").expect("write");
        for (path, mode) in [
            (dir.clone(), 0o755),
            (dir.join("otp.key"), 0o644),
            (dir.join("blobs"), 0o777),
            (dir.join("blobs").join("1"), 0o664),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        assert_eq!(make_private(&dir).expect("made private").len(), 4);
        assert!(
            make_private(&dir).expect("private").is_empty(),
            "nothing left to fix"
        );
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("otp.key")), 0o600);
        assert_eq!(mode(&dir.join("blobs")), 0o700);
        assert_eq!(mode(&dir.join("blobs").join("1")), 0o600);
    }

    #[test]
    fn a_data_directory_that_cannot_be_created_is_a_clear_error() {
        let parent = tempfile::tempdir().expect("temp dir");
        let file = parent.path().join("a-file");
        std::fs::write(&file, "x").expect("write");
        let error = make_private(&file.join("data")).expect_err("not a directory");
        assert!(error.to_string().contains("a-file"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_all_complete_and_their_writes_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::open(dir.path()).expect("open");
        let tree = db.tree("t").expect("tree");
        let barrier = Arc::new(tokio::sync::Barrier::new(100));
        let mut tasks = Vec::new();
        for i in 0..100u32 {
            let tree = tree.clone();
            let db = db.clone();
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                tree.insert(i.to_be_bytes(), &b"value"[..]).expect("insert");
                barrier.wait().await;
                db.make_durable().await
            }));
        }
        for task in tasks {
            task.await.expect("task").expect("durable");
        }
        assert!(
            db.flush_count() < 100,
            "group commit should batch callers, got {} flushes",
            db.flush_count()
        );
        drop(tree);
        drop(db);

        let reopened = Database::reopen(dir.path());
        let tree = reopened.tree("t").expect("tree");
        for i in 0..100u32 {
            assert!(tree.get(i.to_be_bytes()).expect("get").is_some());
        }
    }

    #[tokio::test]
    async fn a_caller_after_a_finished_flush_gets_a_new_flush() {
        let db = Database::temporary().expect("temporary");
        db.make_durable().await.expect("first");
        db.make_durable().await.expect("second");
        assert_eq!(db.flush_count(), 2);
    }

    #[tokio::test]
    async fn a_lone_caller_is_flushed_at_once_whatever_the_commit_delay() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = Options {
            commit_delay: Duration::from_secs(600),
            ..Options::default()
        };
        let db = Database::open_with(dir.path(), options).expect("open");
        // A wait for company would take ten minutes; the generous timeout only catches that.
        for _ in 0..3 {
            tokio::time::timeout(Duration::from_secs(60), db.make_durable())
                .await
                .expect("no commit delay for a lone caller")
                .expect("durable");
        }
        assert_eq!(db.flush_count(), 3);
    }

    #[tokio::test]
    async fn no_durability_is_immediately_ready() {
        let durability: Arc<dyn Durability> = Arc::new(NoDurability);
        durability.make_durable().await.expect("no-op");
    }

    #[test]
    fn making_durable_outside_a_runtime_is_an_error_not_a_panic() {
        let db = Database::temporary().expect("temporary");
        let outcome = block_on_without_runtime(db.make_durable());
        assert!(matches!(outcome, Err(DbError::NoRuntime)));
    }

    /// Polls a future to completion without a tokio runtime.
    fn block_on_without_runtime<F: Future>(future: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
        }
    }
}
