//! Reading the audit log: a partner's events, filtered and paged, and the
//! walk of its hash chain. The log is tamper-evident, so a stored event
//! whose recorded policies or details do not parse is reported as a
//! corrupt row (logged), never shown as empty.

use super::{App, Error, OpContext, paging};
use crate::audit::{self, AuditEvent, Filter, Verification};
use crate::authz::{Action, Resource};
use crate::db::DbError;
use crate::ids::PartnerId;

/// An audit event with its recorded policies and details read.
#[derive(Debug)]
pub struct Event {
    pub row: AuditEvent,
    pub policy_ids: Vec<String>,
    pub details: serde_json::Value,
}

impl TryFrom<AuditEvent> for Event {
    type Error = DbError;

    fn try_from(row: AuditEvent) -> Result<Self, DbError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            DbError::Corrupt(format!("audit event {}: {what} do not parse: {e}", row.id))
        };
        Ok(Self {
            policy_ids: serde_json::from_str(&row.policy_ids)
                .map_err(|e| corrupt("policy ids", e))?,
            details: serde_json::from_str(&row.details).map_err(|e| corrupt("details", e))?,
            row,
        })
    }
}

/// A page of the caller's partner's events by `filter`, oldest first; the
/// filter's `limit` is the page size asked for (1 to 200, 50 when `None`).
pub async fn list(
    app: &App,
    ctx: &OpContext,
    filter: Filter,
    limit: Option<u32>,
) -> Result<(Vec<Event>, Option<String>), Error> {
    ctx.authorize(app, Action::ReadAudit, &Resource::Partner(ctx.partner))
        .await?;
    list_chain(app, ctx.partner, filter, limit).await
}

/// A page of the events of `partner`'s chain (the nil id: the chain of no
/// partner, the platform operator's own) by `filter`, oldest first; the
/// caller was authorized to read it.
pub(super) async fn list_chain(
    app: &App,
    partner: PartnerId,
    mut filter: Filter,
    limit: Option<u32>,
) -> Result<(Vec<Event>, Option<String>), Error> {
    let limit = paging::limit(limit)?;
    if filter.after_seq.is_some_and(|seq| seq < 0) {
        return Err(Error::invalid("cursor", "must be 0 or more"));
    }
    // One more than asked, to know whether a next page exists.
    filter.limit = limit + 1;
    let mut events = app
        .db
        .run(move |conn| audit::list(conn, partner, &filter))
        .await?;
    let next_cursor = paging::finish(&mut events, limit, |e| e.seq.to_string());
    let events = events
        .into_iter()
        .map(Event::try_from)
        .collect::<Result<_, _>>()?;
    Ok((events, next_cursor))
}

/// Walks the caller's partner's hash chain and names the first event that
/// was altered, or that follows a removed one.
pub async fn verify(app: &App, ctx: &OpContext) -> Result<Verification, Error> {
    ctx.authorize(app, Action::ReadAudit, &Resource::Partner(ctx.partner))
        .await?;
    verify_chain(app, ctx.partner).await
}

/// Walks `partner`'s chain (as [`list_chain`] names it); the caller was
/// authorized to read it.
pub(super) async fn verify_chain(app: &App, partner: PartnerId) -> Result<Verification, Error> {
    let keys = app.keys.clone();
    Ok(app
        .db
        .run(move |conn| audit::verify(conn, &keys, partner))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(policy_ids: &str, details: &str) -> AuditEvent {
        AuditEvent {
            id: "e".into(),
            partner_id: "p".into(),
            seq: 1,
            occurred_at: chrono::NaiveDateTime::default(),
            actor_kind: "admin".into(),
            actor_id: None,
            action: "signIn".into(),
            target_kind: None,
            target_id: None,
            decision: "allow".into(),
            policy_ids: policy_ids.into(),
            request_id: None,
            details: details.into(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
        }
    }

    #[test]
    fn recorded_details_are_read_or_reported_corrupt() {
        let event = Event::try_from(row(r#"["owner-all"]"#, r#"{"role":"admin"}"#)).unwrap();
        assert_eq!(event.policy_ids, ["owner-all"]);
        assert_eq!(event.details["role"], "admin");
        for (policies, details) in [("[", "{}"), ("[]", "{not json"), ("{}", "{}")] {
            assert!(matches!(
                Event::try_from(row(policies, details)),
                Err(DbError::Corrupt(_))
            ));
        }
    }
}
