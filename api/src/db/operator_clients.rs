//! The platform operator's API clients: the vendor's automation, signing in
//! with OAuth 2.0 client credentials at the operator's token endpoint. The
//! client id is the row's id; the secret is kept only as an HMAC-SHA-256
//! under a server key (`secret_hash`), never printed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::operator_clients;
use super::{DbConn, DbError};
use crate::ids::{OperatorClientId, OperatorId};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = operator_clients)]
pub struct OperatorClient {
    pub id: OperatorClientId,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub created_by_operator_id: Option<OperatorId>,
    pub created_at: NaiveDateTime,
}

/// Everything but the secret's hash.
impl std::fmt::Debug for OperatorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorClient")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConn, client: &OperatorClient) -> Result<(), DbError> {
    diesel::insert_into(operator_clients::table)
        .values(client)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: OperatorClientId) -> Result<Option<OperatorClient>, DbError> {
    Ok(operator_clients::table
        .find(id.to_string())
        .select(OperatorClient::as_select())
        .first(conn)
        .optional()?)
}

/// A page of the clients by id (time-ordered), after `after`.
pub fn list(
    conn: &mut DbConn,
    after: Option<OperatorClientId>,
    limit: i64,
) -> Result<Vec<OperatorClient>, DbError> {
    let mut query = operator_clients::table.into_boxed();
    if let Some(after) = after {
        query = query.filter(operator_clients::id.gt(after.to_string()));
    }
    Ok(query
        .order(operator_clients::id.asc())
        .limit(limit)
        .select(OperatorClient::as_select())
        .load(conn)?)
}

/// Removes a client; whether there was one.
pub fn delete(conn: &mut DbConn, id: OperatorClientId) -> Result<bool, DbError> {
    Ok(diesel::delete(operator_clients::table.find(id.to_string())).execute(conn)? == 1)
}
