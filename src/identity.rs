//! Member identifiers as types that can only hold valid values (NIK, KPJ, e-mail, phone, code).
//!
//! Each type's `parse` accepts what a member types (digits grouped with spaces, `-` or `.`;
//! phones as `08…`, `62 8…` or `+62 8…`) and keeps only the normalized form of SPEC §3.
//! `Display`, `as_str` and serde give the full normalized value, for storage and lookups;
//! `Debug` prints a masked form, so a stray `{:?}` in a log line cannot leak personal data.

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub mod mask;

/// Why a string is not a valid member identifier.
///
/// The messages never contain the rejected value: it is personal data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// The number has the wrong count of digits (separators are not counted).
    #[error("expected {} digits, found {found}", describe_count(.expected))]
    WrongLength {
        /// How many digits the identifier needs.
        expected: RangeInclusive<usize>,
        /// How many digits were given.
        found: usize,
    },
    /// Something other than digits and separators (space, `-`, `.`) was given for a number.
    #[error("only digits are allowed")]
    NotDigits,
    /// The NIK's first two digits are not a province code (11–94).
    #[error("the NIK does not start with a province code")]
    BadProvince,
    /// The NIK's digits 7–12 are not a birth date (DDMMYY, the day plus 40 for women).
    #[error("the NIK does not contain a valid birth date")]
    BadBirthDate,
    /// The NIK's serial number (its last four digits) is 0000, which is never issued.
    #[error("the NIK's serial number is 0000")]
    BadSerial,
    /// The e-mail address or phone number does not have a recognized shape.
    #[error("not a valid e-mail address or mobile number")]
    Malformed,
}

fn describe_count(expected: &RangeInclusive<usize>) -> String {
    if expected.start() == expected.end() {
        expected.start().to_string()
    } else {
        format!("{}–{}", expected.start(), expected.end())
    }
}

/// A 16-digit national ID number (Nomor Induk Kependudukan) that is structurally valid.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nik(String);

/// An 11-digit BPJS Ketenagakerjaan membership card number (KPJ).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kpj(String);

/// An e-mail address, lower-cased.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// An Indonesian mobile number in national form (`08…`, 10–13 digits).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// A 6-digit one-time code as typed by the member.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OtpCode(String);

impl Nik {
    /// Parses a NIK, checking the province code, the birth date and the serial number.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let digits = exact_digits(s, 16)?;
        let b = digits.as_bytes();
        let pair = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
        if !(11..=94).contains(&pair(0)) {
            return Err(IdentityError::BadProvince);
        }
        let day = match pair(6) {
            day @ 1..=31 => day,
            day @ 41..=71 => day - 40,
            _ => return Err(IdentityError::BadBirthDate),
        };
        let month = pair(8);
        if !(1..=12).contains(&month) || day > days_in_month(month) {
            return Err(IdentityError::BadBirthDate);
        }
        if &digits[12..] == "0000" {
            return Err(IdentityError::BadSerial);
        }
        Ok(Nik(digits))
    }

    /// Whether the NIK was issued to a woman (her birth day is written plus 40).
    pub fn is_female(&self) -> bool {
        self.0.as_bytes()[6] >= b'4'
    }

    /// The first 4 and last 2 digits, the rest starred (SPEC §6).
    pub fn masked(&self) -> String {
        mask::mask_number(&self.0)
    }
}

/// Days in a month of a year we cannot know: the NIK only carries the year's last two digits,
/// so 29 February is always accepted.
fn days_in_month(month: u8) -> u8 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Kpj {
    /// Parses an 11-digit card number.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        exact_digits(s, 11).map(Kpj)
    }

    /// The first 4 and last 2 digits, the rest starred (SPEC §6).
    pub fn masked(&self) -> String {
        mask::mask_number(&self.0)
    }
}

impl Email {
    /// Parses an address of the shape `local@domain.tld`: what mail providers actually hand
    /// out, not every string RFC 5322 allows (no quoted local parts, no IP literals, ASCII only).
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let s = s.trim();
        let (local, domain) = s.split_once('@').ok_or(IdentityError::Malformed)?;
        let local_ok = (1..=64).contains(&local.len())
            && local.bytes().all(is_local_byte)
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if s.len() > 254 || !local_ok || !is_domain(domain) {
            return Err(IdentityError::Malformed);
        }
        Ok(Email(s.to_ascii_lowercase()))
    }

    /// The first letter of the local part and the whole domain: `b***@example.com` (SPEC §6).
    pub fn masked(&self) -> String {
        mask::mask_email(&self.0)
    }
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b)
}

/// At least two dot-separated labels of letters, digits and inner hyphens, ending in an
/// alphabetic top-level domain (`example.c` and `example.123` are typos, not domains).
fn is_domain(domain: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    match domain.rsplit_once('.') {
        Some((rest, tld)) => {
            tld.len() >= 2
                && tld.bytes().all(|b| b.is_ascii_alphabetic())
                && rest.split('.').all(label_ok)
        }
        None => false,
    }
}

impl Phone {
    /// Parses a mobile number written as `08…`, `62 8…` or `+62 8…`. A number mixing the two
    /// forms (`+62 0812…`) is rejected rather than guessed at.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let s = s.trim();
        let (international, rest) = match s.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let digits = digits_of(rest)?;
        let national = match digits.strip_prefix("62") {
            Some(subscriber) if subscriber.starts_with('8') => format!("0{subscriber}"),
            None if !international && digits.starts_with("08") => digits,
            Some(_) | None => return Err(IdentityError::Malformed),
        };
        if !(10..=13).contains(&national.len()) {
            return Err(IdentityError::WrongLength {
                expected: 10..=13,
                found: national.len(),
            });
        }
        Ok(Phone(national))
    }

    /// The first and last 4 digits, the rest starred: `0812****7890` (SPEC §6).
    pub fn masked(&self) -> String {
        mask::mask_phone(&self.0)
    }
}

impl OtpCode {
    /// Parses a 6-digit code.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        exact_digits(s, 6).map(OtpCode)
    }

    /// All of it starred: a code is a credential until it expires.
    fn masked(&self) -> String {
        mask::mask_code(&self.0)
    }
}

/// The digits of a number as members type it, without the separators they use for grouping.
fn digits_of(s: &str) -> Result<String, IdentityError> {
    let mut digits = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' => {}
            _ => return Err(IdentityError::NotDigits),
        }
    }
    Ok(digits)
}

fn exact_digits(s: &str, count: usize) -> Result<String, IdentityError> {
    let digits = digits_of(s)?;
    if digits.len() == count {
        Ok(digits)
    } else {
        Err(IdentityError::WrongLength {
            expected: count..=count,
            found: digits.len(),
        })
    }
}

/// The accessors, conversions and masked `Debug` every identifier shares.
macro_rules! identifier {
    ($name:ident) => {
        impl $name {
            /// The normalized value (SPEC §3).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.masked())
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdentityError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

identifier!(Nik);
identifier!(Kpj);
identifier!(Email);
identifier!(Phone);
identifier!(OtpCode);

#[cfg(test)]
mod tests {
    use super::*;

    fn nik_error(s: &str) -> IdentityError {
        Nik::parse(s).expect_err(s)
    }

    #[test]
    fn the_demo_niks_are_valid() {
        for nik in [
            "3174011203880001",
            "3273016508900002",
            "3578010107850003",
            "5171024403950004",
        ] {
            assert_eq!(Nik::parse(nik).expect(nik).as_str(), nik);
        }
    }

    #[test]
    fn a_nik_may_be_grouped_with_spaces_dashes_or_dots() {
        for typed in [
            "3174 0112 0388 0001",
            "3174-0112-0388-0001",
            "3174.0112.0388.0001",
            " 317401 120388 0001 ",
        ] {
            assert_eq!(Nik::parse(typed).expect(typed).as_str(), "3174011203880001");
        }
    }

    #[test]
    fn a_womans_nik_carries_her_birth_day_plus_forty() {
        assert!(Nik::parse("3273016508900002").unwrap().is_female());
        assert!(Nik::parse("5171024403950004").unwrap().is_female());
        assert!(!Nik::parse("3174011203880001").unwrap().is_female());
        assert!(
            Nik::parse("3174017101880001").is_ok(),
            "71 is the 31st for a woman"
        );
        assert_eq!(nik_error("3174017201880001"), IdentityError::BadBirthDate);
        assert_eq!(nik_error("3174014001880001"), IdentityError::BadBirthDate);
        assert_eq!(nik_error("3174013501880001"), IdentityError::BadBirthDate);
    }

    #[test]
    fn a_nik_birth_date_must_exist() {
        assert_eq!(
            nik_error("3174013102880001"),
            IdentityError::BadBirthDate,
            "31 February"
        );
        assert_eq!(
            nik_error("3174013002880001"),
            IdentityError::BadBirthDate,
            "30 February"
        );
        assert_eq!(
            nik_error("3174013104880001"),
            IdentityError::BadBirthDate,
            "31 April"
        );
        assert_eq!(
            nik_error("3174010003880001"),
            IdentityError::BadBirthDate,
            "day 00"
        );
        assert_eq!(
            nik_error("3174011200880001"),
            IdentityError::BadBirthDate,
            "month 00"
        );
        assert_eq!(
            nik_error("3174011213880001"),
            IdentityError::BadBirthDate,
            "month 13"
        );
        assert!(
            Nik::parse("3174012902890001").is_ok(),
            "29 February of any two-digit year"
        );
        assert!(
            Nik::parse("3174016902890001").is_ok(),
            "29 February, a woman"
        );
    }

    #[test]
    fn a_nik_starts_with_a_province_code_between_11_and_94() {
        assert_eq!(nik_error("1074011203880001"), IdentityError::BadProvince);
        assert_eq!(nik_error("9574011203880001"), IdentityError::BadProvince);
        assert_eq!(nik_error("0874011203880001"), IdentityError::BadProvince);
        assert!(Nik::parse("1174011203880001").is_ok());
        assert!(Nik::parse("9474011203880001").is_ok());
    }

    #[test]
    fn a_nik_serial_of_0000_is_never_issued() {
        assert_eq!(nik_error("3174011203880000"), IdentityError::BadSerial);
    }

    #[test]
    fn a_nik_has_exactly_sixteen_digits() {
        assert_eq!(
            nik_error("317401120388001"),
            IdentityError::WrongLength {
                expected: 16..=16,
                found: 15
            }
        );
        assert_eq!(
            nik_error("31740112038800011"),
            IdentityError::WrongLength {
                expected: 16..=16,
                found: 17
            }
        );
        assert_eq!(
            nik_error(""),
            IdentityError::WrongLength {
                expected: 16..=16,
                found: 0
            }
        );
        assert_eq!(
            nik_error("3174O11203880001"),
            IdentityError::NotDigits,
            "a letter O"
        );
        assert_eq!(
            nik_error("３１７４０１１２０３８８０００１"),
            IdentityError::NotDigits,
            "fullwidth digits are the extractor's job"
        );
    }

    #[test]
    fn a_kpj_has_exactly_eleven_digits() {
        assert_eq!(Kpj::parse("1234 5678 901").unwrap().as_str(), "12345678901");
        assert_eq!(Kpj::parse("08123456789").unwrap().as_str(), "08123456789");
        assert_eq!(
            Kpj::parse("1234567890"),
            Err(IdentityError::WrongLength {
                expected: 11..=11,
                found: 10
            })
        );
        assert_eq!(Kpj::parse("1234567890a"), Err(IdentityError::NotDigits));
    }

    #[test]
    fn a_code_has_exactly_six_digits() {
        assert_eq!(OtpCode::parse("123 456").unwrap().as_str(), "123456");
        assert_eq!(
            OtpCode::parse("12345"),
            Err(IdentityError::WrongLength {
                expected: 6..=6,
                found: 5
            })
        );
        assert_eq!(OtpCode::parse("12a456"), Err(IdentityError::NotDigits));
    }

    #[test]
    fn every_written_form_of_a_mobile_number_becomes_its_national_form() {
        for typed in [
            "081234567890",
            "0812-3456-7890",
            "0812.3456.7890",
            "+62 812 3456 7890",
            "+6281234567890",
            "62 812-3456-7890",
            "6281234567890",
        ] {
            assert_eq!(Phone::parse(typed).expect(typed).as_str(), "081234567890");
        }
    }

    #[test]
    fn a_mobile_number_has_ten_to_thirteen_digits_in_national_form() {
        assert!(Phone::parse("0812345678").is_ok());
        assert!(Phone::parse("0812345678901").is_ok());
        assert!(Phone::parse("+62 812 345 678").is_ok());
        let short = IdentityError::WrongLength {
            expected: 10..=13,
            found: 9,
        };
        assert_eq!(Phone::parse("081234567"), Err(short.clone()));
        assert_eq!(Phone::parse("+62 81234567"), Err(short));
        let long = IdentityError::WrongLength {
            expected: 10..=13,
            found: 14,
        };
        assert_eq!(Phone::parse("08123456789012"), Err(long));
    }

    #[test]
    fn numbers_that_are_not_indonesian_mobiles_are_malformed() {
        for typed in [
            "+62 0812 3456 7890",
            "620812345678",
            "+1 555 123 4567",
            "+0812345678",
            "0212345678",
            "7812345678",
        ] {
            assert_eq!(
                Phone::parse(typed),
                Err(IdentityError::Malformed),
                "{typed}"
            );
        }
        assert_eq!(
            Phone::parse("0812 3456 78x0"),
            Err(IdentityError::NotDigits)
        );
    }

    #[test]
    fn an_email_address_is_trimmed_and_lower_cased() {
        let email = Email::parse(" Budi.Santoso@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "budi.santoso@example.com");
        assert!(Email::parse("siti+jmo@mail.co.id").is_ok());
        assert!(Email::parse("a_b-c@sub-domain.example.org").is_ok());
    }

    #[test]
    fn strings_that_are_not_practical_addresses_are_malformed() {
        let too_long = format!("{}@example.com", "a".repeat(250));
        let local_too_long = format!("{}@example.com", "a".repeat(65));
        for typed in [
            "budi@",
            "budi@example",
            "@example.com",
            "budi",
            "budi santoso@example.com",
            "budi@@example.com",
            "budi@exa@mple.com",
            ".budi@example.com",
            "budi.@example.com",
            "budi..santoso@example.com",
            "budi@-example.com",
            "budi@example..com",
            "budi@example.c",
            "budi@example.123",
            "josé@example.com",
            too_long.as_str(),
            local_too_long.as_str(),
        ] {
            assert_eq!(
                Email::parse(typed),
                Err(IdentityError::Malformed),
                "{typed}"
            );
        }
    }

    #[test]
    fn debug_output_masks_personal_data() {
        let nik = Nik::parse("3174011203880001").unwrap();
        assert_eq!(format!("{nik:?}"), "Nik(3174**********01)");
        assert_eq!(
            format!("{:?}", Kpj::parse("12345678901").unwrap()),
            "Kpj(1234*****01)"
        );
        assert_eq!(
            format!("{:?}", Phone::parse("081234567890").unwrap()),
            "Phone(0812****7890)"
        );
        assert_eq!(
            format!("{:?}", Email::parse("budi.santoso@example.com").unwrap()),
            "Email(b***@example.com)"
        );
        assert_eq!(
            format!("{:?}", OtpCode::parse("123456").unwrap()),
            "OtpCode(******)"
        );
        assert_eq!(format!("{:?}", Some(nik)), "Some(Nik(3174**********01))");
    }

    #[test]
    fn display_shows_the_normalized_value() {
        assert_eq!(
            Phone::parse("+62 812 3456 7890").unwrap().to_string(),
            "081234567890"
        );
        assert_eq!(
            Nik::parse("3174 0112 0388 0001").unwrap().to_string(),
            "3174011203880001"
        );
    }

    #[test]
    fn serde_uses_the_normalized_string_and_validates_on_the_way_in() {
        let nik = Nik::parse("3174011203880001").unwrap();
        assert_eq!(
            serde_json::to_string(&nik).unwrap(),
            r#""3174011203880001""#
        );
        assert_eq!(
            serde_json::from_str::<Nik>(r#""3174011203880001""#).unwrap(),
            nik
        );
        assert!(serde_json::from_str::<Nik>(r#""3174013102880001""#).is_err());
        assert!(serde_json::from_str::<Phone>(r#""+6208123456789""#).is_err());
        let phone: Phone = serde_json::from_str(r#""+62 812 3456 7890""#).unwrap();
        assert_eq!(serde_json::to_string(&phone).unwrap(), r#""081234567890""#);
        let email: Email = serde_json::from_str(r#""Budi@Example.com""#).unwrap();
        assert_eq!(
            serde_json::to_string(&email).unwrap(),
            r#""budi@example.com""#
        );
    }

    #[test]
    fn error_messages_name_the_rule_but_not_the_value() {
        let error = nik_error("317401120388001");
        assert_eq!(error.to_string(), "expected 16 digits, found 15");
        let error = Phone::parse("08123").unwrap_err();
        assert_eq!(error.to_string(), "expected 10–13 digits, found 5");
    }
}
