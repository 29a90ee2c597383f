//! A partner's portal operators. Owners manage everyone; admins manage
//! everyone but owners; technicians and API clients manage no one (the
//! Cedar policies decide). A partner keeps at least one owner. A role
//! change or a removal revokes the admin's tokens at once.

use std::collections::{HashMap, HashSet};

use secrecy::{ExposeSecret, SecretString};

use super::idempotent::{self, Made};
use super::resets::Idempotency;
use super::{App, Decider, Error, OpContext, invitations, paging, stored};
use crate::auth::{ADMIN_INVITATION_SECRET, draw_secret};
use crate::authz::{Action, Resource};
use crate::db::admins::{self, Admin, AdminChanges, Role};
use crate::db::{DbError, companies};
use crate::domain::Email;
use crate::ids::{AdminId, CompanyId};

/// An admin and, for a technician, their assigned companies.
#[derive(Debug, Clone)]
pub struct AdminWithCompanies {
    pub admin: Admin,
    pub role: Role,
    pub companies: Vec<CompanyId>,
}

fn with_companies(admin: Admin, companies: Vec<String>) -> Result<AdminWithCompanies, DbError> {
    Ok(AdminWithCompanies {
        role: admin.role,
        companies: companies
            .iter()
            .map(|c| stored(c, CompanyId::parse, "company id"))
            .collect::<Result<_, _>>()?,
        admin,
    })
}

/// The admin a path names, of the caller's partner, with their companies.
async fn load(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
) -> Result<(AdminId, AdminWithCompanies), Error> {
    let id = AdminId::parse(raw_id).ok_or(Error::NotFound)?;
    let partner = ctx.partner;
    let found = app
        .db
        .run(move |conn| {
            let Some(admin) = admins::find(conn, partner, id)? else {
                return Ok::<_, DbError>(None);
            };
            let companies = admins::assigned_companies(conn, id)?;
            Ok(Some(with_companies(admin, companies)?))
        })
        .await?;
    Ok((id, found.ok_or(Error::NotFound)?))
}

fn resource(ctx: &OpContext, id: AdminId, role: Role) -> Resource {
    Resource::Admin {
        id,
        partner: ctx.partner,
        role,
    }
}

/// A technician's companies, checked: only a technician has any, and each
/// must be a company of the caller's partner.
async fn check_companies(
    app: &App,
    ctx: &OpContext,
    role: Role,
    companies: Vec<CompanyId>,
) -> Result<Vec<String>, Error> {
    let companies: Vec<String> = companies.iter().map(ToString::to_string).collect();
    if companies.is_empty() {
        return Ok(companies);
    }
    if role != Role::Technician {
        return Err(Error::invalid(
            "companies",
            "only a technician is assigned companies",
        ));
    }
    let partner = ctx.partner;
    let wanted = companies.clone();
    let found = app
        .db
        .run(move |conn| companies::existing(conn, partner, &wanted))
        .await?;
    if found.len() != companies.iter().collect::<HashSet<_>>().len() {
        return Err(Error::ReferenceNotFound {
            field: "companies".into(),
        });
    }
    Ok(companies)
}

/// A page of the partner's admins, oldest first, and the next page's cursor.
pub async fn list(
    app: &App,
    ctx: &OpContext,
    after: Option<AdminId>,
    limit: Option<u32>,
) -> Result<(Vec<AdminWithCompanies>, Option<String>), Error> {
    ctx.authorize(app, Action::ListAdmins, &Resource::Partner(ctx.partner))
        .await?;
    let limit = paging::limit(limit)?;
    let partner = ctx.partner;
    let mut page = app
        .db
        .run(move |conn| {
            let admins = admins::list(conn, partner, after, limit + 1)?;
            let mut companies = HashMap::new();
            for admin in &admins {
                if admin.role == Role::Technician {
                    companies.insert(admin.id, admins::assigned_companies(conn, admin.id)?);
                }
            }
            admins
                .into_iter()
                .map(|a| {
                    let assigned = companies.remove(&a.id).unwrap_or_default();
                    with_companies(a, assigned)
                })
                .collect::<Result<Vec<_>, DbError>>()
        })
        .await?;
    let next_cursor = paging::finish(&mut page, limit, |a| a.admin.id.to_string());
    Ok((page, next_cursor))
}

/// An admin to create.
pub struct NewAdmin {
    pub email: Email,
    pub name: String,
    pub role: Role,
    /// A technician's companies.
    pub companies: Vec<CompanyId>,
    pub locale: Option<String>,
}

/// Creates an admin and invites them by email, in one transaction: the
/// invitation's single-use link lets them choose their password
/// ([`accept_invitation`]); until then no sign-in works ([`invited`]).
/// Under the caller's
/// idempotency `key`, a retry answers the first result and invites nobody
/// again.
pub async fn create(
    app: &App,
    ctx: &OpContext,
    new: NewAdmin,
    key: Option<Idempotency>,
    render: impl FnOnce(&AdminWithCompanies) -> Vec<u8> + Send + 'static,
) -> Result<Made<AdminWithCompanies>, Error> {
    let role = new.role;
    let id = AdminId::new();
    ctx.authorize(app, Action::CreateAdmin { role }, &resource(ctx, id, role))
        .await?;
    let email = new.email.into_string();
    let locale = super::locale(new.locale)?;
    let companies = check_companies(app, ctx, role, new.companies).await?;
    // A retry answers before anything is drawn and hashed again.
    if let Some(stored) = idempotent::stored_result(app, ctx, key.clone()).await? {
        return Ok(Made::Replayed(stored));
    }
    let now = app.clock.now();
    let admin = Admin {
        id,
        ..invited(
            app,
            ctx.partner,
            (email.clone(), new.name),
            role,
            locale,
            now,
        )
        .await
    };
    let mut event = ctx.event("createAdmin", "admin", id.to_string(), true, Vec::new());
    event.details =
        serde_json::json!({ "email": email, "role": role.as_str(), "companies": companies });
    let partner = ctx.partner;
    let keys = app.keys.clone();
    let insert = move |conn: &mut crate::db::DbConn| {
        admins::insert(conn, &admin)?;
        admins::set_companies(conn, partner, id, &companies)?;
        let expires_at = invite_in(conn, &keys, &admin, now)?;
        event.details["invitation_expires_at"] = serde_json::json!(expires_at);
        crate::audit::append(conn, &keys, event)?;
        let admin = Admin {
            invitation_expires_at: Some(expires_at),
            ..admin
        };
        Ok(with_companies(admin, companies)?)
    };
    let made = idempotent::create(app, ctx, key, insert, render).await;
    if matches!(made, Ok(Made::New(_))) {
        app.outbox.wake();
    }
    match made {
        Err(Error::Storage(error)) if error.is_unique_violation() => Err(Error::Conflict {
            code: "email_taken",
            detail: "An admin of this partner already has this email".into(),
        }),
        other => other,
    }
}

/// A new admin of `partner`, invited from `now` (the invitation drawn by
/// [`invite_in`] sets its expiry), named by (email, name). No password
/// until they accept: the stored hash is of a secret drawn here and given
/// to nobody, so a sign-in costs the same argon2 work as any other and
/// fails.
pub(super) async fn invited(
    app: &App,
    partner: crate::ids::PartnerId,
    (email, name): (String, String),
    role: Role,
    locale: String,
    now: chrono::NaiveDateTime,
) -> Admin {
    Admin {
        id: AdminId::new(),
        partner_id: partner,
        email,
        name,
        role,
        password_hash: app.passwords.hash(draw_secret(32)).await,
        must_change_password: false,
        token_generation: 0,
        locale,
        created_at: now,
        updated_at: now,
        invitation_expires_at: Some(now),
    }
}

/// The admin invitation email's payload (sealed in the outbox row).
#[derive(serde::Serialize)]
struct InvitationEmail<'a> {
    name: &'a str,
    partner: &'a str,
    partner_id: String,
    email: &'a str,
    role: &'a str,
    secret: &'a str,
    expires_at: chrono::NaiveDateTime,
}

/// Draws an invitation for an invited admin, in the caller's transaction
/// ([`super::invitations`]); when it expires. 409 `admin_not_invited` for
/// an admin who has joined.
pub(super) fn invite_in(
    conn: &mut crate::db::DbConn,
    keys: &crate::auth::keys::ServerKeys,
    admin: &Admin,
    now: chrono::NaiveDateTime,
) -> Result<chrono::NaiveDateTime, Error> {
    let partner = admin.partner_id;
    let partner_name = crate::db::partners::find(conn, partner)?
        .map(|p| p.name)
        .unwrap_or_default();
    let letter = invitations::Letter {
        partner,
        template: "admin_invitation",
        locale: &admin.locale,
        recipient: &admin.email,
    };
    let token = crate::auth::link_token();
    let drawn = invitations::draw(
        conn,
        keys,
        ADMIN_INVITATION_SECRET,
        &token,
        letter,
        now,
        |expires_at| InvitationEmail {
            name: &admin.name,
            partner: &partner_name,
            partner_id: partner.to_string(),
            email: &admin.email,
            role: admin.role.as_str(),
            secret: token.expose_secret(),
            expires_at,
        },
    )?;
    let before = admins::set_invitation(conn, partner, admin.id, &drawn.row(), now)?
        .ok_or_else(not_invited)?;
    invitations::replaced(conn, before, now)?;
    Ok(drawn.expires_at)
}

/// Only an admin who has not joined is sent an invitation.
fn not_invited() -> Error {
    Error::Conflict {
        code: "admin_not_invited",
        detail: "The admin has accepted their invitation already".into(),
    }
}

/// Sends an invited admin's invitation again, with a new link; the earlier
/// link dies (its email withdrawn when not sent yet). Whoever may create
/// such an admin may invite them again. 409 `admin_not_invited` once they
/// have joined. Audited.
pub async fn invite(app: &App, ctx: &OpContext, raw_id: &str) -> Result<AdminWithCompanies, Error> {
    let (id, found) = load(app, ctx, raw_id).await?;
    let role = found.role;
    ctx.authorize(app, Action::CreateAdmin { role }, &resource(ctx, id, role))
        .await?;
    if !found.admin.is_invited() {
        return Err(not_invited());
    }
    let mut event = ctx.event("inviteAdmin", "admin", id.to_string(), true, Vec::new());
    let (partner, keys, now) = (ctx.partner, app.keys.clone(), app.clock.now());
    app.db
        .write(move |conn| {
            // As it is now, under the lock: its name, role and locale are
            // the email's.
            let admin = admins::lock(conn, partner, id)?.ok_or(Error::NotFound)?;
            let expires_at = invite_in(conn, &keys, &admin, now)?;
            event.details =
                serde_json::json!({ "resent": true, "invitation_expires_at": expires_at });
            crate::audit::append(conn, &keys, event)?;
            Ok::<_, Error>(())
        })
        .await?;
    app.outbox.wake();
    Ok(load(app, ctx, raw_id).await?.1)
}

/// Accepts an admin's invitation with the token of its emailed single-use
/// link: the admin's first password is stored and they can sign in. A
/// token that is wrong, expired, used or replaced by a newer invitation is
/// refused alike (401), audited, and throttled per address. Answers the
/// admin, whose partner and email are what they sign in with.
pub async fn accept_invitation(
    app: &App,
    token: SecretString,
    password: SecretString,
    request_id: Option<String>,
    address: Option<std::net::IpAddr>,
) -> Result<Admin, Error> {
    const REFUSED: &str =
        "the invitation is not valid: it may have expired, been used or been sent again";
    super::sign_in::check_password_length("password", &password)?;
    let ticket = app
        .throttled(crate::auth::throttle::Path::AdminInvitation, None, address)
        .await?;
    let hash = app
        .keys
        .keyed_hash(ADMIN_INVITATION_SECRET, token.expose_secret().as_bytes());
    let now = app.clock.now();
    let lookup = hash.clone();
    let found = app
        .db
        .run(move |conn| admins::invited_by(conn, &lookup))
        .await?
        .filter(|admin| admin.invitation_expires_at.is_some_and(|at| at > now));
    let Some(admin) = found else {
        return Err(super::account::refused_link(
            app,
            "acceptAdminInvitation",
            "no open admin invitation has this token",
            request_id,
            REFUSED,
        )
        .await);
    };
    let password_hash = app.passwords.hash(password).await;
    let event = crate::audit::NewEvent {
        partner: Some(admin.partner_id),
        actor_kind: crate::audit::ActorKind::Admin,
        actor_id: Some(admin.id.to_string()),
        action: "acceptAdminInvitation".into(),
        target_kind: Some("admin".into()),
        target_id: Some(admin.id.to_string()),
        allowed: true,
        policy_ids: Vec::new(),
        request_id,
        details: serde_json::json!({}),
    };
    let (id, keys) = (admin.id, app.keys.clone());
    let accepted = app
        .db
        .write(move |conn| {
            let accepted = admins::accept_invitation(conn, id, &hash, &password_hash, now)?;
            if accepted {
                crate::audit::append(conn, &keys, event)?;
            }
            Ok::<_, DbError>(accepted)
        })
        .await?;
    if !accepted {
        return Err(Error::unauthorized(REFUSED));
    }
    app.throttle.succeeded(ticket, app.clock.now()).await?;
    Ok(Admin {
        invitation_expires_at: None,
        must_change_password: false,
        ..admin
    })
}

/// One admin of the caller's partner.
pub async fn get(app: &App, ctx: &OpContext, raw_id: &str) -> Result<AdminWithCompanies, Error> {
    let (id, found) = load(app, ctx, raw_id).await?;
    ctx.authorize(app, Action::ReadAdmin, &resource(ctx, id, found.role))
        .await?;
    Ok(found)
}

/// Changes to an admin; what is `None` stays as it is.
pub struct AdminUpdate {
    pub name: Option<String>,
    /// Changing it revokes the admin's tokens.
    pub role: Option<Role>,
    /// A technician's companies, replacing those before.
    pub companies: Option<Vec<CompanyId>>,
}

/// Changes an admin. Only owners change owners or make them, and the last
/// owner stays an owner; a role change revokes the admin's tokens.
pub async fn update(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    update: AdminUpdate,
) -> Result<AdminWithCompanies, Error> {
    let (id, found) = load(app, ctx, raw_id).await?;
    let current = found.role;
    let role = update.role.unwrap_or(current);
    ctx.authorize(
        app,
        Action::UpdateAdmin { role },
        &resource(ctx, id, current),
    )
    .await?;
    let companies = match update.companies {
        Some(list) => Some(check_companies(app, ctx, role, list).await?),
        // A technician who becomes something else keeps no companies.
        None if role != Role::Technician => Some(Vec::new()),
        None => None,
    };
    let name = update.name;
    let event = ctx.event("updateAdmin", "admin", id.to_string(), true, Vec::new());
    let now = app.clock.now();
    let again = Decider::new(app, ctx);
    let partner = ctx.partner;
    let keys = app.keys.clone();
    let deciding = again.clone();
    let written = app
        .db
        .write(move |conn| {
            // Owners first, then the admin, always in that order; then
            // decide on the row as it is now, not as it was read.
            let owners = admins::lock_joined_owners(conn, partner)?;
            let Some(locked) = admins::lock(conn, partner, id)? else {
                return Err(Error::NotFound);
            };
            let last_owner = !locked.is_invited() && owners.len() <= 1;
            let was = locked.role;
            if was != current {
                deciding.decide(
                    Action::UpdateAdmin { role },
                    &Resource::Admin {
                        id,
                        partner,
                        role: was,
                    },
                )?;
            }
            let role_changed = role != was;
            if was == Role::Owner && role != Role::Owner && last_owner {
                return Err(Error::Conflict {
                    code: "last_owner",
                    detail: "The last owner cannot be demoted; make another owner first".into(),
                });
            }
            let changes = AdminChanges {
                name,
                role: role_changed.then_some(role),
                updated_at: Some(now),
            };
            admins::update(conn, partner, id, &changes)?;
            if role_changed {
                admins::revoke_tokens(conn, partner, id)?;
            }
            if let Some(companies) = &companies {
                admins::set_companies(conn, partner, id, companies)?;
            }
            let mut event = event;
            event.details = serde_json::json!({ "role": role.as_str(), "role_changed": role_changed, "companies": companies });
            crate::audit::append(conn, &keys, event)?;
            Ok(())
        })
        .await;
    again.audit_denial(app).await?;
    written?;
    Ok(load(app, ctx, raw_id).await?.1)
}

/// Removes an admin: their tokens stop working at once. The last owner
/// cannot be removed.
pub async fn delete(app: &App, ctx: &OpContext, raw_id: &str) -> Result<(), Error> {
    let (id, found) = load(app, ctx, raw_id).await?;
    let read_as = found.role;
    ctx.authorize(app, Action::DeleteAdmin, &resource(ctx, id, read_as))
        .await?;
    let event = ctx.event("deleteAdmin", "admin", id.to_string(), true, Vec::new());
    let now = app.clock.now();
    let again = Decider::new(app, ctx);
    let partner = ctx.partner;
    let keys = app.keys.clone();
    let deciding = again.clone();
    let written = app
        .db
        .write(move |conn| {
            let owners = admins::lock_joined_owners(conn, partner)?;
            let Some(locked) = admins::lock(conn, partner, id)? else {
                return Err(Error::NotFound);
            };
            let role = locked.role;
            if role != read_as {
                deciding.decide(Action::DeleteAdmin, &Resource::Admin { id, partner, role })?;
            }
            if role == Role::Owner && !locked.is_invited() && owners.len() <= 1 {
                return Err(Error::Conflict {
                    code: "last_owner",
                    detail: "The last owner cannot be removed; make another owner first".into(),
                });
            }
            // Removing an admin who has not joined revokes their
            // invitation: its email is withdrawn when not sent yet.
            let invitation = admins::invitation_message(conn, id)?;
            if !admins::delete(conn, partner, id)? {
                return Err(Error::NotFound);
            }
            if let Some(message) = invitation {
                crate::db::outbox::withdraw(
                    conn,
                    &message,
                    "withdrawn: the invited admin was removed",
                    now,
                )?;
            }
            let mut event = event;
            event.details = serde_json::json!({
                "email": locked.email,
                "role": locked.role,
                "invited": locked.is_invited(),
            });
            crate::audit::append(conn, &keys, event)?;
            Ok(())
        })
        .await;
    again.audit_denial(app).await?;
    written
}
