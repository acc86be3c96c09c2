//! The receipt of a decided pause: signed claims about what was decided (see
//! `crate::receipt`), with the server's Ed25519 key kept in the `secrets` table. The
//! key is made at the first start and never changes, so its `kid` stays the same
//! across restarts and every receipt stays verifiable. Signatures are deterministic: a
//! receipt is computed from the pause whenever it is served, and stored nowhere.

use super::pauses::Pause;
use super::{settings, Error, Result};
use crate::clock;
use crate::db::Tx;
use crate::receipt::{self, Claims, Signer};
use crate::urls::Urls;

/// The name of the signing key (PKCS#8) in `secrets`.
const KEY: &str = "receipt_key";

/// The signing key, made on first use.
pub fn key(tx: &mut Tx) -> Result<Vec<u8>> {
    super::outbox::stored_secret(tx, KEY, || receipt::generate_key().map_err(Error::internal))
}

/// Signs the receipts of one server: its key and its public URL (the `iss`).
#[derive(Debug)]
pub struct Receipts {
    signer: Signer,
    issuer: String,
}

impl Receipts {
    pub fn new(pkcs8: &[u8], public_url: &str) -> Result<Receipts> {
        Ok(Receipts {
            signer: Signer::from_pkcs8(pkcs8).map_err(Error::internal)?,
            issuer: Urls::new(public_url).base().to_string(),
        })
    }

    /// The receipts of the server, in a transaction that decides a pause (for its
    /// webhook): the stored key and the public URL `serve` recorded at start. `None`
    /// outside a server that never started (no public URL yet).
    pub fn in_tx(tx: &mut Tx) -> Result<Option<Receipts>> {
        let Some(public_url) = settings::public_url(tx)? else {
            return Ok(None);
        };
        let key = key(tx)?;
        Receipts::new(&key, &public_url).map(Some)
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The claims of a pause that left `pending`; `None` while it is pending, or when
    /// its context has no canonical form (a number beyond a double's range).
    pub fn claims(&self, p: &Pause) -> Option<Claims> {
        if !p.status.is_terminal() {
            return None;
        }
        // A purged pause signs the digests kept from before the purge.
        let digests = match super::retention::Digests::kept(p) {
            Some(kept) => kept,
            None => super::retention::Digests::of(p),
        };
        let Some(context_sha256) = digests.context_sha256 else {
            tracing::warn!(watch_id = %p.watch_id, "no receipt: the context has no canonical form");
            return None;
        };
        // A response is JSON the server checked against the form: it has a canonical form.
        let response_sha256 = digests.response_sha256;
        Some(Claims {
            iss: self.issuer.clone(),
            watch_id: p.watch_id.clone(),
            status: p.status.as_str().to_string(),
            resolved_at: clock::rfc3339(p.resolved_at.unwrap_or(p.created_at)),
            resolved_by: p.resolved_by.clone(),
            key_id: p.key_id.clone(),
            action_sha256: receipt::sha256_hex(&p.action),
            context_sha256,
            response_sha256,
        })
    }

    /// The receipt of a pause (a compact JWS), or `None` as for [`Receipts::claims`].
    pub fn receipt(&self, p: &Pause) -> Option<String> {
        self.claims(p).map(|claims| self.signer.sign(&claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use serde_json::json;

    fn receipts() -> Receipts {
        Receipts::new(&receipt::generate_key().unwrap(), "http://127.0.0.1:8080/").unwrap()
    }

    #[test]
    fn a_pending_pause_has_no_receipt() {
        let p = Pause::example("wch_1", "Deploy");
        assert_eq!(receipts().receipt(&p), None);
    }

    #[test]
    fn a_decided_pause_is_signed_with_its_digests() {
        let r = receipts();
        let mut p = Pause::example("wch_1", "Deploy v2 ✓");
        p.status = Status::Approved;
        p.resolved_at = Some(1_774_904_400_000);
        p.resolved_by = Some("alice@example.com".into());
        p.context = Some(r#"{ "z": 1.50, "a": "prod" }"#.into());
        let token = r.receipt(&p).unwrap();
        let claims = receipt::verify(&token, &json!({ "keys": [r.signer().jwk()] })).unwrap();
        assert_eq!(
            claims,
            Claims {
                iss: "http://127.0.0.1:8080".into(),
                watch_id: "wch_1".into(),
                status: "approved".into(),
                resolved_at: "2026-03-30T21:00:00.000Z".into(),
                resolved_by: Some("alice@example.com".into()),
                key_id: "key_x".into(),
                action_sha256: receipt::sha256_hex("Deploy v2 ✓"),
                context_sha256: receipt::sha256_hex(r#"{"a":"prod","z":1.5}"#),
                response_sha256: None,
            }
        );

        // The reviewer's edit is what was approved.
        p.approved_context = Some(r#"{"a":"staging"}"#.into());
        assert_eq!(
            r.claims(&p).unwrap().context_sha256,
            receipt::sha256_hex(r#"{"a":"staging"}"#)
        );
        // A form's response is signed too, in its canonical form.
        p.response = Some(r#"{"reason":"ok","amount":40.0}"#.into());
        assert_eq!(
            r.claims(&p).unwrap().response_sha256,
            Some(receipt::sha256_hex(r#"{"amount":40,"reason":"ok"}"#))
        );
        p.response = None;
        // No context: the digest of null.
        p.approved_context = None;
        p.context = None;
        assert_eq!(
            r.claims(&p).unwrap().context_sha256,
            receipt::sha256_hex("null")
        );
        // A context without a canonical form: no receipt rather than a wrong one.
        p.context = Some("[1e400]".into());
        assert_eq!(r.receipt(&p), None);
    }
}
