//! SCIM provisioning tokens: a company's directory (Entra ID, Okta,
//! JumpCloud) provisions the company's users with one. The token is kept
//! only as an HMAC-SHA-256 under a server key (`token_hash`, unique), never
//! printed; a request finds its token by that hash.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{companies, scim_tokens};
use super::types::ClientKind;
use super::{DbConn, DbError};
use crate::ids::{AdminId, CompanyId, PartnerId, ScimTokenId};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = scim_tokens)]
pub struct ScimToken {
    pub id: ScimTokenId,
    pub partner_id: PartnerId,
    pub company_id: CompanyId,
    pub name: String,
    pub token_hash: Vec<u8>,
    /// The client the users it creates run.
    pub client_kind: ClientKind,
    pub created_by_admin_id: Option<AdminId>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

/// Everything but the token's hash.
impl std::fmt::Debug for ScimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimToken")
            .field("id", &self.id)
            .field("partner_id", &self.partner_id)
            .field("company_id", &self.company_id)
            .field("name", &self.name)
            .field("client_kind", &self.client_kind)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConn, token: &ScimToken) -> Result<(), DbError> {
    diesel::insert_into(scim_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

/// The token whose keyed hash is `hash`, when its partner is active and its
/// company not retired: a token of a suspended partner or a retired
/// company is found by nothing.
///
/// Every SCIM request reads this, so it runs on the concrete connection
/// ([`super::DbConn`] explains why).
pub fn find_by_hash(conn: &mut DbConn, hash: &[u8]) -> Result<Option<ScimToken>, DbError> {
    let query = scim_tokens::table
        .inner_join(companies::table.on(companies::id.eq(scim_tokens::company_id)))
        .filter(scim_tokens::token_hash.eq(hash.to_vec()))
        .filter(companies::retired_at.is_null())
        .filter(scim_tokens::partner_id.eq_any(super::partners::active_ids()));
    Ok(match conn {
        DbConn::Sqlite(c) => query.select(ScimToken::as_select()).first(c).optional()?,
        DbConn::Postgres(c) => query.select(ScimToken::as_select()).first(c).optional()?,
    })
}

/// A token of the company.
pub fn find(
    conn: &mut DbConn,
    company: CompanyId,
    id: ScimTokenId,
) -> Result<Option<ScimToken>, DbError> {
    Ok(scim_tokens::table
        .filter(scim_tokens::id.eq(id.to_string()))
        .filter(scim_tokens::company_id.eq(company.to_string()))
        .select(ScimToken::as_select())
        .first(conn)
        .optional()?)
}

/// A page of the company's tokens, by id (ids are time-ordered).
pub fn list(
    conn: &mut DbConn,
    company: CompanyId,
    after: Option<ScimTokenId>,
    limit: i64,
) -> Result<Vec<ScimToken>, DbError> {
    let mut query = scim_tokens::table
        .filter(scim_tokens::company_id.eq(company.to_string()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(scim_tokens::id.gt(after.to_string()));
    }
    Ok(query
        .order(scim_tokens::id.asc())
        .limit(limit)
        .select(ScimToken::as_select())
        .load(conn)?)
}

/// Records a request, at most once a minute per token, so a busy
/// directory does not write on every read.
pub fn touch(conn: &mut DbConn, id: ScimTokenId, at: NaiveDateTime) -> Result<(), DbError> {
    let stale = at - chrono::Duration::minutes(1);
    diesel::update(
        scim_tokens::table
            .filter(scim_tokens::id.eq(id.to_string()))
            .filter(
                scim_tokens::last_used_at
                    .is_null()
                    .or(scim_tokens::last_used_at.lt(stale)),
            ),
    )
    .set(scim_tokens::last_used_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// Removes a token of the company; it is refused at once.
pub fn delete(conn: &mut DbConn, company: CompanyId, id: ScimTokenId) -> Result<bool, DbError> {
    let removed = diesel::delete(
        scim_tokens::table
            .filter(scim_tokens::id.eq(id.to_string()))
            .filter(scim_tokens::company_id.eq(company.to_string())),
    )
    .execute(conn)?;
    Ok(removed == 1)
}
