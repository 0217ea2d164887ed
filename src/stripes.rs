//! Lock striping: which of a fixed number of locks guards a key. Keys on one stripe wait for
//! each other, which is rare and harmless, and memory stays fixed however many keys exist.

/// The stripe of `key` among `stripes` (at least one): stable across runs and processes.
pub fn stripe(key: &str, stripes: usize) -> usize {
    // FNV-1a: stable and cheap; the stripe only spreads load.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % stripes as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_lands_on_the_same_stripe_within_range() {
        for key in ["", "web:abc", "telegram:12345"] {
            assert_eq!(stripe(key, 1024), stripe(key, 1024));
            assert!(stripe(key, 1024) < 1024);
            assert_eq!(stripe(key, 1), 0);
        }
    }

    #[test]
    fn keys_spread_over_the_stripes() {
        let used: std::collections::HashSet<usize> =
            (0..1000).map(|i| stripe(&format!("web:{i}"), 16)).collect();
        assert_eq!(used.len(), 16);
    }
}
