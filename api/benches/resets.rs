//! The reset runbook under load, reported in docs/benchmarks.md ("The
//! reset runbook").
//!
//! `cargo bench -p custodian-api --bench resets` (release build). Starts the
//! real server on port 0 over SQLite (and PostgreSQL when
//! `CUSTODIAN_TEST_POSTGRES_URL` is set), mailing to an SMTP sink, and:
//!
//! - resets users with 1,000 vault items each, one at a time: p50 and p99 of
//!   `POST /v1/users/{id}/master-password-resets` (with `RESETS_SINGLE_ONLY`
//!   set, only this, on each backend: a run of seconds, to compare builds);
//! - resets users with 100 items each from 8 concurrent clients: resets per
//!   second, with the p99 of `GET /healthz` probed meanwhile;
//! - times the steps of one reset's transaction in process, to show where
//!   its time goes (the secret's keyed hash against an argon2id hash);
//! - sends 1,000 messages to the SMTP sink from a bare client on one
//!   connection (the sink's ceiling), then delivers 1,000 queued emails
//!   with one outbox worker, then with two, each claiming one message at a
//!   time and then the default 16 (alternating, twice for one worker), then
//!   measures the ceiling again: emails per second, and as a ratio of the
//!   ceiling; then invites 1,000 users through `POST
//!   /v1/companies/{id}/users` from 8 clients (users invited per second)
//!   and delivers their invitations with one worker (invitations per
//!   second, and as a ratio of the ceiling);
//! - on a server of its own with the default workers, resets 100 users with
//!   100 items each one at a time over HTTP (the single reset's mean
//!   latency), then 1,000 such users in one batch: the time until every
//!   reset is done, as a ratio of 1,000 × that latency, the time until every
//!   email reached the sink, and the process's peak memory meanwhile (with
//!   `RESETS_BATCH_ONLY` set, only this; with `RESETS_EMAIL_ONLY`, only the
//!   ceiling and the outbox's rate).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custodian_api::db::DbError;
use custodian_api::db::admins::Role;
use custodian_api::db::schema::{backup_copies, users, vault_items};
use custodian_api::db::{Backend, Db, DbConn, companies, outbox, resets};
use custodian_api::ids::{PartnerId, UserId};
use custodian_api::mail::{Mailer, Transport, Worker};
use custodian_api::testing::TestServer;
use diesel::prelude::*;
use serde_json::{Value, json};

const BIG_USERS: usize = 100;
const BIG_ITEMS: usize = 1_000;
const SMALL_USERS: usize = 2_000;
const SMALL_ITEMS: usize = 100;
const CLIENTS: usize = 8;
const SECONDS: u64 = 10;
const EMAILS: usize = 1_000;
const BATCH_USERS: usize = 1_000;
const BATCH_ITEMS: usize = 100;

/// Users of one new company, each with `items` vault items: 70 % personal,
/// 30 % company of which two thirds are backed up. Their ids.
async fn seed(server: &TestServer, users_count: usize, items: usize) -> Vec<String> {
    let partner = server.owner.partner_id.clone();
    let started = Instant::now();
    let ids = server
        .database
        .pool()
        .write(move |conn: &mut DbConn| {
            let now = chrono::Utc::now().naive_utc();
            let company = companies::Company {
                id: custodian_api::ids::CompanyId::new(),
                partner_id: custodian_api::ids::PartnerId::parse(&partner)
                    .expect("the partner's id"),
                name: format!("Company of {users_count}"),
                created_at: now,
                updated_at: now,
                external_id: None,
                retired_at: None,
            };
            companies::insert(conn, &company)?;
            let mut ids = Vec::with_capacity(users_count);
            for _ in 0..users_count {
                let id = uuid::Uuid::now_v7().to_string();
                diesel::insert_into(users::table)
                    .values((
                        users::id.eq(&id),
                        users::partner_id.eq(&partner),
                        users::company_id.eq(company.id),
                        users::email.eq(format!("{id}@bench.example")),
                        users::name.eq("Bench User"),
                        users::client_kind.eq("desktop"),
                        users::created_at.eq(now),
                        users::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                let ciphertext = vec![7u8; 256];
                let rows: Vec<_> = (0..items)
                    .map(|i| {
                        (
                            vault_items::user_id.eq(id.clone()),
                            vault_items::item_id.eq(format!("item-{i}")),
                            vault_items::profile.eq(if i % 10 < 7 {
                                "personal"
                            } else {
                                "company"
                            }),
                            vault_items::revision.eq(1i64),
                            vault_items::ciphertext.eq(ciphertext.clone()),
                            vault_items::created_at.eq(now),
                            vault_items::updated_at.eq(now),
                        )
                    })
                    .collect();
                let copies: Vec<_> = (0..items)
                    .filter(|i| i % 10 >= 8)
                    .map(|i| {
                        (
                            backup_copies::id.eq(uuid::Uuid::now_v7().to_string()),
                            backup_copies::partner_id.eq(partner.clone()),
                            backup_copies::company_id.eq(company.id),
                            backup_copies::user_id.eq(id.clone()),
                            backup_copies::item_id.eq(format!("item-{i}")),
                            backup_copies::revision.eq(1i64),
                            backup_copies::ciphertext.eq(ciphertext.clone()),
                            backup_copies::created_at.eq(now),
                        )
                    })
                    .collect();
                for chunk in rows.chunks(500) {
                    match conn {
                        DbConn::Sqlite(c) => diesel::insert_into(vault_items::table)
                            .values(chunk)
                            .execute(c)?,
                        DbConn::Postgres(c) => diesel::insert_into(vault_items::table)
                            .values(chunk)
                            .execute(c)?,
                    };
                }
                for chunk in copies.chunks(500) {
                    match conn {
                        DbConn::Sqlite(c) => diesel::insert_into(backup_copies::table)
                            .values(chunk)
                            .execute(c)?,
                        DbConn::Postgres(c) => diesel::insert_into(backup_copies::table)
                            .values(chunk)
                            .execute(c)?,
                    };
                }
                ids.push(id);
            }
            if let DbConn::Postgres(pg) = conn {
                diesel::sql_query("ANALYZE").execute(pg)?;
            }
            Ok::<_, DbError>(ids)
        })
        .await
        .expect("seeded");
    println!(
        "  seeded {users_count} users with {items} items each in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    ids
}

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort_unstable();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3
}

async fn reset(http: &reqwest::Client, base_url: &str, token: &str, user: &str) -> Duration {
    let sent = Instant::now();
    let response = http
        .post(format!("{base_url}/v1/users/{user}/master-password-resets"))
        .bearer_auth(token)
        .json(&json!({"confirmation": "Yes", "acknowledge_company_data_loss": true}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert_eq!(status.as_u16(), 201, "{body:?}");
    sent.elapsed()
}

/// Times the steps of one reset's transaction on `user` (100 items).
async fn breakdown(server: &TestServer, user: String) {
    let keys = server.keys.clone();
    let partner = PartnerId::parse(&server.owner.partner_id).unwrap();
    let steps = server
        .database
        .pool()
        .write(move |conn| {
            let user = UserId::parse(&user).unwrap();
            let now = chrono::Utc::now().naive_utc();
            let mut steps = Vec::new();
            let mut at = Instant::now();
            let mut lap = |name: &'static str, steps: &mut Vec<(&'static str, Duration)>| {
                steps.push((name, at.elapsed()));
                at = Instant::now();
            };
            resets::lock_user(conn, partner, user)?;
            let vault = resets::summarize(conn, user)?;
            lap("lock the user, count the vault", &mut steps);
            resets::purge(conn, user, vault, now, now + chrono::Duration::days(90))?;
            lap("purge 100 items, age the copies", &mut steps);
            let secret = custodian_api::auth::temporary_password();
            let hash = keys.keyed_hash(
                custodian_api::auth::RESET_SECRET,
                secrecy::ExposeSecret::expose_secret(&secret).as_bytes(),
            );
            lap("draw the secret, its keyed hash", &mut steps);
            outbox::queue(
                conn,
                &keys,
                partner,
                outbox::Email {
                    template: "master_password_reset",
                    locale: "en",
                    recipient: "bench@bench.example",
                    payload: &json!({"secret": secrecy::ExposeSecret::expose_secret(&secret)}),
                    now,
                },
            )?;
            lap("seal and queue the email", &mut steps);
            resets::mark_user_reset(conn, user, now)?;
            lap("bump the user's token generation", &mut steps);
            let _ = hash;
            Ok::<_, DbError>(steps)
        })
        .await
        .unwrap();
    println!("  one reset's transaction, step by step (100 items):");
    for (name, took) in steps {
        println!("    {name}: {:.3} ms", took.as_secs_f64() * 1e3);
    }
    // The keyed hash the reset uses against the argon2id a chosen password
    // would need.
    let secret = custodian_api::auth::temporary_password();
    let started = Instant::now();
    for _ in 0..10_000 {
        std::hint::black_box(server.keys.keyed_hash(
            custodian_api::auth::RESET_SECRET,
            secrecy::ExposeSecret::expose_secret(&secret).as_bytes(),
        ));
    }
    let hmac = started.elapsed().as_secs_f64() / 10_000.0 * 1e6;
    let started = Instant::now();
    std::hint::black_box(custodian_api::auth::password::hash_blocking(&secret));
    let argon = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "    the secret's HMAC-SHA-256: {hmac:.1} µs; an argon2id hash instead: {argon:.1} ms"
    );
}

/// A mailer over `db` to the server's SMTP sink.
fn mailer(server: &TestServer, db: &Db) -> Arc<Mailer> {
    let smtp = custodian_api::config::SmtpUrl::parse(&server.mail.url()).unwrap();
    Arc::new(Mailer {
        db: db.clone(),
        keys: server.keys.clone(),
        clock: server.clock.clone(),
        metrics: Default::default(),
        transport: Transport::smtp(&smtp).unwrap(),
        from: "Custodian <custodian@localhost>".parse().unwrap(),
        links: custodian_api::mail::templates::Links {
            webapp: url::Url::parse(&server.base_url).unwrap(),
            portal: url::Url::parse(&server.base_url).unwrap(),
        },
        dead_letter_after: chrono::Duration::hours(24),
    })
}

/// Queues `EMAILS` messages, then drains them with `workers` workers over
/// one pool, each claiming `claim` messages at a time; emails per second.
async fn deliver(server: &TestServer, db: &Db, workers: usize, claim: i64) -> f64 {
    let partner = PartnerId::parse(&server.owner.partner_id).unwrap();
    let keys = server.keys.clone();
    let now = server.clock.now();
    db.write(move |conn| {
        for i in 0..EMAILS {
            outbox::queue(
                conn,
                &keys,
                partner,
                outbox::Email {
                    template: "master_password_changed",
                    locale: "en",
                    recipient: &format!("reader{i}@bench.example"),
                    payload: &json!({"name": "Reader", "changed_at": now}),
                    now,
                },
            )?;
        }
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let mailer = mailer(server, db);
    let before = server.mail.received().len();
    let started = Instant::now();
    drain_claiming(&mailer, workers, claim).await;
    let rate = EMAILS as f64 / started.elapsed().as_secs_f64();
    assert_eq!(server.mail.received().len() - before, EMAILS);
    rate
}

/// The sink's own ceiling: `EMAILS` copies of `message` sent by a bare SMTP
/// client (blocking, `TCP_NODELAY`) on one connection, one after another
/// as a worker sends them; emails per second.
fn ceiling(addr: std::net::SocketAddr, message: &[u8]) -> f64 {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut replies = BufReader::new(stream);
    let mut expect = |code: &str| loop {
        let mut line = String::new();
        replies.read_line(&mut line).unwrap();
        assert!(line.starts_with(code), "{line}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    expect("220");
    out.write_all(b"EHLO bench\r\n").unwrap();
    expect("250");
    let mut data = Vec::with_capacity(message.len() + 8);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    let started = Instant::now();
    for i in 0..EMAILS {
        out.write_all(b"MAIL FROM:<custodian@localhost>\r\n")
            .unwrap();
        expect("250");
        out.write_all(format!("RCPT TO:<reader{i}@bench.example>\r\n").as_bytes())
            .unwrap();
        expect("250");
        out.write_all(b"DATA\r\n").unwrap();
        expect("354");
        out.write_all(&data).unwrap();
        out.write_all(b"\r\n.\r\n").unwrap();
        expect("250");
    }
    let rate = EMAILS as f64 / started.elapsed().as_secs_f64();
    out.write_all(b"QUIT\r\n").unwrap();
    rate
}

/// Runs `workers` workers until nothing is due.
async fn drain(mailer: &Arc<Mailer>, workers: usize) {
    drain_claiming(mailer, workers, custodian_api::mail::BATCH).await;
}

/// [`drain`], each worker claiming `claim` messages at a time.
async fn drain_claiming(mailer: &Arc<Mailer>, workers: usize, claim: i64) {
    let loops: Vec<_> = (0..workers)
        .map(|_| {
            let worker = Worker::new(mailer.clone()).claiming(claim);
            actix_web::rt::spawn(async move { while worker.run_once().await.unwrap() > 0 {} })
        })
        .collect();
    for handle in loops {
        handle.await.unwrap();
    }
}

/// The process's resident memory at its peak since the last reset of the
/// peak (Linux), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// An owner's token on `server`.
async fn owner_token(server: &TestServer) -> String {
    let (email, password) = server.create_admin(Role::Owner, &[]).await;
    let token: Value = reqwest::Client::new()
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
    token["access_token"].as_str().unwrap().to_owned()
}

/// A batch of 1,000 users against 1,000 resets one at a time, on a server
/// with the default workers (batches and outbox).
async fn batch(backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let token = owner_token(&server).await;
    let http = reqwest::Client::new();
    let single = seed(&server, 100, BATCH_ITEMS).await;
    let mut latencies = Vec::new();
    for user in &single {
        latencies.push(reset(&http, &server.base_url, &token, user).await);
    }
    let mean = latencies.iter().sum::<Duration>().as_secs_f64() / latencies.len() as f64;
    let one_by_one = mean * BATCH_USERS as f64;
    let users = seed(&server, BATCH_USERS, BATCH_ITEMS).await;
    // Let the single resets' emails go first.
    while server.mail.received().len() < single.len() {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    // Resets the peak so it covers the batch only (the seeding is above).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = server.mail.received().len();
    let started = Instant::now();
    let response = http
        .post(format!("{}/v1/master-password-reset-batches", server.base_url))
        .bearer_auth(&token)
        .json(&json!({"user_ids": users, "confirmation": "Yes", "acknowledge_company_data_loss": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let batch: Value = response.json().await.unwrap();
    let url = format!(
        "{}/v1/master-password-reset-batches/{}?limit=1",
        server.base_url,
        batch["id"].as_str().unwrap()
    );
    let done = loop {
        let view: Value = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if view["status"] != "running" {
            assert_eq!(view["counts"]["completed"], BATCH_USERS, "{view}");
            break started.elapsed().as_secs_f64();
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    while server.mail.received().len() < before + BATCH_USERS {
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    let mailed = started.elapsed().as_secs_f64();
    println!(
        "  one reset of a {BATCH_ITEMS}-item vault over HTTP, one at a time: mean {:.2} ms, p50 {:.2} ms (n={}), so 1,000 one by one: {one_by_one:.1} s",
        mean * 1e3,
        percentile(&mut latencies, 0.5),
        latencies.len()
    );
    println!(
        "  a batch of {BATCH_USERS} users with {BATCH_ITEMS} items each: every reset done in {done:.2} s ({:.1}x faster than one by one), every email at the sink in {mailed:.2} s; peak memory of the process meanwhile {:.0} MiB",
        one_by_one / done,
        peak_rss_mib()
    );
}

async fn run(backend: Backend) {
    if std::env::var_os("RESETS_BATCH_ONLY").is_some() {
        println!("{} backend:", backend.name());
        return batch(backend).await;
    }
    // No outbox worker of the server's own: the benchmark runs its own, so
    // each measure has the machine to itself.
    let Some(server) = TestServer::spawn_with(backend, |c| c.mail_workers = 0).await else {
        return;
    };
    println!("{} backend:", backend.name());
    let token = owner_token(&server).await;
    let http = reqwest::Client::new();
    if std::env::var_os("RESETS_EMAIL_ONLY").is_some() {
        // A few resets' emails, the message the ceiling is measured with.
        for user in &seed(&server, 10, SMALL_ITEMS).await {
            reset(&http, &server.base_url, &token, user).await;
        }
        return emails(&server, &token).await;
    }

    // Latency of one reset of a 1,000-item vault.
    let big = seed(&server, BIG_USERS, BIG_ITEMS).await;
    let mut latencies = Vec::new();
    for user in &big {
        latencies.push(reset(&http, &server.base_url, &token, user).await);
    }
    println!(
        "  reset of a {BIG_ITEMS}-item vault, one at a time: p50 {:.1} ms, p99 {:.1} ms (n={})",
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        latencies.len()
    );
    // Only this measure, to compare builds over many short runs.
    if std::env::var_os("RESETS_SINGLE_ONLY").is_some() {
        return;
    }

    // Throughput at 8 clients on 100-item vaults, with the health probe.
    let small = Arc::new(seed(&server, SMALL_USERS, SMALL_ITEMS).await);
    let spare = small[SMALL_USERS - 1].clone();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(SECONDS);
    let probes = Arc::new(Mutex::new(Vec::new()));
    let probing = {
        let (base_url, probes) = (server.base_url.clone(), probes.clone());
        actix_web::rt::spawn(async move {
            let http = reqwest::Client::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let status = http
                    .get(format!("{base_url}/healthz"))
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert!(status.is_success());
                probes.lock().unwrap().push(sent.elapsed());
                actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base_url, token, small, next) = (
                server.base_url.clone(),
                token.clone(),
                small.clone(),
                next.clone(),
            );
            actix_web::rt::spawn(async move {
                let http = reqwest::Client::new();
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= SMALL_USERS - 1 {
                        break;
                    }
                    latencies.push(reset(&http, &base_url, &token, &small[i]).await);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    probing.await.unwrap();
    let mut probes = probes.lock().unwrap().clone();
    println!(
        "  resets of {SMALL_ITEMS}-item vaults, {CLIENTS} clients: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms (n={}); GET /healthz meanwhile p50 {:.2} ms, p99 {:.2} ms (n={})",
        latencies.len() as f64 / elapsed,
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        latencies.len(),
        percentile(&mut probes, 0.5),
        percentile(&mut probes, 0.99),
        probes.len()
    );
    breakdown(&server, spare).await;
    emails(&server, &token).await;
    drop(server);
    batch(backend).await;
}

/// The sink's ceiling, then the outbox's rate with one worker and two,
/// then invitations: made through the API, delivered by one worker.
async fn emails(server: &TestServer, token: &str) {
    // The resets' own emails go first, then the measured batches.
    let db = server.database.pool();
    drain(&mailer(server, &db), 2).await;
    let message = server.mail.received().last().unwrap().data.clone();
    let (addr, bare) = (server.mail.addr(), message.clone());
    let ceiling = actix_web::rt::task::spawn_blocking(move || ceiling(addr, &bare))
        .await
        .unwrap();
    println!(
        "  the sink's ceiling, a bare client on one connection: {ceiling:.0}/s ({} bytes a message)",
        message.len()
    );
    // Claims of one message each (as the outbox claimed before), then of
    // the default size, alternating, so that both meet the same machine.
    let batch = custodian_api::mail::BATCH;
    for (workers, claim) in [(1, 1), (1, batch), (2, 1), (2, batch), (1, 1), (1, batch)] {
        let rate = deliver(server, &db, workers, claim).await;
        println!(
            "  emails delivered to the SMTP sink, {workers} worker(s) claiming {claim} at a time: {rate:.0}/s, {:.2} of the ceiling",
            rate / ceiling
        );
    }
    let (addr, bare) = (server.mail.addr(), message.clone());
    let after = actix_web::rt::task::spawn_blocking(move || self::ceiling(addr, &bare))
        .await
        .unwrap();
    println!("  the sink's ceiling again, after: {after:.0}/s");
    let (invited, delivered) = invitations(server, &db, token).await;
    println!(
        "  users invited through the API, {CLIENTS} clients: {invited:.0}/s; their invitations delivered to the SMTP sink, 1 worker claiming {batch} at a time: {delivered:.0}/s, {:.2} of the ceiling",
        delivered / ceiling
    );
}

/// Invites `EMAILS` users of a new company through `POST
/// /v1/companies/{id}/users` from `CLIENTS` clients (each creation queues
/// its invitation in the outbox), then delivers the invitations with one
/// worker claiming the default number at a time: (users invited per
/// second, invitations delivered per second).
async fn invitations(server: &TestServer, db: &Db, token: &str) -> (f64, f64) {
    let http = reqwest::Client::new();
    let company: Value = http
        .post(format!("{}/v1/companies", server.base_url))
        .bearer_auth(token)
        .json(&json!({"name": "Invited Ltd"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let users = format!(
        "{}/v1/companies/{}/users",
        server.base_url,
        company["id"].as_str().unwrap()
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (users, token, next) = (users.clone(), token.to_owned(), next.clone());
            actix_web::rt::spawn(async move {
                let http = reqwest::Client::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= EMAILS {
                        break;
                    }
                    let status = http
                        .post(&users)
                        .bearer_auth(&token)
                        .json(&json!({
                            "email": format!("invitee{i}@bench.example"),
                            "name": format!("Invitee {i}"),
                            "client_kind": "desktop",
                        }))
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert_eq!(status.as_u16(), 201);
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let invited = EMAILS as f64 / started.elapsed().as_secs_f64();
    let mailer = mailer(server, db);
    let before = server.mail.received().len();
    let started = Instant::now();
    drain(&mailer, 1).await;
    let delivered = EMAILS as f64 / started.elapsed().as_secs_f64();
    assert_eq!(server.mail.received().len() - before, EMAILS);
    (invited, delivered)
}

fn main() {
    actix_web::rt::System::new().block_on(async {
        run(Backend::Sqlite).await;
        if std::env::var_os("CUSTODIAN_TEST_POSTGRES_URL").is_some() {
            run(Backend::Postgres).await;
        }
    });
}
