//! Partners: the tenants. Every other object belongs to exactly one.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::partners;
use super::{DbConn, DbError};
use crate::ids::PartnerId;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = partners)]
pub struct Partner {
    pub id: PartnerId,
    pub name: String,
    pub links_for_everyone: bool,
    pub temporary_secret_ttl_seconds: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// How long an invitation's link stays valid.
    pub invitation_ttl_seconds: i64,
}

/// The default lifetime of a temporary secret: 72 hours.
pub const DEFAULT_TEMPORARY_SECRET_TTL_SECONDS: i64 = 72 * 3600;

/// The default lifetime of an invitation: 7 days.
pub const DEFAULT_INVITATION_TTL_SECONDS: i64 = 7 * 24 * 3600;

impl Partner {
    pub fn new(name: &str, now: NaiveDateTime) -> Self {
        Self {
            id: PartnerId::new(),
            name: name.to_owned(),
            links_for_everyone: false,
            temporary_secret_ttl_seconds: DEFAULT_TEMPORARY_SECRET_TTL_SECONDS,
            created_at: now,
            updated_at: now,
            invitation_ttl_seconds: DEFAULT_INVITATION_TTL_SECONDS,
        }
    }
}

pub fn insert(conn: &mut DbConn, partner: &Partner) -> Result<(), DbError> {
    diesel::insert_into(partners::table)
        .values(partner)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: PartnerId) -> Result<Option<Partner>, DbError> {
    Ok(partners::table
        .find(id.to_string())
        .select(Partner::as_select())
        .first(conn)
        .optional()?)
}

pub fn count(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(partners::table.count().get_result(conn)?)
}

/// The settings an owner may change; `None` leaves one as it is.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = partners)]
pub struct PartnerChanges {
    pub name: Option<String>,
    pub links_for_everyone: Option<bool>,
    pub temporary_secret_ttl_seconds: Option<i64>,
    pub invitation_ttl_seconds: Option<i64>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Applies `changes` and returns the partner as it is now.
pub fn update(
    conn: &mut DbConn,
    id: PartnerId,
    changes: &PartnerChanges,
) -> Result<Option<Partner>, DbError> {
    let updated = diesel::update(partners::table.find(id.to_string()))
        .set(changes)
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find(conn, id)
}
