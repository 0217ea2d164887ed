//! Fuzzes the telegram webhook payload parser (what `POST /webhooks/telegram` does after the
//! signature check): any body is member messages or a 400, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanya::channels::parse_webhook_body("telegram", data);
});
