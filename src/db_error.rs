//! What can go wrong with a database (sled, PostgreSQL) and the records it keeps. Every trait a database implements
//! names it (the stores, the member directory, the demo code outbox), so it lives below all of
//! them and names nothing in the crate; `store` re-exports it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

/// An error of the storage engine underneath (sled, PostgreSQL), kept opaque so that code
/// outside `store/` never names the engine; cloning shares it.
#[derive(Clone)]
pub struct BackendError(Arc<dyn std::error::Error + Send + Sync>);

impl BackendError {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> BackendError {
        BackendError(Arc::new(error))
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// What can go wrong with the database itself.
#[derive(Debug, Clone, Error)]
pub enum DbError {
    /// The database could not be opened (missing permissions, locked by another process,
    /// not a database of ours).
    #[error("cannot open the database in {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: BackendError,
    },
    /// The data directory could not be created, or made private to the server's user
    /// (0700, its files 0600): the server refuses to start rather than keep members' data
    /// readable by other users of the machine.
    #[error("the data directory {path} cannot be made private to this user: {message}")]
    NotPrivate { path: PathBuf, message: String },
    /// A read, write or flush failed in the storage engine.
    #[error("database operation failed")]
    Backend(#[source] BackendError),
    /// The flusher died while flushing (a panic inside the engine); the writes may not be
    /// on disk.
    #[error("the database flusher stopped before finishing")]
    FlusherStopped,
    /// A blocking task of the store (a sweep) panicked or was cancelled before finishing.
    #[error("a database task stopped before finishing")]
    TaskStopped,
    /// A record the store keeps for itself (the server key, a queued call's key) is not
    /// what it wrote.
    #[error("the stored {what} is corrupt")]
    Corrupt { what: &'static str },
    /// A schema migration failed; the database keeps the previous version.
    #[error("database migration {version} failed")]
    Migration {
        version: i32,
        #[source]
        source: BackendError,
    },
    /// `make_durable` was awaited outside a tokio runtime, where no blocking thread can flush.
    #[error("making writes durable needs a tokio runtime")]
    NoRuntime,
}

/// What can go wrong loading or saving a stored record (a session, a member's standing, a
/// password-page link).
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// The underlying database failed.
    #[error("session database failed")]
    Database(#[from] DbError),
    /// The stored record for this key cannot be decoded (too short to hold its timestamp).
    #[error("stored session {key} is corrupt")]
    Corrupt { key: String },
}
