//! A company's backup profile: whether company items are backed up (each
//! upload carries a copy encrypted to the company's public key), for how
//! long copies of replaced, deleted or purged items are kept, and the key.
//! A change names the version it was decided on (compare-and-set), so two
//! admins never overwrite each other unseen.

use base64::Engine;

use super::companies::{authorized, find};
use super::{App, Error, OpContext};
use crate::audit;
use crate::authz::Action;
use crate::db::DbError;
use crate::db::backup_profiles::{self, BackupProfile, Settings};
use crate::db::companies::Company;
use crate::db::vault::{self, BackupCopy};
use crate::ids::{CompanyId, PartnerId};

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
    let company = super::stored(&profile.company_id, CompanyId::parse, "company id")?;
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
    profile_of(app, ctx.partner, company.id).await
}

/// The backup profile of a company of `partner`; every company has one, so
/// none is a corrupt store.
pub(super) async fn profile_of(
    app: &App,
    partner: PartnerId,
    company: CompanyId,
) -> Result<BackupProfile, Error> {
    Ok(app
        .db
        .run(move |conn| backup_profiles::find(conn, partner, company))
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("company {company} has no backup profile")))?)
}

/// The backup profile of the company `raw_id` names.
pub async fn profile(app: &App, ctx: &OpContext, raw_id: &str) -> Result<ProfileState, Error> {
    let company = authorized(app, ctx, raw_id, Action::ReadBackupProfile).await?;
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
    pub(crate) fn allows(&self, version: i64) -> Result<bool, Error> {
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
    let company = authorized(app, ctx, raw_id, Action::UpdateBackupProfile).await?;
    if company.retired_at.is_some() {
        return Err(super::companies::company_retired());
    }
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
        company.id.to_string(),
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
    let id = company.id;
    let keys = app.keys.clone();
    let version = current.version;
    let now = ctx.now;
    let applied = settings.clone();
    app.db
        .write(move |conn| {
            // A retirement that committed since the check above wins.
            if crate::db::companies::is_retired_shared(conn, id)? {
                return Err(super::companies::company_retired());
            }
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

/// A page of the company's backup copies, oldest first, for its backup
/// viewer (without their ciphertext), after the copy `after`; and the
/// cursor of the next page.
pub async fn copies(
    app: &App,
    ctx: &OpContext,
    raw_company: &str,
    after: Option<uuid::Uuid>,
    limit: Option<u32>,
) -> Result<(Vec<BackupCopy>, Option<String>), Error> {
    let company = authorized(app, ctx, raw_company, Action::ReadBackupProfile).await?;
    let limit = super::paging::limit(limit)?;
    let after = after.map(|c| c.to_string());
    let mut copies = app
        .db
        .run(move |conn| {
            vault::copies_of_company(conn, &company.id.to_string(), after.as_deref(), limit + 1)
        })
        .await?;
    let next_cursor = super::paging::finish(&mut copies, limit, |c| c.id.to_string());
    Ok((copies, next_cursor))
}

/// One backup copy with its ciphertext, for the company's backup viewer to
/// decrypt with the company's private key. Each read is audited. The
/// company is decided first: a caller who may not read its copies learns
/// nothing of which exist.
pub async fn copy(
    app: &App,
    ctx: &OpContext,
    raw_company: &str,
    raw_copy: &str,
) -> Result<BackupCopy, Error> {
    let company = find(app, ctx, raw_company).await?;
    let copy_id = uuid::Uuid::parse_str(raw_copy)
        .map_err(|_| Error::NotFound)?
        .to_string();
    ctx.authorize(
        app,
        Action::ReadBackupProfile,
        &super::companies::resource(ctx.partner, &company)?,
    )
    .await?;
    let lookup = (company.id.to_string(), copy_id.clone());
    let copy = app
        .db
        .run(move |conn| vault::copy_of_company(conn, &lookup.0, &lookup.1))
        .await?
        .ok_or(Error::NotFound)?;
    let mut event = ctx.event("readBackupCopy", "backup_copy", copy_id, true, Vec::new());
    event.details = serde_json::json!({
        "company_id": company.id,
        "user_id": copy.user_id,
        "item_id": copy.item_id,
        "revision": copy.revision,
    });
    app.audit(event).await?;
    Ok(copy)
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
