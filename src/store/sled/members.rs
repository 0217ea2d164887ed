//! Members in sled: records by id, an index from every card's KPJ to its holder, and how
//! many synthetic members were seeded.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::Database;
use crate::identity::Kpj;
use crate::members::{DirectoryError, Member, MemberId, MemberStore, synthetic_member};

const MEMBERS_TREE: &str = "members";
const KPJ_INDEX_TREE: &str = "member_by_kpj";
/// Book-keeping of the directory itself: how many synthetic members are seeded.
const META_TREE: &str = "member_meta";
const SYNTHETIC_SEEDED: &str = "synthetic_seeded";
/// Synthetic members written per sled batch while seeding.
const SEED_BATCH: u32 = 10_000;

/// Members in sled: records by id in "members", and an index from every card's KPJ to its
/// holder in "member_by_kpj", so every look-up is a couple of B-tree reads, not a scan.
#[derive(Debug, Clone)]
pub struct SledMemberStore {
    members: sled::Tree,
    by_kpj: sled::Tree,
    meta: sled::Tree,
}

impl SledMemberStore {
    pub fn new(db: &Database) -> Result<SledMemberStore, DirectoryError> {
        Ok(SledMemberStore {
            members: db.tree(MEMBERS_TREE)?,
            by_kpj: db.tree(KPJ_INDEX_TREE)?,
            meta: db.tree(META_TREE)?,
        })
    }

    /// The synthetic members, written in sled batches, resumed from where the last run stopped,
    /// and free once done: the count seeded is remembered, so a restart reads one key.
    ///
    /// Members of a batch interrupted by a crash are written again: they were never served
    /// (seeding ends before the server listens), so nothing they hold can be lost.
    fn seed_synthetic_in_batches(&self, count: u32) -> Result<usize, DirectoryError> {
        let seeded = match self.meta.get(SYNTHETIC_SEEDED)? {
            Some(bytes) => u32::from_be_bytes(bytes.as_ref().try_into().unwrap_or([0; 4])),
            None => 0,
        };
        let mut added = 0;
        let mut start = seeded;
        while start < count {
            let end = count.min(start.saturating_add(SEED_BATCH));
            let mut members = sled::Batch::default();
            let mut by_kpj = sled::Batch::default();
            for i in start..end {
                let member = synthetic_member(i);
                for card in &member.cards {
                    if let Some(holder) = self.by_kpj.get(card.kpj.as_str())?
                        && holder.as_ref() != member.id.as_str().as_bytes()
                    {
                        return Err(DirectoryError::KpjTaken {
                            new: member.id.clone(),
                            holder: MemberId::from_stored(
                                String::from_utf8_lossy(&holder).into_owned(),
                            ),
                        });
                    }
                    by_kpj.insert(card.kpj.as_str(), member.id.as_str());
                }
                members.insert(member.id.as_str(), member.to_record()?);
            }
            // The index before the records, the count last: a crash leaves at worst index
            // entries whose record is written again on the next start.
            self.by_kpj.apply_batch(by_kpj)?;
            self.members.apply_batch(members)?;
            self.meta.insert(SYNTHETIC_SEEDED, &end.to_be_bytes())?;
            added += (end - start) as usize;
            start = end;
        }
        Ok(added)
    }
}

#[async_trait::async_trait]
impl MemberStore for SledMemberStore {
    async fn by_card(&self, kpj: &Kpj) -> Result<Option<Member>, DirectoryError> {
        let Some(id) = self.by_kpj.get(kpj.as_str())? else {
            return Ok(None);
        };
        let id = MemberId::from_stored(String::from_utf8_lossy(&id).into_owned());
        match self.members.get(id.as_str())? {
            Some(record) => Ok(Some(Member::from_record(&id, &record, MEMBERS_TREE)?)),
            None => Ok(None),
        }
    }

    async fn member(&self, id: &MemberId) -> Result<Option<Member>, DirectoryError> {
        match self.members.get(id.as_str())? {
            Some(record) => Ok(Some(Member::from_record(id, &record, MEMBERS_TREE)?)),
            None => Ok(None),
        }
    }

    async fn seed_synthetic(&self, count: u32) -> Result<usize, DirectoryError> {
        self.seed_synthetic_in_batches(count)
    }

    async fn set_password(&self, id: &MemberId, phc: &str) -> Result<(), DirectoryError> {
        // Compare-and-swap so a concurrent change to the same record is never lost.
        loop {
            let Some(old) = self.members.get(id.as_str())? else {
                return Err(DirectoryError::UnknownMember(id.clone()));
            };
            let mut member = Member::from_record(id, &old, MEMBERS_TREE)?;
            member.password_phc = Some(phc.to_owned());
            let new = member.to_record()?;
            if self
                .members
                .compare_and_swap(id.as_str(), Some(&old), Some(new))?
                .is_ok()
            {
                return Ok(());
            }
        }
    }

    async fn insert_if_absent(&self, member: &Member) -> Result<bool, DirectoryError> {
        let record = member.to_record()?;
        // One transaction over the record and its index entries: a crash or a concurrent
        // insert never leaves a card pointing at a missing member.
        let outcome = (&self.members, &self.by_kpj).transaction(|(members, by_kpj)| {
            if members.get(member.id.as_str())?.is_some() {
                return Ok(false);
            }
            for card in &member.cards {
                if let Some(holder) = by_kpj.get(card.kpj.as_str())? {
                    return Err(ConflictableTransactionError::Abort(
                        DirectoryError::KpjTaken {
                            new: member.id.clone(),
                            holder: MemberId::from_stored(
                                String::from_utf8_lossy(&holder).into_owned(),
                            ),
                        },
                    ));
                }
                by_kpj.insert(card.kpj.as_str(), member.id.as_str())?;
            }
            members.insert(member.id.as_str(), record.as_slice())?;
            Ok(true)
        });
        match outcome {
            Ok(added) => Ok(added),
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::tests::{contract, kpj, nik};
    use crate::members::{demo_members, seed_missing};

    #[tokio::test]
    async fn the_sled_directory_meets_the_member_directory_contract() {
        let db = Database::temporary().expect("db");
        contract(&SledMemberStore::new(&db).expect("directory")).await;
    }

    #[tokio::test]
    async fn synthetic_members_are_seeded_once_and_found_by_either_card() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let db = Database::open(dir.path()).expect("open");
            let directory = SledMemberStore::new(&db).expect("directory");
            seed_missing(&directory, &demo_members())
                .await
                .expect("demo");
            assert_eq!(
                MemberStore::seed_synthetic(&directory, 25_000)
                    .await
                    .expect("seed"),
                25_000
            );
            let m = synthetic_member(24_999);
            directory
                .set_password(&m.id, "$argon2id$changed")
                .await
                .expect("set");
        }
        let db = Database::reopen(dir.path());
        let directory = SledMemberStore::new(&db).expect("directory");
        assert_eq!(
            MemberStore::seed_synthetic(&directory, 25_000)
                .await
                .expect("again"),
            0
        );
        assert_eq!(
            MemberStore::seed_synthetic(&directory, 25_010)
                .await
                .expect("more"),
            10
        );
        let m = synthetic_member(24_999);
        let found = directory
            .find_by_kpj_nik(&m.cards[1].kpj, &m.nik)
            .await
            .expect("find")
            .expect("by the second card");
        assert_eq!(found.password_phc.as_deref(), Some("$argon2id$changed"));
        assert!(
            directory
                .find_by_kpj_nik(&kpj("12345678901"), &nik("3174011203880001"))
                .await
                .expect("find")
                .is_some(),
            "the demo members are untouched"
        );
    }

    #[tokio::test]
    async fn a_changed_password_survives_a_restart_and_a_second_seeding() {
        let dir = tempfile::tempdir().expect("dir");
        let budi = MemberId::from_kpj(&kpj("12345678901"));
        {
            let db = Database::open(dir.path()).expect("open");
            let directory = SledMemberStore::new(&db).expect("directory");
            seed_missing(&directory, &demo_members())
                .await
                .expect("seed");
            directory
                .set_password(&budi, "$argon2id$changed")
                .await
                .expect("set");
        }
        let db = Database::reopen(dir.path());
        let directory = SledMemberStore::new(&db).expect("directory");
        assert_eq!(
            seed_missing(&directory, &demo_members())
                .await
                .expect("seed"),
            0
        );
        let found = directory
            .find_by_kpj_nik(&kpj("12345678901"), &nik("3174011203880001"))
            .await
            .expect("find")
            .expect("Budi");
        assert_eq!(found.password_phc.as_deref(), Some("$argon2id$changed"));
    }
}
