//! Times as the API writes them: UTC, RFC 3339, always exactly six
//! fractional digits (`2026-12-02T10:15:30.123456Z`).
//!
//! Microseconds are what PostgreSQL keeps and what the audit chain hashes,
//! and the server takes every time it stores at that precision
//! ([`crate::clock`]), so a value a `POST` answers is the value a later
//! `GET` reads, on either database. A fixed width also sorts as text.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

/// A point in time, serialized with microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String, format = DateTime, example = "2026-12-02T10:15:30.123456Z")]
pub struct Timestamp(DateTime<Utc>);

impl From<NaiveDateTime> for Timestamp {
    fn from(utc: NaiveDateTime) -> Self {
        Self(utc.and_utc())
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self(at)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_always() {
        let whole = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(
            serde_json::to_string(&Timestamp::from(whole)).unwrap(),
            "\"2027-01-15T08:00:00.000000Z\""
        );
        let nanos = DateTime::from_timestamp(1_800_000_000, 123_456_789).unwrap();
        assert_eq!(
            serde_json::to_string(&Timestamp::from(nanos.naive_utc())).unwrap(),
            "\"2027-01-15T08:00:00.123456Z\""
        );
    }
}
