//! The schema's versions (`migrations/postgres/NNNN_name.sql`), applied at start-up in order,
//! each in its own transaction with its version recorded. Instances starting at once take a
//! session-level advisory lock first: one applies, the others wait and then find nothing to do.
//! Only the database's owner is needed, never a superuser.

use deadpool_postgres::Pool;

use super::connection;
use crate::store::DbError;

/// Every migration, oldest first: (version, SQL). Versions are never reused or edited once
/// released; a change to the schema is a new file.
pub(super) const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_stores.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_page_tokens.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_session_member.sql"),
    ),
];

/// The advisory lock the migrations run under (two 32-bit keys: "tanya", "migrate"), apart
/// from the sessions' one-key locks.
const LOCK_KEYS: (i32, i32) = (0x7461_6e79, 0x6d69_6772);

/// Brings the database's schema up to date.
pub(super) async fn apply(pool: &Pool) -> Result<(), DbError> {
    let client = connection(pool).await?;
    client
        .execute(
            "SELECT pg_advisory_lock($1, $2)",
            &[&LOCK_KEYS.0, &LOCK_KEYS.1],
        )
        .await?;
    let applied = apply_locked(&client).await;
    // Released even when a migration failed; were the unlock to fail too, closing the
    // connection releases it.
    let unlocked = client
        .execute(
            "SELECT pg_advisory_unlock($1, $2)",
            &[&LOCK_KEYS.0, &LOCK_KEYS.1],
        )
        .await;
    if unlocked.is_err() {
        drop(deadpool_postgres::Object::take(client));
    }
    applied
}

async fn apply_locked(client: &tokio_postgres::Client) -> Result<(), DbError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS tanya_migrations (\
                 version integer PRIMARY KEY, \
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let newest: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM tanya_migrations",
            &[],
        )
        .await?
        .get(0);
    for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > newest) {
        // The migration and its record in one transaction: a failure leaves neither.
        client
            .batch_execute(&format!(
                "BEGIN; {sql}; INSERT INTO tanya_migrations (version) VALUES ({version}); COMMIT;"
            ))
            .await
            .map_err(|error| DbError::Migration {
                version: *version,
                source: super::BackendError::new(error),
            })?;
        tracing::info!(version, "database migration applied");
    }
    Ok(())
}
