//! Companies: a partner's customers. (Their endpoints arrive with issue 5;
//! admins already refer to them.)

use diesel::prelude::*;

use super::schema::companies;
use super::{DbConn, DbError};
use crate::ids::PartnerId;

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
