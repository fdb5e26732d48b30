//! Bearer tokens: `tn_<credential id, 32 hex>_<secret, 64 hex>`. The id
//! finds the stored credential; the 256-bit random secret is stored only as
//! SHA-256 over a per-credential random salt and the secret.
//!
//! A fast hash is enough here: slow password hashes (argon2, bcrypt) exist
//! to make guessing low-entropy passwords expensive, and a 256-bit random
//! secret cannot be guessed at any hashing speed. The salt keeps two stored
//! hashes from ever being compared or precomputed across credentials.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every token starts with this, so leaked tokens are easy to recognise
/// (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "tn_";
const ID_HEX: usize = 32;
const SECRET_BYTES: usize = 32;
const SALT_BYTES: usize = 16;

/// A freshly issued token and what is stored of it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// Shown to the caller once, never stored.
    pub token: String,
    /// The credential id (lower-case hyphenated UUID).
    pub credential_id: String,
    pub salt_hex: String,
    pub hash_hex: String,
}

/// Generates a token for a new credential (a UUIDv7 id and a random secret).
pub fn issue() -> IssuedToken {
    let id = uuid::Uuid::now_v7();
    let mut secret = [0_u8; SECRET_BYTES];
    let mut salt = [0_u8; SALT_BYTES];
    // ThreadRng is a CSPRNG (ChaCha12) reseeded from the operating system.
    let mut rng = rand::rng();
    rng.fill_bytes(&mut secret);
    rng.fill_bytes(&mut salt);
    let secret_hex = hex::encode(secret);
    IssuedToken {
        token: format!("{TOKEN_PREFIX}{}_{secret_hex}", id.simple()),
        credential_id: id.hyphenated().to_string(),
        salt_hex: hex::encode(salt),
        hash_hex: hash(&salt, secret_hex.as_bytes()),
    }
}

/// The parts of a well-formed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken<'a> {
    pub credential_id: String,
    pub secret: &'a str,
}

/// Splits a token into its credential id and secret; `None` when it is not
/// shaped like a tasknet token at all.
pub fn parse(token: &str) -> Option<ParsedToken<'_>> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let is_hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    if id.len() != ID_HEX || secret.len() != SECRET_BYTES * 2 || !is_hex(id) || !is_hex(secret) {
        return None;
    }
    let id = uuid::Uuid::parse_str(id).ok()?;
    Some(ParsedToken {
        credential_id: id.hyphenated().to_string(),
        secret,
    })
}

/// Whether `secret` matches the stored salt and hash. Compares in constant
/// time, so the comparison leaks nothing about how much of a guess matched.
pub fn verify(secret: &str, salt_hex: &str, hash_hex: &str) -> bool {
    let Ok(salt) = hex::decode(salt_hex) else {
        return false;
    };
    let computed = hash(&salt, secret.as_bytes());
    constant_time_eq(computed.as_bytes(), hash_hex.as_bytes())
}

fn hash(salt: &[u8], secret: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"tasknet-credential-v1\0");
    hasher.update(salt);
    hasher.update(secret);
    hex::encode(hasher.finalize())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_parse_and_verify() {
        let issued = issue();
        assert!(issued.token.starts_with("tn_"));
        assert_eq!(issued.token.len(), 3 + 32 + 1 + 64);
        let parsed = parse(&issued.token).unwrap();
        assert_eq!(parsed.credential_id, issued.credential_id);
        assert!(verify(parsed.secret, &issued.salt_hex, &issued.hash_hex));
    }

    #[test]
    fn a_changed_secret_or_salt_fails() {
        let issued = issue();
        let other = issue();
        let parsed = parse(&issued.token).unwrap();
        let forged = parse(&other.token).unwrap();
        assert!(!verify(forged.secret, &issued.salt_hex, &issued.hash_hex));
        assert!(!verify(parsed.secret, &other.salt_hex, &issued.hash_hex));
        assert!(!verify(parsed.secret, "zz", &issued.hash_hex));
    }

    proptest::proptest! {
        /// Any text: parsing never panics, and nothing but an issued
        /// token's own secret verifies against its hash.
        #[test]
        fn arbitrary_text_never_verifies(text in ".{0,120}", secret in "[0-9a-f]{64}") {
            let issued = issue();
            if let Some(parsed) = parse(&text) {
                proptest::prop_assert!(!verify(parsed.secret, &issued.salt_hex, &issued.hash_hex));
            }
            proptest::prop_assert!(!verify(&secret, &issued.salt_hex, &issued.hash_hex));
        }
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        let good = issue().token;
        for bad in [
            "",
            "tn_",
            "Bearer x",
            &good[1..],
            &good[..good.len() - 1],
            &good.to_uppercase(),
            &good.replace('_', "-"),
            &format!("{good}0"),
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
