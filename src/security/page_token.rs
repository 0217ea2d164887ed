//! The password page's link token (SPEC §6, §12): 128 bits from the OS random number generator,
//! written base64url in the link, and kept by the server only as a keyed hash.
//!
//! HMAC-SHA256 under the server key rather than argon2: a token is random, so there is nothing
//! to guess offline, and it lives ten minutes with a bounded number of tries. A stolen token
//! store holds no token that opens the page.

use crate::security::otp::ServerKey;
use base64::Engine as _;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;
use rand::Rng;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use std::fmt;
use std::time::Duration;

/// How long a link works after it was sent.
pub const PAGE_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);
/// Submissions of the page's form one link allows; the next one ends the link, so the page
/// cannot be used to try passwords (or anything else) at length.
pub const PAGE_TOKEN_ATTEMPTS: u32 = 10;

/// Random bytes in a token: 128 bits.
const TOKEN_BYTES: usize = 16;
/// Characters of a token in a link (base64url without padding).
const TOKEN_CHARS: usize = 22;
/// Domain separation from the other keyed hashes under the same server key.
const HASH_PURPOSE: &[u8] = b"tanya/password-page/v1";

/// A link token. Prints as `PageToken(***)`: it opens the page until it is used or expires.
#[derive(Clone, PartialEq, Eq)]
pub struct PageToken([u8; TOKEN_BYTES]);

impl PageToken {
    /// A fresh token from the OS random number generator (see `otp::generate_code` for why
    /// not a thread-local generator).
    pub fn generate() -> PageToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        UnwrapErr(SysRng).fill_bytes(&mut bytes);
        PageToken(bytes)
    }

    /// The token of a link's last segment; `None` for anything that is not exactly a token's
    /// 22 base64url characters.
    pub fn parse(text: &str) -> Option<PageToken> {
        if text.len() != TOKEN_CHARS {
            return None;
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        match BASE64_URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(TOKEN_BYTES) => Some(PageToken(bytes)),
            _ => None,
        }
    }

    /// The token as it stands in the link.
    pub fn as_url(&self) -> String {
        BASE64_URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the server keeps of this token.
    pub fn hash(&self, key: &ServerKey) -> PageTokenHash {
        PageTokenHash(key.fingerprint(HASH_PURPOSE, &self.0))
    }
}

impl fmt::Debug for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageToken(***)")
    }
}

/// The keyed hash of a token: what the token store is keyed by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageTokenHash(pub [u8; 32]);

impl fmt::Debug for PageTokenHash {
    // Not a secret, but nothing a log needs: a prefix tells two apart in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageTokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_22_url_safe_characters_and_reads_back() {
        let token = PageToken::generate();
        let text = token.as_url();
        assert_eq!(text.len(), TOKEN_CHARS);
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{text}"
        );
        assert_eq!(PageToken::parse(&text), Some(token));
    }

    #[test]
    fn anything_but_a_token_is_refused() {
        let good = PageToken::generate().as_url();
        for bad in [
            "",
            &good[1..],
            &format!("{good}A"),
            &format!("{}+", &good[1..]),
            "../../../../etc/passwd000",
            "ÀÀÀÀÀÀÀÀÀÀÀ",
        ] {
            assert_eq!(PageToken::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn tokens_differ_and_their_hashes_depend_on_the_key() {
        let (a, b) = (PageToken::generate(), PageToken::generate());
        assert_ne!(a, b);
        let key = ServerKey::from_bytes([1; 32]);
        assert_eq!(a.hash(&key), a.hash(&key));
        assert_ne!(a.hash(&key), b.hash(&key));
        assert_ne!(a.hash(&key), a.hash(&ServerKey::from_bytes([2; 32])));
    }

    #[test]
    fn a_token_never_prints() {
        let token = PageToken::generate();
        assert_eq!(format!("{token:?}"), "PageToken(***)");
        assert!(
            !format!("{:?}", token.hash(&ServerKey::from_bytes([1; 32]))).contains(&token.as_url())
        );
    }
}
