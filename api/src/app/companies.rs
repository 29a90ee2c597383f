//! A partner's customers. Technicians see and act on their assigned
//! companies only, a company-limited API client on its own; lists hold what
//! the caller may read, each company also decided by the policies.

use chrono::Duration;

use super::context::Decider;
use super::idempotent::{self, Made};
use super::offboarding::offboard_locked;
use super::resets::{Idempotency, Refusal, purge_denied};
use super::users::user_resource;
use super::{App, Error, OpContext};
use crate::audit;
use crate::authz::{Action, Resource};
use crate::db::companies::{self, Company};
use crate::db::resets::{self, VaultSummary};
use crate::db::{DbConn, DbError, Storage, StorageFailure, backup_profiles, users, vault};
use crate::ids::{CompanyId, PartnerId, UserId};

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
/// company `after`: the retired ones when `retired`, the others otherwise
/// (only the one with `external_id` when given); and the cursor of the
/// next page.
pub async fn list(
    app: &App,
    ctx: &OpContext,
    retired: bool,
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
                retired,
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
        retired_at: None,
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
    if company.retired_at.is_some() {
        return Err(company_retired());
    }
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
            // Under the row's lock: a retirement that came meanwhile wins.
            let current = companies::lock(conn, partner, id)?.ok_or(Error::NotFound)?;
            if current.retired_at.is_some() {
                return Err(company_retired());
            }
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

/// 409 `company_retired`: a retired company takes no more users or changes.
pub(crate) fn company_retired() -> Error {
    Error::Conflict {
        code: "company_retired",
        detail: "The company is retired: it takes no more users or changes, and goes once the \
                 last backup copy of its items expires"
            .into(),
    }
}

/// What retiring a company did: the company, retired, and what offboarding
/// its users purged and kept, in total.
#[derive(Debug, Clone)]
pub struct Retired {
    pub company: Company,
    pub users_offboarded: usize,
    pub vault: VaultSummary,
}

/// Why a retirement stopped; its transaction rolled back.
enum Stop {
    Refused(Error),
    /// Offboarding a user was denied; its event is the decider's.
    Denied(Error),
    /// Company items of its users are not backed up, in total this much,
    /// and the request did not acknowledge their loss.
    NotBackedUp {
        vault: VaultSummary,
        policy_ids: Vec<String>,
    },
    /// `purgeVault` denied a user's purge for another reason.
    PurgeDenied {
        user: UserId,
        vault: VaultSummary,
        policy_ids: Vec<String>,
    },
}

impl From<DbError> for Stop {
    fn from(error: DbError) -> Self {
        Self::Refused(Error::Storage(error))
    }
}

impl From<Error> for Stop {
    fn from(error: Error) -> Self {
        Self::Refused(error)
    }
}

impl StorageFailure for Stop {
    fn storage(&self) -> Option<Storage> {
        match self {
            Self::Refused(error) => error.storage(),
            _ => None,
        }
    }
}

/// Retires the company `raw_id` names. While it has users this is 409
/// `company_has_users`, unless `offboard_users`: then each is offboarded as
/// `DELETE /v1/users/{user_id}` would (each decided by `offboardUser` and
/// `purgeVault`; company items without a backup lost only when
/// `acknowledge_company_data_loss`, 409 with the totals otherwise), all in
/// one transaction with the retirement: every user goes, or none. The
/// company's backup copies start their retention clock and stay readable
/// until it ends; the retention sweep then removes the company. Retiring a
/// retired company changes nothing. Audited with the totals.
pub async fn retire(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    offboard_users: bool,
    acknowledge_company_data_loss: bool,
) -> Result<Retired, Error> {
    let company = authorized(app, ctx, raw_id, Action::RetireCompany).await?;
    if company.retired_at.is_some() {
        return Ok(Retired {
            company,
            users_offboarded: 0,
            vault: VaultSummary::default(),
        });
    }
    let decider = Decider::new(app, ctx);
    let (app_in, ctx_in, decider_in) = (app.clone(), ctx.clone(), decider.clone());
    let (partner, id, now) = (ctx.partner, company.id, ctx.now);
    let written = app
        .db
        .write(move |conn| {
            let (app, ctx, decider) = (app_in, ctx_in, decider_in);
            let company = companies::lock(conn, partner, id)?.ok_or(Error::NotFound)?;
            if company.retired_at.is_some() {
                return Ok(Retired {
                    company,
                    users_offboarded: 0,
                    vault: VaultSummary::default(),
                });
            }
            let members = users::of_company(conn, id)?;
            if !members.is_empty() && !offboard_users {
                return Err(Stop::Refused(Error::Conflict {
                    code: "company_has_users",
                    detail: format!(
                        "The company has {} user(s): offboard them first, or retire it with \
                         `offboard_users=true` to offboard them all",
                        members.len()
                    ),
                }));
            }
            let ids: Vec<UserId> = members.iter().map(|u| u.id).collect();
            resets::lock_users(conn, &ids)?;
            // Every user's offboarding allowed, and what their vaults hold,
            // before anything is purged.
            let mut total = VaultSummary::default();
            let mut vaults = Vec::with_capacity(members.len());
            for user in &members {
                decider
                    .decide(Action::OffboardUser, &user_resource(partner, user))
                    .map_err(Stop::Denied)?;
                let vault = resets::summarize(conn, user.id)?;
                total += vault;
                vaults.push(vault);
            }
            let mut purged = VaultSummary::default();
            for (user, vault) in members.into_iter().zip(vaults) {
                let user_id = user.id;
                let offboarded =
                    offboard_locked(conn, &app, &ctx, user, vault, acknowledge_company_data_loss)
                        .map_err(|refusal| match refusal {
                        Refusal::Refused(error) => Stop::Refused(error),
                        Refusal::PurgeDenied { vault, policy_ids } => {
                            if policy_ids
                                .iter()
                                .any(|p| p == "purge-needs-backups-or-acknowledgement")
                            {
                                Stop::NotBackedUp {
                                    vault: total,
                                    policy_ids,
                                }
                            } else {
                                Stop::PurgeDenied {
                                    user: user_id,
                                    vault,
                                    policy_ids,
                                }
                            }
                        }
                    })?;
                purged += offboarded.vault;
            }
            let retention_days = backup_profiles::find(conn, partner, id)?
                .map_or(companies::DEFAULT_RETENTION_DAYS, |profile| {
                    profile.retention_days
                });
            vault::start_retention_of_company(
                conn,
                id,
                now + Duration::days(i64::from(retention_days)),
            )?;
            let copies = vault::count_copies_of_company(conn, id)?;
            companies::retire(conn, id, now)?;
            let mut event = ctx.event(
                Action::RetireCompany.name(),
                "company",
                id.to_string(),
                true,
                Vec::new(),
            );
            event.details = serde_json::json!({
                "name": company.name,
                "external_id": company.external_id,
                "users_offboarded": ids.len(),
                "personal_items_purged": purged.personal_items,
                "company_items_purged": purged.company_items_not_backed_up(),
                "company_items_preserved": purged.company_items_backed_up,
                "acknowledged_company_data_loss": acknowledge_company_data_loss,
                "backup_copies_retained": copies,
            });
            audit::append(conn, &app.keys, event)?;
            let company = companies::find(conn, partner, id)?.ok_or(Error::NotFound)?;
            Ok(Retired {
                company,
                users_offboarded: ids.len(),
                vault: purged,
            })
        })
        .await;
    match written {
        Ok(retired) => Ok(retired),
        Err(Stop::Refused(error)) => Err(error),
        Err(Stop::Denied(error)) => {
            decider.audit_denial(app).await?;
            Err(error)
        }
        Err(Stop::NotBackedUp { vault, policy_ids }) => {
            let mut event = ctx.event("purgeVault", "company", id.to_string(), false, policy_ids);
            event.details = serde_json::json!({
                "company_items": vault.company_items,
                "company_items_not_backed_up": vault.company_items_not_backed_up(),
            });
            app.audit(event).await?;
            Err(Error::CompanyItemsNotBackedUp { vault })
        }
        Err(Stop::PurgeDenied {
            user,
            vault,
            policy_ids,
        }) => Err(purge_denied(app, ctx, user, vault, policy_ids).await?),
    }
}
