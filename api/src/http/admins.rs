//! `/v1/admins`: a partner's portal operators. Owners manage everyone;
//! admins manage everyone but owners; technicians and API clients manage no
//! one (the Cedar policies decide). A partner keeps at least one owner. A
//! role change or a removal revokes the admin's tokens at once.

use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::draw_secret;
use crate::authz::{Action, Resource};
use crate::db::DbError;
use crate::db::admins::{self, Admin, AdminChanges, Role};
use crate::db::companies;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::caller::{Caller, Decider};
use crate::http::extract::{Json, Query};
use crate::http::paging;
use crate::http::time::Timestamp;
use crate::http::values::{EmailAddress, Name};
use crate::ids::AdminId;

const LOCALES: &[&str] = &["en", "fr", "de", "es", "it", "nl", "ja"];

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
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn view(admin: Admin, companies: Vec<String>) -> AdminView {
    AdminView {
        id: uuid::Uuid::parse_str(&admin.id).unwrap_or_default(),
        role: Role::parse(&admin.role).map_or(AdminRole::Technician, AdminRole::from),
        email: admin.email,
        name: admin.name,
        companies: companies
            .iter()
            .filter_map(|c| uuid::Uuid::parse_str(c).ok())
            .collect(),
        locale: admin.locale,
        must_change_password: admin.must_change_password,
        created_at: admin.created_at.into(),
        updated_at: admin.updated_at.into(),
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

/// A created admin and their one-time password, shown only in this answer.
#[derive(Serialize, ToSchema)]
pub struct CreatedAdmin {
    pub admin: AdminView,
    /// Give it to the admin; the first sign-in must replace it. It is stored
    /// only as an argon2id hash and shown nowhere else.
    pub one_time_password: String,
}

/// Everything but the one-time password.
impl std::fmt::Debug for CreatedAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedAdmin")
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
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

pub(crate) const LOCALE_LIST: &str = "en, fr, de, es, it, nl, ja";

/// A locale of the product's: en, fr, de, es, it, nl or ja.
pub(crate) fn check_locale(locale: Option<String>) -> Result<String, ApiError> {
    let locale = locale.unwrap_or_else(|| "en".into());
    if LOCALES.contains(&locale.as_str()) {
        Ok(locale)
    } else {
        Err(ApiError::invalid(
            "locale",
            format!("must be one of {LOCALE_LIST}"),
        ))
    }
}

/// The admin a path names, of the caller's partner; otherwise 404.
async fn load(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<(Admin, Vec<String>, AdminId), ApiError> {
    let id = AdminId::parse(raw_id).ok_or(ApiError::NotFound)?;
    let partner = caller.partner;
    let found = state
        .db
        .run(move |conn| {
            let Some(admin) = admins::find(conn, partner, id)? else {
                return Ok::<_, DbError>(None);
            };
            Ok(Some((admin, admins::assigned_companies(conn, id)?)))
        })
        .await?;
    let (admin, companies) = found.ok_or(ApiError::NotFound)?;
    Ok((admin, companies, id))
}

fn resource(caller: &Caller, id: AdminId, admin: &Admin) -> Resource {
    Resource::Admin {
        id,
        partner: caller.partner,
        role: Role::parse(&admin.role).unwrap_or(Role::Technician),
    }
}

/// Validates a technician's companies: all of the caller's partner.
async fn check_companies(
    state: &AppState,
    caller: &Caller,
    role: Role,
    companies: Option<Vec<uuid::Uuid>>,
) -> Result<Vec<String>, ApiError> {
    let companies: Vec<String> = companies
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    if companies.is_empty() {
        return Ok(companies);
    }
    if role != Role::Technician {
        return Err(ApiError::invalid(
            "companies",
            "only a technician is assigned companies",
        ));
    }
    let partner = caller.partner;
    let wanted = companies.clone();
    let found = state
        .db
        .run(move |conn| companies::existing(conn, partner, &wanted))
        .await?;
    if found.len()
        != companies
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
    {
        return Err(ApiError::ReferenceNotFound {
            field: "companies".into(),
        });
    }
    Ok(companies)
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
    caller
        .authorize(
            &state,
            Action::ListAdmins,
            &Resource::Partner(caller.partner),
        )
        .await?;
    let limit = paging::limit(query.limit)?;
    let after = paging::after_id(query.cursor);
    let partner = caller.partner;
    let (mut admins, mut companies) = state
        .db
        .run(move |conn| {
            let admins = admins::list(conn, partner, after, limit + 1)?;
            let mut companies = HashMap::new();
            for admin in admins
                .iter()
                .filter(|a| a.role == Role::Technician.as_str())
            {
                let id = AdminId::parse(&admin.id).expect("stored ids parse");
                companies.insert(admin.id.clone(), admins::assigned_companies(conn, id)?);
            }
            Ok::<_, DbError>((admins, companies))
        })
        .await?;
    let next_cursor = paging::finish(&mut admins, limit, |a| a.id.clone());
    let items = admins
        .into_iter()
        .map(|a| {
            let assigned = companies.remove(&a.id).unwrap_or_default();
            view(a, assigned)
        })
        .collect();
    Ok(web::Json(AdminPage { items, next_cursor }))
}

/// Create an admin
///
/// Answers the admin and a one-time password, shown only here; the first
/// sign-in must replace it.
#[utoipa::path(
    operation_id = "admins_create",
    tag = "admins",
    security(("oauth2" = [])),
    request_body = NewAdmin,
    responses(
        (status = 201, description = "Created", body = CreatedAdmin,
            headers(("Location" = String, description = "The admin's URL"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`companies` names a company that does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/admins")]
pub async fn admins_create(
    caller: Caller,
    state: web::Data<AppState>,
    Json(new): Json<NewAdmin>,
) -> Result<HttpResponse, ApiError> {
    let role = Role::from(new.role);
    let id = AdminId::new();
    let target = Resource::Admin {
        id,
        partner: caller.partner,
        role,
    };
    caller
        .authorize(&state, Action::CreateAdmin { role }, &target)
        .await?;
    let email = new.email.0.into_string();
    let name = new.name.into_inner();
    let locale = check_locale(new.locale)?;
    let companies = check_companies(&state, &caller, role, new.companies).await?;
    let password = draw_secret(15);
    let hash = state.passwords.hash(password.clone()).await;
    let now = state.clock.now();
    let admin = Admin {
        id: id.to_string(),
        partner_id: caller.partner.to_string(),
        email: email.clone(),
        name,
        role: role.as_str().into(),
        password_hash: hash,
        must_change_password: true,
        token_generation: 0,
        locale,
        created_at: now,
        updated_at: now,
    };
    let mut event = caller.event("createAdmin", "admin", id.to_string(), true, Vec::new());
    event.details =
        serde_json::json!({ "email": email, "role": role.as_str(), "companies": companies });
    let partner = caller.partner;
    let stored = admin.clone();
    let assigned = companies.clone();
    let keys = state.keys.clone();
    let result = state
        .db
        .write(move |conn| {
            admins::insert(conn, &stored)?;
            admins::set_companies(conn, partner, id, &assigned)?;
            audit::append(conn, &keys, event)?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => {}
        Err(DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
            return Err(ApiError::Conflict {
                code: "email_taken",
                detail: "An admin of this partner already has this email".into(),
            });
        }
        Err(other) => return Err(other.into()),
    }
    let location = format!("/v1/admins/{}", admin.id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(CreatedAdmin {
            admin: view(admin, companies),
            one_time_password: password.expose_secret().to_owned(),
        }))
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
    let (admin, companies, id) = load(&state, &caller, &path).await?;
    caller
        .authorize(&state, Action::ReadAdmin, &resource(&caller, id, &admin))
        .await?;
    Ok(web::Json(view(admin, companies)))
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
    let (admin, _, id) = load(&state, &caller, &path).await?;
    let current = Role::parse(&admin.role).unwrap_or(Role::Technician);
    let role = update.role.map_or(current, Role::from);
    caller
        .authorize(
            &state,
            Action::UpdateAdmin { role },
            &resource(&caller, id, &admin),
        )
        .await?;
    let name = update.name.map(Name::into_inner);
    let companies = match update.companies {
        Some(list) => Some(check_companies(&state, &caller, role, Some(list)).await?),
        // A technician who becomes something else keeps no companies.
        None if role != Role::Technician => Some(Vec::new()),
        None => None,
    };
    let event = caller.event("updateAdmin", "admin", id.to_string(), true, Vec::new());
    let now = state.clock.now();
    let again = Decider::new(&state, &caller);
    let partner = caller.partner;
    let keys = state.keys.clone();
    state
        .db
        .write(move |conn| {
            // Owners first, then the admin, always in that order; then
            // decide on the row as it is now, not as it was read.
            let owners = admins::lock_owners(conn, partner)?;
            let Some(locked) = admins::lock(conn, partner, id)? else {
                return Ok::<_, DbError>(Err(ApiError::NotFound));
            };
            let was = Role::parse(&locked.role).unwrap_or(Role::Technician);
            if was != current
                && let Err(denied) = again.decide(
                    conn,
                    Action::UpdateAdmin { role },
                    &Resource::Admin { id, partner, role: was },
                )?
            {
                return Ok(Err(denied.into()));
            }
            let role_changed = role != was;
            if was == Role::Owner && role != Role::Owner && owners.len() <= 1 {
                return Ok(Err(ApiError::Conflict {
                    code: "last_owner",
                    detail: "The last owner cannot be demoted; make another owner first".into(),
                }));
            }
            let changes = AdminChanges {
                name,
                role: role_changed.then(|| role.as_str().to_owned()),
                updated_at: Some(now),
            };
            admins::update(conn, partner, id, &changes)?;
            if role_changed {
                admins::revoke_tokens(conn, partner, id)?;
            }
            if let Some(companies) = &companies {
                admins::set_companies(conn, partner, id, companies)?;
            }
            let mut event = event;
            event.details = serde_json::json!({ "role": role.as_str(), "role_changed": role_changed, "companies": companies });
            audit::append(conn, &keys, event)?;
            Ok(Ok(()))
        })
        .await??;
    let (admin, companies, _) = load(&state, &caller, &path).await?;
    Ok(web::Json(view(admin, companies)))
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
    let (admin, _, id) = load(&state, &caller, &path).await?;
    caller
        .authorize(&state, Action::DeleteAdmin, &resource(&caller, id, &admin))
        .await?;
    let read_as = Role::parse(&admin.role).unwrap_or(Role::Technician);
    let event = caller.event("deleteAdmin", "admin", id.to_string(), true, Vec::new());
    let again = Decider::new(&state, &caller);
    let partner = caller.partner;
    let keys = state.keys.clone();
    state
        .db
        .write(move |conn| {
            let owners = admins::lock_owners(conn, partner)?;
            let Some(locked) = admins::lock(conn, partner, id)? else {
                return Ok::<_, DbError>(Err(ApiError::NotFound));
            };
            let role = Role::parse(&locked.role).unwrap_or(Role::Technician);
            if role != read_as
                && let Err(denied) = again.decide(
                    conn,
                    Action::DeleteAdmin,
                    &Resource::Admin { id, partner, role },
                )?
            {
                return Ok(Err(denied.into()));
            }
            if role == Role::Owner && owners.len() <= 1 {
                return Ok(Err(ApiError::Conflict {
                    code: "last_owner",
                    detail: "The last owner cannot be removed; make another owner first".into(),
                }));
            }
            if !admins::delete(conn, partner, id)? {
                return Ok(Err(ApiError::NotFound));
            }
            let mut event = event;
            event.details = serde_json::json!({ "email": locked.email, "role": locked.role });
            audit::append(conn, &keys, event)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
