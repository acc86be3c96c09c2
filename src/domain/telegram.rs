//! Telegram's rules: linking a chat to a user with a one-time code, and the signed
//! tokens of the Approve and Reject buttons.
//!
//! A code is random (base62), lives 15 minutes, works once, and only its SHA-256 is
//! stored; a new one replaces the person's older ones. A button's `callback_data`
//! (at most 64 bytes) names the decision, the pause and the hitl user, with a
//! truncated HMAC-SHA256 under the server's link key over all three: a changed
//! button decides nothing.

use ring::hmac;

use super::pauses::Decision;
use super::{users, Actor, Error, Result};
use crate::clock::Millis;
use crate::db::{self, Tx};
use crate::secret;

/// How long a link code works.
pub const CODE_TTL_MS: Millis = 15 * 60 * 1000;

/// A new one-time code for `user_id` (which replaces their older ones), and when it
/// expires.
pub fn new_code(tx: &mut Tx, now: Millis, user_id: i64) -> Result<(String, Millis)> {
    users::by_id(tx, user_id)?;
    let code = secret::base62(24);
    let expires_at = now + CODE_TTL_MS;
    db::telegram::replace_code(
        tx,
        user_id,
        &secret::sha256(code.as_bytes()),
        expires_at,
        now,
    )?;
    Ok((code, expires_at))
}

/// Links `chat` to the user whose code this is (the code is used up). The code is the
/// proof: the change is recorded as that user's.
pub fn link(tx: &mut Tx, now: Millis, code: &str, chat: i64) -> Result<users::User> {
    let unknown = || {
        Error::NotFound(
            "this link code is unknown, expired or used already: make a new one with Link Telegram on your hitl Account page".into(),
        )
    };
    let code = code.trim();
    let well_formed =
        !code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric());
    if !well_formed {
        return Err(unknown());
    }
    let user_id =
        db::telegram::take_code(tx, &secret::sha256(code.as_bytes()), now)?.ok_or_else(unknown)?;
    let user = users::by_id(tx, user_id)?;
    db::telegram::delete_codes_of(tx, user_id)?;
    users::set_telegram_chat(
        tx,
        now,
        &Actor::User(user.email.clone()),
        user_id,
        Some(&chat.to_string()),
    )
}

/// Unlinks a user's chat (and drops their unused codes).
pub fn unlink(tx: &mut Tx, now: Millis, actor: &Actor, user_id: i64) -> Result<users::User> {
    db::telegram::delete_codes_of(tx, user_id)?;
    users::set_telegram_chat(tx, now, actor, user_id, None)
}

/// What a valid button says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub decision: Decision,
    pub watch_id: String,
    pub user_id: i64,
}

/// Bytes of HMAC kept: 72 bits, 12 base64url characters.
const TAG_BYTES: usize = 9;
/// Telegram's limit on `callback_data`.
pub const MAX_CALLBACK_BYTES: usize = 64;

fn letter(d: Decision) -> &'static str {
    match d {
        Decision::Approved => "a",
        Decision::Rejected => "r",
    }
}

fn tag(key: &[u8], b: &Button) -> String {
    let message = format!(
        "hitl-telegram|{}|{}|{}",
        letter(b.decision),
        b.watch_id,
        b.user_id
    );
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message.as_bytes());
    secret::b64url(&tag.as_ref()[..TAG_BYTES])
}

/// A button's `callback_data`: `a|r`, the watch id, the user id and the tag, joined
/// with `:`; `None` if it would not fit Telegram's 64 bytes.
pub fn sign(key: &[u8], b: &Button) -> Option<String> {
    let data = format!(
        "{}:{}:{}:{}",
        letter(b.decision),
        b.watch_id,
        b.user_id,
        tag(key, b)
    );
    (data.len() <= MAX_CALLBACK_BYTES).then_some(data)
}

/// Checks a button's `callback_data`. Anything changed, or another spelling of the
/// same button, is refused.
pub fn verify(key: &[u8], data: &str) -> Result<Button> {
    let invalid = || {
        Error::Forbidden(
            "this button is not valid (it was changed); nothing was decided: open the pause in hitl instead".into(),
        )
    };
    let parts: Vec<&str> = data.split(':').collect();
    let [decision, watch_id, user_id, _tag] = parts.as_slice() else {
        return Err(invalid());
    };
    let button = Button {
        decision: match *decision {
            "a" => Decision::Approved,
            "r" => Decision::Rejected,
            _ => return Err(invalid()),
        },
        watch_id: watch_id.to_string(),
        user_id: user_id.parse().map_err(|_| invalid())?,
    };
    // The whole canonical data compared in constant time checks the tag and refuses
    // other spellings (`07` for `7`).
    let canonical = sign(key, &button).ok_or_else(invalid)?;
    if !secret::constant_time_eq(canonical.as_bytes(), data.as_bytes()) {
        return Err(invalid());
    }
    Ok(button)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button() -> Button {
        Button {
            decision: Decision::Rejected,
            watch_id: "wch_0193c6a2b4f1A1b2C3d4E5f6G7h8I9j0K1l2".into(),
            user_id: 12_345_678,
        }
    }

    #[test]
    fn buttons_fit_and_refuse_every_change() {
        let key = b"a key of the server";
        let data = sign(key, &button()).unwrap();
        assert!(data.len() <= MAX_CALLBACK_BYTES, "{} bytes", data.len());
        assert_eq!(verify(key, &data).unwrap(), button());
        // The other decision with the same tag.
        let flipped = format!("a{}", &data[1..]);
        assert!(verify(key, &flipped).is_err());
        // One character of the tag changed.
        let mut chars: Vec<char> = data.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        assert!(verify(key, &chars.into_iter().collect::<String>()).is_err());
        // Another user, another spelling, another key.
        assert!(verify(key, &data.replace(":12345678:", ":12345679:")).is_err());
        assert!(verify(key, &data.replace(":12345678:", ":012345678:")).is_err());
        assert!(verify(b"another key", &data).is_err());
        assert!(verify(key, "").is_err());
        assert!(verify(key, "a:b:c:d:e").is_err());
    }
}
