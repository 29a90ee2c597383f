//! Reset batches: the contract of `app::batches`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::app::batches::{self as ops, BatchCommand, Progress};
use crate::app::resets::Idempotency;
use crate::db::batches::ItemStatus;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::caller::Caller;
use crate::http::extract::{Json, Query};
use crate::http::resets::{
    ConfirmationPhrase, RequestedBy, ResetPreview, confirmation_phrase, idempotency_key,
    preview_view, replay,
};
use crate::http::time::Timestamp;
use crate::http::values::{Reason, Ticket};

/// The users of a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPreviewRequest {
    /// 1 to 1,000 users, each once (a repeat is refused, not ignored).
    #[schema(value_type = std::collections::BTreeSet<uuid::Uuid>, min_items = 1, max_items = 1000)]
    pub user_ids: Vec<uuid::Uuid>,
}

/// The sums of a batch's previews.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchTotals {
    /// Users the caller may reset.
    pub users: i64,
    /// Personal items: all deleted.
    pub personal_items: i64,
    /// Company items: all deleted from the vaults; those backed up survive
    /// as backup copies.
    pub company_items: i64,
    pub company_items_backed_up: i64,
    /// Lost, unless the batch is not made.
    pub company_items_not_backed_up: i64,
    /// Users with company items not backed up: the batch must acknowledge
    /// the loss (`acknowledge_company_data_loss`) for them to be reset.
    pub users_needing_acknowledgement: i64,
    /// Users with a pending reset that a new one would supersede.
    pub pending_resets: i64,
}

/// What resetting each of a batch's users would do, changing nothing.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchPreview {
    /// A preview per user the caller may reset, in the order asked, as the
    /// user's own reset preview answers it.
    pub users: Vec<ResetPreview>,
    pub totals: BatchTotals,
    /// Users the caller sees but may not reset.
    pub denied: Vec<uuid::Uuid>,
    /// Ids that name no user the caller sees (absent, or outside what the
    /// caller may see: one answer for all).
    pub not_found: Vec<uuid::Uuid>,
    /// What to send as `confirmation` when making the batch.
    pub confirmation: ConfirmationPhrase,
}

/// Preview a batch of resets
///
/// What resetting each user would do, and the sums: items deleted and
/// kept, users whose company items are not all backed up, pending resets
/// superseded; and which users the caller may not reset, or does not see.
/// Changes nothing. Each user is looked at as their own reset preview
/// would be, with its own authorization; the denials are audited as one
/// event naming the users.
#[utoipa::path(
    operation_id = "reset_batch_preview",
    tag = "resets",
    security(("oauth2" = [])),
    request_body = BatchPreviewRequest,
    responses(
        (status = 200, description = "What the batch would do", body = BatchPreview),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No user, more than 1,000, or a user named twice (the repeated entries are named)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/master-password-reset-batches/preview")]
pub async fn reset_batch_preview(
    caller: Caller,
    state: web::Data<AppState>,
    Json(request): Json<BatchPreviewRequest>,
) -> Result<web::Json<BatchPreview>, ApiError> {
    let batch = ops::preview(&state, &caller, &request.user_ids).await?;
    let users: Vec<ResetPreview> = batch.previews.into_iter().map(preview_view).collect();
    let sum = |f: fn(&ResetPreview) -> i64| users.iter().map(f).sum::<i64>();
    let totals = BatchTotals {
        users: users.len() as i64,
        personal_items: sum(|u| u.personal_items),
        company_items: sum(|u| u.company_items),
        company_items_backed_up: sum(|u| u.company_items_backed_up),
        company_items_not_backed_up: sum(|u| u.company_items_not_backed_up),
        users_needing_acknowledgement: sum(|u| i64::from(u.acknowledgement_required)),
        pending_resets: sum(|u| i64::from(u.supersedes.is_some())),
    };
    Ok(web::Json(BatchPreview {
        users,
        totals,
        denied: batch.denied.iter().map(|id| id.uuid()).collect(),
        not_found: batch.not_found.iter().map(|id| id.uuid()).collect(),
        confirmation: confirmation_phrase(batch.localized_confirmation),
    }))
}

/// A batch of resets, confirmed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 users, each once (a repeat is refused, not ignored).
    #[schema(value_type = std::collections::BTreeSet<uuid::Uuid>, min_items = 1, max_items = 1000)]
    pub user_ids: Vec<uuid::Uuid>,
    /// `Yes`, or the localized word the preview names.
    pub confirmation: String,
    /// Lose the company items that are not backed up. Without it, a user
    /// whose company items are not all backed up is not reset (outcome
    /// `not_backed_up`); the others are.
    #[serde(default)]
    pub acknowledge_company_data_loss: bool,
    /// Why (kept with each reset and in the audit log).
    pub reason: Option<Reason>,
    /// The ticket in the partner's PSA.
    pub ticket: Option<Ticket>,
}

/// How many of a batch's users stand at each status.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BatchCounts {
    pub queued: i64,
    pub running: i64,
    pub completed: i64,
    pub awaiting_approval: i64,
    pub denied: i64,
    pub not_backed_up: i64,
    pub reset_pending: i64,
    pub not_found: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// One user of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchUser {
    /// Where the user stands in the batch, in the order asked (from 0).
    pub position: i32,
    /// As the request named it (it may name no user the requester sees).
    pub user_id: uuid::Uuid,
    /// `queued` or `running`, then the outcome: `completed` (reset and
    /// emailed), `denied` (the requester may not reset the user),
    /// `not_backed_up` (company items not backed up, and the batch did not
    /// acknowledge losing them), `reset_pending` (the user already has a
    /// pending reset), `not_found`, `failed` (see `problem`), or
    /// `cancelled` (the batch was cancelled before the user's turn).
    #[schema(value_type = crate::http::vocabulary::BatchUserStatus)]
    pub status: String,
    /// The reset made, when `completed`.
    pub reset_id: Option<uuid::Uuid>,
    /// Why the reset failed, as a reset of this user alone would have
    /// answered.
    #[schema(value_type = Option<Problem>)]
    pub problem: Option<serde_json::Value>,
    pub updated_at: Timestamp,
}

/// A batch of resets and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    pub id: uuid::Uuid,
    /// `running` until every user has an outcome (`completed`), or
    /// `cancelled`.
    #[schema(value_type = crate::http::vocabulary::BatchStatus)]
    pub status: String,
    pub requested_by: RequestedBy,
    pub acknowledge_company_data_loss: bool,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    /// Users in the batch.
    pub total: i64,
    /// Users with an outcome.
    pub done: i64,
    pub counts: BatchCounts,
    /// A page of the batch's users, in the order asked.
    pub users: Vec<BatchUser>,
    /// Pass as `cursor` for the next page of users; absent on the last.
    pub next_cursor: Option<String>,
    pub created_at: Timestamp,
    pub cancelled_at: Option<Timestamp>,
    /// When the last user got an outcome.
    pub finished_at: Option<Timestamp>,
}

fn batch_view(progress: Progress) -> BatchView {
    let mut counts = BatchCounts::default();
    for (status, n) in &progress.counts {
        let slot = match status {
            ItemStatus::Queued => &mut counts.queued,
            ItemStatus::Running => &mut counts.running,
            ItemStatus::Completed => &mut counts.completed,
            ItemStatus::AwaitingApproval => &mut counts.awaiting_approval,
            ItemStatus::Denied => &mut counts.denied,
            ItemStatus::NotBackedUp => &mut counts.not_backed_up,
            ItemStatus::ResetPending => &mut counts.reset_pending,
            ItemStatus::NotFound => &mut counts.not_found,
            ItemStatus::Failed => &mut counts.failed,
            ItemStatus::Cancelled => &mut counts.cancelled,
        };
        *slot += n;
    }
    let done = progress.done();
    let batch = progress.batch;
    BatchView {
        id: batch.id.uuid(),
        status: batch.status.to_string(),
        requested_by: RequestedBy {
            kind: batch.requested_by_kind,
            id: batch.requested_by_id.uuid(),
        },
        acknowledge_company_data_loss: batch.acknowledge_company_data_loss,
        reason: batch.reason,
        ticket: batch.ticket,
        total: i64::from(batch.total),
        done,
        counts,
        users: progress
            .items
            .into_iter()
            .map(|item| BatchUser {
                position: item.position,
                user_id: item.user_id.uuid(),
                status: item.status.to_string(),
                reset_id: item.reset_id.map(|id| id.uuid()),
                problem: item.problem.and_then(|raw| serde_json::from_str(&raw).ok()),
                updated_at: item.updated_at.into(),
            })
            .collect(),
        next_cursor: progress.next_cursor,
        created_at: batch.created_at.into(),
        cancelled_at: batch.cancelled_at.map(Timestamp::from),
        finished_at: batch.finished_at.map(Timestamp::from),
    }
}

fn location(id: uuid::Uuid) -> String {
    format!("/v1/master-password-reset-batches/{id}")
}

/// What the first request under a key was: the body, as sent.
fn fingerprint(request: &BatchRequest) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(b"POST master-password-reset-batches\n");
    hash.update(serde_json::to_vec(request).expect("a request serializes"));
    hash.finalize().to_vec()
}

/// Reset many users' master passwords
///
/// Checks the whole request (1 to 1,000 users, each once; the phrase),
/// answers 202 with the batch, and then resets the users in the
/// background, a few at a time. Each user's reset is a reset of one: its
/// own authorization, transaction, email and audit event, and its own
/// outcome; one user's failure never stops the others. Follow the
/// `Location` for progress. The batch survives a restart and resumes where
/// it stopped, and no user is ever reset twice by it. Retry safely with an
/// `Idempotency-Key` header.
#[utoipa::path(
    operation_id = "reset_batch_create",
    tag = "resets",
    security(("oauth2" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of making another batch (kept 24 h)"),
    ),
    request_body = BatchRequest,
    responses(
        (status = 202, description = "The batch, accepted; its users are reset in the background", body = BatchView,
            headers(
                ("Location" = String, description = "The batch's URL"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy: the caller may not make batches", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No user, more than 1,000, a user named twice (the repeated entries are named), a wrong confirmation phrase, an invalid field, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/master-password-reset-batches")]
pub async fn reset_batch_create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(request): Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let idempotency = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        fingerprint: fingerprint(&request),
    });
    let command = BatchCommand {
        user_ids: request.user_ids,
        confirmation: request.confirmation,
        acknowledge_company_data_loss: request.acknowledge_company_data_loss,
        reason: request.reason.and_then(Reason::into_text),
        ticket: request.ticket.and_then(Ticket::into_text),
        idempotency,
    };
    let render = |progress: &Progress| {
        serde_json::to_vec(&batch_view(progress.clone())).expect("a batch serializes")
    };
    match ops::create(&state, &caller, command, render).await? {
        ops::Made::New { batch, body } => Ok(HttpResponse::Accepted()
            .content_type("application/json")
            .insert_header((header::LOCATION, location(batch.batch.id.uuid())))
            .body(body)),
        ops::Made::Replayed(stored) => {
            let id = stored
                .response_body
                .as_deref()
                .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
                .and_then(|batch| batch["id"].as_str().and_then(|id| id.parse().ok()));
            let mut response = replay(stored);
            if let Some(Ok(value)) = id.map(|id| header::HeaderValue::from_str(&location(id))) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            Ok(response)
        }
    }
}

/// A page of a batch's users.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// `next_cursor` of the page before: the page starts after it.
    #[param(pattern = "^(0|[1-9][0-9]{0,8})$")]
    pub cursor: Option<String>,
    /// Users per page, 1 to 200; 100 when absent.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Get a reset batch
///
/// Where the batch stands: how many users are done, a count per status,
/// and a page of its users in the order asked, each with its outcome. A
/// technician or a company-limited API client sees only the batches they
/// made.
#[utoipa::path(
    operation_id = "reset_batch_get",
    tag = "resets",
    security(("oauth2" = [])),
    params(("batch_id" = uuid::Uuid, Path, description = "The batch's id"), BatchQuery),
    responses(
        (status = 200, description = "The batch", body = BatchView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/master-password-reset-batches/{batch_id}")]
pub async fn reset_batch_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Query(query): Query<BatchQuery>,
) -> Result<web::Json<BatchView>, ApiError> {
    // `…/preview` is a path of its own, for POST only.
    if path.as_str() == "preview" {
        return Err(ApiError::MethodNotAllowed {
            method: actix_web::http::Method::GET,
            allowed: vec![actix_web::http::Method::POST],
        });
    }
    let progress = ops::get(&state, &caller, &path, query.cursor.as_deref(), query.limit).await?;
    Ok(web::Json(batch_view(progress)))
}

/// Cancel a reset batch
///
/// Users not yet started are not reset (their status becomes
/// `cancelled`); users being reset finish. Cancelling a cancelled batch
/// answers it again.
#[utoipa::path(
    operation_id = "reset_batch_cancel",
    tag = "resets",
    security(("oauth2" = [])),
    params(("batch_id" = uuid::Uuid, Path, description = "The batch's id")),
    responses(
        (status = 200, description = "The batch, cancelled", body = BatchView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`batch_finished`: every user already has an outcome", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/master-password-reset-batches/{batch_id}/cancel")]
pub async fn reset_batch_cancel(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<BatchView>, ApiError> {
    Ok(web::Json(batch_view(
        ops::cancel(&state, &caller, &path).await?,
    )))
}
