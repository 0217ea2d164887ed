//! The masking rules (SPEC §6): how an e-mail, a phone, a NIK or KPJ (or any long number) and a
//! code are shown where the full value may not be. The one home of these rules: the
//! identifiers' `Debug`, the bot's replies, the codes' destinations, the entities' `Debug` and
//! the history (`security::mask`) all call these functions.
//!
//! The functions take normalized strings, count `char`s (never bytes) and never panic. Stars
//! stand one for one for hidden characters, except in e-mail local parts where a fixed `***`
//! keeps the length of the name secret.

/// Masks an e-mail address: the first character of the local part, `***`, then the domain:
/// `budi.santoso@example.com` → `b***@example.com`.
///
/// A one-character local part is starred entirely, since showing it would show all of it. The
/// domain is split at the last `@`; text without an `@` is masked like a local part alone.
pub fn mask_email(email: &str) -> String {
    let (local, domain) = match email.rsplit_once('@') {
        Some((local, domain)) => (local, Some(domain)),
        None => (email, None),
    };
    let mut chars = local.chars();
    let mut masked = match (chars.next(), chars.next()) {
        (Some(first), Some(_)) => format!("{first}***"),
        _ => String::from("***"),
    };
    if let Some(domain) = domain {
        masked.push('@');
        masked.push_str(domain);
    }
    masked
}

/// Masks a phone number, keeping the first 4 and last 4 characters:
/// `081234567890` → `0812****7890`.
///
/// At least 4 characters stay hidden, so shorter numbers show fewer leading characters
/// (`0812345678` → `08****5678`), and anything under 8 characters is starred entirely.
pub fn mask_phone(phone: &str) -> String {
    keep_ends(phone, 4, 4, 4)
}

/// Masks a KPJ or NIK, keeping at most the first 4 and last 2 digits:
/// `12345678901` → `1234*****01`.
///
/// At least 5 characters stay hidden, so anything shorter than a KPJ (11 digits) shows at most
/// half of itself, and anything under 7 characters is starred entirely.
pub fn mask_number(number: &str) -> String {
    keep_ends(number, 4, 2, 5)
}

/// Masks a one-time code: all of it, one star a character. Not even part of a code may be
/// shown: it is a credential until it expires.
pub fn mask_code(code: &str) -> String {
    "*".repeat(code.chars().count())
}

/// Shows up to `head` leading and exactly `tail` trailing characters with at least `min_hidden`
/// starred between them; the head shrinks first because the tail is what members recognise.
fn keep_ends(text: &str, head: usize, tail: usize, min_hidden: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    if len < tail + min_hidden {
        return "*".repeat(len);
    }
    let head = head.min(len - tail - min_hidden);
    let hidden = len - head - tail;
    let mut masked = String::with_capacity(text.len() + hidden);
    masked.extend(&chars[..head]);
    masked.extend(std::iter::repeat_n('*', hidden));
    masked.extend(&chars[len - tail..]);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shows_the_first_letter_and_the_domain() {
        assert_eq!(mask_email("budi.santoso@example.com"), "b***@example.com");
    }

    #[test]
    fn email_with_a_one_letter_local_part_hides_that_letter() {
        // The identifiers' `Debug` once showed `a***@x.com` here: all of the local part.
        assert_eq!(mask_email("a@x.com"), "***@x.com");
    }

    #[test]
    fn email_with_an_empty_local_part_is_starred() {
        assert_eq!(mask_email("@example.com"), "***@example.com");
    }

    #[test]
    fn email_is_split_at_the_last_at_sign() {
        assert_eq!(mask_email("\"a@b\"@example.com"), "\"***@example.com");
    }

    #[test]
    fn text_without_an_at_sign_is_masked_like_a_local_part() {
        // The identifiers' `Debug` once starred all of it (`****`); the bot shows `b***`.
        assert_eq!(mask_email("budi"), "b***");
        assert_eq!(mask_email("budisantoso"), "b***");
        assert_eq!(mask_email(""), "***");
    }

    #[test]
    fn email_masking_works_on_characters_not_bytes() {
        assert_eq!(mask_email("émile@contoh.id"), "é***@contoh.id");
        assert_eq!(mask_email("ñ@x.id"), "***@x.id");
    }

    #[test]
    fn phone_keeps_the_first_four_and_last_four_digits() {
        assert_eq!(mask_phone("081234567890"), "0812****7890");
    }

    #[test]
    fn phone_stars_count_the_hidden_digits() {
        // The `Phone` type's `Debug` once put a fixed `****` in the middle of any length.
        assert_eq!(mask_phone("0812345678901"), "0812*****8901");
        assert_eq!(mask_phone("+6281234567890"), "+628******7890");
    }

    #[test]
    fn short_phone_hides_at_least_four_digits() {
        // A fixed `****` once showed 8 of these 10 digits (`0812****5678`).
        assert_eq!(mask_phone("0812345678"), "08****5678");
        assert_eq!(mask_phone("12345678"), "****5678");
    }

    #[test]
    fn very_short_phone_is_fully_starred() {
        assert_eq!(mask_phone("1234567"), "*******");
        assert_eq!(mask_phone(""), "");
    }

    #[test]
    fn kpj_keeps_the_first_four_and_last_two_digits() {
        assert_eq!(mask_number("12345678901"), "1234*****01");
    }

    #[test]
    fn nik_keeps_the_first_four_and_last_two_digits() {
        assert_eq!(mask_number("3201010101900001"), "3201**********01");
    }

    #[test]
    fn numbers_shorter_than_a_kpj_show_at_most_half() {
        for len in 0..=12 {
            let number: String = "1234567890ab".chars().take(len).collect();
            let masked = mask_number(&number);
            let visible = masked.chars().filter(|&c| c != '*').count();
            assert_eq!(masked.chars().count(), len, "{masked}");
            assert!(len == 11 || visible * 2 <= len, "{number} -> {masked}");
        }
        // The entities' `Debug` once showed 6 of these 10 digits (`1234****90`).
        assert_eq!(mask_number("1234567890"), "123*****90");
        assert_eq!(mask_number("1234567"), "*****67");
    }

    #[test]
    fn numbers_under_seven_characters_are_fully_starred() {
        assert_eq!(mask_number("123456"), "******");
        assert_eq!(mask_number("12345"), "*****");
        assert_eq!(mask_number("1"), "*");
        assert_eq!(mask_number(""), "");
    }

    #[test]
    fn a_code_is_starred_entirely() {
        assert_eq!(mask_code("123456"), "******");
        assert_eq!(mask_code("12 34"), "*****");
        assert_eq!(mask_code(""), "");
    }

    #[test]
    fn masking_never_splits_a_multibyte_character() {
        assert_eq!(mask_number("١٢٣٤٥٦٧٨٩٠١"), "١٢٣٤*****٠١");
        assert_eq!(mask_phone("😀😀😀😀1234😀😀😀😀"), "😀😀😀😀****😀😀😀😀");
    }
}
