//! Sign-in throttling: failed sign-ins are counted per account and per client
//! address; past a few, further attempts wait a delay that doubles with each
//! failure (429 with `Retry-After`), checked before any argon2 work. Nothing
//! locks an account for good: counts fade once a window passes without
//! failures, and a success clears the account's count, so an attacker can
//! slow a real admin's sign-in but never shut them out.
//!
//! The counts live in this process: behind a load balancer each instance
//! throttles what it sees (the limits then multiply by the instances).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before any delay.
pub const FREE_FAILURES: u32 = 5;
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten after this long without another.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// A client address gets more failures than an account (several admins may
/// share an office's address).
pub const ADDRESS_FACTOR: u32 = 4;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
}

/// What may be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Try again after this long.
    Wait(Duration),
}

/// The process's sign-in failure counts.
#[derive(Debug, Default)]
pub struct Throttle {
    records: Mutex<HashMap<String, Record>>,
}

fn delay(failures: u32, free: u32) -> Duration {
    if failures < free {
        return Duration::ZERO;
    }
    let doublings = (failures - free).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_DELAY)
}

impl Throttle {
    fn verdict_for(&self, key: &str, free: u32, now: Instant) -> Verdict {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let Some(record) = records.get(key) else {
            return Verdict::Allowed;
        };
        if now.duration_since(record.last_failure) >= WINDOW {
            return Verdict::Allowed;
        }
        let until = record.last_failure + delay(record.failures, free);
        if now < until {
            Verdict::Wait(until - now)
        } else {
            Verdict::Allowed
        }
    }

    /// Whether an attempt for `account` from `address` may go on at `now`.
    pub fn check(&self, account: &str, address: &str, now: Instant) -> Verdict {
        let by_account = self.verdict_for(&format!("account:{account}"), FREE_FAILURES, now);
        let by_address = self.verdict_for(
            &format!("address:{address}"),
            FREE_FAILURES * ADDRESS_FACTOR,
            now,
        );
        match (by_account, by_address) {
            (Verdict::Wait(a), Verdict::Wait(b)) => Verdict::Wait(a.max(b)),
            (Verdict::Wait(a), _) | (_, Verdict::Wait(a)) => Verdict::Wait(a),
            _ => Verdict::Allowed,
        }
    }

    /// Counts a failed attempt.
    pub fn failed(&self, account: &str, address: &str, now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        for key in [format!("account:{account}"), format!("address:{address}")] {
            let record = records.entry(key).or_insert(Record {
                failures: 0,
                last_failure: now,
            });
            if now.duration_since(record.last_failure) >= WINDOW {
                record.failures = 0;
            }
            record.failures = record.failures.saturating_add(1);
            record.last_failure = now;
        }
        // Bounded memory: drop what has faded.
        if records.len() > 100_000 {
            records.retain(|_, r| now.duration_since(r.last_failure) < WINDOW);
        }
    }

    /// A success clears the account's failures (not the address's).
    pub fn succeeded(&self, account: &str) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.remove(&format!("account:{account}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_free_ones_wait_doubling_delays() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for i in 0..FREE_FAILURES {
            assert_eq!(
                throttle.check("alice", "10.0.0.1", start),
                Verdict::Allowed,
                "attempt {i}"
            );
            throttle.failed("alice", "10.0.0.1", start);
        }
        assert_eq!(
            throttle.check("alice", "10.0.0.1", start),
            Verdict::Wait(Duration::from_secs(1))
        );
        let later = start + Duration::from_secs(1);
        assert_eq!(throttle.check("alice", "10.0.0.1", later), Verdict::Allowed);
        throttle.failed("alice", "10.0.0.1", later);
        assert_eq!(
            throttle.check("alice", "10.0.0.1", later),
            Verdict::Wait(Duration::from_secs(2))
        );
        // Another account from another address is not affected.
        assert_eq!(throttle.check("bob", "10.0.0.2", later), Verdict::Allowed);
    }

    #[test]
    fn nothing_locks_for_good() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for _ in 0..60 {
            throttle.failed("alice", "10.0.0.1", start);
        }
        assert_eq!(
            throttle.check("alice", "10.0.0.9", start),
            Verdict::Wait(MAX_DELAY),
            "capped"
        );
        assert_eq!(
            throttle.check("alice", "10.0.0.9", start + WINDOW),
            Verdict::Allowed,
            "faded"
        );
        throttle.failed("carol", "10.0.0.3", start);
        throttle.succeeded("alice");
        assert_eq!(
            throttle.check("alice", "10.0.0.9", start),
            Verdict::Allowed,
            "a success clears the account"
        );
    }

    #[test]
    fn an_address_spraying_accounts_is_slowed() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for i in 0..(FREE_FAILURES * ADDRESS_FACTOR) {
            throttle.failed(&format!("user{i}"), "203.0.113.7", start);
        }
        assert!(matches!(
            throttle.check("fresh", "203.0.113.7", start),
            Verdict::Wait(_)
        ));
        assert_eq!(
            throttle.check("fresh", "198.51.100.1", start),
            Verdict::Allowed
        );
    }
}
