//! The sled `MemberGuardStore`: bucket times in "member_buckets" (bucket id → the time, in
//! µs, at which it is full again, 8 big-endian bytes) and standings in "member_standing"
//! (member id → JSON). Made durable with the turn that wrote them (`Durability`).

use super::Database;
use crate::clock::Timestamp;
use crate::limits::member_guard::{BucketId, MemberGuardStore, micros};
use crate::limits::{Rate, Refused, return_token, take_token};
use crate::members::MemberId;
use crate::security::lockout::{CodeEvent, Standing};
use crate::store::StoreError;

const BUCKETS_TREE: &str = "member_buckets";
const STANDING_TREE: &str = "member_standing";

/// Per-member limits and standings in sled.
#[derive(Debug, Clone)]
pub struct SledMemberGuard {
    buckets: sled::Tree,
    standings: sled::Tree,
}

impl SledMemberGuard {
    pub fn new(db: &Database) -> Result<SledMemberGuard, StoreError> {
        Ok(SledMemberGuard {
            buckets: db.tree(BUCKETS_TREE)?,
            standings: db.tree(STANDING_TREE)?,
        })
    }
}

fn full_at(record: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(record.try_into().ok()?))
}

/// A standing as stored; a record that does not decode restricts nothing rather than
/// failing every code of that member (it can only come from another version or a bad disk).
fn decode(record: Option<&[u8]>) -> Standing {
    record
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl MemberGuardStore for SledMemberGuard {
    async fn take(
        &self,
        bucket: &BucketId,
        rate: Rate,
        now: Timestamp,
    ) -> Result<Result<(), Refused>, StoreError> {
        // Compare-and-swap: of two turns taking the last token at once, one retries and is
        // refused.
        loop {
            let old = self.buckets.get(bucket)?;
            let full = match take_token(old.as_deref().and_then(full_at), rate, micros(now)) {
                Ok(full) => full,
                Err(refused) => return Ok(Err(refused)),
            };
            if self
                .buckets
                .compare_and_swap(bucket, old, Some(&full.to_be_bytes()[..]))?
                .is_ok()
            {
                return Ok(Ok(()));
            }
        }
    }

    async fn give_back(&self, bucket: &BucketId, rate: Rate) -> Result<(), StoreError> {
        // Compare-and-swap, as `take`: a token taken meanwhile by another turn is kept.
        loop {
            let Some(old) = self.buckets.get(bucket)? else {
                return Ok(());
            };
            let Some(full) = full_at(&old) else {
                return Ok(());
            };
            let back = return_token(full, rate).to_be_bytes();
            if self
                .buckets
                .compare_and_swap(bucket, Some(old), Some(&back[..]))?
                .is_ok()
            {
                return Ok(());
            }
        }
    }

    async fn standing(&self, member: &MemberId) -> Result<Standing, StoreError> {
        Ok(decode(self.standings.get(member.as_str())?.as_deref()))
    }

    async fn record(
        &self,
        member: &MemberId,
        event: CodeEvent,
        now: Timestamp,
    ) -> Result<Standing, StoreError> {
        loop {
            let old = self.standings.get(member.as_str())?;
            let next = decode(old.as_deref()).after(event, now);
            let encoded = serde_json::to_vec(&next).map_err(|error| StoreError::Corrupt {
                key: format!("standing not encodable: {error}"),
            })?;
            if self
                .standings
                .compare_and_swap(member.as_str(), old, Some(encoded))?
                .is_ok()
            {
                return Ok(next);
            }
        }
    }

    async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError> {
        let this = self.clone();
        super::off_the_executor(move || {
            let mut removed = 0;
            for entry in &this.buckets {
                let (key, record) = entry?;
                if full_at(&record).is_none_or(|full| full <= micros(now))
                    && this
                        .buckets
                        .compare_and_swap(&key, Some(record), None::<&[u8]>)?
                        .is_ok()
                {
                    removed += 1;
                }
            }
            for entry in &this.standings {
                let (key, record) = entry?;
                if decode(Some(&record)).is_spent(now)
                    && this
                        .standings
                        .compare_and_swap(&key, Some(record), None::<&[u8]>)?
                        .is_ok()
                {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sled_guard_meets_the_member_guard_contract() {
        let db = Database::temporary().expect("db");
        crate::limits::member_guard::tests::contract(&SledMemberGuard::new(&db).expect("guard"))
            .await;
    }

    #[tokio::test]
    async fn buckets_and_standings_outlive_the_process() {
        let dir = tempfile::tempdir().expect("dir");
        let member = MemberId::from_kpj(&crate::identity::Kpj::parse("12345678901").unwrap());
        let rate = Rate::new(1, std::time::Duration::from_secs(3600));
        let now = Timestamp(1_800_000_000_000);
        {
            let db = Database::open(dir.path()).expect("open");
            let guard = SledMemberGuard::new(&db).expect("guard");
            assert_eq!(guard.take(&[7; 32], rate, now).await.expect("take"), Ok(()));
            guard
                .record(
                    &member,
                    CodeEvent::Lock {
                        until: now.plus(rate.period),
                    },
                    now,
                )
                .await
                .expect("record");
            db.make_durable().await.expect("durable");
        }
        let db = Database::reopen(dir.path());
        let guard = SledMemberGuard::new(&db).expect("guard");
        assert!(
            guard
                .take(&[7; 32], rate, now)
                .await
                .expect("take")
                .is_err()
        );
        assert!(
            guard
                .standing(&member)
                .await
                .expect("standing")
                .locked_for(now)
                .is_some()
        );
    }
}
