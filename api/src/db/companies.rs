//! Companies: a partner's customers. Each has exactly one backup profile,
//! created with it (off, 90 days' retention, no key).

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
    /// The PSA's own id for it, unique in the partner.
    pub external_id: Option<String>,
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

/// A page of a partner's companies by id (time-ordered), among `visible`
/// only when given (a technician's or a limited client's), and only the one
/// with `external_id` when given.
pub fn list(
    conn: &mut DbConn,
    partner: PartnerId,
    visible: Option<&[CompanyId]>,
    external_id: Option<&str>,
    after: Option<CompanyId>,
    limit: i64,
) -> Result<Vec<Company>, DbError> {
    let mut query = companies::table
        .filter(companies::partner_id.eq(partner.to_string()))
        .into_boxed();
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
