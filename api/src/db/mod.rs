//! Storage with diesel over SQLite (the embedded default) and PostgreSQL
//! (production, and several API instances), through one connection enum.
//!
//! This module owns the connection type, the pool, the migrations and the
//! mapping of database failures to [`DbError`]. Storage functions live in one
//! module per aggregate and take `&mut DbConn`; they run on the blocking pool
//! through [`Db::run`], never on the async executor's threads.
//!
//! A database failure is never turned into "not found": absence is an
//! `Option` from `.optional()`, and an outage is [`DbError::Unavailable`]
//! (HTTP 503).

pub mod admins;
pub mod api_clients;
pub mod backup_profiles;
pub mod batches;
pub mod companies;
pub mod idempotency;
pub mod migrations;
pub mod operator_clients;
pub mod operators;
pub mod outbox;
pub mod partners;
pub mod resets;
pub mod schema;
pub mod scim_tokens;
pub mod signing_keys;
pub mod throttle;
pub mod types;
pub mod users;
pub mod vault;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, R2D2Connection};
use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};

use crate::config::DatabaseUrl;
use crate::metrics::PoolUsage;

/// A connection to either backend. Storage code is written once against it;
/// where SQL must differ, it matches on the variant.
///
/// The reads every request makes (the caller's row, the object asked for)
/// match on the variant too, and run the same query on the concrete
/// connection: through this enum diesel renders a statement's SQL text
/// anew on every execution (the derive's `SerializedQuery` writes it in
/// each pass over the query, even when the prepared statement is cached),
/// which was a fifth of such a lookup's time; on the concrete connection a
/// cached statement is found by its type and only its values are bound.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Which database a connection or URL speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Opens one connection to exactly the backend the URL names (the derived
    /// `establish` would try each backend in turn, and SQLite accepts any
    /// string as a file name).
    pub fn open(url: &DatabaseUrl) -> Result<Self, ConnectionError> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    ConnectionError::InvalidConnectionUrl("the SQLite path is not UTF-8".into())
                })?;
                let mut conn = diesel::SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(Self::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                // OpenSSL (under libpq's TLS) initialized without its exit
                // handler: left to libpq, OpenSSL registers an atexit
                // cleanup that frees its per-thread state while worker
                // threads still exit, and the process crashes on the way
                // out (SIGSEGV in `init_thread_deregister`, seen in the
                // tests). openssl-sys initializes with
                // OPENSSL_INIT_NO_ATEXIT, once.
                openssl_sys::init();
                Ok(Self::Postgres(diesel::PgConnection::establish(url)?))
            }
        }
    }
}

/// Set on every SQLite connection: write-ahead logging so readers never block
/// the writer, a busy timeout instead of immediate `SQLITE_BUSY`, enforced
/// foreign keys (SQLite's default is off), durable commits, sorts in memory
/// rather than in temporary files, and reads through a memory map of the
/// first 256 MiB of the file. Without the map, each connection keeps its own
/// 2 MiB page cache and reads every other page with a `pread` system call:
/// a random user's lookup among 100,000 spent a third of its time there
/// (docs/decisions.md). Writes still go through the WAL as before.
const SQLITE_PRAGMAS: &str = "\
    PRAGMA journal_mode = WAL;\
    PRAGMA busy_timeout = 5000;\
    PRAGMA foreign_keys = ON;\
    PRAGMA synchronous = FULL;\
    PRAGMA temp_store = MEMORY;\
    PRAGMA mmap_size = 268435456;";

/// One line from a driver's message (libpq's span several).
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A database failure, as storage code reports it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had, or the one we had broke.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed for another reason: a fault of ours, not the client's.
    #[error("database error: {0}")]
    Query(DieselError),
    /// Migrations failed to apply or to list.
    #[error("migrations: {0}")]
    Migration(String),
    /// The blocking task running the call panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
    /// A stored value is not what it must be (an id that does not parse):
    /// a fault to log, never a panic and never a made-up value.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

impl DbError {
    /// Whether a unique constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(DieselError::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(one_line(info.message())),
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("broken transaction manager".into())
            }
            // SQLite past its busy timeout: another writer holds the lock.
            DieselError::DatabaseError(_, info)
                if info.message().contains("database is locked")
                    || info.message().contains("database is busy") =>
            {
                Self::Unavailable(one_line(info.message()))
            }
            // A stored value its Rust type does not read (an id that is
            // not a UUID, a status outside its enum): a corrupt row.
            DieselError::DeserializationError(cause) => Self::Corrupt(cause.to_string()),
            other => Self::Query(other),
        }
    }
}

/// What kind of storage failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// The database cannot be reached.
    Unavailable,
    /// Any other failure of the database's.
    Failed,
}

/// An error a database call may end in: a storage failure converts into
/// it, and it says whether it is one, so that a connection whose server
/// went away is not handed out again. A refusal decided inside a
/// transaction (a domain error) is not, and rolls the transaction back.
pub trait StorageFailure: From<DbError> {
    /// `None` for a refusal of the caller's own.
    fn storage(&self) -> Option<Storage>;
}

impl StorageFailure for DbError {
    fn storage(&self) -> Option<Storage> {
        Some(match self {
            DbError::Unavailable(_) => Storage::Unavailable,
            _ => Storage::Failed,
        })
    }
}

/// A transaction's error, as diesel needs it: the database's own, or the
/// caller's refusal carried out of it.
enum TransactionError<E> {
    Storage(DbError),
    Refused(E),
}

impl<E> From<DieselError> for TransactionError<E> {
    fn from(error: DieselError) -> Self {
        Self::Storage(error.into())
    }
}

/// A PostgreSQL connection that answered within this long is handed out
/// without a ping; one idle for longer is pinged first.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A pooled connection, with when it last answered and whether it broke.
pub struct PoolConn {
    conn: DbConn,
    answered: std::time::Instant,
    broken: bool,
}

impl PoolConn {
    /// Records how a use of the connection went: one whose database went
    /// away is dropped when it returns to the pool, never handed out again.
    /// A PostgreSQL error of another kind (a terminated backend reports its
    /// own message first) is followed by a ping, which tells the two apart.
    fn settle<T, E: StorageFailure>(&mut self, result: &Result<T, E>) {
        self.broken = match result.as_ref().err().and_then(StorageFailure::storage) {
            None => false,
            Some(Storage::Unavailable) => true,
            Some(Storage::Failed) => match &mut self.conn {
                DbConn::Postgres(_) => R2D2Connection::ping(&mut self.conn).is_err(),
                DbConn::Sqlite(_) => false,
            },
        };
        self.answered = std::time::Instant::now();
    }
}

impl std::ops::Deref for PoolConn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

/// Opens connections for the pool and checks them before use.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PoolConn;
    type Error = ConnectionError;

    fn connect(&self) -> Result<PoolConn, ConnectionError> {
        Ok(PoolConn {
            conn: DbConn::open(&self.url)?,
            answered: std::time::Instant::now(),
            broken: false,
        })
    }

    /// A PostgreSQL connection idle for a second or more is pinged before
    /// use, so one that broke while idle (a restarted server) is replaced
    /// instead of failing a request; one that answered within the second is
    /// not, which saves a round trip per request under load (a connection
    /// that fails anyway is dropped, see [`PoolConn::settle`]). A SQLite file
    /// connection does not break that way.
    fn is_valid(&self, conn: &mut PoolConn) -> Result<(), ConnectionError> {
        if matches!(conn.conn, DbConn::Sqlite(_)) || conn.answered.elapsed() < PING_AFTER_IDLE {
            return Ok(());
        }
        R2D2Connection::ping(&mut conn.conn).map_err(ConnectionError::CouldntSetupConfiguration)?;
        conn.answered = std::time::Instant::now();
        Ok(())
    }

    /// A connection left inside a transaction (a panic mid-transaction) or
    /// whose server went away is dropped, never handed to the next caller.
    fn has_broken(&self, conn: &mut PoolConn) -> bool {
        std::thread::panicking() || conn.broken || R2D2Connection::is_broken(&mut conn.conn)
    }
}

/// The database pool, shared by the whole server. Cloning is cheap.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// SQLite: write transactions of this process take turns (see [`Db::write`]).
    sqlite_writer: std::sync::Arc<std::sync::Mutex<()>>,
    /// One permit per connection: requests queue here, first come first
    /// served, before they take a blocking thread (see [`Db::run`]).
    turns: std::sync::Arc<tokio::sync::Semaphore>,
}

/// How the pool behaves.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// The most connections it opens.
    pub max_size: u32,
    /// How long a request waits for a connection before answering 503.
    pub checkout_timeout: Duration,
    /// Open one connection now, so that a wrong URL or a database that is
    /// down stops the start with its real error; without, the pool connects
    /// lazily and the server answers 503 until the database is up.
    pub check_now: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            checkout_timeout: Duration::from_secs(5),
            check_now: true,
        }
    }
}

impl Db {
    /// Builds the pool.
    pub fn connect(url: &DatabaseUrl, options: PoolOptions) -> Result<Self, DbError> {
        if let DatabaseUrl::Sqlite(path) = url {
            // A lazy pool (tests of outages) meets any problem at connect.
            match prepare_sqlite_file(path) {
                Err(error) if options.check_now => return Err(error),
                _ => {}
            }
        }
        let manager = Manager { url: url.clone() };
        if options.check_now {
            // One attempt, now: the real error rather than r2d2's retries.
            r2d2::ManageConnection::connect(&manager)
                .map_err(|e| DbError::Unavailable(one_line(&e.to_string())))?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(0))
            .connection_timeout(options.checkout_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            // `Manager::is_valid` decides which connections to ping.
            .test_on_check_out(true)
            .build_unchecked(manager);
        let backend = match url {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        };
        Ok(Self {
            pool,
            backend,
            sqlite_writer: Default::default(),
            turns: std::sync::Arc::new(tokio::sync::Semaphore::new(options.max_size as usize)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    ///
    /// Requests wait for their turn here, in a first-come-first-served queue
    /// with one place per connection, and only then take a blocking thread
    /// and a connection. Waiting in r2d2 instead (a condition variable) is
    /// not fair: a connection given back goes to whichever thread takes the
    /// lock first, often a newcomer, while a woken waiter finds none and
    /// waits again; under load that made the tail of a search half as long
    /// again (p99 21 ms instead of 14–16 at 16 clients over 4 connections;
    /// docs/decisions.md). It also keeps the threads blocked on a
    /// connection to the pool's size. Callers of [`Db::get_blocking`] (the
    /// CLI, tests) do not queue here; while they hold connections, a turn
    /// may still wait in r2d2, within the same checkout timeout.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: StorageFailure + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        // One checkout timeout for the turn and the connection together.
        let (started, timeout) = (std::time::Instant::now(), self.pool.connection_timeout());
        let turn = tokio::time::timeout(timeout, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| DbError::Unavailable("timed out waiting for a connection".to_owned()))?
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let pool = self.pool.clone();
        // The request's span (and its id) follows the work to the blocking thread.
        let span = tracing::Span::current();
        actix_web::rt::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool
                .get_timeout(timeout.saturating_sub(started.elapsed()))
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            let result = f(&mut conn);
            conn.settle(&result);
            drop(conn);
            drop(turn);
            result
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs `f` in a write transaction on the blocking pool: committed when it
    /// returns `Ok`, rolled back otherwise. On SQLite the process's write
    /// transactions take turns, and each begins `IMMEDIATE` (taking the
    /// database's write lock first, waiting on the busy timeout for a writer
    /// of another process or pool): a deferred transaction that reads and
    /// then writes fails (`SQLITE_BUSY_SNAPSHOT`, which no busy timeout
    /// retries) when another writer committed in between; WAL readers are not
    /// held up. On PostgreSQL they run side by side under row and advisory locks.
    ///
    /// `f` may refuse with an error of its own (a domain error): the
    /// transaction is then rolled back and the error answered as it is.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: StorageFailure + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let writer = self.sqlite_writer.clone();
        let serialize = self.backend == Backend::Sqlite;
        self.run(move |conn| {
            let _turn = serialize.then(|| writer.lock().unwrap_or_else(|e| e.into_inner()));
            write_transaction(conn, |conn| f(conn).map_err(TransactionError::Refused)).map_err(
                |error| match error {
                    TransactionError::Storage(error) => E::from(error),
                    TransactionError::Refused(error) => error,
                },
            )
        })
        .await
    }

    /// A connection for synchronous callers (the CLI and tests); never call
    /// this from async code.
    pub fn get_blocking(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Open and idle connections, for `/metrics`.
    pub fn usage(&self) -> PoolUsage {
        let state = self.pool.state();
        PoolUsage {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }
}

/// The SQLite database file and its directory, the owner's only before
/// SQLite opens them (it would create the file 0644 less the umask; its
/// `-wal` and `-shm` files take the database file's mode).
fn prepare_sqlite_file(path: &Path) -> Result<(), DbError> {
    let unavailable = |what: &Path, e: std::io::Error| {
        DbError::Unavailable(format!("cannot prepare {}: {e}", what.display()))
    };
    if let Some(dir) = path.parent() {
        crate::private_fs::create_dir(dir).map_err(|e| unavailable(dir, e))?;
    }
    crate::private_fs::create_file(path).map_err(|e| unavailable(path, e))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        crate::private_fs::narrow(&side).map_err(|e| unavailable(&side, e))?;
    }
    Ok(())
}

/// `f` in a transaction, as `Connection::transaction` runs it, but begun
/// `BEGIN IMMEDIATE` on SQLite (see [`Db::write`]).
fn write_transaction<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConn::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    // Nested transactions inside `f` become savepoints: the connection's
    // transaction manager counts this one.
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            match <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
                Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(error),
                Err(rollback) => Err(rollback.into()),
            }
        }
    }
}
