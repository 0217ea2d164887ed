//! Masking of contact details and identifiers shown before a member has entered a valid code,
//! and of the identifiers a member typed, as the history keeps their messages.
//!
//! The functions take normalized strings, count `char`s (never bytes) and never panic. Stars
//! stand one for one for hidden characters, except in e-mail local parts where a fixed `***`
//! keeps the length of the name secret.

use crate::nlu::entities::{Entity, EntityKind};

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

/// Digits in a group, outside any recognised identifier, from which a typed number is hidden
/// anyway: a code has six, and a NIK or KPJ typed with a digit too many or too few is
/// recognised as no identifier at all ("1234567890123") or as a shorter one and a remainder.
const MIN_HIDDEN_DIGITS: usize = 6;

/// A member's message as the history keeps it: each identifier found in it (`entities`, with
/// character offsets into `text`) replaced by its masked form as the bot shows it — NIK and
/// KPJ by `mask_number`, e-mail by `mask_email`, phone by `mask_phone`, a code by stars.
/// Outside them, a group of digits (joined by single spaces, dashes or dots) is masked by
/// `mask_number` when it has `MIN_HIDDEN_DIGITS` or more, and starred when it touches an
/// identifier (the rest of a number typed with a digit too many).
///
/// Values that were recognised but are not valid (a NIK with a bad birth date) are masked
/// too: a typo does not make a national ID number less personal. Entities that overlap or
/// fall outside the text are skipped, never a panic.
pub fn mask_typed_identifiers(text: &str, entities: &[Entity]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut masked = String::with_capacity(text.len());
    let mut at = 0;
    let mut after_entity = false;
    for entity in entities {
        if entity.start < at || entity.end <= entity.start || entity.end > chars.len() {
            continue;
        }
        let gap = Gap {
            chars: &chars[at..entity.start],
            after_entity,
            before_entity: true,
        };
        gap.mask_into(&mut masked);
        masked.push_str(&mask_entity(entity));
        at = entity.end;
        after_entity = true;
    }
    let rest = Gap {
        chars: &chars[at..],
        after_entity,
        before_entity: false,
    };
    rest.mask_into(&mut masked);
    masked
}

/// How the bot shows a value of this kind; a code is never shown, so all of it is starred.
fn mask_entity(entity: &Entity) -> String {
    match entity.kind {
        EntityKind::Nik | EntityKind::Kpj => mask_number(&entity.value),
        EntityKind::Email => mask_email(&entity.value),
        EntityKind::Phone => mask_phone(&entity.value),
        EntityKind::Otp => "*".repeat(entity.value.chars().count()),
    }
}

/// Text between identifiers (or before the first, or after the last).
struct Gap<'a> {
    chars: &'a [char],
    /// An identifier ends where this text starts.
    after_entity: bool,
    /// An identifier starts where this text ends.
    before_entity: bool,
}

impl Gap<'_> {
    /// Copies the text to `out` with its digit groups masked (see `mask_typed_identifiers`).
    fn mask_into(&self, out: &mut String) {
        let chars = self.chars;
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_numeric() {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            let start = i;
            let mut end = i;
            while end < chars.len() && chars[end].is_numeric() {
                end += 1;
                let joined = end + 1 < chars.len()
                    && matches!(chars[end], ' ' | '-' | '.')
                    && chars[end + 1].is_numeric();
                if joined {
                    end += 1;
                }
            }
            let group = &chars[start..end];
            let digits: String = group.iter().filter(|c| c.is_numeric()).collect();
            // At most one character (a separator) between the group and an identifier.
            let touches_entity =
                (self.after_entity && start <= 1) || (self.before_entity && chars.len() - end <= 1);
            if digits.chars().count() >= MIN_HIDDEN_DIGITS {
                out.push_str(&mask_number(&digits));
            } else if touches_entity {
                out.extend(group.iter().map(|&c| if c.is_numeric() { '*' } else { c }));
            } else {
                out.extend(group);
            }
            i = end;
        }
    }
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
        assert_eq!(mask_phone("0812345678901"), "0812*****8901");
        assert_eq!(mask_phone("+6281234567890"), "+628******7890");
    }

    #[test]
    fn short_phone_hides_at_least_four_digits() {
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
        assert_eq!(mask_number("1234567890"), "123*****90");
        assert_eq!(mask_number("1234567"), "*****67");
    }

    #[test]
    fn numbers_under_seven_characters_are_fully_starred() {
        assert_eq!(mask_number("123456"), "******");
        assert_eq!(mask_number("1"), "*");
        assert_eq!(mask_number(""), "");
    }

    fn typed(text: &str) -> String {
        mask_typed_identifiers(text, &crate::nlu::entities::extract(text))
    }

    #[test]
    fn typed_identifiers_are_masked_as_the_bot_masks_them() {
        assert_eq!(
            typed("kpj 12345678901 nik 3174011203880001"),
            "kpj 1234*****01 nik 3174**********01"
        );
        assert_eq!(
            typed("email saya budi.santoso@example.com ya"),
            "email saya b***@example.com ya"
        );
        assert_eq!(typed("hp +62 812-3456-7890"), "hp 0812****7890");
        assert_eq!(typed("kodenya 12 34 56"), "kodenya ******");
    }

    #[test]
    fn invalid_identifiers_and_unrecognised_long_numbers_are_masked_too() {
        assert_eq!(typed("nik 31740112038800012"), "nik 3174***********12");
        assert_eq!(typed("budi@ex"), "b***@ex");
        assert_eq!(typed("nomor 1234567890123"), "nomor 1234*******23");
        assert_eq!(typed("nomor 1234 5678 9012 3"), "nomor 1234*******23");
        assert_eq!(
            typed("nik saya 3174 0112 0388 00012"),
            "nik saya 3174******88 *****"
        );
    }

    #[test]
    fn words_and_short_numbers_are_kept() {
        assert_eq!(typed("saya lupa password jmo"), "saya lupa password jmo");
        assert_eq!(typed("umur 35, kartu 2"), "umur 35, kartu 2");
        assert_eq!(typed("tahun 2024 - 2025"), "tahun 2024 - 2025");
    }

    #[test]
    fn entities_that_do_not_fit_the_text_are_skipped() {
        let entity = |start, end| Entity {
            kind: EntityKind::Kpj,
            value: "12345678901".into(),
            start,
            end,
            problem: None,
        };
        assert_eq!(mask_typed_identifiers("abc", &[entity(1, 99)]), "abc");
        assert_eq!(mask_typed_identifiers("abc", &[entity(2, 1)]), "abc");
        assert_eq!(
            mask_typed_identifiers("ab cd", &[entity(0, 2), entity(1, 3)]),
            "1234*****01 cd"
        );
    }

    #[test]
    fn masking_never_splits_a_multibyte_character() {
        assert_eq!(mask_number("١٢٣٤٥٦٧٨٩٠١"), "١٢٣٤*****٠١");
        assert_eq!(mask_phone("😀😀😀😀1234😀😀😀😀"), "😀😀😀😀****😀😀😀😀");
    }
}
