//! Wildcard matching for conversation expectations: `*` stands for any text and everything else
//! is literal, compared case-insensitively, so test authors never need regex escaping.

/// Whether the whole of `text` matches `pattern`.
///
/// `*` matches any sequence of characters, including none and including newlines; every other
/// character is literal (`.`, `?`, `(` have no special meaning). Both sides are compared in
/// Unicode lower case after trimming surrounding whitespace. An empty pattern matches anything,
/// because an empty `#bot` text means "any message".
///
/// Runs in O(len(pattern) × len(text)) time at worst and compiles nothing per call.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern = lower_chars(pattern);
    if pattern.is_empty() {
        return true;
    }
    let text = lower_chars(text);

    // Greedy scan that, on a mismatch, goes back to the most recent star and lets it swallow one
    // more character. Earlier stars never need revisiting: anything they could have absorbed,
    // the later star can absorb instead, so there is no exponential backtracking.
    let (mut p, mut t) = (0, 0);
    // (pattern index just after the last star, text index where that star's match ends)
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&'*') {
            p += 1;
            last_star = Some((p, t));
        } else if pattern.get(p) == Some(&text[t]) {
            p += 1;
            t += 1;
        } else if let Some((after_star, star_end)) = last_star {
            p = after_star;
            t = star_end + 1;
            last_star = Some((after_star, t));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Trimmed and lower-cased one character at a time: context-free, so the pattern and the text
/// always fold the same character the same way.
fn lower_chars(s: &str) -> Vec<char> {
    s.trim().chars().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;
    use std::time::{Duration, Instant};

    #[test]
    fn a_star_matches_any_text_including_nothing_and_newlines() {
        assert!(wildcard_match("*", "apa saja"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match(
            "*email*",
            "Silakan kirim\nemail dan\nKPJ Anda"
        ));
        assert!(wildcard_match("halo*", "halo"));
        assert!(wildcard_match("**", "x"));
    }

    #[test]
    fn literal_text_must_match_the_whole_message() {
        assert!(wildcard_match("halo", "halo"));
        assert!(!wildcard_match("halo", "halo kak"));
        assert!(!wildcard_match("halo", "kak halo"));
        assert!(!wildcard_match("*email", "email saya"));
        assert!(!wildcard_match("halo kak", "halo"));
    }

    #[test]
    fn regex_characters_are_literal() {
        assert!(wildcard_match("Rp25.750.000 (?)", "rp25.750.000 (?)"));
        assert!(!wildcard_match("Rp25.750.000", "Rp25x750x000"));
        assert!(!wildcard_match("a?c", "abc"));
        assert!(wildcard_match("[a-z]+", "[A-Z]+"));
    }

    #[test]
    fn matching_ignores_case_including_beyond_ascii() {
        assert!(wildcard_match("SALDO JHT *", "saldo jht anda"));
        assert!(wildcard_match("straße", "STRAßE"));
        assert!(wildcard_match("ÉTÉ", "été"));
        assert!(wildcard_match("*İ*", "i\u{307}"));
    }

    #[test]
    fn surrounding_whitespace_of_both_sides_is_ignored() {
        assert!(wildcard_match("  halo \n", "\thalo  "));
        assert!(!wildcard_match("halo kak", "halo  kak"));
    }

    #[test]
    fn an_empty_pattern_matches_any_message() {
        assert!(wildcard_match("", "apa saja"));
        assert!(wildcard_match("   ", ""));
    }

    #[test]
    fn a_star_backtracks_past_early_false_matches() {
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(wildcard_match(
            "*kode*dikirim*",
            "kode kode telah dikirim ke 0812****7890"
        ));
        assert!(!wildcard_match("a*b*c", "aXbYbZ"));
        assert!(wildcard_match("*aab", "aaaab"));
    }

    #[test]
    fn a_pathological_pattern_finishes_instantly() {
        let text = "a".repeat(5_000);
        let started = Instant::now();
        assert!(!wildcard_match("*a*a*a*a*a*a*b", &text));
        assert!(wildcard_match("*a*a*a*a*a*a*", &text));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
