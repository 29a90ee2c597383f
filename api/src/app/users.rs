//! End users: created in a company (an email is unique within it, a company
//! has at most one primary user) and invited by email, listed and located
//! among what the caller may see. Lists hold only users the caller may
//! read: SQL narrows them to the caller's companies, and the policies
//! decide each one found.
//!
//! An admin changes a user's name, locale, client, primary flag and
//! external id under `If-Match` (the row's `version` is the `ETag`: every
//! change of the row adds one), and disables or enables them: nothing a
//! disabled user holds works, and they cannot sign in.
//!
//! An invitation is a single-use link: its token is drawn here, travels
//! only sealed in the outbox row of its email, and is kept as a keyed hash.
//! Sending it again draws a new token; the earlier link dies and its email
//! is withdrawn when not sent yet. [`super::account::accept_invitation`]
//! redeems it.

use super::idempotent::{self, Made};
use super::resets::Idempotency;
use super::{App, Error, OpContext, invitations};
use crate::audit;
use crate::auth::INVITATION_SECRET;
use crate::authz::{Action, Resource};
use crate::db::types::{ClientKind, UserStatus};
use crate::db::users::{self, NewUser, User, UserFilter};
use crate::db::{DbConn, DbError, companies, resets};
use crate::ids::{CompanyId, PartnerId, UserId};
use chrono::NaiveDateTime;
use secrecy::ExposeSecret;

/// The resource a user is, to the authorizer.
pub fn user_resource(partner: PartnerId, user: &User) -> Resource {
    Resource::User {
        id: user.id,
        company: user.company_id,
        partner,
    }
}

/// A page of users by `filter`, those the policies let the caller read;
/// and the cursor of the next page.
async fn page(
    app: &App,
    ctx: &OpContext,
    mut filter: UserFilter,
    after: Option<UserId>,
    limit: Option<u32>,
) -> Result<(Vec<User>, Option<String>), Error> {
    let limit = super::paging::limit(limit)?;
    filter.limit = limit + 1;
    filter.after = after;
    let partner = ctx.partner;
    super::paging::permitted_page(
        app,
        ctx,
        Action::ReadUser,
        limit,
        move |conn| users::list(conn, partner, &filter),
        |u| u.id.to_string(),
        move |u| Ok(user_resource(partner, u)),
    )
    .await
}

/// What a search of users looks for; `None` does not narrow it.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Lowercase: the start of an email when it reads as one, otherwise
    /// text found in the email or the name.
    pub text: Option<String>,
    pub company: Option<CompanyId>,
    pub external_id: Option<String>,
    /// A status a client named (checked here: one of [`UserStatus`]).
    pub status: Option<String>,
}

/// Users whose email starts with `text` when it reads as the start of an
/// email, or whose email or name contains it otherwise, among those the
/// caller may see, narrowed by the rest of `search`.
pub async fn search(
    app: &App,
    ctx: &OpContext,
    search: Search,
    after: Option<UserId>,
    limit: Option<u32>,
) -> Result<(Vec<User>, Option<String>), Error> {
    ctx.authorize(app, Action::SearchUsers, &Resource::Partner(ctx.partner))
        .await?;
    let status = match search.status.as_deref() {
        None => None,
        Some(raw) => Some(UserStatus::parse(raw).ok_or_else(|| {
            Error::invalid(
                "status",
                "must be invited, active, reset_pending or disabled",
            )
        })?),
    };
    let filter = UserFilter {
        companies: super::visible_within(&ctx.principal, search.company),
        text: search.text,
        external_id: search.external_id,
        status,
        ..UserFilter::default()
    };
    page(app, ctx, filter, after, limit).await
}

/// The users of the company `raw_company` names.
pub async fn of_company(
    app: &App,
    ctx: &OpContext,
    raw_company: &str,
    after: Option<UserId>,
    limit: Option<u32>,
) -> Result<(Vec<User>, Option<String>), Error> {
    let company = super::companies::find(app, ctx, raw_company).await?;
    let id = company.id;
    ctx.authorize(
        app,
        Action::ListUsers,
        &Resource::Company {
            id,
            partner: ctx.partner,
        },
    )
    .await?;
    let filter = UserFilter {
        companies: Some(vec![id]),
        ..UserFilter::default()
    };
    page(app, ctx, filter, after, limit).await
}

/// A new user, as sent (each value already checked as the contract says).
#[derive(Debug, Clone)]
pub struct NewUserCommand {
    /// In its one stored form.
    pub email: String,
    pub name: String,
    pub client_kind: ClientKind,
    pub locale: String,
    pub is_primary: bool,
    /// The PSA's or the directory's own id for the user, unique in the
    /// company.
    pub external_id: Option<String>,
    /// Disabled from the start (a directory's inactive user): invited as
    /// any other, and their link works once they are enabled.
    pub disabled: bool,
}

/// Adds a user to the company `raw_company` names, `invited`, and queues
/// their invitation in the same transaction. The email is unique in the
/// company (the partner's other companies are never consulted, so the
/// answer reveals nothing outside the caller's reach); a company has at
/// most one primary user. Under the caller's idempotency `key`, a retry
/// answers the first result (`render`ed) and invites nobody again.
pub async fn create(
    app: &App,
    ctx: &OpContext,
    raw_company: &str,
    new: NewUserCommand,
    key: Option<Idempotency>,
    render: impl FnOnce(&User) -> Vec<u8> + Send + 'static,
) -> Result<Made<User>, Error> {
    let company = super::companies::find(app, ctx, raw_company).await?;
    let company_id = company.id;
    let id = UserId::new();
    ctx.authorize(
        app,
        Action::CreateUser,
        &Resource::User {
            id,
            company: company_id,
            partner: ctx.partner,
        },
    )
    .await?;
    let is_primary = new.is_primary;
    let row = NewUser {
        id,
        partner_id: ctx.partner,
        company_id: company.id,
        email: new.email.clone(),
        name: new.name,
        client_kind: new.client_kind,
        locale: new.locale,
        is_primary,
        status: UserStatus::Invited,
        created_at: ctx.now,
        updated_at: ctx.now,
        external_id: new.external_id,
    };
    let mut event = ctx.event("createUser", "user", id.to_string(), true, Vec::new());
    event.details = serde_json::json!({
        "company_id": company.id,
        "email": new.email,
        "client_kind": row.client_kind,
        "is_primary": is_primary,
        "external_id": row.external_id,
        "disabled": new.disabled,
    });
    let keys = app.keys.clone();
    let partner = ctx.partner;
    let now = ctx.now;
    let company_name = company.name;
    let disabled = new.disabled;
    let insert = move |conn: &mut DbConn| {
        // Waits on a retirement under way, and reads what it committed.
        if companies::is_retired_shared(conn, company_id)? {
            return Err(super::companies::company_retired());
        }
        if is_primary && users::has_primary(conn, company_id)? {
            return Err(primary_exists());
        }
        users::insert(conn, &row)?;
        let expires_at = issue_invitation(conn, &keys, (&row).into(), &company_name, now)?;
        event.details["invitation_expires_at"] = serde_json::json!(expires_at);
        if disabled {
            users::set_status(conn, id, UserStatus::Disabled, now)?;
        }
        audit::append(conn, &keys, event)?;
        users::find(conn, partner, id)?
            .ok_or_else(|| DbError::Corrupt(format!("user {id} vanished after insert")).into())
    };
    let made = idempotent::create(app, ctx, key, insert, render).await;
    if matches!(made, Ok(Made::New(_))) {
        app.outbox.wake();
    }
    match made {
        Err(Error::Storage(error)) if error.is_unique_violation() => Err(taken(&error)),
        other => other,
    }
}

/// The invitation email's payload (sealed in the outbox row).
#[derive(serde::Serialize)]
struct InvitationEmail<'a> {
    name: &'a str,
    company: &'a str,
    secret: &'a str,
    expires_at: NaiveDateTime,
}

/// Who an invitation goes to.
struct Invitee<'a> {
    id: UserId,
    partner: PartnerId,
    name: &'a str,
    email: &'a str,
    locale: &'a str,
}

impl<'a> From<&'a NewUser> for Invitee<'a> {
    fn from(user: &'a NewUser) -> Self {
        let (id, partner) = (user.id, user.partner_id);
        let (name, email, locale) = (&*user.name, &*user.email, &*user.locale);
        Self {
            id,
            partner,
            name,
            email,
            locale,
        }
    }
}

impl<'a> From<&'a User> for Invitee<'a> {
    fn from(user: &'a User) -> Self {
        let (id, partner) = (user.id, user.partner_id);
        let (name, email, locale) = (&*user.name, &*user.email, &*user.locale);
        Self {
            id,
            partner,
            name,
            email,
            locale,
        }
    }
}

/// Draws an invitation for an invited user, in the caller's transaction
/// ([`super::invitations`]); when it expires. 409 `user_not_invited` when
/// the user is no longer invited.
fn issue_invitation(
    conn: &mut DbConn,
    keys: &crate::auth::keys::ServerKeys,
    user: Invitee<'_>,
    company: &str,
    now: NaiveDateTime,
) -> Result<NaiveDateTime, Error> {
    let letter = invitations::Letter {
        partner: user.partner,
        template: "user_invitation",
        locale: user.locale,
        recipient: user.email,
    };
    let token = crate::auth::link_token();
    let drawn = invitations::draw(
        conn,
        keys,
        INVITATION_SECRET,
        &token,
        letter,
        now,
        |expires_at| InvitationEmail {
            name: user.name,
            company,
            secret: token.expose_secret(),
            expires_at,
        },
    )?;
    let before =
        users::set_invitation(conn, user.id, &drawn.row(), now)?.ok_or_else(not_invited)?;
    invitations::replaced(conn, before, now)?;
    Ok(drawn.expires_at)
}

/// Only an invited user is sent an invitation.
fn not_invited() -> Error {
    Error::Conflict {
        code: "user_not_invited",
        detail: "The user is no longer invited: they chose a master password, or were \
                 disabled or removed"
            .into(),
    }
}

/// Sends an invited user's invitation again, with a new link; the earlier
/// link dies (its email withdrawn when not sent yet). 409
/// `user_not_invited` once the user has accepted. Audited.
pub async fn invite(
    app: &App,
    caller: impl super::Credential,
    raw_id: &str,
) -> Result<User, Error> {
    let (ctx, user) = load(app, caller, raw_id).await?;
    ctx.authorize(app, Action::InviteUser, &user_resource(ctx.partner, &user))
        .await?;
    if user.status != UserStatus::Invited {
        return Err(not_invited());
    }
    let keys = app.keys.clone();
    let mut event = ctx.event(
        Action::InviteUser.name(),
        "user",
        user.id.to_string(),
        true,
        Vec::new(),
    );
    let (partner, id, now) = (ctx.partner, user.id, ctx.now);
    let invited = app
        .db
        .write(move |conn| {
            if resets::lock_user(conn, partner, id)?.is_none() {
                return Err(Error::NotFound);
            }
            // As it is now, under the lock: its name and locale are the
            // email's.
            let user = users::find(conn, partner, id)?.ok_or(Error::NotFound)?;
            let company = companies::find(conn, partner, user.company_id)?
                .map(|c| c.name)
                .unwrap_or_default();
            let expires_at = issue_invitation(conn, &keys, (&user).into(), &company, now)?;
            event.details =
                serde_json::json!({ "resent": true, "invitation_expires_at": expires_at });
            audit::append(conn, &keys, event)?;
            users::find(conn, partner, id)?
                .ok_or_else(|| Error::from(DbError::Corrupt(format!("user {id} vanished"))))
        })
        .await?;
    app.outbox.wake();
    Ok(invited)
}

/// What an admin changes of a user (each value already checked as the
/// contract says); `None` leaves a value as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub locale: Option<String>,
    pub client_kind: Option<ClientKind>,
    pub is_primary: Option<bool>,
    /// `Some(None)` clears the external id.
    pub external_id: Option<Option<String>>,
}

/// Changes a user, if still at a version `precondition` names (412
/// otherwise, 428 without one). A company keeps at most one primary user;
/// an external id stays unique in the company. Audited with what changed.
pub async fn update(
    app: &App,
    caller: impl super::Credential,
    raw_id: &str,
    update: UserUpdate,
    precondition: super::backup::Precondition,
) -> Result<User, Error> {
    let (ctx, user) = load(app, caller, raw_id).await?;
    ctx.authorize(app, Action::UpdateUser, &user_resource(ctx.partner, &user))
        .await?;
    if !precondition.allows(user.version)? {
        return Err(Error::PreconditionFailed);
    }
    let change = Change::new(&ctx, user.id, update);
    let keys = app.keys.clone();
    let (partner, id, now) = (ctx.partner, user.id, ctx.now);
    let written = app
        .db
        .write(move |conn| change.apply(conn, &keys, partner, id, &precondition, now))
        .await;
    match written {
        Err(Error::Storage(error)) if error.is_unique_violation() => Err(taken(&error)),
        other => other,
    }
}

/// A change of a user, with its audit event: what was sent, and only that.
pub(super) struct Change {
    changes: users::UserChanges,
    event: audit::NewEvent,
}

impl Change {
    pub(super) fn new(ctx: &OpContext, id: UserId, update: UserUpdate) -> Self {
        let changes = users::UserChanges {
            name: update.name,
            locale: update.locale,
            client_kind: update.client_kind,
            is_primary: update.is_primary,
            external_id: update.external_id,
        };
        let mut event = ctx.event(
            Action::UpdateUser.name(),
            "user",
            id.to_string(),
            true,
            Vec::new(),
        );
        // An external id sent as null (removed) is there as null.
        let mut sent = serde_json::Map::new();
        let mut put = |field: &str, value: Option<serde_json::Value>| {
            if let Some(value) = value {
                sent.insert(field.to_owned(), value);
            }
        };
        put("name", changes.name.clone().map(Into::into));
        put("locale", changes.locale.clone().map(Into::into));
        put(
            "client_kind",
            changes.client_kind.map(|k| k.to_string().into()),
        );
        put("is_primary", changes.is_primary.map(Into::into));
        put(
            "external_id",
            changes.external_id.clone().map(|id| id.into()),
        );
        event.details = serde_json::Value::Object(sent);
        Self { changes, event }
    }

    /// Writes the change in the caller's transaction, if the user is still
    /// at a version `precondition` allows; the user as changed. (A racing
    /// change that made another user primary meanwhile is refused by the
    /// index: a unique violation, which [`taken`] names.)
    pub(super) fn apply(
        self,
        conn: &mut DbConn,
        keys: &crate::auth::keys::ServerKeys,
        partner: PartnerId,
        id: UserId,
        precondition: &super::backup::Precondition,
        now: NaiveDateTime,
    ) -> Result<User, Error> {
        let Self { changes, event } = self;
        let Some(current) = users::find(conn, partner, id)? else {
            return Err(Error::NotFound);
        };
        if !precondition.allows(current.version)? {
            return Err(Error::PreconditionFailed);
        }
        if changes.is_primary == Some(true)
            && !current.is_primary
            && users::has_primary(conn, current.company_id)?
        {
            return Err(primary_exists());
        }
        if !users::update(conn, id, current.version, &changes, now)? {
            return Err(Error::PreconditionFailed);
        }
        audit::append(conn, keys, event)?;
        users::find(conn, partner, id)?
            .ok_or_else(|| Error::from(DbError::Corrupt(format!("user {id} vanished"))))
    }
}

/// What a unique violation of the users table means: the constraint's name
/// (PostgreSQL) or its columns (SQLite) say which.
pub(super) fn taken(error: &DbError) -> Error {
    let message = error.to_string();
    if message.contains("external_id") {
        super::companies::external_id_taken("user", "company")
    } else if message.contains("email") {
        Error::Conflict {
            code: "email_taken",
            detail: "Another user of the company already has this email".into(),
        }
    } else {
        primary_exists()
    }
}

fn primary_exists() -> Error {
    Error::Conflict {
        code: "primary_user_exists",
        detail: "The company already has a primary user".into(),
    }
}

/// Disables a user: every token they hold is refused at once, they cannot
/// sign in, and nothing else they hold works (a reset's secret or link, an
/// invitation, a recovery key) until they are enabled. Disabling a
/// disabled user changes nothing. Audited.
pub async fn disable(
    app: &App,
    caller: impl super::Credential,
    raw_id: &str,
) -> Result<User, Error> {
    set_enabled(app, caller, raw_id, false).await
}

/// Enables a disabled user: they are `active` again when they have a
/// master password, `reset_pending` when they were reset and have not set
/// a new one yet, and `invited` otherwise. Enabling a user who is not disabled changes
/// nothing. Audited.
pub async fn enable(
    app: &App,
    caller: impl super::Credential,
    raw_id: &str,
) -> Result<User, Error> {
    set_enabled(app, caller, raw_id, true).await
}

async fn set_enabled(
    app: &App,
    caller: impl super::Credential,
    raw_id: &str,
    enabled: bool,
) -> Result<User, Error> {
    let (ctx, user) = load(app, caller, raw_id).await?;
    let action = enabled_action(enabled);
    ctx.authorize(app, action.clone(), &user_resource(ctx.partner, &user))
        .await?;
    let keys = app.keys.clone();
    let event = ctx.event(action.name(), "user", user.id.to_string(), true, Vec::new());
    let (partner, id, now) = (ctx.partner, user.id, ctx.now);
    app.db
        .write(move |conn| set_enabled_locked(conn, &keys, event, partner, id, enabled, now))
        .await
}

/// The action that enables (`true`) or disables a user.
pub(super) fn enabled_action(enabled: bool) -> Action {
    if enabled {
        Action::EnableUser
    } else {
        Action::DisableUser
    }
}

/// Enables or disables the user in the caller's transaction, holding their
/// row; audited with `event` when the status changes. The user as they are
/// then.
pub(super) fn set_enabled_locked(
    conn: &mut DbConn,
    keys: &crate::auth::keys::ServerKeys,
    event: audit::NewEvent,
    partner: PartnerId,
    id: UserId,
    enabled: bool,
    now: NaiveDateTime,
) -> Result<User, Error> {
    let Some(status) = resets::lock_user(conn, partner, id)? else {
        return Err(Error::NotFound);
    };
    let next = match (enabled, status) {
        (false, UserStatus::Disabled) | (true, UserStatus::Active) => None,
        (true, UserStatus::Invited | UserStatus::ResetPending) => None,
        (false, _) => Some(UserStatus::Disabled),
        (true, UserStatus::Disabled) => {
            let user = users::find(conn, partner, id)?.ok_or(Error::NotFound)?;
            Some(if users::has_key(conn, id)? {
                UserStatus::Active
            } else if user.last_reset_at.is_some() {
                // Reset, and no new master password yet (the reset may
                // have expired meanwhile: an admin re-issues it).
                UserStatus::ResetPending
            } else {
                UserStatus::Invited
            })
        }
    };
    if let Some(next) = next {
        users::set_status(conn, id, next, now)?;
        let mut event = event;
        event.details = serde_json::json!({ "from": status.to_string(), "to": next.to_string() });
        audit::append(conn, keys, event)?;
    }
    users::find(conn, partner, id)?
        .ok_or_else(|| Error::from(DbError::Corrupt(format!("user {id} vanished"))))
}

/// One user the caller may see. The caller's context and the user are
/// loaded in one trip to the database (a caller who cannot be loaded is
/// refused before a malformed id is answered 404).
pub async fn get(app: &App, caller: impl super::Credential, raw_id: &str) -> Result<User, Error> {
    let (ctx, user) = load(app, caller, raw_id).await?;
    ctx.authorize(app, Action::ReadUser, &user_resource(ctx.partner, &user))
        .await?;
    Ok(user)
}

/// The caller's context and the user `raw_id` names, in one trip to the
/// database, not yet authorized; 404 for a user not in the caller's
/// partner.
pub(super) async fn load(
    app: &App,
    caller: impl super::Credential,
    raw_id: &str,
) -> Result<(OpContext, User), Error> {
    let id = UserId::parse(raw_id);
    let partner = caller.partner();
    let (ctx, user) = app
        .db
        .run(move |conn| {
            let ctx = caller.into_context(conn)?;
            let user = id
                .map(|id| users::find(conn, partner, id))
                .transpose()?
                .flatten();
            Ok::<_, Error>((ctx, user))
        })
        .await?;
    Ok((ctx, user.ok_or(Error::NotFound)?))
}
