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

/// The statuses of a message.
pub const QUEUED: &str = "queued";

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
    pub status: String,
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
            status: QUEUED.into(),
            next_attempt_at: email.now,
            created_at: email.now,
            updated_at: email.now,
        },
    )?;
    Ok(id)
}

/// Withdraws a message not yet sent (its secret died): the payload is erased
/// and the message dead-lettered, so no worker sends it.
pub fn withdraw(conn: &mut DbConn, id: &str, why: &str, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(
        outbox_messages::table
            .filter(outbox_messages::id.eq(id))
            .filter(outbox_messages::status.ne("sent")),
    )
    .set((
        outbox_messages::payload_ciphertext.eq(None::<Vec<u8>>),
        outbox_messages::status.eq("dead"),
        outbox_messages::last_error.eq(why),
        outbox_messages::dead_at.eq(at),
        outbox_messages::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(())
}
