//! The persistent outbox of platform API calls and the worker that sends them.
//!
//! Each item is one call (a Telegram `sendMessage`, a WhatsApp message, a LINE reply/push),
//! keyed by the member's session key, a NUL byte and an increasing id, so one member's items
//! are contiguous and in order. Only the first item of each member is ever sent: a failing
//! call blocks that member's later replies (never other members') until it is delivered or
//! given up. Failed calls are retried with exponential backoff and jitter, waiting at least
//! what a 429 asks for (`Retry-After`, Telegram's `retry_after`). Items survive restarts; the
//! worker started on the next boot sends whatever is pending.

use super::{ChannelError, Request};
use crate::clock::{Clock, Timestamp};
use crate::config::DeliveryConfig;
pub use crate::delivery::SendError;
use crate::metrics::{Channel, Metrics};
use crate::store::SessionKey;
use crate::store::channel_queue::{ChannelQueue, QueuedKey};
use crate::store::{DbError, Durability};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Members whose calls may be in flight at once.
const MAX_CONCURRENT_SENDS: usize = 32;
/// How long the worker sleeps when nothing is due and nothing wakes it.
const IDLE_POLL: Duration = Duration::from_secs(30);
/// The longest platform-requested wait honoured (a larger value is taken as this).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Makes outbox calls: HTTP in the application, a script in tests.
pub trait Sender: Send + Sync + 'static {
    fn send<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

    /// Called once when `request` is given up (refused for good, or out of tries), after it
    /// left the outbox.
    fn given_up<'a>(
        &'a self,
        _request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(std::future::ready(()))
    }
}

/// When failed calls are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait between tries.
    pub max: Duration,
    /// Tries before a call is given up.
    pub max_attempts: u32,
}

impl From<DeliveryConfig> for RetryPolicy {
    fn from(config: DeliveryConfig) -> Self {
        RetryPolicy {
            base: config.retry_base,
            max: config.retry_max.max(config.retry_base),
            max_attempts: config.max_attempts.max(1),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed try number `attempts` (1 for the first): `base · 2^(attempts−1)`,
    /// capped at `max`, then scaled by a random factor in [0.5, 1] so that calls failing
    /// together do not retry together. At least `requested` (the platform's `Retry-After`).
    pub fn delay(&self, attempts: u32, requested: Option<Duration>) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        let backoff = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let jitter = rand::random_range(0.5..=1.0);
        let backoff = backoff.mul_f64(jitter);
        match requested {
            Some(requested) => backoff.max(requested.min(MAX_RETRY_AFTER)),
            None => backoff,
        }
    }
}

/// One pending call.
#[derive(Clone, Serialize, Deserialize)]
struct Item {
    session: String,
    request: Request,
    /// Tries made so far.
    attempts: u32,
    /// Not tried before this time (unix ms): the backoff.
    not_before: u64,
}

impl fmt::Debug for Item {
    // The request carries message text, which may be personal: only its routing is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item")
            .field("session", &self.session)
            .field("attempts", &self.attempts)
            .field("not_before", &self.not_before)
            .finish_non_exhaustive()
    }
}

/// The outbox. Cloning shares the queue and the worker's wake-up signal.
#[derive(Clone)]
pub struct Outbox {
    queue: Arc<dyn ChannelQueue>,
    durability: Arc<dyn Durability>,
    wake: Arc<Notify>,
    /// The engine's clock: due times and backoffs are measured on it.
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    pub fn new(
        queue: Arc<dyn ChannelQueue>,
        durability: Arc<dyn Durability>,
        clock: Arc<dyn Clock>,
    ) -> Outbox {
        Outbox {
            queue,
            durability,
            wake: Arc::new(Notify::new()),
            clock,
        }
    }

    /// Now, on the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// How many calls are pending.
    pub async fn len(&self) -> usize {
        self.queue.pending().await
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// Queues `requests` for `session` and marks `seen_id` as processed, in one transaction,
    /// and returns once both are on disk: the webhook may then answer 200.
    pub(crate) async fn enqueue(
        &self,
        session: &SessionKey,
        requests: &[Request],
        seen_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), ChannelError> {
        let mut items = Vec::with_capacity(requests.len());
        for request in requests {
            let item = Item {
                session: session.as_str().to_string(),
                request: request.clone(),
                attempts: 0,
                not_before: 0,
            };
            items.push(serde_json::to_vec(&item)?);
        }
        self.queue.enqueue(session, &items, seen_id, now).await?;
        self.durability.make_durable().await?;
        self.wake.notify_one();
        Ok(())
    }

    /// The first pending call of every member that no other instance is sending.
    async fn heads(&self) -> Result<Vec<(QueuedKey, Item)>, DbError> {
        let mut heads = Vec::new();
        for queued in self.queue.claim_heads(self.now()).await? {
            match serde_json::from_slice::<Item>(&queued.item) {
                Ok(item) => heads.push((queued.key, item)),
                Err(error) => {
                    // It would block the member forever: drop it, loudly.
                    tracing::error!(%error, "dropping an unreadable outbox item");
                    self.queue.remove(&queued.key).await?;
                }
            }
        }
        Ok(heads)
    }

    /// Removes a call that was delivered or given up, durably (so it is not sent again
    /// after a restart).
    async fn remove(&self, key: &QueuedKey) -> Result<(), DbError> {
        self.queue.remove(key).await?;
        self.durability.make_durable().await
    }

    async fn update(&self, key: &QueuedKey, item: &Item) -> Result<(), ChannelError> {
        self.queue.replace(key, &serde_json::to_vec(item)?).await?;
        Ok(())
    }
}

/// The running delivery worker (and its companion tasks). Dropping it stops them.
#[derive(Debug)]
pub struct DeliveryWorker {
    tasks: Vec<JoinHandle<()>>,
}

impl DeliveryWorker {
    /// Starts sending from `outbox` through `sender`, with metrics of its own.
    pub fn spawn(outbox: Outbox, sender: Arc<dyn Sender>, policy: RetryPolicy) -> DeliveryWorker {
        DeliveryWorker::spawn_observed(outbox, sender, policy, Arc::new(Metrics::default()))
    }

    /// Starts sending, counting retries and give-ups in `metrics`.
    pub fn spawn_observed(
        outbox: Outbox,
        sender: Arc<dyn Sender>,
        policy: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> DeliveryWorker {
        DeliveryWorker {
            tasks: vec![tokio::spawn(run(outbox, sender, policy, metrics))],
        }
    }

    /// Adds a task that lives and stops with the worker.
    #[must_use]
    pub fn with_task(mut self, task: JoinHandle<()>) -> DeliveryWorker {
        self.tasks.push(task);
        self
    }

    /// Stops the worker and waits until it has stopped. Calls in flight are abandoned and
    /// stay in the outbox for the next worker.
    pub async fn stop(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in &mut self.tasks {
            let _ = task.await;
        }
    }
}

impl Drop for DeliveryWorker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The worker loop: start the due first call of every member not already in flight, then
/// sleep until a call finishes, something is enqueued, or the next backoff ends.
async fn run(outbox: Outbox, sender: Arc<dyn Sender>, policy: RetryPolicy, metrics: Arc<Metrics>) {
    // Dropped with this future when the worker stops, which aborts the calls in flight.
    let mut sending: JoinSet<()> = JoinSet::new();
    let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
    loop {
        let mut next_due: Option<u64> = None;
        match outbox.heads().await {
            Ok(heads) => {
                let now = outbox.now().0;
                for (key, item) in heads {
                    if busy.values().any(|session| *session == item.session) {
                        continue;
                    }
                    if item.not_before > now {
                        next_due =
                            Some(next_due.map_or(item.not_before, |d| d.min(item.not_before)));
                        continue;
                    }
                    if sending.len() >= MAX_CONCURRENT_SENDS {
                        break;
                    }
                    let session = item.session.clone();
                    let task = sending.spawn(attempt(
                        outbox.clone(),
                        sender.clone(),
                        policy,
                        metrics.clone(),
                        key,
                        item,
                    ));
                    busy.insert(task.id(), session);
                }
            }
            Err(error) => {
                tracing::error!(%error, "reading the channel outbox failed");
                next_due = Some(outbox.now().0 + 1000);
            }
        }
        let sleep = next_due.map_or(IDLE_POLL, |due| {
            Duration::from_millis(due.saturating_sub(outbox.now().0)).min(IDLE_POLL)
        });
        tokio::select! {
            () = outbox.wake.notified() => {}
            Some(done) = sending.join_next_with_id(), if !sending.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(error) => {
                        tracing::error!(%error, "a delivery task failed");
                        error.id()
                    }
                };
                busy.remove(&id);
            }
            () = tokio::time::sleep(sleep) => {}
        }
    }
}

/// One try of one call, and what follows from its outcome.
async fn attempt(
    outbox: Outbox,
    sender: Arc<dyn Sender>,
    policy: RetryPolicy,
    metrics: Arc<Metrics>,
    key: QueuedKey,
    mut item: Item,
) {
    let outcome = sender.send(&item.request).await;
    item.attempts += 1;
    // Logs show the channel and a salted hash, never the platform id (a WhatsApp id is a
    // phone number).
    let session = item
        .session
        .split_once(':')
        .and_then(|(channel, id)| SessionKey::new(channel, id).ok())
        .map_or_else(|| "?".to_string(), |key| key.redacted().to_string());
    let session = session.as_str();
    let channel = Channel::of(item.session.split(':').next().unwrap_or_default());
    let attempts = item.attempts;
    let stored = match outcome {
        Ok(()) => {
            tracing::debug!(session, attempts, "delivered");
            outbox.remove(&key).await.map_err(ChannelError::from)
        }
        Err(SendError::Permanent { reason }) => {
            tracing::warn!(session, attempts, %reason, "delivery refused by the platform; given up");
            metrics.delivery_given_up(channel);
            let removed = outbox.remove(&key).await.map_err(ChannelError::from);
            sender.given_up(&item.request).await;
            removed
        }
        Err(SendError::Retry { reason, .. }) if attempts >= policy.max_attempts => {
            tracing::warn!(session, attempts, %reason, "delivery given up after the last attempt");
            metrics.delivery_given_up(channel);
            let removed = outbox.remove(&key).await.map_err(ChannelError::from);
            sender.given_up(&item.request).await;
            removed
        }
        Err(SendError::Retry { after, reason }) => {
            let delay = policy.delay(attempts, after);
            item.not_before = outbox.now().0 + delay.as_millis() as u64;
            tracing::info!(session, attempts, delay_ms = delay.as_millis() as u64, %reason, "delivery failed; will retry");
            metrics.delivery_retried(channel);
            outbox.update(&key, &item).await
        }
    };
    if let Err(error) = stored {
        tracing::error!(session, %error, "updating the channel outbox failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::dedup::Dedup;
    use crate::channels::telegram;
    use crate::clock::SystemClock;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Answers each call with the next outcome scripted for its text (success once the
    /// script runs out) and records the text of every call.
    #[derive(Default)]
    struct Scripted {
        outcomes: Mutex<HashMap<String, VecDeque<Result<(), SendError>>>>,
        calls: Mutex<Vec<(String, std::time::Instant)>>,
    }

    impl Scripted {
        fn script(&self, text: &str, outcomes: Vec<Result<(), SendError>>) {
            self.outcomes
                .lock()
                .unwrap()
                .insert(text.to_string(), outcomes.into());
        }

        /// The texts of the calls sent so far, in order.
        fn sent_texts(&self) -> Vec<String> {
            self.calls
                .lock()
                .unwrap()
                .iter()
                .map(|c| c.0.clone())
                .collect()
        }
    }

    impl Sender for Scripted {
        fn send<'a>(
            &'a self,
            request: &'a Request,
        ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
            let Request::Telegram(request) = request else {
                panic!("only telegram requests in these tests");
            };
            let text = request.body["text"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.calls
                .lock()
                .unwrap()
                .push((text.clone(), std::time::Instant::now()));
            let outcome = self
                .outcomes
                .lock()
                .unwrap()
                .get_mut(&text)
                .and_then(VecDeque::pop_front)
                .unwrap_or(Ok(()));
            Box::pin(std::future::ready(outcome))
        }
    }

    fn message(chat: i64, text: &str) -> Request {
        telegram::render(
            chat,
            &[crate::channels::OutboundMessage {
                text: text.into(),
                buttons: vec![],
            }],
        )
        .remove(0)
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(5),
            max: Duration::from_millis(20),
            max_attempts,
        }
    }

    fn retry(after: Option<Duration>) -> Result<(), SendError> {
        Err(SendError::Retry {
            after,
            reason: "test".into(),
        })
    }

    fn setup() -> (crate::store::Stores, Outbox, Dedup) {
        let stores = crate::store::temporary().unwrap();
        let outbox = Outbox::new(
            stores.channel_queue.clone(),
            stores.durability.clone(),
            Arc::new(SystemClock),
        );
        let dedup = Dedup::new(stores.channel_queue.clone());
        (stores, outbox, dedup)
    }

    async fn wait_until_empty(outbox: &Outbox) {
        for _ in 0..500 {
            if outbox.is_empty().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the outbox did not drain: {outbox:?}");
    }

    fn key(id: &str) -> SessionKey {
        SessionKey::new("telegram", id).unwrap()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_and_honours_retry_after() {
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 10,
        };
        for _ in 0..50 {
            let first = policy.delay(1, None);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let fourth = policy.delay(4, None);
            assert!(fourth >= Duration::from_secs(4) && fourth <= Duration::from_secs(8));
            assert!(policy.delay(30, None) <= Duration::from_secs(60));
            assert!(policy.delay(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
        }
    }

    #[tokio::test]
    async fn a_failing_call_blocks_only_its_own_member_and_order_is_kept() {
        let (_stores, outbox, dedup) = setup();
        let now = SystemClock.now();
        outbox
            .enqueue(
                &key("1"),
                &[message(1, "a1"), message(1, "a2")],
                Some("telegram:1"),
                now,
            )
            .await
            .unwrap();
        outbox
            .enqueue(&key("2"), &[message(2, "b1")], None, now)
            .await
            .unwrap();
        let sender = Arc::new(Scripted::default());
        // a1 fails twice; b1 (another member) is not held up by it.
        sender.script("a1", vec![retry(None), retry(None)]);
        let worker = DeliveryWorker::spawn(outbox.clone(), sender.clone(), policy(5));
        wait_until_empty(&outbox).await;
        worker.stop().await;
        let calls = sender.sent_texts();
        let member_a: Vec<&str> = calls
            .iter()
            .filter(|t| t.starts_with('a'))
            .map(String::as_str)
            .collect();
        assert_eq!(member_a, ["a1", "a1", "a1", "a2"]);
        assert_eq!(calls.iter().filter(|t| *t == "b1").count(), 1);
        assert_eq!(
            dedup.claim("telegram:1", now).await.unwrap(),
            crate::store::channel_queue::DeliveryClaim::Duplicate
        );
    }

    #[tokio::test]
    async fn a_call_is_given_up_after_the_last_attempt_and_the_next_one_goes() {
        let (_stores, outbox, _) = setup();
        outbox
            .enqueue(
                &key("1"),
                &[message(1, "x"), message(1, "y")],
                None,
                SystemClock.now(),
            )
            .await
            .unwrap();
        let sender = Arc::new(Scripted::default());
        sender.script("x", vec![retry(None), retry(None), retry(None)]);
        let metrics = Arc::new(Metrics::default());
        let worker = DeliveryWorker::spawn_observed(
            outbox.clone(),
            sender.clone(),
            policy(3),
            metrics.clone(),
        );
        wait_until_empty(&outbox).await;
        worker.stop().await;
        let calls = sender.sent_texts();
        assert_eq!(calls, ["x", "x", "x", "y"]);
        let exposed = metrics.render();
        assert!(
            exposed.contains("tanya_delivery_given_up_total{channel=\"telegram\"} 1"),
            "{exposed}"
        );
        assert!(
            exposed.contains("tanya_delivery_retries_total{channel=\"telegram\"} 2"),
            "{exposed}"
        );
    }

    #[tokio::test]
    async fn a_permanent_refusal_is_not_retried() {
        let (_stores, outbox, _) = setup();
        outbox
            .enqueue(&key("1"), &[message(1, "x")], None, SystemClock.now())
            .await
            .unwrap();
        let sender = Arc::new(Scripted::default());
        sender.script(
            "x",
            vec![Err(SendError::Permanent {
                reason: "HTTP 403".into(),
            })],
        );
        let worker = DeliveryWorker::spawn(outbox.clone(), sender.clone(), policy(5));
        wait_until_empty(&outbox).await;
        worker.stop().await;
        assert_eq!(sender.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_requested_wait_is_respected() {
        let (_stores, outbox, _) = setup();
        outbox
            .enqueue(&key("1"), &[message(1, "x")], None, SystemClock.now())
            .await
            .unwrap();
        let sender = Arc::new(Scripted::default());
        sender.script("x", vec![retry(Some(Duration::from_millis(300)))]);
        let worker = DeliveryWorker::spawn(outbox.clone(), sender.clone(), policy(5));
        wait_until_empty(&outbox).await;
        worker.stop().await;
        let calls = sender.calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert!(calls[1].1 - calls[0].1 >= Duration::from_millis(290));
    }
}
