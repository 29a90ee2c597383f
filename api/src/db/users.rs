//! End users: people in a partner's companies, with a vault. (Their
//! endpoints arrive with issue 5; authorization already places them.)

use diesel::prelude::*;

use super::schema::users;
use super::{DbConn, DbError};
use crate::ids::{PartnerId, UserId};

/// The company of a user of `partner`; `None` for an absent user or another
/// partner's, alike.
pub fn company_of(
    conn: &mut DbConn,
    partner: PartnerId,
    id: UserId,
) -> Result<Option<String>, DbError> {
    Ok(users::table
        .filter(users::id.eq(id.to_string()))
        .filter(users::partner_id.eq(partner.to_string()))
        .select(users::company_id)
        .first(conn)
        .optional()?)
}
