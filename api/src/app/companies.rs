//! A partner's customers. Technicians see and act on their assigned
//! companies only, a company-limited API client on its own; lists hold what
//! the caller may read, each company also decided by the policies.

use super::idempotent::{self, Made};
use super::resets::Idempotency;
use super::{App, Error, OpContext};
use crate::audit;
use crate::authz::{Action, Resource};
use crate::db::companies::{self, Company};
use crate::db::{DbConn, DbError};
use crate::ids::{CompanyId, PartnerId};

/// The company `raw_id` names, of the caller's partner; otherwise not found.
pub async fn find(app: &App, ctx: &OpContext, raw_id: &str) -> Result<Company, Error> {
    let id = CompanyId::parse(raw_id).ok_or(Error::NotFound)?;
    let partner = ctx.partner;
    app.db
        .run(move |conn| companies::find(conn, partner, id))
        .await?
        .ok_or(Error::NotFound)
}

/// The resource a company is, to the authorizer.
pub fn resource(partner: PartnerId, company: &Company) -> Result<Resource, DbError> {
    Ok(Resource::Company {
        id: company.id,
        partner,
    })
}

/// The company `raw_id` names, once the caller may take `action` on it.
pub async fn authorized(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    action: Action,
) -> Result<Company, Error> {
    let company = find(app, ctx, raw_id).await?;
    ctx.authorize(app, action, &resource(ctx.partner, &company)?)
        .await?;
    Ok(company)
}

/// A page of the companies the caller may see, oldest first, after the
/// company `after` (only the one with `external_id` when given); and the
/// cursor of the next page.
pub async fn list(
    app: &App,
    ctx: &OpContext,
    external_id: Option<String>,
    after: Option<CompanyId>,
    limit: Option<u32>,
) -> Result<(Vec<Company>, Option<String>), Error> {
    ctx.authorize(app, Action::ListCompanies, &Resource::Partner(ctx.partner))
        .await?;
    let limit = super::paging::limit(limit)?;
    let partner = ctx.partner;
    let visible = super::visible_within(&ctx.principal, None);
    super::paging::permitted_page(
        app,
        ctx,
        Action::ReadCompany,
        limit,
        move |conn| {
            let external_id = external_id.as_deref();
            companies::list(
                conn,
                partner,
                visible.as_deref(),
                external_id,
                after,
                limit + 1,
            )
        },
        |c| c.id.to_string(),
        move |c| resource(partner, c),
    )
    .await
}

/// A new company named `name` (already checked as a name), with the PSA's
/// `external_id` for it if given (unique in the partner: 409
/// `external_id_taken`); its backup profile starts off. Under the caller's
/// idempotency `key`, a retry answers the first result (`render`ed).
pub async fn create(
    app: &App,
    ctx: &OpContext,
    name: String,
    external_id: Option<String>,
    key: Option<Idempotency>,
    render: impl FnOnce(&Company) -> Vec<u8> + Send + 'static,
) -> Result<Made<Company>, Error> {
    let id = CompanyId::new();
    ctx.authorize(
        app,
        Action::CreateCompany,
        &Resource::Company {
            id,
            partner: ctx.partner,
        },
    )
    .await?;
    let company = Company {
        id,
        partner_id: ctx.partner,
        name,
        created_at: ctx.now,
        updated_at: ctx.now,
        external_id,
    };
    let mut event = ctx.event("createCompany", "company", id.to_string(), true, Vec::new());
    event.details = serde_json::json!({ "name": company.name, "external_id": company.external_id });
    let keys = app.keys.clone();
    let insert = move |conn: &mut DbConn| {
        companies::insert(conn, &company)?;
        audit::append(conn, &keys, event)?;
        Ok(company)
    };
    match idempotent::create(app, ctx, key, insert, render).await {
        // The constraint's name (PostgreSQL) or its columns (SQLite) say
        // which; any other is the storage failure it is.
        Err(Error::Storage(error))
            if error.is_unique_violation() && error.to_string().contains("external_id") =>
        {
            Err(external_id_taken("company", "partner"))
        }
        made => made,
    }
}

/// 409 `external_id_taken`: another `what` of the `scope` has the id.
pub(crate) fn external_id_taken(what: &str, scope: &str) -> Error {
    Error::Conflict {
        code: "external_id_taken",
        detail: format!(
            "Another {what} of the {scope} has this external_id; find it with `?external_id=`"
        ),
    }
}

/// One company the caller may see.
pub async fn get(app: &App, ctx: &OpContext, raw_id: &str) -> Result<Company, Error> {
    authorized(app, ctx, raw_id, Action::ReadCompany).await
}

/// Changes the company's name or external id (nothing to change changes
/// nothing, once authorized); an external id stays unique in the partner
/// (409 `external_id_taken`). Audited.
pub async fn update(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    change: CompanyChange,
) -> Result<Company, Error> {
    let company = authorized(app, ctx, raw_id, Action::UpdateCompany).await?;
    if change.name.is_none() && change.external_id.is_none() {
        return Ok(company);
    }
    let id = company.id;
    let mut event = ctx.event(
        "updateCompany",
        "company",
        company.id.to_string(),
        true,
        Vec::new(),
    );
    // What was sent, and only that: an external id sent as null (removed)
    // is there as null.
    let mut sent = serde_json::Map::new();
    if let Some(name) = &change.name {
        sent.insert("name".into(), name.clone().into());
    }
    if let Some(external_id) = &change.external_id {
        sent.insert("external_id".into(), external_id.clone().into());
    }
    event.details = serde_json::Value::Object(sent);
    let (partner, now) = (ctx.partner, ctx.now);
    let keys = app.keys.clone();
    let changes = companies::CompanyChanges {
        name: change.name,
        external_id: change.external_id,
        updated_at: now,
    };
    let written = app
        .db
        .write(move |conn| {
            if !companies::update(conn, partner, id, &changes)? {
                return Err(Error::NotFound);
            }
            audit::append(conn, &keys, event)?;
            companies::find(conn, partner, id)?.ok_or(Error::NotFound)
        })
        .await;
    match written {
        Err(Error::Storage(error))
            if error.is_unique_violation() && error.to_string().contains("external_id") =>
        {
            Err(external_id_taken("company", "partner"))
        }
        other => other,
    }
}

/// What to change of a company; `None` leaves a value as it is
/// (`external_id: Some(None)` removes the id).
#[derive(Debug, Clone, Default)]
pub struct CompanyChange {
    /// Already checked as a name.
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
}
