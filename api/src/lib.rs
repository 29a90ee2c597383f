//! Custodian: the admin API of a zero-knowledge password manager sold through
//! MSPs. See `DESIGN.md` for the domain and the README for running it.
//!
//! - [`http`]: routes, extractors and middleware only.
//! - [`db`]: diesel over SQLite and PostgreSQL, migrations, the pool.
//! - [`config`], [`error`], [`metrics`], [`telemetry`]: the plumbing.
//! - [`server`]: start-up, used by the binary and by the tests.

pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod metrics;
pub mod server;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
