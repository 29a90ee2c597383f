//! Who is calling: the bearer token, verified, and the principal it names
//! (an admin or an API client), loaded from the database for this request, so
//! a deleted admin or client, a changed role or a bumped token generation
//! takes effect at once.
//!
//! Authentication only: every handler then asks the authorizer explicitly
//! (`Caller::authorize`), so no route depends on a middleware to be safe.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::audit::{self, ActorKind, NewEvent};
use crate::auth::tokens::{SCOPE_ADMIN, SCOPE_PASSWORD_CHANGE, SubjectKind};
use crate::authz::{Action, Principal, Resource};
use crate::db::admins::{self, Admin, Role};
use crate::db::api_clients::{self, ApiClient};
use crate::error::ApiError;
use crate::http::AppState;
use crate::ids::{AdminId, ApiClientId, CompanyId, PartnerId};

/// An authenticated admin with a full-scope token, or an API client.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub partner: PartnerId,
    /// Who, as stored: for audit events and the handlers that need the row.
    pub actor: Actor,
    /// The request's id, for audit events.
    pub request_id: Option<String>,
}

/// The stored subject of a token.
#[derive(Debug, Clone)]
pub enum Actor {
    Admin(Admin),
    ApiClient(ApiClient),
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Self::Admin(_) => ActorKind::Admin,
            Self::ApiClient(_) => ActorKind::ApiClient,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Admin(admin) => &admin.id,
            Self::ApiClient(client) => &client.id,
        }
    }
}

/// An authenticated caller whose token may be one that only changes an
/// admin's password (an admin who must replace a one-time password).
#[derive(Debug, Clone)]
pub struct PasswordChanger(pub Caller);

fn unauthorized(reason: impl Into<String>) -> ApiError {
    ApiError::Unauthorized {
        reason: reason.into(),
    }
}

/// The bearer token of a request, if it has one.
pub(crate) fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("no Authorization header"))?
        .to_str()
        .map_err(|_| unauthorized("Authorization is not text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| unauthorized("Authorization is not `Bearer TOKEN`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthorized("Authorization is not `Bearer TOKEN`"));
    }
    Ok(token.trim().to_owned())
}

fn company_ids(raw: &[String]) -> Vec<CompanyId> {
    raw.iter().filter_map(|c| CompanyId::parse(c)).collect()
}

/// Verifies the token and loads its subject; returns the caller and the
/// token's scope.
async fn authenticate(req: HttpRequest) -> Result<(Caller, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no AppState")))?
        .clone();
    let token = bearer(&req)?;
    let request_id = req
        .extensions()
        .get::<crate::http::middleware::RequestId>()
        .map(|id| id.0.clone());
    let claims = state
        .tokens
        .verify_admin(&token)
        .map_err(|e| unauthorized(format!("token refused: {e}")))?;
    let partner =
        PartnerId::parse(&claims.partner).ok_or_else(|| unauthorized("token names no partner"))?;
    let (principal, actor, generation) = match claims.kind {
        SubjectKind::Admin => {
            let id =
                AdminId::parse(&claims.sub).ok_or_else(|| unauthorized("token names no admin"))?;
            let loaded = state
                .db
                .run(move |conn| {
                    let Some(admin) = admins::find(conn, partner, id)? else {
                        return Ok(None);
                    };
                    // Only technicians are assigned companies (creating or
                    // changing an admin of another role refuses or clears
                    // them): the others skip a query on every request.
                    let companies = if admin.role == Role::Technician.as_str() {
                        admins::assigned_companies(conn, id)?
                    } else {
                        Vec::new()
                    };
                    Ok(Some((admin, companies)))
                })
                .await?;
            let (admin, companies) =
                loaded.ok_or_else(|| unauthorized("the admin no longer exists"))?;
            let role = Role::parse(&admin.role).ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "admin {} has role {:?}",
                    admin.id,
                    admin.role
                ))
            })?;
            let principal = Principal::Admin {
                id,
                partner,
                role,
                companies: company_ids(&companies),
            };
            let generation = admin.token_generation;
            (principal, Actor::Admin(admin), generation)
        }
        SubjectKind::ApiClient => {
            let id = ApiClientId::parse(&claims.sub)
                .ok_or_else(|| unauthorized("token names no API client"))?;
            let loaded = state
                .db
                .run(move |conn| {
                    let Some(client) = api_clients::find(conn, partner, id)? else {
                        return Ok(None);
                    };
                    let companies = api_clients::companies(conn, id)?;
                    Ok(Some((client, companies)))
                })
                .await?;
            let (client, companies) =
                loaded.ok_or_else(|| unauthorized("the API client no longer exists"))?;
            let principal = Principal::ApiClient {
                id,
                partner,
                scopes: client.scope_list(),
                companies: companies.as_deref().map(company_ids),
            };
            let generation = client.token_generation;
            (principal, Actor::ApiClient(client), generation)
        }
    };
    if generation != claims.generation {
        return Err(unauthorized("the token was revoked"));
    }
    tracing::Span::current().record("principal", tracing::field::display(actor.id()));
    Ok((
        Caller {
            principal,
            partner,
            actor,
            request_id,
        },
        claims.scope,
    ))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (caller, scope) = authenticate(req).await?;
            match (&caller.actor, scope.as_str()) {
                (Actor::ApiClient(_), _) | (Actor::Admin(_), SCOPE_ADMIN) => Ok(caller),
                (Actor::Admin(_), SCOPE_PASSWORD_CHANGE) => Err(ApiError::PasswordChangeRequired),
                _ => Err(unauthorized("the token's scope is unknown")),
            }
        })
    }
}

impl FromRequest for PasswordChanger {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (caller, scope) = authenticate(req).await?;
            match (&caller.actor, scope.as_str()) {
                (Actor::ApiClient(_), _)
                | (Actor::Admin(_), SCOPE_ADMIN | SCOPE_PASSWORD_CHANGE) => {
                    Ok(PasswordChanger(caller))
                }
                _ => Err(unauthorized("the token's scope is unknown")),
            }
        })
    }
}

impl Caller {
    /// Asks the authorizer; a denial is written to the audit log, and
    /// answered 404 across partners (as absent) or 403 naming the deciding
    /// policies.
    pub async fn authorize(
        &self,
        state: &AppState,
        action: Action,
        resource: &Resource,
    ) -> Result<(), ApiError> {
        let decision = state.authz.decide(&self.principal, &action, resource);
        if decision.allowed {
            return Ok(());
        }
        if !decision.errors.is_empty() {
            tracing::warn!(errors = ?decision.errors, action = action.name(), "authorization failed closed");
        }
        let (target_kind, target_id) = resource.kind_and_id();
        let event = self.event(
            action.name(),
            target_kind,
            target_id,
            false,
            decision.policy_ids.clone(),
        );
        let keys = state.keys.clone();
        state
            .db
            .write(move |conn| audit::append(conn, &keys, event).map(drop))
            .await?;
        if decision
            .policy_ids
            .iter()
            .any(|id| id == "partner-boundary")
        {
            return Err(ApiError::NotFound);
        }
        Err(ApiError::Forbidden {
            action: action.name(),
            policy_ids: decision.policy_ids,
        })
    }

    /// An audit event of this caller's.
    pub fn event(
        &self,
        action: &str,
        target_kind: &str,
        target_id: String,
        allowed: bool,
        policy_ids: Vec<String>,
    ) -> NewEvent {
        NewEvent {
            partner: Some(self.partner),
            actor_kind: self.actor.kind(),
            actor_id: Some(self.actor.id().to_owned()),
            action: action.to_owned(),
            target_kind: Some(target_kind.to_owned()),
            target_id: Some(target_id),
            allowed,
            policy_ids,
            request_id: self.request_id.clone(),
            details: serde_json::json!({}),
        }
    }
}
