//! Cursor pagination, the same for every list: `limit` is 50 by default and
//! at most 200 (above: 422, never silently clamped); `cursor` is opaque to
//! clients (base64url of a kind and the last key of the page before), and a
//! cursor of another list or a forged one is 422.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::authz::{Action, Resource};
use crate::db::{DbConn, DbError};
use crate::error::ApiError;
use crate::http::AppState;
use crate::http::caller::Caller;
use crate::ids::Id;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// The page size asked for, checked.
pub fn limit(asked: Option<u32>) -> Result<i64, ApiError> {
    let limit = asked.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(i64::from(limit))
    } else {
        Err(ApiError::InvalidValue {
            field: "limit".into(),
            message: format!("must be from 1 to {MAX_LIMIT}"),
        })
    }
}

/// The cursor after a page whose last key is `key`, in list `kind`.
pub fn encode(kind: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{key}"))
}

/// The last key a cursor of list `kind` carries.
pub fn decode(kind: &str, cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| Some(text.strip_prefix(kind)?.strip_prefix(':')?.to_owned()))
        .ok_or_else(|| ApiError::InvalidValue {
            field: "cursor".into(),
            message: "is not a cursor this list gave".into(),
        })
}

/// The id after which a page of list `kind` starts: none without a cursor;
/// 422 for a cursor that does not carry an id of the list.
pub fn after_id<K>(kind: &str, cursor: Option<&str>) -> Result<Option<Id<K>>, ApiError> {
    cursor
        .map(|cursor| {
            Id::parse(&decode(kind, cursor)?)
                .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this list gave"))
        })
        .transpose()
}

/// Cuts the one extra row a query fetched (limit + 1) and returns the next
/// cursor when there was one.
pub fn finish<T>(
    rows: &mut Vec<T>,
    limit: i64,
    kind: &str,
    key: impl Fn(&T) -> String,
) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| encode(kind, &key(row)))
    } else {
        None
    }
}

/// A page of list `kind` as the caller may see it, and the next cursor.
/// `load` fetches up to `limit + 1` rows (the extra one tells whether there
/// is a next page) on the blocking pool; each row kept is one the policies
/// let the caller take `action` on (SQL narrowed the page to the caller's
/// companies already; this is the policies' word on each row), decided in
/// one [`Authz::decide_each`](crate::authz::Authz::decide_each) beside the
/// query: a page is up to 200 decisions, not work for the executor.
pub async fn permitted_page<T: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    action: Action,
    (kind, limit): (&'static str, i64),
    load: impl FnOnce(&mut DbConn) -> Result<Vec<T>, DbError> + Send + 'static,
    key: impl Fn(&T) -> String + Send + 'static,
    resource: impl Fn(&T) -> Resource + Send + 'static,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let (authz, principal) = (state.authz.clone(), caller.principal.clone());
    let page = state
        .db
        .run(move |conn| {
            let mut rows = load(conn)?;
            let next_cursor = finish(&mut rows, limit, kind, key);
            let resources: Vec<Resource> = rows.iter().map(resource).collect();
            let decisions = authz.decide_each(&principal, &action, &resources);
            let rows = rows
                .into_iter()
                .zip(decisions)
                .filter_map(|(row, decision)| decision.allowed.then_some(row))
                .collect();
            Ok((rows, next_cursor))
        })
        .await?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_list() {
        let cursor = encode("audit", "42");
        assert_eq!(decode("audit", &cursor).unwrap(), "42");
        assert!(decode("admin", &cursor).is_err());
        assert!(decode("audit", "not base64!").is_err());
        assert_eq!(limit(None).unwrap(), 50);
        assert!(limit(Some(201)).is_err() && limit(Some(0)).is_err());
        let mut rows = vec![1, 2, 3];
        assert_eq!(
            finish(&mut rows, 2, "n", ToString::to_string),
            Some(encode("n", "2"))
        );
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(finish(&mut rows, 2, "n", ToString::to_string), None);
        let id = crate::ids::UserId::new();
        let cursor = encode("user", &id.to_string());
        assert_eq!(after_id("user", Some(&cursor)).unwrap(), Some(id));
        assert_eq!(
            after_id::<crate::ids::kind::User>("user", None).unwrap(),
            None
        );
        let not_an_id = encode("user", "42");
        assert!(after_id::<crate::ids::kind::User>("user", Some(&not_an_id)).is_err());
    }
}
