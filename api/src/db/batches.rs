//! Reset batches as stored work: a batch, and one row per user that a
//! worker claims, runs and records. A claim is a lease (`locked_by`,
//! `locked_until`, and `attempts`, which names the claim): a worker that
//! dies leaves its users to be claimed again once the lease runs out, and
//! only the claim that still holds a user records its outcome (and
//! `locked_by` then names the worker that reset the user). A reset made
//! records its user's outcome in its own transaction ([`complete`]). PostgreSQL
//! instances share the work with `FOR UPDATE SKIP LOCKED`, as the outbox
//! does; SQLite's write transactions take turns.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{reset_batch_items, reset_batches};
use super::{DbConn, DbError};
use crate::ids::{ActorId, BatchId, PartnerId, ResetId, UserId};

pub use super::types::{BatchStatus, ItemStatus};

/// A batch, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reset_batches)]
pub struct Batch {
    pub id: BatchId,
    pub partner_id: PartnerId,
    pub requested_by_kind: String,
    pub requested_by_id: ActorId,
    pub acknowledge_company_data_loss: bool,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub status: BatchStatus,
    pub total: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub cancelled_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

/// One user of a batch, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reset_batch_items)]
pub struct Item {
    pub batch_id: BatchId,
    pub position: i32,
    /// As the request named it: it may name no user.
    pub user_id: UserId,
    pub status: ItemStatus,
    pub reset_id: Option<ResetId>,
    /// The problem (JSON) of a `failed` user.
    pub problem: Option<String>,
    pub attempts: i32,
    pub updated_at: NaiveDateTime,
}

/// A user claimed for a worker: the claim is (`locked_by`, `attempts`).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub item: Item,
    pub partner_id: PartnerId,
    pub requested_by_kind: String,
    pub requested_by_id: ActorId,
}

/// Writes a batch and its users, all queued, in the caller's transaction.
pub fn insert(conn: &mut DbConn, batch: &Batch, users: &[UserId]) -> Result<(), DbError> {
    diesel::insert_into(reset_batches::table)
        .values(batch)
        .execute(conn)?;
    // A thousand users in chunks: SQLite binds at most 32,766 values.
    for (chunk_at, chunk) in users.chunks(500).enumerate() {
        let rows: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(at, user)| {
                let position = i32::try_from(chunk_at * 500 + at).unwrap_or(i32::MAX);
                (
                    reset_batch_items::batch_id.eq(batch.id),
                    reset_batch_items::position.eq(position),
                    reset_batch_items::user_id.eq(*user),
                    reset_batch_items::status.eq(ItemStatus::Queued),
                    reset_batch_items::updated_at.eq(batch.created_at),
                )
            })
            .collect();
        let insert = diesel::insert_into(reset_batch_items::table).values(rows);
        match conn {
            DbConn::Postgres(pg) => insert.execute(pg)?,
            DbConn::Sqlite(sqlite) => insert.execute(sqlite)?,
        };
    }
    Ok(())
}

/// The partner's batch `id` names.
pub fn find(conn: &mut DbConn, partner: PartnerId, id: BatchId) -> Result<Option<Batch>, DbError> {
    Ok(reset_batches::table
        .filter(reset_batches::id.eq(id))
        .filter(reset_batches::partner_id.eq(partner))
        .select(Batch::as_select())
        .first(conn)
        .optional()?)
}

/// How many of the batch's users stand at each status.
pub fn counts(conn: &mut DbConn, batch: BatchId) -> Result<Vec<(ItemStatus, i64)>, DbError> {
    Ok(reset_batch_items::table
        .filter(reset_batch_items::batch_id.eq(batch))
        .group_by(reset_batch_items::status)
        .select((reset_batch_items::status, diesel::dsl::count_star()))
        .load(conn)?)
}

/// A page of the batch's users, in the order asked, after `after`.
pub fn items(
    conn: &mut DbConn,
    batch: BatchId,
    after: Option<i32>,
    limit: i64,
) -> Result<Vec<Item>, DbError> {
    Ok(reset_batch_items::table
        .filter(reset_batch_items::batch_id.eq(batch))
        .filter(reset_batch_items::position.gt(after.unwrap_or(-1)))
        .order(reset_batch_items::position.asc())
        .limit(limit)
        .select(Item::as_select())
        .load(conn)?)
}

/// Claims up to `limit` users for `worker` until `lease_until`: queued
/// users, the oldest batch's first in the order asked, then users whose
/// worker's lease ran out. Each claim counts an attempt.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    use reset_batch_items::dsl as i;
    // Users whose worker's lease ran out first, then queued ones: the
    // oldest batch's first, in the order asked.
    macro_rules! due {
        ($status:expr, $order:expr, $left:expr) => {
            i::reset_batch_items
                .filter(i::status.eq($status))
                .filter(i::locked_until.is_null().or(i::locked_until.le(now)))
                .order($order)
                .limit($left)
                .select((i::batch_id, i::position))
        };
    }
    let mut due: Vec<(BatchId, i32)> = match conn {
        DbConn::Postgres(pg) => due!(ItemStatus::Running, i::locked_until.asc(), limit)
            .for_update()
            .skip_locked()
            .load(pg)?,
        DbConn::Sqlite(sqlite) => {
            due!(ItemStatus::Running, i::locked_until.asc(), limit).load(sqlite)?
        }
    };
    let left = limit - due.len() as i64;
    if left > 0 {
        let order = (i::batch_id.asc(), i::position.asc());
        due.extend(match conn {
            DbConn::Postgres(pg) => due!(ItemStatus::Queued, order, left)
                .for_update()
                .skip_locked()
                .load::<(BatchId, i32)>(pg)?,
            DbConn::Sqlite(sqlite) => due!(ItemStatus::Queued, order, left).load(sqlite)?,
        });
    }
    let mut claimed = Vec::with_capacity(due.len());
    for (batch, position) in due {
        diesel::update(
            i::reset_batch_items
                .filter(i::batch_id.eq(batch))
                .filter(i::position.eq(position)),
        )
        .set((
            i::status.eq(ItemStatus::Running),
            i::locked_by.eq(worker),
            i::locked_until.eq(lease_until),
            i::attempts.eq(i::attempts + 1),
            i::updated_at.eq(now),
        ))
        .execute(conn)?;
        let (item, partner_id, requested_by_kind, requested_by_id) = i::reset_batch_items
            .inner_join(reset_batches::table)
            .filter(i::batch_id.eq(batch))
            .filter(i::position.eq(position))
            .select((
                Item::as_select(),
                reset_batches::partner_id,
                reset_batches::requested_by_kind,
                reset_batches::requested_by_id,
            ))
            .first::<(Item, PartnerId, String, ActorId)>(conn)?;
        claimed.push(Claimed {
            item,
            partner_id,
            requested_by_kind,
            requested_by_id,
        });
    }
    Ok(claimed)
}

/// A user's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: ItemStatus,
    pub reset_id: Option<ResetId>,
    pub problem: Option<String>,
}

/// Records that the reset of the user at `position` was made (`status`
/// `completed`, or `awaiting_approval` when policy asked for a second
/// admin), in the reset's own transaction: a reset and its outcome commit
/// together, so a crash between them cannot happen. Whoever made the reset
/// records it, whatever claim (or none: a claim that outlived its lease,
/// and a cancel since) the user is under: the user was reset.
pub fn complete(
    conn: &mut DbConn,
    batch: BatchId,
    position: i32,
    reset: ResetId,
    status: ItemStatus,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use reset_batch_items::dsl as i;
    diesel::update(
        i::reset_batch_items
            .filter(i::batch_id.eq(batch))
            .filter(i::position.eq(position))
            .filter(i::status.ne(status)),
    )
    .set((
        i::status.eq(status),
        i::reset_id.eq(Some(reset)),
        i::locked_until.eq(None::<NaiveDateTime>),
        i::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// The outcome of the batch's user whose reset awaited approval, once it
/// was decided: `completed` when approved, `denied` when rejected or
/// expired (its reset, which the item keeps, says which). In the
/// decision's own transaction.
pub fn decided(
    conn: &mut DbConn,
    batch: BatchId,
    reset: ResetId,
    status: ItemStatus,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use reset_batch_items::dsl as i;
    diesel::update(
        i::reset_batch_items
            .filter(i::batch_id.eq(batch))
            .filter(i::reset_id.eq(Some(reset)))
            .filter(i::status.eq(ItemStatus::AwaitingApproval)),
    )
    .set((i::status.eq(status), i::updated_at.eq(now)))
    .execute(conn)?;
    Ok(())
}

/// Records the outcome of a claimed user, if the claim (`worker`,
/// `attempts`) still holds it; whether it did.
pub fn record(
    conn: &mut DbConn,
    claimed: &Item,
    worker: &str,
    outcome: &Outcome,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    use reset_batch_items::dsl as i;
    Ok(diesel::update(
        i::reset_batch_items
            .filter(i::batch_id.eq(claimed.batch_id))
            .filter(i::position.eq(claimed.position))
            .filter(i::status.eq(ItemStatus::Running))
            .filter(i::locked_by.eq(worker))
            .filter(i::attempts.eq(claimed.attempts)),
    )
    .set((
        i::status.eq(outcome.status),
        i::reset_id.eq(outcome.reset_id),
        i::problem.eq(&outcome.problem),
        // `locked_by` stays: it names the worker that reset the user.
        i::locked_until.eq(None::<NaiveDateTime>),
        i::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Gives a claimed user back to the queue (the storage failed under its
/// reset: another try will do), if the claim still holds it; not due again
/// before `retry_at`.
pub fn release(
    conn: &mut DbConn,
    claimed: &Item,
    worker: &str,
    now: NaiveDateTime,
    retry_at: NaiveDateTime,
) -> Result<(), DbError> {
    use reset_batch_items::dsl as i;
    diesel::update(
        i::reset_batch_items
            .filter(i::batch_id.eq(claimed.batch_id))
            .filter(i::position.eq(claimed.position))
            .filter(i::status.eq(ItemStatus::Running))
            .filter(i::locked_by.eq(worker))
            .filter(i::attempts.eq(claimed.attempts)),
    )
    .set((
        i::status.eq(ItemStatus::Queued),
        i::locked_by.eq(None::<String>),
        // A queued user is due once `locked_until` has passed.
        i::locked_until.eq(Some(retry_at)),
        i::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// Marks the batch finished when none of its users waits or runs: completed,
/// or it stays cancelled. Workers call it after their outcomes committed,
/// each in a transaction of its own, so whoever commits a batch's last
/// outcome sees every other one and finishes the batch; two finishing at
/// once set the same thing.
pub fn finish_if_done(
    conn: &mut DbConn,
    batch: BatchId,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use reset_batch_items::dsl as i;
    let unfinished: i64 = i::reset_batch_items
        .filter(i::batch_id.eq(batch))
        .filter(i::status.eq_any([ItemStatus::Queued, ItemStatus::Running]))
        .count()
        .get_result(conn)?;
    if unfinished > 0 {
        return Ok(());
    }
    diesel::update(
        reset_batches::table
            .filter(reset_batches::id.eq(batch))
            .filter(reset_batches::finished_at.is_null()),
    )
    .set((
        reset_batches::finished_at.eq(now),
        reset_batches::updated_at.eq(now),
    ))
    .execute(conn)?;
    // A cancelled batch stays cancelled.
    diesel::update(
        reset_batches::table
            .filter(reset_batches::id.eq(batch))
            .filter(reset_batches::status.eq(BatchStatus::Running)),
    )
    .set(reset_batches::status.eq(BatchStatus::Completed))
    .execute(conn)?;
    Ok(())
}

/// Cancels the batch if it is running: its queued users will not be reset;
/// users being reset finish. How many users it withdrew; `None` when the
/// batch was not running (finished, or cancelled already).
pub fn cancel(
    conn: &mut DbConn,
    batch: BatchId,
    now: NaiveDateTime,
) -> Result<Option<usize>, DbError> {
    use reset_batch_items::dsl as i;
    // The status changes first: of two racing cancels, or a cancel racing
    // the batch's end, one only goes on (PostgreSQL rechecks the status
    // under the row's lock).
    let cancelled = diesel::update(
        reset_batches::table
            .filter(reset_batches::id.eq(batch))
            .filter(reset_batches::status.eq(BatchStatus::Running)),
    )
    .set((
        reset_batches::status.eq(BatchStatus::Cancelled),
        reset_batches::cancelled_at.eq(now),
        reset_batches::updated_at.eq(now),
    ))
    .execute(conn)?;
    if cancelled == 0 {
        return Ok(None);
    }
    let withdrawn = diesel::update(
        i::reset_batch_items
            .filter(i::batch_id.eq(batch))
            .filter(i::status.eq(ItemStatus::Queued)),
    )
    .set((i::status.eq(ItemStatus::Cancelled), i::updated_at.eq(now)))
    .execute(conn)?;
    finish_if_done(conn, batch, now)?;
    Ok(Some(withdrawn))
}

/// The partner's running batches.
pub fn running_of_partner(conn: &mut DbConn, partner: PartnerId) -> Result<Vec<BatchId>, DbError> {
    Ok(reset_batches::table
        .filter(reset_batches::partner_id.eq(partner))
        .filter(reset_batches::status.eq(BatchStatus::Running))
        .select(reset_batches::id)
        .load(conn)?)
}

/// The batches not yet marked finished: a worker that died between its
/// users' outcomes and finishing their batch leaves one, which the next
/// idle worker finishes.
pub fn unfinished(conn: &mut DbConn) -> Result<Vec<BatchId>, DbError> {
    Ok(reset_batches::table
        .filter(reset_batches::finished_at.is_null())
        .select(reset_batches::id)
        .load(conn)?)
}
