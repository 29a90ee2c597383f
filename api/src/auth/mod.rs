//! Authentication: who is calling. Key material ([`keys`]), password hashing
//! ([`password`]), access tokens ([`tokens`]), sign-in throttling
//! ([`throttle`]) and API client secrets ([`new_api_client_secret`]).
//!
//! Which hash for which secret (docs/design.md): a secret a person chose is hashed
//! with argon2id on a bounded blocking pool, slow to guess; a secret the server
//! drew from the CSPRNG (≥ 128 bits) cannot be guessed, so it is kept as an
//! HMAC-SHA-256 under a server key and compared in constant time. What must be
//! read back (signing keys) is sealed with XChaCha20-Poly1305. Nothing here
//! logs or prints a secret: secret types are `secrecy` wrappers.

pub mod keys;
pub mod password;
pub mod throttle;
pub mod tokens;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{RngCore, rngs::OsRng};
use secrecy::SecretString;

/// A fresh secret of `bytes` random bytes from the OS CSPRNG, base64url.
pub fn draw_secret(bytes: usize) -> SecretString {
    let mut raw = vec![0u8; bytes];
    OsRng.fill_bytes(&mut raw);
    let encoded = URL_SAFE_NO_PAD.encode(&raw);
    raw.fill(0);
    SecretString::from(encoded)
}

/// The keyed-hash purpose of API client secrets.
pub const API_CLIENT_SECRET: &str = "api-client";

/// A new API client secret: 256 bits from the OS CSPRNG, base64url, after a
/// `cst_` prefix that secret scanners (and people) recognise.
pub fn new_api_client_secret() -> SecretString {
    use secrecy::ExposeSecret;
    let body = draw_secret(32);
    SecretString::from(format!("cst_{}", body.expose_secret()))
}

/// The keyed-hash purpose of SCIM provisioning tokens.
pub const SCIM_TOKEN: &str = "scim-token";

/// A new SCIM provisioning token: as an API client's secret, after a
/// `csc_` prefix.
pub fn new_scim_token() -> SecretString {
    use secrecy::ExposeSecret;
    let body = draw_secret(32);
    SecretString::from(format!("csc_{}", body.expose_secret()))
}

/// The keyed-hash purpose of the platform operator's API client secrets.
pub const OPERATOR_CLIENT_SECRET: &str = "operator-client";

/// A new secret of one of the operator's API clients: as an API client's,
/// after a `cso_` prefix.
pub fn new_operator_client_secret() -> SecretString {
    use secrecy::ExposeSecret;
    let body = draw_secret(32);
    SecretString::from(format!("cso_{}", body.expose_secret()))
}

/// The keyed-hash purpose of a reset's secret (temporary password or link
/// token).
pub const RESET_SECRET: &str = "reset-secret";

/// The keyed-hash purpose of an invitation's link token.
pub const INVITATION_SECRET: &str = "invitation-secret";

/// The keyed-hash purpose of an admin's invitation's link token.
pub const ADMIN_INVITATION_SECRET: &str = "admin-invitation-secret";

/// The keyed-hash domain of recovery-key verifiers (drawn by the client from
/// its CSPRNG, at least 128 bits: HMAC, not argon2).
pub const RECOVERY_VERIFIER: &str = "recovery-verifier";

/// The classes of a temporary password, without the characters people
/// confuse (I l 1, O o 0) and without characters that need quoting in a
/// shell or escaping in a URL or HTML.
const PASSWORD_CLASSES: [&[u8]; 4] = [
    b"ABCDEFGHJKLMNPQRSTUVWXYZ",
    b"abcdefghijkmnpqrstuvwxyz",
    b"23456789",
    b"-_.=+",
];

/// The length of a temporary password: 20 characters over 61 symbols, about
/// 118 bits (a password is redrawn until every class is present, which
/// costs well under one bit).
pub const TEMPORARY_PASSWORD_LENGTH: usize = 20;

/// A new temporary password: 20 characters from the OS CSPRNG over an
/// unambiguous alphabet, each a uniform pick, with every class (upper,
/// lower, digit, symbol) present.
pub fn temporary_password() -> SecretString {
    use rand::seq::SliceRandom;
    let alphabet: Vec<u8> = PASSWORD_CLASSES.concat();
    loop {
        let drawn: Vec<u8> = (0..TEMPORARY_PASSWORD_LENGTH)
            .map(|_| {
                *alphabet
                    .choose(&mut rand::rngs::OsRng)
                    .expect("the alphabet is not empty")
            })
            .collect();
        let complete = PASSWORD_CLASSES
            .iter()
            .all(|class| drawn.iter().any(|c| class.contains(c)));
        let password = String::from_utf8(drawn).expect("the alphabet is ASCII");
        if complete {
            return SecretString::from(password);
        }
        zeroize_string(password);
    }
}

fn zeroize_string(s: String) {
    let mut bytes = s.into_bytes();
    bytes.fill(0);
}

/// A new single-use link token: 256 bits from the OS CSPRNG, base64url.
pub fn link_token() -> SecretString {
    draw_secret(32)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn temporary_passwords_have_every_class_and_no_confusable_character() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let password = temporary_password();
            let text = password.expose_secret();
            assert_eq!(text.chars().count(), TEMPORARY_PASSWORD_LENGTH);
            for class in PASSWORD_CLASSES {
                assert!(
                    text.bytes().any(|c| class.contains(&c)),
                    "{class:?} in every password"
                );
            }
            assert!(!text.contains(['I', 'l', '1', 'O', 'o', '0']));
            assert!(seen.insert(text.to_owned()), "no repeats");
        }
    }

    #[test]
    fn every_symbol_is_drawn() {
        let mut counts = std::collections::HashMap::new();
        for _ in 0..3_000 {
            for c in temporary_password().expose_secret().chars() {
                *counts.entry(c).or_insert(0) += 1;
            }
        }
        assert_eq!(counts.len(), PASSWORD_CLASSES.concat().len());
    }

    #[test]
    fn link_tokens_are_256_bits() {
        let token = link_token();
        assert_eq!(token.expose_secret().len(), 43);
        assert_ne!(token.expose_secret(), link_token().expose_secret());
    }
}
