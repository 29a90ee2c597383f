//! Keyset pages as the caller may see them (the contract's side of paging,
//! `limit` and `cursor`, is `http::paging`).

use super::{App, Error, OpContext};
use crate::authz::{Action, Resource};
use crate::db::{DbConn, DbError};

/// Page sizes: 50 when none is asked, at most 200 (above: refused, never
/// silently clamped).
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// The page size asked for, checked.
pub fn limit(asked: Option<u32>) -> Result<i64, Error> {
    let limit = asked.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(i64::from(limit))
    } else {
        Err(Error::invalid(
            "limit",
            format!("must be from 1 to {MAX_LIMIT}"),
        ))
    }
}

/// Cuts the one extra row a query fetched (limit + 1) and returns the next
/// cursor, the key of the last row kept, when there was one.
pub fn finish<T>(rows: &mut Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(key)
    } else {
        None
    }
}

/// A page of a list as the caller may see it, and the next cursor.
/// `load` fetches up to `limit + 1` rows (the extra one tells whether there
/// is a next page) on the blocking pool; each row kept is one the policies
/// let the caller take `action` on (SQL narrowed the page to the caller's
/// companies already; this is the policies' word on each row), decided in
/// one [`Authz::decide_each`](crate::authz::Authz::decide_each) beside the
/// query: a page is up to 200 decisions, not work for the executor.
pub async fn permitted_page<T: Send + 'static>(
    app: &App,
    ctx: &OpContext,
    action: Action,
    limit: i64,
    load: impl FnOnce(&mut DbConn) -> Result<Vec<T>, DbError> + Send + 'static,
    key: impl Fn(&T) -> String + Send + 'static,
    resource: impl Fn(&T) -> Result<Resource, DbError> + Send + 'static,
) -> Result<(Vec<T>, Option<String>), Error> {
    let (authz, principal) = (app.authz.clone(), ctx.principal.clone());
    let page = app
        .db
        .run(move |conn| {
            let mut rows = load(conn)?;
            let next_cursor = finish(&mut rows, limit, key);
            let resources = rows.iter().map(resource).collect::<Result<Vec<_>, _>>()?;
            let decisions = authz.decide_each(&principal, &action, &resources);
            let rows = rows
                .into_iter()
                .zip(decisions)
                .filter_map(|(row, decision)| decision.allowed.then_some(row))
                .collect();
            Ok::<_, DbError>((rows, next_cursor))
        })
        .await?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_end_at_their_last_key() {
        let mut rows = vec![1, 2, 3];
        assert_eq!(finish(&mut rows, 2, ToString::to_string), Some("2".into()));
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(finish(&mut rows, 2, ToString::to_string), None);
    }
}
