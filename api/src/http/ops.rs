//! Operations endpoints: liveness, readiness, metrics, and the contract
//! itself (the OpenAPI document and its reference page). None of them needs a
//! token: they reveal nothing about any partner.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::http::{AppState, Published};
use crate::metrics;

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: String,
}

/// The server can serve requests: its database answers and its schema is current.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: String,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: String,
    /// The newest migration applied to the database.
    #[schema(example = "20261125000001")]
    pub schema_version: String,
}

/// Liveness
///
/// Answers 200 while the process runs, without touching the database: a
/// failing liveness probe should restart the process, and a database outage
/// is no reason to.
#[utoipa::path(
    operation_id = "health_get",
    tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)),
)]
#[get("/healthz")]
pub async fn health_get() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Readiness
///
/// Answers 200 when the database answers and has every migration this build
/// knows; 503 otherwise, so a load balancer stops sending traffic.
#[utoipa::path(
    operation_id = "readiness_get",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "The database is unreachable or its schema is behind",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/readyz")]
pub async fn readiness_get(state: web::Data<AppState>) -> Result<web::Json<Readiness>, ApiError> {
    let backend = state.db.backend();
    let (pending, version) = state.schema().await?;
    if !pending.is_empty() {
        return Err(ApiError::MigrationsPending { pending });
    }
    Ok(web::Json(Readiness {
        status: "ready".into(),
        database: backend.name().into(),
        schema_version: version.unwrap_or_default(),
    }))
}

/// Metrics
///
/// Requests and their latency by method, route template and status,
/// outbox deliveries, and database pool usage: in the OpenMetrics text
/// format, or the Prometheus text format 0.0.4 for a client that accepts
/// `text/plain` and not OpenMetrics.
#[utoipa::path(
    operation_id = "metrics_get",
    tag = "operations",
    responses((status = 200, description = "The metrics, as the Accept header asks",
        content(
            (String = "application/openmetrics-text"),
            (String = "text/plain"),
        ),
        headers(("Vary" = String, description = "Accept: the format follows it")))),
)]
#[get("/metrics")]
pub async fn metrics_get(req: actix_web::HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let accept = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    let openmetrics = state.metrics.render(state.db.usage());
    let text = accept.contains("text/plain") && !accept.contains("application/openmetrics-text");
    let (content_type, body) = if text {
        (
            metrics::TEXT_CONTENT_TYPE,
            metrics::prometheus_text(&openmetrics),
        )
    } else {
        (metrics::CONTENT_TYPE, openmetrics)
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::VARY, "Accept"))
        .body(body)
}

/// OpenAPI document
///
/// This server's contract, OpenAPI 3.1, as JSON. `openapi.yaml` in the
/// repository is the same document.
#[utoipa::path(
    operation_id = "openapi_get",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object,
        content_type = "application/json")),
)]
#[get("/openapi.json")]
pub async fn openapi_get(published: web::Data<Published>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(published.openapi_json.clone())
}

/// API reference
///
/// A self-contained HTML reference of every operation, schema and problem
/// type, rendered from the OpenAPI document (no script, nothing fetched).
#[utoipa::path(
    operation_id = "docs_get",
    tag = "operations",
    responses((status = 200, description = "The reference page", body = String,
        content_type = "text/html")),
)]
#[get("/docs")]
pub async fn docs_get(published: web::Data<Published>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(published.docs_html.clone())
}
