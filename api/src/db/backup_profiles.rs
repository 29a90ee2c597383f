//! A company's backup profile: whether each user's company-profile items are
//! backed up to the company (encrypted by the client to `backup_public_key`),
//! and how long copies of removed items are kept. `version` is the source of
//! the profile's ETag: every change bumps it, and a change names the version
//! it was made against (compare-and-set), so two admins cannot overwrite
//! each other unseen.

use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;

use super::schema::{backup_copies, backup_profiles, users, vault_items};
use super::{DbConn, DbError};
use crate::ids::{CompanyId, PartnerId};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = backup_profiles)]
pub struct BackupProfile {
    pub company_id: String,
    pub partner_id: String,
    pub backup_all_company_items: bool,
    pub retention_days: i32,
    pub backup_public_key: Option<String>,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

/// The profile's settings, as a change sets them.
#[derive(Debug, Clone, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = backup_profiles, treat_none_as_null = true)]
pub struct Settings {
    pub backup_all_company_items: bool,
    pub retention_days: i32,
    pub backup_public_key: Option<String>,
}

/// The profile of a company of `partner`.
pub fn find(
    conn: &mut DbConn,
    partner: PartnerId,
    company: CompanyId,
) -> Result<Option<BackupProfile>, DbError> {
    Ok(backup_profiles::table
        .filter(backup_profiles::company_id.eq(company.to_string()))
        .filter(backup_profiles::partner_id.eq(partner.to_string()))
        .select(BackupProfile::as_select())
        .first(conn)
        .optional()?)
}

/// Applies `settings` if the profile is still at `version`; the new version,
/// or `None` when someone changed it in between.
pub fn update_if_version(
    conn: &mut DbConn,
    partner: PartnerId,
    company: CompanyId,
    version: i64,
    settings: &Settings,
    at: NaiveDateTime,
) -> Result<Option<i64>, DbError> {
    let updated = diesel::update(
        backup_profiles::table
            .filter(backup_profiles::company_id.eq(company.to_string()))
            .filter(backup_profiles::partner_id.eq(partner.to_string()))
            .filter(backup_profiles::version.eq(version)),
    )
    .set((
        settings,
        backup_profiles::version.eq(version + 1),
        backup_profiles::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok((updated == 1).then_some(version + 1))
}

/// The company's users' company-profile items, and how many of them have a
/// backup copy of their current revision.
pub fn item_counts(conn: &mut DbConn, company: CompanyId) -> Result<(i64, i64), DbError> {
    let members = users::table
        .filter(users::company_id.eq(company.to_string()))
        .select(users::id);
    let items = vault_items::table
        .filter(vault_items::user_id.eq_any(members))
        .filter(vault_items::profile.eq("company"));
    let total: i64 = items.count().get_result(conn)?;
    let members = users::table
        .filter(users::company_id.eq(company.to_string()))
        .select(users::id);
    let backed_up: i64 = vault_items::table
        .filter(vault_items::user_id.eq_any(members))
        .filter(vault_items::profile.eq("company"))
        .filter(exists(
            backup_copies::table
                .filter(backup_copies::user_id.eq(vault_items::user_id))
                .filter(backup_copies::item_id.eq(vault_items::item_id))
                .filter(backup_copies::revision.eq(vault_items::revision)),
        ))
        .count()
        .get_result(conn)?;
    Ok((total, backed_up))
}
