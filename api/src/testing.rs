//! Test support (feature `test-support`): a fresh database per test on either
//! backend, a real server on port 0 over it, and an SMTP sink it mails to.
//!
//! PostgreSQL tests read the server's URL from `CUSTODIAN_TEST_POSTGRES_URL`
//! and create (and drop) a database of their own. Where the variable is unset
//! they are skipped with a line that says so, except in CI (`CI` set), where a
//! missing PostgreSQL is a failure.

use std::path::PathBuf;

use actix_web::dev::ServerHandle;
use diesel::prelude::*;
use tempfile::TempDir;

use crate::auth::keys::ServerKeys;
use crate::auth::password::Passwords;
use crate::auth::tokens::TokenService;
use crate::authz::Authz;
use crate::bootstrap::{Bootstrapped, FirstPartner};
use crate::config::{Config, DatabaseUrl};
pub use crate::db::Backend;
use crate::db::DbError;
use crate::db::admins::Role;
use crate::db::{Db, DbConn, PoolOptions};
use crate::http::AppState;
use crate::server::Server;

mod smtp_sink;
pub use smtp_sink::{Received, SmtpSink};

/// The variable that names the PostgreSQL server tests may use.
pub const POSTGRES_URL_ENV: &str = "CUSTODIAN_TEST_POSTGRES_URL";

/// The PostgreSQL URL for tests; `None` (after saying so) when unset outside CI.
///
/// # Panics
/// In CI without the variable: CI must test PostgreSQL.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if in_ci() => panic!("{POSTGRES_URL_ENV} is unset, and CI must test PostgreSQL"),
        _ => {
            eprintln!(
                "SKIPPED: PostgreSQL test, because {POSTGRES_URL_ENV} is unset \
                 (set it to e.g. postgres://postgres@127.0.0.1:5432/postgres, as .ci/run does)"
            );
            None
        }
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The state a handler sees, over `db`, with a fixed test key.
pub fn app_state(db: Db) -> actix_web::web::Data<AppState> {
    let master = secrecy::SecretBox::new(Box::new([42u8; 32]));
    let keys = std::sync::Arc::new(ServerKeys::derive(&master));
    let tokens = TokenService::ephemeral(&keys, "http://127.0.0.1/".into());
    let throttle = crate::auth::throttle::Throttle::for_database(&db, keys.clone());
    actix_web::web::Data::new(AppState {
        app: crate::app::App {
            db,
            keys,
            authz: std::sync::Arc::new(
                Authz::embedded().expect("the compiled-in policies are valid"),
            ),
            clock: crate::clock::Clock::system(),
            outbox: Default::default(),
            batches: Default::default(),
            approval_ttl: chrono::Duration::hours(24),
            passwords: Passwords::new(1),
            tokens: std::sync::Arc::new(tokens),
            throttle: std::sync::Arc::new(throttle),
        },
        metrics: Default::default(),
        proxies: Default::default(),
        cors_origins: Vec::new(),
        metrics_listener: None,
    })
}

/// A pool over a database that cannot be reached (nothing listens where it
/// points), checked out with a short timeout: every query is an outage.
pub fn unreachable_database(backend: Backend) -> Db {
    let url = match backend {
        // A directory cannot be opened as a database file.
        Backend::Sqlite => DatabaseUrl::Sqlite("/".into()),
        // Nothing listens on port 1.
        Backend::Postgres => {
            DatabaseUrl::Postgres("postgres://postgres@127.0.0.1:1/none?connect_timeout=2".into())
        }
    };
    let options = PoolOptions {
        max_size: 1,
        checkout_timeout: std::time::Duration::from_millis(300),
        check_now: false,
    };
    Db::connect(&url, options).expect("an unchecked pool builds")
}

/// A database that exists for one test: a SQLite file in a temporary
/// directory, or a PostgreSQL database created now and dropped on drop.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    pub dir: TempDir,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh, empty database (no migrations applied); `None` when the
    /// backend is PostgreSQL and no server is configured outside CI.
    pub fn create(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        match backend {
            Backend::Sqlite => Some(Self {
                url: DatabaseUrl::Sqlite(dir.path().join("custodian.db")),
                dir,
                postgres: None,
            }),
            Backend::Postgres => {
                let admin_url = postgres_url()?;
                let name = format!("custodian_test_{}", uuid::Uuid::new_v4().simple());
                openssl_sys::init(); // no OpenSSL exit handler: see `DbConn::open`
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("cannot reach {POSTGRES_URL_ENV}: {e}"));
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .expect("CREATE DATABASE");
                let mut url = url::Url::parse(&admin_url).expect("a URL");
                url.set_path(&name);
                Some(Self {
                    url: DatabaseUrl::Postgres(url.to_string()),
                    dir,
                    postgres: Some((admin_url, name)),
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self.url {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// A new connection to this database.
    pub fn connect(&self) -> DbConn {
        DbConn::open(&self.url).expect("connect to the test database")
    }

    /// A small pool over this database.
    pub fn pool(&self) -> Db {
        Db::connect(
            &self.url,
            PoolOptions {
                max_size: 4,
                ..PoolOptions::default()
            },
        )
        .expect("a pool over the test database")
    }

    /// Settings for a server on port 0 over this database, with its data
    /// directory beside it.
    pub fn config(&self) -> Config {
        let mut config = Config::with_data_dir(self.dir.path().join("data"));
        config.listen = "127.0.0.1:0".parse().expect("an address");
        config.database = self.url.clone();
        config.workers = 2;
        config.db_pool_size = 8;
        config
    }
}

impl TestDatabase {
    /// Drops a PostgreSQL database now, with its connections: an outage for
    /// whatever uses it. (SQLite: nothing to drop.)
    pub fn drop_database(&self) {
        let Some((admin_url, name)) = &self.postgres else {
            return;
        };
        openssl_sys::init();
        if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = diesel::sql_query(drop).execute(&mut admin);
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.drop_database();
    }
}

/// A real server on 127.0.0.1 with a port of its own, over a fresh database.
/// Stopped when dropped.
pub struct TestServer {
    pub base_url: String,
    pub data_dir: PathBuf,
    /// The platform operator the server bootstrapped, and its password.
    pub operator: Bootstrapped,
    /// The test's partner and its owner, with the owner's one-time password.
    pub owner: FirstPartner,
    /// The server's token keys: tests sign forged tokens with them.
    pub tokens: std::sync::Arc<crate::auth::tokens::TokenService>,
    /// The server's derived keys (the audit chain's among them).
    pub keys: std::sync::Arc<crate::auth::keys::ServerKeys>,
    /// The server's clock: manual, moved by the tests.
    pub clock: crate::clock::Clock,
    /// The SMTP server this server mails to (unless the test configured
    /// another transport).
    pub mail: SmtpSink,
    /// Wakes the server's outbox workers (after moving the clock, say).
    pub outbox: crate::mail::Signal,
    /// The server's domain layer: tests call its operations without HTTP.
    pub app: crate::app::App,
    /// The settings it runs on.
    pub config: Config,
    /// `http://` and the address of the metrics listener, when it has one.
    pub metrics_url: Option<String>,
    handle: ServerHandle,
    // Dropped last: the server must stop before its database goes.
    pub database: TestDatabase,
}

impl TestServer {
    /// Starts a server over a fresh database of `backend`; `None` when that
    /// backend is skipped (see [`postgres_url`]).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// As [`TestServer::spawn`], with the settings adjusted first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let database = TestDatabase::create(backend)?;
        let mail = SmtpSink::start();
        let mut config = database.config();
        config.smtp = Some(crate::config::SmtpUrl::parse(&mail.url()).expect("the sink's URL"));
        adjust(&mut config);
        let clock = crate::clock::Clock::manual(crate::clock::system_now());
        let mut server = Server::build_with_clock(&config, clock.clone())
            .await
            .expect("the server starts");
        let operator = server
            .take_bootstrapped()
            .expect("a fresh database is bootstrapped at start");
        let owner = crate::bootstrap::first_partner(
            server.db(),
            &crate::auth::password::Passwords::new(1),
            crate::bootstrap::PartnerRequest::default(),
        )
        .await
        .expect("the test's partner");
        let base_url = format!("http://{}", server.local_addr());
        let metrics_url = server.metrics_addr().map(|a| format!("http://{a}"));
        let tokens = server.tokens();
        let keys = server.keys();
        let outbox = server.outbox();
        let app = server.app();
        let handle = server.handle();
        actix_web::rt::spawn(server.run());
        Some(Self {
            base_url,
            data_dir: config.data_dir.clone(),
            config,
            metrics_url,
            operator,
            owner,
            tokens,
            keys,
            clock,
            mail,
            outbox,
            app,
            handle,
            database,
        })
    }

    /// Adds an admin of the bootstrapped partner with a known password (not
    /// one-time), assigned to `companies`; returns (email, password).
    pub async fn create_admin(&self, role: Role, companies: &[String]) -> (String, String) {
        let password = crate::auth::draw_secret(12);
        let hash = crate::auth::password::hash_blocking(&password);
        let now = self.clock.now();
        let admin_id = crate::ids::AdminId::new();
        let id = admin_id.to_string();
        let email = format!("{}-{}@example.com", role.as_str(), &id[id.len() - 8..]);
        let admin = crate::db::admins::Admin {
            id: admin_id,
            partner_id: crate::ids::PartnerId::parse(&self.owner.partner_id)
                .expect("the bootstrapped partner's id is a UUID"),
            email: email.clone(),
            name: role.as_str().to_owned(),
            role,
            password_hash: hash,
            must_change_password: false,
            token_generation: 0,
            locale: "en".into(),
            created_at: now,
            updated_at: now,
            invitation_expires_at: None,
        };
        let partner = self.owner.partner_id.clone();
        let companies = companies.to_vec();
        self.database
            .pool()
            .run(move |conn| {
                use diesel::RunQueryDsl;
                crate::db::admins::insert(conn, &admin)?;
                for company in companies {
                    diesel::insert_into(crate::db::schema::admin_companies::table)
                        .values((
                            crate::db::schema::admin_companies::admin_id.eq(&id),
                            crate::db::schema::admin_companies::company_id.eq(company),
                            crate::db::schema::admin_companies::partner_id.eq(&partner),
                        ))
                        .execute(conn)?;
                }
                Ok::<_, DbError>(())
            })
            .await
            .expect("insert an admin");
        (
            email,
            secrecy::ExposeSecret::expose_secret(&password).to_owned(),
        )
    }

    /// Another instance of the same server: the same database, settings,
    /// server key and clock, on a port of its own (several instances behind
    /// a load balancer).
    pub async fn another_instance(&self) -> Instance {
        let server = Server::build_with_clock(&self.config, self.clock.clone())
            .await
            .expect("another instance starts");
        let base_url = format!("http://{}", server.local_addr());
        let handle = server.handle();
        actix_web::rt::spawn(server.run());
        Instance { base_url, handle }
    }

    /// Stops the server, letting requests in flight finish.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// Another instance of a [`TestServer`]; stopped when dropped.
pub struct Instance {
    pub base_url: String,
    handle: ServerHandle,
}

impl Drop for Instance {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Not awaited: the runtime may be ending. The workers stop at once.
        drop(self.handle.stop(false));
    }
}
