//! The contract of `/v1/companies` and of a company's backup profile and
//! backup copies: views, `ETag`/`If-Match`, and the answers. The operations
//! are the domain layer's ([`crate::app::companies`], [`crate::app::backup`]).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::backup::{self, ProfileChange, ProfileState};
use crate::app::companies as app_companies;
use crate::app::idempotent::Made;
use crate::app::resets::Idempotency;
use crate::db::companies::Company;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::admins::PageQuery;
use crate::http::caller::Caller;
use crate::http::conditional::{self, precondition};
use crate::http::extract::{Json, Query};
use crate::http::paging;
use crate::http::resets::{creation_fingerprint, idempotency_key, rendered, replay};
use crate::http::time::Timestamp;
use crate::http::values::{ExternalId, Name};

/// Where a company stands: `active`, or `retired` (it takes no more users
/// or changes, and goes once the last backup copy of its items expires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompanyStatus {
    #[default]
    Active,
    Retired,
}

/// A partner's customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyView {
    pub id: uuid::Uuid,
    pub name: String,
    /// The PSA's own id for the company, unique among the partner's
    /// companies that are not retired; null when none was given.
    pub external_id: Option<String>,
    pub status: CompanyStatus,
    /// When it was retired; null while it is active.
    pub retired_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn view(company: Company) -> CompanyView {
    CompanyView {
        id: company.id.uuid(),
        name: company.name,
        external_id: company.external_id,
        status: if company.retired_at.is_some() {
            CompanyStatus::Retired
        } else {
            CompanyStatus::Active
        },
        retired_at: company.retired_at.map(Into::into),
        created_at: company.created_at.into(),
        updated_at: company.updated_at.into(),
    }
}

/// A page of companies.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyPage {
    pub items: Vec<CompanyView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A new company. Its backup profile starts off, with 90 days' retention.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    /// Two companies may share a name.
    pub name: Name,
    /// Unique among the partner's companies that are not retired (409
    /// `external_id_taken`): a PSA's sync sends its own id, and finds the
    /// company again with `?external_id=`.
    pub external_id: Option<ExternalId>,
}

/// Listing companies.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    /// The active companies (the default), or the retired ones.
    #[param(default = "active")]
    pub status: Option<CompanyStatus>,
    /// The company with this external id only (none, or one).
    pub external_id: Option<ExternalId>,
    /// `next_cursor` of the page before: the page starts after it.
    pub cursor: Option<uuid::Uuid>,
    /// 1 to 200; 50 when left out.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Changes to a company; a field left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyUpdate {
    pub name: Option<Name>,
    /// The PSA's own id for the company, unique among the partner's
    /// companies that are not retired (409 `external_id_taken`); null
    /// removes it.
    #[serde(default, deserialize_with = "crate::http::values::present")]
    #[schema(value_type = Option<ExternalId>)]
    pub external_id: Option<Option<ExternalId>>,
}

/// List companies
///
/// The companies the caller may see, oldest first: all of the partner's
/// for owners and admins, a technician's assigned ones, a limited API
/// client's own; with `external_id`, the one a PSA's sync made before.
/// Active companies only, unless `status=retired` asks for the retired
/// ones.
#[utoipa::path(
    operation_id = "companies_list",
    tag = "companies",
    security(("oauth2" = [])),
    params(CompanyQuery),
    responses(
        (status = 200, description = "A page of companies", body = CompanyPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid status, external id, cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/companies")]
pub async fn companies_list(
    caller: Caller,
    state: web::Data<AppState>,
    Query(query): Query<CompanyQuery>,
) -> Result<web::Json<CompanyPage>, ApiError> {
    let (page, next_cursor) = app_companies::list(
        &state,
        &caller,
        query.status == Some(CompanyStatus::Retired),
        query.external_id.map(ExternalId::into_inner),
        paging::after_id(query.cursor),
        query.limit,
    )
    .await?;
    Ok(web::Json(CompanyPage {
        items: page.into_iter().map(view).collect(),
        next_cursor,
    }))
}

/// Create a company
///
/// Its backup profile starts off, with 90 days' retention and no key.
/// Retry safely with an `Idempotency-Key` header: the same key and body
/// answer the first result again (`Idempotent-Replayed: true`), the same
/// key with another body is 422.
#[utoipa::path(
    operation_id = "companies_create",
    tag = "companies",
    security(("oauth2" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of creating another company (kept 24 h)"),
    ),
    request_body = NewCompany,
    responses(
        (status = 201, description = "Created", body = CompanyView,
            headers(
                ("Location" = String, description = "The company's URL (on the first answer)"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another company of the partner has this `external_id` (`external_id_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/companies")]
pub async fn companies_create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(new): Json<NewCompany>,
) -> Result<HttpResponse, ApiError> {
    let (name, external_id) = (
        new.name.into_inner(),
        new.external_id.map(ExternalId::into_inner),
    );
    let key = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        fingerprint: creation_fingerprint("POST /v1/companies", &(&name, &external_id)),
    });
    let render = |company: &Company| rendered(&view(company.clone()));
    match app_companies::create(&state, &caller, name, external_id, key, render).await? {
        Made::New(company) => {
            let location = format!("/v1/companies/{}", company.id);
            Ok(HttpResponse::Created()
                .insert_header((header::LOCATION, location))
                .json(view(company)))
        }
        Made::Replayed(stored) => Ok(replay(stored)),
    }
}

/// Get a company
///
/// One company of the caller's partner that the caller may see.
#[utoipa::path(
    operation_id = "company_get",
    tag = "companies",
    security(("oauth2" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    responses(
        (status = 200, description = "The company", body = CompanyView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/companies/{company_id}")]
pub async fn company_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<CompanyView>, ApiError> {
    Ok(web::Json(view(
        app_companies::get(&state, &caller, &path).await?,
    )))
}

/// Change a company
///
/// Changes the company's name (one line of visible characters, 1 to 200)
/// or its external id (null removes it); a field left out stays as it is.
#[utoipa::path(
    operation_id = "company_update",
    tag = "companies",
    security(("oauth2" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    request_body = CompanyUpdate,
    responses(
        (status = 200, description = "The company, changed", body = CompanyView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_id_taken`: another company of the partner has the external id; `company_retired`: the company is retired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/companies/{company_id}")]
pub async fn company_update(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(update): Json<CompanyUpdate>,
) -> Result<web::Json<CompanyView>, ApiError> {
    let change = app_companies::CompanyChange {
        name: update.name.map(Name::into_inner),
        external_id: update.external_id.map(|id| id.map(ExternalId::into_inner)),
    };
    let company = app_companies::update(&state, &caller, &path, change).await?;
    Ok(web::Json(view(company)))
}

/// Retiring a company's parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RetirementQuery {
    /// Offboard every user of the company with it; without it, a company
    /// with users is not retired (409 `company_has_users`).
    pub offboard_users: Option<bool>,
    /// Required when offboarding would lose company items that are not
    /// backed up.
    pub acknowledge_company_data_loss: Option<bool>,
}

/// What retiring a company did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyRetirement {
    /// The company, retired.
    pub company: CompanyView,
    /// Users offboarded with it.
    pub users_offboarded: usize,
    /// Their personal items, all deleted.
    pub personal_items_purged: i64,
    /// Their company items without a backup copy, lost.
    pub company_items_purged: i64,
    /// Their company items whose backup copies are kept, for the company's
    /// retention.
    pub company_items_preserved: i64,
}

/// Retire a company
///
/// The company leaves the MSP. While it has users this is 409
/// `company_has_users`, unless `offboard_users=true`: then each user is
/// offboarded as `DELETE /v1/users/{user_id}` would (each decided by
/// `offboardUser` and `purgeVault`; company items without a backup copy
/// are lost only with `acknowledge_company_data_loss=true`, 409
/// `company_items_not_backed_up` with the totals otherwise), all in one
/// transaction with the retirement: every user goes, or none. The
/// company's backup copies start their retention clock and stay readable
/// until it ends; then the company is removed. A retired company is still
/// found by id, drops out of the default list, takes no more users or
/// changes (409 `company_retired`), and frees its external id for a new
/// company. Retiring a retired company changes nothing (200, zero counts).
/// Audited with the totals.
#[utoipa::path(
    operation_id = "company_retire",
    tag = "companies",
    security(("oauth2" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id"), RetirementQuery),
    responses(
        (status = 200, description = "Retired: the company, and what offboarding its users purged and kept", body = CompanyRetirement),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`company_has_users`: the company has users and the request did not ask to offboard them; `company_items_not_backed_up` (with the totals): offboarding would lose company items without a backup and the request did not acknowledge it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/companies/{company_id}")]
pub async fn company_retire(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Query(query): Query<RetirementQuery>,
) -> Result<web::Json<CompanyRetirement>, ApiError> {
    let app_companies::Retired {
        company,
        users_offboarded,
        vault,
    } = app_companies::retire(
        &state,
        &caller,
        &path,
        query.offboard_users.unwrap_or(false),
        query.acknowledge_company_data_loss.unwrap_or(false),
    )
    .await?;
    Ok(web::Json(CompanyRetirement {
        company: view(company),
        users_offboarded,
        personal_items_purged: vault.personal_items,
        company_items_purged: vault.company_items_not_backed_up(),
        company_items_preserved: vault.company_items_backed_up,
    }))
}

/// A company's backup profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupProfileView {
    /// Back up all company-profile items from each user's account: each
    /// company item's upload then carries a copy encrypted to the key below.
    pub backup_all_company_items: bool,
    /// Days a backup copy is kept after its item is deleted or purged.
    pub retention_days: i32,
    /// The company's X25519 public key (base64) that backup copies are
    /// encrypted to; the matching private key never reaches Custodian.
    pub backup_public_key: Option<String>,
    /// The company's users' company-profile items.
    pub company_items: i64,
    /// How many of them have a backup copy of their current revision.
    pub company_items_backed_up: i64,
    pub updated_at: Timestamp,
}

/// The new settings of a backup profile (all of them: PUT replaces).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupProfileUpdate {
    pub backup_all_company_items: bool,
    /// 1 to 3650.
    pub retention_days: i32,
    /// An X25519 public key, 32 bytes in base64; required while
    /// `backup_all_company_items` is on. Left out (or null), the key is
    /// removed. Turning the profile off does not delete existing copies:
    /// they age out by retention.
    pub backup_public_key: Option<String>,
}

fn profile_view(state: ProfileState) -> (BackupProfileView, i64) {
    let ProfileState {
        profile,
        company_items,
        company_items_backed_up,
    } = state;
    (
        BackupProfileView {
            backup_all_company_items: profile.backup_all_company_items,
            retention_days: profile.retention_days,
            backup_public_key: profile.backup_public_key,
            company_items,
            company_items_backed_up,
            updated_at: profile.updated_at.into(),
        },
        profile.version,
    )
}

fn with_etag((view, version): (BackupProfileView, i64)) -> HttpResponse {
    conditional::with_etag(HttpResponse::Ok().json(view), version)
}

/// Get a company's backup profile
///
/// With an `ETag`: send it back as `If-Match` to change the profile.
#[utoipa::path(
    operation_id = "backup_profile_get",
    tag = "companies",
    security(("oauth2" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    responses(
        (status = 200, description = "The profile", body = BackupProfileView,
            headers(("ETag" = String, description = "The profile's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/companies/{company_id}/backup-profile")]
pub async fn backup_profile_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let profile = backup::profile(&state, &caller, &path).await?;
    Ok(with_etag(profile_view(profile)))
}

/// Change a company's backup profile
///
/// Needs `If-Match` with the `ETag` of the version read: without it 428, with
/// a version that is no longer current 412 (someone changed it since; read
/// it again). Turning the profile off keeps existing backup copies; they age
/// out by retention.
#[utoipa::path(
    operation_id = "backup_profile_update",
    tag = "companies",
    security(("oauth2" = [])),
    params(
        ("company_id" = uuid::Uuid, Path, description = "The company's id"),
        ("If-Match" = String, Header, description = "The ETag of the version read"),
    ),
    request_body = BackupProfileUpdate,
    responses(
        (status = 200, description = "The profile, changed", body = BackupProfileView,
            headers(("ETag" = String, description = "The profile's new version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`company_retired`: the company is retired", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the version If-Match names", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/v1/companies/{company_id}/backup-profile")]
pub async fn backup_profile_update(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(update): Json<BackupProfileUpdate>,
) -> Result<HttpResponse, ApiError> {
    // What the contract's schema says of the body is checked with it; the
    // operation decides the rest.
    crate::http::values::in_range(
        "retention_days",
        update.retention_days.into(),
        crate::http::values::RETENTION_DAYS,
    )?;
    let key = update
        .backup_public_key
        .as_deref()
        .map(|raw| {
            crate::http::values::base64("backup_public_key", raw, crate::http::values::PUBLIC_KEY)
        })
        .transpose()?;
    let change = ProfileChange {
        backup_all_company_items: update.backup_all_company_items,
        retention_days: update.retention_days,
        backup_public_key: key,
    };
    let written =
        backup::update_profile(&state, &caller, &path, change, precondition(&req)).await?;
    Ok(with_etag(profile_view(written)))
}

/// A backup copy of a company item, as the backup viewer lists it (the
/// ciphertext, encrypted to the company's key, is not in the list).
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCopyView {
    pub id: uuid::Uuid,
    pub item_id: String,
    pub user_id: uuid::Uuid,
    pub revision: i64,
    pub created_at: Timestamp,
    /// When the item was deleted or purged, if it was.
    pub item_removed_at: Option<Timestamp>,
    #[schema(value_type = Option<crate::http::vocabulary::RemovalReason>)]
    pub removal_reason: Option<String>,
    /// When the copy is removed: `retention_days` after its item was
    /// deleted, purged or replaced by a newer revision; none while current.
    pub expires_at: Option<Timestamp>,
}

/// A page of backup copies.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCopyPage {
    pub items: Vec<BackupCopyView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// List a company's backup copies
///
/// For the company's backup viewer, oldest first.
#[utoipa::path(
    operation_id = "backups_list",
    tag = "companies",
    security(("oauth2" = [])),
    params(("company_id" = uuid::Uuid, Path, description = "The company's id"), PageQuery),
    responses(
        (status = 200, description = "A page of backup copies", body = BackupCopyPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/companies/{company_id}/backups")]
pub async fn backups_list(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<web::Json<BackupCopyPage>, ApiError> {
    let (copies, next_cursor) =
        backup::copies(&state, &caller, &path, query.cursor, query.limit).await?;
    let items = copies.into_iter().map(copy_view).collect();
    Ok(web::Json(BackupCopyPage { items, next_cursor }))
}

fn copy_view(c: crate::db::vault::BackupCopy) -> BackupCopyView {
    BackupCopyView {
        id: c.id.uuid(),
        item_id: c.item_id,
        user_id: c.user_id.uuid(),
        revision: c.revision,
        created_at: c.created_at.into(),
        item_removed_at: c.item_removed_at.map(Timestamp::from),
        removal_reason: c.removal_reason,
        expires_at: c.expires_at.map(Timestamp::from),
    }
}

/// A backup copy with its ciphertext.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCopyContent {
    #[serde(flatten)]
    pub copy: BackupCopyView,
    /// The item encrypted to the company's backup public key, base64: only
    /// the company's private key, which Custodian never holds, opens it.
    pub ciphertext: String,
}

/// Get a backup copy
///
/// One copy with its ciphertext, for the company's backup viewer to decrypt
/// with the company's private key. Each read is audited.
#[utoipa::path(
    operation_id = "backup_get",
    tag = "companies",
    security(("oauth2" = [])),
    params(
        ("company_id" = uuid::Uuid, Path, description = "The company's id"),
        ("copy_id" = uuid::Uuid, Path, description = "The copy's id"),
    ),
    responses(
        (status = 200, description = "The copy", body = BackupCopyContent),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company or copy in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/companies/{company_id}/backups/{copy_id}")]
pub async fn backup_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<BackupCopyContent>, ApiError> {
    let (company, copy) = path.into_inner();
    let copy = backup::copy(&state, &caller, &company, &copy).await?;
    let ciphertext = base64::engine::general_purpose::STANDARD.encode(&copy.ciphertext);
    Ok(web::Json(BackupCopyContent {
        copy: copy_view(copy),
        ciphertext,
    }))
}
