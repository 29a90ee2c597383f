//! Identity benchmarks, reported in docs/benchmarks.md ("Identity").
//!
//! `cargo bench -p custodian-api --bench identity` (release build). Prints
//! p50/p99 per operation, measured one call at a time with `Instant`, after a
//! warm-up, on whatever machine runs it:
//!
//! - a Cedar decision for a technician on a user, in a partner of 1,000
//!   companies and 100,000 users: evaluated, including building the
//!   request's entities (as the server does when its memo has no answer),
//!   and through the memo (`authz/memo.rs`, the server's path);
//! - verifying an admin access token (EdDSA signature and claims);
//! - bare argon2id hashes per second at the server's parameters on one core,
//!   the baseline against which sign-in throughput is compared.

use std::hint::black_box;
use std::time::{Duration, Instant};

use custodian_api::auth::keys::ServerKeys;
use custodian_api::auth::password::hash_blocking;
use custodian_api::auth::tokens::{SCOPE_ADMIN, TokenService};
use custodian_api::authz::{Action, Authz, Principal, Resource};
use custodian_api::db::admins::Role;
use custodian_api::ids::{AdminId, CompanyId, PartnerId, UserId};
use secrecy::{SecretBox, SecretString};

/// A tiny deterministic generator (no dependency for a benchmark's dice).
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name}: n={} p50={:.1} µs p99={:.1} µs max={:.1} µs",
        samples.len(),
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        samples.last().unwrap().as_secs_f64() * 1e6,
    );
}

fn cedar_decisions() {
    let authz = Authz::embedded().expect("valid policies");
    let partner = PartnerId::new();
    let companies: Vec<CompanyId> = (0..1_000).map(|_| CompanyId::new()).collect();
    let users: Vec<(UserId, usize)> = (0..100_000)
        .map(|i| (UserId::new(), i % companies.len()))
        .collect();
    // A technician assigned to 100 of the 1,000 companies.
    let technician = Principal::Admin {
        id: AdminId::new(),
        partner,
        role: Role::Technician,
        companies: companies[..100].to_vec(),
    };
    for remembered in [false, true] {
        let mut dice = Dice(0x9e3779b97f4a7c15);
        let mut allowed = 0usize;
        let mut run = |n: usize, samples: &mut Vec<Duration>| {
            for _ in 0..n {
                let (user, company) = users[dice.next(users.len())];
                let resource = Resource::User {
                    id: user,
                    company: companies[company],
                    partner,
                };
                let started = Instant::now();
                let decision = if remembered {
                    authz.decide(&technician, &Action::ResetMasterPassword, &resource)
                } else {
                    authz
                        .evaluate_each(
                            &technician,
                            &Action::ResetMasterPassword,
                            std::slice::from_ref(&resource),
                        )
                        .remove(0)
                };
                samples.push(started.elapsed());
                allowed += usize::from(black_box(decision.allowed));
            }
        };
        run(5_000, &mut Vec::new());
        let mut samples = Vec::with_capacity(100_000);
        run(100_000, &mut samples);
        percentiles(
            if remembered {
                "cedar decision through the memo (the server's path; warm: one per company)"
            } else {
                "cedar decision evaluated (technician, 100 of 1,000 companies, 100,000 users)"
            },
            samples,
        );
        println!("  allowed {allowed} of 100,000 (about 10% expected)");
    }
    println!("  memo: {:?}", authz.memo_stats());
}

fn token_verification() {
    let keys = ServerKeys::derive(&SecretBox::new(Box::new([1u8; 32])));
    let service = TokenService::ephemeral(&keys, "https://custodian.example.com/".into());
    let (token, _) = service.issue_admin(
        &AdminId::new().to_string(),
        &PartnerId::new().to_string(),
        0,
        SCOPE_ADMIN,
    );
    for _ in 0..2_000 {
        black_box(service.verify_admin(&token).unwrap());
    }
    let samples = (0..50_000)
        .map(|_| {
            let started = Instant::now();
            black_box(service.verify_admin(black_box(&token)).unwrap());
            started.elapsed()
        })
        .collect();
    percentiles("token verification (EdDSA, claims)", samples);
}

fn argon2_baseline() {
    let password = SecretString::from("correct horse battery staple");
    black_box(hash_blocking(&password));
    let started = Instant::now();
    let mut hashes = 0;
    while started.elapsed() < Duration::from_secs(5) {
        black_box(hash_blocking(&password));
        hashes += 1;
    }
    let per_second = f64::from(hashes) / started.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "argon2id m=19456 t=2 p=1: {per_second:.1} hashes/s on one core; {:.1}/s for {cores} cores",
        per_second * cores as f64
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and
    // only checks that this builds and runs briefly.
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench -p custodian-api --bench identity`");
        return;
    }
    cedar_decisions();
    token_verification();
    argon2_baseline();
}
