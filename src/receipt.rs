//! Signed decision receipts: what a receipt says, its canonical digests, and the
//! compact JWS (EdDSA over Ed25519, signed and checked with ring) that carries it.
//! Nothing here knows a pause or a database: `domain::receipts` builds the claims of
//! a decided pause and keeps the key; `hitl receipt verify` checks a receipt with
//! [`verify`].
//!
//! The JWS is `base64url(header).base64url(payload).base64url(signature)` with the
//! header `{"alg":"EdDSA","kid":...,"typ":"JWT"}`, so any JOSE library verifies it
//! with the key published as an OKP JWK (`GET /.well-known/jwks.json`).

use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::secret;

/// What a receipt states about one decided pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The server's public URL.
    pub iss: String,
    pub watch_id: String,
    /// `approved`, `rejected`, `answered`, `expired` or `cancelled`.
    pub status: String,
    /// RFC 3339 with milliseconds, UTC.
    pub resolved_at: String,
    pub resolved_by: Option<String>,
    /// The id of the agent key that asked.
    pub key_id: String,
    /// Lowercase hex SHA-256 of the action's UTF-8.
    pub action_sha256: String,
    /// Lowercase hex SHA-256 of the approved context in RFC 8785 canonical form, or
    /// of `null` when there is none.
    pub context_sha256: String,
    /// For a pause with a form: the same of the reviewer's response (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_sha256: Option<String>,
}

/// The lowercase hex SHA-256 of `text`'s UTF-8.
pub fn sha256_hex(text: &str) -> String {
    secret::hex(&secret::sha256(text.as_bytes()))
}

/// The RFC 8785 (JSON Canonicalization Scheme) form of a JSON text: object members
/// sorted by their names' UTF-16 code units, no white space, strings with the minimal
/// escapes, and every number as the IEEE 754 double it denotes, written as
/// ECMAScript writes it (`1E30` is `1e+30`, `4.50` is `4.5`, `-0` is `0`). serde_jcs
/// does the work; the numbers this crate keeps as text (serde_json's
/// `arbitrary_precision`) reach it as text and are read as doubles there. A number
/// beyond the double range (`1e400`) has no canonical form: an error.
pub fn canonical(json_text: &str) -> Result<String, String> {
    let value: Value =
        serde_json::from_str(json_text).map_err(|e| format!("not valid JSON: {e}"))?;
    serde_jcs::to_string(&value).map_err(|e| format!("no canonical form (RFC 8785): {e}"))
}

/// `contextSha256`: the digest of the canonical context, or of `null` without one.
pub fn context_sha256(context: Option<&str>) -> Result<String, String> {
    Ok(sha256_hex(&canonical(context.unwrap_or("null"))?))
}

/// The RFC 7638 thumbprint of an Ed25519 public key as an OKP JWK: base64url of the
/// SHA-256 of its required members in lexicographic order.
pub fn thumbprint(public_key: &[u8]) -> String {
    let members = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        secret::b64url(public_key)
    );
    secret::b64url(&secret::sha256(members.as_bytes()))
}

/// A new Ed25519 key as a PKCS#8 document (what is stored).
pub fn generate_key() -> Result<Vec<u8>, String> {
    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map(|doc| doc.as_ref().to_vec())
        .map_err(|_| "cannot generate an Ed25519 key".to_string())
}

/// Signs receipts with one Ed25519 key, named by its thumbprint.
pub struct Signer {
    key: Ed25519KeyPair,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Signer, String> {
        let key = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| format!("the receipt signing key is not a valid Ed25519 key: {e}"))?;
        let kid = thumbprint(key.public_key().as_ref());
        Ok(Signer { key, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 8037), with its `kid`.
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: secret::b64url(self.key.public_key().as_ref()),
            kid: self.kid.clone(),
            alg: "EdDSA".into(),
            use_: "sig".into(),
        }
    }

    /// The compact JWS of `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = json!({ "alg": "EdDSA", "kid": self.kid, "typ": "JWT" });
        let payload = serde_json::to_string(claims).unwrap_or_default();
        let input = format!(
            "{}.{}",
            secret::b64url(header.to_string().as_bytes()),
            secret::b64url(payload.as_bytes())
        );
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", secret::b64url(signature.as_ref()))
    }
}

/// One public key of a JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    /// Always `OKP`.
    #[schema(example = "OKP")]
    pub kty: String,
    /// Always `Ed25519`.
    #[schema(example = "Ed25519")]
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The RFC 7638 thumbprint of the key: the `kid` in a receipt's header.
    pub kid: String,
    #[serde(default)]
    #[schema(example = "EdDSA")]
    pub alg: String,
    #[serde(rename = "use", default)]
    #[schema(rename = "use", example = "sig")]
    pub use_: String,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Not a compact JWS of this kind, or its parts do not decode.
    Malformed(String),
    /// No key of the JWK Set has the receipt's `kid`.
    UnknownKey(String),
    /// The signature does not verify with the key of that `kid`.
    Signature,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Malformed(why) => write!(f, "the receipt is not well formed: {why}"),
            Invalid::UnknownKey(kid) => write!(
                f,
                "no Ed25519 key in the JWKS has the receipt's kid {kid}: it was signed by another server or key"
            ),
            Invalid::Signature => write!(
                f,
                "the receipt's signature does not verify: it was changed after signing, or signed by another key"
            ),
        }
    }
}

/// Checks a compact JWS against a JWK Set (`{"keys": [...]}`) and returns its claims.
pub fn verify(receipt: &str, jwks: &Value) -> Result<Claims, Invalid> {
    let malformed = |why: &str| Invalid::Malformed(why.to_string());
    let mut parts = receipt.trim().split('.');
    let (Some(header_part), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a receipt has three parts separated by dots"));
    };
    let header: Value = secret::b64url_decode(header_part)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| malformed("the header is not base64url JSON"))?;
    if header["alg"] != "EdDSA" {
        return Err(malformed("the header's alg is not EdDSA"));
    }
    let kid = header["kid"]
        .as_str()
        .ok_or_else(|| malformed("the header has no kid"))?;
    let signature_bytes = secret::b64url_decode(signature)
        .ok_or_else(|| malformed("the signature is not base64url"))?;
    let x = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["kid"] == kid && k["kty"] == "OKP" && k["crv"] == "Ed25519")
        .find_map(|k| k["x"].as_str().and_then(secret::b64url_decode))
        .ok_or_else(|| Invalid::UnknownKey(kid.to_string()))?;
    let signed = format!("{header_part}.{payload}");
    signature::UnparsedPublicKey::new(&signature::ED25519, &x)
        .verify(signed.as_bytes(), &signature_bytes)
        .map_err(|_| Invalid::Signature)?;
    secret::b64url_decode(payload)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| malformed("the payload is not a receipt's claims"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> String {
        canonical(text).unwrap()
    }

    #[test]
    fn numbers_are_written_as_ecmascript_writes_doubles() {
        // RFC 8785 section 3.2.2.3 and appendix B.
        for (input, expected) in [
            ("1E30", "1e+30"),
            ("1e30", "1e+30"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("0.000000000000000000000000001", "1e-27"),
            ("333333333.33333329", "333333333.3333333"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("0", "0"),
            ("100", "100"),
            ("1e20", "100000000000000000000"),
            ("1e21", "1e+21"),
            ("9007199254740992", "9007199254740992"),
            ("-9007199254740992", "-9007199254740992"),
            ("9007199254740993", "9007199254740992"),
            ("295147905179352825856", "295147905179352830000"),
            ("9.999999999999997e+22", "9.999999999999997e+22"),
            ("1e23", "1e+23"),
            ("9.999999999999997e-7", "9.999999999999997e-7"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e+308", "1.7976931348623157e+308"),
        ] {
            assert_eq!(c(input), expected, "{input}");
        }
    }

    #[test]
    fn numbers_beyond_a_double_have_no_canonical_form() {
        assert!(canonical("1e400").is_err());
        assert!(canonical("[-1e400]").is_err());
    }

    #[test]
    fn the_rfc_8785_example_is_canonicalized_as_the_rfc_shows() {
        // RFC 8785 section 3.2.2.
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            c(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn members_are_sorted_by_utf16_code_units() {
        // RFC 8785 section 3.2.3: the emoji (a surrogate pair, D83D) sorts before
        // U+FB33, which code points (or UTF-8 bytes) would put after it.
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let keys: Vec<String> = {
            let out = c(input);
            // Parsed back in order (preserve_order keeps the canonical order).
            let value: serde_json::Map<String, Value> = serde_json::from_str(&out).unwrap();
            value.keys().cloned().collect()
        };
        assert_eq!(
            keys,
            [
                "\r",
                "1",
                "\u{80}",
                "\u{f6}",
                "\u{20ac}",
                "\u{1f600}",
                "\u{fb33}"
            ]
        );
        assert!(c(input).starts_with(r#"{"\r":"Carriage Return","1":"One","#));
    }

    #[test]
    fn nested_objects_are_sorted_and_white_space_goes() {
        assert_eq!(
            c(r#" { "b" : [ 1 , { "z": 1, "a": 2.0 } ], "a" : "x" } "#),
            r#"{"a":"x","b":[1,{"a":2,"z":1}]}"#
        );
        assert_eq!(c("null"), "null");
    }

    #[test]
    fn digests_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            context_sha256(None).unwrap(),
            "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"
        );
        // The same context however it was spelled.
        assert_eq!(
            context_sha256(Some(r#"{"b": 1.0, "a": [4.50]}"#)).unwrap(),
            context_sha256(Some(r#"{"a":[4.5],"b":1}"#)).unwrap()
        );
        assert_eq!(
            context_sha256(Some(r#"{"a":[4.5],"b":1}"#)).unwrap(),
            sha256_hex(r#"{"a":[4.5],"b":1}"#)
        );
    }

    fn claims() -> Claims {
        Claims {
            iss: "http://127.0.0.1:8080".into(),
            watch_id: "wch_abc".into(),
            status: "approved".into(),
            resolved_at: "2026-03-30T21:00:00.000Z".into(),
            resolved_by: Some("alice@example.com".into()),
            key_id: "key_1".into(),
            action_sha256: sha256_hex("Deploy"),
            context_sha256: context_sha256(None).unwrap(),
            response_sha256: None,
        }
    }

    fn jwks_of(signer: &Signer) -> Value {
        json!({ "keys": [signer.jwk()] })
    }

    #[test]
    fn a_receipt_verifies_with_its_key_and_only_with_it() {
        let signer = Signer::from_pkcs8(&generate_key().unwrap()).unwrap();
        let receipt = signer.sign(&claims());
        assert_eq!(verify(&receipt, &jwks_of(&signer)), Ok(claims()));
        // Deterministic: the same claims, the same receipt.
        assert_eq!(signer.sign(&claims()), receipt);

        let header: Value = serde_json::from_slice(
            &secret::b64url_decode(receipt.split('.').next().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            header,
            json!({ "alg": "EdDSA", "kid": signer.kid(), "typ": "JWT" })
        );

        // Another key: not in the set, or in it under the same kid.
        let other = Signer::from_pkcs8(&generate_key().unwrap()).unwrap();
        assert_eq!(
            verify(&receipt, &jwks_of(&other)),
            Err(Invalid::UnknownKey(signer.kid().to_string()))
        );
        let mut impostor = other.jwk();
        impostor.kid = signer.kid().to_string();
        assert_eq!(
            verify(&receipt, &json!({ "keys": [impostor] })),
            Err(Invalid::Signature)
        );

        // A changed payload or signature.
        let parts: Vec<&str> = receipt.split('.').collect();
        let mut changed = claims();
        changed.status = "rejected".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            secret::b64url(serde_json::to_string(&changed).unwrap().as_bytes()),
            parts[2]
        );
        assert_eq!(verify(&forged, &jwks_of(&signer)), Err(Invalid::Signature));
        let mut sig = secret::b64url_decode(parts[2]).unwrap();
        sig[0] ^= 1;
        let tampered = format!("{}.{}.{}", parts[0], parts[1], secret::b64url(&sig));
        assert_eq!(
            verify(&tampered, &jwks_of(&signer)),
            Err(Invalid::Signature)
        );
        assert!(matches!(
            verify("not.a-receipt", &jwks_of(&signer)),
            Err(Invalid::Malformed(_))
        ));
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = secret::b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        assert_eq!(
            thumbprint(&x),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let signer = Signer::from_pkcs8(&generate_key().unwrap()).unwrap();
        let x = secret::b64url_decode(&signer.jwk().x).unwrap();
        assert_eq!(signer.kid(), thumbprint(&x));
    }
}
