//! `/v1/admins`: a partner's portal operators. Owners manage everyone;
//! admins manage everyone but owners; technicians and API clients manage no
//! one (the Cedar policies decide). A partner keeps at least one owner. A
//! role change or a removal revokes the admin's tokens at once.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::admins::{self as admins_ops, AdminWithCompanies};
use crate::app::idempotent::Made;
use crate::app::resets::Idempotency;
use crate::db::admins::Role;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::caller::Caller;
use crate::http::extract::{Json, Query};
use crate::http::paging;
use crate::http::resets::{creation_fingerprint, idempotency_key, rendered, replay};
use crate::http::time::Timestamp;
use crate::http::values::{EmailAddress, Name};
use crate::ids::CompanyId;

/// An admin's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    Owner,
    Admin,
    Technician,
}

impl From<AdminRole> for Role {
    fn from(role: AdminRole) -> Self {
        match role {
            AdminRole::Owner => Role::Owner,
            AdminRole::Admin => Role::Admin,
            AdminRole::Technician => Role::Technician,
        }
    }
}

impl From<Role> for AdminRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => AdminRole::Owner,
            Role::Admin => AdminRole::Admin,
            Role::Technician => AdminRole::Technician,
        }
    }
}

/// A portal operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminView {
    pub id: uuid::Uuid,
    /// The sign-in name, lowercase.
    pub email: String,
    pub name: String,
    pub role: AdminRole,
    /// A technician's assigned companies.
    pub companies: Vec<uuid::Uuid>,
    #[schema(value_type = crate::http::vocabulary::Locale)]
    pub locale: String,
    /// Signed in with a one-time password that must still be replaced.
    pub must_change_password: bool,
    /// `invited` until the admin accepts their emailed invitation (no
    /// sign-in works before), then `active`.
    pub status: AdminStatus,
    /// Until when the open invitation's link works; absent once accepted.
    pub invitation_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Whether an admin has joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AdminStatus {
    Invited,
    Active,
}

impl AdminStatus {
    /// Whether `admin` has joined.
    pub fn of(admin: &crate::db::admins::Admin) -> Self {
        if admin.is_invited() {
            Self::Invited
        } else {
            Self::Active
        }
    }
}

/// Paging of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `next_cursor` of the page before: the page starts after it.
    pub cursor: Option<uuid::Uuid>,
    /// 1 to 200; 50 when left out.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A page of admins.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminPage {
    pub items: Vec<AdminView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A new admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    /// Their sign-in name, with the partner's id; unique in the partner.
    pub email: EmailAddress,
    pub name: Name,
    pub role: AdminRole,
    /// A technician's companies (for other roles, leave out).
    pub companies: Option<Vec<uuid::Uuid>>,
    /// en, fr, de, es, it, nl or ja; en when left out.
    #[schema(value_type = Option<crate::http::vocabulary::Locale>)]
    pub locale: Option<String>,
}

/// Changes to an admin; a field left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUpdate {
    pub name: Option<Name>,
    /// Changing it revokes the admin's tokens.
    pub role: Option<AdminRole>,
    /// A technician's companies, replacing those before.
    pub companies: Option<Vec<uuid::Uuid>>,
}

/// Company ids a client sent.
fn ids(companies: Option<Vec<uuid::Uuid>>) -> Vec<CompanyId> {
    companies
        .unwrap_or_default()
        .into_iter()
        .map(CompanyId::from_uuid)
        .collect()
}

/// A locale of the product's: en, fr, de, es, it, nl or ja.
pub(crate) fn check_locale(locale: Option<String>) -> Result<String, ApiError> {
    Ok(crate::app::locale(locale)?)
}

fn view(found: AdminWithCompanies) -> AdminView {
    let AdminWithCompanies {
        admin,
        role,
        companies,
    } = found;
    let status = AdminStatus::of(&admin);
    AdminView {
        status,
        id: admin.id.uuid(),
        role: role.into(),
        email: admin.email,
        name: admin.name,
        companies: companies.iter().map(|c| c.uuid()).collect(),
        locale: admin.locale,
        must_change_password: admin.must_change_password,
        invitation_expires_at: admin.invitation_expires_at.map(Into::into),
        created_at: admin.created_at.into(),
        updated_at: admin.updated_at.into(),
    }
}

/// List admins
///
/// The partner's admins, oldest first.
#[utoipa::path(
    operation_id = "admins_list",
    tag = "admins",
    security(("oauth2" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of admins", body = AdminPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/admins")]
pub async fn admins_list(
    caller: Caller,
    state: web::Data<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<web::Json<AdminPage>, ApiError> {
    let (page, next_cursor) =
        admins_ops::list(&state, &caller, paging::after_id(query.cursor), query.limit).await?;
    let items = page.into_iter().map(view).collect();
    Ok(web::Json(AdminPage { items, next_cursor }))
}

/// Create an admin
///
/// The admin is emailed an invitation, in their locale: a single-use link
/// to the partner portal's `accept-admin-invitation` page, valid for the
/// partner's invitation lifetime, where they choose their password
/// (`POST /v1/auth/invitation`). No password exists before, and none is
/// ever shown to whoever creates the admin. Retry safely with an
/// `Idempotency-Key` header: the same key and body answer the first result
/// again (`Idempotent-Replayed: true`; kept 24 h) and invite nobody again;
/// the same key with another body is 422.
#[utoipa::path(
    operation_id = "admins_create",
    tag = "admins",
    security(("oauth2" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of creating the admin again (kept 24 h)"),
    ),
    request_body = NewAdmin,
    responses(
        (status = 201, description = "Created and invited", body = AdminView,
            headers(
                ("Location" = String, description = "The admin's URL (on the first answer)"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`companies` names a company that does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/admins")]
pub async fn admins_create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(new): Json<NewAdmin>,
) -> Result<HttpResponse, ApiError> {
    let new = admins_ops::NewAdmin {
        email: new.email.0,
        name: new.name.into_inner(),
        role: new.role.into(),
        companies: ids(new.companies),
        locale: new.locale,
    };
    let key = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        fingerprint: creation_fingerprint(
            "POST /v1/admins",
            &(
                new.email.as_str(),
                &new.name,
                new.role.as_str(),
                new.companies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                &new.locale,
            ),
        ),
    });
    let render = |admin: &AdminWithCompanies| rendered(&view(admin.clone()));
    match admins_ops::create(&state, &caller, new, key, render).await? {
        Made::New(admin) => {
            let location = format!("/v1/admins/{}", admin.admin.id);
            Ok(HttpResponse::Created()
                .insert_header((actix_web::http::header::LOCATION, location))
                .json(view(admin)))
        }
        Made::Replayed(stored) => Ok(replay(stored)),
    }
}

/// Invite an admin again
///
/// Emails an admin who has not joined a new invitation: a new single-use
/// link, valid for the partner's invitation lifetime from now. The earlier
/// link dies, and its email is withdrawn when not sent yet. Whoever may
/// create such an admin may invite them again. To revoke an invitation,
/// remove the admin.
#[utoipa::path(
    operation_id = "admin_invitation_send",
    tag = "admins",
    security(("oauth2" = [])),
    params(("admin_id" = uuid::Uuid, Path, description = "The admin's id")),
    responses(
        (status = 200, description = "Invited again", body = AdminView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such admin in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`admin_not_invited`: the admin has joined", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/admins/{admin_id}/invitation")]
pub async fn admin_invitation_send(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<AdminView>, ApiError> {
    Ok(web::Json(view(
        admins_ops::invite(&state, &caller, &path).await?,
    )))
}

/// Get an admin
///
/// One admin of the caller's partner, with a technician's assigned
/// companies.
#[utoipa::path(
    operation_id = "admin_get",
    tag = "admins",
    security(("oauth2" = [])),
    params(("admin_id" = uuid::Uuid, Path, description = "The admin's id")),
    responses(
        (status = 200, description = "The admin", body = AdminView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such admin in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/admins/{admin_id}")]
pub async fn admin_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<AdminView>, ApiError> {
    Ok(web::Json(view(
        admins_ops::get(&state, &caller, &path).await?,
    )))
}

/// Change an admin
///
/// A role change revokes the admin's tokens. Only owners change owners or
/// make them, and the last owner stays an owner.
#[utoipa::path(
    operation_id = "admin_update",
    tag = "admins",
    security(("oauth2" = [])),
    params(("admin_id" = uuid::Uuid, Path, description = "The admin's id")),
    request_body = AdminUpdate,
    responses(
        (status = 200, description = "The admin, changed", body = AdminView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such admin in the caller's partner, or `companies` names a company that does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot be demoted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/admins/{admin_id}")]
pub async fn admin_update(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(update): Json<AdminUpdate>,
) -> Result<web::Json<AdminView>, ApiError> {
    let update = admins_ops::AdminUpdate {
        name: update.name.map(Name::into_inner),
        role: update.role.map(Role::from),
        companies: update.companies.map(|list| ids(Some(list))),
    };
    Ok(web::Json(view(
        admins_ops::update(&state, &caller, &path, update).await?,
    )))
}

/// Remove an admin
///
/// Their tokens stop working at once. The last owner cannot be removed.
#[utoipa::path(
    operation_id = "admin_delete",
    tag = "admins",
    security(("oauth2" = [])),
    params(("admin_id" = uuid::Uuid, Path, description = "The admin's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such admin in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot be removed", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/admins/{admin_id}")]
pub async fn admin_delete(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admins_ops::delete(&state, &caller, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
