//! End users: people in a partner's companies, each with a vault. Emails are
//! unique within a partner and stored lowercase.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::users;
use super::types::{ClientKind, UserStatus};
use super::{DbConn, DbError};
use crate::ids::{CompanyId, PartnerId, UserId};

diesel::define_sql_function! {
    /// SQLite's `instr()`: where `needle` starts in `haystack`, from 1; 0
    /// when it is not there.
    fn instr(haystack: diesel::sql_types::Text, needle: diesel::sql_types::Text) -> diesel::sql_types::Integer;
}

/// A user as the admin plane sees them: never their key material.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub partner_id: PartnerId,
    pub company_id: CompanyId,
    pub email: String,
    pub name: String,
    pub client_kind: ClientKind,
    pub locale: String,
    pub is_primary: bool,
    pub status: UserStatus,
    pub last_reset_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The PSA's or the directory's own id for the user, unique in the
    /// company.
    pub external_id: Option<String>,
    /// Until when an invited user's link is valid; `None` once accepted
    /// (and for a user never invited through the API).
    pub invitation_expires_at: Option<NaiveDateTime>,
    /// Adds one with every change of the row (the `ETag`).
    pub version: i64,
    /// Whether a recovery-key verifier is registered (the column is read
    /// only as "is it there").
    #[diesel(select_expression = users::recovery_key_verifier.is_not_null())]
    #[diesel(select_expression_type = diesel::dsl::IsNotNull<users::recovery_key_verifier>)]
    pub has_recovery_key: bool,
}

/// A new user's row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub id: UserId,
    pub partner_id: PartnerId,
    pub company_id: CompanyId,
    pub email: String,
    pub name: String,
    pub client_kind: ClientKind,
    pub locale: String,
    pub is_primary: bool,
    pub status: UserStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub external_id: Option<String>,
}

pub fn insert(conn: &mut DbConn, user: &NewUser) -> Result<(), DbError> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    Ok(())
}

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

/// A user of `partner`.
///
/// The admin plane's most frequent read, so it runs on the concrete
/// connection ([`super::DbConn`] explains why).
pub fn find(conn: &mut DbConn, partner: PartnerId, id: UserId) -> Result<Option<User>, DbError> {
    let query = users::table
        .filter(users::id.eq(id.to_string()))
        .filter(users::partner_id.eq(partner.to_string()));
    Ok(match conn {
        DbConn::Sqlite(c) => query.select(User::as_select()).first(c).optional()?,
        DbConn::Postgres(c) => query.select(User::as_select()).first(c).optional()?,
    })
}

/// Every user of a company, by id.
pub fn of_company(conn: &mut DbConn, company: CompanyId) -> Result<Vec<User>, DbError> {
    let query = users::table
        .filter(users::company_id.eq(company.to_string()))
        .order(users::id.asc());
    Ok(match conn {
        DbConn::Sqlite(c) => query.select(User::as_select()).load(c)?,
        DbConn::Postgres(c) => query.select(User::as_select()).load(c)?,
    })
}

/// Whether the company already has a primary user.
pub fn has_primary(conn: &mut DbConn, company: CompanyId) -> Result<bool, DbError> {
    let count: i64 = users::table
        .filter(users::company_id.eq(company.to_string()))
        .filter(users::is_primary.eq(true))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// What a user list is filtered by.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Users of these companies only (`None`: every company of the partner).
    pub companies: Option<Vec<CompanyId>>,
    /// Lowercase text found in the email or the name.
    pub text: Option<String>,
    /// Users with this external id only.
    pub external_id: Option<String>,
    /// Users in this status only.
    pub status: Option<UserStatus>,
    pub after: Option<UserId>,
    pub limit: i64,
}

/// `text` as a LIKE pattern matching it anywhere, its wildcards escaped.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A page of a partner's users by id (time-ordered).
pub fn list(
    conn: &mut DbConn,
    partner: PartnerId,
    filter: &UserFilter,
) -> Result<Vec<User>, DbError> {
    let mut query = users::table
        .filter(users::partner_id.eq(partner.to_string()))
        .into_boxed();
    if let Some(companies) = &filter.companies {
        let ids: Vec<String> = companies.iter().map(ToString::to_string).collect();
        query = query.filter(users::company_id.eq_any(ids));
    }
    if let Some(text) = &filter.text {
        // Emails are stored lowercase and the text is lowercased. Text with
        // an `@` after its first character is the start of an email
        // ("dana@", "dana@acme.com"): it matches emails by prefix, which a
        // b-tree serves at once. Other text matches anywhere in
        // `search_text`, the email and the lowercased name a line apart
        // (generated by the database; the text holds no line break, so no
        // match spans the two): PostgreSQL with LIKE, which its trigram
        // index serves, or a walk in id order that stops after a page;
        // SQLite, which has no such index and walks, with instr(), a plain
        // substring search.
        let email_prefix = text.find('@').is_some_and(|at| at > 0);
        let postgres = conn.backend() == super::Backend::Postgres;
        query = match (email_prefix, postgres) {
            (true, true) => {
                let mut pattern = contains_pattern(text);
                pattern.remove(0);
                query.filter(users::email.like(pattern).escape('\\'))
            }
            (true, false) => {
                // Byte order (SQLite's BINARY collation): every string that
                // starts with `text` sorts from it to it followed by the
                // highest character.
                let end = format!("{text}\u{10FFFF}");
                query.filter(users::email.ge(text.clone()).and(users::email.lt(end)))
            }
            (false, true) => {
                query.filter(users::search_text.like(contains_pattern(text)).escape('\\'))
            }
            (false, false) => query.filter(instr(users::search_text, text.clone()).gt(0)),
        };
    }
    if let Some(external_id) = &filter.external_id {
        query = query.filter(users::external_id.eq(external_id.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(users::status.eq(status));
    }
    if let Some(after) = filter.after {
        query = query.filter(users::id.gt(after.to_string()));
    }
    Ok(query
        .order(users::id.asc())
        .limit(filter.limit)
        .select(User::as_select())
        .load(conn)?)
}

/// What a directory (SCIM) looks up in its company: users by exact email
/// or external id, or all of them, by id, from `offset`.
#[derive(Debug, Clone)]
pub struct DirectoryQuery {
    pub company: CompanyId,
    /// Lowercase, as emails are stored.
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// How many users `query` matches, and a page of them. An email or an
/// external id is unique in a company, so a filtered lookup reads one row
/// through its index.
pub fn directory_page(
    conn: &mut DbConn,
    query: &DirectoryQuery,
) -> Result<(i64, Vec<User>), DbError> {
    let filtered = || {
        let mut filtered = users::table
            .filter(users::company_id.eq(query.company.to_string()))
            .into_boxed();
        if let Some(email) = &query.email {
            filtered = filtered.filter(users::email.eq(email.clone()));
        }
        if let Some(external_id) = &query.external_id {
            filtered = filtered.filter(users::external_id.eq(external_id.clone()));
        }
        filtered
    };
    let total: i64 = filtered().count().get_result(conn)?;
    if query.limit == 0 || query.offset >= total {
        return Ok((total, Vec::new()));
    }
    let page = filtered()
        .order(users::id.asc())
        .offset(query.offset)
        .limit(query.limit)
        .select(User::as_select())
        .load(conn)?;
    Ok((total, page))
}

/// What signing a user in needs: (id, company, argon2id hash of the
/// authentication key if one is set, token generation).
pub type Credentials = (String, String, Option<String>, i64);

/// A user's sign-in material, by partner and email, and by company when
/// one is named. An email is unique within a company only: when it has
/// accounts at several of the partner's companies and no company is named,
/// nobody is found (the sign-in must name the company). A disabled user is
/// not found: their sign-in fails as an unknown email's does.
pub fn credentials(
    conn: &mut DbConn,
    partner: PartnerId,
    company: Option<CompanyId>,
    email: &crate::domain::Email,
) -> Result<Option<Credentials>, DbError> {
    let mut query = users::table
        .filter(users::partner_id.eq(partner.to_string()))
        .filter(users::email.eq(email.as_str()))
        .filter(users::status.ne(UserStatus::Disabled))
        .filter(users::partner_id.eq_any(super::partners::active_ids()))
        .select((
            users::id,
            users::company_id,
            users::auth_key_hash,
            users::token_generation,
        ))
        .into_boxed();
    if let Some(company) = company {
        query = query.filter(users::company_id.eq(company.to_string()));
    }
    let mut found: Vec<Credentials> = query.limit(2).load(conn)?;
    Ok(if found.len() == 1 { found.pop() } else { None })
}

/// A user's authentication-key hash, for re-authentication.
pub fn auth_key_hash(
    conn: &mut DbConn,
    partner: PartnerId,
    id: UserId,
) -> Result<Option<String>, DbError> {
    Ok(users::table
        .filter(users::id.eq(id.to_string()))
        .filter(users::partner_id.eq(partner.to_string()))
        .select(users::auth_key_hash)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// A user's company and token generation, for an account token's check;
/// `None` for a disabled user, as for an absent one: nothing a disabled
/// user holds works (a token, a reset's secret or link, a recovery key).
pub fn generation(
    conn: &mut DbConn,
    partner: PartnerId,
    id: UserId,
) -> Result<Option<(String, i64)>, DbError> {
    Ok(users::table
        .filter(users::id.eq(id.to_string()))
        .filter(users::partner_id.eq(partner.to_string()))
        .filter(users::status.ne(UserStatus::Disabled))
        .filter(users::partner_id.eq_any(super::partners::active_ids()))
        .select((users::company_id, users::token_generation))
        .first(conn)
        .optional()?)
}

/// Sets a user's authentication-key hash and key material (the client's
/// KDF parameters and its encrypted vault key), activating an invited
/// user. Used by the tests and the demo seed until invitations exist.
pub fn set_auth_key(
    conn: &mut DbConn,
    partner: PartnerId,
    id: UserId,
    auth_key_hash: &str,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let updated = diesel::update(
        users::table
            .filter(users::id.eq(id.to_string()))
            .filter(users::partner_id.eq(partner.to_string())),
    )
    .set((
        users::auth_key_hash.eq(auth_key_hash),
        users::status.eq(UserStatus::Active),
        users::version.eq(users::version + 1),
        users::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// A new master password's material: the argon2id hash of the new
/// authentication key, the client's KDF parameters and the vault key
/// encrypted under the new master password. Activates the user and bumps
/// their token generation, so every earlier token (the restricted one that
/// set it, too) is refused.
pub fn set_master_password(
    conn: &mut DbConn,
    user: UserId,
    auth_key_hash: &str,
    kdf_params: Option<&str>,
    encrypted_vault_key: &[u8],
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(users::table.filter(users::id.eq(user.to_string())))
        .set((
            users::auth_key_hash.eq(auth_key_hash),
            users::kdf_params.eq(kdf_params),
            users::encrypted_vault_key.eq(encrypted_vault_key),
            users::status.eq(UserStatus::Active),
            users::token_generation.eq(users::token_generation + 1),
            users::version.eq(users::version + 1),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A user's invitation as stored: the keyed hash of its token, its expiry
/// and the outbox message that carries it.
#[derive(Debug, Clone)]
pub struct InvitationRow<'a> {
    pub hash: &'a [u8],
    pub expires_at: NaiveDateTime,
    pub message_id: &'a str,
}

/// Gives an invited user a new invitation, replacing the one before (its
/// link dies): the message that carried the one before, if any, so the
/// caller can withdraw it; `None` for a user no longer invited (nothing
/// changes).
pub fn set_invitation(
    conn: &mut DbConn,
    user: UserId,
    invitation: &InvitationRow<'_>,
    at: NaiveDateTime,
) -> Result<Option<Option<String>>, DbError> {
    let invited = users::table
        .filter(users::id.eq(user.to_string()))
        .filter(users::status.eq(UserStatus::Invited));
    let Some(before) = invited
        .clone()
        .select(users::invitation_message_id)
        .first::<Option<String>>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    diesel::update(invited)
        .set((
            users::invitation_hash.eq(invitation.hash),
            users::invitation_expires_at.eq(invitation.expires_at),
            users::invitation_message_id.eq(invitation.message_id),
            users::version.eq(users::version + 1),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(Some(before))
}

/// An invitation found by its token's keyed hash.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub user: UserId,
    pub partner: PartnerId,
    pub company: CompanyId,
    pub status: UserStatus,
    pub expires_at: Option<NaiveDateTime>,
    pub generation: i64,
}

/// The user whose invitation's token has `invitation_hash`, if any.
pub fn invitation(
    conn: &mut DbConn,
    invitation_hash: &[u8],
) -> Result<Option<Invitation>, DbError> {
    type Row = (
        UserId,
        PartnerId,
        CompanyId,
        UserStatus,
        Option<NaiveDateTime>,
        i64,
    );
    let found: Option<Row> = users::table
        .filter(users::invitation_hash.eq(invitation_hash))
        .filter(users::partner_id.eq_any(super::partners::active_ids()))
        .select((
            users::id,
            users::partner_id,
            users::company_id,
            users::status,
            users::invitation_expires_at,
            users::token_generation,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(
        |(user, partner, company, status, expires_at, generation)| Invitation {
            user,
            partner,
            company,
            status,
            expires_at,
            generation,
        },
    ))
}

/// Accepts an invitation: when the user is still invited under the
/// invitation whose token has `invitation_hash`, forgets the invitation and
/// stores their first key material with [`set_master_password`] (which
/// activates them). Whether it was accepted (a second use finds nothing).
pub fn accept_invitation(
    conn: &mut DbConn,
    user: UserId,
    invitation_hash: &[u8],
    (auth_key_hash, kdf_params, encrypted_vault_key): (&str, Option<&str>, &[u8]),
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let forgotten = diesel::update(
        users::table
            .filter(users::id.eq(user.to_string()))
            .filter(users::status.eq(UserStatus::Invited))
            .filter(users::invitation_hash.eq(invitation_hash)),
    )
    .set((
        users::invitation_hash.eq(None::<Vec<u8>>),
        users::invitation_expires_at.eq(None::<NaiveDateTime>),
        users::invitation_message_id.eq(None::<String>),
    ))
    .execute(conn)?;
    if forgotten != 1 {
        return Ok(false);
    }
    set_master_password(
        conn,
        user,
        auth_key_hash,
        kdf_params,
        encrypted_vault_key,
        at,
    )?;
    Ok(true)
}

/// What an admin changes of a user; `None` leaves a value as it is
/// (`external_id: Some(None)` clears the id).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub name: Option<String>,
    pub locale: Option<String>,
    pub client_kind: Option<ClientKind>,
    pub is_primary: Option<bool>,
    pub external_id: Option<Option<String>>,
}

/// Applies `changes` to the user, if still at `version`; whether it was.
pub fn update(
    conn: &mut DbConn,
    user: UserId,
    version: i64,
    changes: &UserChanges,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let updated = diesel::update(
        users::table
            .filter(users::id.eq(user.to_string()))
            .filter(users::version.eq(version)),
    )
    .set((
        changes,
        users::version.eq(users::version + 1),
        users::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Sets the user's status. Disabling also moves their token generation on,
/// so every token they hold is refused at once.
pub fn set_status(
    conn: &mut DbConn,
    user: UserId,
    status: UserStatus,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let bump = i64::from(status == UserStatus::Disabled);
    diesel::update(users::table.filter(users::id.eq(user.to_string())))
        .set((
            users::status.eq(status),
            users::token_generation.eq(users::token_generation + bump),
            users::version.eq(users::version + 1),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The outbox message of the user's open invitation, if any.
pub fn invitation_message(conn: &mut DbConn, user: UserId) -> Result<Option<String>, DbError> {
    Ok(users::table
        .filter(users::id.eq(user.to_string()))
        .select(users::invitation_message_id)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Removes the user, with their vault items and resets (the backup copies
/// of their company items stay, for their retention).
pub fn delete(conn: &mut DbConn, user: UserId) -> Result<(), DbError> {
    diesel::delete(users::table.filter(users::id.eq(user.to_string()))).execute(conn)?;
    Ok(())
}

/// Whether the user has key material (an authentication key's hash).
pub fn has_key(conn: &mut DbConn, user: UserId) -> Result<bool, DbError> {
    let hash: Option<Option<String>> = users::table
        .filter(users::id.eq(user.to_string()))
        .select(users::auth_key_hash)
        .first(conn)
        .optional()?;
    Ok(hash.flatten().is_some())
}

/// Registers (or replaces) the user's recovery key: the verifier's keyed
/// hash and the vault key wrapped by the recovery key (ciphertext).
pub fn set_recovery_key(
    conn: &mut DbConn,
    user: UserId,
    verifier_hash: &[u8],
    wrapped_vault_key: &[u8],
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(users::table.filter(users::id.eq(user.to_string())))
        .set((
            users::recovery_key_verifier.eq(verifier_hash),
            users::recovery_wrapped_vault_key.eq(wrapped_vault_key),
            users::version.eq(users::version + 1),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A registered recovery key: the verifier's keyed hash and the vault key
/// wrapped by the recovery key.
#[derive(Debug, Clone)]
pub struct RecoveryKey {
    pub verifier_hash: Vec<u8>,
    pub wrapped_vault_key: Vec<u8>,
}

/// The user's recovery key, if one is registered.
pub fn recovery_key(conn: &mut DbConn, user: UserId) -> Result<Option<RecoveryKey>, DbError> {
    type Columns = (Option<Vec<u8>>, Option<Vec<u8>>);
    let found: Option<Columns> = users::table
        .filter(users::id.eq(user.to_string()))
        .select((
            users::recovery_key_verifier,
            users::recovery_wrapped_vault_key,
        ))
        .first(conn)
        .optional()?;
    Ok(found
        .and_then(|(verifier, wrapped)| verifier.zip(wrapped))
        .map(|(verifier_hash, wrapped_vault_key)| RecoveryKey {
            verifier_hash,
            wrapped_vault_key,
        }))
}

/// The user's name, email and locale, for the emails they are sent.
pub fn contact(
    conn: &mut DbConn,
    user: UserId,
) -> Result<Option<(String, String, String)>, DbError> {
    Ok(users::table
        .filter(users::id.eq(user.to_string()))
        .select((users::name, users::email, users::locale))
        .first(conn)
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn wildcards_in_the_text_match_themselves() {
        assert_eq!(contains_pattern("ann"), "%ann%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
