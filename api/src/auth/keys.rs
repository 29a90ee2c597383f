//! The server's own secret, and the keys derived from it.
//!
//! One 32-byte master key, from `CUSTODIAN_SECRET_KEY` (base64) or else a file
//! `secret.key` generated in the data directory at first start (mode 0600).
//! Several instances on one PostgreSQL database must share it, so they set
//! the variable. HKDF-SHA-256 derives a separate key for each use, so a key
//! never serves two purposes.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::{RngCore, rngs::OsRng};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The name of the generated key file in the data directory.
pub const KEY_FILE: &str = "secret.key";

const NONCE_LEN: usize = 24;

/// Keys derived from the master key. `Debug` shows nothing.
pub struct ServerKeys {
    hmac_key: SecretBox<[u8; 32]>,
    sealing: XChaCha20Poly1305,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeys(***)")
    }
}

/// The key material could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("CUSTODIAN_SECRET_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)")]
    BadConfiguredKey,
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

/// Sealed data that does not open: wrong key, wrong context, or altered.
#[derive(Debug, thiserror::Error)]
#[error("sealed data does not open")]
pub struct SealError;

/// Parses a configured key: base64 of exactly 32 bytes.
pub fn parse_master_key(encoded: &str) -> Result<SecretBox<[u8; 32]>, KeyError> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| KeyError::BadConfiguredKey)?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadConfiguredKey)?;
    Ok(SecretBox::new(Box::new(key)))
}

impl ServerKeys {
    /// The configured key, or the data directory's key file (created now
    /// when absent).
    pub fn load(configured: Option<&SecretString>, data_dir: &Path) -> Result<Self, KeyError> {
        let master = match configured {
            Some(encoded) => parse_master_key(encoded.expose_secret())?,
            None => load_or_create_key_file(&data_dir.join(KEY_FILE))?,
        };
        Ok(Self::derive(&master))
    }

    /// Derives the purpose keys from a master key.
    pub fn derive(master: &SecretBox<[u8; 32]>) -> Self {
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(b"custodian"), master.expose_secret());
        let mut hmac_key = Box::new([0u8; 32]);
        let mut sealing_key = [0u8; 32];
        hkdf.expand(b"custodian v1 hmac of drawn secrets", hmac_key.as_mut())
            .expect("32 bytes is a valid HKDF length");
        hkdf.expand(b"custodian v1 sealing at rest", &mut sealing_key)
            .expect("32 bytes is a valid HKDF length");
        let sealing = XChaCha20Poly1305::new(&sealing_key.into());
        sealing_key.fill(0);
        Self {
            hmac_key: SecretBox::new(hmac_key),
            sealing,
        }
    }

    fn mac(&self, purpose: &str, secret: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.hmac_key.expose_secret())
            .expect("HMAC takes any key length");
        // The purpose separates domains: an API client secret's hash never
        // verifies as a reset link's.
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(secret);
        mac
    }

    /// HMAC-SHA-256 of a drawn secret, for storage.
    pub fn keyed_hash(&self, purpose: &str, secret: &[u8]) -> Vec<u8> {
        self.mac(purpose, secret).finalize().into_bytes().to_vec()
    }

    /// Whether `secret` has the stored hash, compared in constant time.
    pub fn verify_keyed_hash(&self, purpose: &str, secret: &[u8], stored: &[u8]) -> bool {
        self.mac(purpose, secret).verify_slice(stored).is_ok()
    }

    /// [`Self::verify_keyed_hash`] against the hash of an account that may
    /// not exist: for none, the same HMAC work, and `false`, so an unknown
    /// id takes as long as a wrong secret.
    pub fn verify_keyed_hash_of(
        &self,
        purpose: &str,
        secret: &[u8],
        stored: Option<&[u8]>,
    ) -> bool {
        match stored {
            Some(stored) => self.verify_keyed_hash(purpose, secret, stored),
            None => {
                let _ = self.keyed_hash(purpose, secret);
                false
            }
        }
    }

    /// Encrypts `plaintext` bound to `context` (e.g. the row it belongs to,
    /// so a sealed value cannot be moved to another row): nonce ‖ ciphertext.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .sealing
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`ServerKeys::seal`] sealed with the same context.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(SealError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.sealing
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError)
    }
}

fn load_or_create_key_file(path: &Path) -> Result<SecretBox<[u8; 32]>, KeyError> {
    let fail = |reason: String| KeyError::File {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => crate::private_fs::narrow(path)
            .map_err(|e| fail(format!("cannot make it the owner's only: {e}")))
            .and_then(|()| {
                parse_master_key(&text).map_err(|_| fail("is not 32 bytes in base64; restore it, or move it away to start with a new key (sealed data then cannot be opened)".into()))
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut key = Box::new([0u8; 32]);
            OsRng.fill_bytes(key.as_mut());
            let encoded = STANDARD.encode(key.as_ref());
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|e| fail(format!("cannot create: {e}")))?;
            file.write_all(encoded.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| fail(format!("cannot write: {e}")))?;
            tracing::info!(path = %path.display(), "generated the server key");
            Ok(SecretBox::new(key))
        }
        Err(error) => Err(fail(format!("cannot read: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ServerKeys {
        ServerKeys::derive(&SecretBox::new(Box::new([7u8; 32])))
    }

    #[test]
    fn keyed_hashes_verify_and_separate_purposes() {
        let keys = keys();
        let stored = keys.keyed_hash("api-client", b"s3cret");
        assert_eq!(stored.len(), 32);
        assert!(keys.verify_keyed_hash("api-client", b"s3cret", &stored));
        assert!(!keys.verify_keyed_hash("api-client", b"s3cres", &stored));
        assert!(!keys.verify_keyed_hash("reset-link", b"s3cret", &stored));
        let other = ServerKeys::derive(&SecretBox::new(Box::new([8u8; 32])));
        assert!(!other.verify_keyed_hash("api-client", b"s3cret", &stored));
    }

    #[test]
    fn sealed_data_opens_only_in_its_context() {
        let keys = keys();
        let sealed = keys.seal("signing_keys/k1", b"private");
        assert_ne!(&sealed[NONCE_LEN..NONCE_LEN + 7], b"private");
        assert_eq!(keys.open("signing_keys/k1", &sealed).unwrap(), b"private");
        assert!(keys.open("signing_keys/k2", &sealed).is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(keys.open("signing_keys/k1", &altered).is_err());
        assert!(keys.open("signing_keys/k1", &sealed[..10]).is_err());
    }

    #[test]
    fn the_key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerKeys::load(None, dir.path()).unwrap();
        let sealed = first.seal("c", b"x");
        let again = ServerKeys::load(None, dir.path()).unwrap();
        assert_eq!(
            again.open("c", &sealed).unwrap(),
            b"x",
            "the same key after a restart"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(KEY_FILE), "garbage").unwrap();
        let error = ServerKeys::load(None, dir.path()).unwrap_err().to_string();
        assert!(error.contains("secret.key: is not 32 bytes"), "{error}");
    }

    #[test]
    fn a_configured_key_wins_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let configured = SecretString::from(STANDARD.encode([9u8; 32]));
        ServerKeys::load(Some(&configured), dir.path()).unwrap();
        assert!(
            !dir.path().join(KEY_FILE).exists(),
            "no file when configured"
        );
        let short = SecretString::from(STANDARD.encode([9u8; 16]));
        assert!(ServerKeys::load(Some(&short), dir.path()).is_err());
        assert!(format!("{:?}", keys()).contains("***"));
    }
}
