//! Password hashes: PBKDF2-HMAC-SHA256 from ring, 600,000 iterations, a random 16-byte
//! salt, stored as `pbkdf2-sha256$600000$<salt>$<hash>` (standard base64).

use std::num::NonZeroU32;

use ring::pbkdf2;

use crate::secret;

pub const ITERATIONS: u32 = 600_000;
const SCHEME: &str = "pbkdf2-sha256";
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

pub const MIN_LEN: usize = 10;
pub const MAX_BYTES: usize = 1024;

/// The rule a new password must meet, worded for people.
pub const RULE: &str = "at least 10 characters (a passphrase of a few words is good)";

pub fn check_policy(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LEN {
        return Err(format!("the password is too short: use {RULE}"));
    }
    if password.len() > MAX_BYTES {
        return Err(format!("the password is longer than {MAX_BYTES} bytes"));
    }
    Ok(())
}

pub fn hash(password: &str) -> String {
    hash_with(password, ITERATIONS)
}

/// A new password that met the policy, hashed. Hashing takes a fifth of a second:
/// make one on a blocking thread or in the CLI, never on the writer thread.
#[derive(Debug, Clone)]
pub struct Hashed(String);

impl Hashed {
    pub fn new(password: &str) -> Result<Hashed, String> {
        check_policy(password)?;
        Ok(Hashed(hash(password)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hash_with(password: &str, iterations: u32) -> String {
    let salt = secret::bytes(SALT_LEN);
    let mut out = [0u8; HASH_LEN];
    let rounds = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &mut out,
    );
    format!(
        "{SCHEME}${iterations}${}${}",
        secret::b64(&salt),
        secret::b64(&out)
    )
}

/// Checks `password` against a stored hash in constant time (ring's `pbkdf2::verify`).
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let Some(rounds) = iterations.parse().ok().and_then(NonZeroU32::new) else {
        return false;
    };
    let (Some(salt), Some(hash)) = (secret::b64_decode(salt), secret::b64_decode(hash)) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_right_password_only() {
        let stored = hash_with("correct horse battery", 1_000);
        assert!(stored.starts_with("pbkdf2-sha256$1000$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterx", &stored));
        assert!(!verify("correct horse battery", "garbage"));
        assert_ne!(stored, hash_with("correct horse battery", 1_000), "salted");
    }

    #[test]
    fn production_hash_uses_600k_rounds() {
        assert!(hash("a long enough password").starts_with("pbkdf2-sha256$600000$"));
    }

    #[test]
    fn policy_counts_characters() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("ten chars!").is_ok());
        assert!(check_policy(&"x".repeat(2000)).is_err());
    }
}
