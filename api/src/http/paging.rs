//! Keyset pagination, the same for every list: `limit` is 50 by default and
//! at most 200 (above: 422, never silently clamped); `cursor` is the key of
//! the last row of the page before (an id, for most lists), as the page's
//! `next_cursor` gives it, and the next page starts after it. Any key of the
//! right form is a place in the list, so a cursor is never refused for
//! where it points, only for its form (422): what the contract says of it
//! (`format: uuid`, say) is exactly what the server takes.

use crate::error::ApiError;
use crate::ids::Id;

/// The page size asked for, checked (see [`crate::app::paging::limit`]).
pub fn limit(asked: Option<u32>) -> Result<i64, ApiError> {
    Ok(crate::app::paging::limit(asked)?)
}

/// The id after which a page starts: none without a cursor.
pub fn after_id<K>(cursor: Option<uuid::Uuid>) -> Option<Id<K>> {
    cursor.map(Id::from_uuid)
}

pub use crate::app::paging::finish;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_end_at_their_last_key() {
        assert_eq!(limit(None).unwrap(), 50);
        assert!(limit(Some(201)).is_err() && limit(Some(0)).is_err());
        let id = crate::ids::UserId::new();
        assert_eq!(after_id(Some(id.uuid())), Some(id));
        assert_eq!(after_id::<crate::ids::kind::User>(None), None);
    }
}
