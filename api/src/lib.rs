//! Custodian: the admin API of a zero-knowledge password manager sold through
//! MSPs. See `docs/design.md` for the domain and the README for running it.
//!
//! - [`app`]: the operations (the reset so far), in plain Rust: each takes an
//!   operation context, authorizes, runs its rules and its transaction.
//!   Nothing in it knows HTTP.
//! - [`http`]: the contract: routes, extractors, views and middleware; a
//!   handler of an operation that moved into [`app`] extracts, calls it and
//!   maps the result.
//! - [`db`]: diesel over SQLite and PostgreSQL, migrations, the pool.
//! - [`auth`]: key material and password hashing; [`bootstrap`]: the first
//!   partner and owner.
//! - [`config`], [`error`], [`ids`], [`metrics`], [`telemetry`]: the plumbing.
//! - [`server`]: start-up, used by the binary and by the tests.

pub mod app;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod batch_worker;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod ids;
pub mod mail;
pub mod metrics;
pub mod private_fs;
pub mod retention;
pub mod server;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
