//! Typed identifiers. Every id is a UUID (v7 when the server makes it, so ids
//! sort by creation), stored as text. `Id<K>` is one type per kind of object,
//! so a partner id cannot be passed where an admin id is expected. A client's
//! malformed id simply names nothing: parsing returns `None`, and the caller
//! answers 404 as for any absent object.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use uuid::Uuid;

/// The id of an object of kind `K`. Rows read it and queries bind it as
/// the text it is stored as; a stored value that is not a UUID fails the
/// row's read (a corrupt row, logged), never a nil id.
#[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Id<K> {
    uuid: Uuid,
    kind: PhantomData<fn() -> K>,
}

/// The kinds of objects with ids.
pub mod kind {
    pub enum Partner {}
    pub enum Admin {}
    pub enum Operator {}
    pub enum OperatorClient {}
    pub enum ApiClient {}
    pub enum ScimToken {}
    pub enum Company {}
    pub enum User {}
    pub enum Reset {}
    pub enum ResetBatch {}
    pub enum OutboxMessage {}
    pub enum BackupCopy {}
    /// An admin or an API client: who requested something, as stored.
    pub enum Actor {}
}

pub type PartnerId = Id<kind::Partner>;
pub type AdminId = Id<kind::Admin>;
pub type OperatorId = Id<kind::Operator>;
pub type OperatorClientId = Id<kind::OperatorClient>;
pub type ApiClientId = Id<kind::ApiClient>;
pub type ScimTokenId = Id<kind::ScimToken>;
pub type CompanyId = Id<kind::Company>;
pub type UserId = Id<kind::User>;
pub type ResetId = Id<kind::Reset>;
pub type BatchId = Id<kind::ResetBatch>;
pub type OutboxMessageId = Id<kind::OutboxMessage>;
pub type BackupCopyId = Id<kind::BackupCopy>;
pub type ActorId = Id<kind::Actor>;

impl<K> Id<K> {
    /// The nil UUID: never an object's id (the server draws v7 ids).
    pub const NIL: Self = Self {
        uuid: Uuid::nil(),
        kind: PhantomData,
    };

    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }

    pub fn from_uuid(uuid: Uuid) -> Self {
        Self {
            uuid,
            kind: PhantomData,
        }
    }

    /// Parses a client's or the database's text; `None` names nothing.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self::from_uuid)
    }

    pub fn uuid(&self) -> Uuid {
        self.uuid
    }
}

impl<K> Default for Id<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Id<K> {}

impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}

impl<K> Eq for Id<K> {}

impl<K> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uuid.hyphenated().fmt(f)
    }
}

impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = std::any::type_name::<K>()
            .rsplit("::")
            .next()
            .unwrap_or("?");
        write!(f, "{kind}Id({})", self.uuid)
    }
}

/// As its text, in audit details and the like.
impl<K> serde::Serialize for Id<K> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

mod sql {
    use diesel::deserialize::{self, FromSql};
    use diesel::serialize::{self, IsNull, Output, ToSql};
    use diesel::sql_types::Text;

    use super::Id;

    impl<K, DB> FromSql<Text, DB> for Id<K>
    where
        DB: diesel::backend::Backend,
        String: FromSql<Text, DB>,
    {
        fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
            let raw = <String as FromSql<Text, DB>>::from_sql(bytes)?;
            // Only the form the server writes (lowercase, hyphenated): a
            // row in another spelling is corrupt, not quietly respelled.
            Self::parse(&raw)
                .filter(|id| {
                    let mut buffer = uuid::Uuid::encode_buffer();
                    raw.as_str() == &*id.uuid.hyphenated().encode_lower(&mut buffer)
                })
                .ok_or_else(|| format!("stored id {raw:?} is not a UUID as written").into())
        }
    }

    // Binding: each backend its own way, as the text is made here and a
    // backend-generic impl could only lend `str` what lives as long as the
    // id (diesel's `str` binding borrows).
    impl<K> ToSql<Text, diesel::pg::Pg> for Id<K> {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::pg::Pg>) -> serialize::Result {
            use std::io::Write;
            let mut buffer = uuid::Uuid::encode_buffer();
            out.write_all(self.uuid.hyphenated().encode_lower(&mut buffer).as_bytes())?;
            Ok(IsNull::No)
        }
    }

    impl<K> ToSql<Text, diesel::sqlite::Sqlite> for Id<K> {
        fn to_sql<'b>(
            &'b self,
            out: &mut Output<'b, '_, diesel::sqlite::Sqlite>,
        ) -> serialize::Result {
            out.set_value(self.to_string());
            Ok(IsNull::No)
        }
    }

    impl<K: 'static> ToSql<Text, crate::db::MultiBackend> for Id<K> {
        fn to_sql<'b>(
            &'b self,
            out: &mut Output<'b, '_, crate::db::MultiBackend>,
        ) -> serialize::Result {
            out.set_value((Text, self));
            Ok(IsNull::No)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = PartnerId::new();
        assert_eq!(PartnerId::parse(&id.to_string()), Some(id));
        assert_eq!(AdminId::parse("not-a-uuid"), None);
        assert_eq!(AdminId::parse(""), None);
        assert!(format!("{id:?}").starts_with("PartnerId("));
    }

    #[test]
    fn new_ids_sort_by_creation() {
        let a = UserId::new();
        let b = UserId::new();
        assert!(a.to_string() < b.to_string());
    }
}
