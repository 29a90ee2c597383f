//! The caller's own partner (the MSP) and its settings: its name, whether
//! desktop users get links too, how long a reset's secret lives and how
//! long an invitation does.

use super::{App, Error, OpContext};
use crate::audit;
use crate::authz::{Action, Resource};
use crate::db::DbError;
use crate::db::partners::{self, Partner, PartnerChanges};

/// A temporary secret's lifetime, in seconds: 5 minutes to 30 days.
pub const SECRET_TTL_SECONDS: (i64, i64) = (300, 2_592_000);

/// An invitation's lifetime, in seconds: 1 hour to 30 days.
pub const INVITATION_TTL_SECONDS: (i64, i64) = (3_600, 2_592_000);

/// The caller's partner.
pub async fn get(app: &App, ctx: &OpContext) -> Result<Partner, Error> {
    ctx.authorize(app, Action::ReadPartner, &Resource::Partner(ctx.partner))
        .await?;
    let id = ctx.partner;
    app.db
        .run(move |conn| partners::find(conn, id))
        .await?
        .ok_or(Error::NotFound)
}

/// The settings to change; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct PartnerUpdate {
    /// Already checked as a name.
    pub name: Option<String>,
    pub links_for_everyone: Option<bool>,
    pub temporary_secret_ttl_seconds: Option<i64>,
    pub invitation_ttl_seconds: Option<i64>,
}

/// Changes the caller's partner's settings; audited.
pub async fn update(app: &App, ctx: &OpContext, update: PartnerUpdate) -> Result<Partner, Error> {
    ctx.authorize(app, Action::UpdatePartner, &Resource::Partner(ctx.partner))
        .await?;
    for (field, value, (min, max)) in [
        (
            "temporary_secret_ttl_seconds",
            update.temporary_secret_ttl_seconds,
            SECRET_TTL_SECONDS,
        ),
        (
            "invitation_ttl_seconds",
            update.invitation_ttl_seconds,
            INVITATION_TTL_SECONDS,
        ),
    ] {
        if value.is_some_and(|ttl| !(min..=max).contains(&ttl)) {
            return Err(Error::invalid(
                field,
                format!("must be from {min} to {max}"),
            ));
        }
    }
    let changes = PartnerChanges {
        name: update.name,
        links_for_everyone: update.links_for_everyone,
        temporary_secret_ttl_seconds: update.temporary_secret_ttl_seconds,
        invitation_ttl_seconds: update.invitation_ttl_seconds,
        updated_at: Some(ctx.now),
    };
    let id = ctx.partner;
    let mut event = ctx.event(
        Action::UpdatePartner.name(),
        "partner",
        id.to_string(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({
        "name": changes.name,
        "links_for_everyone": changes.links_for_everyone,
        "temporary_secret_ttl_seconds": changes.temporary_secret_ttl_seconds,
        "invitation_ttl_seconds": changes.invitation_ttl_seconds,
    });
    let keys = app.keys.clone();
    app.db
        .write(move |conn| {
            let partner = partners::update(conn, id, &changes)?;
            audit::append(conn, &keys, event)?;
            Ok::<_, DbError>(partner)
        })
        .await?
        .ok_or(Error::NotFound)
}
