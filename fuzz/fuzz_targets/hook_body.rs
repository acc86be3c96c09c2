//! A Claude Code hook's input (`POST /hooks/claude-code`): the event guess, the parse,
//! the action and context a pause is made of, and an edited input read back. Must
//! never panic.
#![no_main]

use hitl::claude_code::{edited_input, Event, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let event = Event::guess(data);
    let _ = event.as_str();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = edited_input(Some(text), "tool_input");
    let Ok(input) = serde_json::from_str::<Input>(text) else {
        return;
    };
    let _ = Event::parse(&input.hook_event_name);
    let action = input.action();
    assert!(action.len() <= 2000, "the action fits the action limit");
    let _ = input.context();
});
