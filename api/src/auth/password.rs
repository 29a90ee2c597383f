//! Passwords people choose: argon2id at OWASP's parameters (19 MiB, t=2,
//! p=1), computed on the blocking pool and never on the async executor, at
//! most one hash per core at a time so a burst of sign-ins queues instead of
//! starving everything else. Verifying for an unknown account hashes against
//! a dummy so the time taken does not reveal which accounts exist.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// OWASP's minimum for argon2id (Password Storage Cheat Sheet).
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

fn argon2id() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("OWASP's parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password now, on this thread: for the CLI and benchmarks. Async
/// code uses [`Passwords`].
pub fn hash_blocking(password: &SecretString) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2id()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .expect("argon2id hashing does not fail with valid parameters")
        .to_string()
}

/// Whether `password` matches a PHC string; a malformed string never matches.
pub fn verify_blocking(password: &SecretString, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        argon2id()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
}

/// The password hasher the server shares. Cloning is cheap.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A hash of nothing anyone knows, verified against for unknown accounts.
    dummy: Arc<str>,
}

impl Passwords {
    /// At most `concurrency` hashes at once (0: one per core).
    pub fn new(concurrency: usize) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            concurrency
        };
        let dummy = hash_blocking(&crate::auth::draw_secret(16));
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            dummy: dummy.into(),
        }
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        actix_web::rt::task::spawn_blocking(work)
            .await
            .expect("argon2 does not panic")
    }

    /// The PHC string to store for a new password.
    pub async fn hash(&self, password: SecretString) -> String {
        self.on_blocking_pool(move || hash_blocking(&password))
            .await
    }

    /// Whether `password` matches `stored`; with no stored hash (an unknown
    /// account) it takes as long and answers false.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> bool {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.to_string());
        let matches = self
            .on_blocking_pool(move || verify_blocking(&password, &phc))
            .await;
        known && matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters() {
        let password = SecretString::from("correct horse battery staple");
        let phc = hash_blocking(&password);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking(&password, &phc));
        assert!(!verify_blocking(&SecretString::from("wrong"), &phc));
        assert!(!verify_blocking(&password, "not a phc string"));
        assert_ne!(phc, hash_blocking(&password), "salted");
    }

    #[actix_web::test]
    async fn verification_runs_off_the_executor_and_unknown_accounts_fail() {
        let passwords = Passwords::new(1);
        let phc = passwords.hash(SecretString::from("pw")).await;
        assert!(
            passwords
                .verify(SecretString::from("pw"), Some(phc.clone()))
                .await
        );
        assert!(
            !passwords
                .verify(SecretString::from("nope"), Some(phc))
                .await
        );
        // The dummy path still hashes, and never matches.
        let dummy = passwords.dummy.to_string();
        assert!(!passwords.verify(SecretString::from("pw"), None).await);
        assert!(dummy.starts_with("$argon2id$"));
    }
}
