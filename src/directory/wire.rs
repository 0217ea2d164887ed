//! The directory's JSON (docs/directory.openapi.yaml) and its checks: an answer that breaks the
//! contract becomes an error naming the call and the rule it broke, never the values in it
//! (they are personal data).

use serde::{Deserialize, Serialize};

use crate::identity::{Email, Kpj, Nik, Phone};
use crate::members::{Card, FoundMember, MemberId};

/// The longest member id accepted: ids go into URLs and logs (masked).
const MAX_ID_LEN: usize = 128;
/// The longest name, login or employer accepted.
const MAX_TEXT_LEN: usize = 256;
/// The most cards one member may hold in an answer.
const MAX_CARDS: usize = 64;

/// `POST /members/lookup` by KPJ + NIK or e-mail + KPJ.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LookupRequest<'a> {
    ByKpjNik { kpj: &'a str, nik: &'a str },
    ByEmailKpj { email: &'a str, kpj: &'a str },
}

/// `PUT /members/{id}/password`.
#[derive(Serialize)]
pub struct PasswordRequest<'a> {
    pub password_phc: &'a str,
}

/// A lookup's `200` body.
#[derive(Deserialize)]
struct FoundBody {
    id: String,
    name: String,
    login: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// One card of a `GET /members/{id}/cards` body.
#[derive(Deserialize)]
struct CardBody {
    kpj: String,
    employer: String,
    current: bool,
    balance: u64,
    as_of: String,
}

/// A broken rule of the contract: what it says, without any value from the answer.
pub type Broken = String;

/// The member in a lookup's `200` body.
pub fn found_member(body: &[u8]) -> Result<FoundMember, Broken> {
    let body: FoundBody = serde_json::from_slice(body)
        .map_err(|e| format!("not the member object ({:?})", e.classify()))?;
    check_text("id", &body.id, MAX_ID_LEN)?;
    if body.id.chars().any(char::is_control) {
        return Err("`id` holds control characters".into());
    }
    check_text("name", &body.name, MAX_TEXT_LEN)?;
    check_text("login", &body.login, MAX_TEXT_LEN)?;
    let email = body
        .email
        .map(|e| Email::parse(&e).map_err(|_| "`email` is not an e-mail address".to_string()))
        .transpose()?;
    let phone = body
        .phone
        .map(|p| Phone::parse(&p).map_err(|_| "`phone` is not a phone number".to_string()))
        .transpose()?;
    if email.is_none() && phone.is_none() {
        return Err("neither `email` nor `phone`: no code could reach the member".into());
    }
    Ok(FoundMember {
        id: MemberId::from_stored(body.id),
        name: body.name,
        login: body.login,
        nik: None,
        email,
        phone,
    })
}

/// The cards of a `GET /members/{id}/cards` body.
pub fn cards(body: &[u8]) -> Result<Vec<Card>, Broken> {
    let cards: Vec<CardBody> = serde_json::from_slice(body)
        .map_err(|e| format!("not an array of cards ({:?})", e.classify()))?;
    if cards.len() > MAX_CARDS {
        return Err(format!("more than {MAX_CARDS} cards"));
    }
    cards
        .into_iter()
        .enumerate()
        .map(|(i, card)| {
            let kpj = Kpj::parse(&card.kpj).map_err(|_| format!("card {i}: `kpj` is not a KPJ"))?;
            check_text("employer", &card.employer, MAX_TEXT_LEN)
                .map_err(|e| format!("card {i}: {e}"))?;
            if !is_iso_date(&card.as_of) {
                return Err(format!("card {i}: `as_of` is not a YYYY-MM-DD date"));
            }
            Ok(Card {
                kpj,
                balance_rupiah: card.balance,
                as_of: card.as_of,
                employer: card.employer,
                current: card.current,
            })
        })
        .collect()
}

/// The lookup body for the member typing `kpj` and `nik`.
pub fn by_kpj_nik<'a>(kpj: &'a Kpj, nik: &'a Nik) -> LookupRequest<'a> {
    LookupRequest::ByKpjNik {
        kpj: kpj.as_str(),
        nik: nik.as_str(),
    }
}

/// The lookup body for the member typing `email` and `kpj`.
pub fn by_email_kpj<'a>(email: &'a Email, kpj: &'a Kpj) -> LookupRequest<'a> {
    LookupRequest::ByEmailKpj {
        email: email.as_str(),
        kpj: kpj.as_str(),
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), Broken> {
    if value.trim().is_empty() {
        Err(format!("`{field}` is empty"))
    } else if value.chars().count() > max {
        Err(format!("`{field}` is longer than {max} characters"))
    } else {
        Ok(())
    }
}

/// `YYYY-MM-DD` with a month 1–12 and a day 1–31 (the dialog formats it as a long date).
fn is_iso_date(date: &str) -> bool {
    let parts: Vec<&str> = date.split('-').collect();
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok())?
    };
    matches!(
        parts.as_slice(),
        [y, m, d] if number(y, 4).is_some()
            && number(m, 2).is_some_and(|m| (1..=12).contains(&m))
            && number(d, 2).is_some_and(|d| (1..=31).contains(&d))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_answer_becomes_a_member() {
        let member = found_member(
            br#"{"id":"m-1","name":"Budi Santoso","login":"budi.santoso@example.com",
                "email":"Budi.Santoso@example.com","phone":"0812-3456-7890","extra":true}"#,
        )
        .expect("valid");
        assert_eq!(member.id.as_str(), "m-1");
        assert_eq!(member.email.unwrap().as_str(), "budi.santoso@example.com");
        assert_eq!(member.phone.unwrap().as_str(), "081234567890");
        assert!(member.nik.is_none());
    }

    #[test]
    fn broken_answers_name_the_rule_and_never_the_value() {
        for (body, rule) in [
            (
                &br#"{"id":5,"name":"x","login":"y","email":"a@b.co"}"#[..],
                "not the member object",
            ),
            (
                br#"{"id":"m","login":"y","email":"a@b.co"}"#,
                "not the member object",
            ),
            (
                br#"{"id":"m","name":"x","login":"y","email":"budi.secret"}"#,
                "`email`",
            ),
            (
                br#"{"id":"m","name":" ","login":"y","phone":"081234567890"}"#,
                "`name` is empty",
            ),
            (br#"{"id":"m","name":"x","login":"y"}"#, "neither"),
            (br"[1,2]", "not the member object"),
        ] {
            let error = found_member(body).unwrap_err();
            assert!(error.contains(rule), "{error}");
            assert!(!error.contains("budi.secret"), "{error}");
        }
    }

    #[test]
    fn cards_are_checked_one_by_one() {
        let good = br#"[{"kpj":"12345678901","employer":"PT Sinar Jaya","current":true,
            "balance":25750000,"as_of":"2026-10-31"}]"#;
        let cards = cards(good).expect("valid");
        assert_eq!(cards[0].balance_rupiah, 25_750_000);
        let error = super::cards(
            br#"[{"kpj":"123","employer":"PT","current":true,"balance":1,"as_of":"2026-10-31"}]"#,
        )
        .unwrap_err();
        assert_eq!(error, "card 0: `kpj` is not a KPJ");
        let error = super::cards(
            br#"[{"kpj":"12345678901","employer":"PT","current":true,"balance":-1,"as_of":"2026-10-31"}]"#,
        )
        .unwrap_err();
        assert!(error.starts_with("not an array of cards"), "{error}");
        assert!(!is_iso_date("2026-13-01") && !is_iso_date("26-1-1") && is_iso_date("2026-01-31"));
    }
}
