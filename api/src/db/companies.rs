//! Companies: a partner's customers. Each has exactly one backup profile,
//! created with it (off, 90 days' retention, no key). A retired company
//! stays until the last backup copy of its items expires.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{backup_profiles, companies};
use super::{DbConn, DbError};
use crate::ids::{CompanyId, PartnerId};

/// Days backup copies of removed items are kept when nobody said otherwise
/// (docs/design.md).
pub const DEFAULT_RETENTION_DAYS: i32 = 90;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = companies)]
pub struct Company {
    pub id: CompanyId,
    pub partner_id: PartnerId,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The PSA's own id for it, unique among the partner's companies that
    /// are not retired.
    pub external_id: Option<String>,
    /// When it was retired: it takes no more users or changes, and goes
    /// with its last backup copy.
    pub retired_at: Option<NaiveDateTime>,
}

/// Which of `ids` are companies of `partner`.
pub fn existing(
    conn: &mut DbConn,
    partner: PartnerId,
    ids: &[String],
) -> Result<Vec<String>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(companies::table
        .filter(companies::partner_id.eq(partner.to_string()))
        .filter(companies::id.eq_any(ids))
        .select(companies::id)
        .load(conn)?)
}

/// Stores a company and its backup profile (off).
pub fn insert(conn: &mut DbConn, company: &Company) -> Result<(), DbError> {
    diesel::insert_into(companies::table)
        .values(company)
        .execute(conn)?;
    diesel::insert_into(backup_profiles::table)
        .values((
            backup_profiles::company_id.eq(&company.id),
            backup_profiles::partner_id.eq(&company.partner_id),
            backup_profiles::backup_all_company_items.eq(false),
            backup_profiles::retention_days.eq(DEFAULT_RETENTION_DAYS),
            backup_profiles::version.eq(1i64),
            backup_profiles::updated_at.eq(company.created_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A company of `partner`; another partner's is `None`, as an absent one.
pub fn find(
    conn: &mut DbConn,
    partner: PartnerId,
    id: CompanyId,
) -> Result<Option<Company>, DbError> {
    Ok(companies::table
        .filter(companies::id.eq(id.to_string()))
        .filter(companies::partner_id.eq(partner.to_string()))
        .select(Company::as_select())
        .first(conn)
        .optional()?)
}

/// A page of a partner's companies by id (time-ordered), the retired ones
/// or the others, among `visible` only when given (a technician's or a
/// limited client's), and only the one with `external_id` when given.
pub fn list(
    conn: &mut DbConn,
    partner: PartnerId,
    retired: bool,
    visible: Option<&[CompanyId]>,
    external_id: Option<&str>,
    after: Option<CompanyId>,
    limit: i64,
) -> Result<Vec<Company>, DbError> {
    let mut query = companies::table
        .filter(companies::partner_id.eq(partner.to_string()))
        .into_boxed();
    query = if retired {
        query.filter(companies::retired_at.is_not_null())
    } else {
        query.filter(companies::retired_at.is_null())
    };
    if let Some(external_id) = external_id {
        query = query.filter(companies::external_id.eq(external_id.to_owned()));
    }
    if let Some(visible) = visible {
        let ids: Vec<String> = visible.iter().map(ToString::to_string).collect();
        query = query.filter(companies::id.eq_any(ids));
    }
    if let Some(after) = after {
        query = query.filter(companies::id.gt(after.to_string()));
    }
    Ok(query
        .order(companies::id.asc())
        .limit(limit)
        .select(Company::as_select())
        .load(conn)?)
}

/// Applies `changes` to a company of `partner`; whether there was one.
pub fn update(
    conn: &mut DbConn,
    partner: PartnerId,
    id: CompanyId,
    changes: &CompanyChanges,
) -> Result<bool, DbError> {
    let updated = diesel::update(
        companies::table
            .filter(companies::id.eq(id.to_string()))
            .filter(companies::partner_id.eq(partner.to_string())),
    )
    .set(changes)
    .execute(conn)?;
    Ok(updated == 1)
}

/// What changes of a company; `None` leaves a value as it is
/// (`external_id: Some(None)` removes the id).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = companies)]
pub struct CompanyChanges {
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
    pub updated_at: NaiveDateTime,
}

/// A company of `partner`, its row locked until the transaction ends
/// (PostgreSQL, `FOR NO KEY UPDATE`; SQLite write transactions already take
/// turns): [`is_retired_shared`] waits on it, and the foreign-key checks of
/// rows that point at the company (a vault write's backup copy) do not.
pub fn lock(
    conn: &mut DbConn,
    partner: PartnerId,
    id: CompanyId,
) -> Result<Option<Company>, DbError> {
    let query = companies::table
        .filter(companies::id.eq(id.to_string()))
        .filter(companies::partner_id.eq(partner.to_string()));
    Ok(match conn {
        DbConn::Postgres(pg) => query
            .select(Company::as_select())
            .for_no_key_update()
            .first(pg)
            .optional()?,
        DbConn::Sqlite(sqlite) => query
            .select(Company::as_select())
            .first(sqlite)
            .optional()?,
    })
}

/// Whether the company is retired (an absent one is not), its row held
/// shared until the transaction ends (PostgreSQL, `FOR SHARE`): a
/// retirement under way ([`lock`]) is waited for, and what it committed is
/// read.
pub fn is_retired_shared(conn: &mut DbConn, id: CompanyId) -> Result<bool, DbError> {
    // By id alone: a filter on `retired_at` would be applied to the version
    // before a retirement under way, and skip the lock instead of waiting.
    let query = companies::table
        .filter(companies::id.eq(id.to_string()))
        .select(companies::retired_at);
    let retired_at: Option<Option<NaiveDateTime>> = match conn {
        DbConn::Postgres(pg) => query.for_share().first(pg).optional()?,
        DbConn::Sqlite(sqlite) => query.first(sqlite).optional()?,
    };
    Ok(retired_at.flatten().is_some())
}

/// Marks a company retired at `at`.
pub fn retire(conn: &mut DbConn, id: CompanyId, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(companies::table.filter(companies::id.eq(id.to_string())))
        .set((companies::retired_at.eq(at), companies::updated_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

/// Removes the retired companies none of whose backup copies is left (with
/// their backup profiles and assignments, by the schema's cascades); which
/// ones this call removed (of two sweeps at once, each company is one's).
pub fn remove_retired_without_copies(conn: &mut DbConn) -> Result<Vec<Company>, DbError> {
    use super::schema::backup_copies;
    let candidates: Vec<Company> = companies::table
        .filter(companies::retired_at.is_not_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            backup_copies::table.filter(backup_copies::company_id.eq(companies::id)),
        )))
        .select(Company::as_select())
        .load(conn)?;
    let mut gone = Vec::with_capacity(candidates.len());
    for company in candidates {
        let removed = diesel::delete(
            companies::table
                .filter(companies::id.eq(company.id.to_string()))
                .filter(companies::retired_at.is_not_null()),
        )
        .execute(conn)?;
        if removed == 1 {
            gone.push(company);
        }
    }
    Ok(gone)
}
