//! `POST /api/pause`'s body: the JSON parse `read_json` does, then every check
//! `CreateRequest::validate` makes (context duplicate keys and size, webhook URL, tags,
//! options, forms, …). Nothing touches a database. Must never panic.
#![no_main]

use hitl::domain::pauses::{CreateRequest, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let Ok(request) = serde_json::from_slice::<CreateRequest>(data) else {
        return;
    };
    let small = Limits {
        max_context_bytes: 64,
        default_timeout_secs: None,
    };
    let usual = Limits {
        max_context_bytes: 256 * 1024,
        default_timeout_secs: Some(3600),
    };
    let _ = request.clone().validate(small, None);
    let _ = request.validate(usual, Some("retry-1"));
});
