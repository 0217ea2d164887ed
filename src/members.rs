//! Members and their JMO accounts: the narrow `MemberDirectory` the flows look members up in
//! (the agency's over HTTP in production, `directory/`), the `MemberStore` tanya keeps members
//! in itself in demo mode (in memory here; sled's and PostgreSQL's under `store/`), and the
//! built-in demo members of SPEC §4.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::db_error::DbError;
use crate::identity::{Email, Kpj, Nik, Phone};

/// Identifies a member: their primary KPJ (the card they were registered with).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberId(String);

impl MemberId {
    /// The id of the member whose primary card is `kpj`.
    pub fn from_kpj(kpj: &Kpj) -> MemberId {
        MemberId(kpj.as_str().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A member id read back from storage.
    pub fn from_stored(id: String) -> MemberId {
        MemberId(id)
    }
}

impl fmt::Debug for MemberId {
    // The id is a KPJ, which logs may show only masked (SPEC §6), as the bot masks it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MemberId({})",
            crate::identity::mask::mask_number(&self.0)
        )
    }
}

/// One membership card and the JHT balance on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub kpj: Kpj,
    pub balance_rupiah: u64,
    /// The date the balance was computed, as `YYYY-MM-DD`.
    pub as_of: String,
    /// The employer that registered the card: how members tell their cards apart (SPEC §4).
    #[serde(default)]
    pub employer: String,
    /// Whether the card belongs to the member's current job (the others are from earlier ones).
    #[serde(default)]
    pub current: bool,
}

/// A member and their JMO account.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub name: String,
    pub nik: Nik,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// Every card the member holds, the primary one first.
    pub cards: Vec<Card>,
    /// The JMO password as an argon2id PHC string; `None` when none was ever set.
    pub password_phc: Option<String>,
}

impl fmt::Debug for Member {
    // The identity types mask themselves; the name and the password hash are left out here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("id", &self.id)
            .field("nik", &self.nik)
            .field("email", &self.email)
            .field("phone", &self.phone)
            .field("cards", &self.cards)
            .field("has_password", &self.password_phc.is_some())
            .finish_non_exhaustive()
    }
}

impl Member {
    /// The JMO account's login: the e-mail, or the phone when there is no e-mail (empty for a
    /// member with neither, who cannot have a JMO account).
    pub fn login(&self) -> String {
        match (&self.email, &self.phone) {
            (Some(email), _) => email.as_str().to_owned(),
            (None, Some(phone)) => phone.as_str().to_owned(),
            (None, None) => String::new(),
        }
    }
}

/// What can go wrong looking up or changing members.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// The underlying database failed.
    #[error("member database failed")]
    Database(#[from] DbError),
    /// A stored record cannot be decoded.
    #[error("stored record of {id:?} in {tree} is corrupt")]
    Corrupt { tree: &'static str, id: MemberId },
    /// A member could not be serialized for storage.
    #[error("cannot encode member {id:?}")]
    Encode {
        id: MemberId,
        #[source]
        source: serde_json::Error,
    },
    /// The member to change does not exist.
    #[error("no member {0:?}")]
    UnknownMember(MemberId),
    /// The directory cannot answer now (down, too slow, its circuit open): the member is told
    /// the service is unavailable, never given a wrong answer.
    #[error("member directory unavailable: {0}")]
    Unavailable(String),
    /// The directory answered something its contract does not allow (the reason names the
    /// call and the broken rule, never a value: values may be personal data).
    #[error("member directory broke its contract: {0}")]
    Contract(String),
    /// A new member holds a card that already belongs to another member.
    #[error("a card of {new:?} already belongs to {holder:?}")]
    KpjTaken { new: MemberId, holder: MemberId },
}

impl DirectoryError {
    /// Whether the directory could not answer (down, slow, broken answers) rather than
    /// answering: the member is told the service is unavailable.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            DirectoryError::Unavailable(_) | DirectoryError::Contract(_)
        )
    }
}

impl Member {
    /// The member as a store keeps it (JSON).
    pub fn to_record(&self) -> Result<Vec<u8>, DirectoryError> {
        serde_json::to_vec(self).map_err(|source| DirectoryError::Encode {
            id: self.id.clone(),
            source,
        })
    }

    /// The member `id` from its stored `record`, kept in the store's `tree` (named in the
    /// error when the record does not decode).
    pub fn from_record(
        id: &MemberId,
        record: &[u8],
        tree: &'static str,
    ) -> Result<Member, DirectoryError> {
        serde_json::from_slice(record).map_err(|_| DirectoryError::Corrupt {
            tree,
            id: id.clone(),
        })
    }
}

/// A member as a look-up finds them (SPEC §12): who they are and where a code can go. Their
/// cards and balances are asked for only after a valid code (`MemberDirectory::cards`).
#[derive(Clone, PartialEq, Eq)]
pub struct FoundMember {
    pub id: MemberId,
    pub name: String,
    /// The JMO account's login (the e-mail, or the phone for members without one).
    pub login: String,
    /// The member's NIK when the directory gives it (tanya's own store does; the agency's
    /// answers without it, SPEC §12): the password policy refuses passwords containing it.
    pub nik: Option<Nik>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

impl fmt::Debug for FoundMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoundMember")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("phone", &self.phone)
            .finish_non_exhaustive()
    }
}

impl From<Member> for FoundMember {
    fn from(member: Member) -> FoundMember {
        FoundMember {
            login: member.login(),
            id: member.id,
            name: member.name,
            nik: Some(member.nik),
            email: member.email,
            phone: member.phone,
        }
    }
}

/// Where the flows find members and change their accounts: the agency's directory in
/// production, the stored demo members otherwise.
#[async_trait::async_trait]
pub trait MemberDirectory: Send + Sync {
    /// The member holding card `kpj` (any of their cards) whose NIK is `nik`.
    async fn find_by_kpj_nik(
        &self,
        kpj: &Kpj,
        nik: &Nik,
    ) -> Result<Option<FoundMember>, DirectoryError>;
    /// The member whose login e-mail is `email` and who holds card `kpj`.
    async fn find_by_email_kpj(
        &self,
        email: &Email,
        kpj: &Kpj,
    ) -> Result<Option<FoundMember>, DirectoryError>;
    /// The member's cards with their balances, the primary one first. Asked only after the
    /// member entered a valid code.
    async fn cards(&self, id: &MemberId) -> Result<Vec<Card>, DirectoryError>;
    /// Replaces the member's password with `phc` (an argon2id PHC string).
    async fn set_password(&self, id: &MemberId, phc: &str) -> Result<(), DirectoryError>;

    /// Whether each call crosses the network to another service, and so may take as long as
    /// its timeouts: a turn then lets the others of its batch go on without it
    /// (`SessionTurn::detach`). Members tanya keeps itself answer as fast as its own store.
    /// No default: a directory that wraps another says what the wrapped one is.
    fn is_remote(&self) -> bool;
}

/// Members kept by tanya itself (the demo members and the synthetic ones of load tests).
#[async_trait::async_trait]
pub trait MemberStore: Send + Sync {
    /// The member holding card `kpj` (any of their cards).
    async fn by_card(&self, kpj: &Kpj) -> Result<Option<Member>, DirectoryError>;
    /// The member holding card `kpj` (any of their cards) whose NIK is `nik`.
    async fn find_by_kpj_nik(
        &self,
        kpj: &Kpj,
        nik: &Nik,
    ) -> Result<Option<Member>, DirectoryError> {
        Ok(self.by_card(kpj).await?.filter(|m| m.nik == *nik))
    }
    /// The member whose login e-mail is `email` and who holds card `kpj`.
    async fn find_by_email_kpj(
        &self,
        email: &Email,
        kpj: &Kpj,
    ) -> Result<Option<Member>, DirectoryError> {
        Ok(self
            .by_card(kpj)
            .await?
            .filter(|m| m.email.as_ref() == Some(email)))
    }
    /// The member `id`.
    async fn member(&self, id: &MemberId) -> Result<Option<Member>, DirectoryError>;
    /// Replaces the member's password with `phc` (an argon2id PHC string).
    async fn set_password(&self, id: &MemberId, phc: &str) -> Result<(), DirectoryError>;
    /// Adds `member` unless a member with its id exists; returns whether it was added.
    /// Existing members are left untouched, so a password changed by a flow survives.
    async fn insert_if_absent(&self, member: &Member) -> Result<bool, DirectoryError>;
    /// Makes sure the synthetic members `0..count` exist (see [`synthetic_member`]); returns
    /// how many were added. A store may do it in bulk and remember how far it got.
    async fn seed_synthetic(&self, count: u32) -> Result<usize, DirectoryError> {
        let mut added = 0;
        for i in 0..count {
            if self.insert_if_absent(&synthetic_member(i)).await? {
                added += 1;
            }
        }
        Ok(added)
    }
}

/// The members of a `MemberStore` as the flows see a directory.
pub struct StoredMembers(pub Arc<dyn MemberStore>);

#[async_trait::async_trait]
impl MemberDirectory for StoredMembers {
    async fn find_by_kpj_nik(
        &self,
        kpj: &Kpj,
        nik: &Nik,
    ) -> Result<Option<FoundMember>, DirectoryError> {
        Ok(self
            .0
            .find_by_kpj_nik(kpj, nik)
            .await?
            .map(FoundMember::from))
    }

    async fn find_by_email_kpj(
        &self,
        email: &Email,
        kpj: &Kpj,
    ) -> Result<Option<FoundMember>, DirectoryError> {
        Ok(self
            .0
            .find_by_email_kpj(email, kpj)
            .await?
            .map(FoundMember::from))
    }

    async fn cards(&self, id: &MemberId) -> Result<Vec<Card>, DirectoryError> {
        match self.0.member(id).await? {
            Some(member) => Ok(member.cards),
            None => Err(DirectoryError::UnknownMember(id.clone())),
        }
    }

    async fn set_password(&self, id: &MemberId, phc: &str) -> Result<(), DirectoryError> {
        self.0.set_password(id, phc).await
    }

    fn is_remote(&self) -> bool {
        false
    }
}

/// Adds every member of `members` that the directory does not hold yet; returns how many.
///
/// Safe to run at every start-up: members already present, and passwords they changed since,
/// are kept.
pub async fn seed_missing(
    directory: &dyn MemberStore,
    members: &[Member],
) -> Result<usize, DirectoryError> {
    let mut added = 0;
    for member in members {
        if directory.insert_if_absent(member).await? {
            added += 1;
        }
    }
    Ok(added)
}

/// Members in memory: for tests and the conversation runner.
#[derive(Debug, Default)]
pub struct MemoryMemberStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    members: HashMap<MemberId, Member>,
    /// Card KPJ → holder, as in the sled index.
    by_kpj: HashMap<String, MemberId>,
}

impl MemoryMemberStore {
    fn state(&self) -> MutexGuard<'_, MemoryState> {
        // Every operation completes its changes before returning, so the maps stay consistent
        // even if a holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl MemberStore for MemoryMemberStore {
    async fn by_card(&self, kpj: &Kpj) -> Result<Option<Member>, DirectoryError> {
        let state = self.state();
        Ok(state
            .by_kpj
            .get(kpj.as_str())
            .and_then(|id| state.members.get(id).cloned()))
    }

    async fn member(&self, id: &MemberId) -> Result<Option<Member>, DirectoryError> {
        Ok(self.state().members.get(id).cloned())
    }

    async fn set_password(&self, id: &MemberId, phc: &str) -> Result<(), DirectoryError> {
        let mut state = self.state();
        let member = state
            .members
            .get_mut(id)
            .ok_or_else(|| DirectoryError::UnknownMember(id.clone()))?;
        member.password_phc = Some(phc.to_owned());
        Ok(())
    }

    async fn insert_if_absent(&self, member: &Member) -> Result<bool, DirectoryError> {
        let mut state = self.state();
        if state.members.contains_key(&member.id) {
            return Ok(false);
        }
        for card in &member.cards {
            if let Some(holder) = state.by_kpj.get(card.kpj.as_str()) {
                return Err(DirectoryError::KpjTaken {
                    new: member.id.clone(),
                    holder: holder.clone(),
                });
            }
        }
        for card in &member.cards {
            state
                .by_kpj
                .insert(card.kpj.as_str().to_owned(), member.id.clone());
        }
        state.members.insert(member.id.clone(), member.clone());
        Ok(true)
    }
}

/// The date the demo balances were computed.
const DEMO_AS_OF: &str = "2026-10-31";

/// Precomputed argon2id (m=19456, t=2, p=1) hashes of the demo members' fake old passwords
/// (`Budi#Lama2024`, `Siti#Lama2024`, `Agus#Lama2024`, `Dewi#Lama2024`), so that seeding
/// costs no hashing at start-up.
const BUDI_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$4sOEKdbFJizss9qZBrcn3Q$fGgT57/tJRUSZ54BiLBwH0TaDGL1bZaSUmtXflk2tHY";
const SITI_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$AqTPIQRsNmqjYx09qkBc9w$JaQ8qSEwFdanpqtVFHVaC+KAD/7sA27FspShAoAEE8U";
const AGUS_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$O5bXYohaQVMKlkLcUOE94g$IA7X+94SZBOzXXzCJdAcdIKYIvjrc/ozZPc/3K2SdSI";
const DEWI_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$Km5dXgA4eAORPTK7DWDghg$ChAJn0O5MhUa+zod2yFX8Zc7OshOVDrHkBYk6jInzL8";

/// One row of SPEC §4: name, NIK, e-mail, phone, cards, password hash.
struct DemoRow {
    name: &'static str,
    nik: &'static str,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    cards: &'static [DemoCard],
    phc: &'static str,
}

/// One card of SPEC §4: KPJ, balance, employer, and whether it is the current job's.
struct DemoCard(&'static str, u64, &'static str, bool);

const DEMO_ROWS: [DemoRow; 4] = [
    DemoRow {
        name: "Budi Santoso",
        nik: "3174011203880001",
        email: Some("budi.santoso@example.com"),
        phone: Some("081234567890"),
        cards: &[DemoCard("12345678901", 25_750_000, "PT Sinar Jaya", true)],
        phc: BUDI_PHC,
    },
    DemoRow {
        name: "Siti Aminah",
        nik: "3273016508900002",
        email: Some("siti.aminah@example.com"),
        phone: Some("085711112222"),
        cards: &[
            DemoCard("98765432109", 12_500_000, "PT Maju Bersama", true),
            DemoCard("11122233344", 4_250_500, "CV Karya Abadi", false),
        ],
        phc: SITI_PHC,
    },
    DemoRow {
        name: "Agus Wijaya",
        nik: "3578010107850003",
        email: Some("agus.wijaya@example.com"),
        phone: None,
        cards: &[DemoCard(
            "55566677788",
            8_000_000,
            "PT Nusantara Logistik",
            true,
        )],
        phc: AGUS_PHC,
    },
    DemoRow {
        name: "Dewi Lestari",
        nik: "5171024403950004",
        email: None,
        phone: Some("081355556666"),
        cards: &[DemoCard(
            "44455566677",
            1_200_000,
            "Koperasi Sejahtera",
            true,
        )],
        phc: DEWI_PHC,
    },
];

/// Precomputed argon2id (m=19456, t=2, p=1) hash of `Anggota#Lama2024`, the fake old password
/// of every synthetic member: seeding a million members hashes nothing.
const SYNTHETIC_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$EB/DDX9Wn2l7mo0XjpVgFA$6WbU88gXS+igpPODngOWEuISom4NoLHcAqiA+D7sRUE";

/// The most synthetic members there can be (the phone formula has eight digits for `i`).
pub const MAX_SYNTHETIC_MEMBERS: u32 = 10_000_000;

/// Synthetic demo member number `i` (`TANYA_DEMO_EXTRA_MEMBERS`), for load tests: a large
/// population whose every value follows from `i`, so a load generator can compute them too.
///
/// | field | formula (i in 0..N, N ≤ 10,000,000) | i = 0 | i = 1234 |
/// |---|---|---|---|
/// | name | `Anggota {i}` | Anggota 0 | Anggota 1234 |
/// | KPJ (primary card) | `70` + i in 9 digits | 70000000000 | 70000001234 |
/// | KPJ (second card) | `71` + i in 9 digits | 71000000000 | 71000001234 |
/// | NIK | `317101` + DD MM YY + serial: DD = 1 + i mod 28, plus 40 when i is odd (a woman); MM = 1 + (i div 28) mod 12; YY = 60 + (i div 336) mod 40; serial = 1 + i div 13440 in 4 digits | 3171010101600001 | 3171010309630001 |
/// | e-mail | `anggota{i}@example.com` | anggota0@example.com | anggota1234@example.com |
/// | phone | `0813` + i in 8 digits | 081300000000 | 081300001234 |
/// | employers | `PT Mitra {i}` (current), `CV Rekan {i}` (previous) | PT Mitra 0; CV Rekan 0 | PT Mitra 1234; CV Rekan 1234 |
/// | balances (Rp) | 1,000,000 + (i × 7,919) mod 100,000,000; second card 500,000 + (i × 104,729) mod 10,000,000 | 1,000,000; 500,000 | 10,772,046; 9,735,586 |
///
/// Every synthetic member has both a phone and an e-mail (so the code-channel choice is asked)
/// and two cards (so the card choice is asked), and the password `Anggota#Lama2024`. The NIKs
/// are structurally valid (province 31, real calendar dates) and distinct for all i.
pub fn synthetic_member(i: u32) -> Member {
    let female = i % 2 == 1;
    let day = 1 + i % 28 + if female { 40 } else { 0 };
    let month = 1 + (i / 28) % 12;
    let year = 60 + (i / 336) % 40;
    let serial = 1 + i / 13_440;
    let nik = format!("317101{day:02}{month:02}{year:02}{serial:04}");
    let cards = vec![
        Card {
            kpj: Kpj::parse(&format!("70{i:09}")).expect("11 digits"),
            balance_rupiah: 1_000_000 + (u64::from(i) * 7_919) % 100_000_000,
            as_of: DEMO_AS_OF.to_owned(),
            employer: format!("PT Mitra {i}"),
            current: true,
        },
        Card {
            kpj: Kpj::parse(&format!("71{i:09}")).expect("11 digits"),
            balance_rupiah: 500_000 + (u64::from(i) * 104_729) % 10_000_000,
            as_of: DEMO_AS_OF.to_owned(),
            employer: format!("CV Rekan {i}"),
            current: false,
        },
    ];
    Member {
        id: MemberId::from_kpj(&cards[0].kpj),
        name: format!("Anggota {i}"),
        nik: Nik::parse(&nik).expect("a valid synthetic NIK"),
        email: Some(Email::parse(&format!("anggota{i}@example.com")).expect("valid e-mail")),
        phone: Some(Phone::parse(&format!("0813{i:08}")).expect("valid phone")),
        cards,
        password_phc: Some(SYNTHETIC_PHC.to_owned()),
    }
}

/// The four built-in demo members of SPEC §4.
pub fn demo_members() -> Vec<Member> {
    // The rows are constants checked by `demo_members_are_exactly_those_of_the_spec`, so a
    // parse failure here is a programming error, not bad input.
    DEMO_ROWS
        .iter()
        .map(|row| {
            let cards: Vec<Card> = row
                .cards
                .iter()
                .map(|&DemoCard(kpj, balance_rupiah, employer, current)| Card {
                    kpj: Kpj::parse(kpj).expect("demo KPJ is valid"),
                    balance_rupiah,
                    as_of: DEMO_AS_OF.to_owned(),
                    employer: employer.to_owned(),
                    current,
                })
                .collect();
            Member {
                id: MemberId::from_kpj(&cards[0].kpj),
                name: row.name.to_owned(),
                nik: Nik::parse(row.nik).expect("demo NIK is valid"),
                email: row
                    .email
                    .map(|e| Email::parse(e).expect("demo e-mail is valid")),
                phone: row
                    .phone
                    .map(|p| Phone::parse(p).expect("demo phone is valid")),
                cards,
                password_phc: Some(row.phc.to_owned()),
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn kpj(s: &str) -> Kpj {
        Kpj::parse(s).expect("kpj")
    }

    pub(crate) fn nik(s: &str) -> Nik {
        Nik::parse(s).expect("nik")
    }

    fn email(s: &str) -> Email {
        Email::parse(s).expect("email")
    }

    fn name_of(found: Option<Member>) -> Option<String> {
        found.map(|m| m.name)
    }

    /// The behaviour every `MemberDirectory` must share.
    pub(crate) async fn contract(directory: &dyn MemberStore) {
        let demo = demo_members();
        assert_eq!(seed_missing(directory, &demo).await.expect("seed"), 4);

        let siti_nik = nik("3273016508900002");
        for card in ["98765432109", "11122233344"] {
            assert_eq!(
                name_of(
                    directory
                        .find_by_kpj_nik(&kpj(card), &siti_nik)
                        .await
                        .expect("find")
                ),
                Some("Siti Aminah".to_owned()),
                "Siti by card {card}"
            );
        }
        assert_eq!(
            directory
                .find_by_kpj_nik(&kpj("98765432109"), &nik("3174011203880001"))
                .await
                .expect("find"),
            None,
            "someone else's NIK"
        );
        assert_eq!(
            directory
                .find_by_kpj_nik(&kpj("99999999999"), &siti_nik)
                .await
                .expect("find"),
            None,
            "unknown card"
        );

        let budi_email = email("budi.santoso@example.com");
        assert_eq!(
            name_of(
                directory
                    .find_by_email_kpj(&budi_email, &kpj("12345678901"))
                    .await
                    .expect("find")
            ),
            Some("Budi Santoso".to_owned())
        );
        assert_eq!(
            directory
                .find_by_email_kpj(&budi_email, &kpj("98765432109"))
                .await
                .expect("find"),
            None,
            "Budi's e-mail with Siti's card"
        );

        let budi = MemberId::from_kpj(&kpj("12345678901"));
        directory
            .set_password(&budi, "$argon2id$new")
            .await
            .expect("set");
        let found = directory
            .find_by_email_kpj(&budi_email, &kpj("12345678901"))
            .await
            .expect("find")
            .expect("Budi");
        assert_eq!(found.password_phc.as_deref(), Some("$argon2id$new"));
        assert_eq!(
            seed_missing(directory, &demo).await.expect("seed again"),
            0,
            "seeding twice adds nobody"
        );
        let found = directory
            .find_by_email_kpj(&budi_email, &kpj("12345678901"))
            .await
            .expect("find")
            .expect("Budi");
        assert_eq!(
            found.password_phc.as_deref(),
            Some("$argon2id$new"),
            "seeding again keeps the changed password"
        );

        let nobody = MemberId::from_kpj(&kpj("99999999999"));
        assert!(matches!(
            directory.set_password(&nobody, "x").await,
            Err(DirectoryError::UnknownMember(_))
        ));

        let mut impostor = demo[0].clone();
        impostor.id = nobody.clone();
        assert!(matches!(
            directory.insert_if_absent(&impostor).await,
            Err(DirectoryError::KpjTaken { .. })
        ));
        assert_eq!(
            directory
                .find_by_kpj_nik(&kpj("99999999999"), &impostor.nik)
                .await
                .expect("find"),
            None,
            "a refused member leaves no index entry behind"
        );
    }

    #[tokio::test]
    async fn the_memory_directory_meets_the_member_directory_contract() {
        contract(&MemoryMemberStore::default()).await;
    }

    #[test]
    fn demo_members_are_exactly_those_of_the_spec() {
        let demo = demo_members();
        let names: Vec<&str> = demo.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["Budi Santoso", "Siti Aminah", "Agus Wijaya", "Dewi Lestari"]
        );
        let siti = &demo[1];
        assert_eq!(siti.id.as_str(), "98765432109");
        let cards: Vec<(&str, u64)> = siti
            .cards
            .iter()
            .map(|c| (c.kpj.as_str(), c.balance_rupiah))
            .collect();
        assert_eq!(
            cards,
            [("98765432109", 12_500_000), ("11122233344", 4_250_500)]
        );
        assert!(
            demo.iter()
                .all(|m| m.cards.iter().all(|c| c.as_of == "2026-10-31"))
        );
        assert_eq!(demo[2].phone, None, "Agus has no phone");
        assert_eq!(demo[3].email, None, "Dewi has no e-mail");
        assert!(demo.iter().all(|m| {
            m.password_phc
                .as_deref()
                .is_some_and(|p| p.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"))
        }));
    }

    #[test]
    fn synthetic_members_follow_the_documented_formulas() {
        let m = synthetic_member(1234);
        assert_eq!(m.name, "Anggota 1234");
        assert_eq!(m.id.as_str(), "70000001234");
        assert_eq!(m.cards[1].kpj.as_str(), "71000001234");
        assert_eq!(m.nik.as_str(), "3171010309630001");
        assert!(!m.nik.is_female());
        assert_eq!(
            m.email.as_ref().map(Email::as_str),
            Some("anggota1234@example.com")
        );
        assert_eq!(m.phone.as_ref().map(Phone::as_str), Some("081300001234"));
        assert_eq!(
            (m.cards[0].balance_rupiah, m.cards[1].balance_rupiah),
            (10_772_046, 9_735_586)
        );
        assert_eq!(synthetic_member(0).nik.as_str(), "3171010101600001");
        assert!(synthetic_member(1).nik.is_female());
        let last = synthetic_member(MAX_SYNTHETIC_MEMBERS - 1);
        assert_eq!(last.phone.as_ref().map(Phone::as_str), Some("081309999999"));
        let niks: std::collections::HashSet<String> = (0..20_000)
            .map(|i| synthetic_member(i).nik.as_str().to_owned())
            .collect();
        assert_eq!(niks.len(), 20_000, "distinct NIKs");
    }

    #[test]
    fn the_synthetic_password_hash_is_of_the_documented_password() {
        let phc = synthetic_member(7).password_phc.expect("a password");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let password =
            crate::security::password::SecretString::from("Anggota#Lama2024".to_string());
        assert!(crate::security::password::verify_password(&password, &phc));
    }

    #[test]
    fn the_login_is_the_email_or_else_the_phone() {
        let demo = demo_members();
        assert_eq!(demo[0].login(), "budi.santoso@example.com");
        assert_eq!(demo[3].login(), "081355556666", "Dewi logs in by phone");
    }

    #[test]
    fn debug_shows_no_personal_data_or_password_hash() {
        let shown = format!("{:?}", demo_members());
        for secret in [
            "3174011203880001",
            "budi.santoso",
            "081234567890",
            "12345678901",
            "Budi Santoso",
            "$argon2id",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}
