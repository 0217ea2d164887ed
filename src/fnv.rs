//! FNV-1a, 64-bit: the one stable, cheap, non-cryptographic hash of the crate (asset ETags,
//! the classifier's feature hashes). Unlike `DefaultHasher` it has no seed, so a hash is the
//! same in every run, process and build; and it works in a `const`.

/// The hash of no bytes: where every hash starts.
pub const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// `hash` with one more byte fed in: for callers that hash pieces without joining them.
#[inline]
pub const fn step(hash: u64, byte: u8) -> u64 {
    // `u64::from` is not `const`; widening a `u8` loses nothing.
    (hash ^ byte as u64).wrapping_mul(PRIME)
}

/// `hash` with `bytes` fed in, in order.
#[inline]
pub const fn extend(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash = step(hash, bytes[i]);
        i += 1;
    }
    hash
}

/// The hash of `bytes`.
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    extend(OFFSET, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_test_vectors_hash_as_published() {
        // From the FNV reference (Fowler, Noll, Vo): FNV-1a 64 of "", "a" and "foobar".
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn hashing_in_pieces_is_hashing_the_whole() {
        let pieces = extend(step(OFFSET, b'f'), b"oobar");
        assert_eq!(pieces, fnv1a(b"foobar"));
    }
}
