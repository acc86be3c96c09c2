//! Approve and Reject links in mail. A link names the pause, the reviewer, the decision
//! and an expiry, signed with an HMAC (ring) under the server's own key from the
//! database. A GET only shows a confirm page (mail scanners and chat previews open
//! links); one POST decides as that reviewer, and the link never works again.

use ring::hmac;

use super::outbox::Channels;
use super::pauses::{self, Decision, Pause};
use super::{users, Error, Principal, Result};
use crate::clock::Millis;
use crate::db::{self, Tx};
use crate::secret;

/// A link lives at most this long (and never beyond its pause's expiry).
pub const MAX_AGE_MS: Millis = 7 * 24 * 3600 * 1000;

/// What a valid link says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub watch_id: String,
    pub user_id: i64,
    pub decision: Decision,
    /// Unix seconds.
    pub expires: i64,
}

fn letter(d: Decision) -> &'static str {
    match d {
        Decision::Approved => "a",
        Decision::Rejected => "r",
    }
}

fn message(l: &Link) -> String {
    format!(
        "hitl-link|{}|{}|{}|{}",
        l.watch_id,
        l.user_id,
        letter(l.decision),
        l.expires
    )
}

/// The token of a link: `watchId.userId.a|r.expires.mac`.
pub fn sign(key: &[u8], link: &Link) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        message(link).as_bytes(),
    );
    format!(
        "{}.{}.{}.{}.{}",
        link.watch_id,
        link.user_id,
        letter(link.decision),
        link.expires,
        secret::b64url(tag.as_ref())
    )
}

/// When a link for `pause` made at `now` stops working, in Unix seconds.
pub fn expiry_for(pause: &Pause, now: Millis) -> i64 {
    expiry_within(pause, now, MAX_AGE_MS)
}

/// The same, for a link that lives at most `max_age_ms`.
pub fn expiry_within(pause: &Pause, now: Millis, max_age_ms: Millis) -> i64 {
    let max = max_age_ms.min(MAX_AGE_MS);
    let end = pause.expires_at.map_or(now + max, |e| e.min(now + max));
    end / 1000
}

fn invalid() -> Error {
    Error::NotFound(
        "this link is not valid (it may have been cut short by the mail program)".into(),
    )
}

/// Checks a token's signature and age.
pub fn verify(key: &[u8], token: &str, now: Millis) -> Result<Link> {
    let parts: Vec<&str> = token.split('.').collect();
    let [watch_id, user_id, decision, expires, _mac] = parts.as_slice() else {
        return Err(invalid());
    };
    let link = Link {
        watch_id: watch_id.to_string(),
        user_id: user_id.parse().map_err(|_| invalid())?,
        decision: match *decision {
            "a" => Decision::Approved,
            "r" => Decision::Rejected,
            _ => return Err(invalid()),
        },
        expires: expires.parse().map_err(|_| invalid())?,
    };
    // Comparing the whole canonical token (constant-time) checks the MAC and refuses
    // other spellings of the same link (`07` for `7`), which would count as unused.
    if !secret::constant_time_eq(sign(key, &link).as_bytes(), token.as_bytes()) {
        return Err(invalid());
    }
    if now / 1000 >= link.expires {
        return Err(Error::Conflict(
            "this link has expired; open the pause in hitl instead".into(),
        ));
    }
    Ok(link)
}

/// The pause and the reviewer a link is for, if it may still be used.
pub fn inspect(
    conn: &rusqlite::Connection,
    key: &[u8],
    token: &str,
    now: Millis,
) -> Result<(Link, Pause, users::User)> {
    let link = verify(key, token, now)?;
    if db::outbox::link_used(conn, &secret::sha256(token.as_bytes()))? {
        return Err(Error::Conflict(
            "this link was used already; each link works once".into(),
        ));
    }
    let user = users::by_id(conn, link.user_id).map_err(|_| invalid())?;
    let pause = pauses::get(conn, &Principal::User(user.reviewer()), &link.watch_id)?;
    // Mail for a question carries no signed links, and a link never approves a pause
    // with a form, or one a reviewer edited since: those are decided on the page.
    pauses::allowed_outside(&pause, link.decision, pauses::Outside::Message)?;
    Ok((link, pause, user))
}

/// Uses a link: decides as its reviewer, once.
pub fn decide(
    tx: &mut Tx,
    now: Millis,
    key: &[u8],
    token: &str,
    comment: Option<String>,
    channels: &Channels,
) -> Result<Pause> {
    let (link, _, user) = inspect(tx, key, token, now)?;
    if !db::outbox::use_link(tx, &secret::sha256(token.as_bytes()), now)? {
        return Err(Error::Conflict(
            "this link was used already; each link works once".into(),
        ));
    }
    pauses::decide(
        tx,
        now,
        &Principal::User(user.reviewer()),
        &link.watch_id,
        pauses::Verdict::new(link.decision, comment, None),
        channels,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_resist_tampering() {
        let key = b"0123456789abcdef0123456789abcdef";
        let link = Link {
            watch_id: "wch_abc".into(),
            user_id: 7,
            decision: Decision::Approved,
            expires: 2_000_000_000,
        };
        let token = sign(key, &link);
        assert_eq!(verify(key, &token, 1_000).ok(), Some(link.clone()));
        let as_reject = token.replacen(".a.", ".r.", 1);
        assert!(
            verify(key, &as_reject, 1_000).is_err(),
            "the decision is signed"
        );
        let other_user = token.replacen(".7.", ".8.", 1);
        assert!(
            verify(key, &other_user, 1_000).is_err(),
            "the reviewer is signed"
        );
        assert!(verify(b"another key, also 32 bytes long!", &token, 1_000).is_err());
        assert!(verify(key, &token, 2_000_000_000_000).is_err(), "expired");
        assert!(verify(key, "garbage", 1_000).is_err());
        let padded = token.replacen(".7.", ".07.", 1);
        assert!(
            verify(key, &padded, 1_000).is_err(),
            "only the canonical spelling works"
        );
    }
}
