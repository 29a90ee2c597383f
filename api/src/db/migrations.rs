//! The embedded migrations of both trees (`migrations/sqlite`,
//! `migrations/postgres`), applied at start and by `custodian migrate`.
//! The two trees must create the same tables and columns; a test compares them.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use diesel::migration::MigrationSource;

use super::{Backend, DbConn, DbError};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// A database error inside a migration call keeps its meaning (an outage is
/// still `Unavailable`); anything else is a migration failure.
fn failed(error: Box<dyn std::error::Error + Send + Sync>) -> DbError {
    match error.downcast::<diesel::result::Error>() {
        Ok(error) => DbError::from(*error),
        Err(other) => DbError::Migration(other.to_string()),
    }
}

/// The PostgreSQL advisory lock that serializes migrations when several
/// instances start at once (an arbitrary constant: "custodia" in ASCII).
const MIGRATION_LOCK: i64 = 0x637573746f646961;

/// Applies every pending migration; returns the versions applied. On
/// PostgreSQL, instances starting together take turns: the first migrates,
/// the others then find nothing pending. (SQLite's file lock does the same.)
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
        applied.iter().map(ToString::to_string).collect()
    }
    match conn {
        DbConn::Sqlite(c) => {
            let applied = c.run_pending_migrations(SQLITE).map(versions);
            sqlite_settle(c, applied.map_err(failed))
        }
        DbConn::Postgres(c) => {
            use diesel::RunQueryDsl;
            let lock = format!("SELECT pg_advisory_lock({MIGRATION_LOCK})");
            let unlock = format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})");
            diesel::sql_query(lock).execute(c)?;
            let result = c
                .run_pending_migrations(POSTGRES)
                .map(versions)
                .map_err(failed);
            diesel::sql_query(unlock).execute(c)?;
            result
        }
    }
}

/// A SQLite migration that rebuilds a table runs outside diesel's
/// transaction (`metadata.toml`), turning foreign keys off and opening its
/// own. If it fails midway its transaction is still open and foreign keys
/// still off: roll it back and turn them on again, so the connection goes
/// back to the pool as it came and nothing half-done is ever committed.
fn sqlite_settle<T>(
    conn: &mut diesel::SqliteConnection,
    result: Result<T, DbError>,
) -> Result<T, DbError> {
    use diesel::connection::SimpleConnection;
    if result.is_err() {
        // Fails harmlessly when the failure left no transaction open.
        let _ = conn.batch_execute("ROLLBACK");
    }
    conn.batch_execute("PRAGMA foreign_keys = ON")?;
    result
}

/// Reverts every applied migration (tests and operators only).
pub fn revert_all(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    fn versions(reverted: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
        reverted.iter().map(ToString::to_string).collect()
    }
    match conn {
        DbConn::Sqlite(c) => {
            let reverted = c.revert_all_migrations(SQLITE).map(versions);
            sqlite_settle(c, reverted.map_err(failed))
        }
        DbConn::Postgres(c) => Ok(versions(c.revert_all_migrations(POSTGRES).map_err(failed)?)),
    }
}

/// Reverts the newest applied migration; returns its version.
pub fn revert_last(conn: &mut DbConn) -> Result<String, DbError> {
    match conn {
        DbConn::Sqlite(c) => {
            let reverted = c.revert_last_migration(SQLITE).map(|v| v.to_string());
            sqlite_settle(c, reverted.map_err(failed))
        }
        DbConn::Postgres(c) => Ok(c
            .revert_last_migration(POSTGRES)
            .map_err(failed)?
            .to_string()),
    }
}

/// The migrations this build has that the database lacks.
pub fn pending(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    fn versions<DB: diesel::backend::Backend>(
        pending: Vec<Box<dyn diesel::migration::Migration<DB>>>,
    ) -> Vec<String> {
        pending
            .iter()
            .map(|m| m.name().version().to_string())
            .collect()
    }
    Ok(match conn {
        DbConn::Sqlite(c) => versions(c.pending_migrations(SQLITE).map_err(failed)?),
        DbConn::Postgres(c) => versions(c.pending_migrations(POSTGRES).map_err(failed)?),
    })
}

/// The newest applied migration, if any.
pub fn current_version(conn: &mut DbConn) -> Result<Option<String>, DbError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.applied_migrations().map_err(failed)?,
        DbConn::Postgres(c) => c.applied_migrations().map_err(failed)?,
    };
    Ok(applied.into_iter().max().map(|v| v.to_string()))
}

/// The versions of every migration this build embeds for `backend`, oldest
/// first. Both trees carry the same versions (a test checks it).
pub fn known_versions(backend: Backend) -> Vec<String> {
    let names = match backend {
        Backend::Sqlite => MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE)
            .map(|all| all.iter().map(|m| m.name().version().to_string()).collect()),
        Backend::Postgres => MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES)
            .map(|all| all.iter().map(|m| m.name().version().to_string()).collect()),
    };
    let mut names: Vec<String> = names.expect("embedded migrations list themselves");
    names.sort();
    names
}
