//! The one middleware every request passes through. It gives the request an
//! id (the client's `X-Request-Id` when it is sane, a new UUIDv7 otherwise),
//! runs it inside a `tracing` span that carries the id, answers every error
//! status as problem+json with the id and path filled in, returns the id in
//! the `X-Request-Id` header, and records the request in the metrics under its
//! route template.
//!

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tracing::Instrument;

use crate::error::{ApiError, Problem, problem_for_status, problem_response};
use crate::http::AppState;
use crate::metrics::UNMATCHED_ROUTE;

/// The request id header, read and written.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in the request's extensions for handlers that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's address (see [`crate::http::forwarded`]), in the request's
/// extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<std::net::IpAddr>);

/// Routes whose requests are logged at debug level: probes and scrapes.
const QUIET_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics"];

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = client_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let peer = req.peer_addr().map(|a| a.ip());
        let client = state.proxies.client(peer, req.headers());
        req.extensions_mut().insert(ClientAddress(client));
    }
    let method = req.method().to_string();
    // At error level, so the span (and its request id) exists whatever the
    // log filter lets through.
    let span = tracing::error_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %req.path(),
        principal = tracing::field::Empty
    );
    // Handlers' and extractors' errors arrive here as responses; only a
    // middleware inside this one could return `Err`, and there is none. (The
    // request must not be cloned across `call`: routing needs it unshared.)
    let response = if elsewhere(&req) {
        let error = ApiError::RouteNotFound {
            method: req.method().clone(),
            path: req.path().to_owned(),
        };
        req.error_response(error)
    } else {
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_into_boxed_body()
    };
    let is_error = response.status().is_client_error() || response.status().is_server_error();
    // A problem gets its request id and path; actix's own errors (bare or
    // text/plain) become problems; a JSON body a handler chose (the OAuth
    // endpoint's RFC 6749 errors) is left as it is.
    let has_problem = response.response().extensions().get::<Problem>().is_some();
    let handler_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let scim_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(crate::http::scim::SCIM_JSON));
    let scim = crate::http::scim::is_scim_path(response.request().path());
    let mut response = if is_error && scim && !scim_json {
        // SCIM's clients read SCIM's errors: the problem, in that form.
        as_scim_error(response)
    } else if is_error && !scim && (has_problem || !handler_json) {
        with_problem_members(response, &id)
    } else {
        response
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }

    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = response.request().app_data::<web::Data<AppState>>() {
        state
            .metrics
            .observe_request(&method, &route, status, elapsed);
    }
    span.in_scope(|| {
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        if QUIET_ROUTES.contains(&route.as_str()) && status < 400 {
            tracing::debug!(status, route, elapsed_ms, "answered");
        } else {
            tracing::info!(status, route, elapsed_ms, "answered");
        }
    });
    Ok(response)
}

/// Whether the request came to the wrong listener: `/metrics` to the API's
/// when metrics have a listener of their own, anything else to that one.
fn elsewhere(req: &ServiceRequest) -> bool {
    let Some(metrics) = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.metrics_listener)
    else {
        return false;
    };
    let on_metrics_listener = req.app_config().local_addr() == metrics;
    on_metrics_listener != (req.path() == "/metrics")
}

/// A client's id is kept when it is 1 to 128 characters of `[A-Za-z0-9._:-]`,
/// so it cannot inject anything into logs or headers.
fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let sane = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    sane.then(|| value.to_owned())
}

/// Rebuilds an error response as a SCIM error (RFC 7644 §3.12), keeping its
/// headers (`Allow`, `Retry-After`, …).
fn as_scim_error(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let (request, old) = response.into_parts();
    let problem: Problem = old
        .extensions()
        .get::<Problem>()
        .cloned()
        .unwrap_or_else(|| problem_for_status(status));
    let mut new = crate::http::scim::ScimError::from_problem(&problem).response();
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(request, new)
}

/// Rebuilds an error response as problem+json carrying the request's id and
/// path, keeping its status and headers (`Allow`, `Retry-After`, …).
fn with_problem_members(response: ServiceResponse<BoxBody>, id: &str) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let (request, old) = response.into_parts();
    let mut problem: Problem = old
        .extensions()
        .get::<Problem>()
        .cloned()
        .unwrap_or_else(|| problem_for_status(status));
    problem.instance = Some(request.path().to_owned());
    problem.request_id = Some(id.to_owned());
    let mut new = problem_response(problem);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(request, new)
}
