//! Sign-in throttling: how many guesses at a secret the server will check.
//!
//! **An attempt is counted before it is checked.** It takes its place in
//! the budget when it begins, as a failure, and is taken back only when it
//! succeeds. However many attempts arrive at once, no more are checked
//! (argon2, a keyed hash) than the budget allows: the sixth of sixty
//! parallel guesses already waits.
//!
//! **What is counted**, each under a key of its own:
//! - the *account* on one *path* ([`Path`]: admin sign-in, API client
//!   sign-in, end-user sign-in, recovery-key registration, password change).
//!   [`FREE_FAILURES`] failures are free; then each attempt waits a delay
//!   that doubles from 1 s up to [`MAX_DELAY`] after the last failure;
//! - the client's *address* (IPv4, or the /64 of an IPv6 address, one
//!   subscriber's allocation), across paths, with [`ADDRESS_FACTOR`] times
//!   the free failures (an office's admins share an address). A reset
//!   link's token names no account: only its address is counted;
//! - an account's *known places*: an address from which the account signed
//!   in within [`KNOWN_PLACE_DAYS`]. From a known place, failures count
//!   against that place alone, not against the account. An attacker who
//!   guesses from elsewhere can slow the account's sign-in from new places,
//!   but never from the places its owner signed in from before.
//!
//! Counts fade [`WINDOW`] after the last failure; a success clears the
//! account's (or the place's) count and takes its own attempt back from
//! the address's. Nothing locks for good.
//!
//! **Keys** are keyed hashes (HMAC-SHA-256 under a key derived from the
//! server key) of the path, the identifier and the address, so neither the
//! memory nor the database holds an email, an id or an address, and a key
//! is 32 bytes whatever was sent. Callers validate identifiers (an email of
//! at most 254 bytes, a UUID) before they get here. One path's identifiers
//! can never count against another's.
//!
//! **Where counts live.** On SQLite, one process: in memory, at most
//! [`CAPACITY`] records (dead ones are swept every [`SWEEP_INTERVAL`]; a
//! full table first drops dead records, then the oldest tenth). On
//! PostgreSQL, in the database (`sign_in_throttle`), so that every
//! instance behind a load balancer draws on one budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::auth::keys::ServerKeys;
use crate::db::throttle::{self as store, Count};
use crate::db::{Backend, Db, DbError};

/// Failures allowed before any delay.
pub const FREE_FAILURES: u32 = 5;
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten after this long without another.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// A client address gets more failures than an account (several admins may
/// share an office's address).
pub const ADDRESS_FACTOR: u32 = 4;
/// How long a place an account signed in from stays known.
pub const KNOWN_PLACE_DAYS: i64 = 30;
/// The most records one process keeps (about 100 bytes each).
pub const CAPACITY: usize = 100_000;
/// How often dead records are swept.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The keyed-hash domain of throttle keys.
const KEY_PURPOSE: &str = "sign-in-throttle";

/// A sign-in path: each counts its accounts apart from the others'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `POST /v1/auth/token`, `grant_type=password`: an admin's email.
    AdminSignIn,
    /// `POST /v1/operator/token`: an operator's email.
    OperatorSignIn,
    /// `POST /v1/auth/token`, `grant_type=client_credentials`: a client id.
    ClientSignIn,
    /// `POST /v1/operator/token`, `grant_type=client_credentials`: an
    /// operator's client id.
    OperatorClientSignIn,
    /// `POST /v1/account/token`: a partner and an end user's email.
    AccountSignIn,
    /// `POST /v1/account/reset-link`: no account, the address alone.
    ResetLink,
    /// `POST /v1/account/invitation`: no account, the address alone.
    Invitation,
    /// `POST /v1/auth/invitation`: no account, the address alone.
    AdminInvitation,
    /// `PUT /v1/account/recovery-key`: the user's current key, by user id.
    RecoveryKey,
    /// `POST /v1/auth/password`: the admin's current password, by admin id.
    PasswordChange,
}

impl Path {
    fn tag(self) -> &'static [u8] {
        match self {
            Self::AdminSignIn => b"admin-sign-in",
            Self::OperatorSignIn => b"operator-sign-in",
            Self::ClientSignIn => b"client-sign-in",
            Self::OperatorClientSignIn => b"operator-client-sign-in",
            Self::AccountSignIn => b"account-sign-in",
            Self::ResetLink => b"reset-link",
            Self::Invitation => b"invitation",
            Self::AdminInvitation => b"admin-invitation",
            Self::RecoveryKey => b"recovery-key",
            Self::PasswordChange => b"password-change",
        }
    }

    /// Sign-ins, where whoever asks names the account, remember the places
    /// an account signed in from; the other paths' callers already hold a
    /// token of the account.
    fn remembers_places(self) -> bool {
        matches!(
            self,
            Self::AdminSignIn
                | Self::OperatorSignIn
                | Self::ClientSignIn
                | Self::OperatorClientSignIn
                | Self::AccountSignIn
        )
    }
}

/// One attempt at a secret.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub path: Path,
    /// The account it is for, validated by the caller; `None` for a path
    /// that names none.
    pub account: Option<&'a str>,
    /// The client's address, when known.
    pub address: Option<IpAddr>,
}

/// Whether an attempt may be checked now.
#[derive(Debug)]
pub enum Verdict {
    /// Go on; the attempt is counted as a failure until
    /// [`Throttle::succeeded`] takes it back.
    Go(Ticket),
    /// Try again after this long (429 with `Retry-After`).
    Wait(Duration),
}

/// An attempt that is under way, counted as a failure.
#[derive(Debug)]
#[must_use = "report a success with Throttle::succeeded; a dropped ticket stays a failure"]
pub struct Ticket {
    /// The account's key, or its known place's.
    limited: Option<Key>,
    address: Key,
    known: Option<Key>,
}

type Key = [u8; 32];

/// The keys one attempt touches.
#[derive(Debug, Clone, Copy)]
struct Keys {
    address: Key,
    account: Option<Key>,
    place: Option<Key>,
    known: Option<Key>,
}

impl Keys {
    /// Every key, sorted and without repeats (the order locks are taken in).
    fn all(&self) -> Vec<Key> {
        let mut all: Vec<Key> = [Some(self.address), self.account, self.place, self.known]
            .into_iter()
            .flatten()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The delay after `failures` failures of which `free` are free.
fn delay(failures: u32, free: u32) -> Duration {
    if failures < free {
        return Duration::ZERO;
    }
    let doublings = (failures - free).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_DELAY)
}

fn window() -> chrono::Duration {
    chrono::Duration::from_std(WINDOW).expect("the window fits")
}

/// The rule, whatever holds the counts: given what `read` finds for the
/// attempt's keys at `now`, the ticket and the counts to write, or how long
/// to wait.
fn decide(
    keys: &Keys,
    read: impl Fn(&Key) -> Option<Count>,
    now: NaiveDateTime,
) -> Result<(Ticket, Vec<(Key, Count)>), Duration> {
    let live = |key: &Key| read(key).filter(|count| count.expires_at > now);
    let known = keys.known.as_ref().is_some_and(|key| live(key).is_some());
    let limited = if known { keys.place } else { keys.account };
    let checks = [
        (Some(keys.address), FREE_FAILURES * ADDRESS_FACTOR),
        (limited, FREE_FAILURES),
    ];
    let mut wait = Duration::ZERO;
    let mut writes = Vec::with_capacity(2);
    for (key, free) in checks {
        let Some(key) = key else { continue };
        let count = live(&key);
        if let Some(count) = count {
            let until = count.last_at
                + chrono::Duration::from_std(delay(count.failures, free)).unwrap_or(window());
            if now < until {
                wait = wait.max((until - now).to_std().unwrap_or(MAX_DELAY));
            }
        }
        let failures = count.map_or(0, |c| c.failures).saturating_add(1);
        writes.push((
            key,
            Count {
                failures,
                last_at: now,
                expires_at: now + window(),
            },
        ));
    }
    if wait > Duration::ZERO {
        return Err(wait);
    }
    let ticket = Ticket {
        limited,
        address: keys.address,
        known: keys.known,
    };
    Ok((ticket, writes))
}

/// What a success writes: the known place's record.
fn known_place(now: NaiveDateTime) -> Count {
    Count {
        failures: 0,
        last_at: now,
        expires_at: now + chrono::Duration::days(KNOWN_PLACE_DAYS),
    }
}

/// The counts of every sign-in path.
pub struct Throttle {
    keys: Arc<ServerKeys>,
    store: Store,
}

enum Store {
    InProcess(Mutex<HashMap<Key, Count>>),
    Shared(Db),
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match &self.store {
            Store::InProcess(_) => "in process",
            Store::Shared(_) => "in the database",
        };
        f.debug_struct("Throttle").field("store", &store).finish()
    }
}

impl Throttle {
    /// Counts in memory for SQLite (one process), in the database for
    /// PostgreSQL (every instance on it).
    pub fn for_database(db: &Db, keys: Arc<ServerKeys>) -> Self {
        match db.backend() {
            Backend::Sqlite => Self::in_process(keys),
            Backend::Postgres => Self::shared(db.clone(), keys),
        }
    }

    /// Counts in this process's memory.
    pub fn in_process(keys: Arc<ServerKeys>) -> Self {
        Self {
            keys,
            store: Store::InProcess(Mutex::default()),
        }
    }

    /// Counts in `db`'s `sign_in_throttle`, shared with every process on it.
    pub fn shared(db: Db, keys: Arc<ServerKeys>) -> Self {
        Self {
            keys,
            store: Store::Shared(db),
        }
    }

    fn key(&self, parts: &[&[u8]]) -> Key {
        // Each part length-prefixed: no two attempts' parts join alike.
        let mut material = Vec::with_capacity(128);
        for part in parts {
            material.extend_from_slice(&(part.len() as u32).to_be_bytes());
            material.extend_from_slice(part);
        }
        let hash = self.keys.keyed_hash(KEY_PURPOSE, &material);
        hash.try_into().expect("HMAC-SHA-256 is 32 bytes")
    }

    fn keys(&self, attempt: &Attempt<'_>) -> Keys {
        let place = place(attempt.address);
        let tag = attempt.path.tag();
        let account = attempt.account.map(str::as_bytes);
        let remembered = account.filter(|_| attempt.path.remembers_places());
        Keys {
            address: self.key(&[b"address", &place]),
            account: account.map(|a| self.key(&[b"account", tag, a])),
            place: remembered.map(|a| self.key(&[b"place", tag, a, &place])),
            known: remembered.map(|a| self.key(&[b"known", tag, a, &place])),
        }
    }

    /// Counts `attempt` at `now` if the budget allows it.
    pub async fn begin(
        &self,
        attempt: Attempt<'_>,
        now: NaiveDateTime,
    ) -> Result<Verdict, DbError> {
        let keys = self.keys(&attempt);
        let decided = match &self.store {
            Store::InProcess(table) => {
                let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
                let decided = decide(&keys, |key| table.get(key).copied(), now);
                if let Ok((_, writes)) = &decided {
                    for (key, count) in writes {
                        insert(&mut table, *key, *count, now);
                    }
                }
                decided.map(|(ticket, _)| ticket)
            }
            Store::Shared(db) => {
                db.write(move |conn| {
                    let all = keys.all();
                    store::lock(conn, &all)?;
                    let found = store::read(conn, &all)?;
                    let read = |key: &Key| found.iter().find(|(k, _)| k == key).map(|(_, c)| *c);
                    let decided = decide(&keys, read, now);
                    if let Ok((_, writes)) = &decided {
                        for (key, count) in writes {
                            store::put(conn, key, *count)?;
                        }
                    }
                    Ok::<_, DbError>(decided.map(|(ticket, _)| ticket))
                })
                .await?
            }
        };
        Ok(match decided {
            Ok(ticket) => Verdict::Go(ticket),
            Err(wait) => Verdict::Wait(wait),
        })
    }

    /// The attempt succeeded: its account's (or place's) failures are
    /// cleared, its own count is taken back from the address, and the
    /// address becomes a known place of the account.
    pub async fn succeeded(&self, ticket: Ticket, now: NaiveDateTime) -> Result<(), DbError> {
        match &self.store {
            Store::InProcess(table) => {
                let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(key) = &ticket.limited {
                    table.remove(key);
                }
                if let Some(count) = table.get_mut(&ticket.address)
                    && count.expires_at > now
                {
                    count.failures = count.failures.saturating_sub(1);
                }
                if let Some(key) = ticket.known {
                    insert(&mut table, key, known_place(now), now);
                }
                Ok(())
            }
            Store::Shared(db) => {
                db.write(move |conn| {
                    if let Some(key) = &ticket.limited {
                        store::delete(conn, key)?;
                    }
                    store::take_back_one(conn, &ticket.address, now)?;
                    if let Some(key) = &ticket.known {
                        store::put(conn, key, known_place(now))?;
                    }
                    Ok(())
                })
                .await
            }
        }
    }

    /// Forgets every record dead by `now`; how many.
    pub async fn sweep(&self, now: NaiveDateTime) -> Result<usize, DbError> {
        match &self.store {
            Store::InProcess(table) => {
                let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
                let before = table.len();
                table.retain(|_, count| count.expires_at > now);
                Ok(before - table.len())
            }
            Store::Shared(db) => db.write(move |conn| store::sweep(conn, now)).await,
        }
    }

    /// How many records this process holds in memory (0 when shared).
    pub fn records_in_memory(&self) -> usize {
        match &self.store {
            Store::InProcess(table) => table.lock().unwrap_or_else(|e| e.into_inner()).len(),
            Store::Shared(_) => 0,
        }
    }

    /// Sweeps every [`SWEEP_INTERVAL`] while the server runs, reading the
    /// time from `clock`.
    pub fn spawn_sweeper(self: Arc<Self>, clock: crate::clock::Clock) {
        actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(SWEEP_INTERVAL).await;
                if let Err(error) = self.sweep(clock.now()).await {
                    tracing::warn!(%error, "sweeping the sign-in throttle failed");
                }
            }
        });
    }
}

/// Writes a record into a table of bounded size: a full table first loses
/// its dead records, then its oldest tenth.
fn insert(table: &mut HashMap<Key, Count>, key: Key, count: Count, now: NaiveDateTime) {
    if table.len() >= CAPACITY && !table.contains_key(&key) {
        table.retain(|_, c| c.expires_at > now);
        if table.len() >= CAPACITY {
            let mut ages: Vec<NaiveDateTime> = table.values().map(|c| c.last_at).collect();
            let tenth = ages.len() / 10;
            let (_, oldest_kept, _) = ages.select_nth_unstable(tenth);
            let cut = *oldest_kept;
            table.retain(|_, c| c.last_at > cut);
        }
    }
    table.insert(key, count);
}

/// An address as counted: IPv4 whole (an IPv4-mapped IPv6 address is its
/// IPv4 address), IPv6 by its /64; an unknown one is one place of its own.
fn place(address: Option<IpAddr>) -> Vec<u8> {
    let address = address.map(|a| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    });
    match address {
        Some(IpAddr::V4(v4)) => [&[4u8][..], &v4.octets()].concat(),
        Some(IpAddr::V6(v6)) => [&[6u8][..], &v6.octets()[..8]].concat(),
        None => vec![0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        let master = secrecy::SecretBox::new(Box::new([7u8; 32]));
        Throttle::in_process(Arc::new(ServerKeys::derive(&master)))
    }

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0)
            .expect("a time")
            .naive_utc()
    }

    fn admin<'a>(email: &'a str, address: &str) -> Attempt<'a> {
        Attempt {
            path: Path::AdminSignIn,
            account: Some(email),
            address: Some(address.parse().expect("an address")),
        }
    }

    async fn go(throttle: &Throttle, attempt: Attempt<'_>, now: NaiveDateTime) -> Option<Ticket> {
        match throttle.begin(attempt, now).await.expect("in memory") {
            Verdict::Go(ticket) => Some(ticket),
            Verdict::Wait(_) => None,
        }
    }

    async fn wait(throttle: &Throttle, attempt: Attempt<'_>, now: NaiveDateTime) -> Duration {
        match throttle.begin(attempt, now).await.expect("in memory") {
            Verdict::Go(_) => Duration::ZERO,
            Verdict::Wait(wait) => wait,
        }
    }

    #[actix_web::test]
    async fn attempts_count_before_they_are_checked() {
        let throttle = throttle();
        // Sixty at once: the first five may be checked; the rest wait.
        let mut tickets = Vec::new();
        for _ in 0..60 {
            tickets.push(go(&throttle, admin("alice@example.com", "10.0.0.1"), at(0)).await);
        }
        assert_eq!(tickets.iter().flatten().count(), FREE_FAILURES as usize);
        assert!(tickets[..5].iter().all(Option::is_some));
    }

    #[actix_web::test]
    async fn failures_past_the_free_ones_wait_doubling_delays() {
        let throttle = throttle();
        for _ in 0..FREE_FAILURES {
            let _failed = go(&throttle, admin("alice@example.com", "10.0.0.1"), at(0)).await;
        }
        let alice = admin("alice@example.com", "10.0.0.1");
        assert_eq!(wait(&throttle, alice, at(0)).await, Duration::from_secs(1));
        let _failed = go(&throttle, alice, at(1)).await.expect("the delay passed");
        assert_eq!(wait(&throttle, alice, at(1)).await, Duration::from_secs(2));
        // Another account from another address is not affected.
        let bob = admin("bob@example.com", "10.0.0.2");
        assert!(go(&throttle, bob, at(1)).await.is_some());
    }

    #[actix_web::test]
    async fn a_success_takes_its_attempt_back() {
        let throttle = throttle();
        // Many sign-ins that succeed never add up to a delay.
        for i in 0..100 {
            let ticket = go(&throttle, admin("alice@example.com", "10.0.0.1"), at(i))
                .await
                .expect("never throttled");
            throttle.succeeded(ticket, at(i)).await.unwrap();
        }
    }

    #[actix_web::test]
    async fn nothing_locks_for_good() {
        let throttle = throttle();
        let alice = admin("alice@example.com", "10.0.0.1");
        // Sixty failures, each as soon as the one before allows.
        let (mut now, mut failures, mut longest) = (at(0), 0, Duration::ZERO);
        while failures < 60 {
            match throttle.begin(alice, now).await.unwrap() {
                Verdict::Go(_failed) => failures += 1,
                Verdict::Wait(wait) => {
                    longest = longest.max(wait);
                    now += chrono::Duration::from_std(wait).unwrap();
                }
            }
        }
        assert!(longest >= Duration::from_secs(60), "{longest:?}");
        assert!(longest <= MAX_DELAY, "capped: {longest:?}");
        let faded = now + chrono::Duration::from_std(WINDOW).unwrap();
        assert!(go(&throttle, alice, faded).await.is_some(), "faded");
    }

    #[actix_web::test]
    async fn a_known_place_is_not_held_up_by_guesses_from_elsewhere() {
        let throttle = throttle();
        let owner = admin("owner@example.com", "192.0.2.10");
        let ticket = go(&throttle, owner, at(0)).await.unwrap();
        throttle.succeeded(ticket, at(0)).await.unwrap();
        // An attacker guesses from another address until the account waits.
        let attacker = admin("owner@example.com", "203.0.113.7");
        for _ in 0..16 {
            let _failed = go(&throttle, attacker, at(10)).await;
        }
        assert!(wait(&throttle, attacker, at(10)).await > Duration::ZERO);
        let newcomer = admin("owner@example.com", "198.51.100.1");
        assert!(wait(&throttle, newcomer, at(10)).await > Duration::ZERO);
        // The owner's own place still gets in at once.
        let ticket = go(&throttle, owner, at(10)).await.expect("a known place");
        throttle.succeeded(ticket, at(10)).await.unwrap();
        // A known place has a budget of its own.
        for _ in 0..FREE_FAILURES {
            let _failed = go(&throttle, owner, at(20)).await.unwrap();
        }
        assert!(wait(&throttle, owner, at(20)).await > Duration::ZERO);
    }

    #[actix_web::test]
    async fn paths_never_share_an_account() {
        let throttle = throttle();
        for _ in 0..10 {
            let _failed = go(&throttle, admin("a@example.com", "10.0.0.1"), at(0)).await;
        }
        let client = Attempt {
            path: Path::ClientSignIn,
            account: Some("a@example.com"),
            address: Some("10.0.0.2".parse().unwrap()),
        };
        assert!(go(&throttle, client, at(0)).await.is_some());
    }

    #[actix_web::test]
    async fn an_address_spraying_accounts_is_slowed() {
        let throttle = throttle();
        for i in 0..(FREE_FAILURES * ADDRESS_FACTOR) {
            let email = format!("user{i}@example.com");
            let _failed = go(&throttle, admin(&email, "203.0.113.7"), at(0)).await;
        }
        let fresh = admin("fresh@example.com", "203.0.113.7");
        assert!(wait(&throttle, fresh, at(0)).await > Duration::ZERO);
        // The same /64 is the same place; another address is not.
        for i in 0..(FREE_FAILURES * ADDRESS_FACTOR) {
            let email = format!("v6-{i}@example.com");
            let _failed = go(&throttle, admin(&email, "2001:db8:1:2::1"), at(0)).await;
        }
        let other = admin("other@example.com", "2001:db8:1:2:ffff::9");
        assert!(wait(&throttle, other, at(0)).await > Duration::ZERO);
        let other = admin("other@example.com", "2001:db8:1:3::1");
        assert!(go(&throttle, other, at(0)).await.is_some());
        let other = admin("other@example.com", "198.51.100.1");
        assert!(go(&throttle, other, at(0)).await.is_some());
    }

    #[actix_web::test]
    async fn memory_is_bounded_and_swept() {
        let throttle = throttle();
        for i in 0..(CAPACITY as u32 + 50) {
            let address = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let attempt = Attempt {
                path: Path::ResetLink,
                account: None,
                address: Some(address.into()),
            };
            let _failed = go(&throttle, attempt, at(i64::from(i / 1000))).await;
        }
        assert!(throttle.records_in_memory() <= CAPACITY);
        let later = at(1000) + chrono::Duration::from_std(WINDOW).unwrap();
        throttle.sweep(later).await.unwrap();
        assert_eq!(throttle.records_in_memory(), 0);
    }
}
