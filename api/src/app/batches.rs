//! Resets of many users at once. A batch is made of single resets: each
//! user goes through the same operation as a reset of one
//! ([`super::resets`]), with its own authorization and its own answer, so a
//! batch can never do what the caller could not do one user at a time.

use diesel::Connection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use futures_util::StreamExt;

use super::idempotent::{self, Keyed};
use super::resets::{self, Created, Idempotency, Preview, Ready, Refusal, Refused, ResetCommand};
use super::{App, Error, OpContext};
use crate::audit::{self, NewEvent};
use crate::authz::{Action, Resource};
use crate::db::batches::{self, Batch, BatchStatus, Claimed, Item, ItemStatus};
use crate::db::types::ResetStatus;
use crate::db::{DbError, idempotency};
use crate::ids::{BatchId, ResetId, UserId};

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
    let size = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let answers: Vec<(UserId, Result<Preview, Refused>)> = futures_util::stream::iter(ids)
        .map(|id| async move {
            (
                id,
                resets::preview_deciding(app, ctx, &id.to_string(), size).await,
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

/// A batch of resets, as the caller confirmed it.
#[derive(Debug, Clone)]
pub struct BatchCommand {
    pub user_ids: Vec<uuid::Uuid>,
    /// `Yes`, or the caller's localized word.
    pub confirmation: String,
    /// Required for each user whose company items are not backed up: they
    /// will be lost. Without it, such a user's outcome is `not_backed_up`.
    pub acknowledge_company_data_loss: bool,
    /// Why (already checked as text); each reset carries it.
    pub reason: Option<String>,
    /// The ticket in the partner's PSA (already checked as text).
    pub ticket: Option<String>,
    pub idempotency: Option<Idempotency>,
}

/// A batch and where it stands: a count per status, and a page of its
/// users in the order asked.
#[derive(Debug, Clone)]
pub struct Progress {
    pub batch: Batch,
    pub counts: Vec<(ItemStatus, i64)>,
    pub items: Vec<Item>,
    /// The position to pass as cursor for the next page.
    pub next_cursor: Option<String>,
}

impl Progress {
    /// Users with an outcome.
    pub fn done(&self) -> i64 {
        self.count(|status| status.is_done())
    }

    /// Users at statuses `which` picks.
    pub fn count(&self, which: impl Fn(ItemStatus) -> bool) -> i64 {
        self.counts
            .iter()
            .filter(|(status, _)| which(*status))
            .map(|(_, n)| n)
            .sum()
    }
}

/// What [`create`] made.
#[derive(Debug)]
pub enum Made {
    /// A new batch, and its representation as kept under the idempotency
    /// key (the caller's rendering).
    New { batch: Box<Progress>, body: Vec<u8> },
    /// A retry under the same key: the first result's representation.
    Replayed(idempotency::Stored),
}

/// The policy that keeps a caller limited to some companies to their own
/// batches: its denial answers as for an absent batch.
const OWN_BATCHES_ONLY: &str = "limited-callers-see-their-own-batches";

/// The page of a batch's users a read shows at most.
const PAGE: i64 = 100;

/// Makes a batch of resets: checks the whole request first (1 to 1,000
/// users, each once; the phrase), then stores the batch and its users,
/// queued, and wakes this instance's batch workers. Each user's reset runs
/// later as a reset of one ([`run_group`]), with its own authorization. The
/// batch is audited as one event naming its users.
pub async fn create(
    app: &App,
    ctx: &OpContext,
    command: BatchCommand,
    render: impl FnOnce(&Progress) -> Vec<u8> + Send + 'static,
) -> Result<Made, Error> {
    ctx.authorize(
        app,
        Action::CreateResetBatch,
        &Resource::Partner(ctx.partner),
    )
    .await?;
    let partner = ctx.partner;
    let principal_id = ctx.actor.id().to_string();
    let now = ctx.now;
    if let Some(stored) = idempotent::stored_result(app, ctx, command.idempotency.clone()).await? {
        return Ok(Made::Replayed(stored));
    }
    let users = check_user_ids(&command.user_ids)?;
    resets::check_confirmation(ctx, &command.confirmation)?;
    let batch = Batch {
        id: BatchId::new(),
        partner_id: partner,
        requested_by_kind: ctx.actor.kind().as_str().into(),
        requested_by_id: ctx.actor.id(),
        acknowledge_company_data_loss: command.acknowledge_company_data_loss,
        reason: command.reason,
        ticket: command.ticket,
        status: BatchStatus::Running,
        total: i32::try_from(users.len()).unwrap_or(i32::MAX),
        created_at: now,
        updated_at: now,
        cancelled_at: None,
        finished_at: None,
    };
    let mut event = ctx.event(
        Action::CreateResetBatch.name(),
        "reset_batch",
        batch.id.to_string(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({
        "user_ids": users.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "acknowledge_company_data_loss": batch.acknowledge_company_data_loss,
        "reason": batch.reason,
        "ticket": batch.ticket,
    });
    let keys = app.keys.clone();
    let idempotency = command.idempotency;
    let retried = idempotency.clone();
    let made = app
        .db
        .write(move |conn| {
            let keyed = idempotency.as_ref().map(|key| Keyed {
                partner,
                principal: &principal_id,
                key,
                now,
                keys: &keys,
            });
            if let Some(keyed) = keyed
                && let Some(stored) = idempotent::replay(conn, keyed)?
            {
                return Ok(Made::Replayed(stored));
            }
            batches::insert(conn, &batch, &users)?;
            audit::append(conn, &keys, event)?;
            let progress = progress(conn, batch, None, PAGE)?;
            let body = render(&progress);
            if let Some(keyed) = keyed {
                idempotent::keep(conn, keyed, 202, &body)?;
            }
            Ok(Made::New {
                batch: Box::new(progress),
                body,
            })
        })
        .await;
    match made {
        Ok(made) => {
            if matches!(made, Made::New { .. }) {
                app.batches.wake();
            }
            Ok(made)
        }
        // A retry racing the first request under the same key, which
        // committed first (PostgreSQL: nothing locks a key not yet
        // stored): its result.
        Err(Error::Storage(DbError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _,
        )))) if retried.is_some() => match idempotent::stored_result(app, ctx, retried).await? {
            Some(stored) => Ok(Made::Replayed(stored)),
            None => Err(resets::key_reused()),
        },
        Err(error) => Err(error),
    }
}

/// The batch, its counts, and the page of its users after `after`.
fn progress(
    conn: &mut crate::db::DbConn,
    batch: Batch,
    after: Option<i32>,
    limit: i64,
) -> Result<Progress, DbError> {
    let counts = batches::counts(conn, batch.id)?;
    let mut items = batches::items(conn, batch.id, after, limit + 1)?;
    let next_cursor = super::paging::finish(&mut items, limit, |item| item.position.to_string());
    Ok(Progress {
        batch,
        counts,
        items,
        next_cursor,
    })
}

/// The batch `raw_id` names, once the caller may take the action `make`
/// builds on it. A batch is the partner's, but someone limited to some
/// companies (a technician, a limited API client) sees only their own
/// batches: another's is not found, as an absent one.
async fn find(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    make: fn(bool) -> Action,
) -> Result<Batch, Error> {
    let id = BatchId::parse(raw_id).ok_or(Error::NotFound)?;
    let partner = ctx.partner;
    let batch = app
        .db
        .run(move |conn| batches::find(conn, partner, id))
        .await?
        .ok_or(Error::NotFound)?;
    let own = batch.requested_by_id == ctx.actor.id()
        && batch.requested_by_kind == ctx.actor.kind().as_str();
    let mut denied = match ctx.decide(app, make(own), &Resource::Partner(partner)) {
        Ok(()) => return Ok(batch),
        Err(denied) => *denied,
    };
    denied.event.target_kind = Some("reset_batch".into());
    denied.event.target_id = Some(batch.id.to_string());
    let limited = denied
        .event
        .policy_ids
        .iter()
        .any(|id| id == OWN_BATCHES_ONLY);
    app.audit(denied.event).await?;
    Err(if limited {
        Error::NotFound
    } else {
        denied.error
    })
}

/// A batch the caller may read: its counts and a page of its users.
pub async fn get(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Progress, Error> {
    let limit = match limit {
        None => PAGE,
        Some(asked) => super::paging::limit(Some(asked))?,
    };
    let after = match cursor {
        None => None,
        // A position as `next_cursor` spells it: digits, no leading zero.
        Some(raw) => Some(
            Some(raw)
                .filter(|raw| {
                    (1..=9).contains(&raw.len())
                        && raw.bytes().all(|b| b.is_ascii_digit())
                        && (*raw == "0" || !raw.starts_with('0'))
                })
                .and_then(|raw| raw.parse::<i32>().ok())
                .ok_or_else(|| Error::invalid("cursor", "is not a cursor of this batch"))?,
        ),
    };
    let batch = find(app, ctx, raw_id, |own| Action::ReadResetBatch {
        requested_by_caller: own,
    })
    .await?;
    Ok(app
        .db
        .run(move |conn| progress(conn, batch, after, limit))
        .await?)
}

/// Cancels a batch: users not yet started are not reset (their outcome is
/// `cancelled`); users being reset finish. Cancelling a cancelled batch
/// answers it again; a finished batch cannot be cancelled.
pub async fn cancel(app: &App, ctx: &OpContext, raw_id: &str) -> Result<Progress, Error> {
    let batch = find(app, ctx, raw_id, |own| Action::CancelResetBatch {
        requested_by_caller: own,
    })
    .await?;
    let (keys, partner, now, id) = (app.keys.clone(), ctx.partner, ctx.now, batch.id);
    let event = ctx.event(
        "cancelResetBatch",
        "reset_batch",
        id.to_string(),
        true,
        Vec::new(),
    );
    app.db
        .write(move |conn| {
            if let Some(withdrawn) = batches::cancel(conn, id, now)? {
                let mut event = event;
                event.details = serde_json::json!({"users_not_started": withdrawn});
                audit::append(conn, &keys, event)?;
            }
            let batch = batches::find(conn, partner, id)?.ok_or(Error::NotFound)?;
            if batch.status == BatchStatus::Completed {
                return Err(Error::Conflict {
                    code: "batch_finished",
                    detail: "Every user of the batch has an outcome; there is nothing left to \
                             cancel"
                        .into(),
                });
            }
            Ok(progress(conn, batch, None, PAGE)?)
        })
        .await
}

/// What became of one user's reset in a batch.
#[derive(Debug)]
pub enum ItemOutcome {
    /// The reset was made, and its transaction recorded the outcome.
    Recorded,
    /// An outcome to record.
    Done {
        status: ItemStatus,
        reset_id: Option<ResetId>,
        /// Why, when the reset failed (`failed`) or the requester is gone.
        error: Option<Error>,
    },
    /// The storage failed: the user goes back to the queue for another
    /// try.
    Again(Error),
}

/// How many times a user whose reset meets a failing storage is tried.
pub const MAX_ATTEMPTS: i32 = 5;

/// Who a batch's resets act as: the batch, and its requester as they are
/// now (loaded once for the users a worker claimed together).
#[derive(Debug, Clone)]
pub struct Requester {
    pub batch: Batch,
    pub ctx: OpContext,
}

/// The batch of a claimed user and its requester, loaded now; an error
/// when the requester no longer exists (or the storage failed).
pub async fn requester(app: &App, claimed: &Claimed) -> Result<Requester, Error> {
    let (partner, kind, requester, batch_id) = (
        claimed.partner_id,
        claimed.requested_by_kind.clone(),
        claimed.requested_by_id,
        claimed.item.batch_id,
    );
    let now = app.clock.now();
    app.db
        .run(move |conn| {
            let batch = batches::find(conn, partner, batch_id)?.ok_or(Error::NotFound)?;
            let ctx = OpContext::acting_for(conn, partner, &kind, requester, now)?;
            Ok(Requester { batch, ctx })
        })
        .await
}

/// The outcome of a user whose requester could not be loaded: another try
/// when the storage failed; `denied` when the requester is gone (nobody
/// may reset on their behalf), with the problem a reset would answer.
pub fn without_requester(item: &Item, error: &Error) -> ItemOutcome {
    match error {
        Error::Storage(error) => again(item, unavailable(error)),
        _ => ItemOutcome::Done {
            status: ItemStatus::Denied,
            reset_id: None,
            error: Some(Error::Forbidden {
                action: Action::ResetMasterPassword.name(),
                policy_ids: Vec::new(),
            }),
        },
    }
}

/// Resets a group of a batch's users, each as the requester would reset
/// them alone: the same checks, authorization, transaction body, email and
/// audit ([`resets::prepare`], [`resets::Prepared::run`]). The group's
/// resets run in one transaction, each under a savepoint of its own: a
/// user refused rolls back that user's changes alone, and the group pays
/// for one commit (on SQLite, one `fsync`) instead of one per user. Each
/// reset's idempotency key is the batch and the user's position, so a user
/// taken over after a crash, or claimed twice, finds the reset already made
/// instead of purging again. Outcomes come back in the order of `group`.
pub async fn run_group(app: &App, group: &[(&Requester, &Item)]) -> Vec<ItemOutcome> {
    // A user claimed but not yet started when the batch was cancelled is
    // not reset: cancelling stops what has not started.
    let mut batches_of_group: Vec<(crate::ids::PartnerId, BatchId)> = Vec::new();
    for (requester, _) in group {
        let batch = (requester.batch.partner_id, requester.batch.id);
        if !batches_of_group.contains(&batch) {
            batches_of_group.push(batch);
        }
    }
    let cancelled = app
        .db
        .run(move |conn| {
            let mut cancelled = Vec::new();
            for (partner, batch) in batches_of_group {
                if batches::find(conn, partner, batch)?
                    .is_some_and(|now| now.status == BatchStatus::Cancelled)
                {
                    cancelled.push(batch);
                }
            }
            Ok::<_, DbError>(cancelled)
        })
        .await;
    let cancelled = match cancelled {
        Ok(cancelled) => cancelled,
        Err(error) => {
            return group
                .iter()
                .map(|(_, item)| again(item, unavailable(&error)))
                .collect();
        }
    };
    let mut outcomes: Vec<Option<ItemOutcome>> = Vec::with_capacity(group.len());
    let mut to_run = Vec::new();
    for (at, (requester, item)) in group.iter().enumerate() {
        if cancelled.contains(&item.batch_id) {
            outcomes.push(Some(ItemOutcome::Done {
                status: ItemStatus::Cancelled,
                reset_id: None,
                error: None,
            }));
            continue;
        }
        let mut ctx = requester.ctx.clone();
        ctx.now = app.clock.now();
        let command = command_for(&requester.batch, item);
        let user = item.user_id.to_string();
        match resets::prepare(app, &ctx, &user, command, render()).await {
            Ok(Ready::ToRun(prepared)) => {
                outcomes.push(None);
                to_run.push((at, ctx, prepared));
            }
            Ok(Ready::Replayed(stored)) => {
                outcomes.push(Some(outcome(item, Ok(Created::Replayed(stored)))))
            }
            Err(error) => outcomes.push(Some(outcome(item, Err(error)))),
        }
    }
    if to_run.is_empty() {
        return outcomes.into_iter().flatten().collect();
    }
    let (mut waiting, mut bodies) = (Vec::new(), Vec::new());
    for (at, ctx, prepared) in to_run {
        waiting.push((at, ctx, prepared.user_id()));
        bodies.push(prepared);
    }
    let users: Vec<UserId> = waiting.iter().map(|(_, _, user)| *user).collect();
    let ran = app
        .db
        .write(move |conn| {
            crate::db::resets::lock_users(conn, &users)?;
            let results: Vec<Result<Created, Refusal>> = bodies
                .into_iter()
                .map(|prepared| conn.transaction(|conn| prepared.run(conn)))
                .collect();
            Ok::<_, DbError>(results)
        })
        .await;
    match ran {
        Err(error) => {
            for (at, _, _) in waiting {
                outcomes[at] = Some(again(group[at].1, unavailable(&error)));
            }
        }
        Ok(results) => {
            if results
                .iter()
                .any(|made| matches!(made, Ok(Created::New { .. })))
            {
                app.outbox.wake();
            }
            for ((at, ctx, user), result) in waiting.into_iter().zip(results) {
                let made = resets::settle(app, &ctx, user, result).await;
                outcomes[at] = Some(outcome(group[at].1, made));
            }
        }
    }
    outcomes.into_iter().flatten().collect()
}

/// The reset of the batch's user at `item`, as the requester asked it.
fn command_for(batch: &Batch, item: &Item) -> ResetCommand {
    let key = format!("reset batch {} {}", batch.id, item.position);
    ResetCommand {
        confirmation: resets::CONFIRMATION.into(),
        acknowledge_company_data_loss: batch.acknowledge_company_data_loss,
        reason: batch.reason.clone(),
        ticket: batch.ticket.clone(),
        supersedes: None,
        idempotency: Some(Idempotency {
            fingerprint: format!("{key} {}", item.user_id).into_bytes(),
            key,
        }),
        batch: Some(resets::BatchRef {
            id: batch.id,
            position: item.position,
            size: batch.total.into(),
        }),
    }
}

/// The reset's id and status, kept under the user's idempotency key.
fn render() -> resets::Render {
    Box::new(|(reset, _): &crate::db::resets::WithEmail| {
        format!("{} {}", reset.id, reset.status).into_bytes()
    })
}

/// A user's outcome from what their reset answered.
fn outcome(item: &Item, made: Result<Created, Error>) -> ItemOutcome {
    let (status, reset_id, error) = match made {
        Ok(Created::New { .. }) => return ItemOutcome::Recorded,
        Ok(Created::Replayed(stored)) => {
            let kept = stored
                .response_body
                .as_deref()
                .and_then(|body| std::str::from_utf8(body).ok())
                .unwrap_or_default();
            let mut words = kept.split(' ');
            let reset_id = words.next().and_then(ResetId::parse);
            let status = match words.next().and_then(ResetStatus::parse) {
                Some(ResetStatus::AwaitingApproval) => ItemStatus::AwaitingApproval,
                _ => ItemStatus::Completed,
            };
            (status, reset_id, None)
        }
        Err(Error::Storage(error)) => return again(item, error.into()),
        Err(Error::NotFound) => (ItemStatus::NotFound, None, None),
        Err(Error::Forbidden { .. }) => (ItemStatus::Denied, None, None),
        // Policy asks for a second admin and nobody else may approve.
        Err(
            error @ Error::Conflict {
                code: "no_approver",
                ..
            },
        ) => (ItemStatus::Denied, None, Some(error)),
        Err(Error::CompanyItemsNotBackedUp { .. }) => (ItemStatus::NotBackedUp, None, None),
        Err(Error::Conflict {
            code: "reset_pending" | "reset_awaiting_approval",
            ..
        }) => (ItemStatus::ResetPending, None, None),
        Err(error) => (ItemStatus::Failed, None, Some(error)),
    };
    ItemOutcome::Done {
        status,
        reset_id,
        error,
    }
}

/// A storage failure met by a whole group, as each of its users' error.
fn unavailable(error: &DbError) -> Error {
    DbError::Unavailable(error.to_string()).into()
}

/// A storage failure: another try, unless the user has had all of theirs.
fn again(item: &Item, error: Error) -> ItemOutcome {
    if item.attempts >= MAX_ATTEMPTS {
        ItemOutcome::Done {
            status: ItemStatus::Failed,
            reset_id: None,
            error: Some(error),
        }
    } else {
        ItemOutcome::Again(error)
    }
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
