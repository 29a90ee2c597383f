//! `GET /v1/audit-events` and `GET /v1/audit-events/verify`.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::audit::{self as audit_ops, Event};
use crate::audit::{Filter, Verification};
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::caller::Caller;
use crate::http::extract::Query;
use crate::http::time::Timestamp;

/// Filters and paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events of this actor (an admin's or API client's id).
    pub actor_id: Option<String>,
    /// Events of this action (e.g. `signIn`, `updatePartner`).
    pub action: Option<String>,
    /// Events about this object.
    pub target_id: Option<String>,
    /// Events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time.
    pub to: Option<DateTime<Utc>>,
    /// `next_cursor` of the page before (an event's `seq`): the page
    /// starts after it.
    #[param(minimum = 0)]
    pub cursor: Option<i64>,
    /// 1 to 200; 50 when left out.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl From<AuditQuery> for Filter {
    fn from(query: AuditQuery) -> Self {
        Self {
            actor_id: query.actor_id,
            action: query.action,
            target_id: query.target_id,
            from: query.from.map(|t| t.naive_utc()),
            to: query.to.map(|t| t.naive_utc()),
            after_seq: query.cursor,
            limit: 0,
        }
    }
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    /// Its place in the partner's chain, from 1.
    pub seq: i64,
    pub occurred_at: Timestamp,
    #[schema(value_type = crate::http::vocabulary::ActorKind)]
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    #[schema(value_type = crate::http::vocabulary::Decision)]
    pub decision: String,
    /// The Cedar policies that decided it.
    pub policy_ids: Vec<String>,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// HMAC-SHA-256, under a server key, of the event and the one before
    /// (hex).
    pub hash: String,
}

impl From<Event> for AuditEventView {
    fn from(event: Event) -> Self {
        let Event {
            row: e,
            policy_ids,
            details,
        } = event;
        Self {
            id: e.id,
            seq: e.seq,
            occurred_at: e.occurred_at.into(),
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
            decision: e.decision,
            policy_ids,
            request_id: e.request_id,
            details,
            hash: e.hash.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEventView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// List audit events
///
/// The caller's partner's events, oldest first, filtered and paged.
#[utoipa::path(
    operation_id = "audit_events_list",
    tag = "audit",
    security(("oauth2" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditEventPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid filter or cursor", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/audit-events")]
pub async fn audit_events_list(
    caller: Caller,
    state: web::Data<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<web::Json<AuditEventPage>, ApiError> {
    let limit = query.limit;
    let (events, next_cursor) = audit_ops::list(&state, &caller, query.into(), limit).await?;
    Ok(web::Json(AuditEventPage {
        items: events.into_iter().map(AuditEventView::from).collect(),
        next_cursor,
    }))
}

/// Verify the audit log
///
/// Walks the caller's partner's hash chain and names the first event that
/// was altered, or that follows a removed one.
#[utoipa::path(
    operation_id = "audit_events_verify",
    tag = "audit",
    security(("oauth2" = [])),
    responses(
        (status = 200, description = "The verdict", body = Verification),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/audit-events/verify")]
pub async fn audit_events_verify(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<web::Json<Verification>, ApiError> {
    let verdict = audit_ops::verify(&state, &caller).await?;
    Ok(web::Json(verdict))
}
