//! Web Push to the installed page (RFC 8030): the server's VAPID key (RFC 8292), made
//! at the first start and kept in the database; the subscriptions browsers hand in,
//! checked before they are kept; the notification a pause sends (encrypted with
//! aes128gcm, RFC 8291, by `web-push-native` when it is sent); and the Approve action's
//! token, which works only with the reviewer's own session.

use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

use super::links::{self, Link};
use super::outbox::{self, Channels};
use super::pauses::{Decision, Pause};
use super::{audit, Actor, Error, Kind, Principal, Result, Risk};
use crate::clock::Millis;
use crate::db::{self, Tx};
use crate::{secret, text};

/// The name of the VAPID key (PKCS#8, ECDSA P-256) among the stored secrets.
pub const KEY: &str = "vapid_key";
/// Browsers one person may turn notifications on in.
pub const MAX_DEVICES: usize = 20;
/// The longest endpoint URL kept (real ones are a few hundred bytes).
pub const MAX_ENDPOINT: usize = 2048;
/// A VAPID token's lifetime: RFC 8292 allows at most 24 hours.
const VAPID_LIFETIME_SECS: i64 = 12 * 3600;
/// How long an Approve token in a notification works (and never beyond the pause).
const APPROVE_MAX_SECS: i64 = 24 * 3600;
/// The notification's JSON stays under this, well below the 4 KB push services take.
pub const MAX_MESSAGE: usize = 3000;

/// The VAPID key, made on first use (at the first start).
pub fn key(tx: &mut Tx) -> Result<Vec<u8>> {
    outbox::stored_secret(tx, KEY, || {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| Error::internal("cannot make the VAPID key"))
    })
}

/// The server's identity towards push services.
#[derive(Debug)]
pub struct Vapid {
    pkcs8: Vec<u8>,
    /// The uncompressed P-256 point (65 bytes), base64url: the page's
    /// `applicationServerKey` and the `k=` of every request.
    public_key: String,
    /// The `sub` claim: the https public URL, else a mailto.
    subject: String,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    aud: &'a str,
    exp: i64,
    sub: &'a str,
}

impl Vapid {
    pub fn new(pkcs8: &[u8], public_url: &str) -> Result<Vapid> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|e| Error::internal(format!("the stored VAPID key is unusable: {e}")))?;
        let base = crate::urls::Urls::new(public_url).base().to_string();
        let subject = if base.starts_with("https://") {
            base
        } else {
            "mailto:hitl@localhost".to_string()
        };
        Ok(Vapid {
            pkcs8: pkcs8.to_vec(),
            public_key: secret::b64url(pair.public_key().as_ref()),
            subject,
        })
    }

    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `Authorization` header of a push to `endpoint`: `vapid t=<JWT>, k=<key>`,
    /// the JWT (ES256) naming the endpoint's origin, expiring within 24 hours.
    pub fn authorization(&self, endpoint: &url::Url, now: Millis) -> Result<String> {
        let audience = endpoint.origin().ascii_serialization();
        let claims = Claims {
            aud: &audience,
            exp: now / 1000 + VAPID_LIFETIME_SECS,
            sub: &self.subject,
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8),
        )
        .map_err(|e| Error::internal(format!("cannot sign the VAPID token: {e}")))?;
        Ok(format!("vapid t={token}, k={}", self.public_key))
    }
}

/// A subscription as a browser's `PushSubscription.toJSON()` gives it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

fn decode_key(text: &str) -> Option<Vec<u8>> {
    // Browsers send unpadded base64url; padding is forgiven.
    secret::b64url_decode(text.trim_end_matches('='))
}

/// Checks what a browser sent: an https endpoint (http only to this machine, for a
/// local push service), a P-256 public key and a 16-byte auth secret.
pub fn check(endpoint: &str, p256dh: &str, auth: &str) -> Result<NewSubscription> {
    if endpoint.is_empty() || endpoint.len() > MAX_ENDPOINT {
        return Err(Error::validation(format!(
            "endpoint must be a URL of at most {MAX_ENDPOINT} bytes"
        )));
    }
    let url = url::Url::parse(endpoint)
        .map_err(|e| Error::validation(format!("endpoint is not a URL: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        _ => {
            return Err(Error::validation(
                "endpoint must be an https URL (http only to this machine)",
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(Error::validation(
            "endpoint must not carry a user name, password or fragment",
        ));
    }
    let point = decode_key(p256dh)
        .filter(|k| k.len() == 65 && k[0] == 4)
        .ok_or_else(|| {
            Error::validation(
                "keys.p256dh must be an uncompressed P-256 public key (65 bytes, base64url)",
            )
        })?;
    if web_push_native::p256::PublicKey::from_sec1_bytes(&point).is_err() {
        return Err(Error::validation(
            "keys.p256dh is not a point on the P-256 curve",
        ));
    }
    let auth = decode_key(auth)
        .filter(|a| a.len() == 16)
        .ok_or_else(|| Error::validation("keys.auth must be 16 bytes, base64url"))?;
    Ok(NewSubscription {
        endpoint: url.to_string(),
        p256dh: secret::b64url(&point),
        auth: secret::b64url(&auth),
    })
}

/// Keeps a browser's subscription for `user_id` (a browser that subscribes again, or
/// for someone else now signed in on it, replaces its old one). Returns how many
/// devices they have now.
pub fn subscribe(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    new: &NewSubscription,
) -> Result<usize> {
    let ids = db::push::ids_of_user(tx, user_id)?;
    let mut known = false;
    for id in &ids {
        if db::push::by_id(tx, *id)?.is_some_and(|s| s.endpoint == new.endpoint) {
            known = true;
        }
    }
    if !known && ids.len() >= MAX_DEVICES {
        return Err(Error::validation(format!(
            "notifications are on in {MAX_DEVICES} browsers already: turn them off in one first"
        )));
    }
    db::push::upsert(tx, user_id, &new.endpoint, &new.p256dh, &new.auth, now)?;
    let devices = db::push::ids_of_user(tx, user_id)?.len();
    audit::record(
        tx,
        now,
        actor,
        "push.subscribed",
        None,
        json!({ "service": origin_of(&new.endpoint), "devices": devices }),
    )?;
    Ok(devices)
}

/// Turns notifications off in the browser whose endpoint is given, or (`None`) in
/// every browser of `user_id`. Returns how many devices they have now.
pub fn unsubscribe(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    endpoint: Option<&str>,
) -> Result<usize> {
    let removed = match endpoint {
        None => db::push::delete_for_user(tx, user_id)?,
        Some(endpoint) => {
            let mut removed = 0;
            for id in db::push::ids_of_user(tx, user_id)? {
                if db::push::by_id(tx, id)?.is_some_and(|s| s.endpoint == endpoint)
                    && db::push::delete(tx, id, Some(user_id))?
                {
                    removed += 1;
                }
            }
            removed
        }
    };
    let devices = db::push::ids_of_user(tx, user_id)?.len();
    if removed > 0 {
        audit::record(
            tx,
            now,
            actor,
            "push.removed",
            None,
            json!({ "removed": removed, "devices": devices }),
        )?;
    }
    Ok(devices)
}

fn origin_of(endpoint: &str) -> String {
    url::Url::parse(endpoint)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// The key Approve tokens are signed with: derived from the mail link key, so that a
/// token from a notification is never a mail link (which works without a session).
fn token_key(link_key: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, link_key);
    hmac::sign(&key, b"hitl web push approve token")
        .as_ref()
        .to_vec()
}

/// Whether a notification of `pause` offers Approve: a plain decision (no form), not
/// rated high or critical.
pub fn offers_approve(pause: &Pause) -> bool {
    super::pauses::allowed_outside(pause, Decision::Approved, super::pauses::Outside::OneTap)
        .is_ok()
}

/// The Approve token of a notification to `user_id`, if it offers Approve: single-use,
/// for this pause and person, expiring with the pause and within a day.
pub fn approve_token(link_key: &[u8], pause: &Pause, user_id: i64, now: Millis) -> Option<String> {
    offers_approve(pause).then(|| {
        let expires = links::expiry_for(pause, now).min(now / 1000 + APPROVE_MAX_SECS);
        links::sign(
            &token_key(link_key),
            &Link {
                watch_id: pause.watch_id.clone(),
                user_id,
                decision: Decision::Approved,
                expires,
            },
        )
    })
}

/// Approves with a notification's token, as `principal` (the session's user), who must
/// be the person the token was sent to. Each token works once.
pub fn approve(
    tx: &mut Tx,
    now: Millis,
    link_key: &[u8],
    token: &str,
    principal: &Principal,
    channels: &Channels,
) -> Result<Pause> {
    let key = token_key(link_key);
    let link = links::verify(&key, token, now)?;
    let me = principal.reviewer().ok_or(Error::Unauthorized)?;
    if me.user_id != link.user_id {
        return Err(Error::Forbidden(
            "this notification was sent to someone else: open the pause instead".into(),
        ));
    }
    if let Some(pause) = db::pauses::by_watch_id(tx, &link.watch_id)? {
        if !offers_approve(&pause) {
            return Err(Error::Conflict(
                "this pause is decided on its review page".into(),
            ));
        }
    }
    links::decide(tx, now, &key, token, None, channels)
}

/// What the notification says: its title, a short body, the review page to open and
/// (when it offers Approve) the token; JSON under [`MAX_MESSAGE`] bytes.
pub fn message(pause: &Pause, event: &str, review_url: &str, token: Option<&str>) -> String {
    let title = match (event, pause.kind) {
        ("reminder", _) => "Reminder",
        (_, Kind::Question) => "Question",
        _ => "Approval needed",
    };
    // Notifications show plain text: no markup to escape, but invisible and
    // direction-changing characters are shown as markers, and everything is cut short.
    let action = text::marked_preview(&pause.action, 160);
    let mut body = text::cut_bytes(&action, 900);
    body.push('\n');
    body.push_str(&text::cut_bytes(
        &text::marked_preview(&pause.key_name, 60),
        300,
    ));
    if let Some(risk) = pause.risk {
        body.push_str(" · risk ");
        body.push_str(risk.as_str());
    }
    let mut message = json!({
        "title": title,
        "body": body,
        "url": review_url,
        "tag": pause.watch_id,
        "urgent": matches!(pause.risk, Some(Risk::High | Risk::Critical)),
    });
    if let Some(token) = token {
        message["approve"] = json!(token);
    }
    let text = message.to_string();
    if text.len() <= MAX_MESSAGE {
        return text;
    }
    // Escaped agent text can grow: the body gives way first.
    let over = text.len() - MAX_MESSAGE;
    let body = message["body"].as_str().unwrap_or_default();
    let shorter = text::cut_bytes(body, body.len().saturating_sub(over * 6 + 16));
    message["body"] = json!(shorter);
    message.to_string()
}

/// Seconds a push service keeps the message for an offline browser: until the pause
/// expires, at most a day.
pub fn ttl_secs(pause: &Pause, now: Millis) -> i64 {
    const DAY: i64 = 24 * 3600;
    pause
        .expires_at
        .map_or(DAY, |at| ((at - now) / 1000).clamp(0, DAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256DH: &str =
        "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
    const AUTH: &str = "_ordMnz7uTCmrpBTeUV4Bw";

    #[test]
    fn subscriptions_are_checked() {
        let ok = check("https://push.example/abc", P256DH, AUTH).map(|s| s.endpoint);
        assert_eq!(ok.ok().as_deref(), Some("https://push.example/abc"));
        assert!(check("http://127.0.0.1:9/x", P256DH, AUTH).is_ok());
        assert!(check("http://[::1]:9/x", P256DH, AUTH).is_ok());
        assert!(check("http://localhost/x", P256DH, AUTH).is_ok());
        assert!(check("http://push.example/abc", P256DH, AUTH).is_err());
        assert!(check("ftp://push.example/abc", P256DH, AUTH).is_err());
        assert!(check("https://u:p@push.example/abc", P256DH, AUTH).is_err());
        assert!(check("not a url", P256DH, AUTH).is_err());
        let long = format!("https://push.example/{}", "a".repeat(MAX_ENDPOINT));
        assert!(check(&long, P256DH, AUTH).is_err());
        assert!(check("https://push.example/abc", &P256DH[..40], AUTH).is_err());
        // 65 bytes starting with 4, but not on the curve.
        let off_curve = secret::b64url(&[[4u8].as_slice(), &[1u8; 64]].concat());
        assert!(check("https://push.example/abc", &off_curve, AUTH).is_err());
        assert!(check("https://push.example/abc", P256DH, "c2hvcnQ").is_err());
        assert!(check("https://push.example/abc", P256DH, &format!("{AUTH}==")).is_ok());
    }

    #[test]
    fn messages_stay_small() {
        let mut pause = Pause::example("wch_x", "x");
        pause.action = "\u{1}\u{202e}\"".repeat(4000);
        pause.key_name = "\u{202e}".repeat(200);
        let token = "t".repeat(200);
        let url = format!("https://hitl.example/review/{}", "w".repeat(100));
        let m = message(&pause, "created", &url, Some(&token));
        assert!(m.len() <= MAX_MESSAGE, "{}", m.len());
        let v: serde_json::Value = serde_json::from_str(&m).unwrap_or_default();
        assert_eq!(v["approve"], token.as_str());
        assert!(
            v["body"]
                .as_str()
                .is_some_and(|b| b.starts_with("⟨CTRL⟩⟨RLO⟩")),
            "{m}"
        );
    }

    #[test]
    fn vapid_tokens_name_the_origin_and_verify() {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map(|d| d.as_ref().to_vec())
                .unwrap_or_default();
        let vapid = Vapid::new(&pkcs8, "https://hitl.example/").unwrap();
        let url = url::Url::parse("https://push.example:8443/a/b").unwrap();
        let header = vapid.authorization(&url, 1_000_000_000_000).unwrap();
        let (t, k) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .unwrap();
        assert_eq!(k, vapid.public_key());
        let key = jsonwebtoken::DecodingKey::from_ec_der(&secret::b64url_decode(k).unwrap());
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.validate_exp = false;
        validation.set_audience(&["https://push.example:8443"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(t, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], "https://hitl.example");
        assert_eq!(data.claims["exp"], 1_000_000_000 + VAPID_LIFETIME_SECS);
    }
}
