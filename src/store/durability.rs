//! Waiting until the writes of every store survive a crash.

use std::future::Future;
use std::pin::Pin;

use crate::db_error::DbError;

/// Something that can make the writes made so far survive a crash.
///
/// The engine holds this as `Arc<dyn Durability>`, so the in-memory stack of tests and the
/// conversation runner can skip disk flushes entirely.
pub trait Durability: Send + Sync {
    /// Resolves once every write made before the call is durable.
    fn make_durable(&self) -> Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + '_>>;
}

/// Durability for in-memory stores: there is no disk, so there is nothing to wait for.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDurability;

impl Durability for NoDurability {
    fn make_durable(&self) -> Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + '_>> {
        Box::pin(std::future::ready(Ok(())))
    }
}
