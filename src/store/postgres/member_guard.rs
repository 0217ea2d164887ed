//! Per-member limits and standings in PostgreSQL ("member_buckets", "member_standings"),
//! shared by every instance. Each change is a compare-and-swap in one statement (the same
//! arithmetic as every other store, `take_token` and `Standing::after`), so two instances
//! can neither both spend a member's last token nor both miss their third wrong code.

use deadpool_postgres::Pool;

use super::{bigint, connection, unsigned};
use crate::clock::Timestamp;
use crate::limits::member_guard::{BucketId, MemberGuardStore, micros};
use crate::limits::{Rate, Refused, take_token};
use crate::members::MemberId;
use crate::security::lockout::{CodeEvent, Standing};
use crate::store::StoreError;

/// Per-member limits and standings in PostgreSQL.
pub struct PgMemberGuard {
    pool: Pool,
}

impl PgMemberGuard {
    pub(super) fn new(pool: Pool) -> PgMemberGuard {
        PgMemberGuard { pool }
    }
}

/// A standing as stored; one that does not decode restricts nothing (as in every store).
pub(super) fn decode(record: Option<&str>) -> Standing {
    record
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

fn encode(standing: &Standing) -> Result<String, StoreError> {
    serde_json::to_string(standing).map_err(|error| StoreError::Corrupt {
        key: format!("standing not encodable: {error}"),
    })
}

impl PgMemberGuard {
    /// Applies `event` by compare-and-swap, starting from `known` (the standing as stored
    /// when it is the default: no row, or one that restricts nothing, which
    /// the insert or the swap then finds) or else from a fresh read; a swap that finds the
    /// row changed reads it and tries again.
    async fn swap(
        &self,
        member: &MemberId,
        mut known: Option<Standing>,
        event: CodeEvent,
        now: Timestamp,
    ) -> Result<Standing, StoreError> {
        let client = connection(&self.pool).await?;
        let read = client
            .prepare_cached("SELECT standing FROM member_standings WHERE member = $1")
            .await?;
        let insert = client
            .prepare_cached(
                "INSERT INTO member_standings (member, standing) VALUES ($1, $2) \
                 ON CONFLICT (member) DO NOTHING",
            )
            .await?;
        let swap = client
            .prepare_cached(
                "UPDATE member_standings SET standing = $3 WHERE member = $1 AND standing = $2",
            )
            .await?;
        loop {
            let (old, current) = match known.take() {
                Some(known) if known == Standing::default() => (None, known),
                Some(known) => (Some(encode(&known)?), known),
                None => {
                    let old: Option<String> = client
                        .query_opt(&read, &[&member.as_str()])
                        .await?
                        .map(|row| row.get(0));
                    let current = decode(old.as_deref());
                    (old, current)
                }
            };
            let next = current.after(event, now);
            if next == current {
                // A right code with no wrong ones counted (the usual case): nothing to
                // write, and no write is a commit fewer to wait for.
                return Ok(next);
            }
            let encoded = encode(&next)?;
            let changed = match &old {
                None => {
                    client
                        .execute(&insert, &[&member.as_str(), &encoded])
                        .await?
                }
                Some(old) => {
                    client
                        .execute(&swap, &[&member.as_str(), old, &encoded])
                        .await?
                }
            };
            if changed == 1 {
                return Ok(next);
            }
        }
    }
}

#[async_trait::async_trait]
impl MemberGuardStore for PgMemberGuard {
    async fn take(
        &self,
        bucket: &BucketId,
        rate: Rate,
        now: Timestamp,
    ) -> Result<Result<(), Refused>, StoreError> {
        let client = connection(&self.pool).await?;
        // `take_token` in one statement (a turn spends a token with one round trip and no
        // retry): the bucket is full again `interval` after the later of its time and now,
        // unless that is more than `tolerance` ahead of now.
        let take = client
            .prepare_cached(
                "INSERT INTO member_buckets (bucket, full_at) VALUES ($1, $2::bigint + $3::bigint) \
                 ON CONFLICT (bucket) DO UPDATE \
                 SET full_at = greatest(member_buckets.full_at, $2) + $3 \
                 WHERE greatest(member_buckets.full_at, $2) - $2 <= $4::bigint \
                 RETURNING full_at",
            )
            .await?;
        let read = client
            .prepare_cached("SELECT full_at FROM member_buckets WHERE bucket = $1")
            .await?;
        let (bucket, now_us) = (&bucket[..], micros(now));
        let (interval, tolerance) = (bigint(rate.interval_us()), bigint(rate.tolerance_us()));
        loop {
            let taken = client
                .query_opt(&take, &[&bucket, &bigint(now_us), &interval, &tolerance])
                .await?;
            if taken.is_some() {
                return Ok(Ok(()));
            }
            // Refused: how long to wait is `take_token`'s to say. Should the bucket have
            // filled (or gone, swept) meanwhile, take again.
            let full_at: Option<i64> = client
                .query_opt(&read, &[&bucket])
                .await?
                .map(|row| row.get(0));
            if let Err(refused) = take_token(full_at.map(unsigned), rate, now_us) {
                return Ok(Err(refused));
            }
        }
    }

    async fn give_back(&self, bucket: &BucketId, rate: Rate) -> Result<(), StoreError> {
        // `return_token` in one statement, atomic against other instances' takes.
        let client = connection(&self.pool).await?;
        client
            .execute(
                "UPDATE member_buckets SET full_at = greatest(full_at - $2::bigint, 0) \
                 WHERE bucket = $1",
                &[&&bucket[..], &bigint(rate.interval_us())],
            )
            .await?;
        Ok(())
    }

    async fn standing(&self, member: &MemberId) -> Result<Standing, StoreError> {
        let client = connection(&self.pool).await?;
        let read = client
            .prepare_cached("SELECT standing FROM member_standings WHERE member = $1")
            .await?;
        let row = client.query_opt(&read, &[&member.as_str()]).await?;
        Ok(decode(row.as_ref().map(|row| row.get(0))))
    }

    async fn record(
        &self,
        member: &MemberId,
        event: CodeEvent,
        now: Timestamp,
    ) -> Result<Standing, StoreError> {
        self.swap(member, None, event, now).await
    }

    async fn record_from(
        &self,
        member: &MemberId,
        known: Standing,
        event: CodeEvent,
        now: Timestamp,
    ) -> Result<Standing, StoreError> {
        self.swap(member, Some(known), event, now).await
    }

    async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError> {
        let client = connection(&self.pool).await?;
        let buckets = client
            .execute(
                "DELETE FROM member_buckets WHERE full_at <= $1",
                &[&bigint(micros(now))],
            )
            .await?;
        // Whether a standing restricts anything is the lockout rules' to say: read them all
        // (only members who typed wrong codes have one) and delete each one spent, unless it
        // changed meanwhile.
        let mut standings = 0;
        for row in client
            .query("SELECT member, standing FROM member_standings", &[])
            .await?
        {
            let (member, standing): (String, String) = (row.get(0), row.get(1));
            if decode(Some(&standing)).is_spent(now) {
                standings += client
                    .execute(
                        "DELETE FROM member_standings WHERE member = $1 AND standing = $2",
                        &[&member, &standing],
                    )
                    .await?;
            }
        }
        Ok((buckets + standings) as usize)
    }
}
