//! Finds member identifiers (NIK, KPJ, e-mail, mobile number, one-time code) in chat text.
//!
//! One hand-written pass, no regex. The rules, in the order they apply:
//! - Each character is NFKC-normalized on its own and invisible format characters (zero-width
//!   spaces and joiners, bidi marks, soft hyphens, BOM) are dropped, so `３１７４` and
//!   `3174\u{200B}0112` read as plain digits. Offsets are still characters of the original text.
//! - E-mail: the run of address characters around each `@`, minus sentence punctuation at its
//!   ends (`budi@example.com.`). Valid → lower-cased; otherwise reported as `Malformed` as typed.
//!   A lone `@` or a handle like `@budi` is not an address attempt. E-mails are found by their
//!   `@` only: an e-mail label before a number does not make the number an e-mail.
//! - Numbers: digit runs joined by one space, `-` or `.` form a chain. A run is never split;
//!   a run glued to a following letter (`35tahun`, `100rb`) or to a preceding word that is not a
//!   label (`RT05`) is part of that word. `+` right before the chain makes it a phone number
//!   (`(+62) 812…` included).
//! - A label just before the chain (`nik`, `no. kpj`, `hp saya`, `kodenya`, … with optional
//!   `:`, `=`, `-`, `adalah`, `saya`) decides the kind of its first value; after `Rp`/`IDR` the
//!   chain is an amount and yields nothing.
//! - A chain is cut left to right. From each run, the longest span of at most 16 digits that is
//!   a valid value is taken, unless it splits at a space into two valid values, which are then
//!   kept apart (`123456 0812345678` is a code and a phone, `123456-0812345678` one NIK).
//!   Without a label the shape decides: `08…` with 10–13 digits or `628…` with 11–14 → phone,
//!   16 → NIK, 11 → KPJ, 6 → code (only as `123456`, `123 456` or `123-456`, so amounts like
//!   `100.000` and dates like `12-03-88` are not codes).
//! - When nothing valid starts at a run: a labelled chain of at least 4 digits (up to 16, or one
//!   longer run whole) is reported with its problem; so is `+…` with at least 8 digits (as a
//!   phone) and, unlabelled, the first 16 digits (as a NIK). Otherwise the run is skipped.
//!   So a long digit string (100 digits) is nothing unless labelled, then `WrongLength`.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::normalize::MAX_NORMALIZED_CHARS;
use crate::identity::{Email, IdentityError, Kpj, Nik, OtpCode, Phone, mask};

/// What an extracted value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// National ID number (16 digits).
    Nik,
    /// BPJS Ketenagakerjaan membership card number (11 digits).
    Kpj,
    /// E-mail address.
    Email,
    /// Indonesian mobile number.
    Phone,
    /// One-time code (6 digits).
    Otp,
}

/// Why a value recognized as an entity is not a valid one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Too few or too many digits for its kind.
    WrongLength,
    /// A NIK whose first two digits are not a province code.
    BadProvince,
    /// A NIK whose digits 7–12 are not a birth date.
    BadBirthDate,
    /// Any other shape error: an address that is not one, a number that is not an Indonesian
    /// mobile number, a NIK with serial 0000.
    Malformed,
}

impl From<&IdentityError> for Problem {
    fn from(error: &IdentityError) -> Self {
        match error {
            IdentityError::WrongLength { .. } => Problem::WrongLength,
            IdentityError::BadProvince => Problem::BadProvince,
            IdentityError::BadBirthDate => Problem::BadBirthDate,
            IdentityError::NotDigits | IdentityError::BadSerial | IdentityError::Malformed => {
                Problem::Malformed
            }
        }
    }
}

/// What a found value is: the identifier already parsed into its type, or, when it is not a
/// valid one, the text as typed and why. Code that reads entities never parses them again.
#[derive(Clone, PartialEq, Eq)]
pub enum EntityValue {
    Nik(Nik),
    Kpj(Kpj),
    Email(Email),
    Phone(Phone),
    Otp(OtpCode),
    /// Recognized as a `kind` but not a valid one.
    Invalid {
        kind: EntityKind,
        typed: String,
        problem: Problem,
    },
}

impl EntityValue {
    /// Parses `typed` as `kind`: the identifier, or the typed text with its problem.
    fn read(kind: EntityKind, typed: String) -> EntityValue {
        let parsed = match kind {
            EntityKind::Nik => Nik::parse(&typed).map(EntityValue::Nik),
            EntityKind::Kpj => Kpj::parse(&typed).map(EntityValue::Kpj),
            EntityKind::Email => Email::parse(&typed).map(EntityValue::Email),
            EntityKind::Phone => Phone::parse(&typed).map(EntityValue::Phone),
            EntityKind::Otp => OtpCode::parse(&typed).map(EntityValue::Otp),
        };
        parsed.unwrap_or_else(|error| EntityValue::Invalid {
            kind,
            typed,
            problem: Problem::from(&error),
        })
    }

    pub fn kind(&self) -> EntityKind {
        match self {
            EntityValue::Nik(_) => EntityKind::Nik,
            EntityValue::Kpj(_) => EntityKind::Kpj,
            EntityValue::Email(_) => EntityKind::Email,
            EntityValue::Phone(_) => EntityKind::Phone,
            EntityValue::Otp(_) => EntityKind::Otp,
            EntityValue::Invalid { kind, .. } => *kind,
        }
    }

    pub fn is_valid(&self) -> bool {
        !matches!(self, EntityValue::Invalid { .. })
    }

    /// The normalized value when valid; the digits (or the address) as typed when not.
    pub fn as_str(&self) -> &str {
        match self {
            EntityValue::Nik(nik) => nik.as_str(),
            EntityValue::Kpj(kpj) => kpj.as_str(),
            EntityValue::Email(email) => email.as_str(),
            EntityValue::Phone(phone) => phone.as_str(),
            EntityValue::Otp(code) => code.as_str(),
            EntityValue::Invalid { typed, .. } => typed,
        }
    }

    /// The value as the bot shows it (SPEC §6), by the rules of `identity::mask`: valid or
    /// not, a value of this kind is personal data.
    pub fn masked(&self) -> String {
        let text = self.as_str();
        match self.kind() {
            EntityKind::Nik | EntityKind::Kpj => mask::mask_number(text),
            EntityKind::Email => mask::mask_email(text),
            EntityKind::Phone => mask::mask_phone(text),
            EntityKind::Otp => mask::mask_code(text),
        }
    }

    pub fn nik(&self) -> Option<&Nik> {
        if let EntityValue::Nik(nik) = self {
            Some(nik)
        } else {
            None
        }
    }

    pub fn kpj(&self) -> Option<&Kpj> {
        if let EntityValue::Kpj(kpj) = self {
            Some(kpj)
        } else {
            None
        }
    }

    pub fn email(&self) -> Option<&Email> {
        if let EntityValue::Email(email) = self {
            Some(email)
        } else {
            None
        }
    }

    pub fn phone(&self) -> Option<&Phone> {
        if let EntityValue::Phone(phone) = self {
            Some(phone)
        } else {
            None
        }
    }

    pub fn otp(&self) -> Option<&OtpCode> {
        if let EntityValue::Otp(code) = self {
            Some(code)
        } else {
            None
        }
    }
}

impl fmt::Debug for EntityValue {
    /// Masked, like the identifiers' own `Debug`: the value is personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}({})", self.kind(), self.masked())
    }
}

/// A value found in a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Entity {
    pub value: EntityValue,
    /// Where the value starts, in characters (not bytes) of the original text.
    pub start: usize,
    /// Where the value ends (exclusive), in characters of the original text.
    pub end: usize,
}

impl Entity {
    pub fn kind(&self) -> EntityKind {
        self.value.kind()
    }

    /// Set when the value was recognized but is not valid.
    pub fn problem(&self) -> Option<Problem> {
        match &self.value {
            EntityValue::Invalid { problem, .. } => Some(*problem),
            _ => None,
        }
    }

    pub fn is_valid(&self) -> bool {
        self.value.is_valid()
    }

    /// The value as the bot shows it (SPEC §6).
    pub fn masked(&self) -> String {
        self.value.masked()
    }
}

/// The SPEC §8 entity object (the names Rasa uses too).
#[derive(Serialize)]
struct EntityJson<'a> {
    entity: EntityKind,
    value: &'a str,
    start: usize,
    end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<Problem>,
}

impl Serialize for Entity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        EntityJson {
            entity: self.kind(),
            value: self.value.as_str(),
            start: self.start,
            end: self.end,
            problem: self.problem(),
        }
        .serialize(serializer)
    }
}

impl fmt::Debug for Entity {
    /// Entities travel inside NLU results that get debug-printed; the value is personal data,
    /// so only a masked form is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entity")
            .field("kind", &self.kind())
            .field("value", &self.masked())
            .field("start", &self.start)
            .field("end", &self.end)
            .field("problem", &self.problem())
            .finish()
    }
}

/// All entities in `text`, sorted by `start` and never overlapping. Never panics.
pub fn extract(text: &str) -> Vec<Entity> {
    let chars = normalize(text);
    let mut found = Vec::new();
    let emails = find_emails(&chars, &mut found);
    find_numbers(&chars, &emails, &mut found);
    found.sort_by_key(|entity| entity.start);
    found
}

/// Longest value in digits (a NIK); a span is never grown past it.
const MAX_DIGITS: usize = 16;
/// A labelled number shorter than this is a count, not a mistyped value ("kartu 2", "kode 1").
const MIN_LABELLED_DIGITS: usize = 4;
/// `+` before fewer digits is arithmetic or a reaction ("+1"), not a foreign phone number.
const MIN_PLUS_DIGITS: usize = 8;
/// Filler words allowed between a label and its value ("nik saya adalah …").
const MAX_FILLERS: usize = 3;
/// Longest word read when looking for a label; longer words are never labels.
const MAX_WORD: usize = 16;

/// One character of the normalized text and the index of the original character it came from.
#[derive(Clone, Copy)]
struct Ch {
    c: char,
    at: usize,
}

fn normalize(text: &str) -> Vec<Ch> {
    let mut chars = Vec::with_capacity(text.len().min(MAX_NORMALIZED_CHARS));
    for (at, c) in text.chars().enumerate() {
        if chars.len() >= MAX_NORMALIZED_CHARS {
            chars.truncate(MAX_NORMALIZED_CHARS);
            break;
        }
        if c.is_ascii() {
            chars.push(Ch { c, at });
        } else if !is_invisible(c) {
            chars.extend(
                std::iter::once(c)
                    .nfkc()
                    .filter(|&n| !is_invisible(n))
                    .map(|n| Ch { c: n, at }),
            );
        }
    }
    chars
}

/// Format characters that render as nothing but end up inside pasted or typed numbers.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Characters an address attempt is made of. `@` is included so that `a@b@c` stays one
/// malformed attempt instead of two overlapping ones.
fn is_address_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '@')
}

/// Reports every address attempt and returns their spans (normalized indices) in order.
fn find_emails(chars: &[Ch], out: &mut Vec<Entity>) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        if chars[at].c != '@' {
            at += 1;
            continue;
        }
        let mut start = at;
        while start > 0 && is_address_char(chars[start - 1].c) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < chars.len() && is_address_char(chars[end].c) {
            end += 1;
        }
        while start < at && chars[start].c == '.' {
            start += 1;
        }
        while end > at + 1 && matches!(chars[end - 1].c, '.' | '-' | '_' | '%' | '+') {
            end -= 1;
        }
        if start < at {
            let typed: String = chars[start..end].iter().map(|ch| ch.c).collect();
            out.push(Entity {
                value: EntityValue::read(EntityKind::Email, typed),
                start: chars[start].at,
                end: chars[end - 1].at + 1,
            });
            spans.push((start, end));
        }
        at = end;
    }
    spans
}

/// A run of ASCII digits, as normalized indices (end exclusive).
#[derive(Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
}

impl Run {
    fn len(self) -> usize {
        self.end - self.start
    }
}

/// Reads every chain of digits outside the e-mail spans.
fn find_numbers(chars: &[Ch], emails: &[(usize, usize)], out: &mut Vec<Entity>) {
    let mut runs = Vec::new();
    let mut emails = emails.iter().peekable();
    let mut i = 0;
    while i < chars.len() {
        let limit = match emails.peek() {
            Some(&&(start, end)) if i >= start => {
                i = end;
                emails.next();
                continue;
            }
            Some(&&(start, _)) => start,
            None => chars.len(),
        };
        if !chars[i].c.is_ascii_digit() {
            i += 1;
            continue;
        }
        i = collect_chain(chars, i, limit, &mut runs);
        if !runs.is_empty() {
            Chain { chars, runs: &runs }.read(out);
        }
    }
}

/// Collects the digit runs joined by single separators from `first` (a digit) up to `limit`,
/// and returns where scanning resumes.
fn collect_chain(chars: &[Ch], first: usize, limit: usize, runs: &mut Vec<Run>) -> usize {
    runs.clear();
    let mut p = first;
    loop {
        let start = p;
        while p < limit && chars[p].c.is_ascii_digit() {
            p += 1;
        }
        // A run glued to a following letter is part of a word ("35tahun", "100rb", "2x").
        if p < limit && chars[p].c.is_alphanumeric() {
            return p;
        }
        runs.push(Run { start, end: p });
        let gap = if p + 1 < limit && matches!(chars[p].c, ' ' | '-' | '.') {
            1
        } else if is_country_code(chars, start, p) {
            // "(+62) 812…": the parenthesis closes the country code, not the number.
            if p + 2 < limit && chars[p + 1].c == ' ' {
                2
            } else {
                1
            }
        } else {
            0
        };
        if gap == 0 || p + gap >= limit || !chars[p + gap].c.is_ascii_digit() {
            return p;
        }
        p += gap;
    }
}

/// Whether the run `start..end` is `+62` followed by `)`.
fn is_country_code(chars: &[Ch], start: usize, end: usize) -> bool {
    end - start == 2
        && start > 0
        && chars[start - 1].c == '+'
        && chars[start].c == '6'
        && chars[start + 1].c == '2'
        && chars.get(end).is_some_and(|ch| ch.c == ')')
}

/// The digit runs of one chain, read left to right into values.
struct Chain<'a> {
    chars: &'a [Ch],
    runs: &'a [Run],
}

impl Chain<'_> {
    fn read(&self, out: &mut Vec<Entity>) {
        let Some(first) = self.runs.first() else {
            return;
        };
        let mut plus = first.start > 0 && self.chars[first.start - 1].c == '+';
        let lead = if plus { first.start - 1 } else { first.start };
        let label = label_before(self.chars, lead);
        let mut kind = match label {
            Some(Label::Amount) => return,
            Some(Label::Of(EntityKind::Email)) | None => None,
            Some(Label::Of(kind)) => Some(kind),
        };
        let mut i = 0;
        // Digits glued to an ordinary word ("RT05", "abc123") belong to it, not to the chain.
        if label.is_none() && lead > 0 && self.chars[lead - 1].c.is_alphanumeric() {
            i = 1;
            plus = false;
        }
        if kind.is_some_and(|kind| kind != EntityKind::Phone) {
            plus = false;
        }
        while i < self.runs.len() {
            i = self.read_from(i, kind, plus, out);
            kind = None;
            plus = false;
        }
    }

    /// Reads at most one value starting at run `i` and returns the run to continue from.
    fn read_from(
        &self,
        i: usize,
        kind: Option<EntityKind>,
        plus: bool,
        out: &mut Vec<Entity>,
    ) -> usize {
        let reach = self.reach(i);
        let longest_valid = reach.and_then(|last| {
            (i..=last).rev().find(|&j| {
                self.reading(i, j, kind, plus)
                    .is_some_and(|value| value.is_valid())
            })
        });
        if let Some(mut j) = longest_valid {
            // Two values typed side by side ("123456 0812345678") stay two values rather than
            // being glued into a longer one that happens to be valid too.
            let valid = |from, to, kind, plus| {
                self.reading(from, to, kind, plus)
                    .is_some_and(|value| value.is_valid())
            };
            if let Some(k) = (i..j).find(|&k| {
                self.separator_after(k) == Some(' ')
                    && valid(i, k, kind, plus)
                    && valid(k + 1, j, None, false)
            }) {
                j = k;
            }
            self.emit(i, j, plus, kind, out);
            return j + 1;
        }
        // Nothing valid starts here. A label or a `+` shows the member meant a value, so it is
        // reported with its problem (a long run whole, so the problem says "too long").
        let last = reach.unwrap_or(i);
        let digits = self.digit_count(i, last);
        let attempted = match kind {
            Some(_) => digits >= MIN_LABELLED_DIGITS,
            None if plus => digits >= MIN_PLUS_DIGITS,
            None => false,
        };
        if attempted {
            self.emit(i, last, plus, kind, out);
            return last + 1;
        }
        // Sixteen digits in a row are a NIK attempt even without a label (SPEC §3).
        if kind.is_none()
            && !plus
            && let Some(j) =
                reach.and_then(|last| (i..=last).find(|&j| self.digit_count(i, j) == MAX_DIGITS))
        {
            self.emit(i, j, false, None, out);
            return j + 1;
        }
        i + 1
    }

    /// The last run a span starting at `i` may reach without exceeding `MAX_DIGITS`; `None`
    /// when run `i` alone is longer.
    fn reach(&self, i: usize) -> Option<usize> {
        let mut total = 0;
        let mut last = None;
        for (j, run) in self.runs.iter().enumerate().skip(i) {
            total += run.len();
            if total > MAX_DIGITS {
                break;
            }
            last = Some(j);
        }
        last
    }

    fn digit_count(&self, i: usize, j: usize) -> usize {
        self.runs[i..=j].iter().map(|run| run.len()).sum()
    }

    fn digits(&self, i: usize, j: usize) -> impl Iterator<Item = char> + '_ {
        self.runs[i..=j]
            .iter()
            .flat_map(|run| self.chars[run.start..run.end].iter().map(|ch| ch.c))
    }

    fn separator_after(&self, k: usize) -> Option<char> {
        self.chars.get(self.runs[k].end).map(|ch| ch.c)
    }

    /// What runs `i..=j` are, if anything: as `kind` when labelled, else by their shape.
    fn reading(
        &self,
        i: usize,
        j: usize,
        kind: Option<EntityKind>,
        plus: bool,
    ) -> Option<EntityValue> {
        let count = self.digit_count(i, j);
        let kind = match kind {
            Some(kind) => kind,
            None if plus => EntityKind::Phone,
            None => {
                let mut head = [' '; 3];
                for (slot, c) in head.iter_mut().zip(self.digits(i, j)) {
                    *slot = c;
                }
                let national = head[..2] == ['0', '8'] && (10..=13).contains(&count);
                let international = head == ['6', '2', '8'] && (11..=14).contains(&count);
                match count {
                    _ if national || international => EntityKind::Phone,
                    16 => EntityKind::Nik,
                    11 => EntityKind::Kpj,
                    6 if self.written_like_a_code(i, j) => EntityKind::Otp,
                    _ => return None,
                }
            }
        };
        let mut typed = String::with_capacity(count + 1);
        if plus {
            typed.push('+');
        }
        typed.extend(self.digits(i, j));
        Some(EntityValue::read(kind, typed))
    }

    /// Codes are typed whole or as two halves; other groupings of six digits are amounts
    /// (`100.000`) or dates (`12-03-88`).
    fn written_like_a_code(&self, i: usize, j: usize) -> bool {
        j == i
            || (j == i + 1
                && self.runs[i].len() == 3
                && self.runs[j].len() == 3
                && matches!(self.separator_after(i), Some(' ' | '-')))
    }

    fn emit(
        &self,
        i: usize,
        j: usize,
        plus: bool,
        kind: Option<EntityKind>,
        out: &mut Vec<Entity>,
    ) {
        let Some(value) = self.reading(i, j, kind, plus) else {
            return;
        };
        let lead = if plus {
            self.runs[i].start - 1
        } else {
            self.runs[i].start
        };
        out.push(Entity {
            value,
            start: self.chars[lead].at,
            end: self.chars[self.runs[j].end - 1].at + 1,
        });
    }
}

/// What a label before a number says about it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Of(EntityKind),
    /// `Rp`, `IDR`: the number is an amount of money.
    Amount,
}

/// The label ending just before `end`, skipping label punctuation and filler words.
fn label_before(chars: &[Ch], end: usize) -> Option<Label> {
    let mut end = end;
    for _ in 0..=MAX_FILLERS {
        let word = word_before(chars, end)?;
        let text = word.as_str();
        if matches!(text, "adalah" | "saya" | "aku" | "yaitu" | "nya") {
            end = word.start;
            continue;
        }
        let previous = || word_before(chars, word.start);
        let previous_is =
            |options: &[&str]| previous().is_some_and(|p| options.contains(&p.as_str()));
        let stem = text.strip_suffix("nya").unwrap_or(text);
        return match stem {
            "nik" | "ktp" | "kependudukan" => Some(Label::Of(EntityKind::Nik)),
            "kpj" | "kartu" => Some(Label::Of(EntityKind::Kpj)),
            "peserta" if previous_is(&["no", "nomor", "nomer"]) => Some(Label::Of(EntityKind::Kpj)),
            "hp" | "hape" | "handphone" | "telp" | "telpon" | "telepon" | "wa" | "whatsapp" => {
                Some(Label::Of(EntityKind::Phone))
            }
            "otp" | "kode" => Some(Label::Of(EntityKind::Otp)),
            "verifikasi" if previous_is(&["kode"]) => Some(Label::Of(EntityKind::Otp)),
            "email" | "surel" => Some(Label::Of(EntityKind::Email)),
            "mail" if previous_is(&["e"]) => Some(Label::Of(EntityKind::Email)),
            "rp" | "idr" => Some(Label::Amount),
            _ => None,
        };
    }
    None
}

/// A lower-cased ASCII word read backwards from a number.
struct Word {
    start: usize,
    text: [u8; MAX_WORD],
    len: usize,
}

impl Word {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

/// The ASCII word ending at `end` once label punctuation is skipped; `None` if there is none or
/// it is part of a longer token (digits, non-ASCII letters, over `MAX_WORD` letters).
fn word_before(chars: &[Ch], end: usize) -> Option<Word> {
    let mut p = end;
    while p > 0
        && matches!(
            chars[p - 1].c,
            ' ' | '\t' | '\n' | '\r' | ':' | '=' | '-' | '.'
        )
    {
        p -= 1;
    }
    let word_end = p;
    while p > 0 && chars[p - 1].c.is_ascii_alphabetic() {
        p -= 1;
        if word_end - p > MAX_WORD {
            return None;
        }
    }
    if p == word_end || (p > 0 && chars[p - 1].c.is_alphanumeric()) {
        return None;
    }
    let mut text = [0; MAX_WORD];
    for (slot, ch) in text.iter_mut().zip(&chars[p..word_end]) {
        *slot = ch.c.to_ascii_lowercase() as u8;
    }
    Some(Word {
        start: p,
        text,
        len: word_end - p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(kind: EntityKind, value: &str, start: usize, end: usize) -> Entity {
        let value = EntityValue::read(kind, value.to_owned());
        assert!(value.is_valid(), "{value:?} is not a valid {kind:?}");
        Entity { value, start, end }
    }

    fn invalid(
        kind: EntityKind,
        value: &str,
        start: usize,
        end: usize,
        problem: Problem,
    ) -> Entity {
        Entity {
            value: EntityValue::Invalid {
                kind,
                typed: value.to_owned(),
                problem,
            },
            start,
            end,
        }
    }

    /// (kind, value, problem) of each entity, for tests that do not care about offsets.
    fn found(text: &str) -> Vec<(EntityKind, String, Option<Problem>)> {
        extract(text)
            .into_iter()
            .map(|e| (e.kind(), e.value.as_str().to_owned(), e.problem()))
            .collect()
    }

    fn one(kind: EntityKind, value: &str) -> Vec<(EntityKind, String, Option<Problem>)> {
        vec![(kind, value.to_owned(), None)]
    }

    fn one_invalid(
        kind: EntityKind,
        value: &str,
        problem: Problem,
    ) -> Vec<(EntityKind, String, Option<Problem>)> {
        vec![(kind, value.to_owned(), Some(problem))]
    }

    use EntityKind::{Email as E, Kpj as K, Nik as N, Otp as O, Phone as P};

    #[test]
    fn a_bare_number_is_classified_by_its_shape() {
        assert_eq!(
            extract("3174011203880001"),
            vec![entity(N, "3174011203880001", 0, 16)]
        );
        assert_eq!(
            extract("12345678901"),
            vec![entity(K, "12345678901", 0, 11)]
        );
        assert_eq!(
            extract("081234567890"),
            vec![entity(P, "081234567890", 0, 12)]
        );
        assert_eq!(extract("123456"), vec![entity(O, "123456", 0, 6)]);
    }

    #[test]
    fn digit_groups_joined_by_one_separator_are_one_number() {
        assert_eq!(found("nik 3174 0112 0388 0001"), one(N, "3174011203880001"));
        assert_eq!(found("3174-0112-0388-0001"), one(N, "3174011203880001"));
        assert_eq!(found("3174.0112.0388.0001"), one(N, "3174011203880001"));
        assert_eq!(found("317401 120388 0001"), one(N, "3174011203880001"));
        assert_eq!(found("0812-3456-7890"), one(P, "081234567890"));
        assert_eq!(found("1234 5678 901"), one(K, "12345678901"));
        assert_eq!(found("123 456"), one(O, "123456"));
        assert_eq!(found("123-456"), one(O, "123456"));
        assert_eq!(
            extract("kode: 123 456 ya"),
            vec![entity(O, "123456", 6, 13)]
        );
    }

    #[test]
    fn two_spaces_a_comma_or_a_line_break_end_a_number() {
        assert_eq!(found("123  456"), vec![]);
        assert_eq!(found("123, 456"), vec![]);
        assert_eq!(
            found("12345678901\n3174011203880001"),
            vec![
                (K, "12345678901".into(), None),
                (N, "3174011203880001".into(), None)
            ]
        );
    }

    #[test]
    fn mobile_numbers_are_normalized_to_their_national_form() {
        for text in [
            "081234567890",
            "+62 812 3456 7890",
            "+6281234567890",
            "62 812-3456-7890",
            "6281234567890",
        ] {
            assert_eq!(found(text), one(P, "081234567890"), "{text}");
        }
        assert_eq!(
            extract("wa +62 812 3456 7890"),
            vec![entity(P, "081234567890", 3, 20)]
        );
        assert_eq!(
            found("08123456789"),
            one(P, "08123456789"),
            "11 digits from 08 is a phone, not a kpj"
        );
        assert_eq!(found("0812345678"), one(P, "0812345678"));
        assert_eq!(found("0812345678901"), one(P, "0812345678901"));
        assert_eq!(
            extract("(+62) 812-3456-7890"),
            vec![entity(P, "081234567890", 1, 19)]
        );
        assert_eq!(found("(+62)81234567890"), one(P, "081234567890"));
    }

    #[test]
    fn a_plus_before_a_number_that_is_not_an_indonesian_mobile_is_a_malformed_phone() {
        assert_eq!(
            extract("+62 0812 3456 7890"),
            vec![invalid(P, "+62081234567890", 0, 18, Problem::Malformed)]
        );
        assert_eq!(
            found("+1 555 123 4567"),
            one_invalid(P, "+15551234567", Problem::Malformed)
        );
        assert_eq!(found("ada +1 lagi"), vec![]);
    }

    #[test]
    fn a_labelled_value_is_that_entity_even_when_invalid() {
        assert_eq!(
            extract("nik 12345"),
            vec![invalid(N, "12345", 4, 9, Problem::WrongLength)]
        );
        assert_eq!(
            found("nik 9974011203880001"),
            one_invalid(N, "9974011203880001", Problem::BadProvince)
        );
        assert_eq!(
            found("NIK: 3174013102880001"),
            one_invalid(N, "3174013102880001", Problem::BadBirthDate)
        );
        assert_eq!(
            found("kpj 1234"),
            one_invalid(K, "1234", Problem::WrongLength)
        );
        assert_eq!(found("kpj 08123456789"), one(K, "08123456789"));
        assert_eq!(
            found("no hp 1234 5678"),
            one_invalid(P, "12345678", Problem::Malformed)
        );
        assert_eq!(
            found("kode otp 12345"),
            one_invalid(O, "12345", Problem::WrongLength)
        );
        assert_eq!(
            found("nik 6281234567890"),
            one_invalid(N, "6281234567890", Problem::WrongLength)
        );
    }

    #[test]
    fn every_label_form_is_recognized() {
        let nik = "3174011203880001";
        for label in [
            "nik",
            "NIK:",
            "no nik",
            "no. nik",
            "nomor nik",
            "ktp",
            "No KTP =",
            "nomor induk kependudukan",
            "nik saya adalah",
            "niknya",
            "nik-",
        ] {
            assert_eq!(found(&format!("{label} {nik}")), one(N, nik), "{label}");
        }
        let nine = "08123456789";
        for label in [
            "kpj",
            "no kpj",
            "nomor kpj",
            "no kartu",
            "nomor kartu",
            "kartu",
            "no peserta",
            "nomor peserta",
            "kpj saya",
        ] {
            assert_eq!(found(&format!("{label} {nine}")), one(K, nine), "{label}");
        }
        for label in [
            "otp",
            "kode",
            "kode otp",
            "kode verifikasi",
            "kodenya",
            "kode saya",
        ] {
            assert_eq!(
                found(&format!("{label} 12 34 56")),
                one(O, "123456"),
                "{label}"
            );
        }
        for label in [
            "hp", "no hp", "nomor hp", "no hape", "telp", "telepon", "wa", "no wa", "whatsapp",
        ] {
            assert_eq!(
                found(&format!("{label} 1234567890")),
                one_invalid(P, "1234567890", Problem::Malformed),
                "{label}"
            );
        }
        assert_eq!(
            found("kpj12345678901"),
            one(K, "12345678901"),
            "a label may touch its value"
        );
        assert_eq!(
            found("peserta 1234"),
            vec![],
            "peserta needs no/nomor before it"
        );
    }

    #[test]
    fn an_email_label_before_a_number_leaves_it_to_its_shape() {
        assert_eq!(found("email saya 081355556666"), one(P, "081355556666"));
    }

    #[test]
    fn short_numbers_after_a_label_are_counts_not_values() {
        assert_eq!(found("saya punya kartu 2"), vec![]);
        assert_eq!(found("kode 123"), vec![]);
    }

    #[test]
    fn numbers_that_are_not_identifiers_are_ignored() {
        for text in [
            "umur saya 35 tahun",
            "tahun 2024",
            "123",
            "call center 175",
            "12345",
            "1234567",
            "35tahun",
            "saldo 100rb",
            "abc123456",
            "tanggal 12-03-88",
            "tanggal 12/03/1988",
            "jam 10.30",
            "192.168.100.100",
            "Rp 100.000",
            "Rp100000",
            "Rp. 25.750.000",
            "IDR 123456",
            "100.000",
            "12 34 56",
        ] {
            assert_eq!(found(text), vec![], "{text}");
        }
    }

    #[test]
    fn a_word_glued_to_digits_hides_only_its_own_run() {
        assert_eq!(found("RT05 12345678901"), one(K, "12345678901"));
    }

    #[test]
    fn an_unlabelled_sixteen_digit_number_is_a_nik_even_when_invalid() {
        assert_eq!(
            found("9974011203880001"),
            one_invalid(N, "9974011203880001", Problem::BadProvince)
        );
        assert_eq!(
            found("3174 0112 0388 0000"),
            one_invalid(N, "3174011203880000", Problem::Malformed)
        );
    }

    #[test]
    fn values_typed_side_by_side_are_not_glued_together() {
        assert_eq!(
            extract("12345678901 3174011203880001"),
            vec![
                entity(K, "12345678901", 0, 11),
                entity(N, "3174011203880001", 12, 28)
            ]
        );
        assert_eq!(
            found("3174011203880001 12345678901"),
            vec![
                (N, "3174011203880001".into(), None),
                (K, "12345678901".into(), None)
            ]
        );
        assert_eq!(
            found("081234567890 123456"),
            vec![(P, "081234567890".into(), None), (O, "123456".into(), None)]
        );
        assert_eq!(
            found("123456 123456"),
            vec![(O, "123456".into(), None), (O, "123456".into(), None)]
        );
    }

    #[test]
    fn a_space_between_two_valid_values_splits_them_but_a_dash_does_not() {
        assert_eq!(
            found("123456 0812345678"),
            vec![(O, "123456".into(), None), (P, "0812345678".into(), None)]
        );
        assert_eq!(found("123456-0812345678"), one(N, "1234560812345678"));
    }

    #[test]
    fn a_label_binds_to_the_first_value_only() {
        assert_eq!(
            found("kpj 12345678901 3174011203880001"),
            vec![
                (K, "12345678901".into(), None),
                (N, "3174011203880001".into(), None)
            ]
        );
        assert_eq!(
            found("kpj 1234 3174011203880001"),
            vec![
                (K, "1234".into(), Some(Problem::WrongLength)),
                (N, "3174011203880001".into(), None)
            ]
        );
    }

    #[test]
    fn several_entities_in_one_message_are_all_found_in_order() {
        assert_eq!(
            extract("lupa akun, kpj 12345678901 nik 3174011203880001"),
            vec![
                entity(K, "12345678901", 15, 26),
                entity(N, "3174011203880001", 31, 47)
            ]
        );
        assert_eq!(
            found("email Siti.Aminah@Example.com, hp +62 857-1111-2222, kode 654321."),
            vec![
                (E, "siti.aminah@example.com".into(), None),
                (P, "085711112222".into(), None),
                (O, "654321".into(), None)
            ]
        );
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        assert_eq!(
            extract("halo 😊 kpj 12345678901"),
            vec![entity(K, "12345678901", 11, 22)]
        );
        assert_eq!(
            extract("é budi@example.com"),
            vec![entity(E, "budi@example.com", 2, 18)]
        );
    }

    #[test]
    fn fullwidth_digits_and_invisible_characters_do_not_break_a_number() {
        assert_eq!(
            extract("３１７４０１１２０３８８０００１"),
            vec![entity(N, "3174011203880001", 0, 16)]
        );
        assert_eq!(
            extract("kpj 12345\u{200B}678901"),
            vec![entity(K, "12345678901", 4, 16)]
        );
        assert_eq!(
            extract("\u{200F}nik\u{00A0}3174\u{FEFF}011203880001\u{200E}"),
            vec![entity(N, "3174011203880001", 5, 22)]
        );
    }

    #[test]
    fn an_email_is_lower_cased_and_loses_trailing_punctuation() {
        assert_eq!(
            extract("budi@example.com."),
            vec![entity(E, "budi@example.com", 0, 16)]
        );
        assert_eq!(
            found("Email: Budi.Santoso@Example.COM!"),
            one(E, "budi.santoso@example.com")
        );
        assert_eq!(found("(budi@example.com)"), one(E, "budi@example.com"));
        assert_eq!(found("surel=budi@example.com"), one(E, "budi@example.com"));
    }

    #[test]
    fn an_at_sign_without_a_valid_address_is_a_malformed_email() {
        assert_eq!(
            extract("budi@"),
            vec![invalid(E, "budi@", 0, 5, Problem::Malformed)]
        );
        assert_eq!(
            found("email budi@example"),
            one_invalid(E, "budi@example", Problem::Malformed)
        );
        assert_eq!(
            found("Budi@@example.com"),
            one_invalid(E, "Budi@@example.com", Problem::Malformed)
        );
        assert_eq!(found("halo @budi, @ apa"), vec![]);
    }

    #[test]
    fn digits_inside_an_address_are_not_numbers() {
        assert_eq!(
            found("budi12345678901@example.com"),
            one(E, "budi12345678901@example.com")
        );
        assert_eq!(
            found("12345678901 budi@example.com"),
            vec![
                (K, "12345678901".into(), None),
                (E, "budi@example.com".into(), None)
            ]
        );
    }

    #[test]
    fn a_very_long_digit_string_is_nothing_unless_labelled() {
        let hundred = "1234567890".repeat(10);
        assert_eq!(found(&hundred), vec![]);
        assert_eq!(
            found(&format!("nik {hundred}")),
            one_invalid(N, &hundred, Problem::WrongLength)
        );
        assert_eq!(
            found("nik 31740112038800011"),
            one_invalid(N, "31740112038800011", Problem::WrongLength)
        );
    }

    #[test]
    fn serializes_as_the_spec_entity_object() {
        let json = serde_json::to_value(extract("kpj 12345678901 nik 12345")).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"entity": "kpj", "value": "12345678901", "start": 4, "end": 15},
                {"entity": "nik", "value": "12345", "start": 20, "end": 25, "problem": "wrong_length"}
            ])
        );
    }

    #[test]
    fn debug_output_masks_the_value() {
        let debug = format!(
            "{:?}",
            extract("nik 3174011203880001 budi@example.com 123456")
        );
        assert!(debug.contains("3174**********01"), "{debug}");
        assert!(debug.contains("b***@example.com"), "{debug}");
        assert!(
            !debug.contains("3174011203880001") && !debug.contains("123456"),
            "{debug}"
        );
    }

    #[test]
    fn never_panics_on_tricky_input() {
        let long = "a".repeat(5000);
        let digits = "9".repeat(5000);
        let grouped = "1 ".repeat(2500);
        let tricky = [
            "",
            " ",
            "@",
            "@@@",
            "+",
            "+62",
            "+ 62",
            "(+62)",
            "+62) ",
            "+62)8",
            "-",
            "1",
            "1.",
            ".1",
            "1-",
            "-1-",
            "...",
            "nik",
            "nik:",
            "kode otp",
            "😊😊😊",
            "\u{200B}\u{200B}",
            "\u{202E}1234567890123456\u{202C}",
            "١٢٣٤٥٦",
            "①②③④⑤⑥",
            "1️⃣2️⃣3️⃣",
            "ﬁ@ﬁ.ﬁ",
            "a@b",
            ".@.",
            "@.com",
            "x@.",
            "e\u{301}@example.com",
            "nik +3174011203880001",
            "kpj+12345678901",
            long.as_str(),
            digits.as_str(),
            grouped.as_str(),
        ];
        for text in tricky {
            assert_well_formed(text);
        }
    }

    #[test]
    fn never_panics_on_random_input() {
        let alphabet: Vec<char> = "0123456789 -.+@aknpjbdi:=\n😊\u{200B}１é.Rp"
            .chars()
            .collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            assert_well_formed(&text);
        }
    }

    /// Sorted, non-overlapping, in bounds, and each valid value parses back to itself.
    fn assert_well_formed(text: &str) {
        let entities = extract(text);
        let length = text.chars().count();
        let mut previous_end = 0;
        for e in &entities {
            assert!(
                previous_end <= e.start && e.start < e.end && e.end <= length,
                "{text:?}: {entities:?}"
            );
            previous_end = e.end;
            if e.is_valid() {
                let round_trip = EntityValue::read(e.kind(), e.value.as_str().to_owned());
                assert!(round_trip == e.value, "{text:?}: {e:?}");
            }
        }
    }
}
