//! The API crate's integration tests, one binary (it links once).
//! Storage tests run on SQLite and on PostgreSQL, each on a fresh database.

mod admins;
mod api_clients;
mod approvals;
mod audit;
mod authz;
mod batches;
mod binary;
mod browser;
mod check;
mod companies;
mod contract;
mod domain;
mod http;
mod identity;
mod input;
mod invitations;
mod mail;
mod partner;
mod platform;
mod problems;
mod recovery;
mod resets;
mod scim;
mod storage;
mod support;
mod tenancy;
mod throttle;
mod tokens;
mod users;
mod vault;
