//! The contract of `/v1/api-clients`, a partner's integration credentials:
//! views and answers. The operations are [`crate::app::api_clients`]'s; the
//! secret is answered once, in the creation response.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::api_clients as app_clients;
use crate::app::idempotent::Made;
use crate::app::resets::Idempotency;
use crate::db::api_clients::ApiClient;
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::admins::PageQuery;
use crate::http::caller::Caller;
use crate::http::extract::{Json, Query};
use crate::http::paging;
use crate::http::resets::{creation_fingerprint, idempotency_key, rendered, replay};
use crate::http::time::Timestamp;
use crate::http::values::Name;
use crate::ids::CompanyId;

/// An integration credential (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientView {
    /// The OAuth 2.0 `client_id`.
    pub id: uuid::Uuid,
    pub name: String,
    /// What the client may do, e.g. `users:read`, `resets:write`.
    #[schema(value_type = Vec<crate::http::vocabulary::ClientScope>)]
    pub scopes: Vec<String>,
    /// The companies the client is limited to; `null` for all of the partner's.
    pub companies: Option<Vec<uuid::Uuid>>,
    /// The admin who created it.
    pub created_by: Option<uuid::Uuid>,
    pub created_at: Timestamp,
    /// Its last successful sign-in.
    pub last_used_at: Option<Timestamp>,
}

fn view(client: ApiClient, companies: Option<Vec<CompanyId>>) -> ApiClientView {
    ApiClientView {
        id: client.id.uuid(),
        scopes: client.scope_list(),
        name: client.name,
        companies: companies.map(|list| list.iter().map(|c| c.uuid()).collect()),
        created_by: client.created_by_admin_id.map(|id| id.uuid()),
        created_at: client.created_at.into(),
        last_used_at: client.last_used_at.map(Timestamp::from),
    }
}

/// A page of API clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientPage {
    pub items: Vec<ApiClientView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A new API client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiClient {
    /// E.g. the integration's name.
    pub name: Name,
    /// At least one of `partner:read`, `admins:read`, `api-clients:read`,
    /// `companies:read`, `companies:write`, `users:read`, `users:write`,
    /// `backup-profile:write`, `resets:read`, `resets:write`, `audit:read`.
    #[schema(value_type = Vec<crate::http::vocabulary::ClientScope>, min_items = 1)]
    pub scopes: Vec<String>,
    /// Limits the client to these companies; leave out for all of the
    /// partner's (an empty list is refused: it would allow nothing).
    pub companies: Option<Vec<uuid::Uuid>>,
}

/// A created API client and its secret, shown only in this answer.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiClient {
    pub client: ApiClientView,
    /// The OAuth 2.0 `client_secret`. Store it now: it is kept as a keyed
    /// hash, and sealed with this answer for a retry under the same
    /// `Idempotency-Key` (24 h); shown nowhere else. Lost, it is replaced by creating
    /// a new client and removing this one.
    pub client_secret: String,
}

/// Everything but the secret.
impl std::fmt::Debug for CreatedApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiClient")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// List API clients
///
/// The partner's API clients, oldest first. Never their secrets.
#[utoipa::path(
    operation_id = "api_clients_list",
    tag = "api clients",
    security(("oauth2" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of API clients", body = ApiClientPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/api-clients")]
pub async fn api_clients_list(
    caller: Caller,
    state: web::Data<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<web::Json<ApiClientPage>, ApiError> {
    let (clients, next_cursor) =
        app_clients::list(&state, &caller, paging::after_id(query.cursor), query.limit).await?;
    let items = clients
        .into_iter()
        .map(|(client, companies)| view(client, companies))
        .collect();
    Ok(web::Json(ApiClientPage { items, next_cursor }))
}

/// Create an API client
///
/// Answers the client and its secret, shown only here. The client signs in
/// with `grant_type=client_credentials` at `POST /v1/auth/token`. Retry
/// safely with an `Idempotency-Key` header: the same key and body answer
/// the first result again, the secret included (`Idempotent-Replayed:
/// true`; kept sealed for 24 h), the same key with another body is 422.
#[utoipa::path(
    operation_id = "api_clients_create",
    tag = "api clients",
    security(("oauth2" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of creating another client (kept 24 h)"),
    ),
    request_body = NewApiClient,
    responses(
        (status = 201, description = "Created", body = CreatedApiClient,
            headers(
                ("Location" = String, description = "The client's URL, to remove it (on the first answer)"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`companies` names a company that does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/api-clients")]
pub async fn api_clients_create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(new): Json<NewApiClient>,
) -> Result<HttpResponse, ApiError> {
    let new = app_clients::NewClient {
        name: new.name.into_inner(),
        scopes: new.scopes,
        companies: new.companies,
    };
    let key = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        fingerprint: creation_fingerprint(
            "POST /v1/api-clients",
            &(&new.name, &new.scopes, &new.companies),
        ),
    });
    let render = |((client, companies), secret): &app_clients::Created| {
        rendered(&CreatedApiClient {
            client: view(client.clone(), companies.clone()),
            client_secret: secret.expose_secret().to_owned(),
        })
    };
    match app_clients::create(&state, &caller, new, key, render).await? {
        Made::New(((client, companies), secret)) => {
            let location = format!("/v1/api-clients/{}", client.id);
            Ok(HttpResponse::Created()
                .insert_header((actix_web::http::header::LOCATION, location))
                .json(CreatedApiClient {
                    client: view(client, companies),
                    client_secret: secret.expose_secret().to_owned(),
                }))
        }
        Made::Replayed(stored) => Ok(replay(stored)),
    }
}

/// Remove an API client
///
/// Its tokens stop working at once, and its secret signs in no more.
#[utoipa::path(
    operation_id = "api_client_delete",
    tag = "api clients",
    security(("oauth2" = [])),
    params(("client_id" = uuid::Uuid, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/api-clients/{client_id}")]
pub async fn api_client_delete(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    app_clients::delete(&state, &caller, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_never_reaches_debug() {
        let created = CreatedApiClient {
            client: ApiClientView {
                id: uuid::Uuid::nil(),
                name: "RMM".into(),
                scopes: vec!["users:read".into()],
                companies: None,
                created_by: None,
                created_at: crate::clock::system_now().into(),
                last_used_at: None,
            },
            client_secret: "cst_very-secret".into(),
        };
        let printed = format!("{created:?}");
        assert!(
            printed.contains("RMM") && !printed.contains("very-secret"),
            "{printed}"
        );
        let token = crate::http::tokens::TokenResponse {
            access_token: "eyJ.secret.sig".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
            scope: "admin".into(),
        };
        assert!(!format!("{token:?}").contains("secret"));
    }
}
