//! Users at scale, reported in docs/benchmarks.md ("Users at scale").
//!
//! `cargo bench -p custodian-api --bench users` (release build). Starts the
//! real server on port 0 over SQLite (and PostgreSQL when
//! `CUSTODIAN_TEST_POSTGRES_URL` is set), seeds one partner with 1,000
//! companies and 100,000 users, and then, 16 concurrent clients for
//! `SECONDS` each:
//!
//! - locates users with `GET /v1/users?q=`: by a whole email (one match) and
//!   by a fragment of a name (many matches), p50 and p99; on PostgreSQL it
//!   prints the query plan, to show the trigram index at work;
//! - runs the fragment search's statement alone, from 16 loops through a
//!   pool like the server's, without HTTP: the database's share, a floor
//!   under the search's figure;
//! - finds users as a directory does, `GET /scim/v2/Users?filter=userName eq
//!   "…"`, each loop with its company's SCIM token (a keyed hash looked up,
//!   Cedar, one row through the company's unique email index), p50 and p99;
//! - reads users with an authorized `GET /v1/users/{user_id}` (token check,
//!   database, Cedar), as a ratio of a bare actix-web JSON endpoint served on
//!   the same machine in the same run.
//!
//! The server's pool is `CUSTODIAN_DB_POOL_SIZE` when set, else twice this
//! machine's cores (the README's advice for the database server, which here
//! is this machine).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use custodian_api::db::DbError;
use custodian_api::db::admins::Role;
use custodian_api::db::schema::users;
use custodian_api::db::{Backend, DbConn, companies};
use custodian_api::testing::TestServer;
use diesel::prelude::*;
use serde_json::{Value, json};

const CLIENTS: usize = 16;
const SECONDS: u64 = 10;
const COMPANIES: usize = 1_000;
const USERS: usize = 100_000;

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dana", "Emil", "Fatima", "Gus", "Hana", "Ivan", "Jade", "Karl", "Lena",
    "Milo", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sven", "Tara",
];
const LAST: &[&str] = &[
    "Anders",
    "Baptiste",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fontaine",
    "Gallagher",
    "Hoffmann",
    "Ishikawa",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Oliveira",
    "Petrov",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Vasquez",
    "Weber",
    "Yamamoto",
    "Zimmermann",
];

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

fn person(i: usize) -> (String, String) {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    (
        format!("{first} {last}"),
        format!(
            "{}.{}.{i}@c{}.example",
            first.to_lowercase(),
            last.to_lowercase(),
            i % COMPANIES
        ),
    )
}

/// 1,000 companies and 100,000 users of the server's partner; the users' ids.
async fn seed(server: &TestServer) -> Vec<String> {
    let partner = server.owner.partner_id.clone();
    let started = Instant::now();
    let ids = server
        .database
        .pool()
        .write(move |conn: &mut DbConn| {
            let now = chrono::Utc::now().naive_utc();
            let mut company_ids = Vec::with_capacity(COMPANIES);
            for c in 0..COMPANIES {
                let company = companies::Company {
                    id: custodian_api::ids::CompanyId::new(),
                    partner_id: custodian_api::ids::PartnerId::parse(&partner)
                        .expect("the partner's id"),
                    name: format!("Company {c}"),
                    created_at: now,
                    updated_at: now,
                    external_id: None,
                    retired_at: None,
                };
                companies::insert(conn, &company)?;
                company_ids.push(company.id.to_string());
            }
            let mut ids = Vec::with_capacity(USERS);
            for chunk in (0..USERS).collect::<Vec<_>>().chunks(1_000) {
                let rows: Vec<_> = chunk
                    .iter()
                    .map(|&i| {
                        let (name, email) = person(i);
                        let id = uuid::Uuid::now_v7().to_string();
                        ids.push(id.clone());
                        (
                            users::id.eq(id),
                            users::partner_id.eq(partner.clone()),
                            users::company_id.eq(company_ids[i % COMPANIES].clone()),
                            users::email.eq(email),
                            users::name.eq(name),
                            users::client_kind.eq("desktop"),
                            users::created_at.eq(now),
                            users::updated_at.eq(now),
                        )
                    })
                    .collect();
                // One statement per thousand rows; diesel's batch insert is
                // written for a concrete backend, not for the enum.
                match conn {
                    DbConn::Sqlite(c) => {
                        diesel::insert_into(users::table).values(rows).execute(c)?;
                    }
                    DbConn::Postgres(c) => {
                        diesel::insert_into(users::table).values(rows).execute(c)?;
                    }
                }
            }
            Ok::<_, DbError>(ids)
        })
        .await
        .expect("seeded");
    // After a bulk load, as an operator would: statistics for the planner,
    // and the visibility map set now rather than by autovacuum in the
    // middle of a measurement (VACUUM runs outside a transaction).
    server
        .database
        .pool()
        .run(|conn: &mut DbConn| {
            if let DbConn::Postgres(pg) = conn {
                diesel::sql_query("VACUUM ANALYZE users").execute(pg)?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .expect("vacuumed");
    println!(
        "  seeded {COMPANIES} companies and {USERS} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    ids
}

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort_unstable();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3
}

/// `CLIENTS` loops for `SECONDS`, each timing its `n`-th request, the
/// future `once(client, n)` returns (made before the clock starts);
/// (requests per second, latencies).
async fn drive<F, Fut>(once: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize, usize) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(SECONDS);
    let loops: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let once = once.clone();
            actix_web::rt::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0;
                while Instant::now() < deadline {
                    let request = once(client, n);
                    let sent = Instant::now();
                    request.await;
                    latencies.push(sent.elapsed());
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for handle in loops {
        latencies.extend(handle.await.unwrap());
    }
    (
        latencies.len() as f64 / started.elapsed().as_secs_f64(),
        latencies,
    )
}

/// [`drive`] with GETs, each path from `next`, an HTTP client per loop.
async fn hammer(
    base_url: &str,
    token: Option<&str>,
    next: Arc<dyn Fn(usize, usize) -> String + Send + Sync>,
) -> (f64, Vec<Duration>) {
    let clients: Arc<Vec<reqwest::Client>> =
        Arc::new((0..CLIENTS).map(|_| reqwest::Client::new()).collect());
    let (base_url, token) = (Arc::new(base_url.to_owned()), token.map(Arc::<str>::from));
    drive(move |client, n| {
        let mut request = clients[client].get(format!("{base_url}{}", next(client, n)));
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body = response.bytes().await.unwrap();
            assert!(status.is_success(), "{status} {body:?}");
        }
    })
    .await
}

/// The user the `n`-th request of loop `client` asks about.
fn pick(client: usize, n: usize) -> usize {
    Dice((client * 7_919 + n * 104_729 + 1) as u64).next(USERS)
}

/// A 3-letter fragment of the picked user's last name (lowercase), which
/// thousands of users share.
fn fragment(client: usize, n: usize) -> String {
    let last = person(pick(client, n))
        .0
        .split(' ')
        .nth(1)
        .unwrap()
        .to_lowercase();
    last[1..4].to_owned()
}

fn report(what: &str, (rate, mut latencies): (f64, Vec<Duration>)) -> f64 {
    println!(
        "  {what}: {rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms (n={})",
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        latencies.len()
    );
    rate
}

/// The query plan of a search, as the server runs it (the server names the
/// columns it reads; the plan is that of `*`: none can come from an index
/// alone).
fn explain(server: &TestServer, q: &str) {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    #[derive(QueryableByName)]
    struct Step {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let mut conn = server.database.connect();
    let pattern = format!("%{q}%");
    let lines: Vec<String> = match &mut conn {
        // The statements the server runs for the two kinds of text.
        DbConn::Postgres(pg) if q.contains('@') => diesel::sql_query(
            "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM users WHERE partner_id = $1 \
             AND email LIKE $2 ESCAPE '\\' ORDER BY id LIMIT 51",
        )
        .bind::<diesel::sql_types::Text, _>(&server.owner.partner_id)
        .bind::<diesel::sql_types::Text, _>(format!("{q}%"))
        .load::<Line>(pg)
        .expect("explain")
        .into_iter()
        .map(|l| l.line)
        .collect(),
        DbConn::Postgres(pg) => diesel::sql_query(
            "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM users WHERE partner_id = $1 \
             AND search_text LIKE $2 ESCAPE '\\' ORDER BY id LIMIT 51",
        )
        .bind::<diesel::sql_types::Text, _>(&server.owner.partner_id)
        .bind::<diesel::sql_types::Text, _>(&pattern)
        .load::<Line>(pg)
        .expect("explain")
        .into_iter()
        .map(|l| l.line)
        .collect(),
        DbConn::Sqlite(sqlite) if q.contains('@') => diesel::sql_query(
            "EXPLAIN QUERY PLAN SELECT * FROM users WHERE partner_id = ? \
             AND email >= ? AND email < ? ORDER BY id LIMIT 51",
        )
        .bind::<diesel::sql_types::Text, _>(&server.owner.partner_id)
        .bind::<diesel::sql_types::Text, _>(q)
        .bind::<diesel::sql_types::Text, _>(format!("{q}\u{10FFFF}"))
        .load::<Step>(sqlite)
        .expect("explain")
        .into_iter()
        .map(|s| s.detail)
        .collect(),
        DbConn::Sqlite(sqlite) => diesel::sql_query(
            "EXPLAIN QUERY PLAN SELECT * FROM users WHERE partner_id = ? \
             AND instr(search_text, ?) > 0 ORDER BY id LIMIT 51",
        )
        .bind::<diesel::sql_types::Text, _>(&server.owner.partner_id)
        .bind::<diesel::sql_types::Text, _>(q)
        .load::<Step>(sqlite)
        .expect("explain")
        .into_iter()
        .map(|s| s.detail)
        .collect(),
    };
    println!("  plan for q={q:?}:");
    for line in lines {
        println!("    {line}");
    }
}

/// Whether a phase runs: every one, or those named by the arguments
/// (`cargo bench --bench users -- postgres/get`, any part of `BACKEND/PHASE`
/// with phases `email`, `fragment`, `alone`, `plans`, `scim`, `get`).
fn wanted(backend: Backend, phase: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let name = format!("{}/{phase}", backend.name());
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// Each search three times over one pool (the first on a connection
/// prepares the statement; the others show the warm cost), and the query
/// plans.
async fn plans(server: &TestServer) {
    let pool = server.database.pool();
    for q in [person(4_242).1, "nde".to_owned()]
        .into_iter()
        .flat_map(|q| [q.clone(), q.clone(), q])
    {
        let partner = custodian_api::ids::PartnerId::parse(&server.owner.partner_id).unwrap();
        let started = Instant::now();
        let found = pool
            .run(move |conn| {
                custodian_api::db::users::list(
                    conn,
                    partner,
                    &custodian_api::db::users::UserFilter {
                        text: Some(q),
                        limit: 51,
                        ..Default::default()
                    },
                )
            })
            .await
            .unwrap();
        println!(
            "  one search alone: {} found in {:.1} ms",
            found.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    explain(server, &person(4_242).1);
    explain(server, "nde");
    // A rare fragment (one user): the trigram index.
    explain(server, "moreau.4242");
}

/// The fragment search's statement alone: `CLIENTS` loops on this runtime
/// run the statement the server runs for `GET /v1/users?q=`
/// (`db::users::list`, diesel included) for `SECONDS`, through a pool like
/// the server's (`pool_size` connections, the same queue in `Db::run`): no
/// HTTP, token, authorization or JSON. The database's and its driver's
/// share at the server's concurrency on this machine, a floor under the
/// server's figure for the same search.
async fn alone(server: &TestServer, pool_size: u32) {
    use custodian_api::db::{Db, PoolOptions};
    let partner = custodian_api::ids::PartnerId::parse(&server.owner.partner_id).unwrap();
    let pool = Db::connect(
        &server.database.url,
        PoolOptions {
            max_size: pool_size,
            ..PoolOptions::default()
        },
    )
    .expect("a pool");
    let measured = drive(move |client, n| {
        let pool = pool.clone();
        let filter = custodian_api::db::users::UserFilter {
            text: Some(fragment(client, n)),
            limit: 51,
            ..Default::default()
        };
        async move {
            let found = pool
                .run(move |conn| custodian_api::db::users::list(conn, partner, &filter))
                .await
                .expect("searched");
            assert_eq!(found.len(), 51);
        }
    })
    .await;
    report(
        "the fragment search's statement alone (no HTTP, token, authorization or JSON)",
        measured,
    );
}

async fn run(backend: Backend) {
    if !["email", "fragment", "alone", "plans", "scim", "get"]
        .iter()
        .any(|phase| wanted(backend, phase))
    {
        return;
    }
    // The server's pool as configured (`CUSTODIAN_DB_POOL_SIZE`), else sized
    // to the database server as the README advises: twice its cores, which
    // here are this machine's.
    let pool_size = std::env::var("CUSTODIAN_DB_POOL_SIZE")
        .ok()
        .and_then(|size| size.parse().ok())
        .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    println!("{} backend (a pool of {pool_size}):", backend.name());
    let Some(server) = TestServer::spawn_with(backend, |config| {
        config.db_pool_size = pool_size;
    })
    .await
    else {
        return;
    };
    let ids = Arc::new(seed(&server).await);
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
    let token = token["access_token"].as_str().unwrap().to_owned();

    let by_email =
        Arc::new(|client: usize, n: usize| format!("/v1/users?q={}", person(pick(client, n)).1));
    if wanted(backend, "email") {
        report(
            "locate by a whole email (1 match)",
            hammer(&server.base_url, Some(&token), by_email).await,
        );
    }
    let by_fragment =
        Arc::new(|client: usize, n: usize| format!("/v1/users?q={}", fragment(client, n)));
    if wanted(backend, "fragment") {
        report(
            "locate by a 3-letter fragment of a name (thousands of matches, first page)",
            hammer(&server.base_url, Some(&token), by_fragment).await,
        );
    }
    if wanted(backend, "alone") {
        alone(&server, pool_size).await;
    }
    if wanted(backend, "plans") {
        plans(&server).await;
    }
    if wanted(backend, "scim") {
        scim(&server, &token).await;
    }
    if !wanted(backend, "get") {
        return;
    }

    let ids_for_get = ids.clone();
    let get = Arc::new(move |client: usize, n: usize| {
        format!("/v1/users/{}", ids_for_get[pick(client, n)])
    });
    let api = report(
        "authorized GET /v1/users/{id}",
        hammer(&server.base_url, Some(&token), get).await,
    );

    // The same machine's bare actix-web JSON endpoint, as many workers.
    let bare = HttpServer::new(|| {
        App::new().route(
            "/bare",
            web::get().to(|| async {
                HttpResponse::Ok().json(json!({
                    "id": "0193b1f0-0000-7000-8000-000000000000",
                    "email": "ada.anders.0@c0.example",
                    "name": "Ada Anders",
                    "client_kind": "desktop",
                }))
            }),
        )
    })
    .workers(2)
    .bind("127.0.0.1:0")
    .unwrap();
    let address = bare.addrs()[0];
    let bare = bare.run();
    let handle = bare.handle();
    actix_web::rt::spawn(bare);
    let baseline = report(
        "bare actix-web JSON endpoint",
        hammer(
            &format!("http://{address}"),
            None,
            Arc::new(|_, _| "/bare".to_owned()),
        )
        .await,
    );
    handle.stop(false).await;
    println!("  ratio: {:.2} of the bare endpoint", api / baseline);
}

/// `userName eq` lookups by `CLIENTS` directories: loop `c` holds the SCIM
/// token of the company of users `c`, `c + COMPANIES`, … and finds one of
/// them by email each time.
async fn scim(server: &TestServer, token: &str) {
    let http = reqwest::Client::new();
    let mut company_of_loop = Vec::with_capacity(CLIENTS);
    // User i is in "Company {i % COMPANIES}".
    let names: Vec<String> = (0..CLIENTS).map(|c| format!("Company {c}")).collect();
    let ids: Vec<(String, String)> = server
        .database
        .pool()
        .run(move |conn: &mut DbConn| {
            use custodian_api::db::schema::companies as table;
            Ok::<_, DbError>(
                table::table
                    .filter(table::name.eq_any(names))
                    .select((table::name, table::id))
                    .load(conn)?,
            )
        })
        .await
        .unwrap();
    for client in 0..CLIENTS {
        let company = &ids
            .iter()
            .find(|(name, _)| *name == format!("Company {client}"))
            .expect("the company")
            .1;
        let made: Value = http
            .post(format!(
                "{}/v1/companies/{company}/scim-tokens",
                server.base_url
            ))
            .bearer_auth(token)
            .json(&json!({"name": "Directory", "client_kind": "desktop"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        company_of_loop.push(made["token"].as_str().unwrap().to_owned());
    }
    let tokens = Arc::new(company_of_loop);
    let clients: Arc<Vec<reqwest::Client>> =
        Arc::new((0..CLIENTS).map(|_| reqwest::Client::new()).collect());
    let base_url = Arc::new(server.base_url.clone());
    let measured = drive(move |client, n| {
        let user = client + COMPANIES * Dice((n * 104_729 + 1) as u64).next(USERS / COMPANIES);
        let filter: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &format!("userName eq \"{}\"", person(user).1))
            .finish();
        let request = clients[client]
            .get(format!("{base_url}/scim/v2/Users?{filter}"))
            .bearer_auth(&tokens[client]);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert!(
                status.is_success() && body["totalResults"] == 1,
                "{status} {body}"
            );
        }
    })
    .await;
    report(
        "SCIM lookup, userName eq (1 match, the company's SCIM token)",
        measured,
    );
}

fn main() {
    actix_web::rt::System::new().block_on(async {
        run(Backend::Sqlite).await;
        if std::env::var_os("CUSTODIAN_TEST_POSTGRES_URL").is_some() {
            run(Backend::Postgres).await;
        }
    });
}
