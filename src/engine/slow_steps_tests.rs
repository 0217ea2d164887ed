//! A turn's slow steps on PostgreSQL, where turns are begun and written in batches: a turn
//! waiting on a directory across the network, or on a password hash, lets its batch commit
//! without it, so no other member waits for it.

use super::tests::{TestStores, engine_over, says};
use crate::identity::{Email, Kpj, Nik};
use crate::limits::LimitsConfig;
use crate::members::{Card, DirectoryError, FoundMember, MemberDirectory, MemberId};
use crate::security::password::SecretString;
use crate::store::test_cluster::TempPostgres;
use crate::store::{PostgresBatching, PostgresOptions, SessionKey, Stores, TurnWrites};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Longer than any test runs: a batch waits for a turn that does not detach.
const NEVER: Duration = Duration::from_secs(600);
/// How long the other members' turns may take on a loaded machine (they take milliseconds).
const OTHERS_WITHIN: Duration = Duration::from_secs(60);

/// A fresh cluster, and its stores with one batch slot that waits for its turns for ever.
async fn stores() -> (TempPostgres, Stores) {
    let cluster = tokio::task::spawn_blocking(TempPostgres::start)
        .await
        .expect("start");
    let options = PostgresOptions {
        url: cluster.url(),
        pool_size: 4,
        batching: PostgresBatching {
            batches: 1,
            detach_after: NEVER,
            ..PostgresBatching::default()
        },
    };
    let stores = crate::store::open_postgres(&options).await.expect("open");
    (cluster, stores)
}

fn test_stores(stores: &Stores) -> TestStores {
    TestStores {
        sessions: stores.sessions.clone(),
        guard: stores.guard.clone(),
        durability: stores.durability.clone(),
    }
}

/// Where a test holds the look-ups of a `HeldDirectory`.
#[derive(Default)]
struct Gate {
    looking_up: Notify,
    release: Notify,
}

/// A directory across the network whose look-ups by card and NIK wait at the gate.
struct HeldDirectory {
    inner: Arc<dyn MemberDirectory>,
    gate: Arc<Gate>,
}

#[async_trait::async_trait]
impl MemberDirectory for HeldDirectory {
    async fn find_by_kpj_nik(
        &self,
        kpj: &Kpj,
        nik: &Nik,
    ) -> Result<Option<FoundMember>, DirectoryError> {
        self.gate.looking_up.notify_one();
        self.gate.release.notified().await;
        self.inner.find_by_kpj_nik(kpj, nik).await
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
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_waiting_on_a_directory_across_the_network_holds_up_no_other_member() {
    let (_cluster, stores) = stores().await;
    let gate = Arc::new(Gate::default());
    let directory = |inner| -> Arc<dyn MemberDirectory> {
        Arc::new(HeldDirectory {
            inner,
            gate: gate.clone(),
        })
    };
    let engine = Arc::new(engine_over(test_stores(&stores), LimitsConfig::off(), directory).await);
    let held = SessionKey::new("web", "held").expect("key");
    engine
        .handle(says(&held, "cek saldo jht"))
        .await
        .expect("asks for the card and NIK");
    let looking_up = gate.looking_up.notified();
    let waiting = tokio::spawn({
        let (engine, held) = (engine.clone(), held.clone());
        async move {
            engine
                .handle(says(&held, "12345678901 3174011203880001"))
                .await
        }
    });
    looking_up.await;

    // Every other member is answered while the look-up waits, in batches of their own.
    let mut others = tokio::task::JoinSet::new();
    for i in 0..20 {
        let engine = engine.clone();
        let key = SessionKey::new("web", &format!("other-{i}")).expect("key");
        others.spawn(async move { engine.handle(says(&key, "apa itu jmo")).await });
    }
    let answered = tokio::time::timeout(OTHERS_WITHIN, async {
        while let Some(done) = others.join_next().await {
            done.expect("task").expect("turn");
        }
    })
    .await;
    assert!(answered.is_ok(), "the other members waited for the look-up");
    assert!(!waiting.is_finished(), "the look-up is still waiting");

    gate.release.notify_one();
    let result = waiting.await.expect("task").expect("turn");
    let keys: Vec<&str> = result.messages.iter().map(|m| m.key.as_str()).collect();
    assert!(keys.contains(&"ask_otp_channel"), "{keys:?}");
    // The late turn was written, and its session let go: the member goes on.
    let next = tokio::time::timeout(OTHERS_WITHIN, engine.handle(says(&held, "sms")))
        .await
        .expect("the session was let go")
        .expect("turn");
    let keys: Vec<&str> = next.messages.iter().map(|m| m.key.as_str()).collect();
    assert!(keys.contains(&"otp_sent"), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_waiting_for_a_password_hash_holds_up_no_other_turn() {
    let (_cluster, stores) = stores().await;
    let engine = engine_over(test_stores(&stores), LimitsConfig::off(), |inner| inner).await;
    // Every hasher busy: the hash waits until they are given back.
    let hashers = u32::try_from(super::effects::password_hashers()).expect("a few");
    let busy = engine.hashing.acquire_many(hashers).await.expect("open");
    let hashing_key = SessionKey::new("web", "hashing").expect("key");
    let (_, turn) = stores
        .sessions
        .begin_turn(&hashing_key)
        .await
        .expect("begin");
    let other = async {
        let key = SessionKey::new("web", "other").expect("key");
        let (_, other) = stores.sessions.begin_turn(&key).await?;
        other.finish(TurnWrites::default()).await
    };
    let phc = {
        let hash = engine.hash(SecretString::from("Kopi#Tubruk2026"), turn.as_ref());
        tokio::pin!(hash);
        tokio::select! {
            _ = &mut hash => panic!("hashed with every hasher busy"),
            done = tokio::time::timeout(OTHERS_WITHIN, other) => {
                done.expect("the other turn waited for the hash").expect("committed");
            }
        }
        drop(busy);
        hash.await.expect("hashed")
    };
    assert!(phc.starts_with("$argon2id$"));
    turn.finish(TurnWrites::default()).await.expect("finish");
}
