//! The lost-master-password runbook's contract (docs/design.md, "The reset,
//! step by step"): `GET /v1/users/{user_id}/master-password-reset-preview`
//! says what a reset would do; `POST /v1/users/{user_id}/master-password-resets`
//! does it; `GET /v1/master-password-resets[/{reset_id}]` read resets, and
//! `POST …/{reset_id}/reissue` sends a fresh secret; `POST …/approve` and
//! `…/reject` are a second admin's decision on a reset that policy sent for
//! approval. The rules and the
//! transactions are the domain layer's ([`crate::app::resets`]); here are
//! the views, the idempotency header and the answers.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::app::resets::{self as ops, CONFIRMATION, Delivery, Idempotency, ResetCommand};
use crate::db::idempotency;
use crate::db::resets::WithEmail;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::caller::Caller;
use crate::http::extract::{Json, Query};
use crate::http::paging;
use crate::http::time::Timestamp;
use crate::http::values::{Reason, Ticket};
use crate::ids::{CompanyId, UserId};

/// How a user receives the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// A temporary master password (desktop users), typed into the app.
    TemporaryPassword,
    /// A single-use link (webapp users, or everyone when the partner set
    /// `links_for_everyone`).
    Link,
}

impl From<Delivery> for DeliveryKind {
    fn from(delivery: Delivery) -> Self {
        match delivery {
            Delivery::TemporaryPassword => Self::TemporaryPassword,
            Delivery::Link => Self::Link,
        }
    }
}

/// The phrase that confirms a reset.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationPhrase {
    /// `Yes`: accepted from everyone.
    #[schema(example = "Yes")]
    pub phrase: String,
    /// The word for "yes" in the caller's locale (`Oui`, `Ja`, `Sí`, `Sì`,
    /// `はい`), accepted as well; absent for English.
    pub localized: Option<String>,
    /// Case and surrounding whitespace do not matter.
    pub case_sensitive: bool,
}

/// What a reset of this user would do, before anything happens.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetPreview {
    pub user_id: uuid::Uuid,
    pub company_id: uuid::Uuid,
    pub email: String,
    /// Personal items: all deleted.
    pub personal_items: i64,
    /// Company items: all deleted from the vault; those backed up survive as
    /// backup copies.
    pub company_items: i64,
    /// Company items with a backup copy of their current revision.
    pub company_items_backed_up: i64,
    /// Company items without one: lost, unless the reset is not made.
    pub company_items_not_backed_up: i64,
    /// A reset must acknowledge the loss of company data
    /// (`acknowledge_company_data_loss`), because some is not backed up.
    pub acknowledgement_required: bool,
    /// How the user will receive the secret.
    pub delivery_kind: DeliveryKind,
    /// The user registered a recovery key: they can set a new master
    /// password themselves and keep every item. Point them there first.
    pub has_recovery_key: bool,
    /// The pending reset this one would supersede (its secret dies).
    pub supersedes: Option<uuid::Uuid>,
    /// What to send as `confirmation`.
    pub confirmation: ConfirmationPhrase,
    /// The reset would wait for a second admin's approval
    /// (`awaiting_approval`: nothing purged or sent until another admin
    /// approves it).
    pub approval_required: bool,
    /// The policies that would ask for the approval (empty when none
    /// permits running without one, which asks for it too).
    pub approval_required_by: Vec<String>,
}

/// A reset, confirmed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// `Yes`, or the localized word the preview names.
    pub confirmation: String,
    /// Required when company items are not backed up: they will be lost.
    #[serde(default)]
    pub acknowledge_company_data_loss: bool,
    /// Why (kept with the reset and in the audit log).
    pub reason: Option<Reason>,
    /// The ticket in the partner's PSA.
    pub ticket: Option<Ticket>,
    /// The user's pending reset this one replaces, as the preview names it
    /// (`supersedes`). Without it, a user with a pending reset is not reset
    /// again (409 `reset_pending`): a double click, a second admin or a
    /// racing integration does not purge twice. To resend the email, re-issue
    /// the pending reset instead.
    pub supersedes: Option<uuid::Uuid>,
}

/// Who asked for a reset.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestedBy {
    #[schema(value_type = crate::http::vocabulary::RequesterKind)]
    pub kind: String,
    pub id: uuid::Uuid,
}

/// Why a reset waits for a second admin, and who decided it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalView {
    /// The ids of the policies that asked for a second admin.
    pub required_by: Vec<String>,
    /// When the request expires if nobody decides.
    pub expires_at: Timestamp,
    /// Who approved or rejected it; null while it waits, or when it
    /// expired.
    pub decided_by: Option<RequestedBy>,
    pub decided_at: Option<Timestamp>,
    /// What the deciding admin wrote.
    pub comment: Option<String>,
}

/// A master-password reset (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResetView {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub company_id: uuid::Uuid,
    /// The batch that made it, if one did.
    pub batch_id: Option<uuid::Uuid>,
    /// `pending_user_action` until the user sets a new master password
    /// (`completed`), or a later reset replaces it (`superseded`), or its
    /// secret expires (`expired`). A reset policy sent for approval is
    /// `awaiting_approval` first (nothing purged, nothing sent), then
    /// `pending_user_action` once approved, `rejected`, or `expired` when
    /// nobody decided in time.
    #[schema(value_type = crate::http::vocabulary::ResetStatus)]
    pub status: String,
    pub delivery_kind: DeliveryKind,
    pub personal_items_purged: i64,
    /// Company items deleted without a backup copy: lost.
    pub company_items_purged: i64,
    /// Company items deleted from the vault whose backup copy survives.
    pub company_items_preserved: i64,
    pub acknowledged_company_data_loss: bool,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub requested_by: RequestedBy,
    /// The email's state in the outbox.
    #[schema(value_type = Option<crate::http::vocabulary::EmailStatus>)]
    pub email_status: Option<String>,
    /// When the secret stops working; null while no secret was drawn (a
    /// reset awaiting approval, rejected, or expired before approval).
    pub secret_expires_at: Option<Timestamp>,
    pub reissue_count: i32,
    pub superseded_by: Option<uuid::Uuid>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// Present when policy asked for a second admin's approval.
    pub approval: Option<ApprovalView>,
}

fn view((reset, email_status): WithEmail) -> ResetView {
    let approval = reset.approval_expires_at.map(|expires_at| ApprovalView {
        required_by: reset.approval_policies(),
        expires_at: expires_at.into(),
        decided_by: reset
            .decided_by_kind
            .clone()
            .zip(reset.decided_by_id)
            .map(|(kind, id)| RequestedBy {
                kind,
                id: id.uuid(),
            }),
        decided_at: reset.decided_at.map(Timestamp::from),
        comment: reset.decision_comment.clone(),
    });
    ResetView {
        id: reset.id.uuid(),
        user_id: reset.user_id.uuid(),
        company_id: reset.company_id.uuid(),
        batch_id: reset.batch_id.map(|id| id.uuid()),
        status: reset.status.to_string(),
        delivery_kind: reset.delivery_kind.into(),
        personal_items_purged: reset.personal_items_purged,
        company_items_purged: reset.company_items_purged,
        company_items_preserved: reset.company_items_preserved,
        acknowledged_company_data_loss: reset.acknowledged_company_data_loss,
        reason: reset.reason,
        ticket: reset.ticket,
        requested_by: RequestedBy {
            kind: reset.requested_by_kind,
            id: reset.requested_by_id.uuid(),
        },
        email_status,
        secret_expires_at: reset.secret_expires_at.map(Timestamp::from),
        reissue_count: reset.reissue_count,
        superseded_by: reset.superseded_by.map(|id| id.uuid()),
        created_at: reset.created_at.into(),
        updated_at: reset.updated_at.into(),
        completed_at: reset.completed_at.map(Timestamp::from),
        approval,
    }
}

/// Preview a master-password reset
///
/// What a reset would do, changing nothing: the items it deletes, the
/// company items that survive as backup copies and those that would be lost,
/// how the user gets the secret, whether the user could recover by
/// themselves with a recovery key, the pending reset it would supersede, and
/// the phrase that confirms it. Needs the right to reset the user.
#[utoipa::path(
    operation_id = "reset_preview_get",
    tag = "resets",
    security(("oauth2" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "What the reset would do", body = ResetPreview),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/users/{user_id}/master-password-reset-preview")]
pub async fn reset_preview_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<ResetPreview>, ApiError> {
    Ok(web::Json(preview_view(
        ops::preview(&state, &caller, &path).await?,
    )))
}

/// A preview's view.
pub(crate) fn preview_view(preview: ops::Preview) -> ResetPreview {
    let (user, vault) = (preview.user, preview.vault);
    let not_backed_up = vault.company_items_not_backed_up();
    ResetPreview {
        user_id: user.id.uuid(),
        company_id: user.company_id.uuid(),
        delivery_kind: preview.delivery.into(),
        email: user.email,
        personal_items: vault.personal_items,
        company_items: vault.company_items,
        company_items_backed_up: vault.company_items_backed_up,
        company_items_not_backed_up: not_backed_up,
        acknowledgement_required: not_backed_up > 0,
        has_recovery_key: user.has_recovery_key,
        supersedes: preview.supersedes.map(|id| id.uuid()),
        confirmation: confirmation_phrase(preview.localized_confirmation),
        approval_required: preview.approval_required,
        approval_required_by: preview.approval_required_by,
    }
}

/// The phrase that confirms a reset, and its word in the caller's locale.
pub(crate) fn confirmation_phrase(localized: Option<&'static str>) -> ConfirmationPhrase {
    ConfirmationPhrase {
        phrase: CONFIRMATION.into(),
        localized: localized.map(Into::into),
        case_sensitive: false,
    }
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// What the first request under a key was: the user and the body, as sent.
fn fingerprint(user: &str, request: &ResetRequest) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(b"POST master-password-resets\n");
    hash.update(user.as_bytes());
    hash.update(b"\n");
    hash.update(serde_json::to_vec(request).expect("a request serializes"));
    hash.finalize().to_vec()
}

/// What a creating request under a key was: the operation and its values,
/// as checked (so a retry that spells a value another accepted way is
/// still the same request).
pub(crate) fn creation_fingerprint(operation: &str, values: &impl Serialize) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(operation.as_bytes());
    hash.update(b"\n");
    hash.update(serde_json::to_vec(values).expect("checked values serialize"));
    hash.finalize().to_vec()
}

/// A view as the body kept under an idempotency key.
pub(crate) fn rendered(view: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(view).expect("a view serializes")
}

/// The first response stored under a key, answered again.
pub(crate) fn replay(stored: idempotency::Stored) -> HttpResponse {
    let status = stored
        .response_status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
        .unwrap_or(actix_web::http::StatusCode::CREATED);
    HttpResponse::build(status)
        .content_type("application/json")
        .insert_header(("Idempotent-Replayed", "true"))
        .body(stored.response_body.unwrap_or_default())
}

/// Reset a user's master password
///
/// Purges the user's vault and emails them a temporary master password
/// (desktop) or a single-use link (webapp, or everyone when the partner set
/// `links_for_everyone`). Company items backed up (current revision) survive
/// as backup copies, their retention clock started; the rest is deleted.
/// Earlier pending resets are superseded, and every token the user held is
/// refused. All of it happens in one transaction; the secret is never in a
/// response. Retry safely with an `Idempotency-Key` header: the same key and
/// body answer the first result again (`Idempotent-Replayed: true`), the
/// same key with another body is 422.
#[utoipa::path(
    operation_id = "reset_create",
    tag = "resets",
    security(("oauth2" = [])),
    params(
        ("user_id" = uuid::Uuid, Path, description = "The user's id"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of resetting again (kept 24 h)"),
    ),
    request_body = ResetRequest,
    responses(
        (status = 201, description = "The reset, made; the email is queued. When policy asks for a second admin, the reset is `awaiting_approval` instead: nothing is purged or sent until another admin approves it", body = ResetView,
            headers(
                ("Location" = String, description = "The reset's URL"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy (the deciding policies are named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`company_items_not_backed_up` (with the counts; acknowledge to go on), `reset_pending` (the user has a pending reset the request does not name in `supersedes`), `reset_awaiting_approval` (a reset of the user waits for a second admin), or `no_approver` (policy asks for a second admin and no other admin may approve)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A wrong confirmation phrase, an invalid field, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/users/{user_id}/master-password-resets")]
pub async fn reset_create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Json(request): Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let idempotency = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        // The user as stored names it, so a retry that spells the id in
        // another case is still the same request.
        fingerprint: fingerprint(
            &UserId::parse(&path).map_or_else(|| path.to_string(), |id| id.to_string()),
            &request,
        ),
    });
    let command = ResetCommand {
        confirmation: request.confirmation,
        acknowledge_company_data_loss: request.acknowledge_company_data_loss,
        reason: request.reason.and_then(Reason::into_text),
        ticket: request.ticket.and_then(Ticket::into_text),
        supersedes: request.supersedes,
        idempotency,
        batch: None,
    };
    let render =
        |reset: &WithEmail| serde_json::to_vec(&view(reset.clone())).expect("a reset serializes");
    match ops::create(&state, &caller, &path, command, render).await? {
        ops::Created::New { reset, body } => Ok(HttpResponse::Created()
            .content_type("application/json")
            .insert_header((
                header::LOCATION,
                format!("/v1/master-password-resets/{}", reset.0.id),
            ))
            .body(body)),
        ops::Created::Replayed(stored) => Ok(replay(stored)),
    }
}

/// Get a reset
///
/// One master password reset of a user the caller may see: what it
/// purged and kept, its delivery and email status; never its secret.
#[utoipa::path(
    operation_id = "reset_get",
    tag = "resets",
    security(("oauth2" = [])),
    params(("reset_id" = uuid::Uuid, Path, description = "The reset's id")),
    responses(
        (status = 200, description = "The reset", body = ResetView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reset in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/master-password-resets/{reset_id}")]
pub async fn reset_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<ResetView>, ApiError> {
    Ok(web::Json(view(ops::get(&state, &caller, &path).await?)))
}

/// The filters of a list of resets.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResetQuery {
    /// Resets of this user only.
    pub user_id: Option<uuid::Uuid>,
    /// Resets of this company's users only.
    pub company_id: Option<uuid::Uuid>,
    #[param(value_type = Option<crate::http::vocabulary::ResetStatus>)]
    pub status: Option<String>,
    /// `next_cursor` of the page before: the page starts after it.
    pub cursor: Option<uuid::Uuid>,
    /// 1 to 200; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A page of resets.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetPage {
    pub items: Vec<ResetView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// List resets
///
/// The partner's resets the caller may read, oldest first.
#[utoipa::path(
    operation_id = "resets_list",
    tag = "resets",
    security(("oauth2" = [])),
    params(ResetQuery),
    responses(
        (status = 200, description = "A page of resets", body = ResetPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid filter, cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/master-password-resets")]
pub async fn resets_list(
    caller: Caller,
    state: web::Data<AppState>,
    Query(query): Query<ResetQuery>,
) -> Result<web::Json<ResetPage>, ApiError> {
    let (found, next_cursor) = ops::list(
        &state,
        &caller,
        ops::ListQuery {
            user: query.user_id.map(UserId::from_uuid),
            company: query.company_id.map(CompanyId::from_uuid),
            status: query.status,
            after: paging::after_id(query.cursor),
            limit: query.limit,
        },
    )
    .await?;
    Ok(web::Json(ResetPage {
        items: found.into_iter().map(view).collect(),
        next_cursor,
    }))
}

/// Re-issue a pending or expired reset
///
/// A fresh secret and a fresh email for a reset the user has not finished
/// (the email went astray, or the secret expired): the old secret dies at
/// once, an old email not yet sent is withdrawn, every token of the user is
/// refused, and the reset is pending again; nothing is purged again. Needs
/// the right to reset the user.
#[utoipa::path(
    operation_id = "reset_reissue",
    tag = "resets",
    security(("oauth2" = [])),
    params(("reset_id" = uuid::Uuid, Path, description = "The reset's id")),
    responses(
        (status = 200, description = "The reset, with its new email queued", body = ResetView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reset in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reset_not_pending`: completed or superseded; `reset_pending`: the reset expired and another one is pending", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/master-password-resets/{reset_id}/reissue")]
pub async fn reset_reissue(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<ResetView>, ApiError> {
    Ok(web::Json(view(ops::reissue(&state, &caller, &path).await?)))
}

/// A second admin approves a reset.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Acknowledges that company items without a backup copy will be lost
    /// (the request's own acknowledgement counts too): the reset runs on
    /// the vault as it is at approval.
    #[serde(default)]
    pub acknowledge_company_data_loss: bool,
    /// Why (kept with the decision and in the audit log).
    pub comment: Option<Reason>,
}

/// A second admin rejects a reset.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why (kept with the decision and in the audit log).
    pub comment: Option<Reason>,
}

/// Approve a reset awaiting approval
///
/// Runs the reset exactly as a direct one would, on the vault as it is now:
/// the purge (company items backed up survive as copies), the secret and
/// its email, every token of the user refused, in one transaction, audited
/// with the admin who asked and the one who approved. Only a *different*
/// admin whom policy allows may approve: never the one who asked, nor an
/// API client, nor the person behind the API client that asked.
#[utoipa::path(
    operation_id = "reset_approve",
    tag = "resets",
    security(("oauth2" = [])),
    params(("reset_id" = uuid::Uuid, Path, description = "The reset's id")),
    request_body = ApproveRequest,
    responses(
        (status = 200, description = "The reset, carried out: pending the user's action, its email queued", body = ResetView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied: the caller asked for this reset (policy `nobody-approves-their-own-reset`), is an API client (`people-approve-resets`), or policy does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reset in the caller's partner or companies", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reset_not_awaiting_approval`: already decided, or expired; `reset_pending`: the user has a pending reset this request does not replace; `reset_request_stale`: the reset this request was to replace is finished; `company_items_not_backed_up` (with the counts): company items without a backup would be lost and nobody acknowledged it (send `acknowledge_company_data_loss`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed field", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/master-password-resets/{reset_id}/approve")]
pub async fn reset_approve(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(request): Json<ApproveRequest>,
) -> Result<web::Json<ResetView>, ApiError> {
    let command = ops::DecisionCommand {
        acknowledge_company_data_loss: request.acknowledge_company_data_loss,
        comment: request.comment.and_then(Reason::into_text),
    };
    Ok(web::Json(view(
        ops::approve(&state, &caller, &path, command).await?,
    )))
}

/// Reject a reset awaiting approval
///
/// Nothing of the user changes: no purge, no email. Audited with the admin
/// who asked and the one who rejected. The same people may reject as may
/// approve.
#[utoipa::path(
    operation_id = "reset_reject",
    tag = "resets",
    security(("oauth2" = [])),
    params(("reset_id" = uuid::Uuid, Path, description = "The reset's id")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "The reset, rejected", body = ResetView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied: the caller asked for this reset, is an API client, or policy does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reset in the caller's partner or companies", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reset_not_awaiting_approval`: already decided, or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed field", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/master-password-resets/{reset_id}/reject")]
pub async fn reset_reject(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(request): Json<RejectRequest>,
) -> Result<web::Json<ResetView>, ApiError> {
    let command = ops::DecisionCommand {
        acknowledge_company_data_loss: false,
        comment: request.comment.and_then(Reason::into_text),
    };
    Ok(web::Json(view(
        ops::reject(&state, &caller, &path, command).await?,
    )))
}
