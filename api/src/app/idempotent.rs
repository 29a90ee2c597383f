//! Creating under the caller's `Idempotency-Key`: a retry with the same key
//! and the same request answers the first result again instead of creating
//! a second object; the same key with another request is 422. The result is
//! kept in the creating transaction, so the two commit together.
//!
//! [`create`] is the whole of it for an operation that only creates;
//! operations with a transaction of their own (a reset, a batch) call
//! [`replay`] and [`keep`] inside it.

use chrono::{Duration, NaiveDateTime};

use super::resets::{IDEMPOTENCY_HOURS, Idempotency, key_reused};
use super::{App, Error, OpContext};
use crate::auth::keys::ServerKeys;
use crate::db::{DbConn, DbError, idempotency};
use crate::ids::PartnerId;

/// Who asked, under which key: a key is the caller's own.
#[derive(Clone, Copy)]
pub struct Keyed<'a> {
    pub partner: PartnerId,
    /// The admin's or API client's id.
    pub principal: &'a str,
    pub key: &'a Idempotency,
    pub now: NaiveDateTime,
    /// Seals and opens the kept result.
    pub keys: &'a ServerKeys,
}

impl Keyed<'_> {
    /// What a kept result is sealed to: its partner, caller and key, so a
    /// row moved to another key does not open.
    fn context(&self) -> String {
        format!(
            "idempotency/{}/{}/{}",
            self.partner, self.principal, self.key.key
        )
    }
}

/// The kept result, its body opened.
fn opened(keyed: Keyed<'_>, mut stored: idempotency::Stored) -> Result<idempotency::Stored, Error> {
    if stored.body_sealed
        && let Some(sealed) = &stored.response_body
    {
        let body = keyed.keys.open(&keyed.context(), sealed).map_err(|_| {
            DbError::Corrupt("a result kept under an idempotency key does not open".into())
        })?;
        stored.response_body = Some(body);
        stored.body_sealed = false;
    }
    Ok(stored)
}

/// Inside the caller's transaction: the result kept under the key, to
/// answer again (a retry racing the first request finds it here once the
/// first commit is through); 422 when the key was used for another request.
pub fn replay(conn: &mut DbConn, keyed: Keyed<'_>) -> Result<Option<idempotency::Stored>, Error> {
    let Some(stored) = idempotency::find(
        conn,
        keyed.partner,
        keyed.principal,
        &keyed.key.key,
        keyed.now,
    )?
    else {
        return Ok(None);
    };
    if stored.request_fingerprint == keyed.key.fingerprint {
        opened(keyed, stored).map(Some)
    } else {
        Err(key_reused())
    }
}

/// Inside the caller's transaction: keeps `body`, answered with `status`,
/// sealed under the key for [`IDEMPOTENCY_HOURS`].
pub fn keep(conn: &mut DbConn, keyed: Keyed<'_>, status: u16, body: &[u8]) -> Result<(), DbError> {
    idempotency::insert(
        conn,
        keyed.partner,
        keyed.principal,
        &keyed.key.key,
        &keyed.key.fingerprint,
        status,
        &keyed.keys.seal(&keyed.context(), body),
        keyed.now,
        keyed.now + Duration::hours(IDEMPOTENCY_HOURS),
    )
}

/// Whose key it is: a key is its caller's own, within the caller's partner
/// (the platform operator's, within [`PLATFORM`]).
#[derive(Debug, Clone)]
pub struct Asker {
    pub partner: PartnerId,
    /// The admin's, API client's or operator's id.
    pub principal: String,
    pub now: NaiveDateTime,
}

/// The partner id the platform operator's keys are kept under (the nil
/// UUID: no partner has it).
pub const PLATFORM: PartnerId = PartnerId::NIL;

impl From<&OpContext> for Asker {
    fn from(ctx: &OpContext) -> Self {
        Self {
            partner: ctx.partner,
            principal: ctx.actor.id().to_string(),
            now: ctx.now,
        }
    }
}

/// Before any transaction: the result kept under the caller's key, to
/// answer again; `None` for a first request (or without a key); 422 when
/// the key was used for another request.
pub async fn stored_result(
    app: &App,
    asker: impl Into<Asker>,
    key: Option<Idempotency>,
) -> Result<Option<idempotency::Stored>, Error> {
    let Some(key) = key else {
        return Ok(None);
    };
    let Asker {
        partner,
        principal,
        now,
    } = asker.into();
    let keys = app.keys.clone();
    app.db
        .run(move |conn| {
            replay(
                conn,
                Keyed {
                    partner,
                    principal: &principal,
                    key: &key,
                    now,
                    keys: &keys,
                },
            )
        })
        .await
}

/// What a creation under a key made.
#[derive(Debug)]
pub enum Made<T> {
    /// Made now, with the representation kept under the key (if any).
    New(T),
    /// A retry: the first result's representation.
    Replayed(idempotency::Stored),
}

/// Runs `create` in a write transaction, under `key` when one was sent:
/// the first result found under it is answered again (before the
/// transaction, and inside it should a retry race the first request), and
/// a new result is kept under it as `render` represents it (status 201).
/// A storage error whose constraint is the key's (two requests racing under
/// one key) is 422, as a key reused for another request.
pub async fn create<T, F, R>(
    app: &App,
    asker: impl Into<Asker>,
    key: Option<Idempotency>,
    create: F,
    render: R,
) -> Result<Made<T>, Error>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, Error> + Send + 'static,
    R: FnOnce(&T) -> Vec<u8> + Send + 'static,
{
    let asker: Asker = asker.into();
    if let Some(stored) = stored_result(app, asker.clone(), key.clone()).await? {
        return Ok(Made::Replayed(stored));
    }
    let (partner, principal, now) = (asker.partner, asker.principal.clone(), asker.now);
    let keys = app.keys.clone();
    let retry = key.clone();
    let made = app
        .db
        .write(move |conn| {
            let Some(key) = key else {
                return create(conn).map(Made::New);
            };
            let keyed = Keyed {
                partner,
                principal: &principal,
                key: &key,
                now,
                keys: &keys,
            };
            if let Some(stored) = replay(conn, keyed)? {
                return Ok(Made::Replayed(stored));
            }
            let made = create(conn)?;
            keep(conn, keyed, 201, &render(&made))?;
            Ok(Made::New(made))
        })
        .await;
    match made {
        // A retry that raced the first request under its key (PostgreSQL:
        // both inserted before either committed) answers the first result,
        // now committed; the object's own uniqueness refused it first.
        Err(Error::Storage(error)) if retry.is_some() && error.is_unique_violation() => {
            match stored_result(app, asker, retry).await? {
                Some(stored) => Ok(Made::Replayed(stored)),
                None if is_key_taken(&error) => Err(key_reused()),
                None => Err(Error::Storage(error)),
            }
        }
        made => made,
    }
}

/// Whether a unique constraint of the idempotency keys refused a write.
fn is_key_taken(error: &DbError) -> bool {
    error.is_unique_violation() && error.to_string().contains("idempotency_keys")
}
