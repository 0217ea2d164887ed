//! The server key kept in the database ("server_key"): created once by whichever instance
//! starts first, then read by every instance, so a code one sends another accepts.

use deadpool_postgres::Pool;

use super::connection;
use crate::store::DbError;

/// The key in the database, created first if there is none.
pub(super) async fn load_or_create(pool: &Pool) -> Result<[u8; 32], DbError> {
    let client = connection(pool).await?;
    let fresh: [u8; 32] = rand::random();
    // Instances starting at once each offer a key; the first insert wins and all read it.
    client
        .execute(
            "INSERT INTO server_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&&fresh[..]],
        )
        .await?;
    let kept: Vec<u8> = client
        .query_one("SELECT key FROM server_key WHERE id = 1", &[])
        .await?
        .get(0);
    // The table only takes 32-byte keys (a CHECK constraint).
    kept.try_into()
        .map_err(|_| DbError::Corrupt { what: "server_key" })
}
