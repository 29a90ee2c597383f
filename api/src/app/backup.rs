//! A company's backup profile: whether company items are backed up (each
//! upload carries a copy encrypted to the company's public key), for how
//! long copies of replaced, deleted or purged items are kept, and the key.
//! A change names the version it was decided on (compare-and-set), so two
//! admins never overwrite each other unseen.

use base64::Engine;

use super::{App, Error, OpContext};
use crate::audit;
use crate::authz::{Action, Resource};
use crate::db::DbError;
use crate::db::backup_profiles::{self, BackupProfile, Settings};
use crate::db::companies::{self, Company};
use crate::ids::{CompanyId, PartnerId};

/// The company `raw_id` names, of the caller's partner; otherwise not found.
pub async fn find_company(app: &App, ctx: &OpContext, raw_id: &str) -> Result<Company, Error> {
    let id = CompanyId::parse(raw_id).ok_or(Error::NotFound)?;
    let partner = ctx.partner;
    app.db
        .run(move |conn| companies::find(conn, partner, id))
        .await?
        .ok_or(Error::NotFound)
}

/// The resource a company is, to the authorizer.
pub fn company_resource(partner: PartnerId, company: &Company) -> Result<Resource, DbError> {
    Ok(Resource::Company {
        id: company_id(company)?,
        partner,
    })
}

fn company_id(company: &Company) -> Result<CompanyId, DbError> {
    CompanyId::parse(&company.id)
        .ok_or_else(|| DbError::Corrupt(format!("stored company id {:?}", company.id)))
}

/// A profile as read, with what it covers.
#[derive(Debug, Clone)]
pub struct ProfileState {
    pub profile: BackupProfile,
    /// The company's items in company profiles.
    pub company_items: i64,
    /// Those with a backup copy of their current revision.
    pub company_items_backed_up: i64,
}

async fn state_of(app: &App, profile: BackupProfile) -> Result<ProfileState, Error> {
    let company = CompanyId::parse(&profile.company_id)
        .ok_or_else(|| DbError::Corrupt(format!("stored company id {:?}", profile.company_id)))?;
    let (company_items, company_items_backed_up) = app
        .db
        .run(move |conn| backup_profiles::item_counts(conn, company))
        .await?;
    Ok(ProfileState {
        profile,
        company_items,
        company_items_backed_up,
    })
}

async fn load_profile(
    app: &App,
    ctx: &OpContext,
    company: &Company,
) -> Result<BackupProfile, Error> {
    let partner = ctx.partner;
    let id = company_id(company)?;
    Ok(app
        .db
        .run(move |conn| backup_profiles::find(conn, partner, id))
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("company {id} has no backup profile")))?)
}

/// The backup profile of the company `raw_id` names.
pub async fn profile(app: &App, ctx: &OpContext, raw_id: &str) -> Result<ProfileState, Error> {
    let company = find_company(app, ctx, raw_id).await?;
    ctx.authorize(
        app,
        Action::ReadBackupProfile,
        &company_resource(ctx.partner, &company)?,
    )
    .await?;
    let profile = load_profile(app, ctx, &company).await?;
    state_of(app, profile).await
}

/// Which versions a change was decided on (HTTP's `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// None named: a change must name one.
    Absent,
    /// Whatever the version (`*`).
    Any,
    /// One of these versions (none, when every tag sent was unusable).
    Versions(Vec<i64>),
}

impl Precondition {
    fn allows(&self, version: i64) -> Result<bool, Error> {
        match self {
            Self::Absent => Err(Error::PreconditionRequired),
            Self::Any => Ok(true),
            Self::Versions(versions) => Ok(versions.contains(&version)),
        }
    }
}

/// The settings a change sets, as sent (the key decoded).
#[derive(Debug, Clone)]
pub struct ProfileChange {
    pub backup_all_company_items: bool,
    /// Days, within what the contract allows (checked with the body).
    pub retention_days: i32,
    /// An X25519 public key: 32 bytes.
    pub backup_public_key: Option<Vec<u8>>,
}

/// Replaces the settings of the company's profile, if it is still at a
/// version `precondition` names. A key is required while backing up, and no
/// real key is the all-zero point. Turning backups off keeps existing
/// copies: they age out by retention.
pub async fn update_profile(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    change: ProfileChange,
    precondition: Precondition,
) -> Result<ProfileState, Error> {
    let company = find_company(app, ctx, raw_id).await?;
    ctx.authorize(
        app,
        Action::UpdateBackupProfile,
        &company_resource(ctx.partner, &company)?,
    )
    .await?;
    // The change is checked before the precondition (RFC 9110 §13.2.1: a
    // request that would fail without its precondition fails that way).
    if change
        .backup_public_key
        .as_deref()
        .is_some_and(|key| key.iter().all(|b| *b == 0))
    {
        return Err(Error::invalid(
            "backup_public_key",
            "is the all-zero point, which no real key is",
        ));
    }
    let key = change
        .backup_public_key
        .map(|key| base64::engine::general_purpose::STANDARD.encode(key));
    if change.backup_all_company_items && key.is_none() {
        return Err(Error::invalid(
            "backup_public_key",
            "is required while backup_all_company_items is on",
        ));
    }
    let current = load_profile(app, ctx, &company).await?;
    if !precondition.allows(current.version)? {
        return Err(Error::PreconditionFailed);
    }
    let settings = Settings {
        backup_all_company_items: change.backup_all_company_items,
        retention_days: change.retention_days,
        backup_public_key: key,
    };
    let mut event = ctx.event(
        "updateBackupProfile",
        "company",
        company.id.clone(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({
        "backup_all_company_items": settings.backup_all_company_items,
        "retention_days": settings.retention_days,
        "backup_public_key": settings.backup_public_key,
        "version": current.version + 1,
    });
    let partner = ctx.partner;
    let id = company_id(&company)?;
    let keys = app.keys.clone();
    let version = current.version;
    let now = ctx.now;
    let applied = settings.clone();
    app.db
        .write(move |conn| {
            // Compare-and-set: a change made since this one read the
            // profile refuses this one, never a lost update.
            match backup_profiles::update_if_version(conn, partner, id, version, &applied, now)? {
                Some(_) => {
                    audit::append(conn, &keys, event)?;
                    Ok(())
                }
                None => Err(Error::PreconditionFailed),
            }
        })
        .await?;
    // What this change wrote, not a re-read (which might show a later one).
    let written = BackupProfile {
        backup_all_company_items: settings.backup_all_company_items,
        retention_days: settings.retention_days,
        backup_public_key: settings.backup_public_key,
        version: current.version + 1,
        updated_at: now,
        ..current
    };
    state_of(app, written).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_names_the_version_it_was_decided_on() {
        assert!(matches!(
            Precondition::Absent.allows(3),
            Err(Error::PreconditionRequired)
        ));
        assert!(Precondition::Any.allows(3).unwrap());
        assert!(Precondition::Versions(vec![2, 3]).allows(3).unwrap());
        assert!(!Precondition::Versions(vec![2]).allows(3).unwrap());
        assert!(!Precondition::Versions(Vec::new()).allows(3).unwrap());
    }
}
