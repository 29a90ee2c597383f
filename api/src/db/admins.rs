//! Admins: a partner's portal operators, who sign in with an email and a
//! password (stored as an argon2id PHC string, never printed).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::admins;
use super::{DbConn, DbError};
use crate::ids::{AdminId, PartnerId};

/// What an admin may do across the partner (refined by Cedar policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Technician,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Technician => "technician",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "technician" => Some(Self::Technician),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = admins)]
pub struct Admin {
    pub id: String,
    pub partner_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub must_change_password: bool,
    pub token_generation: i64,
    pub locale: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Everything but the password hash.
impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("id", &self.id)
            .field("partner_id", &self.partner_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("must_change_password", &self.must_change_password)
            .field("token_generation", &self.token_generation)
            .finish_non_exhaustive()
    }
}

/// Emails are compared without case and surrounding spaces.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn insert(conn: &mut DbConn, admin: &Admin) -> Result<(), DbError> {
    diesel::insert_into(admins::table)
        .values(admin)
        .execute(conn)?;
    Ok(())
}

/// The admin who signs in with `email`, across partners (the email is the
/// sign-in name, unique across partners).
pub fn find_by_email(conn: &mut DbConn, email: &str) -> Result<Option<Admin>, DbError> {
    Ok(admins::table
        .filter(admins::email.eq(normalize_email(email)))
        .select(Admin::as_select())
        .first(conn)
        .optional()?)
}

/// An admin of `partner`; another partner's admin is `None`, as an absent one.
pub fn find(conn: &mut DbConn, partner: PartnerId, id: AdminId) -> Result<Option<Admin>, DbError> {
    Ok(admins::table
        .filter(admins::id.eq(id.to_string()))
        .filter(admins::partner_id.eq(partner.to_string()))
        .select(Admin::as_select())
        .first(conn)
        .optional()?)
}
