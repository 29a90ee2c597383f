//! The sign-in throttle's shared counts (`sign_in_throttle`): what several
//! instances on one PostgreSQL database read and write so that they throttle
//! as one. Rows are named by a keyed hash the caller computes; this module
//! knows nothing of what is counted, only how to read, write, lock and sweep
//! the rows. (A single SQLite process keeps its counts in memory:
//! `auth::throttle`.)

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sign_in_throttle;
use super::{DbConn, DbError};

/// One counted thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub failures: u32,
    /// The last failure (or, for a known place, the last success).
    pub last_at: NaiveDateTime,
    /// When the row stops counting and may be swept.
    pub expires_at: NaiveDateTime,
}

/// The PostgreSQL advisory-lock namespace of throttle rows ("thrt").
const LOCK_NAMESPACE: i32 = 0x7468_7274;

/// Takes the transaction's lock on each key, in the order given (callers
/// sort them, so two transactions never wait on each other in a cycle).
/// Rows that do not exist yet are locked too, which a row lock could not
/// do. SQLite needs nothing: its writers take turns.
pub fn lock(conn: &mut DbConn, keys: &[[u8; 32]]) -> Result<(), DbError> {
    let DbConn::Postgres(c) = conn else {
        return Ok(());
    };
    for key in keys {
        let slot = i32::from_be_bytes([key[0], key[1], key[2], key[3]]);
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind::<diesel::sql_types::Integer, _>(LOCK_NAMESPACE)
            .bind::<diesel::sql_types::Integer, _>(slot)
            .execute(c)?;
    }
    Ok(())
}

/// The rows of `keys` that exist (dead ones included: the caller decides).
pub fn read(conn: &mut DbConn, keys: &[[u8; 32]]) -> Result<Vec<([u8; 32], Count)>, DbError> {
    let wanted: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    let rows: Vec<(Vec<u8>, i32, NaiveDateTime, NaiveDateTime)> = sign_in_throttle::table
        .filter(sign_in_throttle::key.eq_any(wanted))
        .select((
            sign_in_throttle::key,
            sign_in_throttle::failures,
            sign_in_throttle::last_at,
            sign_in_throttle::expires_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, failures, last_at, expires_at)| {
            let key: [u8; 32] = key.try_into().ok()?;
            Some((
                key,
                Count {
                    failures: u32::try_from(failures).unwrap_or(0),
                    last_at,
                    expires_at,
                },
            ))
        })
        .collect())
}

/// Writes `count` under `key`, replacing what was there.
pub fn put(conn: &mut DbConn, key: &[u8; 32], count: Count) -> Result<(), DbError> {
    let failures = i32::try_from(count.failures).unwrap_or(i32::MAX);
    let row = (
        sign_in_throttle::key.eq(key.as_slice()),
        sign_in_throttle::failures.eq(failures),
        sign_in_throttle::last_at.eq(count.last_at),
        sign_in_throttle::expires_at.eq(count.expires_at),
    );
    let update = (
        sign_in_throttle::failures.eq(failures),
        sign_in_throttle::last_at.eq(count.last_at),
        sign_in_throttle::expires_at.eq(count.expires_at),
    );
    // One statement on either backend; the enum has no upsert of its own.
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(sign_in_throttle::table)
            .values(row)
            .on_conflict(sign_in_throttle::key)
            .do_update()
            .set(update)
            .execute(c)?,
        DbConn::Postgres(c) => diesel::insert_into(sign_in_throttle::table)
            .values(row)
            .on_conflict(sign_in_throttle::key)
            .do_update()
            .set(update)
            .execute(c)?,
    };
    Ok(())
}

/// Forgets `key`.
pub fn delete(conn: &mut DbConn, key: &[u8; 32]) -> Result<(), DbError> {
    diesel::delete(sign_in_throttle::table.filter(sign_in_throttle::key.eq(key.as_slice())))
        .execute(conn)?;
    Ok(())
}

/// Takes one failure back from a live `key` (an attempt counted ahead that
/// turned out to succeed), in one statement.
pub fn take_back_one(conn: &mut DbConn, key: &[u8; 32], now: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(
        sign_in_throttle::table
            .filter(sign_in_throttle::key.eq(key.as_slice()))
            .filter(sign_in_throttle::failures.gt(0))
            .filter(sign_in_throttle::expires_at.gt(now)),
    )
    .set(sign_in_throttle::failures.eq(sign_in_throttle::failures - 1))
    .execute(conn)?;
    Ok(())
}

/// Removes every row dead by `now`; how many.
pub fn sweep(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, DbError> {
    Ok(
        diesel::delete(sign_in_throttle::table.filter(sign_in_throttle::expires_at.le(now)))
            .execute(conn)?,
    )
}
