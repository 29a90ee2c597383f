//! The HTTP surface: routes, extractors and middleware, and nothing else.
//! Handlers parse, call a service, and map the result; rules live in the
//! domain modules.
//!
//! Routes and the OpenAPI document come from one source: every handler is a
//! `#[utoipa::path]` registered with `.service` in [`routes`]. A bare
//! `.route(...)` would vanish from the contract, so there is none.

pub mod account;
pub mod admins;
pub mod api_clients;
pub mod audit;
pub mod authorization;
pub mod batches;
pub mod caller;
pub mod companies;
pub mod conditional;
pub mod contract;
pub mod docs;
pub mod extract;
pub mod forwarded;
pub mod middleware;
pub mod ops;
pub mod paging;
pub mod partner;
pub mod platform;
pub mod resets;
pub mod scim;
pub mod strict;
pub mod time;
pub mod tokens;
pub mod users;
pub mod values;
pub mod vocabulary;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ApiError, FieldError, Problem};
use crate::metrics::Metrics;
use extract::BodyLimit;

/// The document's fixed parts; paths are added by [`routes`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Custodian",
        description = "The admin API of a zero-knowledge password manager sold through MSPs: \
            partners, companies and their backup profile, users, and the lost-master-password \
            runbook. Errors are RFC 9457 `application/problem+json` with a stable `code`.",
        license(name = "Apache-2.0", url = "https://www.apache.org/licenses/LICENSE-2.0"),
    ),
    components(schemas(Problem, FieldError, crate::error::VaultCounts)),
    tags(
        (name = "operations", description = "Liveness, readiness, metrics and the contract itself."),
        (name = "platform", description = "The platform operator: partners as the vendor's accounts, created with their first owner, suspended and reactivated; the operator's API clients for the vendor's automation."),
        (name = "authentication", description = "OAuth 2.0 access tokens and the keys that verify them."),
        (name = "partner", description = "The caller's partner (MSP) and its settings."),
        (name = "admins", description = "A partner's portal operators: owners, admins and technicians."),
        (name = "api clients", description = "Integration credentials (OAuth 2.0 client credentials) with scopes and optional company limits."),
        (name = "companies", description = "A partner's customers and their backup profile."),
        (name = "users", description = "People in a partner's companies: locate them, add them."),
        (name = "resets", description = "The lost-master-password runbook: preview, confirmed reset, and what became of it."),
        (name = "account", description = "The end user's own account and vault: ciphertext only."),
        (name = "audit", description = "The tamper-evident log of security-relevant actions."),
        (name = "authorization", description = "What the caller may do, asked ahead, so a portal can grey out the rest."),
        (name = "scim", description = "SCIM 2.0 provisioning per company: a company's directory (Entra ID, Okta, JumpCloud) creates, changes, disables and removes its users with a SCIM token an admin makes; never a reset. Errors here are SCIM's (`application/scim+json`)."),
    ),
)]
pub struct ApiDoc;

/// Every route of the API.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(ops::health_get)
        .service(ops::readiness_get)
        .service(ops::metrics_get)
        .service(ops::openapi_get)
        .service(ops::docs_get)
        .service(tokens::token_create)
        .service(tokens::jwks_get)
        .service(tokens::password_change)
        .service(tokens::admin_invitation_accept)
        .service(tokens::operator_token_create)
        .service(platform::partners_list)
        .service(platform::partners_create)
        .service(platform::partner_account_get)
        .service(platform::partner_account_update)
        .service(platform::partner_suspend)
        .service(platform::partner_reactivate)
        .service(platform::partner_owners_invite)
        .service(platform::operator_clients_list)
        .service(platform::operator_clients_create)
        .service(platform::operator_client_delete)
        .service(platform::operator_password_change)
        .service(platform::platform_audit_events_verify)
        .service(platform::platform_audit_events_list)
        .service(partner::partner_get)
        .service(partner::partner_update)
        .service(admins::admins_list)
        .service(admins::admins_create)
        .service(admins::admin_get)
        .service(admins::admin_update)
        .service(admins::admin_delete)
        .service(admins::admin_invitation_send)
        .service(api_clients::api_clients_list)
        .service(api_clients::api_clients_create)
        .service(api_clients::api_client_delete)
        .service(authorization::authorization_check)
        .service(companies::companies_list)
        .service(companies::companies_create)
        .service(companies::company_get)
        .service(companies::company_update)
        .service(companies::company_retire)
        .service(companies::backup_profile_get)
        .service(companies::backup_profile_update)
        .service(users::users_search)
        .service(users::company_users_list)
        .service(users::company_users_create)
        .service(users::user_get)
        .service(users::user_update)
        .service(users::user_disable)
        .service(users::user_enable)
        .service(users::user_offboarding_preview)
        .service(users::user_offboard)
        .service(users::user_invitation_send)
        .service(resets::reset_preview_get)
        .service(resets::reset_create)
        .service(batches::reset_batch_preview)
        .service(batches::reset_batch_create)
        .service(batches::reset_batch_get)
        .service(batches::reset_batch_cancel)
        .service(resets::resets_list)
        .service(resets::reset_get)
        .service(resets::reset_reissue)
        .service(resets::reset_approve)
        .service(resets::reset_reject)
        .service(companies::backups_list)
        .service(companies::backup_get)
        .service(account::account_token_create)
        .service(account::account_master_password_set)
        .service(account::account_reset_link_complete)
        .service(account::account_invitation_accept)
        .service(account::account_recovery_key_set)
        .service(account::account_recovery)
        .service(account::vault_items_list)
        .service(account::vault_item_put)
        .service(account::vault_item_delete)
        .service(audit::audit_events_verify)
        .service(audit::audit_events_list)
        .service(scim::scim_tokens_list)
        .service(scim::scim_tokens_create)
        .service(scim::scim_token_delete)
        .service(scim::scim_service_provider_config)
        .service(scim::scim_users_list)
        .service(scim::scim_users_create)
        .service(scim::scim_user_get)
        .service(scim::scim_user_replace)
        .service(scim::scim_user_patch)
        .service(scim::scim_user_delete);
}

/// The OpenAPI document (3.1) of this build, as `custodian openapi` prints it
/// (as YAML: [`contract::to_yaml`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts()
        .1;
    contract::finish(&mut document);
    document
}

/// What the server publishes about itself, computed once at start: the
/// document, the reference page, and the route table that tells a 405 from a
/// 404.
pub struct Published {
    pub openapi_json: String,
    pub docs_html: String,
    routes: Vec<(ResourceDef, Vec<Method>)>,
}

impl Published {
    pub fn new(document: &utoipa::openapi::OpenApi) -> Self {
        let value = serde_json::to_value(document).expect("the document serializes");
        let routes = value["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let methods = docs::METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .filter_map(|m| Method::from_bytes(m.to_uppercase().as_bytes()).ok())
                    .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self {
            openapi_json: serde_json::to_string(&value).expect("a value serializes"),
            docs_html: docs::render(&value),
            routes,
        }
    }

    /// The methods of the route whose template matches `path`, if any.
    pub fn allowed_methods(&self, path: &str) -> Option<&[Method]> {
        self.routes
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

/// What every handler may reach.
pub struct AppState {
    /// The domain layer's services (the database, the keys, the
    /// authorizer, the clock, the outbox, passwords, tokens, the
    /// throttle): `state.db` reads through.
    pub app: crate::app::App,
    pub metrics: Arc<Metrics>,
    /// Whose forwarding headers name the client.
    pub proxies: forwarded::TrustedProxies,
    /// Browser origins allowed to call the API (none: CORS is off).
    pub cors_origins: Vec<String>,
    /// The address `GET /metrics` is served on, when it is not the API's
    /// own (`CUSTODIAN_METRICS_LISTEN`): that listener serves nothing else,
    /// and the API's listeners do not serve it.
    pub metrics_listener: Option<std::net::SocketAddr>,
}

impl std::ops::Deref for AppState {
    type Target = crate::app::App;
    fn deref(&self) -> &crate::app::App {
        &self.app
    }
}

/// The id the request middleware gave this request, for audit events.
pub(crate) fn request_id(req: &HttpRequest) -> Option<String> {
    use actix_web::HttpMessage;
    req.extensions()
        .get::<middleware::RequestId>()
        .map(|id| id.0.clone())
}

/// The client's IP address, for throttling: as the request middleware read
/// it (the socket's peer, or what trusted proxies name: [`forwarded`]).
pub(crate) fn client_address(req: &HttpRequest) -> Option<std::net::IpAddr> {
    use actix_web::HttpMessage;
    match req.extensions().get::<middleware::ClientAddress>() {
        Some(found) => found.0,
        None => req.peer_addr().map(|a| a.ip()),
    }
}

/// The application: routes, shared state, limits, the 404/405 fallback and
/// the request middleware. Built once per worker.
pub fn app(
    state: web::Data<AppState>,
    published: web::Data<Published>,
    body_limit: BodyLimit,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors_origins = state.cors_origins.clone();
    App::new()
        .into_utoipa_app()
        .configure(routes)
        .into_app()
        .app_data(state)
        .app_data(published)
        .app_data(body_limit)
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .default_service(web::to(no_route))
        .wrap(actix_web::middleware::from_fn(middleware::request_context))
        .wrap(actix_web::middleware::Condition::new(
            !cors_origins.is_empty(),
            cors(&cors_origins),
        ))
}

/// The request headers a browser client sends, the response headers it
/// may read.
const CORS_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "if-match",
    "idempotency-key",
    "x-request-id",
];
const CORS_EXPOSED_HEADERS: &[&str] = &[
    "etag",
    "location",
    "x-request-id",
    "retry-after",
    "idempotent-replayed",
];

/// CORS for the partner portals on other origins: exactly the configured
/// origins, every method of the API, the headers its clients send, and the
/// headers they read; no cookies (the API takes bearer tokens). A request
/// from another origin is answered as usual, without CORS headers, so the
/// browser keeps its response from the page; non-browser clients are not
/// affected.
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::Method;
    let mut cors = actix_cors::Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers(CORS_REQUEST_HEADERS.iter().copied())
        .expose_headers(CORS_EXPOSED_HEADERS.iter().copied())
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// No route matched the path and method: 405 when the path exists with other
/// methods, 404 otherwise.
async fn no_route(
    req: HttpRequest,
    published: web::Data<Published>,
) -> Result<HttpResponse, ApiError> {
    Err(match published.allowed_methods(req.path()) {
        Some(allowed) => ApiError::MethodNotAllowed {
            method: req.method().clone(),
            allowed: allowed.to_vec(),
        },
        None => ApiError::RouteNotFound {
            method: req.method().clone(),
            path: req.path().to_owned(),
        },
    })
}
