//! The contract of users: `GET/POST /v1/companies/{company_id}/users`,
//! `GET/PATCH /v1/users/{user_id}` (with `ETag` and `If-Match`), `GET
//! /v1/users?q=` to locate a user by email or name, `POST
//! /v1/users/{user_id}/invitation` to invite a user again, `POST
//! /v1/users/{user_id}/disable` and `…/enable`, and offboarding (`DELETE
//! /v1/users/{user_id}`, with its preview). The operations are [`crate::app::users`]'s; reading one
//! user loads the caller and the user in one trip to the database.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::idempotent::Made;
use crate::app::offboarding;
use crate::app::resets::Idempotency;
use crate::app::users as app_users;
use crate::db::types::ClientKind as StoredClientKind;
use crate::db::users::User;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::admins::{PageQuery, check_locale};
use crate::http::caller::{Caller, Verified};
use crate::http::conditional::{precondition, with_etag};
use crate::http::extract::{Json, Query};
use crate::http::paging;
use crate::http::resets::{creation_fingerprint, idempotency_key, rendered, replay};
use crate::http::time::Timestamp;
use crate::http::values::{EmailAddress, ExternalId, Name};
use crate::ids::CompanyId;

/// Which client a user works in: it decides how a reset reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// Gets a temporary master password.
    Desktop,
    /// Gets a single-use link.
    Webapp,
}

impl From<ClientKind> for StoredClientKind {
    fn from(kind: ClientKind) -> Self {
        match kind {
            ClientKind::Desktop => Self::Desktop,
            ClientKind::Webapp => Self::Webapp,
        }
    }
}

impl From<StoredClientKind> for ClientKind {
    fn from(kind: StoredClientKind) -> Self {
        match kind {
            StoredClientKind::Desktop => Self::Desktop,
            StoredClientKind::Webapp => Self::Webapp,
        }
    }
}

/// A person in a company, as the admin plane sees them (never key material).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: uuid::Uuid,
    pub company_id: uuid::Uuid,
    /// Lowercase; unique within the company.
    pub email: String,
    pub name: String,
    pub client_kind: ClientKind,
    /// en, fr, de, es, it, nl or ja: the language of the user's emails.
    #[schema(value_type = crate::http::vocabulary::Locale)]
    pub locale: String,
    /// The company's primary user.
    pub is_primary: bool,
    /// The user registered a recovery key: they can set a new master
    /// password themselves and lose nothing, no reset needed.
    pub has_recovery_key: bool,
    #[schema(value_type = crate::http::vocabulary::UserStatus)]
    pub status: String,
    /// When their master password was last reset.
    pub last_reset_at: Option<Timestamp>,
    /// The PSA's or the directory's own id for the user, unique in the
    /// company; null when none was given.
    pub external_id: Option<String>,
    /// While the user is `invited`: until when the link of their latest
    /// invitation works (send it again with `POST
    /// /v1/users/{user_id}/invitation`). Null once they accepted.
    pub invitation_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

fn view(user: User) -> UserView {
    UserView {
        id: user.id.uuid(),
        company_id: user.company_id.uuid(),
        email: user.email,
        name: user.name,
        client_kind: user.client_kind.into(),
        locale: user.locale,
        is_primary: user.is_primary,
        has_recovery_key: user.has_recovery_key,
        status: user.status.to_string(),
        last_reset_at: user.last_reset_at.map(Timestamp::from),
        external_id: user.external_id,
        invitation_expires_at: user.invitation_expires_at.map(Timestamp::from),
        created_at: user.created_at.into(),
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Unique within the company.
    pub email: EmailAddress,
    pub name: Name,
    pub client_kind: ClientKind,
    /// en, fr, de, es, it, nl or ja; en when left out.
    #[schema(value_type = Option<crate::http::vocabulary::Locale>)]
    pub locale: Option<String>,
    /// The company's primary user; a company has at most one.
    pub is_primary: Option<bool>,
    /// Unique in the company (409 `external_id_taken`): a PSA's or a
    /// directory's sync sends its own id, and finds the user again with
    /// `GET /v1/users?external_id=`.
    pub external_id: Option<ExternalId>,
}

/// Locating users.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Without regard to case, with the rule of a name (one line of 1 to
    /// 200 visible characters): text with an `@` after its first character
    /// is the start of an email (`dana@`, `dana@acme.example`); any other
    /// text is found anywhere in the email or the name (`dan`,
    /// `@acme.example`, `smith`). Left out, every user the caller may see.
    pub q: Option<Name>,
    /// Users of this company only.
    pub company_id: Option<uuid::Uuid>,
    /// Users with this external id only (unique in a company, so one per
    /// company at most).
    pub external_id: Option<ExternalId>,
    /// Users in this status only: `invited` lists who has not accepted
    /// their invitation yet.
    #[param(value_type = Option<crate::http::vocabulary::UserStatus>)]
    pub status: Option<String>,
    /// `next_cursor` of the page before: the page starts after it.
    pub cursor: Option<uuid::Uuid>,
    /// 1 to 200; 50 when left out.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn user_page((found, next_cursor): (Vec<User>, Option<String>)) -> UserPage {
    UserPage {
        items: found.into_iter().map(view).collect(),
        next_cursor,
    }
}

/// Locate users
///
/// Users whose email starts with `q` when `q` reads as the start of an
/// email (an `@` after its first character), or whose email or name
/// contains `q` otherwise, in any case, among those the caller may see,
/// oldest first.
#[utoipa::path(
    operation_id = "users_search",
    tag = "users",
    security(("oauth2" = [])),
    params(UserQuery),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/users")]
pub async fn users_search(
    caller: Caller,
    state: web::Data<AppState>,
    Query(query): Query<UserQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    let search = app_users::Search {
        text: query.q.map(|q| q.into_inner().to_lowercase()),
        company: query.company_id.map(CompanyId::from_uuid),
        external_id: query.external_id.map(ExternalId::into_inner),
        status: query.status,
    };
    let found = app_users::search(
        &state,
        &caller,
        search,
        paging::after_id(query.cursor),
        query.limit,
    )
    .await?;
    Ok(web::Json(user_page(found)))
}

/// List a company's users
///
/// The users of one company the caller may see, by id, a page at a time.
#[utoipa::path(
    operation_id = "company_users_list",
    tag = "users",
    security(("oauth2" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id"), PageQuery),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/companies/{company_id}/users")]
pub async fn company_users_list(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    let found = app_users::of_company(
        &state,
        &caller,
        &path,
        paging::after_id(query.cursor),
        query.limit,
    )
    .await?;
    Ok(web::Json(user_page(found)))
}

/// Add a user to a company
///
/// Creates an end user in the company, `invited`, and emails them an
/// invitation in their locale: a single-use link, valid for the partner's
/// `invitation_ttl_seconds`, where they choose their master password
/// (`POST /v1/account/invitation`). The email is unique in the company
/// (409 `email_taken`; the partner's other companies are never consulted, so
/// the answer reveals nothing outside the caller's reach), at most one
/// primary user per company (409 `primary_user_exists`), and an external id
/// is unique in the company (409 `external_id_taken`). Retry safely with an
/// `Idempotency-Key` header: the same key and body answer the first result
/// again (`Idempotent-Replayed: true`), the same key with another body is
/// 422.
#[utoipa::path(
    operation_id = "company_users_create",
    tag = "users",
    security(("oauth2" = [])),
    params(
        ("company_id" = uuid::Uuid, Path, description = "The company's id"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of adding the user again (kept 24 h)"),
    ),
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Created", body = UserView,
            headers(
                ("Location" = String, description = "The user's URL (on the first answer)"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email or the external id is taken in the company, the company has a primary user, or the company is retired (`company_retired`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/companies/{company_id}/users")]
pub async fn company_users_create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Json(new): Json<NewUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let command = app_users::NewUserCommand {
        email: new.email.0.into_string(),
        name: new.name.into_inner(),
        client_kind: new.client_kind.into(),
        locale: check_locale(new.locale)?,
        is_primary: new.is_primary.unwrap_or(false),
        external_id: new.external_id.map(ExternalId::into_inner),
        disabled: false,
    };
    let key = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        // The company as stored names it, so a retry that spells the id in
        // another case is still the same request.
        fingerprint: creation_fingerprint(
            "POST /v1/companies/{company_id}/users",
            &(
                CompanyId::parse(&path).map_or_else(|| path.to_string(), |id| id.to_string()),
                &command.email,
                &command.name,
                command.client_kind.to_string(),
                &command.locale,
                command.is_primary,
                &command.external_id,
            ),
        ),
    });
    let render = |user: &User| rendered(&view(user.clone()));
    match app_users::create(&state, &caller, &path, command, key, render).await? {
        Made::New(user) => {
            let location = format!("/v1/users/{}", user.id);
            Ok(HttpResponse::Created()
                .insert_header((actix_web::http::header::LOCATION, location))
                .json(view(user)))
        }
        Made::Replayed(stored) => Ok(replay(stored)),
    }
}

/// Invite a user again
///
/// Emails an invited user a new invitation, with a new link valid for the
/// partner's `invitation_ttl_seconds`: the earlier link stops working at
/// once, and its email is withdrawn if it was not sent yet. For a user who
/// lost or let expire the first one. Audited.
#[utoipa::path(
    operation_id = "user_invitation_send",
    tag = "users",
    security(("oauth2" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Sent; the user, with the new invitation's expiry", body = UserView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`user_not_invited`: the user already accepted", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/users/{user_id}/invitation")]
pub async fn user_invitation_send(
    token: Verified,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<UserView>, ApiError> {
    let user = app_users::invite(&state, token, &path).await?;
    Ok(web::Json(view(user)))
}

/// Get a user
///
/// One user the caller may see, with their status and last reset, and an
/// `ETag`: send it back as `If-Match` to change the user.
#[utoipa::path(
    operation_id = "user_get",
    tag = "users",
    security(("oauth2" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserView,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/users/{user_id}")]
pub async fn user_get(
    token: Verified,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = app_users::get(&state, token, &path).await?;
    Ok(with_version(user))
}

/// 200 with the user and their `ETag`.
fn with_version(user: User) -> HttpResponse {
    let version = user.version;
    with_etag(HttpResponse::Ok().json(view(user)), version)
}

/// What to change of a user; a field left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdateRequest {
    pub name: Option<Name>,
    /// en, fr, de, es, it, nl or ja: the language of the user's emails.
    #[schema(value_type = Option<crate::http::vocabulary::Locale>)]
    pub locale: Option<String>,
    /// How the user's next reset reaches them.
    pub client_kind: Option<ClientKind>,
    /// Whether the user is the company's primary user; a company has at
    /// most one (409 `primary_user_exists`).
    pub is_primary: Option<bool>,
    /// Unique in the company (409 `external_id_taken`); null removes it.
    #[serde(default, deserialize_with = "crate::http::values::present")]
    #[schema(value_type = Option<ExternalId>)]
    pub external_id: Option<Option<ExternalId>>,
}

/// Change a user
///
/// Changes the user's name, locale, client kind, primary flag or external
/// id; a field left out stays as it is. Needs `If-Match` with the `ETag`
/// of the version read: without it 428, with a version that is no longer
/// current 412 (someone changed the user since; read them again). Audited
/// with what changed.
#[utoipa::path(
    operation_id = "user_update",
    tag = "users",
    security(("oauth2" = [])),
    params(
        ("user_id" = uuid::Uuid, Path, description = "The user's id"),
        ("If-Match" = String, Header, description = "The ETag of the version read"),
    ),
    request_body = UserUpdateRequest,
    responses(
        (status = 200, description = "The user, changed", body = UserView,
            headers(("ETag" = String, description = "The user's new version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The company has another primary user, or another user of the company has the external id", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the version If-Match names", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/users/{user_id}")]
pub async fn user_update(
    req: HttpRequest,
    token: Verified,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(update): Json<UserUpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    let update = app_users::UserUpdate {
        name: update.name.map(Name::into_inner),
        locale: update.locale.map(|l| check_locale(Some(l))).transpose()?,
        client_kind: update.client_kind.map(Into::into),
        is_primary: update.is_primary,
        external_id: update.external_id.map(|id| id.map(ExternalId::into_inner)),
    };
    let user = app_users::update(&state, token, &path, update, precondition(&req)).await?;
    Ok(with_version(user))
}

/// What offboarding a user would purge and keep.
#[derive(Debug, Serialize, ToSchema)]
pub struct OffboardingPreview {
    pub user_id: uuid::Uuid,
    pub company_id: uuid::Uuid,
    pub email: String,
    /// Personal items: all deleted.
    pub personal_items: i64,
    /// Company items: all deleted from the vault; those backed up survive
    /// as backup copies, for the company's retention.
    pub company_items: i64,
    /// Company items with a backup copy of their current revision.
    pub company_items_backed_up: i64,
    /// Company items without one: lost, unless the user is not offboarded.
    pub company_items_not_backed_up: i64,
    /// Offboarding must acknowledge the loss of company data
    /// (`?acknowledge_company_data_loss=true`), because some is not backed up.
    pub acknowledgement_required: bool,
}

/// Preview offboarding a user
///
/// What `DELETE /v1/users/{user_id}` would purge and keep, changing
/// nothing.
#[utoipa::path(
    operation_id = "user_offboarding_preview",
    tag = "users",
    security(("oauth2" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "What offboarding would do", body = OffboardingPreview),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/users/{user_id}/offboarding-preview")]
pub async fn user_offboarding_preview(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<OffboardingPreview>, ApiError> {
    let offboarding::Preview { user, vault } = offboarding::preview(&state, &caller, &path).await?;
    Ok(web::Json(OffboardingPreview {
        user_id: user.id.uuid(),
        company_id: user.company_id.uuid(),
        email: user.email,
        personal_items: vault.personal_items,
        company_items: vault.company_items,
        company_items_backed_up: vault.company_items_backed_up,
        company_items_not_backed_up: vault.company_items_not_backed_up(),
        acknowledgement_required: vault.company_items_not_backed_up() > 0,
    }))
}

/// Offboarding's parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OffboardingQuery {
    /// Required when company items are not backed up: they will be lost.
    pub acknowledge_company_data_loss: Option<bool>,
}

/// What offboarding a user purged and kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct OffboardedView {
    pub user_id: uuid::Uuid,
    pub company_id: uuid::Uuid,
    pub personal_items_purged: i64,
    /// Company items without a backup copy, lost.
    pub company_items_purged: i64,
    /// Company items whose backup copies are kept, for the company's
    /// retention.
    pub company_items_preserved: i64,
}

/// Offboard a user
///
/// The user leaves: their vault is purged under the reset's rules (company
/// items with a backup copy survive as that copy, for the company's
/// retention; without one they are lost, which
/// `acknowledge_company_data_loss=true` must accept, 409 with the counts
/// otherwise), the unsent emails of their pending resets and invitation
/// are withdrawn, and the user is removed with their resets, in one
/// transaction. Purging needs the right to purge (`purgeVault`: an API
/// client needs the `resets:write` scope too). Audited with the counts; a
/// second request finds no user (404).
#[utoipa::path(
    operation_id = "user_offboard",
    tag = "users",
    security(("oauth2" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id"), OffboardingQuery),
    responses(
        (status = 200, description = "Offboarded: what was purged and kept", body = OffboardedView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`company_items_not_backed_up` (with the counts): company items without a backup would be lost and the request did not acknowledge it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/users/{user_id}")]
pub async fn user_offboard(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Query(query): Query<OffboardingQuery>,
) -> Result<web::Json<OffboardedView>, ApiError> {
    let offboarding::Offboarded { user, vault } = offboarding::offboard(
        &state,
        &caller,
        &path,
        query.acknowledge_company_data_loss.unwrap_or(false),
    )
    .await?;
    Ok(web::Json(OffboardedView {
        user_id: user.id.uuid(),
        company_id: user.company_id.uuid(),
        personal_items_purged: vault.personal_items,
        company_items_purged: vault.company_items_not_backed_up(),
        company_items_preserved: vault.company_items_backed_up,
    }))
}

/// Disable a user
///
/// The user's tokens are refused at once, they cannot sign in, and nothing
/// else they hold works (a reset's temporary password or link, an
/// invitation, a recovery key), until they are enabled. Their vault is
/// kept. A disabled user is not reset (409 `user_disabled`). Disabling a
/// disabled user changes nothing. Audited.
#[utoipa::path(
    operation_id = "user_disable",
    tag = "users",
    security(("oauth2" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, disabled", body = UserView,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/users/{user_id}/disable")]
pub async fn user_disable(
    token: Verified,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(with_version(
        app_users::disable(&state, token, &path).await?,
    ))
}

/// Enable a user
///
/// A disabled user becomes `active` again when they have a master
/// password, `reset_pending` when a reset of theirs is pending, and
/// `invited` otherwise; they sign in as before (their tokens from before
/// stay refused). Enabling a user who is not disabled changes nothing.
/// Audited.
#[utoipa::path(
    operation_id = "user_enable",
    tag = "users",
    security(("oauth2" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, enabled", body = UserView,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/users/{user_id}/enable")]
pub async fn user_enable(
    token: Verified,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(with_version(app_users::enable(&state, token, &path).await?))
}
