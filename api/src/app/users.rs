//! End users: created in a company (an email is unique within it, a company
//! has at most one primary user), listed and located among what the caller
//! may see. Lists hold only users the caller may read: SQL narrows them to
//! the caller's companies, and the policies decide each one found.

use super::idempotent::{self, Made};
use super::resets::Idempotency;
use super::{App, Error, OpContext};
use crate::audit;
use crate::authz::{Action, Resource};
use crate::db::types::{ClientKind, UserStatus};
use crate::db::users::{self, NewUser, User, UserFilter};
use crate::db::{DbConn, DbError};
use crate::ids::{CompanyId, PartnerId, UserId};

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

/// Users whose email starts with `text` when it reads as the start of an
/// email, or whose email or name contains it otherwise (`text` lowercase),
/// among those the caller may see, in `company` when one is named, with
/// `external_id` when one is given.
pub async fn search(
    app: &App,
    ctx: &OpContext,
    text: Option<String>,
    company: Option<CompanyId>,
    external_id: Option<String>,
    after: Option<UserId>,
    limit: Option<u32>,
) -> Result<(Vec<User>, Option<String>), Error> {
    ctx.authorize(app, Action::SearchUsers, &Resource::Partner(ctx.partner))
        .await?;
    let filter = UserFilter {
        companies: super::visible_within(&ctx.principal, company),
        text,
        external_id,
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
}

/// Adds a user to the company `raw_company` names, `invited`. The email is
/// unique in the company (the partner's other companies are never
/// consulted, so the answer reveals nothing outside the caller's reach); a
/// company has at most one primary user. Under the caller's idempotency
/// `key`, a retry answers the first result (`render`ed).
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
    });
    let keys = app.keys.clone();
    let partner = ctx.partner;
    let insert = move |conn: &mut DbConn| {
        if is_primary && users::has_primary(conn, company_id)? {
            return Err(Error::Conflict {
                code: "primary_user_exists",
                detail: "The company already has a primary user".into(),
            });
        }
        users::insert(conn, &row)?;
        audit::append(conn, &keys, event)?;
        users::find(conn, partner, id)?
            .ok_or_else(|| DbError::Corrupt(format!("user {id} vanished after insert")).into())
    };
    match idempotent::create(app, ctx, key, insert, render).await {
        // The constraint's name (PostgreSQL) or its columns (SQLite) say which.
        Err(Error::Storage(error))
            if error.is_unique_violation() && error.to_string().contains("external_id") =>
        {
            Err(super::companies::external_id_taken("user", "company"))
        }
        Err(Error::Storage(error)) if error.is_unique_violation() => Err(Error::Conflict {
            code: "email_taken",
            detail: "Another user of the company already has this email".into(),
        }),
        other => other,
    }
}

/// One user the caller may see. The caller's context and the user are
/// loaded in one trip to the database (a caller who cannot be loaded is
/// refused before a malformed id is answered 404).
pub async fn get(app: &App, token: super::Token, raw_id: &str) -> Result<User, Error> {
    let id = UserId::parse(raw_id);
    let partner = token.partner();
    let (ctx, user) = token
        .run(app, move |conn, _| {
            id.map(|id| users::find(conn, partner, id))
                .transpose()
                .map(Option::flatten)
        })
        .await?;
    let user = user.ok_or(Error::NotFound)?;
    ctx.authorize(app, Action::ReadUser, &user_resource(ctx.partner, &user))
        .await?;
    Ok(user)
}
