//! Load runs against the real server, reported in docs/benchmarks.md
//! ("Load").
//!
//! `cargo bench -p custodian-api --bench load` (release build). Starts the
//! server on port 0 over a fresh SQLite database (and a PostgreSQL one too
//! when `CUSTODIAN_TEST_POSTGRES_URL` is set), then, for `SECONDS` each:
//!
//! - **password sign-ins** by 16 concurrent clients, as a ratio of the
//!   machine's bare argon2id hashes per second at the same parameters on
//!   all its cores (measured here, first), while a health probe every 10 ms
//!   records its latency: a p99 that stays low proves that hashing runs on
//!   the bounded blocking pool, not on the executor's threads;
//! - **client_credentials tokens** issued per second by 16 concurrent
//!   clients, and where a token's time goes: each piece timed alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use custodian_api::audit::{self, ActorKind, NewEvent};
use custodian_api::auth::password::hash_blocking;
use custodian_api::db::admins::Role;
use custodian_api::db::{Backend, api_clients};
use custodian_api::ids::{ApiClientId, PartnerId};
use custodian_api::testing::TestServer;
use secrecy::SecretString;
use serde_json::Value;

const CLIENTS: usize = 16;
const SECONDS: u64 = 10;

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort_unstable();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3
}

/// Bare argon2id hashes per second with every core hashing.
fn argon2_all_cores() -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|i| {
            let (stop, count) = (stop.clone(), count.clone());
            std::thread::spawn(move || {
                let password = SecretString::from(format!("baseline password {i}"));
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box(hash_blocking(&password));
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("  bare argon2id on {cores} cores: {rate:.1} hashes/s");
    rate
}

/// CPU seconds this process has used (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are
    // the 12th and 13th of those, in clock ticks (100 per second on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Probes `/healthz` every 10 ms until `stop`; returns the latencies.
async fn probe(base_url: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let response = http
            .get(format!("{base_url}/healthz"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        samples.push(started.elapsed());
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

/// Runs `CLIENTS` loops of `form` token requests for `SECONDS`, with the
/// probe; returns (tokens/s, request latencies, probe latencies).
async fn hammer(
    server: &TestServer,
    forms: Vec<Vec<(&'static str, String)>>,
) -> (f64, Vec<Duration>, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = actix_web::rt::spawn(probe(server.base_url.clone(), stop.clone()));
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let deadline = started + Duration::from_secs(SECONDS);
    let loops: Vec<_> = forms
        .into_iter()
        .map(|form| {
            let url = format!("{}/v1/auth/token", server.base_url);
            actix_web::rt::spawn(async move {
                let http = reqwest::Client::new();
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let response = http.post(&url).form(&form).send().await.unwrap();
                    let status = response.status();
                    let body: Value = response.json().await.unwrap();
                    assert!(status.is_success(), "{status} {body}");
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for handle in loops {
        latencies.extend(handle.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "  (the process, server and load together, used {:.2} of {} cores)",
        (cpu_seconds() - cpu_before) / elapsed,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    stop.store(true, Ordering::Relaxed);
    let probes = probe.await.unwrap();
    (latencies.len() as f64 / elapsed, latencies, probes)
}

async fn run(backend: Backend, baseline: f64) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    println!("{} backend:", backend.name());

    let mut forms = Vec::new();
    for _ in 0..CLIENTS {
        let (email, password) = server.create_admin(Role::Admin, &[]).await;
        forms.push(vec![
            ("grant_type", "password".to_owned()),
            ("partner_id", server.owner.partner_id.clone()),
            ("username", email),
            ("password", password),
        ]);
    }
    let (rate, mut latencies, mut probes) = hammer(&server, forms).await;
    println!(
        "  password sign-ins, {CLIENTS} clients: {rate:.1}/s = {:.2} of bare argon2id; \
         sign-in p50 {:.0} ms p99 {:.0} ms; /healthz meanwhile p50 {:.2} ms p99 {:.2} ms (n={})",
        rate / baseline,
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        percentile(&mut probes, 0.5),
        percentile(&mut probes, 0.99),
        probes.len(),
    );

    // An API client, made through the API as an owner would.
    let (email, password) = server.create_admin(Role::Owner, &[]).await;
    let http = reqwest::Client::new();
    let owner: Value = http
        .post(format!("{}/v1/auth/token", server.base_url))
        .form(&[
            ("grant_type", "password"),
            ("partner_id", &server.owner.partner_id),
            ("username", &email),
            ("password", &password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created: Value = http
        .post(format!("{}/v1/api-clients", server.base_url))
        .bearer_auth(owner["access_token"].as_str().unwrap())
        .json(&serde_json::json!({"name": "load", "scopes": ["users:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["client"]["id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let form = vec![
        ("grant_type", "client_credentials".to_owned()),
        ("client_id", id.clone()),
        ("client_secret", secret),
    ];
    let (rate, mut latencies, mut probes) = hammer(&server, vec![form; CLIENTS]).await;
    println!(
        "  client_credentials tokens, {CLIENTS} clients: {rate:.0}/s; p50 {:.2} ms p99 {:.2} ms; \
         /healthz meanwhile p99 {:.2} ms",
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        percentile(&mut probes, 0.99),
    );

    // Where a client_credentials token's time goes, each piece alone.
    let db = server.database.pool();
    let client = ApiClientId::parse(&id).unwrap();
    let partner = PartnerId::parse(&server.owner.partner_id).unwrap();
    let time = |n: u32, started: Instant| started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let started = Instant::now();
    for _ in 0..500 {
        db.run(move |conn| api_clients::find_by_id(conn, client))
            .await
            .unwrap();
    }
    let read = time(500, started);
    let started = Instant::now();
    for _ in 0..500 {
        let event = NewEvent {
            partner: Some(partner),
            actor_kind: ActorKind::ApiClient,
            actor_id: Some(id.clone()),
            action: "signIn".into(),
            target_kind: Some("api_client".into()),
            target_id: Some(id.clone()),
            allowed: true,
            policy_ids: Vec::new(),
            request_id: None,
            details: serde_json::json!({ "grant_type": "client_credentials" }),
        };
        let keys = server.keys.clone();
        db.write(move |conn| {
            api_clients::touch(conn, client, chrono::Utc::now().naive_utc())?;
            audit::append(conn, &keys, event).map(drop)
        })
        .await
        .unwrap();
    }
    let write = time(500, started);
    let started = Instant::now();
    for _ in 0..2_000 {
        std::hint::black_box(server.tokens.issue_api_client(
            &id,
            &server.owner.partner_id,
            0,
            "users:read",
        ));
    }
    let sign = time(2_000, started);
    println!(
        "  one token's pieces alone: client lookup {read:.0} µs, audit event + last use \
         (one transaction) {write:.0} µs, EdDSA signing {sign:.0} µs"
    );
}

fn main() {
    actix_web::rt::System::new().block_on(async {
        let baseline = argon2_all_cores();
        run(Backend::Sqlite, baseline).await;
        if std::env::var_os("CUSTODIAN_TEST_POSTGRES_URL").is_some() {
            run(Backend::Postgres, baseline).await;
        }
    });
}
