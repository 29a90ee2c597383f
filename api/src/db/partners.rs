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
    /// Since when the partner is suspended (every token of its refused).
    pub suspended_at: Option<NaiveDateTime>,
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
            suspended_at: None,
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

/// The ids of the partners that are not suspended, as a subquery: sign-in
/// lookups filter on it, so a suspended partner's account is found by
/// none.
#[allow(clippy::type_complexity)]
pub fn active_ids() -> diesel::dsl::Select<
    diesel::dsl::Filter<partners::table, diesel::dsl::IsNull<partners::suspended_at>>,
    partners::id,
> {
    partners::table
        .filter(partners::suspended_at.is_null())
        .select(partners::id)
}

/// Whether `id` is a partner whose tokens and sign-ins work: it exists and
/// is not suspended. Every authenticated request asks, on the concrete
/// connection ([`super::DbConn`] explains why).
pub fn is_active(conn: &mut DbConn, id: PartnerId) -> Result<bool, DbError> {
    let query = partners::table
        .find(id.to_string())
        .filter(partners::suspended_at.is_null())
        .count();
    let found: i64 = match conn {
        DbConn::Sqlite(c) => query.get_result(c)?,
        DbConn::Postgres(c) => query.get_result(c)?,
    };
    Ok(found == 1)
}

/// A page of partners by id (ids are time-ordered), optionally only the
/// suspended (`Some(true)`) or the active (`Some(false)`) ones.
pub fn list(
    conn: &mut DbConn,
    after: Option<PartnerId>,
    suspended: Option<bool>,
    limit: i64,
) -> Result<Vec<Partner>, DbError> {
    let mut query = partners::table.into_boxed();
    if let Some(after) = after {
        query = query.filter(partners::id.gt(after.to_string()));
    }
    match suspended {
        Some(true) => query = query.filter(partners::suspended_at.is_not_null()),
        Some(false) => query = query.filter(partners::suspended_at.is_null()),
        None => {}
    }
    Ok(query
        .order(partners::id.asc())
        .limit(limit)
        .select(Partner::as_select())
        .load(conn)?)
}

/// Suspends a partner at `now` when it is active, or reactivates it when
/// it is suspended (`suspend: false`), in one conditional update: whether
/// it changed (two racing calls change it once). Suspending also moves the
/// token generation of every admin, API client and user of the partner on,
/// so no token issued before works again after a reactivation.
pub fn set_suspended(
    conn: &mut DbConn,
    id: PartnerId,
    suspend: bool,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    use super::schema::{admins, api_clients, users};
    let partner = partners::table.find(id.to_string());
    let changed = if suspend {
        diesel::update(partner.filter(partners::suspended_at.is_null()))
            .set((partners::suspended_at.eq(now), partners::updated_at.eq(now)))
            .execute(conn)?
    } else {
        diesel::update(partner.filter(partners::suspended_at.is_not_null()))
            .set((
                partners::suspended_at.eq(None::<NaiveDateTime>),
                partners::updated_at.eq(now),
            ))
            .execute(conn)?
    };
    if changed == 1 && suspend {
        let of = id.to_string();
        diesel::update(admins::table.filter(admins::partner_id.eq(&of)))
            .set(admins::token_generation.eq(admins::token_generation + 1))
            .execute(conn)?;
        diesel::update(api_clients::table.filter(api_clients::partner_id.eq(&of)))
            .set(api_clients::token_generation.eq(api_clients::token_generation + 1))
            .execute(conn)?;
        diesel::update(users::table.filter(users::partner_id.eq(&of)))
            .set((
                users::token_generation.eq(users::token_generation + 1),
                users::version.eq(users::version + 1),
            ))
            .execute(conn)?;
    }
    Ok(changed == 1)
}
