//! Random identifiers and secrets, their hashes, and constant-time comparison.
//! Everything here is built on ring and rand's OS generator; nothing is hand-rolled.

use base64::Engine as _;
use rand::distr::{Alphanumeric, SampleString};
use rand::TryRngCore;
use ring::{digest, hmac};

/// `len` random base62 characters from rand's thread-local CSPRNG (ChaCha, seeded
/// and periodically reseeded from the operating system).
pub fn base62(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// `n` random bytes from the operating system's generator.
pub fn bytes(n: usize) -> Vec<u8> {
    let mut rng = rand::rngs::OsRng.unwrap_err();
    let mut out = vec![0u8; n];
    rand::RngCore::fill_bytes(&mut rng, &mut out);
    out
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// Compares two secrets (or their hashes) in constant time: each side keys an
/// HMAC over the same message and ring's constant-time `hmac::verify` compares the
/// tags, so the time taken says nothing about where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    const MESSAGE: &[u8] = b"hitl constant-time comparison";
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, a), MESSAGE);
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, b), MESSAGE, tag.as_ref()).is_ok()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

pub fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_are_base62_and_distinct() {
        let a = base62(24);
        let b = base62(24);
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_compares_contents() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same-but-longer"));
    }
}
