//! `POST /v1/authorization/check`: which of a list of actions the caller
//! may take, so a portal can grey out the rest. Each check is decided by the
//! same Cedar policies, with the same entities, as the action itself would
//! be; nothing is changed and, since a check is a question rather than an
//! attempt, a "no" is not written to the audit log.

use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::authorization::{self, Kind, Question, Subject};
use crate::db::admins::Role;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::admins::AdminRole;
use crate::http::caller::Caller;
use crate::http::extract::Json;

pub use crate::app::authorization::MAX_CHECKS;

/// A kind of object an action applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Partner,
    Company,
    User,
    Admin,
    ApiClient,
}

/// The object a check is about.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub kind: ResourceType,
    /// Its id; left out for the caller's partner.
    pub id: Option<uuid::Uuid>,
}

/// One question: may the caller take `action` on `resource`?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// An action of the policies' schema.
    #[schema(value_type = crate::http::vocabulary::CheckedAction, example = "resetMasterPassword")]
    pub action: String,
    /// What the action is on. Left out: the caller's partner for actions on
    /// the partner, the caller themselves for `changeOwnPassword`, a new
    /// object for `createAdmin`, `createApiClient` and `createCompany`. For
    /// `createUser`, the company the user would be created in.
    pub resource: Option<ResourceRef>,
    /// For `createAdmin` and `updateAdmin`: the role the admin would have
    /// (`technician` for a new admin and the current role when left out).
    pub role: Option<AdminRole>,
    /// For `purgeVault`: whether the caller would acknowledge losing company
    /// items that are not backed up (false when left out).
    pub acknowledge_company_data_loss: Option<bool>,
}

/// Checks to decide, at most 100.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationCheck {
    pub checks: Vec<Check>,
}

/// The answer to one check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    pub action: String,
    pub resource: ResourceRef,
    pub allowed: bool,
    /// The policies that decided: the permits that allowed, or the forbids
    /// that denied (none for a deny by default, or when not found).
    pub policy_ids: Vec<String>,
    /// The resource does not exist in the caller's partner.
    pub not_found: bool,
}

/// The answers, in the order of the checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationDecisions {
    pub results: Vec<CheckResult>,
}

impl From<ResourceType> for Kind {
    fn from(kind: ResourceType) -> Self {
        match kind {
            ResourceType::Partner => Self::Partner,
            ResourceType::Company => Self::Company,
            ResourceType::User => Self::User,
            ResourceType::Admin => Self::Admin,
            ResourceType::ApiClient => Self::ApiClient,
        }
    }
}

impl From<Kind> for ResourceType {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Partner => Self::Partner,
            Kind::Company => Self::Company,
            Kind::User => Self::User,
            Kind::Admin => Self::Admin,
            Kind::ApiClient => Self::ApiClient,
        }
    }
}

/// Check what the caller may do
///
/// Decides each `{action, resource}` pair as the action itself would be
/// decided, without doing anything, so a portal can grey out what the
/// caller may not do. A resource outside the caller's partner answers
/// `not_found`, as an absent one. For people (admins): an API client knows
/// its scopes.
#[utoipa::path(
    operation_id = "authorization_check",
    tag = "authorization",
    security(("oauth2" = [])),
    request_body = AuthorizationCheck,
    responses(
        (status = 200, description = "A decision per check, in order", body = AuthorizationDecisions),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown action or resource type, or more than 100 checks (a resource of a type its action does not take is `not_found`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/authorization/check")]
pub async fn authorization_check(
    caller: Caller,
    state: web::Data<AppState>,
    Json(request): Json<AuthorizationCheck>,
) -> Result<web::Json<AuthorizationDecisions>, ApiError> {
    let questions = request
        .checks
        .into_iter()
        .map(|check| Question {
            action: check.action,
            resource: check.resource.map(|r| Subject {
                kind: r.kind.into(),
                id: r.id,
            }),
            role: check.role.map(Role::from),
            acknowledge_company_data_loss: check.acknowledge_company_data_loss,
        })
        .collect();
    let results = authorization::check(&state, &caller, questions)
        .await?
        .into_iter()
        .map(|answer| CheckResult {
            action: answer.action,
            resource: ResourceRef {
                kind: answer.resource.kind.into(),
                id: answer.resource.id,
            },
            allowed: answer.allowed,
            policy_ids: answer.policy_ids,
            not_found: answer.not_found,
        })
        .collect();
    Ok(web::Json(AuthorizationDecisions { results }))
}
