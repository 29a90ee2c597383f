//! Reset batches: the contract of `app::batches`.

use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::batches as ops;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::caller::Caller;
use crate::http::extract::Json;
use crate::http::resets::{ConfirmationPhrase, ResetPreview, confirmation_phrase, preview_view};

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
