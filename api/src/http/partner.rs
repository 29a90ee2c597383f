//! `GET/PATCH /v1/partner`: the caller's own partner and its settings, as
//! the contract shows them; the operations are [`crate::app::partner`]'s.

use actix_web::{HttpResponse, get, patch, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::partner as app_partner;
use crate::db::partners::Partner;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::caller::Caller;
use crate::http::extract::Json;
use crate::http::time::Timestamp;

/// A partner (an MSP) and its settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub id: uuid::Uuid,
    #[schema(example = "Acme IT")]
    pub name: String,
    /// Desktop users get a single-use link too, instead of a temporary password.
    pub links_for_everyone: bool,
    /// How long a reset's temporary password or link stays valid.
    #[schema(example = 259200)]
    pub temporary_secret_ttl_seconds: i64,
    /// How long the link of a user's invitation stays valid.
    #[schema(example = 604800)]
    pub invitation_ttl_seconds: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Partner> for PartnerView {
    fn from(p: Partner) -> Self {
        Self {
            id: p.id.uuid(),
            name: p.name,
            links_for_everyone: p.links_for_everyone,
            temporary_secret_ttl_seconds: p.temporary_secret_ttl_seconds,
            invitation_ttl_seconds: p.invitation_ttl_seconds,
            created_at: p.created_at.into(),
            updated_at: p.updated_at.into(),
        }
    }
}

/// The settings to change; a field left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerUpdate {
    pub name: Option<crate::http::values::Name>,
    pub links_for_everyone: Option<bool>,
    /// 300 (5 minutes) to 2592000 (30 days).
    pub temporary_secret_ttl_seconds: Option<i64>,
    /// 3600 (1 hour) to 2592000 (30 days); invitations sent from then on.
    pub invitation_ttl_seconds: Option<i64>,
}

/// Get the partner
///
/// The caller's own partner and its settings.
#[utoipa::path(
    operation_id = "partner_get",
    tag = "partner",
    security(("oauth2" = [])),
    responses(
        (status = 200, description = "The caller's partner", body = PartnerView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/partner")]
pub async fn partner_get(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<web::Json<PartnerView>, ApiError> {
    Ok(web::Json(app_partner::get(&state, &caller).await?.into()))
}

/// Change the partner's settings
///
/// Owners only. Fields left out stay as they are.
#[utoipa::path(
    operation_id = "partner_update",
    tag = "partner",
    security(("oauth2" = [])),
    request_body = PartnerUpdate,
    responses(
        (status = 200, description = "The partner, changed", body = PartnerView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy (owners only)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/partner")]
pub async fn partner_update(
    caller: Caller,
    state: web::Data<AppState>,
    Json(update): Json<PartnerUpdate>,
) -> Result<HttpResponse, ApiError> {
    let update = app_partner::PartnerUpdate {
        name: update.name.map(crate::http::values::Name::into_inner),
        links_for_everyone: update.links_for_everyone,
        temporary_secret_ttl_seconds: update.temporary_secret_ttl_seconds,
        invitation_ttl_seconds: update.invitation_ttl_seconds,
    };
    let partner = app_partner::update(&state, &caller, update).await?;
    Ok(HttpResponse::Ok().json(PartnerView::from(partner)))
}
