//! `POST /v1/authorization/check`: which of a list of actions the caller
//! may take, so a portal can grey out the rest. Each check is decided by the
//! same Cedar policies, with the same entities, as the action itself would
//! be; nothing is changed and, since a check is a question rather than an
//! attempt, a "no" is not written to the audit log.

use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::authz::{Action, Principal, Resource};
use crate::db::admins::{self, Role};
use crate::db::{DbConn, DbError, api_clients, companies, users, vault};
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::admins::AdminRole;
use crate::http::caller::Caller;
use crate::http::extract::Json;
use crate::ids::{AdminId, ApiClientId, CompanyId, PartnerId, UserId};

/// The most checks one request may carry.
pub const MAX_CHECKS: usize = 100;

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

/// The resource type an action applies to, as the schema declares it
/// (`createUser` names its company).
fn expected_type(action: &str) -> Option<ResourceType> {
    Some(match action {
        "readPartner" | "updatePartner" | "listAdmins" | "listApiClients" | "listCompanies"
        | "searchUsers" | "listResets" | "readAudit" | "checkAuthorization" => {
            ResourceType::Partner
        }
        "changeOwnPassword" | "readAdmin" | "createAdmin" | "updateAdmin" | "deleteAdmin" => {
            ResourceType::Admin
        }
        "createApiClient" | "deleteApiClient" => ResourceType::ApiClient,
        "readCompany"
        | "readBackupProfile"
        | "createCompany"
        | "updateCompany"
        | "updateBackupProfile"
        | "listUsers"
        | "createUser" => ResourceType::Company,
        "readUser" | "readReset" | "resetMasterPassword" | "purgeVault" => ResourceType::User,
        _ => return None,
    })
}

/// A check, read: what to look up.
struct Plan {
    reference: ResourceRef,
    action: String,
    role: Option<Role>,
    acknowledge: bool,
    /// The check names no object of the kind its action is about (no id
    /// where one is needed, or another kind): answered `not_found`.
    names_nothing: bool,
}

/// Reads a check without touching the database. A check is a question: one
/// that names no object of the kind its action applies to is answered
/// `not_found`, and fields its action does not use (`role` outside
/// `createAdmin`/`updateAdmin`, `acknowledge_company_data_loss` outside
/// `purgeVault`) are not asked about. Only what the contract's schema
/// refuses is a 422.
fn plan(caller: &Caller, index: usize, check: &Check) -> Result<Plan, ApiError> {
    let action = check.action.as_str();
    let kind = expected_type(action).ok_or_else(|| {
        ApiError::invalid(
            format!("checks[{index}].action"),
            "is not an action of the policies (e.g. readUser, resetMasterPassword)",
        )
    })?;
    let mut reference = check
        .resource
        .clone()
        .unwrap_or(ResourceRef { kind, id: None });
    let creates = matches!(action, "createAdmin" | "createApiClient" | "createCompany");
    let needs_id = !(creates || kind == ResourceType::Partner || action == "changeOwnPassword");
    let names_nothing = reference.kind != kind || (needs_id && reference.id.is_none());
    if kind == ResourceType::Partner && reference.id.is_none() && !names_nothing {
        reference.id = Some(caller.partner.uuid());
    }
    Ok(Plan {
        reference,
        action: action.to_owned(),
        role: check
            .role
            .filter(|_| matches!(action, "createAdmin" | "updateAdmin"))
            .map(Role::from),
        acknowledge: action == "purgeVault" && check.acknowledge_company_data_loss.unwrap_or(false),
        names_nothing,
    })
}

/// The action (with its context) and the resource a plan names, loaded
/// from the database; `None` when the resource is not in the caller's
/// partner.
fn resolve(
    conn: &mut DbConn,
    principal: &Principal,
    partner: PartnerId,
    plan: &Plan,
) -> Result<Option<(Action, Resource)>, DbError> {
    let id = plan.reference.id.unwrap_or_default();
    let on_partner =
        |action| (id == partner.uuid()).then_some((action, Resource::Partner(partner)));
    Ok(match plan.action.as_str() {
        "readPartner" => on_partner(Action::ReadPartner),
        "updatePartner" => on_partner(Action::UpdatePartner),
        "listAdmins" => on_partner(Action::ListAdmins),
        "listApiClients" => on_partner(Action::ListApiClients),
        "listCompanies" => on_partner(Action::ListCompanies),
        "searchUsers" => on_partner(Action::SearchUsers),
        "listResets" => on_partner(Action::ListResets),
        "readAudit" => on_partner(Action::ReadAudit),
        "checkAuthorization" => on_partner(Action::CheckAuthorization),
        "changeOwnPassword" => {
            let me = myself(principal);
            let asked_for_me = plan
                .reference
                .id
                .is_none_or(|id| me.kind_and_id().1 == id.to_string());
            if asked_for_me {
                Some((Action::ChangeOwnPassword, me))
            } else {
                let other = AdminId::from_uuid(id);
                admins::find(conn, partner, other)?.map(|admin| {
                    let role = Role::parse(&admin.role).unwrap_or(Role::Technician);
                    (
                        Action::ChangeOwnPassword,
                        Resource::Admin {
                            id: other,
                            partner,
                            role,
                        },
                    )
                })
            }
        }
        "createAdmin" => {
            let role = plan.role.unwrap_or(Role::Technician);
            Some((
                Action::CreateAdmin { role },
                Resource::Admin {
                    id: AdminId::new(),
                    partner,
                    role,
                },
            ))
        }
        "readAdmin" | "updateAdmin" | "deleteAdmin" => {
            let admin_id = AdminId::from_uuid(id);
            admins::find(conn, partner, admin_id)?.map(|admin| {
                let current = Role::parse(&admin.role).unwrap_or(Role::Technician);
                let action = match plan.action.as_str() {
                    "readAdmin" => Action::ReadAdmin,
                    "updateAdmin" => Action::UpdateAdmin {
                        role: plan.role.unwrap_or(current),
                    },
                    _ => Action::DeleteAdmin,
                };
                let resource = Resource::Admin {
                    id: admin_id,
                    partner,
                    role: current,
                };
                (action, resource)
            })
        }
        "createApiClient" => Some((
            Action::CreateApiClient,
            Resource::ApiClient {
                id: ApiClientId::new(),
                partner,
            },
        )),
        "deleteApiClient" => {
            let client = ApiClientId::from_uuid(id);
            api_clients::find(conn, partner, client)?.map(|_| {
                (
                    Action::DeleteApiClient,
                    Resource::ApiClient {
                        id: client,
                        partner,
                    },
                )
            })
        }
        "createCompany" => Some((
            Action::CreateCompany,
            Resource::Company {
                id: CompanyId::new(),
                partner,
            },
        )),
        "readCompany"
        | "readBackupProfile"
        | "updateCompany"
        | "updateBackupProfile"
        | "listUsers"
        | "createUser" => {
            let company = CompanyId::from_uuid(id);
            // A company outside the caller's is absent to it, as it is to
            // the action itself.
            if !principal.sees(company)
                || companies::existing(conn, partner, &[company.to_string()])?.is_empty()
            {
                return Ok(None);
            }
            let on_company = |action| {
                Some((
                    action,
                    Resource::Company {
                        id: company,
                        partner,
                    },
                ))
            };
            match plan.action.as_str() {
                "createUser" => Some((
                    Action::CreateUser,
                    Resource::User {
                        id: UserId::new(),
                        company,
                        partner,
                    },
                )),
                "readCompany" => on_company(Action::ReadCompany),
                "readBackupProfile" => on_company(Action::ReadBackupProfile),
                "listUsers" => on_company(Action::ListUsers),
                "updateCompany" => on_company(Action::UpdateCompany),
                _ => on_company(Action::UpdateBackupProfile),
            }
        }
        _ => {
            let user = UserId::from_uuid(id);
            let Some(company) = users::company_of(conn, partner, user)?
                .and_then(|c| CompanyId::parse(&c))
                .filter(|company| principal.sees(*company))
            else {
                // Absent, or in a company outside the caller's: nothing
                // about the user (its vault least of all) is told.
                return Ok(None);
            };
            let action = match plan.action.as_str() {
                "readUser" => Action::ReadUser,
                "readReset" => Action::ReadReset,
                "resetMasterPassword" => Action::ResetMasterPassword,
                _ => Action::PurgeVault {
                    company_items_not_backed_up: vault::company_items_not_backed_up(conn, user)?,
                    acknowledge_company_data_loss: plan.acknowledge,
                },
            };
            Some((
                action,
                Resource::User {
                    id: user,
                    company,
                    partner,
                },
            ))
        }
    })
}

/// The caller as a resource, for `changeOwnPassword`.
fn myself(principal: &Principal) -> Resource {
    match principal {
        Principal::Admin {
            id, partner, role, ..
        } => Resource::Admin {
            id: *id,
            partner: *partner,
            role: *role,
        },
        Principal::ApiClient { id, partner, .. } => Resource::ApiClient {
            id: *id,
            partner: *partner,
        },
        Principal::User {
            id,
            company,
            partner,
        } => Resource::User {
            id: *id,
            company: *company,
            partner: *partner,
        },
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
    caller
        .authorize(
            &state,
            Action::CheckAuthorization,
            &Resource::Partner(caller.partner),
        )
        .await?;
    if !(1..=MAX_CHECKS).contains(&request.checks.len()) {
        return Err(ApiError::invalid(
            "checks",
            format!("must hold 1 to {MAX_CHECKS} checks"),
        ));
    }
    let plans = request
        .checks
        .iter()
        .enumerate()
        .map(|(index, check)| plan(&caller, index, check))
        .collect::<Result<Vec<_>, _>>()?;
    let principal = caller.principal.clone();
    let partner = caller.partner;
    let (plans, resolved) = state
        .db
        .run(move |conn| {
            let resolved = plans
                .iter()
                .map(|plan| match plan.names_nothing {
                    true => Ok(None),
                    false => resolve(conn, &principal, partner, plan),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, DbError>((plans, resolved))
        })
        .await?;
    let results = plans
        .into_iter()
        .zip(resolved)
        .map(|(plan, resolved)| match resolved {
            None => CheckResult {
                action: plan.action,
                resource: plan.reference,
                allowed: false,
                policy_ids: Vec::new(),
                not_found: true,
            },
            Some((action, target)) => {
                let decision = state.authz.decide(&caller.principal, &action, &target);
                CheckResult {
                    action: plan.action,
                    resource: plan.reference,
                    allowed: decision.allowed,
                    policy_ids: decision.policy_ids,
                    not_found: false,
                }
            }
        })
        .collect();
    Ok(web::Json(AuthorizationDecisions { results }))
}
