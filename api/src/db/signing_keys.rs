//! JWT signing keys. The private key (an Ed25519 seed) is stored sealed under
//! the server key, bound to its kid; the public key is stored as it is.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::signing_keys;
use super::{DbConn, DbError};

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub private_key_ciphertext: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
    pub verify_until: Option<NaiveDateTime>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConn, row: &SigningKeyRow) -> Result<(), DbError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Keys that still verify at `now`: the active ones, and retired ones whose
/// tokens may not have expired yet. Newest first.
pub fn verifying(conn: &mut DbConn, now: NaiveDateTime) -> Result<Vec<SigningKeyRow>, DbError> {
    Ok(signing_keys::table
        .filter(
            signing_keys::retired_at
                .is_null()
                .or(signing_keys::verify_until.gt(now)),
        )
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}
