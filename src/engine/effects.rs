//! The dialog's effects run against the services: member look-ups and cards (each admitted by
//! the member's limits first), codes handed to their sender, passwords hashed (argon2id, a
//! bounded few at once) and stored, standings recorded, password-page links issued and
//! withdrawn.

use super::standings::TurnStandings;
use super::{Engine, EngineError};
use crate::clock::Timestamp;
use crate::dialog::keys::ResponseKey;
use crate::dialog::state::CardView;
use crate::dialog::{Effect, Event, MemberView};
use crate::identity::{Kpj, Nik};
use crate::limits::{Attempt, Spent};
use crate::members::{Card, FoundMember};
use crate::outbox::OutboundCode;
use crate::security::otp;
use crate::security::password::{self, SecretString};
use crate::store::{PageGrant, SessionKey, SessionTurn};
use secrecy::ExposeSecret;

/// How many argon2id hashes may run at once: half the cores, at least one. Each hash is
/// tens of milliseconds of CPU and 19 MiB of memory on a blocking thread; unbounded, four
/// password resets at once took four threads against the executor's two on this 2-core
/// machine, and the conversations beside them waited (Mix A's p99 at 2.4× its p99 alone).
/// Resets queue instead; their own latency is the hash time anyway.
pub(super) fn password_hashers() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}

/// The dialog's view of a member found by a look-up for card `kpj` (and NIK `nik`).
fn view(found: FoundMember, kpj: Kpj, nik: Option<Nik>) -> MemberView {
    MemberView {
        id: found.id,
        login: found.login,
        nik: nik.or(found.nik),
        kpj,
        email: found.email,
        phone: found.phone,
        cards: Vec::new(),
    }
}

/// The dialog's view of a card.
fn card_view(card: Card) -> CardView {
    CardView {
        kpj: card.kpj,
        balance_rupiah: card.balance_rupiah,
        as_of: card.as_of,
        employer: card.employer,
        current: card.current,
    }
}

impl Engine {
    /// Performs effects for `turn`; returns the event a look-up produced, if any.
    pub(super) async fn run_effects(
        &self,
        session: &SessionKey,
        turn: &dyn SessionTurn,
        effects: Vec<Effect>,
        now: Timestamp,
        spent: &mut Spent,
        standings: &mut TurnStandings,
    ) -> Result<Option<Event>, EngineError> {
        let mut next = None;
        for effect in effects {
            match effect {
                Effect::LookUpByKpjNik { kpj, nik } => {
                    standings.forget();
                    let attempt = Attempt::LookUpByKpjNik {
                        kpj: &kpj,
                        nik: &nik,
                    };
                    next = Some(
                        if self.services.member_limits.admit(attempt, now, spent).await {
                            self.before_directory(turn);
                            let found = self.services.members.find_by_kpj_nik(&kpj, &nik).await?;
                            Event::LookedUp(found.map(|found| view(found, kpj, Some(nik))))
                        } else {
                            Event::LookUpRefused
                        },
                    );
                }
                Effect::LookUpByEmailKpj { email, kpj } => {
                    standings.forget();
                    let attempt = Attempt::LookUpByEmailKpj {
                        email: &email,
                        kpj: &kpj,
                    };
                    next = Some(
                        if self.services.member_limits.admit(attempt, now, spent).await {
                            self.before_directory(turn);
                            let found = self
                                .services
                                .members
                                .find_by_email_kpj(&email, &kpj)
                                .await?;
                            Event::LookedUp(found.map(|found| view(found, kpj, None)))
                        } else {
                            Event::LookUpRefused
                        },
                    );
                }
                Effect::AdmitCode { request } => {
                    let attempt = Attempt::SendCode {
                        member: &request.member.id,
                    };
                    let admitted = self.services.member_limits.admit(attempt, now, spent).await;
                    next = Some(Event::CodeAdmission { admitted, request });
                }
                Effect::LoadCards { member_id } => {
                    self.before_directory(turn);
                    let cards = self.services.members.cards(&member_id).await?;
                    next = Some(Event::CardsLoaded(
                        cards.into_iter().map(card_view).collect(),
                    ));
                }
                Effect::SendCode {
                    member,
                    channel,
                    code,
                } => {
                    let to = member.address(channel).unwrap_or_default().to_string();
                    let masked_to = member.masked_address(channel);
                    let minutes = (otp::CODE_TTL.as_secs() / 60).to_string();
                    let text = self.render_text(
                        ResponseKey::CodeMessage.as_str(),
                        0,
                        &[("code", code.as_str()), ("minutes", minutes.as_str())],
                    );
                    let message = OutboundCode {
                        channel,
                        to,
                        masked_to,
                        text,
                        subject: self.render_text(ResponseKey::CodeEmailSubject.as_str(), 0, &[]),
                        code,
                    };
                    self.services.codes.send(session, message, now).await?;
                }
                Effect::SetPassword {
                    member_id,
                    password,
                } => {
                    let phc = self.hash(password, turn).await?;
                    self.services.members.set_password(&member_id, &phc).await?;
                }
                Effect::HashPasswordDraft { password } => {
                    next = Some(Event::PasswordHashed(self.hash(password, turn).await?));
                }
                Effect::SetPasswordHash { member_id, phc } => {
                    self.before_directory(turn);
                    self.services.members.set_password(&member_id, &phc).await?;
                }
                Effect::Code { member_id, event } => {
                    let guard = &self.services.guard;
                    let standing = match standings.known(&member_id) {
                        Some(known) => guard.record_from(&member_id, known, event, now).await?,
                        None => guard.record(&member_id, event, now).await?,
                    };
                    standings.recorded(&member_id, standing);
                }
                Effect::OfferPasswordPage {
                    token,
                    member_id,
                    flow,
                    expires_at,
                } => {
                    let grant = PageGrant {
                        session: session.clone(),
                        member: member_id,
                        flow,
                        expires_at,
                    };
                    self.services
                        .password_page
                        .tokens
                        .issue(&token, &grant)
                        .await?;
                }
                Effect::WithdrawPasswordPage => {
                    self.services.password_page.tokens.withdraw(session).await?;
                }
            }
        }
        Ok(next)
    }

    /// Before a call to the member directory: one across the network may take as long as its
    /// timeouts, and `turn`'s batch does not wait for it.
    fn before_directory(&self, turn: &dyn SessionTurn) {
        if self.services.members.is_remote() {
            turn.detach();
        }
    }

    /// A hasher for `turn`: argon2id takes tens of milliseconds of CPU (and may wait for
    /// other hashes first), so it runs off the async executor, only `password_hashers` at
    /// once, and without `turn`'s batch waiting for it. The semaphore is never closed.
    async fn hasher(&self, turn: &dyn SessionTurn) -> Option<tokio::sync::SemaphorePermit<'_>> {
        turn.detach();
        self.hashing.acquire().await.ok()
    }

    /// The argon2id PHC string of `password`, for `turn` (see `hasher`).
    pub(super) async fn hash(
        &self,
        password: SecretString,
        turn: &dyn SessionTurn,
    ) -> Result<String, EngineError> {
        let _hasher = self.hasher(turn).await;
        Ok(tokio::task::spawn_blocking(move || password::hash_password(&password)).await??)
    }

    /// Whether `typed` is the first entry hashed as `draft_phc`, for `turn` (see `hasher`).
    /// A text the policy's shape rules refuse cannot be (the first entry passed them) and
    /// costs no argon2 run.
    pub(super) async fn matches_draft(
        &self,
        draft_phc: &str,
        typed: &SecretString,
        turn: &dyn SessionTurn,
    ) -> Result<bool, EngineError> {
        if !password::could_be_password(typed.expose_secret()) {
            return Ok(false);
        }
        let _hasher = self.hasher(turn).await;
        let (phc, typed) = (
            draft_phc.to_string(),
            SecretString::from(typed.expose_secret().to_string()),
        );
        Ok(tokio::task::spawn_blocking(move || password::verify_password(&typed, &phc)).await?)
    }
}
