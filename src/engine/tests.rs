//! The engine's turns end to end over in-memory services: one session at a time and in
//! order, other sessions not held up, and the history and buttons a turn leaves behind.

use super::{Engine, HistoryEntry, IncomingMessage, Input, PageLinks, Services};
use crate::dialog::state::{HISTORY_LIMIT, RECENT_EXCHANGES, Speaker};
use crate::dialog::{self, Session};
use crate::identity::{Email, Kpj, Nik};
use crate::limits::{Limits, MemberLimits};
use crate::members::{Card, DirectoryError, FoundMember, MemberDirectory, MemberId};
use crate::nlu::Nlu;
use crate::security::otp::ServerKey;
use crate::store::{DbError, Durability, MemberGuardStore, NoDurability, SessionKey, SessionStore};
use std::sync::Arc;

/// Durability whose first call waits until released: holds one turn in the middle, with
/// its session saved and its lock held.
struct HoldFirst {
    calls: std::sync::atomic::AtomicUsize,
    release: tokio::sync::Notify,
    holding: tokio::sync::Notify,
}

impl Durability for HoldFirst {
    fn make_durable(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + '_>> {
        Box::pin(async move {
            if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                self.holding.notify_one();
                self.release.notified().await;
            }
            Ok(())
        })
    }
}

async fn engine(durability: Arc<dyn Durability>) -> (Engine, Arc<dyn SessionStore>) {
    engine_with(durability, crate::limits::LimitsConfig::off(), |members| {
        members
    })
    .await
}

/// An engine over in-memory stores and the demo members (as `directory` wraps them) with
/// `limits`.
async fn engine_with(
    durability: Arc<dyn Durability>,
    limits: crate::limits::LimitsConfig,
    directory: impl FnOnce(Arc<dyn MemberDirectory>) -> Arc<dyn MemberDirectory>,
) -> (Engine, Arc<dyn SessionStore>) {
    let store: Arc<dyn SessionStore> = Arc::new(crate::store::MemorySessionStore::default());
    let guard: Arc<dyn MemberGuardStore> = Arc::new(crate::store::MemoryMemberGuard::default());
    let stores = TestStores {
        sessions: store.clone(),
        guard,
        durability,
    };
    (engine_over(stores, limits, directory).await, store)
}

/// The stores an engine of the tests keeps its sessions and standings in.
pub(super) struct TestStores {
    pub(super) sessions: Arc<dyn SessionStore>,
    pub(super) guard: Arc<dyn MemberGuardStore>,
    pub(super) durability: Arc<dyn Durability>,
}

/// An engine over `stores` and the demo members (as `directory` wraps them) with `limits`.
pub(super) async fn engine_over(
    stores: TestStores,
    limits: crate::limits::LimitsConfig,
    directory: impl FnOnce(Arc<dyn MemberDirectory>) -> Arc<dyn MemberDirectory>,
) -> Engine {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
    let content =
        Arc::new(crate::content::load(&dir, &dialog::keys::requirements()).expect("content"));
    let nlu = Arc::new(Nlu::train(&content, crate::nlu::Thresholds::default()));
    let members = Arc::new(crate::members::MemoryMemberStore::default());
    crate::members::seed_missing(members.as_ref(), &crate::members::demo_members())
        .await
        .expect("seed");
    let key = Arc::new(ServerKey::from_bytes([7; 32]));
    let guard = stores.guard;
    let services = Services {
        store: stores.sessions,
        members: directory(Arc::new(crate::members::StoredMembers(members))),
        codes: Arc::new(crate::outbox::MemoryOutbox::default()),
        durability: stores.durability,
        clock: Arc::new(crate::clock::SystemClock),
        key: key.clone(),
        limits: Arc::new(Limits::new(&limits)),
        member_limits: Arc::new(MemberLimits::new(&limits, guard.clone(), key)),
        guard,
        password_page: PageLinks {
            tokens: Arc::new(crate::store::MemoryPageTokens::default()),
            base_url: "https://tanya.example".into(),
        },
    };
    Engine::new(nlu, content, services)
}

pub(super) fn says(session: &SessionKey, text: &str) -> IncomingMessage {
    IncomingMessage {
        session: session.clone(),
        input: Input::Text(text.to_string()),
        client_message_id: None,
    }
}

fn single_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn saved_session(store: &Arc<dyn SessionStore>, key: &SessionKey) -> Session {
    let stored = store.load(key).await.expect("load").expect("saved");
    serde_json::from_slice(&stored.data).expect("decodes")
}

/// What the member said, in the order the history shows it.
fn user_lines(history: &[HistoryEntry]) -> Vec<&str> {
    history
        .iter()
        .filter(|e| e.from == Speaker::User)
        .map(|e| e.text.as_str())
        .collect()
}

#[test]
fn concurrent_messages_to_one_session_are_processed_one_at_a_time_in_order() {
    // One thread: the 50 turns are polled in the order they were sent, so the lock's
    // queue, which is first come first served, must process them in that order.
    let runtime = single_thread_runtime();
    runtime.block_on(async {
        let (engine, store) = engine(Arc::new(YieldingDurability)).await;
        let key = SessionKey::new("web", "one-session").expect("key");
        let texts: Vec<String> = (1..=50).map(|i| format!("halo {i}")).collect();
        let turns = texts.iter().map(|text| engine.handle(says(&key, text)));
        let results = futures_join_all(turns.collect()).await;
        assert!(results.iter().all(Result::is_ok));
        let session = saved_session(&store, &key).await;
        assert_eq!(session.turns, 50, "no turn lost to a concurrent one");
        let history = engine.history(&key).await.expect("history").expect("saved");
        let users = user_lines(&history);
        // The transcript keeps its last lines; they are the last messages, in sending order.
        assert!(!users.is_empty());
        assert_eq!(users[..], texts[texts.len() - users.len()..]);
        // Each message is followed by its own answers before the next message.
        assert!(
            history
                .windows(2)
                .all(|pair| !(pair[0].from == Speaker::User && pair[1].from == Speaker::User)),
            "two messages without an answer between them"
        );
        assert_eq!(history.last().map(|e| e.from), Some(Speaker::Bot));
    });
}

/// A directory whose first look-up is an outage and second a failure, then answers.
struct FlakyLookups {
    inner: Arc<dyn MemberDirectory>,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl MemberDirectory for FlakyLookups {
    async fn find_by_kpj_nik(
        &self,
        kpj: &Kpj,
        nik: &Nik,
    ) -> Result<Option<FoundMember>, DirectoryError> {
        match self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Err(DirectoryError::Unavailable("test outage".into())),
            1 => Err(DirectoryError::Database(DbError::FlusherStopped)),
            _ => self.inner.find_by_kpj_nik(kpj, nik).await,
        }
    }

    async fn find_by_email_kpj(
        &self,
        email: &Email,
        kpj: &Kpj,
    ) -> Result<Option<FoundMember>, DirectoryError> {
        self.inner.find_by_email_kpj(email, kpj).await
    }

    async fn cards(&self, id: &MemberId) -> Result<Vec<Card>, DirectoryError> {
        self.inner.cards(id).await
    }

    async fn set_password(&self, id: &MemberId, phc: &str) -> Result<(), DirectoryError> {
        self.inner.set_password(id, phc).await
    }

    fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }
}

/// A turn whose look-up was admitted but then dropped (a directory outage) or failed (any
/// other error) gives the member's tokens back: with one look-up an hour, the member's third
/// try of the same message is still looked up, and only then is the hour's look-up spent.
#[test]
fn a_dropped_or_failed_turn_gives_back_the_look_ups_it_spent() {
    let runtime = single_thread_runtime();
    runtime.block_on(async {
        let limits = crate::limits::LimitsConfig {
            member_lookups: Some(crate::limits::Rate::new(
                1,
                std::time::Duration::from_secs(3600),
            )),
            ..crate::limits::LimitsConfig::off()
        };
        let flaky = |inner| -> Arc<dyn MemberDirectory> {
            Arc::new(FlakyLookups {
                inner,
                calls: std::sync::atomic::AtomicUsize::new(0),
            })
        };
        let (engine, _) = engine_with(Arc::new(NoDurability), limits, flaky).await;
        let keys_of = |result: &super::TurnResult| -> Vec<String> {
            result.messages.iter().map(|m| m.key.clone()).collect()
        };
        let key = SessionKey::new("web", "retry").expect("key");
        engine
            .handle(says(&key, "lupa akun jmo"))
            .await
            .expect("start");
        let values = "12345678901 3174011203880001";
        let dropped = engine
            .handle(says(&key, values))
            .await
            .expect("outage turn");
        assert_eq!(keys_of(&dropped), ["service_unavailable"]);
        let failed = engine.handle(says(&key, values)).await;
        assert!(failed.is_err(), "the look-up failed");
        let answer = engine.handle(says(&key, values)).await.expect("third try");
        assert_eq!(keys_of(&answer), ["ask_otp_channel"]);
        // Spent now: another look-up of that card within the hour is refused.
        let other = SessionKey::new("web", "other").expect("key");
        engine
            .handle(says(&other, "lupa akun jmo"))
            .await
            .expect("start");
        let again = engine.handle(says(&other, values)).await.expect("refused");
        assert_eq!(keys_of(&again), ["rate_limited"]);
    });
}

#[test]
fn a_button_pressed_outside_its_answer_shows_its_title_in_the_history() {
    let runtime = single_thread_runtime();
    runtime.block_on(async {
        let (engine, _) = engine(Arc::new(NoDurability)).await;
        // A starter button of the widget: pressed before any answer offered it.
        let key = SessionKey::new("web", "starter").expect("key");
        let pressed = IncomingMessage {
            session: key.clone(),
            input: Input::Payload("/forgot_password".to_string()),
            client_message_id: None,
        };
        engine.handle(pressed).await.expect("turn");
        let history = engine.history(&key).await.expect("history").expect("saved");
        assert_eq!(user_lines(&history), ["Lupa password JMO"]);
    });
}

#[test]
fn the_history_keeps_the_last_exchanges_across_the_session_and_the_transcript_store() {
    let runtime = single_thread_runtime();
    runtime.block_on(async {
        let (engine, store) = engine(Arc::new(NoDurability)).await;
        let key = SessionKey::new("web", "long-talk").expect("key");
        let total = HISTORY_LIMIT + 7;
        let texts: Vec<String> = (0..total).map(|i| format!("apa itu jmo {i}")).collect();
        async {
            for text in &texts {
                engine.handle(says(&key, text)).await.expect("turn");
            }
        }
        .await;
        let session = saved_session(&store, &key).await;
        assert_eq!(session.recent.len(), RECENT_EXCHANGES);
        let history = engine.history(&key).await.expect("history").expect("saved");
        let users = user_lines(&history);
        let kept = &texts[(total - HISTORY_LIMIT) as usize..];
        assert_eq!(users, kept.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(history.first().map(|e| e.from), Some(Speaker::User));
        assert_eq!(history.last().map(|e| e.from), Some(Speaker::Bot));
    });
}

#[test]
fn only_the_latest_answer_offers_buttons_and_the_transcript_keeps_every_line() {
    let runtime = single_thread_runtime();
    runtime.block_on(async {
        let (engine, _) = engine(Arc::new(NoDurability)).await;
        let key = SessionKey::new("web", "buttons").expect("key");
        async {
            assert!(
                engine
                    .offered_buttons(&key)
                    .await
                    .expect("none yet")
                    .is_empty()
            );
            let greeted = engine.handle(says(&key, "halo")).await.expect("turn");
            let menu = engine.offered_buttons(&key).await.expect("offered");
            assert!(!menu.is_empty(), "the greeting offers a menu");
            assert_eq!(
                Some(&menu),
                greeted
                    .messages
                    .iter()
                    .rev()
                    .map(|m| &m.buttons)
                    .find(|b| !b.is_empty())
            );
            let asked = engine
                .handle(says(&key, "cek saldo jht"))
                .await
                .expect("turn");
            assert!(asked.messages.iter().all(|m| m.buttons.is_empty()));
            assert!(
                engine
                    .offered_buttons(&key)
                    .await
                    .expect("offered")
                    .is_empty(),
                "the greeting's menu is no longer on offer"
            );
            let history = engine.history(&key).await.expect("history").expect("saved");
            let texts: Vec<&str> = history.iter().map(|e| e.text.as_str()).collect();
            let mut expected = vec!["halo"];
            expected.extend(greeted.messages.iter().map(|m| m.text.as_str()));
            // The typed title pressed the greeting's button: the history shows the button.
            expected.push("Cek saldo JHT");
            expected.extend(asked.messages.iter().map(|m| m.text.as_str()));
            assert_eq!(texts, expected);
        }
        .await;
    });
}

/// Durability that yields once: a turn then holds its lock across a suspension, so the
/// other turns queue up behind it.
struct YieldingDurability;

impl Durability for YieldingDurability {
    fn make_durable(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + '_>> {
        Box::pin(async {
            tokio::task::yield_now().await;
            Ok(())
        })
    }
}

#[test]
fn a_session_in_the_middle_of_a_turn_does_not_hold_up_other_sessions() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let hold = Arc::new(HoldFirst {
            calls: std::sync::atomic::AtomicUsize::default(),
            release: tokio::sync::Notify::new(),
            holding: tokio::sync::Notify::new(),
        });
        let (engine, _) = engine(hold.clone()).await;
        let engine = Arc::new(engine);
        let held = SessionKey::new("web", "held").expect("key");
        async {
            let holding = hold.holding.notified();
            let first = tokio::spawn({
                let engine = engine.clone();
                let held = held.clone();
                async move { engine.handle(says(&held, "halo")).await }
            });
            holding.await;
            // Every other session finishes while the held turn waits.
            let others: Vec<SessionKey> = (0..200)
                .map(|i| SessionKey::new("web", &format!("other-{i}")).expect("key"))
                .collect();
            let mut tasks = tokio::task::JoinSet::new();
            for key in others {
                let engine = engine.clone();
                tasks.spawn(async move { engine.handle(says(&key, "apa itu jmo")).await });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("task").expect("turn");
            }
            assert!(!first.is_finished(), "the held turn is still waiting");
            hold.release.notify_one();
            first.await.expect("task").expect("the held turn completes");
        }
        .await;
    });
}

/// Awaits futures together on the current task, in the order given.
async fn futures_join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("ready")).collect()
}
