//! `/v1/partners`: the platform operator's management of partners, as the
//! contract shows it; the operations are [`crate::app::platform`]'s. Only an
//! operator's token (`POST /v1/operator/token`) passes here, and it passes
//! nowhere else.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, delete, get, patch, post, web};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::idempotent::Made;
use crate::app::platform::{self, CreatedPartner, OperatorContext};
use crate::app::resets::Idempotency;
use crate::db::operator_clients::OperatorClient;
use crate::db::partners::Partner;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::admins::AdminStatus;
use crate::http::extract::{Json, Query};
use crate::http::resets::{creation_fingerprint, idempotency_key, rendered, replay};
use crate::http::time::Timestamp;
use crate::http::values::{EmailAddress, Name};
use crate::ids::{OperatorClientId, PartnerId};

/// The signed-in platform operator.
pub struct Operator(pub OperatorContext);

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = crate::http::caller::verified_with(req, |state, token, request_id| {
            state.verify_operator_token(token, request_id)
        });
        Box::pin(async move {
            let (verified, state) = verified?;
            Ok(Operator(verified.context(&state).await?))
        })
    }
}

/// Whether a partner's tokens work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartnerStatus {
    Active,
    /// Every token of its admins, API clients and users is refused, and
    /// none of them signs in.
    Suspended,
}

/// A partner as the platform operator sees it: an account, not what is in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerAccount {
    pub id: uuid::Uuid,
    #[schema(example = "Northwind IT")]
    pub name: String,
    pub status: PartnerStatus,
    /// Since when it is suspended; absent when active.
    pub suspended_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Partner> for PartnerAccount {
    fn from(p: Partner) -> Self {
        Self {
            id: p.id.uuid(),
            name: p.name,
            status: if p.suspended_at.is_some() {
                PartnerStatus::Suspended
            } else {
                PartnerStatus::Active
            },
            suspended_at: p.suspended_at.map(Into::into),
            created_at: p.created_at.into(),
            updated_at: p.updated_at.into(),
        }
    }
}

/// An owner invited to a partner.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitedOwner {
    pub id: uuid::Uuid,
    pub email: String,
    pub name: String,
    pub status: AdminStatus,
    /// Until when the emailed invitation's link works.
    pub invitation_expires_at: Option<Timestamp>,
}

impl From<crate::db::admins::Admin> for InvitedOwner {
    fn from(a: crate::db::admins::Admin) -> Self {
        Self {
            id: a.id.uuid(),
            status: AdminStatus::of(&a),
            invitation_expires_at: a.invitation_expires_at.map(Into::into),
            email: a.email,
            name: a.name,
        }
    }
}

/// A partner created, and its first owner, invited by email.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerCreated {
    pub partner: PartnerAccount,
    pub owner: InvitedOwner,
}

fn created_view(created: CreatedPartner) -> PartnerCreated {
    PartnerCreated {
        partner: created.partner.into(),
        owner: created.owner.into(),
    }
}

/// A partner's first owner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartnerOwner {
    /// Their sign-in name, with the new partner's id.
    pub email: EmailAddress,
    pub name: Name,
    /// en, fr, de, es, it, nl or ja: the invitation's language; en when
    /// left out.
    #[schema(value_type = Option<crate::http::vocabulary::Locale>)]
    pub locale: Option<String>,
}

/// A partner to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartner {
    pub name: Name,
    pub owner: NewPartnerOwner,
}

/// What may change about a partner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerAccountUpdate {
    pub name: Name,
}

/// Paging and filtering of the partners.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PartnersQuery {
    /// `next_cursor` of the page before: the page starts after it.
    pub cursor: Option<uuid::Uuid>,
    /// 1 to 200; 50 when left out.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Only the partners of this status.
    pub status: Option<PartnerStatus>,
}

/// A page of partners.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerPage {
    pub items: Vec<PartnerAccount>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The owners invited again.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnersInvited {
    pub items: Vec<InvitedOwner>,
}

/// Create a partner
///
/// Creates a partner (an MSP) and its first owner, who is emailed an
/// invitation to choose their password; no password is shown to anyone.
/// Retry safely with an `Idempotency-Key` header: the same key and body
/// answer the first result again (`Idempotent-Replayed: true`; kept 24 h)
/// and create nothing; the same key with another body is 422.
#[utoipa::path(
    operation_id = "partners_create",
    tag = "platform",
    security(("operator" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of creating the partner again (kept 24 h)"),
    ),
    request_body = NewPartner,
    responses(
        (status = 201, description = "Created, its owner invited", body = PartnerCreated,
            headers(
                ("Location" = String, description = "The partner's URL (on the first answer)"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/partners")]
pub async fn partners_create(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(new): Json<NewPartner>,
) -> Result<HttpResponse, ApiError> {
    let new = platform::NewPartner {
        name: new.name.into_inner(),
        owner: platform::NewOwner {
            email: new.owner.email.0,
            name: new.owner.name.into_inner(),
            locale: new.owner.locale,
        },
    };
    let key = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        fingerprint: creation_fingerprint(
            "POST /v1/partners",
            &(
                &new.name,
                new.owner.email.as_str(),
                &new.owner.name,
                &new.owner.locale,
            ),
        ),
    });
    let render = |created: &CreatedPartner| rendered(&created_view(created.clone()));
    match platform::create(&state, &operator, new, key, render).await? {
        Made::New(created) => {
            let location = format!("/v1/partners/{}", created.partner.id);
            Ok(HttpResponse::Created()
                .insert_header((actix_web::http::header::LOCATION, location))
                .json(created_view(created)))
        }
        Made::Replayed(stored) => Ok(replay(stored)),
    }
}

/// List partners
///
/// The platform's partners, oldest first.
#[utoipa::path(
    operation_id = "partners_list",
    tag = "platform",
    security(("operator" = [])),
    params(PartnersQuery),
    responses(
        (status = 200, description = "A page of partners", body = PartnerPage),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid cursor, limit or status", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/partners")]
pub async fn partners_list(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    Query(query): Query<PartnersQuery>,
) -> Result<web::Json<PartnerPage>, ApiError> {
    let suspended = query.status.map(|s| s == PartnerStatus::Suspended);
    let after = query.cursor.map(PartnerId::from_uuid);
    let (page, next_cursor) =
        platform::list(&state, &operator, after, suspended, query.limit).await?;
    Ok(web::Json(PartnerPage {
        items: page.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Get a partner
#[utoipa::path(
    operation_id = "partner_account_get",
    tag = "platform",
    security(("operator" = [])),
    params(("partner_id" = uuid::Uuid, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The partner", body = PartnerAccount),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/partners/{partner_id}")]
pub async fn partner_account_get(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<PartnerAccount>, ApiError> {
    Ok(web::Json(
        platform::get(&state, &operator, &path).await?.into(),
    ))
}

/// Rename a partner
#[utoipa::path(
    operation_id = "partner_account_update",
    tag = "platform",
    security(("operator" = [])),
    params(("partner_id" = uuid::Uuid, Path, description = "The partner's id")),
    request_body = PartnerAccountUpdate,
    responses(
        (status = 200, description = "The partner, renamed", body = PartnerAccount),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/partners/{partner_id}")]
pub async fn partner_account_update(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(update): Json<PartnerAccountUpdate>,
) -> Result<web::Json<PartnerAccount>, ApiError> {
    let name = update.name.into_inner();
    Ok(web::Json(
        platform::rename(&state, &operator, &path, name)
            .await?
            .into(),
    ))
}

/// Suspend a partner
///
/// From this moment every token of the partner's admins, API clients and
/// users is refused, and none of them signs in, until it is reactivated.
/// Nothing of the partner is deleted. Suspending a suspended partner
/// changes nothing.
#[utoipa::path(
    operation_id = "partner_suspend",
    tag = "platform",
    security(("operator" = [])),
    params(("partner_id" = uuid::Uuid, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The partner, suspended", body = PartnerAccount),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/partners/{partner_id}/suspend")]
pub async fn partner_suspend(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<PartnerAccount>, ApiError> {
    Ok(web::Json(
        platform::set_suspended(&state, &operator, &path, true)
            .await?
            .into(),
    ))
}

/// Reactivate a partner
///
/// Its people sign in again (tokens refused while it was suspended stay
/// refused only until they expire). Reactivating an active partner changes
/// nothing.
#[utoipa::path(
    operation_id = "partner_reactivate",
    tag = "platform",
    security(("operator" = [])),
    params(("partner_id" = uuid::Uuid, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The partner, active", body = PartnerAccount),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/partners/{partner_id}/reactivate")]
pub async fn partner_reactivate(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<PartnerAccount>, ApiError> {
    Ok(web::Json(
        platform::set_suspended(&state, &operator, &path, false)
            .await?
            .into(),
    ))
}

/// Invite a partner's owners again
///
/// Emails each owner of the partner who has not joined a new invitation
/// (their earlier links die): for a first owner whose invitation expired
/// before they accepted it.
#[utoipa::path(
    operation_id = "partner_owners_invite",
    tag = "platform",
    security(("operator" = [])),
    params(("partner_id" = uuid::Uuid, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The owners invited again", body = OwnersInvited),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`owner_not_invited`: every owner has joined", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/partners/{partner_id}/owner-invitations")]
pub async fn partner_owners_invite(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<OwnersInvited>, ApiError> {
    let invited = platform::invite_owners(&state, &operator, &path).await?;
    Ok(web::Json(OwnersInvited {
        items: invited.into_iter().map(Into::into).collect(),
    }))
}

/// One of the operator's API clients: the vendor's automation.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorClientView {
    /// The OAuth 2.0 `client_id`.
    pub id: uuid::Uuid,
    #[schema(example = "Billing sync")]
    pub name: String,
    /// The operator's staff member who made it.
    pub created_by: Option<uuid::Uuid>,
    pub created_at: Timestamp,
}

impl From<OperatorClient> for OperatorClientView {
    fn from(client: OperatorClient) -> Self {
        Self {
            id: client.id.uuid(),
            name: client.name,
            created_by: client.created_by_operator_id.map(|id| id.uuid()),
            created_at: client.created_at.into(),
        }
    }
}

/// A page of the operator's API clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorClientPage {
    pub items: Vec<OperatorClientView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// An API client of the operator's to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOperatorClient {
    /// E.g. the automation's name.
    pub name: Name,
}

/// One of the operator's API clients, made, and its secret.
#[derive(Serialize, ToSchema)]
pub struct CreatedOperatorClient {
    pub client: OperatorClientView,
    /// The OAuth 2.0 `client_secret`. Store it now: it is kept as a keyed
    /// hash, and sealed with this answer for a retry under the same
    /// `Idempotency-Key` (24 h); shown nowhere else.
    pub client_secret: String,
}

/// Everything but the secret.
impl std::fmt::Debug for CreatedOperatorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedOperatorClient")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// A page of the operator's API clients: where it starts and how long.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OperatorClientsQuery {
    /// `next_cursor` of the page before: the page starts after it.
    pub cursor: Option<uuid::Uuid>,
    /// 1 to 200; 50 when left out.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// List the operator's API clients
///
/// The vendor's automation credentials, oldest first; never their secrets.
/// For the operator's staff only.
#[utoipa::path(
    operation_id = "operator_clients_list",
    tag = "platform",
    security(("operator" = [])),
    params(OperatorClientsQuery),
    responses(
        (status = 200, description = "A page of the operator's API clients", body = OperatorClientPage),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy (an API client of the operator's never manages credentials)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/operator/api-clients")]
pub async fn operator_clients_list(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    Query(query): Query<OperatorClientsQuery>,
) -> Result<web::Json<OperatorClientPage>, ApiError> {
    let after = query
        .cursor
        .map(|cursor| OperatorClientId::parse(&cursor.to_string()).ok_or(()))
        .transpose()
        .map_err(|()| crate::app::Error::invalid("cursor", "not a next_cursor this list gave"))?;
    let (clients, next_cursor) = platform::clients(&state, &operator, after, query.limit).await?;
    Ok(web::Json(OperatorClientPage {
        items: clients.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Make an API client of the operator's
///
/// For the vendor's automation: the client signs in with
/// `grant_type=client_credentials` at `POST /v1/operator/token` and manages
/// partners as the operator's staff do; it never manages credentials.
/// Answers the client and its secret, shown only here. Retry safely with an
/// `Idempotency-Key` header: the same key and body answer the first result
/// again, the secret included (`Idempotent-Replayed: true`; kept sealed for
/// 24 h); the same key with another body is 422.
#[utoipa::path(
    operation_id = "operator_clients_create",
    tag = "platform",
    security(("operator" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of making another client (kept 24 h)"),
    ),
    request_body = NewOperatorClient,
    responses(
        (status = 201, description = "Made", body = CreatedOperatorClient,
            headers(
                ("Location" = String, description = "The client's URL, to remove it (on the first answer)"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy (an API client of the operator's never manages credentials)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/operator/api-clients")]
pub async fn operator_clients_create(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(new): Json<NewOperatorClient>,
) -> Result<HttpResponse, ApiError> {
    use secrecy::ExposeSecret;
    let name = new.name.into_inner();
    let key = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        fingerprint: creation_fingerprint("POST /v1/operator/api-clients", &name),
    });
    let created = |(client, secret): &platform::CreatedClient| CreatedOperatorClient {
        client: client.clone().into(),
        client_secret: secret.expose_secret().to_owned(),
    };
    let render = move |made: &platform::CreatedClient| rendered(&created(made));
    match platform::create_client(&state, &operator, name, key, render).await? {
        Made::New(made) => {
            let location = format!("/v1/operator/api-clients/{}", made.0.id);
            Ok(HttpResponse::Created()
                .insert_header((actix_web::http::header::LOCATION, location))
                .json(created(&made)))
        }
        Made::Replayed(stored) => Ok(replay(stored)),
    }
}

/// Remove an API client of the operator's
///
/// Its tokens stop working at once, and its secret signs in no more.
#[utoipa::path(
    operation_id = "operator_client_delete",
    tag = "platform",
    security(("operator" = [])),
    params(("client_id" = uuid::Uuid, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy (an API client of the operator's never manages credentials)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/operator/api-clients/{client_id}")]
pub async fn operator_client_delete(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    platform::delete_client(&state, &operator, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Set the operator's own password
///
/// One of the operator's staff replaces the password they sign in with (the
/// one `custodian serve` printed at the first start, at first). Every token
/// issued before is refused afterwards: sign in again. An API client of the
/// operator's has no password (403).
#[utoipa::path(
    operation_id = "operator_password_change",
    tag = "platform",
    security(("operator" = [])),
    request_body = crate::http::tokens::PasswordChange,
    responses(
        (status = 204, description = "Changed; sign in again"),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy (an API client of the operator's has no password)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The current password is wrong, or the new one is unacceptable", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/operator/password")]
pub async fn operator_password_change(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(change): Json<crate::http::tokens::PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    platform::change_password(
        &state,
        &operator,
        change.current_password,
        change.new_password,
        crate::http::client_address(&req),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List the platform's audit events
///
/// The platform's own audit chain, oldest first, filtered and paged: the
/// operator's API clients made and removed, and the sign-ins of its staff
/// and clients (an event about a partner is in that partner's chain).
#[utoipa::path(
    operation_id = "platform_audit_events_list",
    tag = "platform",
    security(("operator" = [])),
    params(crate::http::audit::AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = crate::http::audit::AuditEventPage),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid filter or cursor", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/operator/audit-events")]
pub async fn platform_audit_events_list(
    Operator(operator): Operator,
    state: web::Data<AppState>,
    Query(query): Query<crate::http::audit::AuditQuery>,
) -> Result<web::Json<crate::http::audit::AuditEventPage>, ApiError> {
    let limit = query.limit;
    let (events, next_cursor) =
        platform::audit_events(&state, &operator, query.into(), limit).await?;
    Ok(web::Json(crate::http::audit::AuditEventPage {
        items: events.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Verify the platform's audit chain
///
/// Walks the platform's own hash chain and names the first event that was
/// altered, or that follows a removed one.
#[utoipa::path(
    operation_id = "platform_audit_events_verify",
    tag = "platform",
    security(("operator" = [])),
    responses(
        (status = 200, description = "The verdict", body = crate::audit::Verification),
        (status = 401, description = "No valid operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/operator/audit-events/verify")]
pub async fn platform_audit_events_verify(
    Operator(operator): Operator,
    state: web::Data<AppState>,
) -> Result<web::Json<crate::audit::Verification>, ApiError> {
    Ok(web::Json(platform::verify_audit(&state, &operator).await?))
}
