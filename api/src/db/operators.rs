//! The platform operator's people: the vendor's staff, who sign in with an
//! email (unique across the deployment) and a password (an argon2id PHC
//! string, never printed), and manage partners from outside them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::operators;
use super::{DbConn, DbError};
use crate::ids::OperatorId;

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = operators)]
pub struct Operator {
    pub id: OperatorId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub token_generation: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Everything but the password hash.
impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("token_generation", &self.token_generation)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConn, operator: &Operator) -> Result<(), DbError> {
    diesel::insert_into(operators::table)
        .values(operator)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: OperatorId) -> Result<Option<Operator>, DbError> {
    Ok(operators::table
        .find(id.to_string())
        .select(Operator::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_email(
    conn: &mut DbConn,
    email: &crate::domain::Email,
) -> Result<Option<Operator>, DbError> {
    Ok(operators::table
        .filter(operators::email.eq(email.as_str()))
        .select(Operator::as_select())
        .first(conn)
        .optional()?)
}

/// Replaces an operator's password hash and refuses every token issued
/// before (the generation moves on); whether the operator exists.
pub fn set_password(
    conn: &mut DbConn,
    id: OperatorId,
    hash: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let changed = diesel::update(operators::table.find(id.to_string()))
        .set((
            operators::password_hash.eq(hash),
            operators::token_generation.eq(operators::token_generation + 1),
            operators::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

pub fn count(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(operators::table.count().get_result(conn)?)
}
