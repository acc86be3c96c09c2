//! An MCP JSON-RPC message (`POST /mcp`): the message checks, and `initialize`'s
//! params. Must never panic.
#![no_main]

use hitl::http::mcp::{initialize, parse_message, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Parsed::Call { method, params, .. }) = parse_message(text) {
        if method == "initialize" {
            let _ = initialize(params.as_deref());
        }
    }
});
