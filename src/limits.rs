//! Rate limits (SPEC §6): a keyed GCRA token bucket (`Limiter`), the configured `Rate`s,
//! `Limits` (per web session, per client IP, per platform user on webhooks, in memory) and
//! `MemberLimits` (per member on account look-ups and code requests, durable through the
//! `MemberGuardStore` that `member_guard` declares and the stores implement).
//!
//! Written here rather than taken from `governor`: the whole mechanism is one `u64` per key and
//! twenty lines of arithmetic, the member limits must run on the engine's clock (the
//! conversation runner moves it with `WAIT`), and memory must stay bounded however many keys
//! an attacker invents — all easier to see in a page of code than to configure.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::clock::Timestamp;
use crate::identity::{Email, Kpj, Nik};
use crate::members::MemberId;
use crate::security::otp::ServerKey;
use crate::session_key::SessionKey;

pub(crate) mod member_guard;
pub use member_guard::{BucketId, MemberGuardStore, MemoryMemberGuard};

/// Independent locks; keys hashing to the same shard share one mutex, held for a map look-up.
const SHARDS: usize = 64;
/// A shard holding more keys than this drops the ones whose buckets are full again.
const SWEEP_AT: usize = 1024;
/// A shard this full after that sweep (an attacker inventing keys) also forgets every key
/// that still has a token left, keeping only the refused ones. A refused key is never
/// forgotten before its bucket refills: a flood of new keys must not hand a guesser, or a
/// victim's attacker, a fresh bucket. What stays is bounded by the attacker's own work: a key
/// is refused only after `burst` admitted actions.
const KEEP_ONLY_REFUSED_AT: usize = 32 * 1024;

/// How much a key may do: `burst` actions at once, refilled evenly over `period`
/// (`30/1m`: 30 at once, then one every two seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub period: Duration,
}

impl Rate {
    pub const fn new(burst: u32, period: Duration) -> Rate {
        Rate { burst, period }
    }

    /// Time between two actions at the sustained rate, in microseconds (at least 1).
    pub fn interval_us(&self) -> u64 {
        (self.period.as_micros() as u64 / u64::from(self.burst.max(1))).max(1)
    }

    /// The bucket holds `burst` tokens: an arrival may be this far ahead of its schedule.
    pub fn tolerance_us(&self) -> u64 {
        let interval = self.interval_us();
        interval * u64::from(self.burst.max(1)) - interval
    }
}

/// One token from a bucket that is full again at `full_at_us` (`None`: a bucket never used),
/// at `now_us`: the bucket's next `full_at_us`, or how long to wait. The one home of the
/// arithmetic, for the buckets in memory and the durable ones in the store.
pub fn take_token(full_at_us: Option<u64>, rate: Rate, now_us: u64) -> Result<u64, Refused> {
    let tolerance = rate.tolerance_us();
    let full_at = full_at_us.unwrap_or(0).max(now_us);
    if full_at - now_us > tolerance {
        return Err(Refused {
            retry_after: Duration::from_micros(full_at - now_us - tolerance),
        });
    }
    Ok(full_at + rate.interval_us())
}

/// The bucket full again at `full_at_us` after a token taken from it is given back: one
/// interval earlier (a turn that took it failed, so the attempt never happened).
pub fn return_token(full_at_us: u64, rate: Rate) -> u64 {
    full_at_us.saturating_sub(rate.interval_us())
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.burst, self.period.as_secs())
    }
}

/// A limit setting: `off`, or `BURST/PERIOD` with the period in `s`, `m` or `h`
/// (`30/1m`, `10/1h`, `600/60s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSetting(pub Option<Rate>);

impl FromStr for LimitSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(LimitSetting(None));
        }
        let usage = || format!("{s:?} is not `off` or BURST/PERIOD such as 30/1m");
        let (burst, period) = s.split_once('/').ok_or_else(usage)?;
        let burst: u32 = burst.trim().parse().map_err(|_| usage())?;
        let period = period.trim();
        let (number, unit) = period.split_at(period.len().saturating_sub(1));
        let number: u64 = number.parse().map_err(|_| usage())?;
        let seconds = match unit {
            "s" => number,
            "m" => number * 60,
            "h" => number * 3600,
            _ => return Err(usage()),
        };
        if burst == 0 || seconds == 0 {
            return Err(format!(
                "{s:?}: burst and period must be positive (or use off)"
            ));
        }
        Ok(LimitSetting(Some(Rate::new(
            burst,
            Duration::from_secs(seconds),
        ))))
    }
}

/// The configured limits (`TANYA_LIMIT_*`); `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Messages per web chat session.
    pub web_session: Option<Rate>,
    /// Requests to `/api/v1/*` per client IP.
    pub client_ip: Option<Rate>,
    /// Messages per platform user (Telegram chat, WhatsApp number, LINE user).
    pub channel_user: Option<Rate>,
    /// Account look-ups per typed KPJ and per typed NIK or e-mail.
    pub member_lookups: Option<Rate>,
    /// Codes sent per member, across all their sessions (SMS/e-mail bombing).
    pub member_codes: Option<Rate>,
}

impl Default for LimitsConfig {
    /// Generous for people (one message every two seconds after a burst of 30; a whole office
    /// behind one NAT address), tight for look-ups and codes, which guess identities and cost
    /// SMS: ten an hour.
    fn default() -> Self {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        LimitsConfig {
            web_session: Some(Rate::new(30, MINUTE)),
            client_ip: Some(Rate::new(600, MINUTE)),
            channel_user: Some(Rate::new(30, MINUTE)),
            member_lookups: Some(Rate::new(10, HOUR)),
            member_codes: Some(Rate::new(10, HOUR)),
        }
    }
}

impl LimitsConfig {
    /// Every limit off (benchmarks from one address, tests of raw throughput).
    pub fn off() -> LimitsConfig {
        LimitsConfig {
            web_session: None,
            client_ip: None,
            channel_user: None,
            member_lookups: None,
            member_codes: None,
        }
    }
}

/// Why an action was refused, and when it may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

/// Token buckets by key (the generic cell rate algorithm: one "theoretical arrival time" per
/// key). `None` rate: everything is admitted and nothing is stored.
pub struct Limiter<K> {
    rate: Option<Rate>,
    hasher: RandomState,
    shards: Box<[Mutex<Shard<K>>]>,
}

struct Shard<K> {
    /// Key → the time (µs) at which its bucket is full again.
    full_at: HashMap<K, u64>,
    /// The size at which the next sweep runs: twice what the last one kept, so that sweeping
    /// costs O(1) per check on average however many keys stay (sweeping on every check past
    /// a fixed size made each check scan the whole shard under a flood).
    sweep_at: usize,
}

impl<K: Hash + Eq> Limiter<K> {
    pub fn new(rate: Option<Rate>) -> Limiter<K> {
        Limiter {
            rate,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        full_at: HashMap::new(),
                        sweep_at: SWEEP_AT,
                    })
                })
                .collect(),
        }
    }

    /// Takes one token for `key` at `now_us` (microseconds on any clock that only moves
    /// forward for this limiter), or says how long to wait.
    pub fn check(&self, key: K, now_us: u64) -> Result<(), Refused> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let tolerance = rate.tolerance_us();
        let mut shard = self.shard(&key);
        if shard.full_at.len() >= shard.sweep_at {
            shard.full_at.retain(|_, full_at| *full_at > now_us);
            if shard.full_at.len() >= KEEP_ONLY_REFUSED_AT {
                // Forgetting a key with a token left gives back at most the tokens it spent;
                // a refused key is kept.
                shard
                    .full_at
                    .retain(|_, full_at| *full_at - now_us > tolerance);
            }
            shard.sweep_at = (shard.full_at.len() * 2).max(SWEEP_AT);
        }
        let full_at = take_token(shard.full_at.get(&key).copied(), rate, now_us)?;
        shard.full_at.insert(key, full_at);
        Ok(())
    }

    /// Forgets every key: each bucket is full again (the demo reset route).
    pub fn forget_all(&self) {
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .full_at
                .clear();
        }
    }

    /// How many keys are remembered (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .full_at
                    .len()
            })
            .sum()
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K>> {
        let index = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        // A shard is a plain map updated in one statement: consistent even after a panic.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// An action of the dialog that a per-member limit may refuse (the engine asks before it acts).
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    /// Looking an account up by KPJ and NIK (forgot_account, check_jht_balance).
    LookUpByKpjNik { kpj: &'a Kpj, nik: &'a Nik },
    /// Looking an account up by e-mail and KPJ (forgot_password).
    LookUpByEmailKpj { email: &'a Email, kpj: &'a Kpj },
    /// Sending a code (first send or resend) to a member.
    SendCode { member: &'a MemberId },
}

/// The limits on requests and messages, with their state in memory: losing them in a restart
/// only hands a sender a fresh burst. The per-member limits, which must not, are `MemberLimits`.
pub struct Limits {
    web_session: Limiter<String>,
    client_ip: Limiter<IpAddr>,
    channel_user: Limiter<String>,
    /// The origin of the monotonic clock the HTTP limits run on.
    started: Instant,
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Limits {
        Limits {
            web_session: Limiter::new(config.web_session),
            client_ip: Limiter::new(config.client_ip),
            channel_user: Limiter::new(config.channel_user),
            started: Instant::now(),
        }
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Fills every bucket again (the demo reset route, `POST /api/v1/demo/reset`).
    pub fn forget_all(&self) {
        self.web_session.forget_all();
        self.client_ip.forget_all();
        self.channel_user.forget_all();
    }

    /// One message in web chat session `id`.
    pub fn web_session(&self, id: &str) -> Result<(), Refused> {
        self.web_session.check(id.to_owned(), self.now_us())
    }

    /// One API request from `ip`: IPv4 addresses one by one, IPv6 by /64 (see `client_key`).
    pub fn client_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        self.client_ip.check(client_key(ip), self.now_us())
    }

    /// One message from the platform user whose conversation is `session`
    /// (`telegram:42`, `whatsapp:628…`). For the webhooks: a refused message is answered
    /// with the `rate_limited` response instead of a turn, and the webhook still answers 200
    /// so that the platform does not redeliver it.
    pub fn channel_user(&self, session: &SessionKey) -> Result<(), Refused> {
        self.channel_user
            .check(session.as_str().to_owned(), self.now_us())
    }
}

/// The bucket an address counts against. An IPv6 subscriber is handed a whole /64 (2⁶⁴
/// addresses, SLAAC and privacy extensions pick any of them), so one address at a time would
/// be no limit at all: every address of a /64 shares its bucket. An IPv4 address mapped into
/// IPv6 (a dual-stack listener) counts as the IPv4 address it is, not as part of `::ffff:0:0/64`.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(network.into())
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The per-member limits on look-ups and codes (SPEC §6), kept in a `MemberGuardStore` so
/// that they survive restarts and, with a shared store, span instances.
pub struct MemberLimits {
    store: Arc<dyn MemberGuardStore>,
    /// Names buckets by a keyed hash of what they limit (see `BucketId`).
    key: Arc<ServerKey>,
    lookups: Option<Rate>,
    codes: Option<Rate>,
}

/// The tokens one turn took from the per-member buckets: given back if the turn fails, so a
/// failed turn, which the member may retry, has spent nothing (SPEC §6 counts attempts, and
/// a failed turn attempted nothing the member saw).
#[derive(Debug, Default)]
pub struct Spent(Vec<(BucketId, Rate)>);

/// Fingerprint purpose for bucket names.
const BUCKET_PURPOSE: &[u8] = b"tanya.member-limit";

impl MemberLimits {
    pub fn new(
        config: &LimitsConfig,
        store: Arc<dyn MemberGuardStore>,
        key: Arc<ServerKey>,
    ) -> MemberLimits {
        MemberLimits {
            store,
            key,
            lookups: config.member_lookups,
            codes: config.member_codes,
        }
    }

    /// One token from the bucket of `what` (`kpj:…`). A store that fails refuses: a limit
    /// that cannot be counted must not let guesses or codes through.
    async fn take(
        &self,
        rate: Option<Rate>,
        what: &str,
        now: Timestamp,
        spent: &mut Spent,
    ) -> bool {
        let Some(rate) = rate else {
            return true;
        };
        let bucket = self.key.fingerprint(BUCKET_PURPOSE, what.as_bytes());
        match self.store.take(&bucket, rate, now).await {
            Ok(Ok(())) => {
                spent.0.push((bucket, rate));
                true
            }
            Ok(Err(_)) => false,
            Err(error) => {
                tracing::warn!(%error, "member limit store failed; refusing");
                false
            }
        }
    }

    /// Whether `attempt` may go ahead at `now`, spending its tokens (a refusal is not
    /// counted as an attempt) and noting them in `spent`. The engine asks before each
    /// look-up and code the dialog wants.
    pub async fn admit(&self, attempt: Attempt<'_>, now: Timestamp, spent: &mut Spent) -> bool {
        // A guess must pass the bucket of each value typed. When the second refuses, the
        // first one's token stays spent: that only makes a guesser slower.
        match attempt {
            Attempt::LookUpByKpjNik { kpj, nik } => {
                self.take(self.lookups, &format!("kpj:{}", kpj.as_str()), now, spent)
                    .await
                    && self
                        .take(self.lookups, &format!("nik:{}", nik.as_str()), now, spent)
                        .await
            }
            Attempt::LookUpByEmailKpj { email, kpj } => {
                self.take(self.lookups, &format!("kpj:{}", kpj.as_str()), now, spent)
                    .await
                    && self
                        .take(
                            self.lookups,
                            &format!("email:{}", email.as_str()),
                            now,
                            spent,
                        )
                        .await
            }
            Attempt::SendCode { member } => {
                self.take(
                    self.codes,
                    &format!("member:{}", member.as_str()),
                    now,
                    spent,
                )
                .await
            }
        }
    }

    /// Gives back what a failed turn took. A store that fails keeps the tokens spent (the
    /// safe side: the member waits a little longer), with a warning.
    pub async fn give_back(&self, spent: Spent) {
        for (bucket, rate) in spent.0 {
            if let Err(error) = self.store.give_back(&bucket, rate).await {
                tracing::warn!(%error, "member limit store failed; a token stays spent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    #[test]
    fn a_burst_is_admitted_then_one_per_interval() {
        let limiter = Limiter::new(Some(Rate::new(3, Duration::from_secs(3))));
        for _ in 0..3 {
            assert!(limiter.check("a", 10 * S).is_ok());
        }
        let refused = limiter.check("a", 10 * S).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert!(
            limiter.check("b", 10 * S).is_ok(),
            "other keys are independent"
        );
        assert!(
            limiter.check("a", 11 * S).is_ok(),
            "one token back after a second"
        );
        assert!(limiter.check("a", 11 * S).is_err());
        for _ in 0..3 {
            assert!(
                limiter.check("a", 20 * S).is_ok(),
                "full again after the period"
            );
        }
    }

    #[test]
    fn forgetting_all_keys_fills_every_bucket_at_once() {
        let limiter = Limiter::new(Some(Rate::new(1, Duration::from_secs(3600))));
        assert!(limiter.check("a", S).is_ok());
        assert!(limiter.check("a", S).is_err());
        limiter.forget_all();
        assert_eq!(limiter.tracked(), 0);
        assert!(limiter.check("a", S).is_ok(), "a full bucket again");
    }

    #[test]
    fn refusals_do_not_push_the_next_token_further_away() {
        let limiter = Limiter::new(Some(Rate::new(1, Duration::from_secs(1))));
        assert!(limiter.check("a", S).is_ok());
        for _ in 0..100 {
            assert!(limiter.check("a", S + 1).is_err());
        }
        assert!(limiter.check("a", 2 * S).is_ok());
    }

    #[test]
    fn an_unlimited_limiter_admits_everything_and_remembers_nothing() {
        let limiter = Limiter::new(None);
        for _ in 0..1000 {
            assert!(limiter.check("a", 0).is_ok());
        }
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn keys_whose_buckets_refilled_are_forgotten() {
        let limiter = Limiter::new(Some(Rate::new(1, Duration::from_secs(1))));
        for i in 0..(SHARDS * SWEEP_AT * 2) as u64 {
            limiter.check(i, 0).expect("new keys are admitted");
        }
        let before = limiter.tracked();
        for i in 0..(SHARDS * SWEEP_AT * 2) as u64 {
            limiter.check(1_000_000 + i, 10 * S).expect("admitted");
        }
        assert!(
            limiter.tracked() < before + SHARDS * SWEEP_AT,
            "old keys swept: {} then {}",
            before,
            limiter.tracked()
        );
    }

    #[test]
    fn ipv6_clients_are_limited_per_64_and_ipv4_per_address() {
        let limits = Limits::new(&LimitsConfig {
            client_ip: Some(Rate::new(2, Duration::from_secs(3600))),
            ..LimitsConfig::off()
        });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(limits.client_ip(ip("2001:db8:1:2::1")).is_ok());
        assert!(
            limits
                .client_ip(ip("2001:db8:1:2:ffff:ffff:ffff:fffe"))
                .is_ok()
        );
        assert!(
            limits.client_ip(ip("2001:db8:1:2:abcd::9")).is_err(),
            "a third address of the same /64 shares its bucket"
        );
        assert!(
            limits.client_ip(ip("2001:db8:1:3::1")).is_ok(),
            "the next /64"
        );
        assert!(limits.client_ip(ip("192.0.2.1")).is_ok());
        assert!(limits.client_ip(ip("192.0.2.1")).is_ok());
        assert!(
            limits.client_ip(ip("::ffff:192.0.2.1")).is_err(),
            "the same IPv4 address"
        );
        assert!(
            limits.client_ip(ip("::ffff:192.0.2.2")).is_ok(),
            "IPv4 neighbours are not one /64"
        );
    }

    #[test]
    fn a_flood_of_new_keys_never_forgets_a_refused_key() {
        let limiter = Limiter::new(Some(Rate::new(2, Duration::from_secs(3600))));
        let victim = u64::MAX;
        assert!(limiter.check(victim, S).is_ok());
        assert!(limiter.check(victim, S).is_ok());
        assert!(limiter.check(victim, S).is_err());
        // Enough distinct keys to pass the cap of every shard, whichever the victim is in.
        for key in 0..(SHARDS * KEEP_ONLY_REFUSED_AT * 2) as u64 {
            let _ = limiter.check(key, 2 * S);
        }
        assert!(
            limiter.check(victim, 3 * S).is_err(),
            "the victim's refused bucket survived the flood"
        );
        assert!(
            limiter.tracked() < SHARDS * KEEP_ONLY_REFUSED_AT,
            "keys with tokens left were forgotten: {}",
            limiter.tracked()
        );
    }

    #[test]
    fn settings_parse_burst_and_period() {
        assert_eq!(
            "30/1m".parse::<LimitSetting>(),
            Ok(LimitSetting(Some(Rate::new(30, Duration::from_secs(60)))))
        );
        assert_eq!(
            " 10/2h ".parse::<LimitSetting>(),
            Ok(LimitSetting(Some(Rate::new(10, Duration::from_secs(7200)))))
        );
        assert_eq!("OFF".parse::<LimitSetting>(), Ok(LimitSetting(None)));
        for bad in ["", "30", "30/", "x/1m", "30/1d", "0/1m", "30/0s", "-1/1m"] {
            assert!(bad.parse::<LimitSetting>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn member_look_ups_are_limited_per_typed_value() {
        let limits = MemberLimits::new(
            &LimitsConfig {
                member_lookups: Some(Rate::new(2, Duration::from_secs(3600))),
                ..LimitsConfig::off()
            },
            Arc::new(MemoryMemberGuard::default()),
            Arc::new(ServerKey::from_bytes([3; 32])),
        );
        let kpj = Kpj::parse("12345678901").unwrap();
        let other_kpj = Kpj::parse("98765432109").unwrap();
        let nik = Nik::parse("3174011203880001").unwrap();
        let at = Timestamp(1_000);
        let attempt = |kpj| Attempt::LookUpByKpjNik { kpj, nik: &nik };
        let mut spent = Spent::default();
        assert!(limits.admit(attempt(&kpj), at, &mut spent).await);
        assert!(limits.admit(attempt(&kpj), at, &mut spent).await);
        assert!(!limits.admit(attempt(&kpj), at, &mut spent).await);
        assert!(
            !limits.admit(attempt(&other_kpj), at, &mut spent).await,
            "the same NIK with another card is the same guesser"
        );
        // What was taken is given back when its turn fails: one more look-up goes through.
        limits.give_back(spent).await;
        assert!(limits.admit(attempt(&kpj), at, &mut Spent::default()).await);
        let mut spent = Spent::default();
        assert!(
            limits
                .admit(attempt(&kpj), Timestamp(1_000 + 3_600_000), &mut spent)
                .await
        );
    }
}
