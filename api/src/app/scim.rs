//! SCIM 2.0 provisioning, per company: a company's directory (Entra ID,
//! Okta, JumpCloud) creates, reads, changes, disables and removes the
//! company's users with a bearer token an admin made for it.
//!
//! The token is drawn from the CSPRNG, given back once by [`create_token`],
//! and kept only as its keyed hash; a request finds its token by that hash
//! ([`authenticate`]), so a token of a suspended partner, of a retired
//! company, or one removed is refused at once, all alike. The token acts
//! as the principal `ScimToken`, in its company only (`policies/scim.cedar`),
//! and every operation here is the API's own: a SCIM user is created and
//! invited by [`super::users::create`], changed and disabled as an admin
//! would, removed by [`super::offboarding::offboard`] (never acknowledging
//! the loss of company items), and never reset.

use secrecy::{ExposeSecret, SecretString};

use super::idempotent::{self, Made};
use super::resets::Idempotency;
use super::users::{self as app_users, Change, UserUpdate, user_resource};
use super::{Actor, App, Error, OpContext};
use crate::audit;
use crate::auth::{SCIM_TOKEN, new_scim_token};
use crate::authz::{Action, Principal, Resource};
use crate::db::scim_tokens::{self, ScimToken};
use crate::db::types::ClientKind;
use crate::db::users::{self, DirectoryQuery, User};
use crate::db::{DbError, companies};
use crate::ids::{CompanyId, ScimTokenId};

/// The company `raw_company` names, once the caller may take `action` on
/// its SCIM tokens.
async fn company(
    app: &App,
    ctx: &OpContext,
    raw_company: &str,
    action: Action,
) -> Result<CompanyId, Error> {
    Ok(super::companies::authorized(app, ctx, raw_company, action)
        .await?
        .id)
}

/// A page of the company's SCIM tokens, oldest first, after `after`; and
/// the cursor of the next page.
pub async fn list_tokens(
    app: &App,
    ctx: &OpContext,
    raw_company: &str,
    after: Option<ScimTokenId>,
    limit: Option<u32>,
) -> Result<(Vec<ScimToken>, Option<String>), Error> {
    let company = company(app, ctx, raw_company, Action::ListScimTokens).await?;
    let limit = super::paging::limit(limit)?;
    let mut tokens = app
        .db
        .run(move |conn| scim_tokens::list(conn, company, after, limit + 1))
        .await?;
    let next_cursor = super::paging::finish(&mut tokens, limit, |t| t.id.to_string());
    Ok((tokens, next_cursor))
}

/// A new SCIM token, as asked (the name already checked).
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    /// The client the users the directory creates run.
    pub client_kind: ClientKind,
}

/// A new SCIM token and its secret, which exists nowhere else.
pub type Created = (ScimToken, SecretString);

/// Makes a SCIM token for the company `raw_company` names: the stored
/// token and its secret, never given again. 409 `company_retired` for a
/// retired company. Under the caller's idempotency `key`, a retry answers
/// the first result (`render`ed, sealed).
pub async fn create_token(
    app: &App,
    ctx: &OpContext,
    raw_company: &str,
    new: NewToken,
    key: Option<Idempotency>,
    render: impl FnOnce(&Created) -> Vec<u8> + Send + 'static,
) -> Result<Made<Created>, Error> {
    let company = company(app, ctx, raw_company, Action::CreateScimToken).await?;
    let secret = new_scim_token();
    let id = ScimTokenId::new();
    let token = ScimToken {
        id,
        partner_id: ctx.partner,
        company_id: company,
        name: new.name,
        token_hash: app
            .keys
            .keyed_hash(SCIM_TOKEN, secret.expose_secret().as_bytes()),
        client_kind: new.client_kind,
        created_by_admin_id: match &ctx.actor {
            Actor::Admin(admin) => Some(admin.id),
            Actor::ApiClient(_) | Actor::ScimToken(_) => None,
        },
        created_at: ctx.now,
        last_used_at: None,
    };
    let mut event = ctx.event(
        Action::CreateScimToken.name(),
        "scim_token",
        id.to_string(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({
        "company_id": company,
        "name": token.name,
        "client_kind": token.client_kind.to_string(),
    });
    let keys = app.keys.clone();
    let insert = move |conn: &mut crate::db::DbConn| {
        // Waits on a retirement under way, and reads what it committed.
        if companies::is_retired_shared(conn, company)? {
            return Err(super::companies::company_retired());
        }
        scim_tokens::insert(conn, &token)?;
        audit::append(conn, &keys, event)?;
        Ok((token, secret))
    };
    idempotent::create(app, ctx, key, insert, render).await
}

/// Removes the token `raw_token` names from the company `raw_company`
/// names; it is refused at once.
pub async fn delete_token(
    app: &App,
    ctx: &OpContext,
    raw_company: &str,
    raw_token: &str,
) -> Result<(), Error> {
    let company = company(app, ctx, raw_company, Action::DeleteScimToken).await?;
    let id = ScimTokenId::parse(raw_token).ok_or(Error::NotFound)?;
    let token = app
        .db
        .run(move |conn| scim_tokens::find(conn, company, id))
        .await?
        .ok_or(Error::NotFound)?;
    let mut event = ctx.event(
        Action::DeleteScimToken.name(),
        "scim_token",
        id.to_string(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({ "company_id": company, "name": token.name });
    let keys = app.keys.clone();
    app.db
        .write(move |conn| {
            if !scim_tokens::delete(conn, company, id)? {
                return Err(Error::NotFound);
            }
            audit::append(conn, &keys, event)?;
            Ok(())
        })
        .await
}

/// The context of a SCIM request: the token `secret` names, in its
/// company. One answer (401) for a token unknown, removed, of a suspended
/// partner or of a retired company; `reason` is logged.
pub async fn authenticate(
    app: &App,
    secret: &str,
    request_id: Option<String>,
) -> Result<OpContext, Error> {
    let now = app.clock.now();
    let hash = app.keys.keyed_hash(SCIM_TOKEN, secret.as_bytes());
    let token = app
        .db
        .run(move |conn| scim_tokens::find_by_hash(conn, &hash))
        .await?
        .ok_or_else(|| {
            Error::unauthorized(
                "no such SCIM token (or its partner is suspended, or its company retired)",
            )
        })?;
    // At most once a minute, so a directory's reads stay reads; through the
    // writers' turn, and never failing the request it records.
    if token
        .last_used_at
        .is_none_or(|at| at < now - chrono::Duration::minutes(1))
    {
        let id = token.id;
        if let Err(error) = app
            .db
            .write(move |conn| scim_tokens::touch(conn, id, now))
            .await
        {
            tracing::warn!(%error, "could not record the SCIM token's use");
        }
    }
    tracing::Span::current().record("principal", tracing::field::display(token.id));
    Ok(OpContext {
        principal: Principal::ScimToken {
            id: token.id,
            company: token.company_id,
            partner: token.partner_id,
        },
        partner: token.partner_id,
        actor: Actor::ScimToken(token),
        request_id,
        now,
    })
}

/// The token behind a SCIM request's context.
fn token_of(ctx: &OpContext) -> Result<&ScimToken, Error> {
    match &ctx.actor {
        Actor::ScimToken(token) => Ok(token),
        _ => Err(Error::unauthorized("not a SCIM token")),
    }
}

/// What a directory looks for (a SCIM filter, read), in the token's
/// company.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// `userName eq "…"`: the user's email, in its stored form.
    pub email: Option<String>,
    /// `externalId eq "…"`.
    pub external_id: Option<String>,
}

/// A SCIM page: how many users match, and those from the 1-based
/// `start_index`, at most `count`.
pub async fn list_users(
    app: &App,
    ctx: &OpContext,
    lookup: Lookup,
    start_index: i64,
    count: i64,
) -> Result<(i64, Vec<User>), Error> {
    let company = token_of(ctx)?.company_id;
    ctx.authorize(
        app,
        Action::ListUsers,
        &Resource::Company {
            id: company,
            partner: ctx.partner,
        },
    )
    .await?;
    let query = DirectoryQuery {
        company,
        email: lookup.email,
        external_id: lookup.external_id,
        offset: start_index.saturating_sub(1).max(0),
        limit: count,
    };
    Ok(app
        .db
        .run(move |conn| users::directory_page(conn, &query))
        .await?)
}

/// A user the directory provisions, as sent (each value checked).
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub email: String,
    pub name: String,
    pub locale: String,
    pub external_id: Option<String>,
    /// `false`: created disabled, in the same transaction.
    pub active: bool,
}

/// Creates and invites a user in the token's company, exactly as the API
/// does (the client the token names); disabled at once when the directory
/// says the user is not active.
pub async fn create_user(app: &App, ctx: &OpContext, new: Provisioned) -> Result<User, Error> {
    let token = token_of(ctx)?;
    let command = app_users::NewUserCommand {
        email: new.email,
        name: new.name,
        client_kind: token.client_kind,
        locale: new.locale,
        is_primary: false,
        external_id: new.external_id,
        disabled: !new.active,
    };
    let company = token.company_id.to_string();
    match app_users::create(app, ctx, &company, command, None, |_| Vec::new()).await? {
        Made::New(user) => Ok(user),
        Made::Replayed(_) => Err(DbError::Corrupt("a replay without a key".into()).into()),
    }
}

/// Changes a user of the token's company and sets whether they are
/// active, in one transaction: the change authorized as `updateUser`, the
/// status as `disableUser` or `enableUser`, each only when it is asked.
pub async fn change_user(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    update: UserUpdate,
    active: Option<bool>,
    precondition: super::backup::Precondition,
) -> Result<User, Error> {
    let (ctx, user) = app_users::load(app, ctx.clone(), raw_id).await?;
    let resource = user_resource(ctx.partner, &user);
    // Reading comes first: a user outside the company is absent, whatever
    // was asked.
    ctx.authorize(app, Action::ReadUser, &resource).await?;
    let changes = update.name.is_some()
        || update.locale.is_some()
        || update.client_kind.is_some()
        || update.is_primary.is_some()
        || update.external_id.is_some();
    if changes {
        ctx.authorize(app, Action::UpdateUser, &resource).await?;
    }
    let enabled = active.map(app_users::enabled_action);
    if let Some(action) = &enabled {
        ctx.authorize(app, action.clone(), &resource).await?;
    }
    if !precondition.allows(user.version)? {
        return Err(Error::PreconditionFailed);
    }
    if !changes && active.is_none() {
        // Nothing to write: the user as they are.
        return Ok(user);
    }
    let change = changes.then(|| Change::new(&ctx, user.id, update));
    let status_event = enabled
        .map(|action| ctx.event(action.name(), "user", user.id.to_string(), true, Vec::new()));
    let keys = app.keys.clone();
    let (partner, id, now) = (ctx.partner, user.id, ctx.now);
    let written = app
        .db
        .write(move |conn| {
            // Held from here, so the version checked is the one changed.
            if crate::db::resets::lock_user(conn, partner, id)?.is_none() {
                return Err(Error::NotFound);
            }
            let mut current = users::find(conn, partner, id)?.ok_or(Error::NotFound)?;
            if let Some(change) = change {
                current = change.apply(conn, &keys, partner, id, &precondition, now)?;
            } else if !precondition.allows(current.version)? {
                return Err(Error::PreconditionFailed);
            }
            if let (Some(event), Some(active)) = (status_event, active) {
                current =
                    app_users::set_enabled_locked(conn, &keys, event, partner, id, active, now)?;
            }
            Ok(current)
        })
        .await;
    match written {
        Err(Error::Storage(error)) if error.is_unique_violation() => Err(app_users::taken(&error)),
        other => other,
    }
}

/// Removes a user of the token's company: offboarded as `DELETE
/// /v1/users/{id}` does, never acknowledging the loss of company items
/// (409 `company_items_not_backed_up` when some are not backed up).
pub async fn delete_user(app: &App, ctx: &OpContext, raw_id: &str) -> Result<(), Error> {
    super::offboarding::offboard(app, ctx, raw_id, false)
        .await
        .map(drop)
}
