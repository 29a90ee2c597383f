//! Who is calling: the bearer token, verified, and the principal it names
//! (an admin or an API client), loaded from the database for this request, so
//! a deleted admin or client, a changed role or a bumped token generation
//! takes effect at once.
//!
//! Authentication only: every handler then asks the authorizer explicitly
//! (`Caller::authorize`), so no route depends on a middleware to be safe.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::audit::{self, ActorKind, NewEvent};
use crate::auth::tokens::{SCOPE_ADMIN, SCOPE_PASSWORD_CHANGE, SubjectKind};
use crate::authz::{Action, Principal, Resource};
use crate::db::admins::{self, Admin, Role};
use crate::db::api_clients::{self, ApiClient};
use crate::db::{DbConn, DbError};
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

/// A request's bearer token, verified (signature, expiry, audience) but not
/// yet matched against the database. [`Verified::load`] finishes the job
/// inside a database call, so that a handler can load the caller and the
/// object it asks for in one trip to the blocking pool ([`Verified::run`]);
/// the [`Caller`] extractor is the same two steps for every other handler.
#[derive(Debug, Clone)]
pub struct Verified {
    claims: crate::auth::tokens::AdminClaims,
    partner: PartnerId,
    request_id: Option<String>,
}

/// Which scopes of admin token a handler accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accept {
    /// Full-scope admin tokens and API clients.
    Full,
    /// Also the token of an admin who must replace a one-time password.
    PasswordChange,
}

impl Verified {
    fn from_request(req: &HttpRequest) -> Result<(Self, web::Data<AppState>), ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no AppState")))?
            .clone();
        let token = bearer(req)?;
        let request_id = crate::http::request_id(req);
        let claims = state
            .tokens
            .verify_admin(&token)
            .map_err(|e| unauthorized(format!("token refused: {e}")))?;
        let partner = PartnerId::parse(&claims.partner)
            .ok_or_else(|| unauthorized("token names no partner"))?;
        Ok((
            Self {
                claims,
                partner,
                request_id,
            },
            state,
        ))
    }

    /// The token's partner: every object a handler loads is looked up in it.
    pub fn partner(&self) -> PartnerId {
        self.partner
    }

    /// Loads the token's subject (an admin, with a technician's companies,
    /// or an API client with its company limit) and checks that the token
    /// is still current and of a scope the handler accepts. The outer error
    /// is the database's, the inner one the caller's.
    fn load(self, conn: &mut DbConn, accept: Accept) -> Result<Result<Caller, ApiError>, DbError> {
        let Self {
            claims,
            partner,
            request_id,
        } = self;
        let (principal, actor, generation) = match claims.kind {
            SubjectKind::Admin => {
                let Some(id) = AdminId::parse(&claims.sub) else {
                    return Ok(Err(unauthorized("token names no admin")));
                };
                let Some(admin) = admins::find(conn, partner, id)? else {
                    return Ok(Err(unauthorized("the admin no longer exists")));
                };
                let Some(role) = Role::parse(&admin.role) else {
                    return Ok(Err(ApiError::internal(anyhow::anyhow!(
                        "admin {} has role {:?}",
                        admin.id,
                        admin.role
                    ))));
                };
                // Only technicians are assigned companies (creating or
                // changing an admin of another role refuses or clears them):
                // the others skip a query on every request.
                let companies = if role == Role::Technician {
                    company_ids(&admins::assigned_companies(conn, id)?)
                } else {
                    Vec::new()
                };
                let principal = Principal::Admin {
                    id,
                    partner,
                    role,
                    companies,
                };
                let generation = admin.token_generation;
                (principal, Actor::Admin(admin), generation)
            }
            SubjectKind::ApiClient => {
                let Some(id) = ApiClientId::parse(&claims.sub) else {
                    return Ok(Err(unauthorized("token names no API client")));
                };
                let Some(client) = api_clients::find(conn, partner, id)? else {
                    return Ok(Err(unauthorized("the API client no longer exists")));
                };
                let companies = api_clients::companies(conn, &client)?;
                // The client's scopes as they are now, narrowed to those
                // its token was issued for (a token may ask for fewer).
                let granted: Vec<&str> = claims.scope.split_whitespace().collect();
                let scopes = client
                    .scope_list()
                    .into_iter()
                    .filter(|scope| granted.contains(&scope.as_str()))
                    .collect();
                let principal = Principal::ApiClient {
                    id,
                    partner,
                    scopes,
                    companies: companies.as_deref().map(company_ids),
                };
                let generation = client.token_generation;
                (principal, Actor::ApiClient(client), generation)
            }
        };
        if generation != claims.generation {
            return Ok(Err(unauthorized("the token was revoked")));
        }
        match (&actor, claims.scope.as_str(), accept) {
            (Actor::ApiClient(_), _, _) | (Actor::Admin(_), SCOPE_ADMIN, _) => {}
            (Actor::Admin(_), SCOPE_PASSWORD_CHANGE, Accept::PasswordChange) => {}
            (Actor::Admin(_), SCOPE_PASSWORD_CHANGE, Accept::Full) => {
                return Ok(Err(ApiError::PasswordChangeRequired));
            }
            _ => return Ok(Err(unauthorized("the token's scope is unknown"))),
        }
        tracing::Span::current().record("principal", tracing::field::display(actor.id()));
        Ok(Ok(Caller {
            principal,
            partner,
            actor,
            request_id,
        }))
    }

    async fn caller(self, state: &AppState, accept: Accept) -> Result<Caller, ApiError> {
        state.db.run(move |conn| self.load(conn, accept)).await?
    }

    /// Loads the caller and then runs `f` with it on the same connection:
    /// one trip to the blocking pool for a handler that reads one object
    /// (`f` loads it in [`Verified::partner`], the handler then authorizes).
    pub async fn run<T, F>(self, state: &AppState, f: F) -> Result<(Caller, T), ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, &Caller) -> Result<T, DbError> + Send + 'static,
    {
        state
            .db
            .run(move |conn| match self.load(conn, Accept::Full)? {
                Ok(caller) => f(conn, &caller).map(|found| Ok((caller, found))),
                Err(refused) => Ok(Err(refused)),
            })
            .await?
    }
}

impl FromRequest for Verified {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::from_request(req).map(|(verified, _)| verified))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = Verified::from_request(req);
        Box::pin(async move {
            let (verified, state) = verified?;
            verified.caller(&state, Accept::Full).await
        })
    }
}

impl FromRequest for PasswordChanger {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = Verified::from_request(req);
        Box::pin(async move {
            let (verified, state) = verified?;
            verified
                .caller(&state, Accept::PasswordChange)
                .await
                .map(PasswordChanger)
        })
    }
}

/// How a denial is answered: 404 for what the caller must not know exists
/// (another partner's object, or one in a company outside the caller's:
/// a technician's assigned companies, a limited client's), 403 naming the
/// deciding policies otherwise.
fn denial(
    principal: &Principal,
    action: &Action,
    resource: &Resource,
    policy_ids: Vec<String>,
) -> ApiError {
    let other_partner = policy_ids.iter().any(|id| id == "partner-boundary");
    // A company being created is in no one's list yet.
    let outside = !matches!(action, Action::CreateCompany)
        && resource.company().is_some_and(|c| !principal.sees(c));
    if other_partner || outside {
        return ApiError::NotFound;
    }
    ApiError::Forbidden {
        action: action.name(),
        policy_ids,
    }
}

/// Decides again inside a write transaction, on rows read under their
/// locks, so a change is never decided on what another one has changed
/// since; a denial is written to the audit log in that transaction.
pub struct Decider {
    principal: Principal,
    authz: std::sync::Arc<crate::authz::Authz>,
    keys: std::sync::Arc<crate::auth::keys::ServerKeys>,
    denied: NewEvent,
}

impl Decider {
    pub fn new(state: &AppState, caller: &Caller) -> Self {
        Self {
            principal: caller.principal.clone(),
            authz: state.authz.clone(),
            keys: state.keys.clone(),
            denied: caller.event("", "", String::new(), false, Vec::new()),
        }
    }

    /// `Ok(Ok(()))` when allowed; `Ok(Err(..))` with the answer to a denial.
    pub fn decide(
        &self,
        conn: &mut DbConn,
        action: Action,
        resource: &Resource,
    ) -> Result<Result<(), ApiError>, DbError> {
        let decision = self.authz.decide(&self.principal, &action, resource);
        if decision.allowed {
            return Ok(Ok(()));
        }
        let (target_kind, target_id) = resource.kind_and_id();
        let mut event = self.denied.clone();
        event.action = action.name().to_owned();
        event.target_kind = Some(target_kind.to_owned());
        event.target_id = Some(target_id);
        event.policy_ids = decision.policy_ids.clone();
        audit::append(conn, &self.keys, event)?;
        Ok(Err(denial(
            &self.principal,
            &action,
            resource,
            decision.policy_ids,
        )))
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
        Err(denial(
            &self.principal,
            &action,
            resource,
            decision.policy_ids,
        ))
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
