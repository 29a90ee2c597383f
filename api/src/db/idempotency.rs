//! `Idempotency-Key`: the first response to a mutation, kept for a day per
//! (partner, caller, key) with a fingerprint of the request, so a retry gets
//! the same answer and the change happens once. The row is written in the
//! change's own transaction: a retry that races the first attempt either
//! finds the row, or fails to insert its own and rolls its change back.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::idempotency_keys;
use super::{DbConn, DbError};
use crate::ids::PartnerId;

/// A stored first response.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct Stored {
    pub request_fingerprint: Vec<u8>,
    pub response_status: Option<i32>,
    pub response_body: Option<Vec<u8>>,
    /// Whether `response_body` is sealed under the server key (the domain
    /// layer opens it before anyone reads it).
    pub body_sealed: bool,
}

/// The live response stored under a key of a caller's.
pub fn find(
    conn: &mut DbConn,
    partner: PartnerId,
    principal: &str,
    key: &str,
    now: NaiveDateTime,
) -> Result<Option<Stored>, DbError> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::partner_id.eq(partner.to_string()))
        .filter(idempotency_keys::principal_id.eq(principal))
        .filter(idempotency_keys::idempotency_key.eq(key))
        .filter(idempotency_keys::expires_at.gt(now))
        .select(Stored::as_select())
        .first(conn)
        .optional()?)
}

/// Stores the response to a key's first request (its body sealed by the
/// caller), replacing an expired one.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &mut DbConn,
    partner: PartnerId,
    principal: &str,
    key: &str,
    fingerprint: &[u8],
    status: u16,
    sealed_body: &[u8],
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::partner_id.eq(partner.to_string()))
            .filter(idempotency_keys::principal_id.eq(principal))
            .filter(idempotency_keys::idempotency_key.eq(key))
            .filter(idempotency_keys::expires_at.le(now)),
    )
    .execute(conn)?;
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::partner_id.eq(partner.to_string()),
            idempotency_keys::principal_id.eq(principal),
            idempotency_keys::idempotency_key.eq(key),
            idempotency_keys::request_fingerprint.eq(fingerprint),
            idempotency_keys::state.eq("completed"),
            idempotency_keys::response_status.eq(i32::from(status)),
            idempotency_keys::response_body.eq(sealed_body),
            idempotency_keys::body_sealed.eq(true),
            idempotency_keys::created_at.eq(now),
            idempotency_keys::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes the results whose time is over by `now`; how many.
pub fn sweep_expired(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, DbError> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now)))
            .execute(conn)?,
    )
}
