//! The embedded backend: every store in one sled database in `TANYA_DATA_DIR`. The only
//! module that names sled (a test in `store` fails otherwise).

mod channel_queue;
mod codes;
mod db;
mod member_guard;
mod members;
mod page_tokens;
mod sessions;

pub use channel_queue::SledChannelQueue;
pub use codes::SledOutbox;
pub use db::{DEFAULT_CACHE_BYTES, DEFAULT_COMMIT_DELAY, Database, Options};
pub use member_guard::SledMemberGuard;
pub use members::SledMemberStore;
pub use page_tokens::SledPageTokens;
pub use sessions::SledSessionStore;

use std::sync::Arc;

use crate::members::DirectoryError;
use crate::outbox::OutboxError;
use crate::store::{DbError, OpenError, StoreError, Stores};

/// Runs a scan that may take a while (a sweep over many records) on a blocking thread, so
/// that it never holds up the turns on the async threads.
async fn off_the_executor<T, E>(
    scan: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    tokio::task::spawn_blocking(scan)
        .await
        .unwrap_or_else(|_| Err(E::from(DbError::TaskStopped)))
}

/// Every store, in `database`.
pub(super) fn stores(database: Database) -> Result<Stores, OpenError> {
    Ok(Stores {
        sessions: Arc::new(SledSessionStore::new(&database)?),
        guard: Arc::new(SledMemberGuard::new(&database)?),
        members: Arc::new(SledMemberStore::new(&database)?),
        codes: Arc::new(SledOutbox::new(&database)?),
        channel_queue: Arc::new(SledChannelQueue::new(&database)?),
        page_tokens: Arc::new(SledPageTokens::new(&database)?),
        durability: Arc::new(database.clone()),
        embedded: Some(database),
        kept_key: None,
    })
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        StoreError::Database(DbError::from(error))
    }
}

impl From<sled::Error> for DirectoryError {
    fn from(error: sled::Error) -> Self {
        DirectoryError::Database(DbError::from(error))
    }
}

impl From<sled::Error> for OutboxError {
    fn from(error: sled::Error) -> Self {
        OutboxError::Database(DbError::from(error))
    }
}
