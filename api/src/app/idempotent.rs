//! Creating under the caller's `Idempotency-Key`: a retry with the same key
//! and the same request answers the first result again instead of creating
//! a second object; the same key with another request is 422. The result is
//! kept in the creating transaction, so the two commit together.

use chrono::Duration;

use super::resets::{IDEMPOTENCY_HOURS, Idempotency, key_reused, stored_result};
use super::{App, Error, OpContext};
use crate::db::{DbConn, DbError, idempotency};

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
    ctx: &OpContext,
    key: Option<Idempotency>,
    create: F,
    render: R,
) -> Result<Made<T>, Error>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, Error> + Send + 'static,
    R: FnOnce(&T) -> Vec<u8> + Send + 'static,
{
    if let Some(stored) = stored_result(app, ctx, key.clone()).await? {
        return Ok(Made::Replayed(stored));
    }
    let (partner, principal, now) = (ctx.partner, ctx.actor.id().to_string(), ctx.now);
    let made = app
        .db
        .write(move |conn| {
            let Some(Idempotency { key, fingerprint }) = key else {
                return create(conn).map(Made::New);
            };
            if let Some(stored) = idempotency::find(conn, partner, &principal, &key, now)? {
                return if stored.request_fingerprint == fingerprint {
                    Ok(Made::Replayed(stored))
                } else {
                    Err(key_reused())
                };
            }
            let made = create(conn)?;
            idempotency::insert(
                conn,
                partner,
                &principal,
                &key,
                &fingerprint,
                201,
                &render(&made),
                now,
                now + Duration::hours(IDEMPOTENCY_HOURS),
            )?;
            Ok(Made::New(made))
        })
        .await;
    match made {
        Err(Error::Storage(error)) if is_key_taken(&error) => Err(key_reused()),
        made => made,
    }
}

/// Whether a unique constraint of the idempotency keys refused a write.
fn is_key_taken(error: &DbError) -> bool {
    error.is_unique_violation() && error.to_string().contains("idempotency_keys")
}
