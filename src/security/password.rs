//! Passwords: a secret type that never prints, the password policy, and argon2id hashing.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;

/// Fewest characters a password may have.
pub const MIN_LEN: usize = 8;
/// Most characters a password may have.
pub const MAX_LEN: usize = 64;
/// Personal strings shorter than this are not looked for: a short e-mail local part such as
/// `a` would otherwise forbid half of all passwords.
const MIN_PERSONAL_LEN: usize = 4;

/// OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1), spelled out rather than taken from
/// `Params::DEFAULT` so a change of library defaults cannot weaken stored hashes. Checked at
/// compile time.
const ARGON2_PARAMS: Params = match Params::new(19 * 1024, 2, 1, None) {
    Ok(params) => params,
    Err(_) => panic!("invalid argon2 parameters"),
};

/// A password (or any secret text) as `secrecy` holds it: its `Debug` prints `[REDACTED]`, it
/// cannot be serialized, and its bytes are zeroized on drop (copies made before it was wrapped,
/// such as the request body, are out of its reach). Read with `ExposeSecret::expose_secret`.
pub use secrecy::{ExposeSecret, SecretString};

/// Whether `a` and `b` hold the same secret, in time independent of where they differ (only
/// the length may leak).
pub fn same_secret(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret()
        .as_bytes()
        .ct_eq(b.expose_secret().as_bytes())
        .into()
}

/// One rule of the password policy that a password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordRule {
    /// Fewer than 8 or more than 64 characters.
    Length,
    /// No upper-case letter.
    Upper,
    /// No lower-case letter.
    Lower,
    /// No digit 0–9.
    Digit,
    /// No symbol (a character that is neither a letter, a digit, a space nor a control).
    Symbol,
    /// Contains the NIK, a KPJ or the e-mail's local part.
    Personal,
}

impl PasswordRule {
    /// Every rule, in the order `check_policy` reports them (the password page lists them).
    pub const ALL: [PasswordRule; 6] = [
        PasswordRule::Length,
        PasswordRule::Upper,
        PasswordRule::Lower,
        PasswordRule::Digit,
        PasswordRule::Symbol,
        PasswordRule::Personal,
    ];
}

/// The rules `password` breaks, in declaration order; empty means acceptable.
///
/// Length counts characters, not bytes. Upper and lower case follow Unicode (`É` counts as
/// upper case); digits are ASCII 0–9. Spaces are allowed and count toward the length, but are
/// not symbols, so `"Abcdefg 1"` still needs a symbol. The password is checked as typed: it is
/// not trimmed.
///
/// `personal` holds the member's NIK, each KPJ and the e-mail's local part; each is looked for
/// case-insensitively, and entries shorter than 4 characters are ignored. An entry that is a
/// whole e-mail address is looked for by its local part.
pub fn check_policy(password: &str, personal: &[&str]) -> Vec<PasswordRule> {
    let mut broken = Vec::new();
    if !(MIN_LEN..=MAX_LEN).contains(&password.chars().count()) {
        broken.push(PasswordRule::Length);
    }
    if !password.chars().any(char::is_uppercase) {
        broken.push(PasswordRule::Upper);
    }
    if !password.chars().any(char::is_lowercase) {
        broken.push(PasswordRule::Lower);
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        broken.push(PasswordRule::Digit);
    }
    if !password.chars().any(is_symbol) {
        broken.push(PasswordRule::Symbol);
    }
    if contains_personal(password, personal) {
        broken.push(PasswordRule::Personal);
    }
    broken
}

/// Whether `text` could be a new password: it meets the policy's shape rules (length and the
/// character classes; no personal strings are known here). Such a text is never read by the NLU
/// nor kept where the chat might meet a password (SPEC §6): at the password prompts, and while a
/// messaging chat waits for the password page.
pub fn could_be_password(text: &str) -> bool {
    check_policy(text, &[]).is_empty()
}

fn is_symbol(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control()
}

fn contains_personal(password: &str, personal: &[&str]) -> bool {
    let password = password.to_lowercase();
    personal
        .iter()
        .map(|entry| {
            entry
                .rsplit_once('@')
                .map_or(*entry, |(local, _)| local)
                .trim()
        })
        .filter(|entry| entry.chars().count() >= MIN_PERSONAL_LEN)
        .any(|entry| password.contains(&entry.to_lowercase()))
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// argon2 failed: no randomness for the salt, or not enough memory.
    #[error("could not hash the password")]
    Hash(#[source] argon2::password_hash::Error),
}

/// Hashes a password with argon2id (m = 19456 KiB, t = 2, p = 1) and a random 16-byte salt into
/// a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
///
/// Slow by design (tens of milliseconds): call it from `spawn_blocking`.
pub fn hash_password(password: &SecretString) -> Result<String, PasswordError> {
    let hash = argon2id()
        .hash_password(password.expose_secret().as_bytes())
        .map_err(PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`; a malformed `phc` never matches.
///
/// The parameters come from `phc`, so hashes made with older parameters still verify. Slow by
/// design: call it from `spawn_blocking`.
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    argon2id()
        .verify_password(password.expose_secret().as_bytes(), phc)
        .is_ok()
}

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, ARGON2_PARAMS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    const GOOD: &str = "Jmo#Aman2024";

    #[test]
    fn a_good_password_passes() {
        assert_eq!(check_policy(GOOD, &[]), vec![]);
    }

    #[test]
    fn a_short_password_breaks_the_length_rule() {
        assert_eq!(check_policy("Ab1#efg", &[]), vec![PasswordRule::Length]);
        assert_eq!(check_policy("Ab1#efgh", &[]), vec![]);
    }

    #[test]
    fn a_password_over_64_characters_breaks_the_length_rule() {
        let ok = format!("Ab1#{}", "x".repeat(60));
        let long = format!("Ab1#{}", "x".repeat(61));
        assert_eq!(check_policy(&ok, &[]), vec![]);
        assert_eq!(check_policy(&long, &[]), vec![PasswordRule::Length]);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(check_policy("Äb1#éfgh", &[]), vec![]);
        let long = format!("Ab1#{}", "é".repeat(60));
        assert_eq!(check_policy(&long, &[]), vec![]);
    }

    #[test]
    fn a_password_without_upper_case_breaks_the_upper_rule() {
        assert_eq!(check_policy("jmo#aman2024", &[]), vec![PasswordRule::Upper]);
    }

    #[test]
    fn a_password_without_lower_case_breaks_the_lower_rule() {
        assert_eq!(check_policy("JMO#AMAN2024", &[]), vec![PasswordRule::Lower]);
    }

    #[test]
    fn a_password_without_a_digit_breaks_the_digit_rule() {
        assert_eq!(
            check_policy("Jmo#AmanSekali", &[]),
            vec![PasswordRule::Digit]
        );
    }

    #[test]
    fn a_password_without_a_symbol_breaks_the_symbol_rule() {
        assert_eq!(check_policy("JmoAman2024", &[]), vec![PasswordRule::Symbol]);
    }

    #[test]
    fn a_space_is_allowed_but_is_not_a_symbol() {
        assert_eq!(
            check_policy("Jmo Aman 2024", &[]),
            vec![PasswordRule::Symbol]
        );
        assert_eq!(check_policy("Jmo Aman 2024!", &[]), vec![]);
    }

    #[test]
    fn every_broken_rule_is_reported_in_order() {
        assert_eq!(
            check_policy("", &[]),
            vec![
                PasswordRule::Length,
                PasswordRule::Upper,
                PasswordRule::Lower,
                PasswordRule::Digit,
                PasswordRule::Symbol,
            ]
        );
    }

    #[test]
    fn a_password_containing_the_nik_breaks_the_personal_rule() {
        let nik = "3201010101900001";
        let password = format!("Aa#{nik}");
        assert_eq!(
            check_policy(&password, &[nik, "12345678901"]),
            vec![PasswordRule::Personal]
        );
    }

    #[test]
    fn a_password_containing_any_kpj_breaks_the_personal_rule() {
        let personal = ["3201010101900001", "11111111111", "22222222222"];
        assert_eq!(
            check_policy("Aa#22222222222", &personal),
            vec![PasswordRule::Personal]
        );
    }

    #[test]
    fn the_email_local_part_is_found_whatever_its_case() {
        assert_eq!(
            check_policy("BudiSantoso#1", &["budisantoso"]),
            vec![PasswordRule::Personal]
        );
        assert_eq!(
            check_policy("xBUDIsantoso#1", &["BudiSantoso"]),
            vec![PasswordRule::Personal]
        );
    }

    #[test]
    fn a_whole_email_address_is_looked_for_by_its_local_part() {
        assert_eq!(
            check_policy("Budi.Santoso#1", &["budi.santoso@example.com"]),
            vec![PasswordRule::Personal]
        );
    }

    #[test]
    fn personal_strings_shorter_than_four_characters_are_ignored() {
        assert_eq!(
            check_policy("Jmo#Aman2024", &["a", "jmo", "a@x.com"]),
            vec![]
        );
        assert_eq!(
            check_policy("Jmo#Aman2024", &["aman"]),
            vec![PasswordRule::Personal]
        );
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = SecretString::from(GOOD.to_string());
        assert!(!format!("{secret:?}").contains(GOOD));
        assert!(!format!("{:?}", Some(&secret)).contains(GOOD));
    }

    #[test]
    fn secrets_compare_by_content() {
        let a = SecretString::from(GOOD.to_string());
        assert!(same_secret(&a, &SecretString::from(GOOD.to_string())));
        assert!(!same_secret(
            &a,
            &SecretString::from("Jmo#Aman2025".to_string())
        ));
        assert!(!same_secret(&a, &SecretString::from(String::new())));
    }

    /// argon2 at OWASP's parameters is slow in a debug build: hash once for all tests.
    fn good_hash() -> &'static str {
        static HASH: OnceLock<String> = OnceLock::new();
        HASH.get_or_init(|| hash_password(&SecretString::from(GOOD.to_string())).unwrap())
    }

    #[test]
    fn a_hash_is_an_argon2id_phc_string_with_owasp_parameters() {
        assert!(
            good_hash().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            good_hash()
        );
        assert!(!good_hash().contains(GOOD));
    }

    #[test]
    fn the_right_password_verifies_against_its_hash() {
        assert!(verify_password(
            &SecretString::from(GOOD.to_string()),
            good_hash()
        ));
    }

    #[test]
    fn a_wrong_password_does_not_verify() {
        assert!(!verify_password(
            &SecretString::from("Jmo#Aman2025".to_string()),
            good_hash()
        ));
    }

    #[test]
    fn a_malformed_hash_never_verifies() {
        let secret = SecretString::from(GOOD.to_string());
        assert!(!verify_password(&secret, ""));
        assert!(!verify_password(&secret, "$argon2id$v=19$garbage"));
        assert!(!verify_password(&secret, GOOD));
    }
}
