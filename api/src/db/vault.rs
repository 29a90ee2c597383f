//! Vault items: opaque ciphertext a user keeps, in profile `personal` or
//! `company`, each with a revision; and the backup copies of company items.

use chrono::NaiveDateTime;
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::schema::{backup_copies, vault_items};
use super::{DbConn, DbError};
use crate::ids::{CompanyId, UserId};

/// How many of a user's company-profile items lack a backup copy of their
/// current revision: what a purge would lose for the company.
pub fn company_items_not_backed_up(conn: &mut DbConn, user: UserId) -> Result<i64, DbError> {
    Ok(vault_items::table
        .filter(vault_items::user_id.eq(user.to_string()))
        .filter(vault_items::profile.eq("company"))
        .filter(not(exists(
            backup_copies::table
                .filter(backup_copies::user_id.eq(vault_items::user_id))
                .filter(backup_copies::item_id.eq(vault_items::item_id))
                .filter(backup_copies::revision.eq(vault_items::revision)),
        )))
        .count()
        .get_result(conn)?)
}

/// One item of a user's vault: ciphertext only.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = vault_items)]
pub struct VaultItem {
    pub user_id: String,
    pub item_id: String,
    pub profile: super::types::Profile,
    pub revision: i64,
    pub ciphertext: Vec<u8>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A page of a user's items, by item id.
pub fn list(
    conn: &mut DbConn,
    user: UserId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<VaultItem>, DbError> {
    let mut query = vault_items::table
        .filter(vault_items::user_id.eq(user.to_string()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(vault_items::item_id.gt(after.to_owned()));
    }
    Ok(query
        .order(vault_items::item_id.asc())
        .limit(limit)
        .select(VaultItem::as_select())
        .load(conn)?)
}

/// A user's item.
pub fn find(conn: &mut DbConn, user: UserId, item: &str) -> Result<Option<VaultItem>, DbError> {
    Ok(vault_items::table
        .filter(vault_items::user_id.eq(user.to_string()))
        .filter(vault_items::item_id.eq(item))
        .select(VaultItem::as_select())
        .first(conn)
        .optional()?)
}

/// What a conditional write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Stored at this revision.
    At(i64),
    /// The item is at another revision (0: it does not exist).
    Stale { current: i64 },
}

/// Stores a new revision of an item, if the item is at `replaces` (0 for a
/// new item): compare-and-set, so of two writers from the same revision one
/// wins and the other learns it is stale.
pub fn put(
    conn: &mut DbConn,
    user: UserId,
    item: &str,
    profile: super::types::Profile,
    replaces: i64,
    ciphertext: &[u8],
    at: NaiveDateTime,
) -> Result<Written, DbError> {
    if replaces == 0 {
        let row = VaultItem {
            user_id: user.to_string(),
            item_id: item.to_owned(),
            profile,
            revision: 1,
            ciphertext: ciphertext.to_vec(),
            created_at: at,
            updated_at: at,
        };
        // In a savepoint: on PostgreSQL a failed insert would otherwise
        // abort the whole transaction, and the lookup below with it.
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(vault_items::table)
                .values(&row)
                .execute(conn)
        });
        return match inserted {
            Ok(_) => Ok(Written::At(1)),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {
                let current = find(conn, user, item)?.map_or(0, |i| i.revision);
                Ok(Written::Stale { current })
            }
            Err(other) => Err(other.into()),
        };
    }
    let updated = diesel::update(
        vault_items::table
            .filter(vault_items::user_id.eq(user.to_string()))
            .filter(vault_items::item_id.eq(item))
            .filter(vault_items::revision.eq(replaces)),
    )
    .set((
        vault_items::profile.eq(profile),
        vault_items::revision.eq(replaces + 1),
        vault_items::ciphertext.eq(ciphertext),
        vault_items::updated_at.eq(at),
    ))
    .execute(conn)?;
    if updated == 1 {
        return Ok(Written::At(replaces + 1));
    }
    let current = find(conn, user, item)?.map_or(0, |i| i.revision);
    Ok(Written::Stale { current })
}

/// Removes an item if it is at `revision` (any revision when `None`);
/// `Stale` with its revision otherwise (0: there is none).
pub fn delete(
    conn: &mut DbConn,
    user: UserId,
    item: &str,
    revision: Option<i64>,
) -> Result<Written, DbError> {
    let mut query = diesel::delete(
        vault_items::table
            .filter(vault_items::user_id.eq(user.to_string()))
            .filter(vault_items::item_id.eq(item)),
    )
    .into_boxed();
    if let Some(revision) = revision {
        query = query.filter(vault_items::revision.eq(revision));
    }
    if query.execute(conn)? == 1 {
        return Ok(Written::At(revision.unwrap_or_default()));
    }
    let current = find(conn, user, item)?.map_or(0, |i| i.revision);
    Ok(Written::Stale { current })
}

/// A backup copy of an item's revision.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = backup_copies)]
pub struct BackupCopy {
    pub id: crate::ids::BackupCopyId,
    pub partner_id: crate::ids::PartnerId,
    pub company_id: crate::ids::CompanyId,
    pub user_id: crate::ids::UserId,
    pub item_id: String,
    pub revision: i64,
    pub ciphertext: Vec<u8>,
    pub created_at: NaiveDateTime,
    pub item_removed_at: Option<NaiveDateTime>,
    pub removal_reason: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
}

pub fn insert_copy(conn: &mut DbConn, copy: &BackupCopy) -> Result<(), DbError> {
    diesel::insert_into(backup_copies::table)
        .values(copy)
        .execute(conn)?;
    Ok(())
}

/// Starts the retention clock of an item's copies of revisions before
/// `below` that have none yet: superseded by a newer revision (`reason`
/// `None`), or of an item deleted or purged (`reason` given, `below` past
/// every revision).
pub fn age_copies(
    conn: &mut DbConn,
    user: UserId,
    item: &str,
    below: i64,
    reason: Option<&str>,
    at: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<usize, DbError> {
    let copies = backup_copies::table
        .filter(backup_copies::user_id.eq(user.to_string()))
        .filter(backup_copies::item_id.eq(item))
        .filter(backup_copies::revision.lt(below))
        .filter(backup_copies::expires_at.is_null());
    let aged = match reason {
        Some(reason) => diesel::update(copies)
            .set((
                backup_copies::item_removed_at.eq(at),
                backup_copies::removal_reason.eq(reason),
                backup_copies::expires_at.eq(expires_at),
            ))
            .execute(conn)?,
        None => diesel::update(copies)
            .set(backup_copies::expires_at.eq(expires_at))
            .execute(conn)?,
    };
    Ok(aged)
}

/// A page of a company's backup copies, newest id last.
pub fn copies_of_company(
    conn: &mut DbConn,
    company: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<BackupCopy>, DbError> {
    let mut query = backup_copies::table
        .filter(backup_copies::company_id.eq(company.to_owned()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(backup_copies::id.gt(after.to_owned()));
    }
    Ok(query
        .order(backup_copies::id.asc())
        .limit(limit)
        .select(BackupCopy::as_select())
        .load(conn)?)
}

/// Starts the retention clock, to end at `expires_at`, of the company's
/// copies that have none running (copies of items still in a vault); how
/// many.
pub fn start_retention_of_company(
    conn: &mut DbConn,
    company: CompanyId,
    expires_at: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        backup_copies::table
            .filter(backup_copies::company_id.eq(company.to_string()))
            .filter(backup_copies::expires_at.is_null()),
    )
    .set(backup_copies::expires_at.eq(expires_at))
    .execute(conn)?)
}

/// How many backup copies the company has.
pub fn count_copies_of_company(conn: &mut DbConn, company: CompanyId) -> Result<i64, DbError> {
    Ok(backup_copies::table
        .filter(backup_copies::company_id.eq(company.to_string()))
        .count()
        .get_result(conn)?)
}

/// Deletes the copies whose retention ended by `now`; how many.
pub fn sweep_expired(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, DbError> {
    Ok(
        diesel::delete(backup_copies::table.filter(backup_copies::expires_at.le(now)))
            .execute(conn)?,
    )
}

/// One backup copy of a company's.
pub fn copy_of_company(
    conn: &mut DbConn,
    company: &str,
    id: &str,
) -> Result<Option<BackupCopy>, DbError> {
    Ok(backup_copies::table
        .filter(backup_copies::company_id.eq(company.to_owned()))
        .filter(backup_copies::id.eq(id.to_owned()))
        .select(BackupCopy::as_select())
        .first(conn)
        .optional()?)
}
