//! Which of a list of actions the caller may take, so a portal can grey
//! out the rest. Each check is decided by the same Cedar policies, with the
//! same entities, as the action itself would be; nothing is changed and,
//! since a check is a question rather than an attempt, a "no" is not
//! written to the audit log.

use super::{Actor, App, Error, OpContext, stored};
use crate::authz::{Action, Resource};
use crate::db::admins::{self, Role};
use crate::db::{DbConn, DbError, api_clients, companies, users, vault};
use crate::ids::{AdminId, ApiClientId, CompanyId, UserId};

/// The most checks one request may carry.
pub const MAX_CHECKS: usize = 100;

/// A kind of object an action applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Partner,
    Company,
    User,
    Admin,
    ApiClient,
}

/// The object a check is about.
#[derive(Debug, Clone)]
pub struct Subject {
    pub kind: Kind,
    /// Its id; `None` for the caller's partner.
    pub id: Option<uuid::Uuid>,
}

/// One question: may the caller take `action` on `resource`?
#[derive(Debug)]
pub struct Question {
    /// An action of the policies' schema.
    pub action: String,
    /// What the action is on; `None` for the action's default (the
    /// caller's partner, the caller themselves, a new object).
    pub resource: Option<Subject>,
    /// For `createAdmin` and `updateAdmin`: the role the admin would have.
    pub role: Option<Role>,
    /// For `purgeVault`: whether the caller would acknowledge losing
    /// company items that are not backed up.
    pub acknowledge_company_data_loss: Option<bool>,
}

/// The answer to one question.
#[derive(Debug)]
pub struct Answer {
    pub action: String,
    pub resource: Subject,
    pub allowed: bool,
    /// The policies that decided: the permits that allowed, or the forbids
    /// that denied (none for a deny by default, or when not found).
    pub policy_ids: Vec<String>,
    /// The resource does not exist in the caller's partner (or is outside
    /// the companies the caller sees).
    pub not_found: bool,
}

/// Decides each question as its action itself would be decided, without
/// doing anything. Only what is malformed (an unknown action, too many
/// questions) is refused; a question that names nothing is answered
/// `not_found`.
pub async fn check(
    app: &App,
    ctx: &OpContext,
    questions: Vec<Question>,
) -> Result<Vec<Answer>, Error> {
    ctx.authorize(
        app,
        Action::CheckAuthorization,
        &Resource::Partner(ctx.partner),
    )
    .await?;
    if !(1..=MAX_CHECKS).contains(&questions.len()) {
        return Err(Error::invalid(
            "checks",
            format!("must hold 1 to {MAX_CHECKS} checks"),
        ));
    }
    let plans = questions
        .iter()
        .enumerate()
        .map(|(index, question)| plan(ctx, index, question))
        .collect::<Result<Vec<_>, _>>()?;
    let caller = ctx.clone();
    let (plans, resolved) = app
        .db
        .run(move |conn| {
            let resolved = plans
                .iter()
                .map(|plan| match plan.names_nothing {
                    true => Ok(None),
                    false => resolve(conn, &caller, plan),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, DbError>((plans, resolved))
        })
        .await?;
    Ok(plans
        .into_iter()
        .zip(resolved)
        .map(|(plan, resolved)| match resolved {
            None => Answer {
                action: plan.action,
                resource: plan.reference,
                allowed: false,
                policy_ids: Vec::new(),
                not_found: true,
            },
            Some((action, target)) => {
                let decision = app.authz.decide(&ctx.principal, &action, &target);
                // As the operation itself answers, whatever the policies
                // say: a second admin is a second person, and a person.
                let refused_anyway = match action {
                    Action::ApproveReset {
                        requested_by_caller,
                    } => requested_by_caller || matches!(ctx.actor, Actor::ApiClient(_)),
                    _ => false,
                };
                Answer {
                    action: plan.action,
                    resource: plan.reference,
                    allowed: decision.allowed && !refused_anyway,
                    policy_ids: decision.policy_ids,
                    not_found: false,
                }
            }
        })
        .collect())
}

/// The resource type an action applies to, as the schema declares it
/// (`createUser` names its company).
fn expected_type(action: &str) -> Option<Kind> {
    Some(match action {
        "readPartner" | "updatePartner" | "listAdmins" | "listApiClients" | "listCompanies"
        | "searchUsers" | "listResets" | "createResetBatch" | "readAudit"
        | "checkAuthorization" => Kind::Partner,
        "changeOwnPassword" | "readAdmin" | "createAdmin" | "updateAdmin" | "deleteAdmin" => {
            Kind::Admin
        }
        "createApiClient" | "deleteApiClient" => Kind::ApiClient,
        "readCompany"
        | "readBackupProfile"
        | "createCompany"
        | "updateCompany"
        | "retireCompany"
        | "updateBackupProfile"
        | "listUsers"
        | "createUser" => Kind::Company,
        "readUser"
        | "readReset"
        | "resetMasterPassword"
        | "purgeVault"
        | "approveReset"
        | "inviteUser"
        | "updateUser"
        | "disableUser"
        | "enableUser"
        | "offboardUser" => Kind::User,
        _ => return None,
    })
}

/// A check, read: what to look up.
struct Plan {
    reference: Subject,
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
fn plan(ctx: &OpContext, index: usize, check: &Question) -> Result<Plan, Error> {
    let action = check.action.as_str();
    let kind = expected_type(action).ok_or_else(|| {
        Error::invalid(
            format!("checks[{index}].action"),
            "is not an action of the policies (e.g. readUser, resetMasterPassword)",
        )
    })?;
    let mut reference = check.resource.clone().unwrap_or(Subject { kind, id: None });
    let creates = matches!(action, "createAdmin" | "createApiClient" | "createCompany");
    let needs_id = !(creates || kind == Kind::Partner || action == "changeOwnPassword");
    let names_nothing = reference.kind != kind || (needs_id && reference.id.is_none());
    if kind == Kind::Partner && reference.id.is_none() && !names_nothing {
        reference.id = Some(ctx.partner.uuid());
    }
    Ok(Plan {
        reference,
        action: action.to_owned(),
        role: check
            .role
            .filter(|_| matches!(action, "createAdmin" | "updateAdmin")),
        acknowledge: action == "purgeVault" && check.acknowledge_company_data_loss.unwrap_or(false),
        names_nothing,
    })
}

/// The action (with its context) and the resource a plan names, loaded
/// from the database; `None` when the resource is not in the caller's
/// partner.
fn resolve(
    conn: &mut DbConn,
    caller: &OpContext,
    plan: &Plan,
) -> Result<Option<(Action, Resource)>, DbError> {
    let (principal, partner) = (&caller.principal, caller.partner);
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
        "createResetBatch" => on_partner(Action::CreateResetBatch),
        "readAudit" => on_partner(Action::ReadAudit),
        "checkAuthorization" => on_partner(Action::CheckAuthorization),
        "changeOwnPassword" => {
            let me = principal.as_resource();
            let asked_for_me = plan
                .reference
                .id
                .is_none_or(|id| me.kind_and_id().1 == id.to_string());
            if asked_for_me {
                Some((Action::ChangeOwnPassword, me))
            } else {
                let other = AdminId::from_uuid(id);
                match admins::find(conn, partner, other)? {
                    None => None,
                    Some(admin) => {
                        let role = admin.role;
                        Some((
                            Action::ChangeOwnPassword,
                            Resource::Admin {
                                id: other,
                                partner,
                                role,
                            },
                        ))
                    }
                }
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
            match admins::find(conn, partner, admin_id)? {
                None => None,
                Some(admin) => {
                    let current = admin.role;
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
                    Some((action, resource))
                }
            }
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
        | "retireCompany"
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
                "retireCompany" => on_company(Action::RetireCompany),
                _ => on_company(Action::UpdateBackupProfile),
            }
        }
        _ => {
            let user = UserId::from_uuid(id);
            let company = match users::company_of(conn, partner, user)? {
                Some(company) => Some(stored(&company, CompanyId::parse, "company id")?),
                None => None,
            };
            let Some(company) = company.filter(|company| principal.sees(*company)) else {
                // Absent, or in a company outside the caller's: nothing
                // about the user (its vault least of all) is told.
                return Ok(None);
            };
            let action = match plan.action.as_str() {
                "readUser" => Action::ReadUser,
                "inviteUser" => Action::InviteUser,
                "updateUser" => Action::UpdateUser,
                "disableUser" => Action::DisableUser,
                "enableUser" => Action::EnableUser,
                "offboardUser" => Action::OffboardUser,
                "readReset" => Action::ReadReset,
                "resetMasterPassword" => Action::ResetMasterPassword,
                // The user's request awaiting approval, if any: whether
                // the caller is the person who made it.
                "approveReset" => Action::ApproveReset {
                    requested_by_caller: match crate::db::resets::awaiting_of(conn, user)? {
                        Some(request) => {
                            super::resets::requested_by_caller(conn, caller, &request)?
                        }
                        None => false,
                    },
                },
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
