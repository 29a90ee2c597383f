//! The transactional outbox: an email is a row written in the transaction of
//! the change that causes it, and delivered afterwards by a worker. A message
//! that carries a secret keeps its payload sealed (XChaCha20-Poly1305 under a
//! server key, bound to the row's id) until it is sent or dead-lettered, and
//! then the payload is erased.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox_messages;
use super::{DbConn, DbError};
use crate::auth::keys::ServerKeys;
use crate::ids::{OutboxMessageId, PartnerId};

pub use super::types::EmailStatus;

/// The statuses of a message (see [`EmailStatus`]).
pub const QUEUED: EmailStatus = EmailStatus::Queued;
pub const SENDING: EmailStatus = EmailStatus::Sending;
pub const SENT: EmailStatus = EmailStatus::Sent;
pub const RETRYING: EmailStatus = EmailStatus::Retrying;
pub const DEAD: EmailStatus = EmailStatus::Dead;

/// A new message's row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox_messages)]
pub struct NewMessage {
    pub id: String,
    pub partner_id: String,
    /// Which template renders it, e.g. `master_password_reset`.
    pub template: String,
    pub locale: String,
    pub recipient: String,
    /// The RFC 5322 Message-ID, stable across retries, so a receiving server
    /// (and a person) recognises a resend of the same message.
    pub message_id: String,
    pub payload_ciphertext: Option<Vec<u8>>,
    pub status: EmailStatus,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, message: &NewMessage) -> Result<(), DbError> {
    diesel::insert_into(outbox_messages::table)
        .values(message)
        .execute(conn)?;
    Ok(())
}

/// The sealing context of a message's payload: its row id, so a sealed
/// payload cannot be moved to another row.
pub fn seal_context(id: &str) -> String {
    format!("outbox:{id}")
}

/// An email to queue: its template, the recipient's locale and address, and
/// what the template fills in (sealed, as it may carry a secret).
#[derive(Debug)]
pub struct Email<'a, P: serde::Serialize> {
    pub template: &'a str,
    pub locale: &'a str,
    pub recipient: &'a str,
    pub payload: &'a P,
    pub now: NaiveDateTime,
}

/// Writes an email to the outbox, in the caller's transaction, its payload
/// sealed under the server key and bound to the row; the row's id.
pub fn queue<P: serde::Serialize>(
    conn: &mut DbConn,
    keys: &ServerKeys,
    partner: PartnerId,
    email: Email<'_, P>,
) -> Result<String, DbError> {
    let id = OutboxMessageId::new().to_string();
    let mut payload = serde_json::to_vec(email.payload).expect("an email payload serializes");
    let sealed = keys.seal(&seal_context(&id), &payload);
    payload.fill(0);
    insert(
        conn,
        &NewMessage {
            id: id.clone(),
            partner_id: partner.to_string(),
            template: email.template.into(),
            locale: email.locale.into(),
            recipient: email.recipient.into(),
            message_id: format!("<{}.{id}@custodian>", email.template),
            payload_ciphertext: Some(sealed),
            status: QUEUED,
            next_attempt_at: email.now,
            created_at: email.now,
            updated_at: email.now,
        },
    )?;
    Ok(id)
}

/// Withdraws a message not yet sent (its secret died): the payload is erased
/// and the message dead-lettered, so no worker sends it. Whether there was
/// one to withdraw (a message sent or dead already is left as it is).
pub fn withdraw(
    conn: &mut DbConn,
    id: &str,
    why: &str,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let withdrawn = diesel::update(
        outbox_messages::table
            .filter(outbox_messages::id.eq(id))
            .filter(outbox_messages::status.ne_all([SENT, DEAD])),
    )
    .set((
        outbox_messages::payload_ciphertext.eq(None::<Vec<u8>>),
        outbox_messages::status.eq(DEAD),
        outbox_messages::last_error.eq(why),
        outbox_messages::dead_at.eq(at),
        outbox_messages::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(withdrawn == 1)
}

/// Withdraws every message of the partner not yet sent, as [`withdraw`]
/// does one; how many.
pub fn withdraw_of_partner(
    conn: &mut DbConn,
    partner: PartnerId,
    why: &str,
    at: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        outbox_messages::table
            .filter(outbox_messages::partner_id.eq(partner.to_string()))
            .filter(outbox_messages::status.ne_all([SENT, DEAD])),
    )
    .set((
        outbox_messages::payload_ciphertext.eq(None::<Vec<u8>>),
        outbox_messages::status.eq(DEAD),
        outbox_messages::last_error.eq(why),
        outbox_messages::dead_at.eq(at),
        outbox_messages::updated_at.eq(at),
    ))
    .execute(conn)?)
}

/// A message a worker claimed: what it needs to render and send it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = outbox_messages)]
pub struct Claimed {
    pub id: String,
    pub template: String,
    pub locale: String,
    pub recipient: String,
    pub message_id: String,
    pub payload_ciphertext: Option<Vec<u8>>,
    /// Tries begun, this one included.
    pub attempts: i32,
    pub created_at: NaiveDateTime,
}

/// A claimed message, and whether it was claimed again from a worker whose
/// lease ran out (that worker died, or lost its outcome).
#[derive(Debug)]
pub struct Claim {
    pub message: Claimed,
    pub reclaimed: bool,
}

/// Claims up to `limit` messages due at `now` for `worker` until
/// `lease_until`, oldest first: queued or retrying ones whose time came,
/// and ones a worker claimed and never finished (it died) whose lease ran
/// out. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`, so
/// workers of several instances claim disjoint rows without waiting on each
/// other; SQLite has one writer at a time, which does the same.
///
/// Each status is looked up on its own, in the order of the index on
/// `(status, next_attempt_at)`, so a claim costs the same whether ten or a
/// hundred thousand messages wait (one query over all three statuses would
/// sort every due message, each time). Up to `limit` of each are locked
/// and the oldest `limit` claimed; the others go back to waiting when the
/// transaction ends.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claim>, DbError> {
    // A claim that found only a suspended partner's messages (withdrawn
    // now) looks again, so other partners' due messages do not wait.
    loop {
        let (claimed, withdrawn) = claim_once(conn, worker, now, lease_until, limit)?;
        if !claimed.is_empty() || withdrawn == 0 {
            return Ok(claimed);
        }
    }
}

/// One try of [`claim`]: what it claimed, and how many messages of
/// suspended partners it withdrew instead.
fn claim_once(
    conn: &mut DbConn,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<(Vec<Claim>, usize), DbError> {
    use outbox_messages::dsl as m;
    let mut due: Vec<(String, EmailStatus, NaiveDateTime)> = Vec::new();
    for status in [QUEUED, RETRYING, SENDING] {
        let waiting = m::outbox_messages
            .filter(m::status.eq(status))
            .filter(m::next_attempt_at.le(now))
            // Only a message being sent holds a lease: it is due again once
            // the lease ran out.
            .filter(m::locked_until.is_null().or(m::locked_until.le(now)))
            .order(m::next_attempt_at.asc())
            .limit(limit)
            .select((m::id, m::status, m::next_attempt_at));
        due.extend(match conn {
            DbConn::Postgres(pg) => waiting.for_update().skip_locked().load(pg)?,
            DbConn::Sqlite(sqlite) => waiting.load(sqlite)?,
        });
    }
    due.sort_by_key(|(_, _, at)| *at);
    due.truncate(usize::try_from(limit).unwrap_or(0));
    if due.is_empty() {
        return Ok((Vec::new(), 0));
    }
    // A suspended partner's messages are withdrawn, not sent: one queued
    // by work that was under way as the partner was suspended ends here.
    // (The suspended partners are few; the subquery reads only them.)
    let due_ids: Vec<&String> = due.iter().map(|(id, _, _)| id).collect();
    let suspended = super::schema::partners::table
        .filter(super::schema::partners::suspended_at.is_not_null())
        .select(super::schema::partners::id);
    let of_suspended: Vec<String> = m::outbox_messages
        .filter(m::id.eq_any(&due_ids))
        .filter(m::partner_id.eq_any(suspended))
        .select(m::id)
        .load(conn)?;
    for id in &of_suspended {
        withdraw(conn, id, "withdrawn: the partner is suspended", now)?;
    }
    let ids: Vec<&String> = due
        .iter()
        .map(|(id, _, _)| id)
        .filter(|id| !of_suspended.contains(id))
        .collect();
    if ids.is_empty() {
        return Ok((Vec::new(), of_suspended.len()));
    }
    diesel::update(m::outbox_messages.filter(m::id.eq_any(&ids)))
        .set((
            m::status.eq(SENDING),
            m::locked_by.eq(worker),
            m::locked_until.eq(lease_until),
            m::attempts.eq(m::attempts + 1),
            m::updated_at.eq(now),
        ))
        .execute(conn)?;
    let claimed: Vec<Claimed> = m::outbox_messages
        .filter(m::id.eq_any(&ids))
        .order(m::next_attempt_at.asc())
        .select(Claimed::as_select())
        .load(conn)?;
    let claims = claimed
        .into_iter()
        .map(|message| Claim {
            reclaimed: due
                .iter()
                .any(|(id, status, _)| *id == message.id && *status == SENDING),
            message,
        })
        .collect();
    Ok((claims, of_suspended.len()))
}

/// Whether `worker` still holds its claim on the message (it was not
/// withdrawn, nor claimed by another worker, since).
pub fn still_claimed(conn: &mut DbConn, id: &str, worker: &str) -> Result<bool, DbError> {
    use outbox_messages::dsl as m;
    let held: i64 = m::outbox_messages
        .filter(m::id.eq(id))
        .filter(m::status.eq(SENDING))
        .filter(m::locked_by.eq(worker))
        .count()
        .get_result(conn)?;
    Ok(held == 1)
}

/// Gives back a claimed message that was not tried: waiting again at once,
/// as it was before the claim (the try it would have been is not counted).
pub fn release(
    conn: &mut DbConn,
    id: &str,
    worker: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use outbox_messages::dsl as m;
    let claimed = || {
        m::outbox_messages
            .filter(m::id.eq(id))
            .filter(m::status.eq(SENDING))
            .filter(m::locked_by.eq(worker))
    };
    let attempts: Option<i32> = claimed().select(m::attempts).first(conn).optional()?;
    let Some(attempts) = attempts else {
        return Ok(());
    };
    diesel::update(claimed())
        .set((
            m::status.eq(if attempts <= 1 { QUEUED } else { RETRYING }),
            m::attempts.eq(attempts - 1),
            m::locked_by.eq(None::<String>),
            m::locked_until.eq(None::<NaiveDateTime>),
            m::next_attempt_at.eq(now),
            m::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// What became of a claimed message's try.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent,
    /// Try again at the given time.
    Retry {
        at: NaiveDateTime,
        error: String,
    },
    /// Give up.
    Dead {
        error: String,
    },
}

/// Records a try's outcome, if `worker` still holds the claim (a message
/// withdrawn meanwhile stays withdrawn); whether it did. Sent and dead
/// messages lose their payload.
pub fn record(
    conn: &mut DbConn,
    id: &str,
    worker: &str,
    outcome: &Outcome,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    use outbox_messages::dsl as m;
    let claimed = m::outbox_messages
        .filter(m::id.eq(id))
        .filter(m::status.eq(SENDING))
        .filter(m::locked_by.eq(worker));
    let none = None::<NaiveDateTime>;
    let changed = match outcome {
        Outcome::Sent => diesel::update(claimed)
            .set((
                m::status.eq(SENT),
                m::payload_ciphertext.eq(None::<Vec<u8>>),
                m::sent_at.eq(now),
                m::locked_until.eq(none),
                m::last_error.eq(None::<String>),
                m::updated_at.eq(now),
            ))
            .execute(conn)?,
        Outcome::Retry { at, error } => diesel::update(claimed)
            .set((
                m::status.eq(RETRYING),
                m::next_attempt_at.eq(at),
                m::locked_until.eq(none),
                m::last_error.eq(error),
                m::updated_at.eq(now),
            ))
            .execute(conn)?,
        Outcome::Dead { error } => diesel::update(claimed)
            .set((
                m::status.eq(DEAD),
                m::payload_ciphertext.eq(None::<Vec<u8>>),
                m::dead_at.eq(now),
                m::locked_until.eq(none),
                m::last_error.eq(error),
                m::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}
