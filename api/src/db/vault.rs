//! Vault items: opaque ciphertext a user keeps, in profile `personal` or
//! `company`, each with a revision; and the backup copies of company items.

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::schema::{backup_copies, vault_items};
use super::{DbConn, DbError};
use crate::ids::UserId;

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
