//! The password page's way into the engine (SPEC §12): whether a link opens the form, and a
//! submission that finishes the flow. A submission is a turn of the link's session, under the
//! same lock as the member's messages: the policy checked against that member, the password
//! hashed (argon2id, off the executor), the dialog fed `Event::PasswordFromPage`, its effects
//! run (the directory stores the hash), and the replies rendered for the chat — as when the
//! password is typed in the chat.

use super::standings::TurnStandings;
use super::turn::{Conclusion, decode};
use super::{Engine, EngineError, HIDDEN_PASSWORD, OutgoingMessage};
use crate::dialog::keys::ResponseKey;
use crate::dialog::{Event, PagePassword, Session};
use crate::limits::Spent;
use crate::security::page_token::{PAGE_TOKEN_ATTEMPTS, PageToken};
use crate::security::password::{self, PasswordRule, SecretString};
use crate::store::{PageGrant, PageTokenStore, SessionKey, TurnWrites};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Instant;

/// What the engine needs to send members to the password page: where the links are kept, and
/// the public base URL they start with (`TANYA_PUBLIC_URL`, no trailing `/`).
#[derive(Clone)]
pub struct PageLinks {
    pub tokens: Arc<dyn PageTokenStore>,
    pub base_url: String,
}

/// Whether a link opens the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAccess {
    Open,
    /// Unknown, expired, used, withdrawn or submitted too often: which, is never said.
    Gone,
}

/// The page's form as submitted.
#[derive(Debug)]
pub struct PageEntry {
    pub password: SecretString,
    pub confirmation: SecretString,
}

/// What became of a submission.
#[derive(Debug)]
pub enum PageOutcome {
    /// The link does not open (see `PageAccess::Gone`); nothing was done.
    Gone,
    /// Not stored: the policy's rules the password breaks (in the policy's order), and whether
    /// the confirmation differs. The form is shown again.
    Refused {
        broken: Vec<PasswordRule>,
        mismatch: bool,
    },
    /// Stored; the flow is over. `messages` are the chat's replies, for the member's channel.
    Done {
        session: SessionKey,
        messages: Vec<OutgoingMessage>,
    },
}

impl Engine {
    /// The links' store (swept with the sessions).
    pub fn page_tokens(&self) -> &Arc<dyn PageTokenStore> {
        &self.services.password_page.tokens
    }

    /// The text of response `key` with `values`, as the chat would say it (its first variant):
    /// the password page speaks with the content's words.
    pub fn page_text(&self, key: ResponseKey, values: &[(&str, &str)]) -> String {
        self.render_text(key.as_str(), 0, values)
    }

    /// Whether `token` opens the password page now. Counts nothing.
    pub async fn password_page(&self, token: &PageToken) -> Result<PageAccess, EngineError> {
        let now = self.services.clock.now();
        let hash = token.hash(&self.services.key);
        let Some(grant) = self.page_tokens().find(&hash, now).await? else {
            return Ok(PageAccess::Gone);
        };
        // A link whose flow ended some other way is withdrawn by the dialog; should that write
        // have been lost, the session's own state still says no.
        let waiting = match self.load(&grant.session).await? {
            Some(stored) => {
                let session = decode(&grant.session, &stored, now);
                session
                    .state
                    .page_member(&grant.member, grant.flow)
                    .is_some()
            }
            None => false,
        };
        Ok(if waiting {
            PageAccess::Open
        } else {
            PageAccess::Gone
        })
    }

    /// Takes a submission of the page under `token` (counted against the link's limit).
    pub async fn submit_password_page(
        &self,
        token: &PageToken,
        entry: PageEntry,
    ) -> Result<PageOutcome, EngineError> {
        let now = self.services.clock.now();
        let hash = token.hash(&self.services.key);
        let Some(grant) = self
            .page_tokens()
            .attempt(&hash, PAGE_TOKEN_ATTEMPTS, now)
            .await?
        else {
            return Ok(PageOutcome::Gone);
        };
        let result = self.finish_on_page(&grant, entry).await;
        if let Err(error) = &result {
            self.metrics
                .turn_failed(crate::metrics::Channel::of(grant.session.channel()));
            tracing::warn!(session = %grant.session.redacted(), %error, "password page failed");
        }
        result
    }

    /// The turn of `grant`'s session that a submission makes.
    async fn finish_on_page(
        &self,
        grant: &PageGrant,
        entry: PageEntry,
    ) -> Result<PageOutcome, EngineError> {
        let started = Instant::now();
        let key = &grant.session;
        let _turn = self.locks.lock(key).await;
        let now = self.services.clock.now();
        let (stored, store_turn) = self.services.store.begin_turn(key).await?;
        let session = match stored {
            Some(stored) => decode(key, &stored, now),
            None => Session::new(now),
        };
        let Some(member) = session.state.page_member(&grant.member, grant.flow) else {
            store_turn.finish(TurnWrites::default()).await?;
            return Ok(PageOutcome::Gone);
        };
        let broken =
            password::check_policy(entry.password.expose_secret(), &member.personal_strings());
        let mismatch = !password::same_secret(&entry.password, &entry.confirmation);
        if !broken.is_empty() || mismatch {
            // Nothing of a refused submission is kept.
            store_turn.finish(TurnWrites::default()).await?;
            return Ok(PageOutcome::Refused { broken, mismatch });
        }
        let phc = self.hash(entry.password, store_turn.as_ref()).await?;
        let page = PagePassword {
            member: grant.member.clone(),
            flow: grant.flow,
            phc,
        };
        let mut standings = TurnStandings::default();
        let transition = self
            .step(
                key,
                session,
                Event::PasswordFromPage(page),
                now,
                &mut standings,
            )
            .await?;
        // The dialog asks to store the hash and to withdraw the link; no look-up follows.
        // (It never spends the member's limits, so there is nothing to give back.)
        self.run_effects(
            key,
            store_turn.as_ref(),
            transition.effects,
            now,
            &mut Spent::default(),
            &mut standings,
        )
        .await?;
        let concluded = Conclusion {
            key,
            // The member's side of this exchange: a password, set on the page.
            user_line: HIDDEN_PASSWORD.to_string(),
            replies: transition.replies,
            client_message_id: None,
            intent: None,
            flows: transition.outcomes,
            new_session: false,
            started,
            now,
        };
        let (_, messages) = self
            .conclude(transition.session, store_turn, concluded)
            .await?;
        Ok(PageOutcome::Done {
            session: key.clone(),
            messages,
        })
    }
}
