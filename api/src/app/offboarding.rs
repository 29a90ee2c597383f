//! Offboarding: a user leaves their company. Their vault is purged under
//! the reset's rules (Cedar `purgeVault` with the counts of this moment:
//! company items without a backup copy are lost only when the caller
//! acknowledges it; the backup copies stay, their retention clock started),
//! the unsent emails that carry their secrets are withdrawn, and the user
//! is removed, with their resets, in one transaction. The audit log keeps
//! the trail: the offboarding event names the user and what went.

use chrono::Duration;

use super::resets::{Refusal, find_user, purge_denied};
use super::users::user_resource;
use super::{App, Error, OpContext};
use crate::audit;
use crate::authz::Action;
use crate::db::resets::{self, VaultSummary};
use crate::db::users::User;
use crate::db::{DbConn, backup_profiles, outbox, users};

/// What offboarding the user would purge and keep, changing nothing.
#[derive(Debug, Clone)]
pub struct Preview {
    pub user: User,
    pub vault: VaultSummary,
}

/// What offboarding a user purged and kept.
#[derive(Debug, Clone)]
pub struct Offboarded {
    pub user: User,
    pub vault: VaultSummary,
}

/// What offboarding the user `raw_id` names would do. Needs the right to
/// offboard them.
pub async fn preview(app: &App, ctx: &OpContext, raw_id: &str) -> Result<Preview, Error> {
    let user = find_user(app, ctx, raw_id).await?;
    ctx.authorize(
        app,
        Action::OffboardUser,
        &user_resource(ctx.partner, &user),
    )
    .await?;
    let id = user.id;
    let vault = app.db.run(move |conn| resets::summarize(conn, id)).await?;
    Ok(Preview { user, vault })
}

/// Offboards the user `raw_id` names, in one transaction: purges the vault
/// as a reset does (`acknowledge_company_data_loss` when company items are
/// not backed up: 409 with the counts otherwise), withdraws the unsent
/// emails of their pending resets and invitation, and removes the user and
/// their resets. Audited with the counts.
pub async fn offboard(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    acknowledge_company_data_loss: bool,
) -> Result<Offboarded, Error> {
    let user = find_user(app, ctx, raw_id).await?;
    ctx.authorize(
        app,
        Action::OffboardUser,
        &user_resource(ctx.partner, &user),
    )
    .await?;
    let (app_in, ctx_in) = (app.clone(), ctx.clone());
    let (partner, id) = (ctx.partner, user.id);
    let result = app
        .db
        .write(move |conn| {
            let (app, ctx) = (app_in, ctx_in);
            if resets::lock_user(conn, partner, id)?.is_none() {
                return Err(Error::NotFound.into());
            }
            let user = users::find(conn, partner, id)?.ok_or(Error::NotFound)?;
            let vault = resets::summarize(conn, id)?;
            offboard_locked(conn, &app, &ctx, user, vault, acknowledge_company_data_loss)
        })
        .await;
    match result {
        Ok(offboarded) => Ok(offboarded),
        Err(Refusal::Refused(error)) => Err(error),
        Err(Refusal::PurgeDenied { vault, policy_ids }) => {
            Err(purge_denied(app, ctx, id, vault, policy_ids).await?)
        }
    }
}

/// Offboards `user`, whose row the transaction holds and whose vault holds
/// `vault`, once `purgeVault` allows it on those counts: purges the vault
/// (backup copies kept, their retention clock started), withdraws the
/// unsent emails of the user's pending resets and invitation, removes the
/// user, and audits it. Offboarding itself was authorized before.
pub(super) fn offboard_locked(
    conn: &mut DbConn,
    app: &App,
    ctx: &OpContext,
    user: User,
    vault: VaultSummary,
    acknowledge_company_data_loss: bool,
) -> Result<Offboarded, Refusal> {
    let (partner, id, now) = (ctx.partner, user.id, ctx.now);
    let decision = app.authz.decide(
        &ctx.principal,
        &Action::PurgeVault {
            company_items_not_backed_up: vault.company_items_not_backed_up(),
            acknowledge_company_data_loss,
        },
        &user_resource(partner, &user),
    );
    if !decision.allowed {
        return Err(Refusal::PurgeDenied {
            vault,
            policy_ids: decision.policy_ids,
        });
    }
    let retention_days = backup_profiles::find(conn, partner, user.company_id)?
        .map_or(30, |profile| i64::from(profile.retention_days));
    let purged = resets::purge(conn, id, vault, now, now + Duration::days(retention_days))?;
    let mut unsent = resets::unsent_messages(conn, id)?;
    unsent.extend(users::invitation_message(conn, id)?);
    let mut withdrawn = 0;
    for message in &unsent {
        if outbox::withdraw(conn, message, "withdrawn: the user was offboarded", now)? {
            withdrawn += 1;
        }
    }
    users::delete(conn, id)?;
    let mut event = ctx.event(
        Action::OffboardUser.name(),
        "user",
        id.to_string(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({
        "company_id": user.company_id,
        "email": user.email,
        "external_id": user.external_id,
        "personal_items_purged": purged.personal_items,
        "company_items_purged": purged.company_items_not_backed_up(),
        "company_items_preserved": purged.company_items_backed_up,
        "acknowledged_company_data_loss": acknowledge_company_data_loss,
        "emails_withdrawn": withdrawn,
    });
    audit::append(conn, &app.keys, event)?;
    Ok(Offboarded {
        user,
        vault: purged,
    })
}
