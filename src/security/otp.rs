//! One-time codes: the server key, code generation, and the `Challenge` state machine that
//! verifies a code and enforces expiry, wrong-try and resend limits without reading the clock.
//!
//! A code is kept only as HMAC-SHA256 under the server key, bound to the member and the issue
//! time, so a stolen session store reveals no code and a code cannot be replayed for another
//! member. argon2 would add nothing: a code lives 5 minutes and allows 3 tries.

use crate::clock::Timestamp;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long a code stays valid after it was sent.
pub const CODE_TTL: Duration = Duration::from_secs(5 * 60);
/// Wrong codes allowed per code; the last one exhausts it.
pub const MAX_WRONG_TRIES: u32 = 3;
/// How long a member is locked out after exhausting a code.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Least time between two sends.
pub const RESEND_MIN_INTERVAL: Duration = Duration::from_secs(60);
/// Most sends (first send included) within any hour.
pub const RESEND_MAX_PER_HOUR: u32 = 5;

const RESEND_WINDOW: Duration = Duration::from_secs(60 * 60);
/// File holding the server key, in hex, inside the data directory.
const KEY_FILE: &str = "otp.key";
/// Domain separation: this key signs nothing else, but a tag costs nothing and keeps it so.
const MAC_DOMAIN: &[u8] = b"tanya/otp/v1\0";

type HmacSha256 = Hmac<Sha256>;

/// The 32-byte secret under which codes are hashed. Prints as `ServerKey(***)`.
///
/// Losing or replacing it only invalidates the codes outstanding at that moment.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

/// Why the server key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file exists but could not be read.
    #[error("cannot read the OTP key {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The key file (or its directory) could not be created or written.
    #[error("cannot create the OTP key {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The key file does not hold 64 hex digits.
    #[error("the OTP key {path} is not 64 hex digits; delete it to create a new key")]
    Malformed { path: PathBuf },
}

impl ServerKey {
    /// Reads `dir/otp.key` (64 hex digits), or creates it from the OS random number generator,
    /// readable by the owner only (mode 0600 on unix), when it does not exist yet.
    pub fn load_or_create(dir: &Path) -> Result<ServerKey, KeyError> {
        let path = dir.join(KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => parse_key(&text).ok_or(KeyError::Malformed { path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => create_key(&path),
            Err(source) => Err(KeyError::Read { path, source }),
        }
    }

    /// A key written as 64 hex digits (`TANYA_SERVER_KEY`); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<ServerKey> {
        parse_key(text)
    }

    /// A key from known bytes, for tests.
    pub fn from_bytes(bytes: [u8; 32]) -> ServerKey {
        ServerKey(bytes)
    }

    /// A keyed fingerprint of `data` for one `purpose`: lets the dialog compare a secret typed
    /// twice (a new password and its confirmation) without storing the secret itself.
    pub fn fingerprint(&self, purpose: &[u8], data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(&(purpose.len() as u64).to_be_bytes());
        mac.update(purpose);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(***)")
    }
}

fn parse_key(text: &str) -> Option<ServerKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
    Some(ServerKey(bytes))
}

fn create_key(path: &Path) -> Result<ServerKey, KeyError> {
    let mut bytes = [0u8; 32];
    UnwrapErr(SysRng).fill_bytes(&mut bytes);
    let write = |path: &Path| -> io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        // create_new: if another process won the race, its key stands and ours is dropped.
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        writeln!(file, "{}", hex::encode(bytes))?;
        file.sync_all()
    };
    match write(path) {
        Ok(()) => Ok(ServerKey(bytes)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let text = fs::read_to_string(path).map_err(|source| KeyError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            parse_key(&text).ok_or_else(|| KeyError::Malformed {
                path: path.to_path_buf(),
            })
        }
        Err(source) => Err(KeyError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A fresh 6-digit code, uniform over 000000–999999, from the OS random number generator.
///
/// The OS generator rather than `rand::rng()`: a thread-local generator is not reseeded when
/// the process forks or a VM snapshot is restored, and a code is not worth the risk.
///
/// # Panics
/// If the OS has no randomness to give, which on a booted system does not happen.
pub fn generate_code() -> String {
    // The largest multiple of 10^6 that fits in a u32: values at or above it are redrawn so
    // that `% 1_000_000` favours no code.
    const LIMIT: u32 = u32::MAX - u32::MAX % 1_000_000;
    let mut rng = UnwrapErr(SysRng);
    loop {
        let n = rng.next_u32();
        if n < LIMIT {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// The outcome of one `Challenge::verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The code is right; it is now used up, and verifying again returns `Expired`.
    Accepted,
    /// The code is wrong; this many more tries remain.
    Wrong {
        /// Tries left before the code is exhausted (1 or 2).
        attempts_left: u32,
    },
    /// The code is older than `CODE_TTL` or was already accepted; no try was counted.
    Expired,
    /// The third wrong try was just made, or had been made before: lock the member for
    /// `LOCKOUT`. Every later verify returns this too.
    Exhausted,
}

/// A resend refused by the resend limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a new code can be sent in {} s", wait.as_secs())]
pub struct ResendDenied {
    /// How long until a resend would be allowed.
    pub wait: Duration,
}

/// The state of the code last sent to one member: its keyed hash, when it was sent, the wrong
/// tries so far and the sends within the last hour (for the resend limits).
///
/// Every method takes `now` and returns the next state instead of changing this one, so the
/// dialog stays pure. `Debug` leaves out the hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    hash: CodeHash,
    issued_at: Timestamp,
    wrong_tries: u32,
    /// Sends within the last hour, oldest first, the current code's last.
    sends: Vec<Timestamp>,
    status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Status {
    /// Waiting for the member to type the code.
    Open,
    /// Accepted once: a code must not open two doors.
    Used,
    /// The last allowed wrong try happened at `at`.
    Exhausted { at: Timestamp },
}

impl Challenge {
    /// The state after sending `code` to `member_id` at `now` for the first time.
    pub fn issue(key: &ServerKey, member_id: &str, code: &str, now: Timestamp) -> Challenge {
        Challenge {
            hash: CodeHash::new(key, member_id, now, code),
            issued_at: now,
            wrong_tries: 0,
            sends: vec![now],
            status: Status::Open,
        }
    }

    /// When the current code was sent.
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    /// The first moment at which the current code is no longer accepted.
    pub fn expires_at(&self) -> Timestamp {
        self.issued_at.plus(CODE_TTL)
    }

    /// The state after sending a new `code` at `now`: a new hash and issue time, the wrong tries
    /// and the send history kept.
    ///
    /// Denied, with the longest wait that applies, when the last send was less than
    /// `RESEND_MIN_INTERVAL` ago, when `RESEND_MAX_PER_HOUR` sends already happened within the
    /// last hour (until the oldest leaves the hour), or during the `LOCKOUT` that follows an
    /// exhausted code. The caller still owns the member-wide lockout; the last check only makes
    /// a missing one harmless.
    pub fn resend(
        &self,
        key: &ServerKey,
        member_id: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<Challenge, ResendDenied> {
        let sends: Vec<Timestamp> = self
            .sends
            .iter()
            .copied()
            .filter(|&sent| now.since(sent) < RESEND_WINDOW)
            .collect();
        let mut wait = Duration::ZERO;
        if let Some(&last) = self.sends.last() {
            wait = wait.max(RESEND_MIN_INTERVAL.saturating_sub(now.since(last)));
        }
        if sends.len() >= RESEND_MAX_PER_HOUR as usize {
            wait = wait.max(RESEND_WINDOW.saturating_sub(now.since(sends[0])));
        }
        if let Status::Exhausted { at } = self.status {
            wait = wait.max(LOCKOUT.saturating_sub(now.since(at)));
        }
        if wait > Duration::ZERO {
            return Err(ResendDenied { wait });
        }
        let mut next = Challenge::issue(key, member_id, code, now);
        // A new code is not a new set of tries: resetting them on resend gave a guesser three
        // more tries per send. Only a lockout served in full starts the count again.
        if !matches!(self.status, Status::Exhausted { .. }) {
            next.wrong_tries = self.wrong_tries;
        }
        next.sends = sends;
        next.sends.push(now);
        Ok(next)
    }

    /// The state after `member_id` typed `input` at `now`, and what to tell them.
    ///
    /// In order: an exhausted code stays `Exhausted`; a used or expired code (`now` ≥
    /// `expires_at()`) is `Expired` without counting a try; otherwise the hashes are compared in
    /// constant time. `input` is hashed as given: stripping separators is the NLU's job.
    pub fn verify(
        &self,
        key: &ServerKey,
        member_id: &str,
        input: &str,
        now: Timestamp,
    ) -> (Challenge, Verdict) {
        let mut next = self.clone();
        let verdict = match self.status {
            Status::Exhausted { .. } => Verdict::Exhausted,
            Status::Used => Verdict::Expired,
            Status::Open if now >= self.expires_at() => Verdict::Expired,
            Status::Open => {
                if CodeHash::new(key, member_id, self.issued_at, input).matches(&self.hash) {
                    next.status = Status::Used;
                    Verdict::Accepted
                } else {
                    next.wrong_tries += 1;
                    if next.wrong_tries >= MAX_WRONG_TRIES {
                        next.status = Status::Exhausted { at: now };
                        Verdict::Exhausted
                    } else {
                        Verdict::Wrong {
                            attempts_left: MAX_WRONG_TRIES - next.wrong_tries,
                        }
                    }
                }
            }
        };
        (next, verdict)
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge")
            .field("issued_at", &self.issued_at)
            .field("wrong_tries", &self.wrong_tries)
            .field("sends", &self.sends)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA256(key, domain ‖ len(member_id) ‖ member_id ‖ issued_at ‖ code), stored as hex.
#[derive(Clone)]
struct CodeHash([u8; 32]);

impl CodeHash {
    fn new(key: &ServerKey, member_id: &str, issued_at: Timestamp, code: &str) -> CodeHash {
        let mut mac = key.mac();
        mac.update(MAC_DOMAIN);
        // Length-prefixed so that no member id and code can be shifted into another pair.
        mac.update(&(member_id.len() as u64).to_be_bytes());
        mac.update(member_id.as_bytes());
        mac.update(&issued_at.0.to_be_bytes());
        mac.update(code.as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }

    fn matches(&self, other: &CodeHash) -> bool {
        self.0[..].ct_eq(&other.0[..]).into()
    }
}

impl PartialEq for CodeHash {
    fn eq(&self, other: &CodeHash) -> bool {
        self.matches(other)
    }
}

impl Eq for CodeHash {}

impl Serialize for CodeHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for CodeHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CodeHash, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(CodeHash(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER: &str = "member-0001";
    const CODE: &str = "493817";
    const T0: Timestamp = Timestamp(1_700_000_000_000);

    fn key() -> ServerKey {
        ServerKey::from_bytes([7; 32])
    }

    fn at(secs: u64) -> Timestamp {
        T0.plus(Duration::from_secs(secs))
    }

    fn issued() -> Challenge {
        Challenge::issue(&key(), MEMBER, CODE, T0)
    }

    #[test]
    fn the_right_code_is_accepted() {
        let (_, verdict) = issued().verify(&key(), MEMBER, CODE, at(30));
        assert_eq!(verdict, Verdict::Accepted);
    }

    #[test]
    fn wrong_codes_count_down_two_one_then_exhausted() {
        let challenge = issued();
        let (challenge, first) = challenge.verify(&key(), MEMBER, "000000", at(10));
        let (challenge, second) = challenge.verify(&key(), MEMBER, "111111", at(20));
        let (challenge, third) = challenge.verify(&key(), MEMBER, "222222", at(30));
        assert_eq!(first, Verdict::Wrong { attempts_left: 2 });
        assert_eq!(second, Verdict::Wrong { attempts_left: 1 });
        assert_eq!(third, Verdict::Exhausted);
        let (_, after) = challenge.verify(&key(), MEMBER, CODE, at(40));
        assert_eq!(after, Verdict::Exhausted);
    }

    #[test]
    fn a_code_expires_at_exactly_five_minutes() {
        let challenge = issued();
        let just_before = T0.plus(CODE_TTL - Duration::from_millis(1));
        assert_eq!(
            challenge.verify(&key(), MEMBER, CODE, just_before).1,
            Verdict::Accepted
        );
        assert_eq!(
            challenge.verify(&key(), MEMBER, CODE, T0.plus(CODE_TTL)).1,
            Verdict::Expired
        );
    }

    #[test]
    fn an_expired_code_counts_no_wrong_try() {
        let (challenge, verdict) = issued().verify(&key(), MEMBER, "000000", at(300));
        assert_eq!(verdict, Verdict::Expired);
        assert_eq!(challenge, issued());
    }

    #[test]
    fn an_accepted_code_cannot_be_used_again() {
        let (challenge, _) = issued().verify(&key(), MEMBER, CODE, at(10));
        let (_, again) = challenge.verify(&key(), MEMBER, CODE, at(20));
        assert_eq!(again, Verdict::Expired);
    }

    #[test]
    fn a_code_for_one_member_does_not_verify_for_another() {
        let (_, verdict) = issued().verify(&key(), "member-0002", CODE, at(10));
        assert_eq!(verdict, Verdict::Wrong { attempts_left: 2 });
    }

    #[test]
    fn a_code_does_not_verify_under_another_server_key() {
        let other = ServerKey::from_bytes([8; 32]);
        let (_, verdict) = issued().verify(&other, MEMBER, CODE, at(10));
        assert_eq!(verdict, Verdict::Wrong { attempts_left: 2 });
    }

    #[test]
    fn resending_too_soon_says_how_long_to_wait() {
        let denied = issued()
            .resend(&key(), MEMBER, "123456", at(45))
            .unwrap_err();
        assert_eq!(denied.wait, Duration::from_secs(15));
    }

    #[test]
    fn a_resend_replaces_the_code_and_keeps_the_tries() {
        let (challenge, _) = issued().verify(&key(), MEMBER, "000000", at(10));
        let resent = challenge.resend(&key(), MEMBER, "123456", at(60)).unwrap();
        assert_eq!(resent.issued_at(), at(60));
        assert_eq!(
            resent.verify(&key(), MEMBER, CODE, at(70)).1,
            Verdict::Wrong { attempts_left: 1 },
            "the old code is wrong now, and the try before the resend still counts"
        );
        assert_eq!(
            resent.verify(&key(), MEMBER, "123456", at(70)).1,
            Verdict::Accepted
        );
    }

    #[test]
    fn a_resent_code_gets_its_own_five_minutes() {
        let resent = issued().resend(&key(), MEMBER, "123456", at(240)).unwrap();
        assert_eq!(resent.expires_at(), at(540));
        assert_eq!(
            resent.verify(&key(), MEMBER, "123456", at(400)).1,
            Verdict::Accepted
        );
    }

    #[test]
    fn a_sixth_send_within_an_hour_is_denied_until_the_first_leaves_it() {
        let mut challenge = issued();
        for minute in 1..=4 {
            challenge = challenge
                .resend(&key(), MEMBER, "123456", at(minute * 60))
                .unwrap();
        }
        let denied = challenge
            .resend(&key(), MEMBER, "123456", at(305))
            .unwrap_err();
        assert_eq!(denied.wait, Duration::from_secs(3600 - 305));
        assert!(challenge.resend(&key(), MEMBER, "123456", at(3600)).is_ok());
    }

    #[test]
    fn sends_older_than_an_hour_are_forgotten() {
        let mut challenge = issued();
        for step in 1..=4 {
            challenge = challenge
                .resend(&key(), MEMBER, "123456", at(step * 900))
                .unwrap();
        }
        assert_eq!(challenge.sends.len(), 4);
    }

    #[test]
    fn no_resend_during_the_lockout_after_an_exhausted_code() {
        let mut challenge = issued();
        for input in ["000000", "111111", "222222"] {
            challenge = challenge.verify(&key(), MEMBER, input, at(100)).0;
        }
        let denied = challenge
            .resend(&key(), MEMBER, "123456", at(400))
            .unwrap_err();
        assert_eq!(denied.wait, LOCKOUT - Duration::from_secs(300));
        assert!(
            challenge
                .resend(&key(), MEMBER, "123456", at(100).plus(LOCKOUT))
                .is_ok()
        );
    }

    #[test]
    fn the_stored_challenge_holds_a_hash_not_the_code() {
        let challenge = issued();
        let json = serde_json::to_string(&challenge).unwrap();
        assert!(!json.contains(CODE), "{json}");
        let back: Challenge = serde_json::from_str(&json).unwrap();
        assert_eq!(back, challenge);
        assert_eq!(
            back.verify(&key(), MEMBER, CODE, at(10)).1,
            Verdict::Accepted
        );
    }

    #[test]
    fn debug_output_leaves_out_the_hash_and_the_key() {
        let challenge = issued();
        let hash = hex::encode(challenge.hash.0);
        let debug = format!("{challenge:?}");
        assert!(!debug.contains(&hash), "{debug}");
        assert!(!debug.contains(CODE), "{debug}");
        assert_eq!(format!("{:?}", key()), "ServerKey(***)");
    }

    #[test]
    fn generated_codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..20).map(|_| generate_code()).collect();
        for code in &codes {
            assert_eq!(code.len(), 6, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        let distinct: std::collections::HashSet<&String> = codes.iter().collect();
        assert!(distinct.len() > 1);
    }

    #[test]
    fn the_server_key_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let created = ServerKey::load_or_create(dir.path()).unwrap();
        let loaded = ServerKey::load_or_create(dir.path()).unwrap();
        let challenge = Challenge::issue(&created, MEMBER, CODE, T0);
        assert_eq!(
            challenge.verify(&loaded, MEMBER, CODE, at(10)).1,
            Verdict::Accepted
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_server_key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        ServerKey::load_or_create(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_malformed_server_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "not hex").unwrap();
        let error = ServerKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(error, KeyError::Malformed { .. }));
        assert!(error.to_string().contains(KEY_FILE));
    }
}
