//! The transactional outbox: an email is a row written in the transaction of
//! the change that causes it, and delivered afterwards by a worker. A message
//! that carries a secret keeps its payload sealed (XChaCha20-Poly1305 under a
//! server key, bound to the row's id) until it is sent or dead-lettered, and
//! then the payload is erased.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox_messages;
use super::{DbConn, DbError};

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
