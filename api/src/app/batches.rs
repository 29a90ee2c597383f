//! Resets of many users at once. A batch is made of single resets: each
//! user goes through the same operation as a reset of one
//! ([`super::resets`]), with its own authorization and its own answer, so a
//! batch can never do what the caller could not do one user at a time.

use futures_util::StreamExt;

use super::resets::{self, Preview, Refused};
use super::{App, Error, OpContext};
use crate::audit::NewEvent;
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
/// or does not see. The denials are audited as one event, naming the users:
/// a request of 1,000 users writes one row, not 1,000.
pub async fn preview(
    app: &App,
    ctx: &OpContext,
    ids: &[uuid::Uuid],
) -> Result<BatchPreview, Error> {
    let ids = check_user_ids(ids)?;
    let answers: Vec<(UserId, Result<Preview, Refused>)> = futures_util::stream::iter(ids)
        .map(|id| async move {
            (
                id,
                resets::preview_deciding(app, ctx, &id.to_string()).await,
            )
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut batch = BatchPreview {
        previews: Vec::new(),
        denied: Vec::new(),
        not_found: Vec::new(),
        localized_confirmation: resets::localized_confirmation(ctx.locale()),
    };
    let (mut denials, mut failed) = (Vec::new(), None);
    for (id, answer) in answers {
        let error = match answer {
            Ok(preview) => {
                batch.previews.push(preview);
                continue;
            }
            Err(Refused::Error(error)) => error,
            Err(Refused::Denied(denied)) => {
                denials.push(denied.event);
                denied.error
            }
        };
        match error {
            Error::NotFound => batch.not_found.push(id),
            Error::Forbidden { .. } => batch.denied.push(id),
            other => failed = failed.or(Some(other)),
        }
    }
    // The denials are audited even when another user's preview failed.
    if !denials.is_empty() {
        app.audit(denials_as_one(ctx, denials)).await?;
    }
    match failed {
        Some(error) => Err(error),
        None => Ok(batch),
    }
}

/// One audit event for a batch's denials: the users, and every policy that
/// decided.
fn denials_as_one(ctx: &OpContext, denials: Vec<NewEvent>) -> NewEvent {
    let mut policy_ids: Vec<String> = denials
        .iter()
        .flat_map(|event| event.policy_ids.iter().cloned())
        .collect();
    policy_ids.sort();
    policy_ids.dedup();
    let users: Vec<String> = denials
        .into_iter()
        .filter_map(|event| event.target_id)
        .collect();
    let mut event = ctx.event(
        crate::authz::Action::ResetMasterPassword.name(),
        "users",
        String::new(),
        false,
        policy_ids,
    );
    event.target_id = None;
    event.details = serde_json::json!({"batch_preview": true, "user_ids": users});
    event
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
