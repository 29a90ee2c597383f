//! Admins: a partner's portal operators, who sign in with an email and a
//! password (stored as an argon2id PHC string, never printed).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::admins;
use super::{DbConn, DbError};
use crate::ids::{AdminId, PartnerId};

pub use super::types::Role;

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = admins)]
pub struct Admin {
    pub id: AdminId,
    pub partner_id: PartnerId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
    pub token_generation: i64,
    pub locale: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Until when the admin's open invitation works: `Some` while they have
    /// not accepted it (expired or not), `None` once they have.
    pub invitation_expires_at: Option<NaiveDateTime>,
}

impl Admin {
    /// Not yet joined: invited, and the invitation not accepted.
    pub fn is_invited(&self) -> bool {
        self.invitation_expires_at.is_some()
    }
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
            .field("invitation_expires_at", &self.invitation_expires_at)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConn, admin: &Admin) -> Result<(), DbError> {
    diesel::insert_into(admins::table)
        .values(admin)
        .execute(conn)?;
    Ok(())
}

/// The admin of `partner` who signs in with `email` (unique in a partner).
pub fn find_by_email(
    conn: &mut DbConn,
    partner: PartnerId,
    email: &crate::domain::Email,
) -> Result<Option<Admin>, DbError> {
    Ok(admins::table
        .filter(admins::partner_id.eq(partner.to_string()))
        .filter(admins::email.eq(email.as_str()))
        .filter(admins::partner_id.eq_any(super::partners::active_ids()))
        .select(Admin::as_select())
        .first(conn)
        .optional()?)
}

/// An admin of `partner`; another partner's admin is `None`, as an absent one.
///
/// Every request of an admin reads this, so it runs on the concrete
/// connection ([`super::DbConn`] explains why).
pub fn find(conn: &mut DbConn, partner: PartnerId, id: AdminId) -> Result<Option<Admin>, DbError> {
    let query = admins::table
        .filter(admins::id.eq(id.to_string()))
        .filter(admins::partner_id.eq(partner.to_string()));
    Ok(match conn {
        DbConn::Sqlite(c) => query.select(Admin::as_select()).first(c).optional()?,
        DbConn::Postgres(c) => query.select(Admin::as_select()).first(c).optional()?,
    })
}

/// A technician's assigned companies.
pub fn assigned_companies(conn: &mut DbConn, admin: AdminId) -> Result<Vec<String>, DbError> {
    use super::schema::admin_companies;
    Ok(admin_companies::table
        .filter(admin_companies::admin_id.eq(admin.to_string()))
        .select(admin_companies::company_id)
        .order(admin_companies::company_id)
        .load(conn)?)
}

/// Stores a new password hash, clears `must_change_password`, and bumps the
/// token generation so every token issued before is refused.
pub fn set_password(
    conn: &mut DbConn,
    partner: PartnerId,
    id: AdminId,
    password_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let updated = diesel::update(
        admins::table
            .filter(admins::id.eq(id.to_string()))
            .filter(admins::partner_id.eq(partner.to_string())),
    )
    .set((
        admins::password_hash.eq(password_hash),
        admins::must_change_password.eq(false),
        admins::token_generation.eq(admins::token_generation + 1),
        admins::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// A page of a partner's admins, by id (ids are time-ordered).
pub fn list(
    conn: &mut DbConn,
    partner: PartnerId,
    after: Option<AdminId>,
    limit: i64,
) -> Result<Vec<Admin>, DbError> {
    let mut query = admins::table
        .filter(admins::partner_id.eq(partner.to_string()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(admins::id.gt(after.to_string()));
    }
    Ok(query
        .order(admins::id.asc())
        .limit(limit)
        .select(Admin::as_select())
        .load(conn)?)
}

/// Assigns a technician's companies (replacing any before).
pub fn set_companies(
    conn: &mut DbConn,
    partner: PartnerId,
    admin: AdminId,
    companies: &[String],
) -> Result<(), DbError> {
    use super::schema::admin_companies;
    diesel::delete(admin_companies::table.filter(admin_companies::admin_id.eq(admin.to_string())))
        .execute(conn)?;
    for company in companies {
        diesel::insert_into(admin_companies::table)
            .values((
                admin_companies::admin_id.eq(admin.to_string()),
                admin_companies::company_id.eq(company),
                admin_companies::partner_id.eq(partner.to_string()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The owners of a partner, locked until the transaction ends on PostgreSQL
/// (SQLite's writers already take turns), so two removals cannot both see a
/// second owner.
pub fn lock_owners(conn: &mut DbConn, partner: PartnerId) -> Result<Vec<String>, DbError> {
    lock_owners_where(conn, partner, false)
}

/// As [`lock_owners`], the owners who have joined only: an owner still
/// invited cannot sign in, so they do not keep a partner run.
pub fn lock_joined_owners(conn: &mut DbConn, partner: PartnerId) -> Result<Vec<String>, DbError> {
    lock_owners_where(conn, partner, true)
}

fn lock_owners_where(
    conn: &mut DbConn,
    partner: PartnerId,
    joined: bool,
) -> Result<Vec<String>, DbError> {
    if let DbConn::Postgres(pg) = conn {
        // Every owner is locked, whether it counts or not: a concurrent
        // change to any of them waits.
        #[derive(QueryableByName)]
        struct Owner {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            joined: bool,
        }
        let rows: Vec<Owner> = diesel::sql_query(
            "SELECT id, invitation_expires_at IS NULL AS joined FROM admins \
             WHERE partner_id = $1 AND role = 'owner' ORDER BY id FOR UPDATE",
        )
        .bind::<diesel::sql_types::Text, _>(partner.to_string())
        .load(pg)?;
        return Ok(rows
            .into_iter()
            .filter(|r| r.joined || !joined)
            .map(|r| r.id)
            .collect());
    }
    let mut query = admins::table
        .filter(admins::partner_id.eq(partner.to_string()))
        .filter(admins::role.eq(Role::Owner.as_str()))
        .into_boxed();
    if joined {
        query = query.filter(admins::invitation_expires_at.is_null());
    }
    Ok(query.select(admins::id).load(conn)?)
}

/// An admin of `partner`, its row locked until the transaction ends on
/// PostgreSQL (SQLite's writers already take turns): a change decided on
/// this row cannot be undone by one that committed after it was read.
pub fn lock(conn: &mut DbConn, partner: PartnerId, id: AdminId) -> Result<Option<Admin>, DbError> {
    let query = admins::table
        .filter(admins::id.eq(id.to_string()))
        .filter(admins::partner_id.eq(partner.to_string()));
    Ok(match conn {
        DbConn::Postgres(pg) => query
            .select(Admin::as_select())
            .for_update()
            .first(pg)
            .optional()?,
        DbConn::Sqlite(sqlite) => query.select(Admin::as_select()).first(sqlite).optional()?,
    })
}

/// Refuses every token the admin holds: the generation goes up by one in
/// SQL, so a concurrent password change's revocation is never undone.
pub fn revoke_tokens(conn: &mut DbConn, partner: PartnerId, id: AdminId) -> Result<(), DbError> {
    diesel::update(
        admins::table
            .filter(admins::id.eq(id.to_string()))
            .filter(admins::partner_id.eq(partner.to_string())),
    )
    .set(admins::token_generation.eq(admins::token_generation + 1))
    .execute(conn)?;
    Ok(())
}

/// What may change about an admin; `None` leaves it. (The token generation
/// only goes up, through [`revoke_tokens`].)
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = admins)]
pub struct AdminChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn update(
    conn: &mut DbConn,
    partner: PartnerId,
    id: AdminId,
    changes: &AdminChanges,
) -> Result<bool, DbError> {
    let updated = diesel::update(
        admins::table
            .filter(admins::id.eq(id.to_string()))
            .filter(admins::partner_id.eq(partner.to_string())),
    )
    .set(changes)
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn delete(conn: &mut DbConn, partner: PartnerId, id: AdminId) -> Result<bool, DbError> {
    let deleted = diesel::delete(
        admins::table
            .filter(admins::id.eq(id.to_string()))
            .filter(admins::partner_id.eq(partner.to_string())),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// Gives an invited admin a new invitation, replacing the one before (its
/// link dies): the message that carried the one before, if any, so the
/// caller can withdraw it; `None` for an admin who has joined or is absent
/// (nothing changes).
pub fn set_invitation(
    conn: &mut DbConn,
    partner: PartnerId,
    id: AdminId,
    invitation: &super::users::InvitationRow<'_>,
    at: NaiveDateTime,
) -> Result<Option<Option<String>>, DbError> {
    let invited = admins::table
        .filter(admins::id.eq(id.to_string()))
        .filter(admins::partner_id.eq(partner.to_string()))
        .filter(admins::invitation_expires_at.is_not_null());
    let Some(before) = invited
        .clone()
        .select(admins::invitation_message_id)
        .first::<Option<String>>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    diesel::update(invited)
        .set((
            admins::invitation_hash.eq(invitation.hash),
            admins::invitation_expires_at.eq(invitation.expires_at),
            admins::invitation_message_id.eq(invitation.message_id),
            admins::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(Some(before))
}

/// The admin whose open invitation's token has `invitation_hash`, if any.
pub fn invited_by(conn: &mut DbConn, invitation_hash: &[u8]) -> Result<Option<Admin>, DbError> {
    Ok(admins::table
        .filter(admins::invitation_hash.eq(invitation_hash))
        .filter(admins::partner_id.eq_any(super::partners::active_ids()))
        .select(Admin::as_select())
        .first(conn)
        .optional()?)
}

/// Accepts an invitation: when the admin is still invited under the token
/// whose keyed hash is `invitation_hash` and it has not expired, stores
/// their first password's hash and forgets the invitation. Whether it was
/// accepted (a second use finds nothing).
pub fn accept_invitation(
    conn: &mut DbConn,
    id: AdminId,
    invitation_hash: &[u8],
    password_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let accepted = diesel::update(
        admins::table
            .filter(admins::id.eq(id.to_string()))
            .filter(admins::invitation_hash.eq(invitation_hash))
            .filter(admins::invitation_expires_at.gt(now)),
    )
    .set((
        admins::password_hash.eq(password_hash),
        admins::must_change_password.eq(false),
        admins::invitation_hash.eq(None::<Vec<u8>>),
        admins::invitation_expires_at.eq(None::<NaiveDateTime>),
        admins::invitation_message_id.eq(None::<String>),
        admins::token_generation.eq(admins::token_generation + 1),
        admins::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(accepted == 1)
}

/// The outbox message of the admin's open invitation, if any.
pub fn invitation_message(conn: &mut DbConn, id: AdminId) -> Result<Option<String>, DbError> {
    Ok(admins::table
        .filter(admins::id.eq(id.to_string()))
        .select(admins::invitation_message_id)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}
