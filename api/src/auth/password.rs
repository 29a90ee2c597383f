//! Passwords people choose: argon2id at OWASP's parameters (19 MiB, t=2,
//! p=1), computed on a pool of dedicated threads, one per core, and never on
//! the async executor, so a burst of sign-ins queues instead of starving
//! everything else. Verifying for an unknown account hashes against a dummy
//! so the time taken does not reveal which accounts exist.
//!
//! Why dedicated threads rather than `spawn_blocking` under a semaphore: a
//! worker takes the next hash the moment it finishes one (no wake-up of an
//! async task in between), and each worker's 19 MiB stays warm in its own
//! allocator arena instead of being faulted in afresh on whichever of the
//! blocking pool's many threads runs the next hash. Measured in the `load`
//! benchmark: sign-in throughput went from 0.73 to 0.90 of bare argon2id
//! (docs/decisions.md; the current figure is in docs/benchmarks.md).

use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{mpsc, oneshot};

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

/// Hashes waiting for a worker, at most; beyond it callers wait their turn
/// without holding more memory.
const QUEUE: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

/// The password hasher the server shares. Cloning is cheap; the workers
/// stop when the last clone is dropped.
#[derive(Clone)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
    /// A hash of nothing anyone knows, verified against for unknown accounts.
    dummy: Arc<str>,
}

impl Passwords {
    /// `concurrency` worker threads (0: one per core).
    pub fn new(concurrency: usize) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            concurrency
        };
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // One worker waits on the queue at a time; the
                        // others wait for it to take a job.
                        let job = queue
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .blocking_recv();
                        match job {
                            Some(job) => job(),
                            None => break,
                        }
                    }
                })
                .expect("a password worker thread starts");
        }
        let dummy = hash_blocking(&crate::auth::draw_secret(16));
        Self {
            jobs,
            dummy: dummy.into(),
        }
    }

    async fn on_worker<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .send(job)
            .await
            .unwrap_or_else(|_| panic!("the password workers stopped while in use"));
        result.await.expect("argon2 does not panic")
    }

    /// The PHC string to store for a new password.
    pub async fn hash(&self, password: SecretString) -> String {
        self.on_worker(move || hash_blocking(&password)).await
    }

    /// Whether `password` matches `stored`; with no stored hash (an unknown
    /// account) it takes as long and answers false.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> bool {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.to_string());
        let matches = self
            .on_worker(move || verify_blocking(&password, &phc))
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
        let thread = passwords
            .on_worker(|| std::thread::current().name().map(str::to_owned))
            .await;
        assert_eq!(thread.as_deref(), Some("argon2-0"), "on a password worker");
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
