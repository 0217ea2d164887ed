//! `MemberGuardStore`: what limits a member across all their sessions, channels and (with a
//! shared store) instances, kept so that a restart forgets none of it (SPEC §6): the token
//! buckets of the per-member limits (look-ups, codes) and each member's `Standing` (wrong
//! codes, lockout). Each operation is one atomic read-modify-write, so two sessions of one
//! member at once can neither both spend the last token nor both miss the third wrong code.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Rate, Refused, return_token, take_token};
use crate::clock::Timestamp;
use crate::db_error::StoreError;
use crate::members::MemberId;
use crate::security::lockout::{CodeEvent, Standing};

/// A bucket's name in the store: a keyed hash of what it limits (`kpj:…`, `nik:…`, a member
/// id), so the store never holds the NIK or e-mail a guesser typed.
pub type BucketId = [u8; 32];

/// Where per-member limits and standings live. Implementations must be safe to share.
#[async_trait::async_trait]
pub trait MemberGuardStore: Send + Sync {
    /// Takes one token from `bucket` at `rate`, or says how long to wait (a refusal spends
    /// nothing).
    async fn take(
        &self,
        bucket: &BucketId,
        rate: Rate,
        now: Timestamp,
    ) -> Result<Result<(), Refused>, StoreError>;
    /// Gives back one token taken from `bucket` at `rate` by a turn that then failed (see
    /// `return_token`); nothing for a bucket the store no longer holds.
    async fn give_back(&self, bucket: &BucketId, rate: Rate) -> Result<(), StoreError>;
    /// The member's standing (the default for a member with none stored).
    async fn standing(&self, member: &MemberId) -> Result<Standing, StoreError>;
    /// Applies `event` at `now` to the member's standing; returns the new standing.
    async fn record(
        &self,
        member: &MemberId,
        event: CodeEvent,
        now: Timestamp,
    ) -> Result<Standing, StoreError>;
    /// `record`, for a caller that read the member's standing moments ago (`known`): a store
    /// where a read is a round trip may start from it instead, its compare-and-swap falling
    /// back to a fresh read when the standing changed meanwhile. When `event` changes nothing
    /// in `known` (a right code with no wrong ones), such a store may write nothing at all:
    /// what it then leaves unchanged elsewhere (wrong codes typed meanwhile in another
    /// session) only keeps the member more restricted.
    async fn record_from(
        &self,
        member: &MemberId,
        known: Standing,
        event: CodeEvent,
        now: Timestamp,
    ) -> Result<Standing, StoreError> {
        let _ = known;
        self.record(member, event, now).await
    }
    /// Forgets buckets that are full again and standings that restrict nothing at `now`;
    /// returns how many records went.
    async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError>;
}

/// Microseconds of a timestamp, the unit of the bucket arithmetic.
pub(crate) fn micros(at: Timestamp) -> u64 {
    at.0.saturating_mul(1000)
}

/// Buckets and standings in maps: for tests and the conversation runner.
#[derive(Debug, Default)]
pub struct MemoryMemberGuard {
    maps: Mutex<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    buckets: HashMap<BucketId, u64>,
    standings: HashMap<MemberId, Standing>,
}

impl MemoryMemberGuard {
    fn maps(&self) -> MutexGuard<'_, Maps> {
        // Every operation changes one entry in one statement: whole even after a panic.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl MemberGuardStore for MemoryMemberGuard {
    async fn take(
        &self,
        bucket: &BucketId,
        rate: Rate,
        now: Timestamp,
    ) -> Result<Result<(), Refused>, StoreError> {
        let mut maps = self.maps();
        let taken = take_token(maps.buckets.get(bucket).copied(), rate, micros(now));
        Ok(taken.map(|full_at| {
            maps.buckets.insert(*bucket, full_at);
        }))
    }

    async fn give_back(&self, bucket: &BucketId, rate: Rate) -> Result<(), StoreError> {
        if let Some(full_at) = self.maps().buckets.get_mut(bucket) {
            *full_at = return_token(*full_at, rate);
        }
        Ok(())
    }

    async fn standing(&self, member: &MemberId) -> Result<Standing, StoreError> {
        Ok(self
            .maps()
            .standings
            .get(member)
            .copied()
            .unwrap_or_default())
    }

    async fn record(
        &self,
        member: &MemberId,
        event: CodeEvent,
        now: Timestamp,
    ) -> Result<Standing, StoreError> {
        let mut maps = self.maps();
        let next = maps
            .standings
            .get(member)
            .copied()
            .unwrap_or_default()
            .after(event, now);
        maps.standings.insert(member.clone(), next);
        Ok(next)
    }

    async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut maps = self.maps();
        let before = maps.buckets.len() + maps.standings.len();
        maps.buckets.retain(|_, full_at| *full_at > micros(now));
        maps.standings.retain(|_, standing| !standing.is_spent(now));
        Ok(before - maps.buckets.len() - maps.standings.len())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::identity::Kpj;
    use crate::security::otp::LOCKOUT;
    use std::time::Duration;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn budi() -> MemberId {
        MemberId::from_kpj(&Kpj::parse("12345678901").expect("kpj"))
    }

    /// The behaviour every `MemberGuardStore` must share.
    pub(crate) async fn contract(store: &dyn MemberGuardStore) {
        let rate = Rate::new(2, Duration::from_secs(60));
        let bucket = [1u8; 32];
        let other = [2u8; 32];
        assert_eq!(store.take(&bucket, rate, T0).await.expect("take"), Ok(()));
        assert_eq!(store.take(&bucket, rate, T0).await.expect("take"), Ok(()));
        let refused = store
            .take(&bucket, rate, T0)
            .await
            .expect("take")
            .unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(30));
        // A token given back (its turn failed) can be taken again, once.
        store.give_back(&bucket, rate).await.expect("give back");
        assert_eq!(store.take(&bucket, rate, T0).await.expect("take"), Ok(()));
        assert!(store.take(&bucket, rate, T0).await.expect("take").is_err());
        // Giving back to a bucket the store does not hold creates none (see the sweep).
        store.give_back(&[9u8; 32], rate).await.expect("give back");
        assert_eq!(store.take(&other, rate, T0).await.expect("take"), Ok(()));
        let half = T0.plus(Duration::from_secs(30));
        assert_eq!(
            store.take(&bucket, rate, half).await.expect("refilled"),
            Ok(())
        );

        assert_eq!(
            store.standing(&budi()).await.expect("standing"),
            Standing::default()
        );
        store
            .record(&budi(), CodeEvent::Wrong, T0)
            .await
            .expect("record");
        let two = store
            .record(&budi(), CodeEvent::Wrong, T0)
            .await
            .expect("record");
        assert_eq!(two.wrong_codes_at(T0), 2);
        assert_eq!(store.standing(&budi()).await.expect("standing"), two);
        // A caller's known standing may be stale (read before those two wrong codes): they
        // still count.
        let locked = store
            .record_from(&budi(), Standing::default(), CodeEvent::Wrong, T0)
            .await
            .expect("record");
        assert_eq!(locked.locked_for(T0), Some(LOCKOUT));

        assert_eq!(
            store.sweep(half).await.expect("sweep"),
            1,
            "`other`, full again"
        );
        let after = T0.plus(LOCKOUT);
        assert_eq!(
            store.sweep(after).await.expect("sweep"),
            2,
            "the bucket and the lock"
        );
        assert_eq!(
            store.standing(&budi()).await.expect("standing"),
            Standing::default()
        );

        // From a known standing that is current: counted as from a read one.
        let siti = MemberId::from_stored("M-siti".into());
        let one = store
            .record_from(&siti, Standing::default(), CodeEvent::Wrong, T0)
            .await
            .expect("record");
        assert_eq!(one.wrong_codes_at(T0), 1);
        let two = store
            .record_from(&siti, one, CodeEvent::Wrong, T0)
            .await
            .expect("record");
        assert_eq!(two.wrong_codes_at(T0), 2);
        assert_eq!(store.standing(&siti).await.expect("standing"), two);
    }

    #[tokio::test]
    async fn the_memory_guard_meets_the_member_guard_contract() {
        contract(&MemoryMemberGuard::default()).await;
    }
}
