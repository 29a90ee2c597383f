//! End-to-end tests: the real server on port 0, on SQLite and on PostgreSQL,
//! driven only through the SDK generated from `openapi.yaml`.

mod companies;
mod identity;
mod operations;
mod tokens;
