//! The demo member directory in PostgreSQL: records by id in "members" and every card's KPJ
//! to its holder in "member_cards", so a look-up is one indexed join.

use deadpool_postgres::Pool;
use tokio_postgres::error::SqlState;

use super::{bigint, connection, unsigned};
use crate::identity::Kpj;
use crate::members::{DirectoryError, Member, MemberId, MemberStore, synthetic_member};

/// The table named in errors about a record that does not decode.
const MEMBERS_TABLE: &str = "members";
/// `directory_meta` row: how many synthetic members are seeded.
const SYNTHETIC_SEEDED: &str = "synthetic_seeded";
/// Synthetic members written per statement while seeding.
const SEED_BATCH: u32 = 10_000;

/// Members in PostgreSQL.
pub struct PgMemberStore {
    pool: Pool,
}

impl PgMemberStore {
    pub(super) fn new(pool: Pool) -> PgMemberStore {
        PgMemberStore { pool }
    }
}

#[async_trait::async_trait]
impl MemberStore for PgMemberStore {
    async fn by_card(&self, kpj: &Kpj) -> Result<Option<Member>, DirectoryError> {
        let client = connection(&self.pool).await?;
        let find = client
            .prepare_cached(
                "SELECT m.id, m.record FROM member_cards c JOIN members m ON m.id = c.member_id \
                 WHERE c.kpj = $1",
            )
            .await?;
        match client.query_opt(&find, &[&kpj.as_str()]).await? {
            Some(row) => Ok(Some(Member::from_record(
                &MemberId::from_stored(row.get(0)),
                row.get(1),
                MEMBERS_TABLE,
            )?)),
            None => Ok(None),
        }
    }

    async fn member(&self, id: &MemberId) -> Result<Option<Member>, DirectoryError> {
        let client = connection(&self.pool).await?;
        let read = client
            .prepare_cached("SELECT record FROM members WHERE id = $1")
            .await?;
        match client.query_opt(&read, &[&id.as_str()]).await? {
            Some(row) => Ok(Some(Member::from_record(id, row.get(0), MEMBERS_TABLE)?)),
            None => Ok(None),
        }
    }

    async fn set_password(&self, id: &MemberId, phc: &str) -> Result<(), DirectoryError> {
        let client = connection(&self.pool).await?;
        let read = client
            .prepare_cached("SELECT record FROM members WHERE id = $1")
            .await?;
        let swap = client
            .prepare_cached("UPDATE members SET record = $3 WHERE id = $1 AND record = $2")
            .await?;
        // Compare-and-swap, so a concurrent change to the same record is never lost.
        loop {
            let Some(row) = client.query_opt(&read, &[&id.as_str()]).await? else {
                return Err(DirectoryError::UnknownMember(id.clone()));
            };
            let old: Vec<u8> = row.get(0);
            let mut member = Member::from_record(id, &old, MEMBERS_TABLE)?;
            member.password_phc = Some(phc.to_owned());
            let new = member.to_record()?;
            if client.execute(&swap, &[&id.as_str(), &old, &new]).await? == 1 {
                return Ok(());
            }
        }
    }

    async fn insert_if_absent(&self, member: &Member) -> Result<bool, DirectoryError> {
        let client = connection(&self.pool).await?;
        let kpjs: Vec<&str> = member.cards.iter().map(|card| card.kpj.as_str()).collect();
        // One statement, so the record and its cards are written together or not at all.
        let inserted = client
            .query_one(
                "WITH member AS (INSERT INTO members (id, record) VALUES ($1, $2) \
                     ON CONFLICT (id) DO NOTHING RETURNING id), \
                 cards AS (INSERT INTO member_cards (kpj, member_id) \
                     SELECT kpj, $1 FROM unnest($3::text[]) AS c (kpj) \
                     WHERE EXISTS (SELECT 1 FROM member)) \
                 SELECT count(*) FROM member",
                &[&member.id.as_str(), &member.to_record()?, &kpjs],
            )
            .await;
        match inserted {
            Ok(row) => Ok(row.get::<_, i64>(0) == 1),
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                let holder: String = client
                    .query_one(
                        "SELECT member_id FROM member_cards WHERE kpj = ANY($1) LIMIT 1",
                        &[&kpjs],
                    )
                    .await?
                    .get(0);
                Err(DirectoryError::KpjTaken {
                    new: member.id.clone(),
                    holder: MemberId::from_stored(holder),
                })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The synthetic members in batches of one statement each, resumed from the count seeded
    /// so far. Instances seeding at once write the same rows, which `ON CONFLICT` absorbs.
    async fn seed_synthetic(&self, count: u32) -> Result<usize, DirectoryError> {
        let client = connection(&self.pool).await?;
        let seeded = client
            .query_opt(
                "SELECT value FROM directory_meta WHERE name = $1",
                &[&SYNTHETIC_SEEDED],
            )
            .await?
            .map_or(0, |row| unsigned(row.get(0)));
        let mut added = 0;
        let mut start = u32::try_from(seeded).unwrap_or(u32::MAX);
        while start < count {
            let end = count.min(start.saturating_add(SEED_BATCH));
            let (mut ids, mut records, mut kpjs, mut holders) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for i in start..end {
                let member = synthetic_member(i);
                for card in &member.cards {
                    kpjs.push(card.kpj.as_str().to_owned());
                    holders.push(member.id.as_str().to_owned());
                }
                records.push(member.to_record()?);
                ids.push(member.id.as_str().to_owned());
            }
            client
                .execute(
                    "WITH member AS (INSERT INTO members (id, record) \
                         SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (id) DO NOTHING) \
                     INSERT INTO member_cards (kpj, member_id) \
                     SELECT * FROM unnest($3::text[], $4::text[]) ON CONFLICT (kpj) DO NOTHING",
                    &[&ids, &records, &kpjs, &holders],
                )
                .await?;
            client
                .execute(
                    "INSERT INTO directory_meta (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE \
                     SET value = greatest(directory_meta.value, excluded.value)",
                    &[&SYNTHETIC_SEEDED, &bigint(u64::from(end))],
                )
                .await?;
            added += (end - start) as usize;
            start = end;
        }
        Ok(added)
    }
}
