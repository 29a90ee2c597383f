//! Authentication: who is calling. Key material ([`keys`]), password hashing
//! ([`password`]), access tokens ([`tokens`]), sign-in throttling
//! ([`throttle`]) and API client secrets ([`new_api_client_secret`]).
//!
//! Which hash for which secret (DESIGN.md): a secret a person chose is hashed
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
use rand_core::{OsRng, RngCore};
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
