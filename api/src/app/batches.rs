//! Resets of many users at once. A batch is made of single resets: each
//! user goes through the same operation as a reset of one
//! ([`super::resets`]), with its own authorization and its own answer, so a
//! batch can never do what the caller could not do one user at a time.

use futures_util::StreamExt;

use super::resets::{self, Preview};
use super::{App, Error, OpContext};
use crate::ids::UserId;

/// The most users one batch names.
pub const MAX_USERS: usize = 1_000;

/// Previews looked at side by side: enough to keep a PostgreSQL pool busy,
/// few enough to leave it to other requests too.
const CONCURRENCY: usize = 4;

/// What resetting each of a batch's users would do, changing nothing.
#[derive(Debug)]
pub struct BatchPreview {
    /// The users the caller may reset, in the order asked.
    pub previews: Vec<Preview>,
    /// Users the caller sees but may not reset.
    pub denied: Vec<UserId>,
    /// Ids that name no user the caller sees: absent, another partner's, or
    /// outside the caller's companies, one answer for all.
    pub not_found: Vec<UserId>,
    /// The word for "yes" in the caller's locale, accepted besides `Yes`.
    pub localized_confirmation: Option<&'static str>,
}

/// The ids of a batch: 1 to [`MAX_USERS`], each once.
pub fn check_user_ids(ids: &[uuid::Uuid]) -> Result<Vec<UserId>, Error> {
    if ids.is_empty() || ids.len() > MAX_USERS {
        return Err(Error::invalid(
            "user_ids",
            format!("must name 1 to {MAX_USERS} users, not {}", ids.len()),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let repeated: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !seen.insert(**id))
        .map(|(at, id)| format!("user_ids[{at}] ({id})"))
        .collect();
    if !repeated.is_empty() {
        return Err(Error::invalid(
            "user_ids",
            format!(
                "names a user more than once: {}{}",
                repeated
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if repeated.len() > 10 { ", …" } else { "" }
            ),
        ));
    }
    Ok(ids.iter().copied().map(UserId::from_uuid).collect())
}

/// What resetting each user `ids` names would do: each user's preview as a
/// reset of one would answer it, and which users the caller may not reset
/// or does not see. A denial is audited as a single preview's is.
pub async fn preview(
    app: &App,
    ctx: &OpContext,
    ids: &[uuid::Uuid],
) -> Result<BatchPreview, Error> {
    let ids = check_user_ids(ids)?;
    let answers: Vec<(UserId, Result<Preview, Error>)> = futures_util::stream::iter(ids)
        .map(|id| async move { (id, resets::preview(app, ctx, &id.to_string()).await) })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut batch = BatchPreview {
        previews: Vec::new(),
        denied: Vec::new(),
        not_found: Vec::new(),
        localized_confirmation: resets::localized_confirmation(ctx.locale()),
    };
    for (id, answer) in answers {
        match answer {
            Ok(preview) => batch.previews.push(preview),
            Err(Error::NotFound) => batch.not_found.push(id),
            Err(Error::Forbidden { .. }) => batch.denied.push(id),
            Err(other) => return Err(other),
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_names_one_to_a_thousand_users_each_once() {
        let a = uuid::Uuid::now_v7();
        let b = uuid::Uuid::now_v7();
        assert_eq!(check_user_ids(&[a, b]).unwrap().len(), 2);
        assert!(matches!(
            check_user_ids(&[]),
            Err(Error::Invalid { field, .. }) if field == "user_ids"
        ));
        let many: Vec<_> = (0..=MAX_USERS).map(|_| uuid::Uuid::now_v7()).collect();
        assert!(check_user_ids(&many).is_err());
        assert!(check_user_ids(&many[..MAX_USERS]).is_ok());
        match check_user_ids(&[a, b, a]) {
            Err(Error::Invalid { message, .. }) => {
                assert!(message.contains(&format!("user_ids[2] ({a})")), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
