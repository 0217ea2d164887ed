//! Masking of the identifiers a member typed, as the history keeps their messages, by the
//! rules of `identity::mask` (the one home of how each kind of value is masked).

// The rules are re-exported for the shell (the engine masks a code's destination with them),
// so that what is shown and what is kept are masked alike.
pub use crate::identity::mask::{mask_email, mask_phone};

use crate::identity::mask::mask_number;
use crate::nlu::entities::Entity;

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
        masked.push_str(&entity.masked());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Kpj;
    use crate::nlu::entities::EntityValue;

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
        let kpj = Kpj::parse("12345678901").unwrap();
        let entity = |start, end| Entity {
            value: EntityValue::Kpj(kpj.clone()),
            start,
            end,
        };
        assert_eq!(mask_typed_identifiers("abc", &[entity(1, 99)]), "abc");
        assert_eq!(mask_typed_identifiers("abc", &[entity(2, 1)]), "abc");
        assert_eq!(
            mask_typed_identifiers("ab cd", &[entity(0, 2), entity(1, 3)]),
            "1234*****01 cd"
        );
    }
}
