//! Invitations, of end users and of admins alike: a single-use link whose
//! 256-bit token is drawn here, travels only sealed in the outbox row of
//! its email, and is kept as its keyed hash (each kind of invitation under
//! its own purpose), valid for the partner's invitation lifetime. Sending
//! one again draws a new token: the earlier link dies, and its email is
//! withdrawn when it has not been sent yet.

use chrono::NaiveDateTime;
use secrecy::{ExposeSecret, SecretString};

#[cfg(doc)]
use crate::auth;
use crate::auth::keys::ServerKeys;
use crate::db::users::InvitationRow;
use crate::db::{DbConn, DbError, outbox, partners};
use crate::ids::PartnerId;

/// Where an invitation goes: its email's template, locale and recipient, in
/// the partner that sends it.
pub(super) struct Letter<'a> {
    pub partner: PartnerId,
    pub template: &'a str,
    pub locale: &'a str,
    pub recipient: &'a str,
}

/// An invitation drawn and its email queued, to be stored on its row.
pub(super) struct Drawn {
    hash: Vec<u8>,
    pub expires_at: NaiveDateTime,
    message_id: String,
}

impl Drawn {
    pub fn row(&self) -> InvitationRow<'_> {
        InvitationRow {
            hash: &self.hash,
            expires_at: self.expires_at,
            message_id: &self.message_id,
        }
    }
}

/// Draws an invitation in the caller's transaction, for `token` (a fresh
/// [`auth::link_token`], which the payload carries): the token's keyed hash
/// under `purpose`, its expiry (the partner's invitation lifetime from
/// `now`), and its email queued with the payload `payload` makes for that
/// expiry.
pub(super) fn draw<P: serde::Serialize>(
    conn: &mut DbConn,
    keys: &ServerKeys,
    purpose: &str,
    token: &SecretString,
    letter: Letter<'_>,
    now: NaiveDateTime,
    payload: impl FnOnce(NaiveDateTime) -> P,
) -> Result<Drawn, DbError> {
    let ttl = partners::find(conn, letter.partner)?
        .map_or(partners::DEFAULT_INVITATION_TTL_SECONDS, |p| {
            p.invitation_ttl_seconds
        });
    let expires_at = now + chrono::Duration::seconds(ttl);
    let hash = keys.keyed_hash(purpose, token.expose_secret().as_bytes());
    let message_id = outbox::queue(
        conn,
        keys,
        letter.partner,
        outbox::Email {
            template: letter.template,
            locale: letter.locale,
            recipient: letter.recipient,
            payload: &payload(expires_at),
            now,
        },
    )?;
    Ok(Drawn {
        hash,
        expires_at,
        message_id,
    })
}

/// Withdraws the email of the invitation a new one replaced, when it has
/// not been sent yet.
pub(super) fn replaced(
    conn: &mut DbConn,
    before: Option<String>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    if let Some(before) = before {
        outbox::withdraw(
            conn,
            &before,
            "withdrawn: the invitation was sent again",
            now,
        )?;
    }
    Ok(())
}
