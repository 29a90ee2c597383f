//! The end user's vault: items are ciphertext the server cannot read, kept
//! by revision; a company item carries its backup copy while the company's
//! backup profile is on, and copies of replaced or deleted revisions are
//! kept for the profile's retention.

use chrono::Duration;

use super::{AccountContext, App, Error};
use crate::db::vault::{self, BackupCopy, VaultItem, Written};
use crate::db::{DbError, backup_profiles};
use crate::ids::BackupCopyId;

pub use crate::db::types::Profile;

/// Item ids are the client's: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
pub fn check_item_id(raw: &str) -> Result<String, Error> {
    let ok = (1..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Error::invalid(
            "item_id",
            "must be 1 to 128 characters of A-Z a-z 0-9 . _ : -",
        ))
    }
}

/// Another writer's revision came in between (or the item is gone).
fn stale(current: i64) -> Error {
    Error::Conflict {
        code: "stale_revision",
        detail: if current == 0 {
            "The item does not exist (send replaces_revision 0 to create it)".into()
        } else {
            format!("The item is at revision {current}; read it again and reapply your change")
        },
    }
}

/// A page of the user's own items, by item id, after the item `cursor`
/// names; and the cursor of the next page.
pub async fn list(
    app: &App,
    ctx: &AccountContext,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<(Vec<VaultItem>, Option<String>), Error> {
    ctx.authorize(app)?;
    let limit = super::paging::limit(limit)?;
    let after = cursor
        .map(|cursor| {
            check_item_id(cursor).map_err(|_| {
                Error::invalid("cursor", "must be an item id, as next_cursor gives it")
            })
        })
        .transpose()?;
    let user = ctx.user;
    let mut items = app
        .db
        .run(move |conn| vault::list(conn, user, after.as_deref(), limit + 1))
        .await?;
    let next_cursor = super::paging::finish(&mut items, limit, |i| i.item_id.clone());
    Ok((items, next_cursor))
}

/// A new revision of an item, as the client sent it (decoded).
#[derive(Debug, Clone)]
pub struct ItemWrite {
    pub profile: Profile,
    /// The revision this one replaces: 0 for a new item.
    pub replaces_revision: i64,
    pub ciphertext: Vec<u8>,
    /// The item encrypted to the company's backup public key.
    pub backup_copy: Option<Vec<u8>>,
}

/// What a write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemWritten {
    pub item_id: String,
    pub profile: Profile,
    pub revision: i64,
    /// A backup copy of this revision is stored.
    pub backed_up: bool,
}

/// Creates an item (`replaces_revision` 0) or stores its next revision. A
/// company item carries its backup copy while the company's backup profile
/// is on (refused without it; not kept otherwise); copies of earlier
/// revisions start their retention clock.
pub async fn put(
    app: &App,
    ctx: &AccountContext,
    raw_item_id: &str,
    write: ItemWrite,
) -> Result<ItemWritten, Error> {
    ctx.authorize(app)?;
    let item = check_item_id(raw_item_id)?;
    let (partner, company, user) = (ctx.partner, ctx.company, ctx.user);
    let profile = super::backup::profile_of(app, partner, company).await?;
    let backing_up = write.profile == Profile::Company && profile.backup_all_company_items;
    if backing_up && write.backup_copy.is_none() {
        return Err(Error::invalid(
            "backup_copy",
            "is required: the company backs up its items (encrypt the item to its backup_public_key)",
        ));
    }
    let copy = write.backup_copy.filter(|_| backing_up);
    let backed_up = copy.is_some();
    let now = ctx.now;
    let expires_at = now + Duration::days(i64::from(profile.retention_days));
    let ItemWrite {
        profile: kind,
        replaces_revision,
        ciphertext,
        ..
    } = write;
    let item_id = item.clone();
    let written = app
        .db
        .write(move |conn| {
            let written = vault::put(
                conn,
                user,
                &item_id,
                kind,
                replaces_revision,
                &ciphertext,
                now,
            )?;
            let Written::At(revision) = written else {
                return Ok::<_, DbError>(written);
            };
            if let Some(copy) = copy {
                vault::insert_copy(
                    conn,
                    &BackupCopy {
                        id: BackupCopyId::new(),
                        partner_id: partner,
                        company_id: company,
                        user_id: user,
                        item_id: item_id.clone(),
                        revision,
                        ciphertext: copy,
                        created_at: now,
                        item_removed_at: None,
                        removal_reason: None,
                        expires_at: None,
                    },
                )?;
            }
            // Copies of earlier revisions are superseded: their retention
            // clock starts now.
            vault::age_copies(conn, user, &item_id, revision, None, now, expires_at)?;
            Ok(written)
        })
        .await?;
    match written {
        Written::At(revision) => Ok(ItemWritten {
            item_id: item,
            profile: kind,
            revision,
            backed_up,
        }),
        Written::Stale { current } => Err(stale(current)),
    }
}

/// Deletes an item, at `revision` when one is named (another revision in
/// between is refused). Its backup copies stay, removed `retention_days`
/// later. An id that cannot be an item's is an absent item.
pub async fn delete(
    app: &App,
    ctx: &AccountContext,
    raw_item_id: &str,
    revision: Option<i64>,
) -> Result<(), Error> {
    ctx.authorize(app)?;
    let item = check_item_id(raw_item_id).map_err(|_| Error::NotFound)?;
    let (partner, company, user) = (ctx.partner, ctx.company, ctx.user);
    let retention = app
        .db
        .run(move |conn| backup_profiles::find(conn, partner, company))
        .await?
        .map_or(crate::db::companies::DEFAULT_RETENTION_DAYS, |p| {
            p.retention_days
        });
    let now = ctx.now;
    let expires_at = now + Duration::days(i64::from(retention));
    let written = app
        .db
        .write(move |conn| {
            let written = vault::delete(conn, user, &item, revision)?;
            if matches!(written, Written::At(_)) {
                vault::age_copies(
                    conn,
                    user,
                    &item,
                    i64::MAX,
                    Some("deleted"),
                    now,
                    expires_at,
                )?;
            }
            Ok::<_, DbError>(written)
        })
        .await?;
    match written {
        Written::At(_) => Ok(()),
        Written::Stale { current: 0 } => Err(Error::NotFound),
        Written::Stale { current } => Err(stale(current)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_are_the_clients_within_a_small_alphabet() {
        for good in ["a", "item-1", "2026.12.02_x:y", &"z".repeat(128)] {
            assert_eq!(check_item_id(good).unwrap(), good);
        }
        for bad in ["", &"z".repeat(129), "a b", "a/b", "é", "a\n"] {
            assert!(
                matches!(check_item_id(bad), Err(Error::Invalid { ref field, .. }) if field == "item_id"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_stale_write_says_where_the_item_is() {
        let Error::Conflict { code, detail } = stale(0) else {
            panic!()
        };
        assert_eq!(code, "stale_revision");
        assert!(detail.contains("does not exist"));
        let Error::Conflict { detail, .. } = stale(7) else {
            panic!()
        };
        assert!(detail.contains("revision 7"));
    }
}
