//! Tokens that come back from outside: a mail's signed decision link, a Telegram
//! button's `callback_data`, the pause list's cursor and the audit log's page link.
//! Must never panic; a token this key signed must verify.
#![no_main]

use hitl::domain::{audit, links, pauses, telegram};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"fuzzing-key-0123456789abcdef0123";
const NOW_MS: i64 = 1_800_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(link) = links::verify(KEY, text, NOW_MS) {
        assert_eq!(
            links::sign(KEY, &link),
            text,
            "a verified link is canonical"
        );
    }
    if let Ok(button) = telegram::verify(KEY, text) {
        assert_eq!(telegram::sign(KEY, &button).as_deref(), Some(text));
    }
    let _ = pauses::decode_cursor(text);
    let _ = audit::decode_cursor(text);
});
