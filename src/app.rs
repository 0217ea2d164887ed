//! Building the application from configuration: one function used by the server, the CLI
//! chat, the conversation runner and the tests, so they all run the same thing.

use crate::channels::CodeQueue;
use crate::channels::delivery::Outbox;
use crate::channels::demo_codes::DemoCodes;
use crate::channels::{Channels, CodeDelivery};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ProductionConfig};
use crate::content::{self, Content, ContentErrors};
use crate::delivery::CodeTransport;
use crate::dialog::keys;
use crate::directory::HttpDirectory;
use crate::engine::{Engine, PageLinks, Services};
use crate::limits::{Limits, MemberLimits};
use crate::members::{
    self, DirectoryError, MemberDirectory, MemberStore, MemoryMemberStore, StoredMembers,
};
use crate::nlu::Nlu;
use crate::outbox::{CodeSender, DemoOutbox, MemoryOutbox, OutboxError};
use crate::security::otp::{KeyError, ServerKey};
use crate::store::{
    self, Durability, EmbeddedDatabase, EmbeddedOptions, MemberGuardStore, MemoryMemberGuard,
    MemoryPageTokens, MemorySessionStore, NoDurability, OpenError, SessionStore, StoreError,
    Stores,
};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// Sessions idle this long are deleted by the sweeper, so the database does not grow forever.
pub const SESSION_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// How often the sweeper looks.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Why the application could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `intents/` has problems (each names its file and line).
    #[error("invalid content in the intents directory:\n{0}")]
    Content(#[from] ContentErrors),
    /// The stores could not be opened.
    #[error("{0}")]
    Open(#[from] OpenError),
    /// The session store could not be opened.
    #[error("session store: {0}")]
    Store(#[from] StoreError),
    /// The member directory could not be opened or seeded.
    #[error("member directory: {0}")]
    Directory(#[from] DirectoryError),
    /// The outbox could not be opened.
    #[error("outbox: {0}")]
    Outbox(#[from] OutboxError),
    /// The server key for codes could not be read or created.
    #[error("server key: {0}")]
    Key(#[from] KeyError),
    /// The member directory's client could not be set up (a certificate file).
    #[error("{0}")]
    DirectorySetup(#[from] crate::directory::SetupError),
    /// The member directory does not answer its health check at start-up.
    #[error(
        "TANYA_DIRECTORY_URL: the member directory does not answer GET /health ({0}); check the URL, TANYA_DIRECTORY_TOKEN and the network"
    )]
    DirectoryUnreachable(DirectoryError),
    /// The code transports could not be set up.
    #[error("{0}")]
    CodeDelivery(#[from] crate::delivery::SetupError),
}

/// The assembled application.
#[derive(Clone)]
pub struct App {
    pub config: Config,
    pub content: Arc<Content>,
    pub nlu: Arc<Nlu>,
    pub engine: Arc<Engine>,
    pub store: Arc<dyn SessionStore>,
    /// Per-member limits and standings (swept with the sessions).
    pub guard: Arc<dyn MemberGuardStore>,
    /// The demo outbox (demo mode only).
    pub outbox: Option<Arc<dyn DemoOutbox>>,
    /// Makes every store's writes durable (shutdown, tests).
    pub durability: Arc<dyn Durability>,
    /// The embedded database, when the app runs on disk.
    pub embedded: Option<EmbeddedDatabase>,
    /// The messaging channels (Telegram, WhatsApp, LINE) and their delivery outbox.
    pub channels: Arc<Channels>,
}

impl App {
    /// The real application: the embedded stores in `TANYA_DATA_DIR`, the system clock, demo
    /// members seeded.
    pub async fn build(config: Config) -> Result<App, BuildError> {
        // Training the NLU and opening the database are the two slow parts of start-up and
        // share nothing: on two cores, doing them side by side makes start-up the longer of
        // the two instead of their sum.
        let training = tokio::task::spawn_blocking({
            let config = config.clone();
            move || -> Result<_, BuildError> {
                let started = std::time::Instant::now();
                let content = load_content(&config)?;
                let nlu = Nlu::train(&content, config.nlu);
                tracing::info!(
                    millis = started.elapsed().as_millis() as u64,
                    "content loaded and NLU trained"
                );
                Ok((content, nlu))
            }
        });
        let started = std::time::Instant::now();
        let opened = open_database(&config).await;
        tracing::info!(
            millis = started.elapsed().as_millis() as u64,
            "database opened"
        );
        let trained = training
            .await
            .unwrap_or_else(|stopped| std::panic::resume_unwind(stopped.into_panic()));
        let (content, nlu) = trained?;
        let (content, nlu) = (Arc::new(content), Arc::new(nlu));
        let stores = opened?;
        let store = stores.sessions.clone();
        let key = Arc::new(server_key(&config, &stores)?);
        let guard = stores.guard.clone();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let backends = match &config.production {
            Some(production) => Backends::production(production, &stores, clock.clone()).await?,
            None => Backends::demo(&config, &stores).await?,
        };
        let services = Services {
            store: store.clone(),
            members: backends.members,
            codes: backends.codes,
            durability: stores.durability.clone(),
            clock,
            key: key.clone(),
            limits: Arc::new(Limits::new(&config.limits)),
            member_limits: Arc::new(MemberLimits::new(&config.limits, guard.clone(), key)),
            guard: guard.clone(),
            password_page: PageLinks {
                tokens: stores.page_tokens.clone(),
                base_url: config.public_url.clone(),
            },
        };
        let engine = Arc::new(Engine::new(nlu.clone(), content.clone(), services));
        let demo_codes = backends
            .demo_outbox
            .clone()
            .map(|outbox| DemoCodes::new(outbox, content.clone()));
        let channels = Arc::new(Channels::new(
            &config,
            engine.clone(),
            Some(&stores),
            demo_codes,
            backends.code_delivery,
        )?);
        Ok(App {
            engine,
            config,
            content,
            nlu,
            store,
            guard,
            outbox: backends.demo_outbox,
            durability: stores.durability,
            embedded: stores.embedded,
            channels,
        })
    }

    /// A demo application entirely in memory, on the given clock: for the conversation
    /// runner and tests, where every conversation starts from fresh demo data. The content
    /// and trained NLU are shared, so building one per conversation is cheap.
    pub async fn in_memory(
        config: Config,
        content: Arc<Content>,
        nlu: Arc<Nlu>,
        clock: Arc<dyn Clock>,
    ) -> Result<App, BuildError> {
        let store: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::default());
        let directory = Arc::new(MemoryMemberStore::default());
        seed_demo_members(&config, directory.as_ref()).await?;
        let outbox = Arc::new(MemoryOutbox::default());
        let members: Arc<dyn MemberDirectory> = Arc::new(StoredMembers(directory));
        let key = Arc::new(ServerKey::from_bytes(rand_key()));
        let guard: Arc<dyn MemberGuardStore> = Arc::new(MemoryMemberGuard::default());
        let services = Services {
            store: store.clone(),
            members,
            codes: outbox.clone(),
            durability: Arc::new(NoDurability),
            clock,
            key: key.clone(),
            limits: Arc::new(Limits::new(&config.limits)),
            member_limits: Arc::new(MemberLimits::new(&config.limits, guard.clone(), key)),
            guard: guard.clone(),
            password_page: PageLinks {
                tokens: Arc::new(MemoryPageTokens::default()),
                base_url: config.public_url.clone(),
            },
        };
        let engine = Arc::new(Engine::new(nlu.clone(), content.clone(), services));
        // Channel storage is a temporary database, created only when a channel is configured.
        let demo_codes = DemoCodes::new(outbox.clone(), content.clone());
        let channels = Arc::new(Channels::new(
            &config,
            engine.clone(),
            None,
            Some(demo_codes),
            None,
        )?);
        Ok(App {
            engine,
            config,
            content,
            nlu,
            store,
            guard,
            outbox: Some(outbox),
            durability: Arc::new(NoDurability),
            embedded: None,
            channels,
        })
    }

    /// What the HTTP handlers can reach: the wiring hands its parts to the HTTP shell, which
    /// knows nothing of `App`.
    pub fn http_state(&self) -> crate::http::AppState {
        crate::http::AppState {
            nlu: self.nlu.clone(),
            engine: self.engine.clone(),
            outbox: self.outbox.clone(),
            store: self.store.clone(),
            guard: self.guard.clone(),
            cors_origins: self.config.cors_origins.clone().into(),
            channels: self.channels.clone(),
            client_ip_header: self.config.client_ip_header.clone(),
            request_timeout: self.config.request_timeout,
        }
    }

    /// The HTTP router for this application.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.http_state())
    }

    /// Deletes sessions idle for more than `SESSION_RETENTION`, and demo outbox entries sent
    /// before the same cutoff, and member limits that restrict nothing any more, and expired
    /// password-page links, every
    /// `SWEEP_INTERVAL` (the first time at once), and then
    /// counts the sessions kept for the `tanya_sessions_stored` metric, which the engine
    /// advances between sweeps: a scrape never scans the store.
    pub fn spawn_session_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let guard = self.guard.clone();
        let outbox = self.outbox.clone();
        let clock = self.engine.clock().clone();
        let metrics = self.engine.metrics().clone();
        let page_tokens = self.engine.page_tokens().clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(SWEEP_INTERVAL);
            loop {
                interval.tick().await;
                let now = clock.now();
                let cutoff = crate::clock::Timestamp(
                    now.0.saturating_sub(SESSION_RETENTION.as_millis() as u64),
                );
                let started = std::time::Instant::now();
                let sweep = async {
                    let removed = store.remove_idle(cutoff).await?;
                    let codes_removed = match &outbox {
                        Some(outbox) => outbox.remove_sent_before(cutoff).await?,
                        None => 0,
                    };
                    let limits_removed = guard.sweep(now).await?;
                    let links_removed = page_tokens.sweep(now).await?;
                    let kept = store.count().await?;
                    Ok::<_, SweepError>((
                        removed,
                        codes_removed,
                        limits_removed,
                        links_removed,
                        kept,
                    ))
                };
                match sweep.await {
                    Ok((removed, codes_removed, limits_removed, links_removed, kept)) => {
                        metrics.set_sessions_stored(kept);
                        tracing::info!(
                            removed,
                            codes_removed,
                            limits_removed,
                            links_removed,
                            kept,
                            millis = started.elapsed().as_millis() as u64,
                            "session sweep finished"
                        );
                    }
                    Err(error) => tracing::warn!(%error, "session sweep failed"),
                }
            }
        })
    }
}

/// Why a sweep failed (it is tried again at the next interval).
#[derive(Debug, thiserror::Error)]
enum SweepError {
    /// Sessions, member limits or page links could not be swept, or sessions counted.
    #[error("session store: {0}")]
    Store(#[from] StoreError),
    /// Demo outbox entries could not be swept.
    #[error("demo outbox: {0}")]
    Outbox(#[from] OutboxError),
}

/// Opens the embedded stores in `TANYA_DATA_DIR`.
async fn open_database(config: &Config) -> Result<Stores, BuildError> {
    if let Some(url) = &config.database_url {
        let options = store::PostgresOptions {
            url: url.expose_secret().to_string(),
            pool_size: config.db_pool_size,
            batching: store::PostgresBatching {
                late_turns: config.db_pool_size,
                ..store::PostgresBatching::default()
            },
        };
        return Ok(store::open_postgres(&options).await?);
    }
    let dir = config.data_dir.clone();
    let options = EmbeddedOptions {
        cache_bytes: config.db_cache_mb * 1024 * 1024,
        commit_delay: config.db_commit_delay,
    };
    // sled opens (and recovers) synchronously: off the async threads.
    tokio::task::spawn_blocking(move || store::open_embedded(&dir, options))
        .await
        .unwrap_or_else(|stopped| std::panic::resume_unwind(stopped.into_panic()))
        .map_err(BuildError::from)
}

/// The key codes are derived from (SPEC §9): `TANYA_SERVER_KEY` when set, else the one kept
/// in a shared database, else the key file in the data directory (created once).
fn server_key(config: &Config, stores: &Stores) -> Result<ServerKey, KeyError> {
    match (&config.server_key, stores.kept_key) {
        (Some(key), _) => Ok(key.clone()),
        (None, Some(kept)) => Ok(ServerKey::from_bytes(kept)),
        (None, None) => ServerKey::load_or_create(&config.data_dir),
    }
}

/// Seeds the demo members, and any synthetic ones asked for, into `directory`; members
/// already there (and passwords they changed) are kept.
async fn seed_demo_members(config: &Config, directory: &dyn MemberStore) -> Result<(), BuildError> {
    members::seed_missing(directory, &members::demo_members()).await?;
    let extra = config
        .demo_extra_members
        .min(members::MAX_SYNTHETIC_MEMBERS);
    let added = directory.seed_synthetic(extra).await?;
    if added > 0 {
        tracing::info!(added, total = extra, "synthetic demo members seeded");
    }
    Ok(())
}

/// Loads `intents/` and checks it against what this engine needs (`tanya check`).
/// Where members are looked up and codes go: the demo members and the demo outbox, or the
/// agency's directory and the real code transports (SPEC §12).
struct Backends {
    members: Arc<dyn MemberDirectory>,
    codes: Arc<dyn CodeSender>,
    /// Demo mode: the outbox the demo routes and demo chats read codes from.
    demo_outbox: Option<Arc<dyn DemoOutbox>>,
    /// Production: the outbox codes are queued in and their transports.
    code_delivery: Option<CodeDelivery>,
}

impl Backends {
    /// The demo members (seeded now) and the demo outbox of `stores`.
    async fn demo(config: &Config, stores: &Stores) -> Result<Backends, BuildError> {
        seed_demo_members(config, stores.members.as_ref()).await?;
        Ok(Backends {
            members: Arc::new(StoredMembers(stores.members.clone())),
            codes: stores.codes.clone(),
            demo_outbox: Some(stores.codes.clone()),
            code_delivery: None,
        })
    }

    /// The agency's directory, checked now (a wrong URL or token stops the start-up), and the
    /// SMTP and SMS transports behind the durable outbox of `stores`.
    async fn production(
        config: &ProductionConfig,
        stores: &Stores,
        clock: Arc<dyn Clock>,
    ) -> Result<Backends, BuildError> {
        let directory = HttpDirectory::new(&config.directory)?;
        directory
            .check()
            .await
            .map_err(BuildError::DirectoryUnreachable)?;
        let outbox = Outbox::new(
            stores.channel_queue.clone(),
            stores.durability.clone(),
            clock,
        );
        Ok(Backends {
            members: Arc::new(directory),
            codes: Arc::new(CodeQueue::new(outbox.clone())),
            demo_outbox: None,
            code_delivery: Some(CodeDelivery {
                outbox,
                transport: Arc::new(CodeTransport::new(config)?),
            }),
        })
    }
}

pub fn load_content(config: &Config) -> Result<Content, ContentErrors> {
    content::load(&config.intents_dir, &keys::requirements())
}

/// A random key for in-memory apps (nothing they hash outlives the process).
fn rand_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(8) {
        let value: u64 = rand::random();
        chunk.copy_from_slice(&value.to_le_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, Timestamp};
    use crate::engine::{IncomingMessage, Input};
    use crate::store::SessionKey;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweep_removes_idle_sessions_and_the_codes_sent_for_them() {
        let intents = concat!(env!("CARGO_MANIFEST_DIR"), "/intents");
        let config =
            Config::from_lookup(|name| (name == "TANYA_INTENTS_DIR").then(|| intents.to_string()))
                .expect("config");
        let content = Arc::new(load_content(&config).expect("content"));
        let nlu = Arc::new(Nlu::train(&content, config.nlu));
        let clock = Arc::new(ManualClock::starting_at(Timestamp(1_000_000_000)));
        let app = App::in_memory(config, content, nlu, clock.clone())
            .await
            .expect("app");
        let key = SessionKey::new("web", "swept").expect("key");
        // Agus has only an e-mail address: the code goes out at once.
        let text = "lupa akun kpj 55566677788 nik 3578010107850003";
        let incoming = IncomingMessage {
            session: key.clone(),
            input: Input::Text(text.into()),
            client_message_id: None,
        };
        app.engine.handle(incoming).await.expect("turn");
        let outbox = app.outbox.clone().expect("demo outbox");
        assert_eq!(outbox.entries(&key).await.expect("entries").len(), 1);

        clock.advance(SESSION_RETENTION + Duration::from_secs(60));
        let sweeper = app.spawn_session_sweeper();
        // The outbox is swept after the sessions, in the same sweep.
        for _ in 0..500 {
            if outbox.entries(&key).await.expect("entries").is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sweeper.abort();
        assert!(
            app.store.load(&key).await.expect("load").is_none(),
            "session swept"
        );
        assert!(
            outbox.entries(&key).await.expect("entries").is_empty(),
            "the code sent for it swept with it"
        );
    }
}
