//! The member standings one turn has read (or its store read with the session) or recorded,
//! so that its later steps do not read them again.
//!
//! A turn's steps follow each other within milliseconds (a code is checked, the cards are
//! loaded, the balance is shown), and on a shared database every read is a round trip that
//! waits its turn behind everyone else's. A standing is therefore read once per turn, at the
//! first step about its member, and replaced by what the turn itself records; a change made
//! meanwhile by another session of the member counts from that member's next turn, as it
//! would had it come a moment later.

use crate::members::MemberId;
use crate::security::lockout::Standing;
use crate::store::{MemberGuardStore, StoreError};

/// The standings of one turn, by member (a turn is about one member, rarely two).
#[derive(Default)]
pub(super) struct TurnStandings(Vec<(MemberId, Standing)>);

impl TurnStandings {
    /// Starts from the standing the store read with the session, if it did (see
    /// `SessionTurn::member_standing`): the member the session was about at its last save,
    /// usually the one this turn is about.
    pub(super) fn read_with_session(read: Option<(MemberId, Standing)>) -> TurnStandings {
        TurnStandings(read.into_iter().collect())
    }

    /// `member`'s standing: as this turn last saw it, or read from `guard`.
    pub(super) async fn of(
        &mut self,
        guard: &dyn MemberGuardStore,
        member: &MemberId,
    ) -> Result<Standing, StoreError> {
        if let Some(known) = self.known(member) {
            return Ok(known);
        }
        let standing = guard.standing(member).await?;
        self.0.push((member.clone(), standing));
        Ok(standing)
    }

    /// `member`'s standing if this turn has read or recorded it (and not forgotten it since).
    pub(super) fn known(&self, member: &MemberId) -> Option<Standing> {
        self.0
            .iter()
            .find(|(id, _)| id == member)
            .map(|(_, known)| *known)
    }

    /// Forgets what the turn read: after a look-up, which may take seconds (the agency's
    /// directory), a standing is read again before a code is sent on its strength.
    pub(super) fn forget(&mut self) {
        self.0.clear();
    }

    /// `member`'s standing as the turn just recorded it.
    pub(super) fn recorded(&mut self, member: &MemberId, standing: Standing) {
        match self.0.iter_mut().find(|(id, _)| id == member) {
            Some((_, known)) => *known = standing,
            None => self.0.push((member.clone(), standing)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::limits::MemoryMemberGuard;
    use crate::security::lockout::CodeEvent;

    #[tokio::test]
    async fn a_standing_is_read_once_per_turn_and_follows_what_the_turn_records() {
        let guard = MemoryMemberGuard::default();
        let member = MemberId::from_stored("M-1".into());
        let mut standings = TurnStandings::default();
        assert_eq!(
            standings.of(&guard, &member).await.expect("read"),
            Standing::default()
        );
        // Changed elsewhere after the turn read it: the turn keeps what it read.
        let now = Timestamp(1_000);
        let elsewhere = guard
            .record(&member, CodeEvent::Wrong, now)
            .await
            .expect("record");
        assert_eq!(
            standings.of(&guard, &member).await.expect("known"),
            Standing::default()
        );
        // Recorded by the turn: the turn sees its own record.
        standings.recorded(&member, elsewhere);
        assert_eq!(
            standings.of(&guard, &member).await.expect("known"),
            elsewhere
        );
        // Forgotten (a look-up ran): read again, with what changed elsewhere meanwhile.
        let again = guard
            .record(&member, CodeEvent::Wrong, now)
            .await
            .expect("record");
        assert_ne!(standings.of(&guard, &member).await.expect("known"), again);
        standings.forget();
        assert_eq!(standings.of(&guard, &member).await.expect("read"), again);
        // Another member is read for itself.
        let other = MemberId::from_stored("M-2".into());
        assert_eq!(
            standings.of(&guard, &other).await.expect("read"),
            Standing::default()
        );
    }
}
