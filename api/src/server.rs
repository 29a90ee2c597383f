//! Starting the server: open the database, apply migrations, bind, and run the
//! HTTP workers. Used by `custodian serve` and by every test that needs a real
//! server (on port 0).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{HttpServer, web};
use anyhow::Context;
use url::Url;

use crate::auth::keys::ServerKeys;
use crate::auth::password::Passwords;
use crate::auth::tokens::TokenService;
use crate::authz::Authz;
use crate::bootstrap::{BootstrapError, BootstrapRequest, Bootstrapped, bootstrap};
use crate::config::Config;
use crate::db::{Db, PoolOptions, migrations};
use crate::http::extract::BodyLimit;
use crate::http::{AppState, Published, app, openapi};
use crate::metrics::Metrics;

/// How long a stopping server lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A bound, ready-to-run server.
pub struct Server {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    db: Db,
    tokens: Arc<TokenService>,
    keys: Arc<ServerKeys>,
    bootstrapped: Option<Bootstrapped>,
    server: actix_web::dev::Server,
    outbox: crate::mail::Signal,
    mail_workers: crate::mail::Workers,
    batch_workers: crate::batch_worker::Workers,
    /// The domain layer's services, as the API's handlers use them.
    app: crate::app::App,
}

impl Server {
    /// Prepares everything that can fail before serving: the data directory,
    /// the database and its migrations, the listening socket.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, crate::clock::Clock::system()).await
    }

    /// As [`Server::build`], reading the time from `clock` (tests move it).
    pub async fn build_with_clock(
        config: &Config,
        clock: crate::clock::Clock,
    ) -> anyhow::Result<Self> {
        // Policies first: an invalid one stops the start before anything else.
        let authz = match &config.policy_dir {
            Some(dir) => Authz::load_dir(dir),
            None => Authz::embedded(),
        }
        .map_err(|e| anyhow::anyhow!("invalid policies: {e}"))?;
        crate::private_fs::create_dir(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
        let options = PoolOptions {
            max_size: config.db_pool_size,
            ..PoolOptions::default()
        };
        let db = Db::connect(&config.database, options)
            .with_context(|| format!("cannot open the database {:?}", config.database))?;
        let applied = db.run(migrations::run_pending).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied database migrations");
        }
        let keys = Arc::new(ServerKeys::load(
            config.secret_key.as_ref(),
            &config.data_dir,
        )?);
        let passwords = Passwords::new(0);
        // A fresh install gets its first operator by itself; a database
        // that has partners (one from before operators existed, say) gets
        // one only from `custodian bootstrap`, on purpose.
        let fresh = db.run(crate::db::partners::count).await? == 0;
        let bootstrapped = if fresh {
            match bootstrap(&db, &passwords, BootstrapRequest::default()).await {
                Ok(created) => {
                    tracing::info!(operator = %created.operator_id, "bootstrapped the first platform operator");
                    Some(created)
                }
                Err(BootstrapError::OperatorExists) => None,
                Err(error) => return Err(error.into()),
            }
        } else {
            None
        };

        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let metrics_listener = config
            .metrics_listen
            .map(|at| {
                TcpListener::bind(at).with_context(|| format!("cannot listen on {at} for metrics"))
            })
            .transpose()?;
        let metrics_addr = metrics_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        // Tokens name this server as their issuer: its public URL, by
        // default the address actually bound (a port-0 listen picks it now).
        let issuer = config
            .public_url
            .as_ref()
            .map_or_else(|| format!("http://{addr}/"), ToString::to_string);
        let tokens = Arc::new(
            TokenService::load_or_create(&db, keys.clone(), issuer.clone(), clock.clone()).await?,
        );
        let metrics = Arc::new(Metrics::default());
        let outbox = crate::mail::Signal::default();
        let public = config
            .public_url
            .clone()
            .unwrap_or_else(|| Url::parse(&issuer).expect("the issuer is a URL"));
        let links = crate::mail::templates::Links {
            webapp: config.webapp_url.clone().unwrap_or_else(|| public.clone()),
            portal: config.portal_url.clone().unwrap_or(public),
        };
        let mailer = Arc::new(crate::mail::Mailer {
            db: db.clone(),
            keys: keys.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            transport: crate::mail::Transport::from_config(config)?,
            from: config.mail_from.clone(),
            links,
            dead_letter_after: config.mail_dead_letter_after,
        });
        tracing::info!(
            mail = %mailer.transport.describe(),
            smtp = ?config.smtp,
            workers = config.mail_workers,
            "delivering the outbox"
        );
        let mail_workers = crate::mail::spawn(mailer, config.mail_workers, &outbox);
        let throttle = Arc::new(crate::auth::throttle::Throttle::for_database(
            &db,
            keys.clone(),
        ));
        throttle.clone().spawn_sweeper(clock.clone());
        let domain = crate::app::App {
            db: db.clone(),
            keys: keys.clone(),
            authz: Arc::new(authz),
            clock: clock.clone(),
            outbox: outbox.clone(),
            batches: crate::mail::Signal::default(),
            approval_ttl: config.approval_ttl,
            passwords,
            tokens: tokens.clone(),
            throttle,
        };
        let batch_workers = crate::batch_worker::spawn(
            domain.clone(),
            config.batch_concurrency,
            config.batch_lease,
            &domain.batches,
        );
        let state = web::Data::new(AppState {
            app: domain.clone(),
            metrics,
            proxies: config.trusted_proxies.clone(),
            cors_origins: config.cors_origins.clone(),
            metrics_listener: metrics_addr,
        });
        crate::retention::spawn(db.clone(), clock, keys.clone());
        let published = web::Data::new(Published::new(&openapi()));
        let limit = BodyLimit(config.max_body_bytes);
        let mut http = HttpServer::new(move || app(state.clone(), published.clone(), limit))
            .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
        if config.workers > 0 {
            http = http.workers(config.workers);
        }
        http = http.listen(listener)?;
        if let Some(metrics) = metrics_listener {
            http = http.listen(metrics)?;
            tracing::info!(addr = ?metrics_addr, "serving /metrics on a listener of its own");
        }
        let server = http.run();
        tracing::info!(%addr, database = config.database.backend_name(), "listening");
        Ok(Self {
            addr,
            metrics_addr,
            db,
            tokens,
            keys,
            bootstrapped,
            server,
            outbox,
            mail_workers,
            batch_workers,
            app: domain,
        })
    }

    /// The address actually bound (the port is chosen when it was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `/metrics` is served on, when it has its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The database pool the server uses.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The keys that sign and verify this server's tokens.
    pub fn tokens(&self) -> Arc<TokenService> {
        self.tokens.clone()
    }

    /// The server key's derived keys (audit chain, secrets' hashes, sealing).
    pub fn keys(&self) -> Arc<ServerKeys> {
        self.keys.clone()
    }

    /// The first partner and owner this start created on an empty database,
    /// with the one-time password to show once; `None` afterwards.
    pub fn take_bootstrapped(&mut self) -> Option<Bootstrapped> {
        self.bootstrapped.take()
    }

    /// A handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The domain layer's services: what a worker of this server (or a
    /// test) calls operations with, outside HTTP.
    pub fn app(&self) -> crate::app::App {
        self.app.clone()
    }

    /// Wakes this server's outbox workers (tests do, after moving the clock).
    pub fn outbox(&self) -> crate::mail::Signal {
        self.outbox.clone()
    }

    /// Serves until stopped (SIGINT/SIGTERM, or the handle); the outbox
    /// workers stop with it.
    pub async fn run(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.mail_workers.stop();
        self.batch_workers.stop();
        served
    }
}
