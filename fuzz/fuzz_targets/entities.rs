//! Fuzzes entity extraction (NIK, KPJ, e-mail, phone, code): no panic, spans in bounds, and a
//! valid entity's value is in its normalised form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tanya::nlu::entities::{self, EntityKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let chars = text.chars().count();
    for entity in entities::extract(text) {
        assert!(
            entity.start <= entity.end && entity.end <= chars,
            "{entity:?}"
        );
        if entity.problem.is_some() {
            continue;
        }
        let digits =
            |n: usize| entity.value.len() == n && entity.value.bytes().all(|b| b.is_ascii_digit());
        match entity.kind {
            EntityKind::Nik => assert!(digits(16), "{entity:?}"),
            EntityKind::Kpj => assert!(digits(11), "{entity:?}"),
            EntityKind::Otp => assert!(digits(6), "{entity:?}"),
            EntityKind::Phone => assert!(entity.value.starts_with("08"), "{entity:?}"),
            EntityKind::Email => assert_eq!(entity.value, entity.value.to_lowercase()),
        }
    }
});
