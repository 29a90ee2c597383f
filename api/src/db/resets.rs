//! Master-password resets: what a reset did to a user's vault, the keyed hash
//! of the secret it sent (never the secret), and where its email stands.
//!
//! [`purge`] is the reset's destructive step and runs inside the reset's own
//! transaction (`http::resets`), together with superseding earlier pending
//! resets, the user's token-generation bump, the outbox row and the audit
//! event: all of it commits, or none.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{backup_copies, master_password_resets, outbox_messages, users, vault_items};
use super::{DbConn, DbError};
use crate::ids::{CompanyId, PartnerId, ResetId, UserId};

pub use super::types::{Delivery, ResetStatus};

/// The statuses a reset moves through.
pub const PENDING: ResetStatus = ResetStatus::PendingUserAction;
pub const COMPLETED: ResetStatus = ResetStatus::Completed;
pub const SUPERSEDED: ResetStatus = ResetStatus::Superseded;
pub const EXPIRED: ResetStatus = ResetStatus::Expired;
pub const AWAITING_APPROVAL: ResetStatus = ResetStatus::AwaitingApproval;
pub const REJECTED: ResetStatus = ResetStatus::Rejected;

/// A reset, as stored (`secret_hash` is not selected: nothing but the
/// secret's own check reads it).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = master_password_resets)]
pub struct Reset {
    pub id: ResetId,
    pub partner_id: PartnerId,
    pub company_id: CompanyId,
    pub user_id: UserId,
    /// The batch that made it, if one did.
    pub batch_id: Option<crate::ids::BatchId>,
    pub status: ResetStatus,
    pub delivery_kind: Delivery,
    /// When the secret dies; `None` while no secret was drawn (awaiting
    /// approval, rejected, or expired before approval).
    pub secret_expires_at: Option<NaiveDateTime>,
    pub personal_items_purged: i64,
    pub company_items_purged: i64,
    pub company_items_preserved: i64,
    pub acknowledged_company_data_loss: bool,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub requested_by_kind: String,
    pub requested_by_id: crate::ids::ActorId,
    pub outbox_message_id: Option<String>,
    pub reissue_count: i32,
    pub superseded_by: Option<ResetId>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    /// The ids of the policies that asked for a second admin (a JSON
    /// array); `None` for a reset that needed none.
    pub approval_required_by: Option<String>,
    /// When a request awaiting approval expires.
    pub approval_expires_at: Option<NaiveDateTime>,
    /// The pending reset an approval replaces.
    pub supersedes: Option<ResetId>,
    /// Who approved or rejected it (`admin` or `api_client`), and when.
    pub decided_by_kind: Option<String>,
    pub decided_by_id: Option<crate::ids::ActorId>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_comment: Option<String>,
}

impl Reset {
    /// The policies that asked for a second admin, as stored.
    pub fn approval_policies(&self) -> Vec<String> {
        self.approval_required_by
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok())
            .unwrap_or_default()
    }
}

/// A new reset's row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = master_password_resets)]
pub struct NewReset {
    pub id: ResetId,
    pub partner_id: PartnerId,
    pub company_id: CompanyId,
    pub user_id: UserId,
    /// The batch that made it, if one did.
    pub batch_id: Option<crate::ids::BatchId>,
    pub status: ResetStatus,
    pub delivery_kind: Delivery,
    pub secret_hash: Option<Vec<u8>>,
    pub secret_expires_at: Option<NaiveDateTime>,
    pub personal_items_purged: i64,
    pub company_items_purged: i64,
    pub company_items_preserved: i64,
    pub acknowledged_company_data_loss: bool,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub requested_by_kind: String,
    pub requested_by_id: crate::ids::ActorId,
    pub outbox_message_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub approval_required_by: Option<String>,
    pub approval_expires_at: Option<NaiveDateTime>,
    pub supersedes: Option<ResetId>,
}

/// What a user's vault holds, as the preview and the purge count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VaultSummary {
    pub personal_items: i64,
    pub company_items: i64,
    /// Company items with a backup copy of their current revision.
    pub company_items_backed_up: i64,
}

impl VaultSummary {
    pub fn company_items_not_backed_up(&self) -> i64 {
        self.company_items - self.company_items_backed_up
    }
}

/// Totals over several vaults.
impl std::ops::AddAssign for VaultSummary {
    fn add_assign(&mut self, other: Self) {
        self.personal_items += other.personal_items;
        self.company_items += other.company_items;
        self.company_items_backed_up += other.company_items_backed_up;
    }
}

/// Counts a user's items by profile, and the company items backed up.
pub fn summarize(conn: &mut DbConn, user_id: UserId) -> Result<VaultSummary, DbError> {
    let user = user_id.to_string();
    let by_profile: Vec<(String, i64)> = vault_items::table
        .filter(vault_items::user_id.eq(&user))
        .group_by(vault_items::profile)
        .select((vault_items::profile, diesel::dsl::count_star()))
        .load(conn)?;
    let not_backed_up = super::vault::company_items_not_backed_up(conn, user_id)?;
    let count = |profile: &str| {
        by_profile
            .iter()
            .find(|(p, _)| p == profile)
            .map_or(0, |(_, n)| *n)
    };
    let company_items = count("company");
    Ok(VaultSummary {
        personal_items: count("personal"),
        company_items,
        company_items_backed_up: company_items - not_backed_up,
    })
}

/// Deletes every item of the user's vault, which holds what `summary`
/// counts (the caller counted it in this transaction; if the vault holds
/// anything else by now, nothing is deleted: the transaction fails). The backup copies of the user's company items stay, their
/// retention clock started now (`expires_at`); copies already aging keep
/// their earlier expiry. Returns what was there.
pub fn purge(
    conn: &mut DbConn,
    user: UserId,
    summary: VaultSummary,
    at: NaiveDateTime,
    copies_expire_at: NaiveDateTime,
) -> Result<VaultSummary, DbError> {
    let user = user.to_string();
    diesel::update(
        backup_copies::table
            .filter(backup_copies::user_id.eq(&user))
            .filter(backup_copies::expires_at.is_null()),
    )
    .set((
        backup_copies::item_removed_at.eq(at),
        backup_copies::removal_reason.eq("purged"),
        backup_copies::expires_at.eq(copies_expire_at),
    ))
    .execute(conn)?;
    let deleted =
        diesel::delete(vault_items::table.filter(vault_items::user_id.eq(&user))).execute(conn)?;
    // Vault writes do not take the user's lock: an item written since the
    // count (PostgreSQL reads committed rows) would be deleted without the
    // rules having counted it. The transaction fails instead; a retry
    // counts again.
    if i64::try_from(deleted).ok() != Some(summary.personal_items + summary.company_items) {
        return Err(DbError::Unavailable(
            "the vault changed while it was being reset; try again".into(),
        ));
    }
    Ok(summary)
}

/// Locks the user's row for the rest of the transaction (PostgreSQL; SQLite
/// write transactions already take turns), so resets of one user take turns;
/// the user's status as locked, `None` when the user is gone.
pub fn lock_user(
    conn: &mut DbConn,
    partner: PartnerId,
    user: UserId,
) -> Result<Option<super::types::UserStatus>, DbError> {
    let query = users::table
        .filter(users::id.eq(user.to_string()))
        .filter(users::partner_id.eq(partner.to_string()))
        .select(users::status);
    Ok(match conn {
        DbConn::Postgres(pg) => query.for_update().first(pg).optional()?,
        DbConn::Sqlite(sqlite) => query.first(sqlite).optional()?,
    })
}

/// Locks the rows of several users at once, in the order of their ids
/// (PostgreSQL; SQLite write transactions already take turns). A batch's
/// group transaction takes them all before any of its resets appends to the
/// audit chain (which holds the chain's lock until the commit): a reset of
/// one of them that locked its user first then waits for the group, never
/// the group for it while it waits for the chain.
pub fn lock_users(conn: &mut DbConn, ids: &[UserId]) -> Result<(), DbError> {
    if let DbConn::Postgres(pg) = conn {
        let mut ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        ids.sort();
        users::table
            .filter(users::id.eq_any(ids))
            .order(users::id.asc())
            .select(users::id)
            .for_update()
            .load::<String>(pg)?;
    }
    Ok(())
}

/// Bumps the user's token generation (every token issued before is refused),
/// marks the user `reset_pending`, records the time of the reset, and
/// forgets the old master password's key material (whoever still knows the
/// old master password must not sign in meanwhile) and the recovery key (it
/// wraps the purged vault's key; the new master password comes with a new
/// vault key).
pub fn mark_user_reset(conn: &mut DbConn, user: UserId, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(users::table.filter(users::id.eq(user.to_string())))
        .set((
            users::token_generation.eq(users::token_generation + 1),
            users::version.eq(users::version + 1),
            users::status.eq(super::types::UserStatus::ResetPending),
            users::last_reset_at.eq(at),
            users::auth_key_hash.eq(None::<String>),
            users::kdf_params.eq(None::<String>),
            users::encrypted_vault_key.eq(None::<Vec<u8>>),
            users::recovery_key_verifier.eq(None::<Vec<u8>>),
            users::recovery_wrapped_vault_key.eq(None::<Vec<u8>>),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks the user's pending resets superseded by `by`, their secrets erased;
/// how many there were.
pub fn supersede_pending(
    conn: &mut DbConn,
    user: UserId,
    by: ResetId,
    at: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        master_password_resets::table
            .filter(master_password_resets::user_id.eq(user.to_string()))
            // An expired one too: a re-issue must never bring back a reset
            // a newer one replaced. Not a request that never ran (its
            // approval expired): it stays as it ended.
            .filter(master_password_resets::status.eq_any([PENDING, EXPIRED]))
            .filter(master_password_resets::secret_expires_at.is_not_null()),
    )
    .set((
        master_password_resets::status.eq(SUPERSEDED),
        master_password_resets::superseded_by.eq(by.to_string()),
        master_password_resets::secret_hash.eq(None::<Vec<u8>>),
        master_password_resets::updated_at.eq(at),
    ))
    .execute(conn)?)
}

pub fn insert(conn: &mut DbConn, reset: &NewReset) -> Result<(), DbError> {
    diesel::insert_into(master_password_resets::table)
        .values(reset)
        .execute(conn)?;
    Ok(())
}

/// A reset with the status of its email (`queued`, `sent`, `retrying`,
/// `dead`; `None` when it has no email).
pub type WithEmail = (Reset, Option<String>);

/// A reset of `partner`, with its email's status.
pub fn find(
    conn: &mut DbConn,
    partner: PartnerId,
    id: ResetId,
) -> Result<Option<WithEmail>, DbError> {
    Ok(master_password_resets::table
        .left_join(
            outbox_messages::table.on(outbox_messages::id
                .nullable()
                .eq(master_password_resets::outbox_message_id)),
        )
        .filter(master_password_resets::id.eq(id.to_string()))
        .filter(master_password_resets::partner_id.eq(partner.to_string()))
        .select((Reset::as_select(), outbox_messages::status.nullable()))
        .first(conn)
        .optional()?)
}

/// The user's pending reset, if any (at most one: each supersedes the last).
pub fn pending_of(conn: &mut DbConn, user: UserId) -> Result<Option<Reset>, DbError> {
    Ok(master_password_resets::table
        .filter(master_password_resets::user_id.eq(user.to_string()))
        .filter(master_password_resets::status.eq(PENDING))
        .select(Reset::as_select())
        .order(master_password_resets::id.desc())
        .first(conn)
        .optional()?)
}

/// The user's request awaiting approval, if any (at most one).
pub fn awaiting_of(conn: &mut DbConn, user: UserId) -> Result<Option<Reset>, DbError> {
    Ok(master_password_resets::table
        .filter(master_password_resets::user_id.eq(user.to_string()))
        .filter(master_password_resets::status.eq(AWAITING_APPROVAL))
        .select(Reset::as_select())
        .first(conn)
        .optional()?)
}

/// What carrying out an approved request did: the counts of the purge, the
/// secret and its email.
#[derive(Debug, Clone)]
pub struct Carried {
    pub delivery_kind: Delivery,
    pub secret_hash: Vec<u8>,
    pub secret_expires_at: NaiveDateTime,
    pub outbox_message_id: String,
    pub personal_items_purged: i64,
    pub company_items_purged: i64,
    pub company_items_preserved: i64,
    pub acknowledged_company_data_loss: bool,
}

/// Who decided a request awaiting approval, when, and why.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub by_kind: &'a str,
    pub by_id: &'a str,
    pub comment: Option<&'a str>,
    pub at: NaiveDateTime,
}

/// The request `id`, approved and carried out: pending the user's action,
/// with what the purge did and the secret it drew; whether it was still
/// awaiting approval.
pub fn approve(
    conn: &mut DbConn,
    id: ResetId,
    carried: &Carried,
    decision: &Decision,
) -> Result<bool, DbError> {
    use master_password_resets::dsl as r;
    let updated = diesel::update(
        r::master_password_resets
            .filter(r::id.eq(id.to_string()))
            .filter(r::status.eq(AWAITING_APPROVAL)),
    )
    .set((
        (
            r::status.eq(PENDING),
            r::delivery_kind.eq(carried.delivery_kind),
            r::secret_hash.eq(&carried.secret_hash),
            r::secret_expires_at.eq(carried.secret_expires_at),
            r::outbox_message_id.eq(&carried.outbox_message_id),
            r::personal_items_purged.eq(carried.personal_items_purged),
            r::company_items_purged.eq(carried.company_items_purged),
            r::company_items_preserved.eq(carried.company_items_preserved),
            r::acknowledged_company_data_loss.eq(carried.acknowledged_company_data_loss),
        ),
        (
            r::decided_by_kind.eq(decision.by_kind),
            r::decided_by_id.eq(decision.by_id),
            r::decided_at.eq(decision.at),
            r::decision_comment.eq(decision.comment),
            r::updated_at.eq(decision.at),
        ),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// The request `id`, rejected: nothing of the user changes; whether it was
/// still awaiting approval.
pub fn reject(conn: &mut DbConn, id: ResetId, decision: &Decision) -> Result<bool, DbError> {
    use master_password_resets::dsl as r;
    let updated = diesel::update(
        r::master_password_resets
            .filter(r::id.eq(id.to_string()))
            .filter(r::status.eq(AWAITING_APPROVAL)),
    )
    .set((
        r::status.eq(REJECTED),
        r::decided_by_kind.eq(decision.by_kind),
        r::decided_by_id.eq(decision.by_id),
        r::decided_at.eq(decision.at),
        r::decision_comment.eq(decision.comment),
        r::updated_at.eq(decision.at),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// A request whose approval expired, as the sweep found it.
#[derive(Debug, Clone, Queryable)]
pub struct ExpiredRequest {
    pub id: ResetId,
    pub partner_id: PartnerId,
    pub user_id: UserId,
    pub batch_id: Option<crate::ids::BatchId>,
}

/// Requests awaiting approval whose time ran out by `now` become
/// `expired`; nothing of their users changes. Returns them.
pub fn expire_requests(
    conn: &mut DbConn,
    now: NaiveDateTime,
) -> Result<Vec<ExpiredRequest>, DbError> {
    use master_password_resets::dsl as r;
    let due: Vec<ExpiredRequest> = r::master_password_resets
        .filter(r::approval_expires_at.le(now))
        .filter(r::status.eq(AWAITING_APPROVAL))
        .order(r::id.asc())
        .select((r::id, r::partner_id, r::user_id, r::batch_id))
        .load(conn)?;
    let mut expired = Vec::with_capacity(due.len());
    for request in due {
        // The user's row first, as every change of a user's resets takes
        // it; an approval may have won meanwhile.
        lock_user(conn, request.partner_id, request.user_id)?;
        if expire_request(conn, request.id, now)? {
            expired.push(request);
        }
    }
    Ok(expired)
}

/// The request `id`, still awaiting approval, becomes `expired` (the
/// caller holds its user's lock); whether it was still awaiting.
pub fn expire_request(conn: &mut DbConn, id: ResetId, now: NaiveDateTime) -> Result<bool, DbError> {
    use master_password_resets::dsl as r;
    let updated = diesel::update(
        r::master_password_resets
            .filter(r::id.eq(id.to_string()))
            .filter(r::status.eq(AWAITING_APPROVAL)),
    )
    .set((r::status.eq(EXPIRED), r::updated_at.eq(now)))
    .execute(conn)?;
    Ok(updated == 1)
}

/// What a list of resets is filtered by.
#[derive(Debug, Clone, Default)]
pub struct ResetFilter {
    /// Resets of these companies only (`None`: every company of the partner).
    pub companies: Option<Vec<CompanyId>>,
    pub user: Option<UserId>,
    pub status: Option<ResetStatus>,
    pub after: Option<ResetId>,
    pub limit: i64,
}

/// A page of a partner's resets, oldest first.
pub fn list(
    conn: &mut DbConn,
    partner: PartnerId,
    filter: &ResetFilter,
) -> Result<Vec<WithEmail>, DbError> {
    let mut query = master_password_resets::table
        .left_join(
            outbox_messages::table.on(outbox_messages::id
                .nullable()
                .eq(master_password_resets::outbox_message_id)),
        )
        .filter(master_password_resets::partner_id.eq(partner.to_string()))
        .into_boxed();
    if let Some(companies) = &filter.companies {
        let ids: Vec<String> = companies.iter().map(ToString::to_string).collect();
        query = query.filter(master_password_resets::company_id.eq_any(ids));
    }
    if let Some(user) = filter.user {
        query = query.filter(master_password_resets::user_id.eq(user.to_string()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(master_password_resets::status.eq(*status));
    }
    if let Some(after) = filter.after {
        query = query.filter(master_password_resets::id.gt(after.to_string()));
    }
    Ok(query
        .order(master_password_resets::id.asc())
        .limit(filter.limit)
        .select((Reset::as_select(), outbox_messages::status.nullable()))
        .load(conn)?)
}

/// What checking a reset's secret needs: the pending reset of a user, its
/// delivery, the secret's keyed hash and expiry.
#[derive(Debug, Clone, Queryable)]
pub struct PendingSecret {
    pub reset_id: ResetId,
    pub delivery_kind: Delivery,
    pub secret_hash: Option<Vec<u8>>,
    pub secret_expires_at: Option<NaiveDateTime>,
}

/// The secret of the user's pending reset, if any.
pub fn pending_secret(conn: &mut DbConn, user: UserId) -> Result<Option<PendingSecret>, DbError> {
    Ok(master_password_resets::table
        .filter(master_password_resets::user_id.eq(user.to_string()))
        .filter(master_password_resets::status.eq(PENDING))
        .select((
            master_password_resets::id,
            master_password_resets::delivery_kind,
            master_password_resets::secret_hash,
            master_password_resets::secret_expires_at,
        ))
        .order(master_password_resets::id.desc())
        .first(conn)
        .optional()?)
}

/// A pending reset found by its secret.
#[derive(Debug, Clone, Queryable)]
pub struct BySecret {
    pub reset_id: ResetId,
    pub partner_id: PartnerId,
    pub user_id: UserId,
    pub delivery_kind: Delivery,
    pub secret_expires_at: Option<NaiveDateTime>,
}

/// The pending reset a link's token belongs to, found by the token's keyed
/// hash (index `master_password_resets_secret`).
pub fn pending_by_secret(
    conn: &mut DbConn,
    secret_hash: &[u8],
) -> Result<Option<BySecret>, DbError> {
    Ok(master_password_resets::table
        .filter(master_password_resets::secret_hash.eq(secret_hash))
        .filter(master_password_resets::status.eq(PENDING))
        .select((
            master_password_resets::id,
            master_password_resets::partner_id,
            master_password_resets::user_id,
            master_password_resets::delivery_kind,
            master_password_resets::secret_expires_at,
        ))
        .first(conn)
        .optional()?)
}

/// Completes the reset `id` if it is still pending with this secret (a
/// re-issue or a supersede in between changed or erased it) and the secret
/// has not expired at `at`; whether it did.
pub fn complete_with_secret(
    conn: &mut DbConn,
    id: ResetId,
    secret_hash: &[u8],
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let updated = diesel::update(
        master_password_resets::table
            .filter(master_password_resets::id.eq(id))
            .filter(master_password_resets::status.eq(PENDING))
            .filter(master_password_resets::secret_hash.eq(secret_hash))
            .filter(master_password_resets::secret_expires_at.gt(at)),
    )
    .set((
        master_password_resets::status.eq(COMPLETED),
        master_password_resets::secret_hash.eq(None::<Vec<u8>>),
        master_password_resets::completed_at.eq(at),
        master_password_resets::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Marks the user's pending reset completed, its secret erased; whether
/// there was one.
pub fn complete_pending(
    conn: &mut DbConn,
    user: UserId,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let updated = diesel::update(
        master_password_resets::table
            .filter(master_password_resets::user_id.eq(user.to_string()))
            .filter(master_password_resets::status.eq(PENDING)),
    )
    .set((
        master_password_resets::status.eq(COMPLETED),
        master_password_resets::secret_hash.eq(None::<Vec<u8>>),
        master_password_resets::completed_at.eq(at),
        master_password_resets::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(updated > 0)
}

/// A pending or expired reset's fresh secret: its keyed hash, expiry and
/// email replace the old ones (whose secret dies at once) and the reset is
/// pending again; `false` when it is neither (completed or superseded).
pub fn reissue(
    conn: &mut DbConn,
    reset: ResetId,
    secret_hash: &[u8],
    expires_at: NaiveDateTime,
    message: &str,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let updated = diesel::update(
        master_password_resets::table
            .filter(master_password_resets::id.eq(reset.to_string()))
            .filter(master_password_resets::status.eq_any([PENDING, EXPIRED])),
    )
    .set((
        master_password_resets::status.eq(PENDING),
        master_password_resets::secret_hash.eq(secret_hash),
        master_password_resets::secret_expires_at.eq(expires_at),
        master_password_resets::outbox_message_id.eq(message),
        master_password_resets::reissue_count.eq(master_password_resets::reissue_count + 1),
        master_password_resets::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Pending resets whose secret expired by `now` become `expired`, their
/// secret's hash erased and their email withdrawn if it was not sent yet;
/// how many. (Sign-in refuses an expired secret whether or not this ran.)
pub fn expire_due(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, DbError> {
    use master_password_resets::dsl as r;
    let due: Vec<(String, String, String)> = r::master_password_resets
        .filter(r::status.eq(PENDING))
        .filter(r::secret_expires_at.le(now))
        .order(r::id.asc())
        .select((r::id, r::partner_id, r::user_id))
        .load(conn)?;
    let mut expired = 0;
    for (id, partner, user) in &due {
        let (Some(partner), Some(user)) = (PartnerId::parse(partner), UserId::parse(user)) else {
            continue;
        };
        // The user's row first, as every change of a user's resets takes
        // it; then the reset again, as it is now (a re-issue may have given
        // it a fresh secret meanwhile).
        lock_user(conn, partner, user)?;
        let message: Option<Option<String>> = r::master_password_resets
            .filter(r::id.eq(id))
            .filter(r::status.eq(PENDING))
            .filter(r::secret_expires_at.le(now))
            .select(r::outbox_message_id)
            .first(conn)
            .optional()?;
        let Some(message) = message else {
            continue;
        };
        diesel::update(r::master_password_resets.filter(r::id.eq(id)))
            .set((
                r::status.eq(EXPIRED),
                r::secret_hash.eq(None::<Vec<u8>>),
                r::updated_at.eq(now),
            ))
            .execute(conn)?;
        if let Some(message) = message {
            super::outbox::withdraw(conn, &message, "withdrawn: the secret expired", now)?;
        }
        expired += 1;
    }
    Ok(expired)
}

/// The outbox messages of the user's pending resets (their secrets'
/// emails), to withdraw when the secrets die with the user.
pub fn unsent_messages(conn: &mut DbConn, user: UserId) -> Result<Vec<String>, DbError> {
    let found: Vec<Option<String>> = master_password_resets::table
        .filter(master_password_resets::user_id.eq(user.to_string()))
        .filter(master_password_resets::status.eq(PENDING))
        .select(master_password_resets::outbox_message_id)
        .load(conn)?;
    Ok(found.into_iter().flatten().collect())
}

/// Bumps the user's token generation: every token issued before (a
/// restricted one from an old temporary password too) is refused.
pub fn revoke_user_tokens(
    conn: &mut DbConn,
    user: UserId,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(users::table.filter(users::id.eq(user.to_string())))
        .set((
            users::token_generation.eq(users::token_generation + 1),
            users::version.eq(users::version + 1),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}
